/* lstm's multi-stream mode (request pads sink_%u / src_%u): streams pushed
 * from their own threads at once, stepped together, each getting exactly
 * what a separate element would give it; resets per stream; errors. */
#include "lstm.h"
#include "test-element-util.h"
#include "test-util.h"

#include <gst/gst.h>
#include <gst/check/gstharness.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#define I 8
#define H 32
#define N_STREAMS 4
#define N_BUFFERS 40

typedef struct
{
  GstHarness *h;
  guint index;
  float *in;                    /* [total, I] */
  guint total;                  /* frames of the buffers it pushes */
  guint n_buffers;              /* buffers it pushes */
  GArray *out;                  /* floats received */
} Stream;

static gchar *
save_model (LstmModel ** out)
{
  LstmModel *m = lstm_model_new (I, H, 2, 5, LSTM_OUTPUT_SOFTMAX, NULL);
  gchar *path = g_build_filename (g_get_tmp_dir (), "lstm-streams-test-"
      "XXXXXX", NULL);

  g_close (g_mkstemp (path), NULL);
  lstm_model_init_random (m, 5);
  g_assert_true (lstm_model_save (m, path, NULL));
  *out = m;
  return path;
}

/* Buffer b of stream s: its size cycles through a stream-specific pattern
 * (so that the streams' buffers never line up). */
static guint
frames_in (guint s, guint b)
{
  static const guint sizes[] = { 10, 3, 1, 17, 10, 64, 5 };
  return sizes[(s + b * (s + 1)) % G_N_ELEMENTS (sizes)];
}

static GstBuffer *
make_buffer (const float *x, guint first, guint n)
{
  GstBuffer *b = gst_buffer_new_memdup (x + (gsize) first * I,
      (gsize) n * I * sizeof (float));
  GST_BUFFER_PTS (b) = gst_util_uint64_scale_int (first, GST_SECOND, 100);
  return b;
}

static void
drain (Stream * st)
{
  GstBuffer *b;

  while ((b = gst_harness_try_pull (st->h)) != NULL) {
    GstMapInfo map;
    gst_buffer_map (b, &map, GST_MAP_READ);
    g_array_append_vals (st->out, map.data, map.size / sizeof (float));
    gst_buffer_unmap (b, &map);
    gst_buffer_unref (b);
  }
}

static gpointer
push_thread (gpointer data)
{
  Stream *st = data;
  guint b, at = 0;

  for (b = 0; b < st->n_buffers; b++) {
    guint n = frames_in (st->index, b);
    g_assert_cmpint (gst_harness_push (st->h, make_buffer (st->in, at, n)),
        ==, GST_FLOW_OK);
    at += n;
    drain (st);
  }
  return NULL;
}

static GstHarness *
add_stream (GstElement * e, guint index)
{
  g_autofree gchar *sink = g_strdup_printf ("sink_%u", index);
  g_autofree gchar *src = g_strdup_printf ("src_%u", index);
  GstHarness *h = gst_harness_new_with_element (e, sink, src);

  gst_harness_set_src_caps_str (h, "audio/x-raw,format=F32LE,"
      "layout=interleaved,channels=8,rate=100");
  return h;
}

/* N streams pushed at once from N threads: every stream's outputs equal
 * lstm_forward's on that stream alone, bit for bit (the kernels promise
 * it; with the OpenBLAS fallback to within 1e-6). Stream 1 has a frame
 * with a NaN, which the element skips as a separate one would (its
 * buffer runs on the stream's own state, lstm_forward_finite). With
 * release_after > 0, the last stream pushes that many buffers and its
 * pads are released while the others go on. */
static void
run_streams (guint release_after)
{
  g_autoptr (LstmModel) m = NULL;
  g_autofree gchar *path = save_model (&m);
  GstElement *e = gst_element_factory_make ("lstm", NULL);
  Stream st[N_STREAMS];
  GThread *threads[N_STREAMS];
  guint s, b, j, O = lstm_model_get_output_size (m);

  g_object_set (e, "model", path, "stream-wait", 20 * GST_MSECOND, NULL);
  for (s = 0; s < N_STREAMS; s++) {
    st[s].index = s;
    st[s].h = add_stream (e, s);
    st[s].n_buffers = release_after > 0 && s == N_STREAMS - 1 ?
        release_after : N_BUFFERS;
    st[s].total = 0;
    for (b = 0; b < st[s].n_buffers; b++)
      st[s].total += frames_in (s, b);
    st[s].in = g_new (float, (gsize) st[s].total * I);
    for (j = 0; j < st[s].total * I; j++)
      st[s].in[j] = sinf (0.1f * j * (s + 1)) + 0.3f * s;
    st[s].out = g_array_new (FALSE, FALSE, sizeof (float));
  }
  st[1].in[(gsize) 25 * I + 3] = NAN;
  for (s = 0; s < N_STREAMS; s++)
    threads[s] = g_thread_new ("stream", push_thread, &st[s]);
  if (release_after > 0) {
    g_autofree gchar *name = g_strdup_printf ("sink_%u", N_STREAMS - 1);
    GstPad *pad;
    g_thread_join (threads[N_STREAMS - 1]);
    pad = gst_element_get_static_pad (e, name);
    gst_element_release_request_pad (e, pad);
    gst_object_unref (pad);
  }
  for (s = 0; s < N_STREAMS; s++)
    if (release_after == 0 || s < N_STREAMS - 1)
      g_thread_join (threads[s]);

  for (s = 0; s < N_STREAMS; s++) {
    g_autoptr (LstmState) state = lstm_state_new (m, 0);
    g_autofree float *want = g_new (float, (gsize) st[s].total * O);
    drain (&st[s]);
    lstm_forward_finite (m, state, st[s].in, st[s].total, want, NULL);
    g_assert_cmpuint (st[s].out->len, ==, st[s].total * O);
    assert_same_cut ((float *) st[s].out->data, want,
        (gsize) st[s].total * O);
  }
  for (s = 0; s < N_STREAMS; s++) {
    gst_harness_teardown (st[s].h);
    g_free (st[s].in);
    g_array_unref (st[s].out);
  }
  gst_object_unref (e);
  g_unlink (path);
}

static void
test_streams_equal_alone (void)
{
  run_streams (0);
}

/* A stream's pads released (gst_element_release_request_pad) while the
 * other streams step: they go on and stay exact. */
static void
test_streams_release_running (void)
{
  run_streams (10);
}

/* Stream 1's thread pushes without pause while the application thread
 * releases its pads, over and over (RELEASE_RUNS times, after 0-3 ms of
 * pushing each time): its chain function may be anywhere (waiting for
 * stream 0, in a step, pushing) when release_pad runs. Its pushes then
 * stop with a flow that is not OK, and stream 0 goes on. What this
 * checks is mainly for AddressSanitizer (build-asan): a stream's memory
 * outlives every thread that may still touch it. */
#define RELEASE_RUNS 200

typedef struct
{
  GstHarness *h;
  const float *x;
  gint stop;
  GstFlowReturn last;
} Pusher;

static gpointer
push_until_stopped (gpointer data)
{
  Pusher *p = data;
  guint b = 0;
  GstBuffer *out;

  do {
    p->last = gst_harness_push (p->h, make_buffer (p->x, b % 10, 1 + b % 3));
    while ((out = gst_harness_try_pull (p->h)) != NULL)
      gst_buffer_unref (out);
    b++;
  } while (p->last == GST_FLOW_OK && !g_atomic_int_get (&p->stop));
  return NULL;
}

static void
test_streams_release_stress (void)
{
  g_autoptr (LstmModel) m = NULL;
  g_autofree gchar *path = save_model (&m);
  GRand *rand = g_rand_new_with_seed (7);
  float x[13 * I];
  guint run, j;

  for (j = 0; j < G_N_ELEMENTS (x); j++)
    x[j] = sinf (j * 0.3f);
  for (run = 0; run < RELEASE_RUNS; run++) {
    GstElement *e = gst_element_factory_make ("lstm", NULL);
    Pusher p0 = { NULL, x, 0, GST_FLOW_OK }, p1 = { NULL, x, 0, GST_FLOW_OK };
    GThread *t0, *t1;
    GstPad *pad;

    g_object_set (e, "model", path, "stream-wait", GST_MSECOND, NULL);
    p0.h = add_stream (e, 0);
    p1.h = add_stream (e, 1);
    t0 = g_thread_new ("stream-0", push_until_stopped, &p0);
    t1 = g_thread_new ("stream-1", push_until_stopped, &p1);
    g_usleep (g_rand_int_range (rand, 0, 3000));
    pad = gst_element_get_static_pad (e, "sink_1");
    gst_element_release_request_pad (e, pad);
    gst_object_unref (pad);
    g_thread_join (t1);         /* its pushes stop by themselves */
    g_assert_cmpint (p1.last, !=, GST_FLOW_OK);
    g_atomic_int_set (&p0.stop, 1);
    g_thread_join (t0);
    g_assert_cmpint (p0.last, ==, GST_FLOW_OK);
    gst_harness_teardown (p0.h);
    gst_harness_teardown (p1.h);
    gst_object_unref (e);
  }
  g_rand_free (rand);
  g_unlink (path);
}

/* A flush on one stream resets its state only; output timestamps are the
 * frames'. */
static void
test_streams_flush_one (void)
{
  g_autoptr (LstmModel) m = NULL;
  g_autofree gchar *path = save_model (&m);
  GstElement *e = gst_element_factory_make ("lstm", NULL);
  g_autoptr (LstmState) fresh = lstm_state_new (m, 0);
  g_autoptr (LstmState) carried = lstm_state_new (m, 0);
  float x[20 * I], want0[10 * 5], want1[20 * 5];
  GstHarness *h0, *h1;
  GstBuffer *b;
  GstMapInfo map;
  guint j;

  for (j = 0; j < G_N_ELEMENTS (x); j++)
    x[j] = cosf (j * 0.7f);
  g_object_set (e, "model", path, "stream-wait", (guint64) 0, NULL);
  h0 = add_stream (e, 0);
  h1 = add_stream (e, 1);
  gst_harness_push (h0, make_buffer (x, 0, 10));
  gst_harness_push (h1, make_buffer (x, 0, 10));
  gst_buffer_unref (gst_harness_pull (h0));
  gst_buffer_unref (gst_harness_pull (h1));

  g_assert_true (gst_harness_push_event (h0, gst_event_new_flush_start ()));
  g_assert_true (gst_harness_push_event (h0, gst_event_new_flush_stop (TRUE)));
  {
    GstSegment seg;
    gst_segment_init (&seg, GST_FORMAT_TIME);
    gst_harness_push_event (h0, gst_event_new_segment (&seg));
  }
  gst_harness_push (h0, make_buffer (x, 10, 10));
  gst_harness_push (h1, make_buffer (x, 10, 10));

  lstm_forward (m, fresh, x + 10 * I, 10, want0);       /* after the flush */
  lstm_forward (m, carried, x, 20, want1);      /* never flushed */
  b = gst_harness_pull (h0);
  g_assert_cmpuint (GST_BUFFER_PTS (b), ==, 100 * GST_MSECOND);
  g_assert_cmpuint (GST_BUFFER_DURATION (b), ==, 100 * GST_MSECOND);
  gst_buffer_map (b, &map, GST_MAP_READ);
  g_assert_cmpfloat (fabsf (((float *) map.data)[7] - want0[7]), <, 1e-6);
  gst_buffer_unmap (b, &map);
  gst_buffer_unref (b);
  b = gst_harness_pull (h1);
  gst_buffer_map (b, &map, GST_MAP_READ);
  g_assert_cmpfloat (fabsf (((float *) map.data)[7] - want1[10 * 5 + 7]), <,
      1e-6);
  gst_buffer_unmap (b, &map);
  gst_buffer_unref (b);

  gst_harness_teardown (h0);
  gst_harness_teardown (h1);
  gst_object_unref (e);
  g_unlink (path);
}

/* A stream of the wrong size is refused with both sizes named, once
 * however often its caps come again; the other streams are not held up
 * by it. */
static void
test_streams_wrong_size (void)
{
  g_autoptr (LstmModel) m = NULL;
  g_autofree gchar *path = save_model (&m);
  GstElement *e = gst_element_factory_make ("lstm", NULL);
  GstBus *bus = gst_bus_new ();
  GstHarness *h0, *h1;
  GstMessage *msg;
  g_autoptr (GError) error = NULL;
  float x[10 * I] = { 0 };
  guint j;

  g_object_set (e, "model", path, "stream-wait", GST_SECOND, NULL);
  gst_element_set_bus (e, bus);
  h0 = add_stream (e, 0);
  h1 = gst_harness_new_with_element (e, "sink_1", "src_1");
  gst_harness_set_src_caps_str (h1, "audio/x-raw,format=F32LE,"
      "layout=interleaved,channels=3,rate=100");
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  g_assert_nonnull (msg);
  gst_message_parse_error (msg, &error, NULL);
  g_assert_nonnull (strstr (error->message, "3 values per frame"));
  g_assert_nonnull (strstr (error->message, "takes 8"));
  gst_message_unref (msg);
  /* every push sends the refused caps again: the error is posted once */
  for (j = 0; j < 5; j++)
    g_assert_cmpint (gst_harness_push (h1, gst_buffer_new_allocate (NULL,
                12, NULL)), ==, GST_FLOW_NOT_NEGOTIATED);
  g_assert_null (gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR));
  /* stream 0 goes on at once: stream 1 has no caps, so no one waits */
  {
    gint64 start = g_get_monotonic_time ();
    gst_harness_push (h0, make_buffer (x, 0, 10));
    gst_buffer_unref (gst_harness_pull (h0));
    g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);
  }
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h0);
  gst_harness_teardown (h1);
  gst_object_unref (e);
  g_unlink (path);
}

/* A bidirectional model is refused at the streams' caps, with one error
 * that says why, however many streams and pushes there are: through the
 * request pads it would give other predictions than a separate element
 * (each buffer a sequence of its own). */
static void
test_streams_bidirectional (void)
{
  LstmModelConfig config;
  g_autoptr (LstmModel) m = NULL;
  g_autofree gchar *path = g_build_filename (g_get_tmp_dir (),
      "lstm-streams-test-XXXXXX", NULL);
  GstElement *e = gst_element_factory_make ("lstm", NULL);
  GstBus *bus = gst_bus_new ();
  GstHarness *h0, *h1;
  GstMessage *msg;
  g_autoptr (GError) error = NULL;
  float x[10 * I] = { 0 };

  lstm_model_config_init (&config, I, H, 1, 5, LSTM_OUTPUT_SOFTMAX);
  config.bidirectional = TRUE;
  m = lstm_model_new_full (&config, NULL);
  lstm_model_init_random (m, 5);
  g_close (g_mkstemp (path), NULL);
  g_assert_true (lstm_model_save (m, path, NULL));
  g_object_set (e, "model", path, NULL);
  gst_element_set_bus (e, bus);
  h0 = add_stream (e, 0);
  h1 = add_stream (e, 1);
  g_assert_cmpint (gst_harness_push (h0, make_buffer (x, 0, 10)), ==,
      GST_FLOW_NOT_NEGOTIATED);
  g_assert_cmpint (gst_harness_push (h1, make_buffer (x, 0, 10)), ==,
      GST_FLOW_NOT_NEGOTIATED);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  g_assert_nonnull (msg);
  gst_message_parse_error (msg, &error, NULL);
  g_assert_nonnull (strstr (error->message, "bidirectional"));
  g_assert_nonnull (strstr (error->message, "one lstm element per stream"));
  gst_message_unref (msg);
  g_assert_null (gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR));
  g_assert_null (gst_harness_try_pull (h0));
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h0);
  gst_harness_teardown (h1);
  gst_object_unref (e);
  g_unlink (path);
}

/* The reset action signal resets every stream's state before its next
 * buffer. */
static void
test_streams_reset_signal (void)
{
  g_autoptr (LstmModel) m = NULL;
  g_autofree gchar *path = save_model (&m);
  GstElement *e = gst_element_factory_make ("lstm", NULL);
  g_autoptr (LstmState) fresh = lstm_state_new (m, 0);
  float x[20 * I], want[10 * 5];
  GstHarness *h[2];
  GstBuffer *b;
  GstMapInfo map;
  guint j, k;

  for (j = 0; j < G_N_ELEMENTS (x); j++)
    x[j] = cosf (j * 0.7f);
  g_object_set (e, "model", path, "stream-wait", (guint64) 0, NULL);
  for (k = 0; k < 2; k++) {
    h[k] = add_stream (e, k);
    gst_harness_push (h[k], make_buffer (x, 0, 10));
    gst_buffer_unref (gst_harness_pull (h[k]));
  }
  g_signal_emit_by_name (e, "reset");
  lstm_forward (m, fresh, x + 10 * I, 10, want);        /* after the reset */
  for (k = 0; k < 2; k++) {
    gst_harness_push (h[k], make_buffer (x, 10, 10));
    b = gst_harness_pull (h[k]);
    gst_buffer_map (b, &map, GST_MAP_READ);
    g_assert_cmpuint (map.size, ==, sizeof (want));
    assert_same_cut ((const float *) map.data, want, G_N_ELEMENTS (want));
    gst_buffer_unmap (b, &map);
    gst_buffer_unref (b);
  }
  for (k = 0; k < 2; k++)
    gst_harness_teardown (h[k]);
  gst_object_unref (e);
  g_unlink (path);
}

/* Frames with NaN or Inf on a request pad count in skipped-frames and
 * bring the single sink pad's warning. */
static void
test_streams_skipped_frames (void)
{
  g_autoptr (LstmModel) m = NULL;
  g_autofree gchar *path = save_model (&m);
  GstElement *e = gst_element_factory_make ("lstm", NULL);
  GstBus *bus = gst_bus_new ();
  float x[10 * I] = { 0 };
  GstHarness *h;
  GstMessage *msg;
  g_autoptr (GError) error = NULL;
  guint64 skipped;

  x[2 * I + 1] = NAN;
  x[7 * I] = INFINITY;
  g_object_set (e, "model", path, "stream-wait", (guint64) 0, NULL);
  gst_element_set_bus (e, bus);
  h = add_stream (e, 0);
  g_assert_cmpint (gst_harness_push (h, make_buffer (x, 0, 10)), ==,
      GST_FLOW_OK);
  gst_buffer_unref (gst_harness_pull (h));
  g_object_get (e, "skipped-frames", &skipped, NULL);
  g_assert_cmpuint (skipped, ==, 2);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING);
  g_assert_nonnull (msg);
  gst_message_parse_warning (msg, &error, NULL);
  g_assert_nonnull (strstr (error->message, "NaN or infinity"));
  gst_message_unref (msg);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
  gst_object_unref (e);
  g_unlink (path);
}

/* The warning whose message starts with `start`, popped from the bus
 * (NULL when there is none). */
static gchar *
pop_warning (GstBus * bus, const gchar * start)
{
  GstMessage *msg;

  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING)) != NULL) {
    g_autoptr (GError) error = NULL;
    gst_message_parse_warning (msg, &error, NULL);
    gst_message_unref (msg);
    if (g_str_has_prefix (error->message, start))
      return g_strdup (error->message);
  }
  return NULL;
}

/* What the request pads do not do (messages, other output modes, the
 * state property) is said once, in a warning that names the property;
 * the streams run on. */
static void
test_streams_unsupported (void)
{
  g_autoptr (LstmModel) m = NULL;
  g_autofree gchar *path = save_model (&m);
  GstElement *e = gst_element_factory_make ("lstm", NULL);
  GstBus *bus = gst_bus_new ();
  float x[10 * I] = { 0 };
  GBytes *state = NULL;
  GstHarness *h;
  gchar *text;
  guint k;

  g_object_set (e, "model", path, "stream-wait", (guint64) 0,
      "post-messages", TRUE, "output-mode", GST_LSTM_OUTPUT_MODE_LAST, NULL);
  gst_element_set_bus (e, bus);
  h = add_stream (e, 0);
  for (k = 0; k < 3; k++) {
    g_assert_cmpint (gst_harness_push (h, make_buffer (x, 0, 10)), ==,
        GST_FLOW_OK);
    gst_buffer_unref (gst_harness_pull (h));    /* vectors, every frame */
  }
  text = pop_warning (bus, "post-messages:");
  g_assert_nonnull (text);
  g_assert_nonnull (strstr (text, "request pads"));
  g_free (text);
  gst_bus_set_flushing (bus, TRUE);     /* pop_warning skipped some */
  gst_bus_set_flushing (bus, FALSE);
  for (k = 0; k < 3; k++) {
    g_assert_cmpint (gst_harness_push (h, make_buffer (x, 0, 10)), ==,
        GST_FLOW_OK);
    gst_buffer_unref (gst_harness_pull (h));
  }
  g_assert_null (gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING));
  g_assert_null (gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT));
  gst_bus_set_flushing (bus, TRUE);
  gst_bus_set_flushing (bus, FALSE);
  g_object_set (e, "post-messages", FALSE, NULL);
  gst_element_set_state (e, GST_STATE_READY);   /* a new run says it again */
  gst_harness_play (h);
  g_object_set (e, "post-messages", FALSE, NULL);
  gst_harness_push (h, make_buffer (x, 0, 10));
  gst_buffer_unref (gst_harness_pull (h));
  text = pop_warning (bus, "output-mode=last:");
  g_assert_nonnull (text);
  g_free (text);
  g_object_get (e, "state", &state, NULL);
  g_assert_null (state);
  text = pop_warning (bus, "state:");
  g_assert_nonnull (text);
  g_free (text);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
  gst_object_unref (e);
  g_unlink (path);
}

/* A model file of the given sizes, random weights from `seed`. */
static gchar *
save_sized (guint input, guint hidden, guint output, gboolean bidirectional,
    guint seed, LstmModel ** out)
{
  LstmModelConfig config;
  LstmModel *m;
  gchar *path = g_build_filename (g_get_tmp_dir (), "lstm-streams-test-"
      "XXXXXX", NULL);

  lstm_model_config_init (&config, input, hidden, bidirectional ? 1 : 2,
      output, LSTM_OUTPUT_SOFTMAX);
  config.bidirectional = bidirectional;
  m = lstm_model_new_full (&config, NULL);
  lstm_model_init_random (m, seed);
  g_close (g_mkstemp (path), NULL);
  g_assert_true (lstm_model_save (m, path, NULL));
  *out = m;
  return path;
}

/* Pushes frames [first, first + n) of x on h and checks the output
 * against `want` (n frames of O values) and the src caps' channels. */
static void
push_expect (GstHarness * h, const float *x, guint first, guint n,
    const float *want, guint O)
{
  GstBuffer *b;
  GstMapInfo map;
  GstCaps *caps;
  gint channels = 0;

  g_assert_cmpint (gst_harness_push (h, make_buffer (x, first, n)), ==,
      GST_FLOW_OK);
  b = gst_harness_pull (h);
  gst_buffer_map (b, &map, GST_MAP_READ);
  g_assert_cmpuint (map.size, ==, (gsize) n * O * sizeof (float));
  assert_same_cut ((const float *) map.data, want, (gsize) n * O);
  gst_buffer_unmap (b, &map);
  gst_buffer_unref (b);
  caps = gst_pad_get_current_caps (h->sinkpad);
  g_assert_true (gst_structure_get_int (gst_caps_get_structure (caps, 0),
          "channels", &channels));
  g_assert_cmpint (channels, ==, O);
  gst_caps_unref (caps);
}

/* A model set while the request pads play is swapped in as on the single
 * sink pad: each stream takes it at its next buffer, keeping its state
 * when the sizes are the same and starting afresh (with new src caps for
 * another output size) when not; a model that does not fit the streams
 * (another input size) or that they cannot run (bidirectional) leaves
 * the old one running, with a warning and the property put back. Two
 * streams; the expected outputs are lstm_forward's. */
static void
test_streams_model_swap (void)
{
  g_autoptr (LstmModel) a = NULL;
  g_autoptr (LstmModel) b = NULL;
  g_autoptr (LstmModel) c = NULL;
  g_autoptr (LstmModel) d = NULL;
  g_autoptr (LstmModel) bi = NULL;
  g_autofree gchar *path_a = save_sized (I, H, 5, FALSE, 5, &a);
  g_autofree gchar *path_b = save_sized (I, H, 5, FALSE, 6, &b);
  g_autofree gchar *path_c = save_sized (I, 16, 3, FALSE, 7, &c);
  g_autofree gchar *path_d = save_sized (3, H, 5, FALSE, 8, &d);
  g_autofree gchar *path_bi = save_sized (I, H, 5, TRUE, 9, &bi);
  GstElement *e = gst_element_factory_make ("lstm", NULL);
  GstBus *bus = gst_bus_new ();
  g_autoptr (LstmState) sa = lstm_state_new (a, 0);
  g_autoptr (LstmState) sc = lstm_state_new (c, 0);
  float x[50 * I], want_ab[20 * 5], want_c[30 * 3];
  const gchar *refused[] = { path_d, path_bi };
  const gchar *says[] = { "does not fit", "bidirectional" };
  GstHarness *h[2];
  gchar *text, *running;
  guint j, k;

  for (j = 0; j < G_N_ELEMENTS (x); j++)
    x[j] = sinf (j * 0.37f);
  /* a for frames 0-9, then b on a's state for 10-19; c afresh from 20 */
  lstm_forward (a, sa, x, 10, want_ab);
  lstm_forward (b, sa, x + 10 * I, 10, want_ab + 10 * 5);
  lstm_forward (c, sc, x + 20 * I, 30, want_c);

  g_object_set (e, "model", path_a, "stream-wait", (guint64) 0, NULL);
  gst_element_set_bus (e, bus);
  for (k = 0; k < 2; k++) {
    h[k] = add_stream (e, k);
    push_expect (h[k], x, 0, 10, want_ab, 5);
  }
  g_object_set (e, "model", path_b, NULL);
  g_assert_true (element_wait_pending_model ((GstLstm *) e));
  for (k = 0; k < 2; k++)
    push_expect (h[k], x, 10, 10, want_ab + 10 * 5, 5);
  g_object_set (e, "model", path_c, NULL);
  g_assert_true (element_wait_pending_model ((GstLstm *) e));
  for (k = 0; k < 2; k++)
    push_expect (h[k], x, 20, 10, want_c, 3);
  g_assert_null (gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING));

  for (j = 0; j < G_N_ELEMENTS (refused); j++) {
    g_object_set (e, "model", refused[j], NULL);
    g_assert_true (element_wait_pending_model ((GstLstm *) e));
    for (k = 0; k < 2; k++)    /* c runs on, its state carried */
      push_expect (h[k], x, 30 + 10 * j, 10, want_c + (10 + 10 * j) * 3, 3);
    text = pop_warning (bus, "The new LSTM model");
    g_assert_nonnull (text);
    g_assert_nonnull (strstr (text, says[j]));
    g_assert_nonnull (strstr (text, "previous one keeps running"));
    g_free (text);
    g_assert_null (gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING));
    g_object_get (e, "model", &running, NULL);
    g_assert_cmpstr (running, ==, path_c);
    g_free (running);
  }
  g_assert_null (gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR));
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  for (k = 0; k < 2; k++)
    gst_harness_teardown (h[k]);
  gst_object_unref (e);
  g_unlink (path_a);
  g_unlink (path_b);
  g_unlink (path_c);
  g_unlink (path_d);
  g_unlink (path_bi);
}

/* Streams pushing from their own threads while the model changes under
 * them, between two of other sizes, SWAP_RUNS times: steps then meet
 * streams waiting with the old model and the new (a step takes one
 * model's). Every push is OK, and every output buffer holds softmax
 * vectors of one model or the other for each of its frames. Mainly for
 * AddressSanitizer (build-asan): no model or scratch is freed while a
 * step or a stream still uses it. */
#define SWAP_RUNS 20

typedef struct
{
  GstHarness *h;
  const float *x;
  gint stop;
  GstFlowReturn last;
  guint bad;                    /* output buffers of a wrong size */
} SwapPusher;

static gpointer
push_while_swapping (gpointer data)
{
  SwapPusher *p = data;
  guint b = 0, n, j;
  GstBuffer *out;

  do {
    n = 1 + b % 7;
    p->last = gst_harness_push (p->h, make_buffer (p->x, b % 10, n));
    while ((out = gst_harness_try_pull (p->h)) != NULL) {
      GstMapInfo map;
      float sum = 0;
      gst_buffer_map (out, &map, GST_MAP_READ);
      if (map.size != n * 5 * sizeof (float)
          && map.size != n * 3 * sizeof (float))
        p->bad++;
      for (j = 0; j < map.size / sizeof (float); j++)
        sum += ((const float *) map.data)[j];
      if (!(fabsf (sum - n) < 1e-3f * n))
        p->bad++;               /* each frame's vector sums to 1 */
      gst_buffer_unmap (out, &map);
      gst_buffer_unref (out);
    }
    b++;
  } while (p->last == GST_FLOW_OK && !g_atomic_int_get (&p->stop));
  return NULL;
}

/* Waits (5 s at most) until the model running is the one from `path`. */
static gboolean
wait_running (GstLstm * self, const gchar * path)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  gboolean running = FALSE;

  while (!running && g_get_monotonic_time () < deadline) {
    GST_OBJECT_LOCK (self);
    running = g_strcmp0 (self->running_path, path) == 0;
    GST_OBJECT_UNLOCK (self);
    if (!running)
      g_usleep (1000);
  }
  return running;
}

static void
test_streams_swap_stress (void)
{
  g_autoptr (LstmModel) a = NULL;
  g_autoptr (LstmModel) c = NULL;
  g_autofree gchar *path_a = save_sized (I, H, 5, FALSE, 5, &a);
  g_autofree gchar *path_c = save_sized (I, 16, 3, FALSE, 7, &c);
  GstElement *e = gst_element_factory_make ("lstm", NULL);
  SwapPusher p[N_STREAMS];
  GThread *t[N_STREAMS];
  float x[17 * I];
  guint run, k, j;

  for (j = 0; j < G_N_ELEMENTS (x); j++)
    x[j] = sinf (j * 0.3f);
  g_object_set (e, "model", path_a, "stream-wait", GST_MSECOND, NULL);
  for (k = 0; k < N_STREAMS; k++) {
    p[k] = (SwapPusher) {
    add_stream (e, k), x, 0, GST_FLOW_OK, 0};
    t[k] = g_thread_new ("stream", push_while_swapping, &p[k]);
  }
  for (run = 0; run < SWAP_RUNS; run++) {
    const gchar *path = run % 2 ? path_a : path_c;
    g_object_set (e, "model", path, NULL);
    g_assert_true (wait_running ((GstLstm *) e, path));
    g_usleep (2000);
  }
  for (k = 0; k < N_STREAMS; k++) {
    g_atomic_int_set (&p[k].stop, 1);
    g_thread_join (t[k]);
    g_assert_cmpint (p[k].last, ==, GST_FLOW_OK);
    g_assert_cmpuint (p[k].bad, ==, 0);
    gst_harness_teardown (p[k].h);
  }
  gst_object_unref (e);
  g_unlink (path_a);
  g_unlink (path_c);
}

/* Every stream pushes one buffer at the same moment, ROUNDS times, with
 * stream-wait at 2 s: the set is complete at once, so every stream's
 * output comes well before stream-wait (under 1 s: in practice about a
 * millisecond). On two cores the step that completes the set takes one
 * core's share of the streams and leaves the rest to another thread;
 * that thread once went back to waiting for a complete set, which the
 * streams just stepped no longer were, and slept until its deadline. */
#define ROUNDS 10

typedef struct
{
  GstHarness *h;
  const float *x;
  guint round;
  GMutex *lock;
  GCond *cond;
  guint *go;                    /* the round released to push */
  gint64 took;                  /* us from push to output, worst round */
} Lockstep;

static gpointer
push_lockstep (gpointer data)
{
  Lockstep *p = data;
  guint r;

  for (r = 1; r <= ROUNDS; r++) {
    gint64 start;
    g_mutex_lock (p->lock);
    while (*p->go < r)
      g_cond_wait (p->cond, p->lock);
    g_mutex_unlock (p->lock);
    start = g_get_monotonic_time ();
    g_assert_cmpint (gst_harness_push (p->h, make_buffer (p->x, r, 10)), ==,
        GST_FLOW_OK);
    gst_buffer_unref (gst_harness_pull (p->h));
    p->took = MAX (p->took, g_get_monotonic_time () - start);
    p->round = r;
  }
  return NULL;
}

static void
test_streams_complete_set_waits_not (void)
{
  g_autoptr (LstmModel) m = NULL;
  g_autofree gchar *path = save_model (&m);
  GstElement *e = gst_element_factory_make ("lstm", NULL);
  Lockstep p[N_STREAMS];
  GThread *t[N_STREAMS];
  GMutex lock;
  GCond cond;
  guint go = 0, k, r, j;
  float x[20 * I];

  for (j = 0; j < G_N_ELEMENTS (x); j++)
    x[j] = cosf (j * 0.1f);
  g_mutex_init (&lock);
  g_cond_init (&cond);
  g_object_set (e, "model", path, "stream-wait", 2 * GST_SECOND, NULL);
  for (k = 0; k < N_STREAMS; k++) {
    p[k] = (Lockstep) {
    add_stream (e, k), x, 0, &lock, &cond, &go, 0};
    t[k] = g_thread_new ("stream", push_lockstep, &p[k]);
  }
  for (r = 1; r <= ROUNDS; r++) {
    gboolean all;
    g_mutex_lock (&lock);
    go = r;
    g_cond_broadcast (&cond);
    g_mutex_unlock (&lock);
    do {                        /* every stream's output of round r */
      g_usleep (1000);
      for (all = TRUE, k = 0; k < N_STREAMS; k++)
        all = all && g_atomic_int_get (&p[k].round) >= (gint) r;
    } while (!all);
  }
  for (k = 0; k < N_STREAMS; k++) {
    g_thread_join (t[k]);
    g_assert_cmpint (p[k].took, <, G_USEC_PER_SEC);
    gst_harness_teardown (p[k].h);
  }
  g_mutex_clear (&lock);
  g_cond_clear (&cond);
  gst_object_unref (e);
  g_unlink (path);
}

/* A stream that stalls (no more buffers, no EOS) holds the others up for
 * stream-wait once, not at each of their buffers: with stream-wait at
 * 300 ms, stream 0's 10 buffers take well under 3 s (they took 3 s,
 * falling further behind a live source at each buffer). The latency of
 * src_N counts stream-wait in (upstream's + the wait). */
static void
test_streams_stalled_partner (void)
{
  g_autoptr (LstmModel) m = NULL;
  g_autofree gchar *path = save_model (&m);
  GstElement *e = gst_element_factory_make ("lstm", NULL);
  float x[20 * I] = { 0 };
  GstHarness *h0, *h1;
  gint64 start;
  guint b;

  g_object_set (e, "model", path, "stream-wait", 300 * GST_MSECOND, NULL);
  h0 = add_stream (e, 0);
  h1 = add_stream (e, 1);
  gst_harness_set_upstream_latency (h0, 20 * GST_MSECOND);
  g_assert_cmpuint (gst_harness_query_latency (h0), ==, 320 * GST_MSECOND);
  /* stream 1 sends one buffer (stepped alone once stream-wait has
   * passed) and falls silent */
  g_assert_cmpint (gst_harness_push (h1, make_buffer (x, 0, 10)), ==,
      GST_FLOW_OK);
  start = g_get_monotonic_time ();
  for (b = 0; b < 10; b++) {
    g_assert_cmpint (gst_harness_push (h0, make_buffer (x, b, 1)), ==,
        GST_FLOW_OK);
    gst_buffer_unref (gst_harness_pull (h0));
  }
  g_test_message ("10 buffers in %.2f s", (g_get_monotonic_time () -
          start) / 1e6);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 1500 * 1000);
  gst_harness_teardown (h0);
  gst_harness_teardown (h1);
  gst_object_unref (e);
  g_unlink (path);
}

/* src_N marks its first output after a gap DISCONT, as the single pad
 * does: the first, after a DISCONT input (also one that comes on an empty
 * buffer), after a flush; the others not. */
static void
test_streams_discont_out (void)
{
  g_autoptr (LstmModel) m = NULL;
  g_autofree gchar *path = save_model (&m);
  GstElement *e = gst_element_factory_make ("lstm", NULL);
  float x[10 * I] = { 0 };
  GstHarness *h;
  GstBuffer *b;
  GstSegment seg;
  gboolean want[] = { TRUE, FALSE, TRUE, TRUE, FALSE };
  guint k;

  g_object_set (e, "model", path, "stream-wait", (guint64) 0, NULL);
  h = add_stream (e, 0);
  for (k = 0; k < G_N_ELEMENTS (want); k++) {
    if (k == 2) {
      b = gst_buffer_new ();    /* an empty DISCONT buffer */
      GST_BUFFER_FLAG_SET (b, GST_BUFFER_FLAG_DISCONT);
      g_assert_cmpint (gst_harness_push (h, b), ==, GST_FLOW_OK);
    }
    if (k == 3) {
      gst_harness_push_event (h, gst_event_new_flush_start ());
      gst_harness_push_event (h, gst_event_new_flush_stop (TRUE));
      gst_segment_init (&seg, GST_FORMAT_TIME);
      gst_harness_push_event (h, gst_event_new_segment (&seg));
    }
    g_assert_cmpint (gst_harness_push (h, make_buffer (x, 0, 10)), ==,
        GST_FLOW_OK);
    b = gst_harness_pull (h);
    g_assert_cmpint (GST_BUFFER_IS_DISCONT (b), ==, want[k]);
    gst_buffer_unref (b);
  }
  gst_harness_teardown (h);
  gst_object_unref (e);
  g_unlink (path);
}

/* An empty buffer on a request pad, F32 or S16, is taken (nothing out,
 * the stream goes on); UndefinedBehaviorSanitizer (build-asan) watches
 * that no memcpy gets a NULL pointer for it. */
static void
test_streams_empty_buffer (void)
{
  g_autoptr (LstmModel) m = NULL;
  g_autofree gchar *path = save_model (&m);
  GstElement *e = gst_element_factory_make ("lstm", NULL);
  float x[10 * I] = { 0 };
  GstHarness *h0, *h1;
  GstBuffer *b;

  g_object_set (e, "model", path, "stream-wait", (guint64) 0, NULL);
  h0 = add_stream (e, 0);
  h1 = gst_harness_new_with_element (e, "sink_1", "src_1");
  gst_harness_set_src_caps_str (h1, "audio/x-raw,format=S16LE,"
      "layout=interleaved,channels=8,rate=100");
  g_assert_cmpint (gst_harness_push (h0, gst_buffer_new ()), ==,
      GST_FLOW_OK);
  g_assert_cmpint (gst_harness_push (h1, gst_buffer_new ()), ==,
      GST_FLOW_OK);
  g_assert_null (gst_harness_try_pull (h0));
  g_assert_null (gst_harness_try_pull (h1));
  g_assert_cmpint (gst_harness_push (h0, make_buffer (x, 0, 10)), ==,
      GST_FLOW_OK);
  b = gst_harness_pull (h0);
  g_assert_cmpuint (gst_buffer_get_size (b), ==, 10 * 5 * sizeof (float));
  gst_buffer_unref (b);
  gst_harness_teardown (h0);
  gst_harness_teardown (h1);
  gst_object_unref (e);
  g_unlink (path);
}

/* src_N linked through text/x-raw: the link fails (request pads give
 * vectors only) and the element's error says so, before upstream's bare
 * 'Internal data stream error'. */
static void
test_streams_text_refused (void)
{
  g_autoptr (LstmModel) m = NULL;
  g_autofree gchar *path = save_model (&m);
  g_autofree gchar *desc = g_strdup_printf ("lstm name=l model=%s "
      "audiotestsrc num-buffers=3 samplesperbuffer=10 ! audio/x-raw,"
      "format=F32LE,channels=8,rate=100 ! l.sink_0 l.src_0 ! text/x-raw ! "
      "fakesink", path);
  GstMessage *msg = train_run_pipeline (desc, NULL);
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (GST_MESSAGE_TYPE (msg), ==, GST_MESSAGE_ERROR);
  gst_message_parse_error (msg, &error, NULL);
  g_assert_cmpstr (GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), ==, "l");
  g_assert_nonnull (strstr (error->message, "Nothing is linked to src_0"));
  g_assert_nonnull (strstr (error->message, "vectors only"));
  g_assert_nonnull (strstr (error->message, "channels=5"));
  gst_message_unref (msg);
  g_unlink (path);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/lstm/element/streams/equal-alone",
      test_streams_equal_alone);
  g_test_add_func ("/lstm/element/streams/release-running",
      test_streams_release_running);
  g_test_add_func ("/lstm/element/streams/release-stress",
      test_streams_release_stress);
  g_test_add_func ("/lstm/element/streams/flush-one", test_streams_flush_one);
  g_test_add_func ("/lstm/element/streams/wrong-size", test_streams_wrong_size);
  g_test_add_func ("/lstm/element/streams/bidirectional",
      test_streams_bidirectional);
  g_test_add_func ("/lstm/element/streams/reset-signal",
      test_streams_reset_signal);
  g_test_add_func ("/lstm/element/streams/skipped-frames",
      test_streams_skipped_frames);
  g_test_add_func ("/lstm/element/streams/unsupported",
      test_streams_unsupported);
  g_test_add_func ("/lstm/element/streams/model-swap",
      test_streams_model_swap);
  g_test_add_func ("/lstm/element/streams/swap-stress",
      test_streams_swap_stress);
  g_test_add_func ("/lstm/element/streams/complete-set-waits-not",
      test_streams_complete_set_waits_not);
  g_test_add_func ("/lstm/element/streams/stalled-partner",
      test_streams_stalled_partner);
  g_test_add_func ("/lstm/element/streams/discont-out",
      test_streams_discont_out);
  g_test_add_func ("/lstm/element/streams/empty-buffer",
      test_streams_empty_buffer);
  g_test_add_func ("/lstm/element/streams/text-refused",
      test_streams_text_refused);
  return g_test_run ();
}
