/* The streaming figures of one model shape through the lstm element, for
 * the benchmark suite (tests/bench/suite.py), in one process per shape so
 * that its peak RSS is that shape's:
 *
 *   core_fps        lstm_forward fed 10 frames per call (the core)
 *   element_fps     appsrc ! lstm ! fakesink, 10-frame buffers pushed from
 *                   appsrc's need-data callback, i.e. in the streaming
 *                   thread, as a source that makes its data does
 *   list_fps        the same pipeline, need-data pushing buffer lists of
 *                   LIST_BUFFERS 10-frame buffers (gst_app_src_push_buffer_list):
 *                   GStreamer's per-push cost paid once per list
 *   pushed_fps      the same pipeline fed by gst_app_src_push_buffer from
 *                   another thread (block=true): adds the queue hand-off
 *   direct_fps      lstm ! fakesink fed by gst_pad_push from this thread
 *   identity_ns     what one buffer costs through identity ! fakesink fed
 *                   the same way: GStreamer's own floor per element
 *   latency_p50_us, latency_p99_us
 *                   time to push one 1-frame buffer through lstm into
 *                   fakesink (the frame's processing latency), 2000 frames
 *   allocs_per_buffer
 *                   heap allocations made between a buffer entering lstm
 *                   and its output leaving it, steady state, counted by
 *                   tests/bench/alloc-count.c (G_SLICE=always-malloc so
 *                   that GLib's slices are counted too); -1 when not built
 *                   (sanitizer builds)
 *   flops_per_frame the multiply-adds of the matrix products x 2
 *   peak_rss_kib    VmHWM of this process at the end
 *
 * Each figure is the median of REPS runs of --seconds / REPS (alternated
 * between the sides, so a shared machine's drifts hit all alike). Output,
 * tab-separated: `stream SHAPE KEY VALUE` lines, plus `kernels` and `core`.
 *
 * --weights W runs the core's model and every lstm element with weights
 * of that precision (f32, f16, int8; the model file stays float32).
 *
 * With --streams N, only: N streams through N separate elements
 * (separate_fps) against one element with N request pads stepping them
 * together (together_fps), all frames of all streams per second.
 *
 *   GST_PLUGIN_PATH=build/plugin build/tests/bench/bench-element \
 *       [--seconds S] [--streams N] [--weights W] I,H,L[,O]
 */
#include "lstm.h"

#include <gst/gst.h>
#include <gst/app/gstappsrc.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FRAMES_PER_BUFFER 10
#define N_FRAMES_DATA 1000      /* a ring of input frames, reused */
#define LIST_BUFFERS 10         /* buffers per list in list_fps */
#define REPS 7                  /* measurements per side, median reported */
#define LATENCY_FRAMES 2000
#define ALLOC_BUFFERS 1000      /* counted after as many for warm-up */

static gchar *weights = (gchar *) "f32";   /* --weights */

/* tests/bench/alloc-count.c, or -1 without it */
extern gint64 bench_count_allocs (gboolean start);

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double
median (double *v, guint n)
{
  qsort (v, n, sizeof (double), cmp_double);
  return v[n / 2];
}

static LstmModel *
make_model (const gchar * shape, gchar ** path)
{
  guint v[4] = { 0, 0, 0, 0 };
  g_auto (GStrv) parts = g_strsplit (shape, ",", -1);
  g_autoptr (GError) error = NULL;
  LstmModel *m;
  guint i;

  for (i = 0; parts[i] != NULL && i < 4; i++)
    v[i] = atoi (parts[i]);
  m = lstm_model_new (v[0], v[1], v[2], v[3],
      v[3] ? LSTM_OUTPUT_SOFTMAX : LSTM_OUTPUT_IDENTITY, &error);
  if (m == NULL) {
    g_printerr ("bad shape %s: %s\n", shape, error->message);
    exit (2);
  }
  lstm_model_init_random (m, 1);
  *path = g_build_filename (g_get_tmp_dir (), "bench-element-XXXXXX", NULL);
  g_close (g_mkstemp (*path), NULL);
  if (!lstm_model_save (m, *path, &error)) {
    g_printerr ("%s\n", error->message);
    exit (2);
  }
  return m;
}

static double
core_fps (LstmModel * m, const float *data, double seconds)
{
  LstmState *s = lstm_state_new (m, 0);
  float *out = g_new (float, FRAMES_PER_BUFFER *
      lstm_model_get_output_size (m));
  gint64 start = g_get_monotonic_time (), now;
  guint64 frames = 0;

  do {
    guint at = frames % N_FRAMES_DATA;
    lstm_forward (m, s, data + (gsize) at * m->input_size, FRAMES_PER_BUFFER,
        out);
    frames += FRAMES_PER_BUFFER;
    now = g_get_monotonic_time ();
  } while (now - start < seconds * G_USEC_PER_SEC);
  lstm_state_free (s);
  g_free (out);
  return frames / ((now - start) / 1e6);
}

/* Wraps 10 frames of the ring without a copy, as a source reading memory
 * does; PTS from the frame count. */
static GstBuffer *
ring_buffer (const float *data, guint input_size, guint64 frames, guint n)
{
  gsize bytes = (gsize) n * input_size * sizeof (float);
  GstBuffer *b = gst_buffer_new_wrapped_full (GST_MEMORY_FLAG_READONLY,
      (gpointer) (data + (gsize) (frames % N_FRAMES_DATA) * input_size),
      bytes, 0, bytes, NULL, NULL);

  GST_BUFFER_PTS (b) = gst_util_uint64_scale_int (frames, GST_SECOND, 100);
  return b;
}

static GstElement *
launch (const gchar * desc)
{
  g_autoptr (GError) error = NULL;
  GstElement *p = gst_parse_launch (desc, &error);

  if (p == NULL) {
    g_printerr ("%s: %s\n", desc, error->message);
    exit (2);
  }
  return p;
}

/* Waits for EOS; the time then (every frame has gone through). */
static gint64
wait_eos (GstElement * p)
{
  GstBus *bus = gst_element_get_bus (p);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  gint64 now = g_get_monotonic_time ();

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    g_printerr ("pipeline error\n");
    exit (1);
  }
  gst_message_unref (msg);
  gst_object_unref (bus);
  return now;
}

typedef struct
{
  const float *data;
  guint input_size;
  guint64 frames;
  gint64 deadline;              /* monotonic microseconds */
} Feed;

/* appsrc's need-data, in the streaming thread: one buffer per call. */
static void
need_data (GstAppSrc * src, guint length, gpointer user_data)
{
  Feed *f = user_data;

  if (g_get_monotonic_time () >= f->deadline) {
    gst_app_src_end_of_stream (src);
    return;
  }
  gst_app_src_push_buffer (src, ring_buffer (f->data, f->input_size,
          f->frames, FRAMES_PER_BUFFER));
  f->frames += FRAMES_PER_BUFFER;
}

/* need-data pushing a list of LIST_BUFFERS buffers per call */
static void
need_data_list (GstAppSrc * src, guint length, gpointer user_data)
{
  Feed *f = user_data;
  GstBufferList *list;
  guint i;

  if (g_get_monotonic_time () >= f->deadline) {
    gst_app_src_end_of_stream (src);
    return;
  }
  list = gst_buffer_list_new_sized (LIST_BUFFERS);
  for (i = 0; i < LIST_BUFFERS; i++) {
    gst_buffer_list_add (list, ring_buffer (f->data, f->input_size,
            f->frames, FRAMES_PER_BUFFER));
    f->frames += FRAMES_PER_BUFFER;
  }
  gst_app_src_push_buffer_list (src, list);
}

static gchar *
appsrc_pipeline (const LstmModel * m, const gchar * path)
{
  return g_strdup_printf ("appsrc name=src format=time block=true "
      "caps=audio/x-raw,format=F32LE,layout=interleaved,channels=%u,rate=100 "
      "! lstm model=%s weights=%s ! fakesink sync=false", m->input_size,
      path, weights);
}

/* appsrc fed from its need-data callback, buffer by buffer or (lists)
 * LIST_BUFFERS buffers a list */
static double
element_fps (LstmModel * m, const gchar * path, const float *data,
    double seconds, gboolean lists)
{
  g_autofree gchar *desc = appsrc_pipeline (m, path);
  GstElement *p = launch (desc);
  GstElement *src = gst_bin_get_by_name (GST_BIN (p), "src");
  GstAppSrcCallbacks cb = { lists ? need_data_list : need_data, NULL, NULL };
  Feed f = { data, m->input_size, 0, G_MAXINT64 };
  gint64 start, end;

  gst_app_src_set_callbacks (GST_APP_SRC (src), &cb, &f, NULL);
  gst_element_set_state (p, GST_STATE_PAUSED);
  gst_element_get_state (p, NULL, NULL, GST_CLOCK_TIME_NONE);
  start = g_get_monotonic_time ();
  f.frames = 0;                 /* preroll's buffer not counted */
  f.deadline = start + (gint64) (seconds * G_USEC_PER_SEC);
  gst_element_set_state (p, GST_STATE_PLAYING);
  end = wait_eos (p);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (p);
  return f.frames / ((end - start) / 1e6);
}

/* appsrc fed by gst_app_src_push_buffer from this thread */
static double
pushed_fps (LstmModel * m, const gchar * path, const float *data,
    double seconds)
{
  g_autofree gchar *desc = appsrc_pipeline (m, path);
  GstElement *p = launch (desc);
  GstElement *src = gst_bin_get_by_name (GST_BIN (p), "src");
  gint64 start, now;
  guint64 frames = 0;

  gst_element_set_state (p, GST_STATE_PLAYING);
  start = g_get_monotonic_time ();
  do {
    if (gst_app_src_push_buffer (GST_APP_SRC (src), ring_buffer (data,
                m->input_size, frames, FRAMES_PER_BUFFER)) != GST_FLOW_OK)
      break;
    frames += FRAMES_PER_BUFFER;
    now = g_get_monotonic_time ();
  } while (now - start < seconds * G_USEC_PER_SEC);
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  now = wait_eos (p);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (p);
  return frames / ((now - start) / 1e6);
}

/* `desc` (its first element named "first") fed by gst_pad_push from this
 * thread: no appsrc and no thread hand-off. */
typedef struct
{
  GstElement *pipeline;
  GstElement *first;
  GstPad *src;
} Direct;

static void
direct_open (Direct * d, const gchar * desc, guint input_size)
{
  GstPad *sink;
  GstCaps *caps = gst_caps_new_simple ("audio/x-raw", "format", G_TYPE_STRING,
      "F32LE", "layout", G_TYPE_STRING, "interleaved", "channels", G_TYPE_INT,
      (gint) input_size, "rate", G_TYPE_INT, 100, NULL);
  GstSegment seg;

  d->pipeline = launch (desc);
  d->first = gst_bin_get_by_name (GST_BIN (d->pipeline), "first");
  sink = gst_element_get_static_pad (d->first, "sink");
  d->src = gst_pad_new ("src", GST_PAD_SRC);
  gst_pad_link (d->src, sink);
  gst_object_unref (sink);
  gst_pad_set_active (d->src, TRUE);
  gst_element_set_state (d->pipeline, GST_STATE_PLAYING);
  gst_pad_push_event (d->src, gst_event_new_stream_start ("bench"));
  gst_pad_push_event (d->src, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  gst_segment_init (&seg, GST_FORMAT_TIME);
  gst_pad_push_event (d->src, gst_event_new_segment (&seg));
}

static void
direct_close (Direct * d)
{
  gst_element_set_state (d->pipeline, GST_STATE_NULL);
  gst_pad_set_active (d->src, FALSE);
  gst_object_unref (d->src);
  gst_object_unref (d->first);
  gst_object_unref (d->pipeline);
}

/* Frames per second through `desc`, 10-frame buffers. */
static double
direct_fps (const gchar * desc, guint input_size, const float *data,
    double seconds)
{
  Direct d;
  gint64 start, now;
  guint64 frames = 0;

  direct_open (&d, desc, input_size);
  now = start = g_get_monotonic_time ();
  do {
    if (gst_pad_push (d.src, ring_buffer (data, input_size, frames,
                FRAMES_PER_BUFFER)) != GST_FLOW_OK)
      break;
    frames += FRAMES_PER_BUFFER;
    now = g_get_monotonic_time ();
  } while (now - start < seconds * G_USEC_PER_SEC);
  direct_close (&d);
  return frames / ((now - start) / 1e6);
}

/* Median and 99th percentile of the time one 1-frame buffer takes through
 * lstm into fakesink, microseconds. */
static void
latency (const gchar * desc, guint input_size, const float *data,
    double *p50, double *p99)
{
  double *t = g_new (double, LATENCY_FRAMES);
  Direct d;
  guint i;

  direct_open (&d, desc, input_size);
  for (i = 0; i < LATENCY_FRAMES / 10; i++)     /* warm-up */
    gst_pad_push (d.src, ring_buffer (data, input_size, i, 1));
  for (i = 0; i < LATENCY_FRAMES; i++) {
    GstBuffer *b = ring_buffer (data, input_size, i, 1);
    struct timespec t0, t1;
    clock_gettime (CLOCK_MONOTONIC, &t0);
    gst_pad_push (d.src, b);
    clock_gettime (CLOCK_MONOTONIC, &t1);
    t[i] = (t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) / 1e3;
  }
  direct_close (&d);
  qsort (t, LATENCY_FRAMES, sizeof (double), cmp_double);
  *p50 = t[LATENCY_FRAMES / 2];
  *p99 = t[LATENCY_FRAMES * 99 / 100];
  g_free (t);
}

/* Counting starts when a buffer reaches lstm's sink pad and stops when
 * its output leaves the src pad (both probes run in this thread). */
static GstPadProbeReturn
count_probe (GstPad * pad, GstPadProbeInfo * info, gpointer start)
{
  bench_count_allocs (GPOINTER_TO_INT (start));
  return GST_PAD_PROBE_OK;
}

static double
allocs_per_buffer (const gchar * desc, guint input_size, const float *data)
{
  Direct d;
  GstPad *sink, *src;
  gint64 total = 0, n;
  guint i;

  gpointer probe;

  /* the counter sees an allocation of this thread, or is not there */
  if (bench_count_allocs (FALSE) < 0)
    return -1;
  bench_count_allocs (TRUE);
  probe = g_malloc (16);
  g_assert_cmpint (bench_count_allocs (FALSE), ==, 1);
  g_free (probe);
  direct_open (&d, desc, input_size);
  sink = gst_element_get_static_pad (d.first, "sink");
  src = gst_element_get_static_pad (d.first, "src");
  for (i = 0; i < 2 * ALLOC_BUFFERS; i++) {
    if (i == ALLOC_BUFFERS) {
      gst_pad_add_probe (sink, GST_PAD_PROBE_TYPE_BUFFER, count_probe,
          GINT_TO_POINTER (TRUE), NULL);
      gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BUFFER, count_probe,
          GINT_TO_POINTER (FALSE), NULL);
    }
    gst_pad_push (d.src, ring_buffer (data, input_size, i * 10ULL,
            FRAMES_PER_BUFFER));
    if (i >= ALLOC_BUFFERS && (n = bench_count_allocs (FALSE)) > 0)
      total += n;
  }
  gst_object_unref (sink);
  gst_object_unref (src);
  direct_close (&d);
  return (double) total / ALLOC_BUFFERS;
}

/* 2 x the multiply-adds per frame: per layer 4H x (in + H), the head O x H */
static double
flops_per_frame (const LstmModel * m)
{
  double f = 0;
  guint k;

  for (k = 0; k < m->num_layers; k++)
    f += 2.0 * 4 * m->hidden_size * (m->layers[k].input_size + m->hidden_size);
  return f + 2.0 * m->head_size * m->hidden_size;
}

/* N streams for `seconds`, as N pipelines `appsrc ! lstm ! fakesink`
 * (together FALSE) or as one lstm with N request pads (TRUE), each appsrc
 * fed from its need-data callback: the frames per second of all streams
 * together. */
static double
streams_fps (LstmModel * m, const gchar * path, const float *data,
    guint n, gboolean together, double seconds)
{
  GString *desc = g_string_new (NULL);
  GstElement **p = g_new0 (GstElement *, n);
  Feed *f = g_new0 (Feed, n);
  guint n_pipes = together ? 1 : n, i;
  guint64 frames = 0;
  gint64 start, end;

  for (i = 0; i < n; i++) {
    g_autofree gchar *src =
        g_strdup_printf ("appsrc name=src%u format=time block=true "
        "caps=audio/x-raw,format=F32LE,layout=interleaved,channels=%u,"
        "rate=100", i, m->input_size);
    if (together) {
      if (i == 0)
        g_string_append_printf (desc, "lstm name=l model=%s weights=%s ",
            path, weights);
      g_string_append_printf (desc, "%s ! l.sink_%u l.src_%u ! fakesink "
          "sync=false ", src, i, i);
    } else {
      g_autofree gchar *one = g_strdup_printf ("%s ! lstm model=%s "
          "weights=%s ! fakesink sync=false", src, path, weights);
      p[i] = launch (one);
    }
  }
  if (together)
    p[0] = launch (desc->str);
  for (i = 0; i < n; i++) {
    g_autofree gchar *name = g_strdup_printf ("src%u", i);
    GstElement *src = gst_bin_get_by_name (GST_BIN (p[together ? 0 : i]),
        name);
    GstAppSrcCallbacks cb = { need_data, NULL, NULL };
    f[i].data = data;
    f[i].input_size = m->input_size;
    f[i].deadline = G_MAXINT64;
    gst_app_src_set_callbacks (GST_APP_SRC (src), &cb, &f[i], NULL);
    gst_object_unref (src);
  }
  for (i = 0; i < n_pipes; i++) {
    gst_element_set_state (p[i], GST_STATE_PAUSED);
    gst_element_get_state (p[i], NULL, NULL, GST_CLOCK_TIME_NONE);
  }
  start = g_get_monotonic_time ();
  for (i = 0; i < n; i++) {
    f[i].frames = 0;
    f[i].deadline = start + (gint64) (seconds * G_USEC_PER_SEC);
  }
  for (i = 0; i < n_pipes; i++)
    gst_element_set_state (p[i], GST_STATE_PLAYING);
  /* the frames handed over by the deadline; a buffer or two per stream
   * may still be on its way then, which the count includes */
  end = start + (gint64) (seconds * G_USEC_PER_SEC);
  g_usleep (end - g_get_monotonic_time () + G_USEC_PER_SEC / 20);
  for (i = 0; i < n; i++)
    frames += f[i].frames;
  for (i = 0; i < n_pipes; i++) {
    gst_element_set_state (p[i], GST_STATE_NULL);
    gst_object_unref (p[i]);
  }
  g_string_free (desc, TRUE);
  g_free (p);
  g_free (f);
  return frames / ((end - start) / 1e6);
}

static guint64
peak_rss_kib (void)
{
  g_autofree gchar *status = NULL;
  const gchar *at;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL)
      || (at = strstr (status, "VmHWM:")) == NULL)
    return 0;
  return g_ascii_strtoull (at + 6, NULL, 10);
}

static void
print (const gchar * shape, const gchar * key, double value)
{
  printf ("stream\t%s\t%s\t%.4f\n", shape, key, value);
  fflush (stdout);
}

int
main (int argc, char **argv)
{
  gdouble seconds = 4.0;
  gint streams = 0;
  LstmPrecision precision;
  GOptionEntry entries[] = {
    {"seconds", 's', 0, G_OPTION_ARG_DOUBLE, &seconds,
        "Seconds per side, split in 7 runs (4)", "S"},
    {"streams", 0, 0, G_OPTION_ARG_INT, &streams,
        "Only N streams: N elements against one element with N request "
          "pads", "N"},
    {"weights", 0, 0, G_OPTION_ARG_STRING, &weights,
        "The weights' precision, f32 (default), f16 or int8: the lstm "
          "property, and the core's model", "W"},
    {NULL}
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("I,H,L[,O]");
  g_autoptr (GError) error = NULL;
  g_autofree gchar *path = NULL, *desc = NULL;
  double cores[REPS], elems[REPS], lists[REPS], pushes[REPS], directs[REPS];
  double ids[REPS];
  double p50, p99;
  const gchar *shape;
  LstmModel *m;
  float *data;
  gsize j;
  guint r;

  /* GLib's slices through malloc, so that alloc-count.c sees them: set
   * before GLib's first slice, hence a fresh start of this program */
  if (g_strcmp0 (g_getenv ("G_SLICE"), "always-malloc") != 0) {
    g_setenv ("G_SLICE", "always-malloc", TRUE);
    execv ("/proc/self/exe", argv);
  }
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 2) {
    g_printerr ("usage: bench-element [--seconds S] I,H,L[,O]\n");
    return 2;
  }
  shape = argv[1];
  lstm_blas_set_threads (1);
  printf ("kernels\t%s\ncore\t%s\n", lstm_blas_get_kernels (),
      lstm_blas_get_core ());

  m = make_model (shape, &path);
  if (!lstm_precision_from_string (weights, &precision)
      || !lstm_model_set_weight_precision (m, precision, &error)) {
    g_printerr ("--weights %s: %s\n", weights,
        error != NULL ? error->message : "not f32, f16 or int8");
    return 2;
  }
  data = g_new (float, (gsize) (N_FRAMES_DATA + FRAMES_PER_BUFFER)
      * m->input_size);
  for (j = 0; j < (gsize) (N_FRAMES_DATA + FRAMES_PER_BUFFER)
      * m->input_size; j++)
    data[j] = (float) ((j * 7919) % 2000) / 1000.0f - 1.0f;
  desc = g_strdup_printf ("lstm name=first model=%s weights=%s ! fakesink "
      "sync=false", path, weights);
  if (streams > 0) {
    double sep[REPS], tog[REPS];
    for (r = 0; r < REPS; r++) {
      sep[r] = streams_fps (m, path, data, streams, FALSE, seconds / REPS);
      tog[r] = streams_fps (m, path, data, streams, TRUE, seconds / REPS);
    }
    print (shape, "streams", streams);
    print (shape, "separate_fps", median (sep, REPS));
    print (shape, "together_fps", median (tog, REPS));
    g_unlink (path);
    return 0;
  }

  for (r = 0; r < REPS; r++) {
    cores[r] = core_fps (m, data, seconds / REPS);
    elems[r] = element_fps (m, path, data, seconds / REPS, FALSE);
    lists[r] = element_fps (m, path, data, seconds / REPS, TRUE);
    pushes[r] = pushed_fps (m, path, data, seconds / REPS);
    directs[r] = direct_fps (desc, m->input_size, data, seconds / REPS);
    ids[r] = 1e9 * FRAMES_PER_BUFFER / direct_fps ("identity name=first ! "
        "fakesink sync=false", m->input_size, data, seconds / REPS / 4);
  }
  print (shape, "core_fps", median (cores, REPS));
  print (shape, "element_fps", median (elems, REPS));
  print (shape, "list_fps", median (lists, REPS));
  print (shape, "pushed_fps", median (pushes, REPS));
  print (shape, "direct_fps", median (directs, REPS));
  print (shape, "identity_ns", median (ids, REPS));
  latency (desc, m->input_size, data, &p50, &p99);
  print (shape, "latency_p50_us", p50);
  print (shape, "latency_p99_us", p99);
  print (shape, "allocs_per_buffer", allocs_per_buffer (desc, m->input_size,
          data));
  print (shape, "flops_per_frame", flops_per_frame (m));
  print (shape, "peak_rss_kib", peak_rss_kib ());

  g_unlink (path);
  g_free (data);
  lstm_model_unref (m);
  return 0;
}
