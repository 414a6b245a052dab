/* Frames per second through the lstm element in a real pipeline
 * (appsrc ! lstm ! fakesink, 10-frame buffers) next to the core forward
 * pass fed the same 10 frames per call, both in this process, one shape
 * after the other. Prints a Markdown section (tests/bench/run.sh appends it
 * to BENCHMARKS.md). The element should stay within 10% of the core.
 *
 *   GST_PLUGIN_PATH=build/plugin build/tests/bench/bench-element \
 *       [--seconds S] [I,H,L[,O] ...]
 */
#include "lstm.h"

#include <gst/gst.h>
#include <gst/app/gstappsrc.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>

#define FRAMES_PER_BUFFER 10
#define N_FRAMES_DATA 1000      /* a ring of input frames, reused */
#define REPS 7                  /* measurements per side, median reported */

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

static const gchar *const default_shapes[] = {
  "5,17,1", "40,128,2,12", "3,64,3", "80,512,2", NULL
};

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

static double
element_fps (LstmModel * m, const gchar * path, const float *data,
    double seconds)
{
  g_autofree gchar *desc =
      g_strdup_printf ("appsrc name=src format=time block=true "
      "caps=audio/x-raw,format=F32LE,layout=interleaved,channels=%u,rate=100 "
      "! lstm model=%s ! fakesink sync=false", m->input_size, path);
  g_autoptr (GError) error = NULL;
  GstElement *p = gst_parse_launch (desc, &error);
  GstElement *src;
  GstBus *bus;
  GstMessage *msg;
  gsize bytes = (gsize) FRAMES_PER_BUFFER * m->input_size * sizeof (float);
  gint64 start, now = 0;
  guint64 frames = 0;

  if (p == NULL) {
    g_printerr ("%s\n", error->message);
    exit (2);
  }
  src = gst_bin_get_by_name (GST_BIN (p), "src");
  gst_element_set_state (p, GST_STATE_PLAYING);
  start = g_get_monotonic_time ();
  do {
    guint at = frames % N_FRAMES_DATA;
    /* wraps the data without a copy, as a source reading memory does */
    GstBuffer *b = gst_buffer_new_wrapped_full (GST_MEMORY_FLAG_READONLY,
        (gpointer) (data + (gsize) at * m->input_size), bytes, 0, bytes,
        NULL, NULL);
    GST_BUFFER_PTS (b) = gst_util_uint64_scale_int (frames, GST_SECOND, 100);
    if (gst_app_src_push_buffer (GST_APP_SRC (src), b) != GST_FLOW_OK)
      break;
    frames += FRAMES_PER_BUFFER;
    now = g_get_monotonic_time ();
  } while (now - start < seconds * G_USEC_PER_SEC);
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  bus = gst_element_get_bus (p);
  msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  now = g_get_monotonic_time ();        /* every frame has gone through */
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    g_printerr ("pipeline error\n");
    exit (1);
  }
  gst_message_unref (msg);
  gst_object_unref (bus);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (p);
  return frames / ((now - start) / 1e6);
}

/* The same element fed by gst_pad_push from this thread: no appsrc queue
 * and no thread hand-off, so what is left is lstm and fakesink's own cost. */
static double
direct_fps (LstmModel * m, const gchar * path, const float *data,
    double seconds)
{
  g_autofree gchar *desc = g_strdup_printf ("lstm name=net model=%s ! "
      "fakesink sync=false", path);
  g_autoptr (GError) error = NULL;
  GstElement *p = gst_parse_launch (desc, &error);
  GstElement *net = gst_bin_get_by_name (GST_BIN (p), "net");
  GstPad *sink = gst_element_get_static_pad (net, "sink");
  GstPad *src = gst_pad_new ("src", GST_PAD_SRC);
  GstCaps *caps = gst_caps_new_simple ("audio/x-raw", "format", G_TYPE_STRING,
      "F32LE", "layout", G_TYPE_STRING, "interleaved", "channels", G_TYPE_INT,
      (gint) m->input_size, "rate", G_TYPE_INT, 100, NULL);
  gsize bytes = (gsize) FRAMES_PER_BUFFER * m->input_size * sizeof (float);
  GstSegment seg;
  gint64 start, now = 0;
  guint64 frames = 0;

  gst_pad_link (src, sink);
  gst_pad_set_active (src, TRUE);
  gst_element_set_state (p, GST_STATE_PLAYING);
  gst_pad_push_event (src, gst_event_new_stream_start ("bench"));
  gst_pad_push_event (src, gst_event_new_caps (caps));
  gst_segment_init (&seg, GST_FORMAT_TIME);
  gst_pad_push_event (src, gst_event_new_segment (&seg));
  start = g_get_monotonic_time ();
  do {
    guint at = frames % N_FRAMES_DATA;
    GstBuffer *b = gst_buffer_new_wrapped_full (GST_MEMORY_FLAG_READONLY,
        (gpointer) (data + (gsize) at * m->input_size), bytes, 0, bytes,
        NULL, NULL);
    GST_BUFFER_PTS (b) = gst_util_uint64_scale_int (frames, GST_SECOND, 100);
    if (gst_pad_push (src, b) != GST_FLOW_OK)
      break;
    frames += FRAMES_PER_BUFFER;
    now = g_get_monotonic_time ();
  } while (now - start < seconds * G_USEC_PER_SEC);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_pad_set_active (src, FALSE);
  gst_caps_unref (caps);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (net);
  gst_object_unref (p);
  return frames / ((now - start) / 1e6);
}

int
main (int argc, char **argv)
{
  gdouble seconds = 4.0;
  GOptionEntry entries[] = {
    {"seconds", 's', 0, G_OPTION_ARG_DOUBLE, &seconds,
        "Seconds per side and shape, split in 7 runs (4)", "S"},
    {NULL}
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("[I,H,L[,O] ...]");
  g_autoptr (GError) error = NULL;
  const gchar *const *shapes = default_shapes;
  gint i;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("%s\n", error->message);
    return 2;
  }
  if (argc > 1)
    shapes = (const gchar * const *) argv + 1;
  lstm_blas_set_threads (1);

  printf ("## The lstm element against the core\n\n");
  printf ("Frames per second through `appsrc ! lstm ! fakesink` with %d-frame "
      "buffers (vector output, state carried), next to `lstm_forward` fed "
      "the same %d frames per call, in the same process, one after the "
      "other, alternating, median of %d runs of %.2f s each. Command: `tests/bench/run.sh` (or "
      "`GST_PLUGIN_PATH=build/plugin build/tests/bench/bench-element`). "
      "The last two columns feed the same `lstm ! fakesink` by pushing "
      "on its sink pad from the measuring thread: no appsrc queue and no "
      "thread hand-off, so the difference to the core is the element's own "
      "cost (and fakesink's). Matrix kernels: %s.\n\n", FRAMES_PER_BUFFER,
      FRAMES_PER_BUFFER, REPS, seconds / REPS, lstm_blas_get_kernels ());
  printf ("| shape | core fps | appsrc ! lstm ! fakesink fps | / core "
      "| pad push ! lstm ! fakesink fps | / core |\n");
  printf ("|---|--:|--:|--:|--:|--:|\n");
  for (i = 0; shapes[i] != NULL; i++) {
    g_autofree gchar *path = NULL;
    LstmModel *m = make_model (shapes[i], &path);
    float *data = g_new (float, (gsize) (N_FRAMES_DATA + FRAMES_PER_BUFFER)
        * m->input_size);
    double core, elem, direct, cores[REPS], elems[REPS], directs[REPS];
    gsize j;
    guint r;

    for (j = 0; j < (gsize) (N_FRAMES_DATA + FRAMES_PER_BUFFER)
        * m->input_size; j++)
      data[j] = (float) ((j * 7919) % 2000) / 1000.0f - 1.0f;
    /* alternated, median of REPS each: drifts of a shared machine hit
     * both sides alike */
    for (r = 0; r < REPS; r++) {
      cores[r] = core_fps (m, data, seconds / REPS);
      elems[r] = element_fps (m, path, data, seconds / REPS);
      directs[r] = direct_fps (m, path, data, seconds / REPS);
    }
    core = median (cores, REPS);
    elem = median (elems, REPS);
    direct = median (directs, REPS);
    printf ("| %s | %.0f | %.0f | %.2f | %.0f | %.2f |\n", shapes[i], core,
        elem, elem / core, direct, direct / core);
    fflush (stdout);
    g_unlink (path);
    g_free (data);
    lstm_model_unref (m);
  }
  return 0;
}
