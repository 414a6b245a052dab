/* The lstm element with the variants: unidirectional ones stream as a
 * plain LSTM does; a bidirectional model holds each sequence until it
 * ends. References: tests/reference/variants (generate_variants.py). */
#include "test-util.h"

#include <gst/gst.h>
#include <gst/check/gstharness.h>
#include <string.h>

#define CAPS_4 "audio/x-raw,format=F32LE,layout=interleaved,channels=4," \
  "rate=100"

/* Tolerance against the float64 reference: max relative error. */
#define REF_REL_TOL 1e-5

static gchar *
variant_path (const gchar * name, const gchar * suffix)
{
  g_autofree gchar *file = g_strdup_printf ("../variants/%s%s", name, suffix);
  return ref_path (file);
}

static GstHarness *
new_harness (const gchar * name, const gchar * output_mode)
{
  g_autofree gchar *path = variant_path (name, ".safetensors");
  GstElement *e = gst_element_factory_make ("lstm", NULL);
  GstHarness *h;

  g_assert_nonnull (e);
  g_object_set (e, "model", path, NULL);
  gst_util_set_object_arg (G_OBJECT (e), "output-mode", output_mode);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_src_caps_str (h, CAPS_4);
  gst_harness_set_sink_caps_str (h, "audio/x-raw");
  return h;
}

/* The reference's input0 [T, 4] and output0 [T, 3]. */
static void
load_case (const gchar * name, guint * T, float **in, float **out)
{
  g_autofree gchar *path = variant_path (name, ".data.safetensors");
  g_autoptr (GBytes) bytes = read_file_or_fail (path);
  g_autoptr (GError) error = NULL;
  g_autoptr (LstmTensorFile) f = NULL;
  gsize size;
  const guint8 *p = g_bytes_get_data (bytes, &size);
  LstmTensor *t;

  f = lstm_safetensors_parse (p, size, path, &error);
  g_assert_no_error (error);
  t = g_hash_table_lookup (f->by_name, "input0");
  g_assert_nonnull (t);
  *T = t->shape[0];
  *in = ref_take_tensor (f, "input0", 2, *T, 4);
  *out = ref_take_tensor (f, "output0", 2, *T, 3);
}

static GstBuffer *
frames_buffer (const float *in, guint first, guint n, gboolean discont)
{
  GstBuffer *b = gst_buffer_new_memdup (in + first * 4, n * 4 * sizeof (float));
  GST_BUFFER_PTS (b) = gst_util_uint64_scale_int (first, GST_SECOND, 100);
  GST_BUFFER_DURATION (b) = gst_util_uint64_scale_int (n, GST_SECOND, 100);
  if (discont)
    GST_BUFFER_FLAG_SET (b, GST_BUFFER_FLAG_DISCONT);
  return b;
}

/* Every float of every buffer waiting on the harness's sink. */
static GArray *
pull_all (GstHarness * h, GstClockTime * first_pts)
{
  GArray *a = g_array_new (FALSE, FALSE, sizeof (float));
  GstBuffer *b;

  *first_pts = GST_CLOCK_TIME_NONE;
  while ((b = gst_harness_try_pull (h)) != NULL) {
    GstMapInfo map;
    if (!GST_CLOCK_TIME_IS_VALID (*first_pts))
      *first_pts = GST_BUFFER_PTS (b);
    gst_buffer_map (b, &map, GST_MAP_READ);
    g_array_append_vals (a, map.data, map.size / sizeof (float));
    gst_buffer_unmap (b, &map);
    gst_buffer_unref (b);
  }
  return a;
}

/* GRU, projection, peephole, CIFG, clip, layer norm: frames in three
 * buffers come out with every buffer and equal the reference. */
static void
test_unidirectional (void)
{
  static const gchar *const names[] = { "gru", "proj", "peephole", "cifg",
    "clip", "layer_norm"
  };
  guint v;

  for (v = 0; v < G_N_ELEMENTS (names); v++) {
    GstHarness *h = new_harness (names[v], "frame");
    g_autofree float *in = NULL;
    g_autofree float *ref = NULL;
    g_autoptr (GArray) out = NULL;
    GstClockTime pts;
    guint T;

    load_case (names[v], &T, &in, &ref);
    g_assert_cmpint (gst_harness_push (h, frames_buffer (in, 0, 4, FALSE)),
        ==, GST_FLOW_OK);
    g_assert_cmpuint (gst_harness_buffers_in_queue (h), ==, 1);
    g_assert_cmpint (gst_harness_push (h, frames_buffer (in, 4, 3, FALSE)),
        ==, GST_FLOW_OK);
    g_assert_cmpint (gst_harness_push (h, frames_buffer (in, 7, T - 7,
                FALSE)), ==, GST_FLOW_OK);
    out = pull_all (h, &pts);
    g_assert_cmpuint (out->len, ==, T * 3);
    g_test_message ("%s: %.2e", names[v], rel_error ((float *) out->data, ref,
            T * 3));
    g_assert_cmpfloat (rel_error ((float *) out->data, ref, T * 3), <=,
        REF_REL_TOL);
    gst_harness_teardown (h);
  }
}

/* Bidirectional: nothing comes out while the sequence goes on; at EOS all
 * its predictions, equal to PyTorch's over the whole sequence, with the
 * first frame's PTS. The LATENCY answer has no maximum. */
static void
test_bidirectional_eos (void)
{
  static const gchar *const names[] = { "bidir", "bidir_gru", "bidir_proj",
    "all"
  };
  guint v;

  for (v = 0; v < G_N_ELEMENTS (names); v++) {
    GstHarness *h = new_harness (names[v], "frame");
    g_autofree float *in = NULL;
    g_autofree float *ref = NULL;
    g_autoptr (GArray) out = NULL;
    GstQuery *q = gst_query_new_latency ();
    GstClockTime pts, min, max;
    gboolean live;
    guint T;

    load_case (names[v], &T, &in, &ref);
    g_assert_cmpint (gst_harness_push (h, frames_buffer (in, 0, 5, FALSE)),
        ==, GST_FLOW_OK);
    g_assert_cmpint (gst_harness_push (h, frames_buffer (in, 5, T - 5,
                FALSE)), ==, GST_FLOW_OK);
    g_assert_cmpuint (gst_harness_buffers_in_queue (h), ==, 0);
    g_assert_true (gst_harness_push_event (h, gst_event_new_eos ()));
    out = pull_all (h, &pts);
    g_assert_cmpuint (out->len, ==, T * 3);
    g_assert_cmpuint (pts, ==, 0);
    g_test_message ("%s: %.2e", names[v], rel_error ((float *) out->data, ref,
            T * 3));
    g_assert_cmpfloat (rel_error ((float *) out->data, ref, T * 3), <=,
        REF_REL_TOL);

    gst_harness_set_upstream_latency (h, 20 * GST_MSECOND);
    g_assert_true (gst_pad_peer_query (h->sinkpad, q));
    gst_query_parse_latency (q, &live, &min, &max);
    g_assert_cmpuint (min, ==, 20 * GST_MSECOND);
    g_assert_cmpuint (max, ==, GST_CLOCK_TIME_NONE);
    gst_query_unref (q);
    gst_harness_teardown (h);
  }
}

/* A DISCONT ends the sequence: the frames before it run on their own
 * (equal to lstm_forward over them alone), and in output-mode=last one
 * prediction per sequence comes out, its PTS the sequence's first frame. */
static void
test_bidirectional_discont_last (void)
{
  GstHarness *h = new_harness ("bidir", "last");
  g_autofree gchar *path = variant_path ("bidir", ".safetensors");
  g_autoptr (GError) error = NULL;
  g_autoptr (LstmModel) m = lstm_model_load (path, &error);
  g_autoptr (LstmState) s = NULL;
  g_autofree float *in = NULL;
  g_autofree float *ref = NULL;
  g_autoptr (GArray) first = NULL;
  g_autoptr (GArray) second = NULL;
  float want[4 * 3];
  GstClockTime pts;
  guint T;

  g_assert_no_error (error);
  load_case ("bidir", &T, &in, &ref);
  s = lstm_state_new (m, 0);
  lstm_forward (m, s, in, 4, want);

  g_assert_cmpint (gst_harness_push (h, frames_buffer (in, 0, 4, FALSE)),
      ==, GST_FLOW_OK);
  g_assert_cmpint (gst_harness_push (h, frames_buffer (in, 4, T - 4, TRUE)),
      ==, GST_FLOW_OK);
  first = pull_all (h, &pts);
  g_assert_cmpuint (first->len, ==, 3);
  g_assert_cmpuint (pts, ==, 0);
  g_assert_cmpmem (first->data, 3 * sizeof (float), want + 3 * 3,
      3 * sizeof (float));

  g_assert_true (gst_harness_push_event (h, gst_event_new_eos ()));
  second = pull_all (h, &pts);
  g_assert_cmpuint (second->len, ==, 3);
  g_assert_cmpuint (pts, ==, gst_util_uint64_scale_int (4, GST_SECOND, 100));
  gst_harness_teardown (h);
}

#define CUT 4
#define PER 3

/* max-held-frames: a sequence is cut every CUT frames (a warning the first
 * time): each piece's predictions come out when it is full, equal to the
 * model run over that piece alone, with its first frame's PTS; the rest
 * comes at EOS. */
static void
test_bidirectional_cut (void)
{
  GstHarness *h = new_harness ("bidir", "frame");
  g_autofree gchar *path = variant_path ("bidir", ".safetensors");
  g_autoptr (GError) error = NULL;
  g_autoptr (LstmModel) m = lstm_model_load (path, &error);
  g_autofree float *in = NULL;
  g_autofree float *ref = NULL;
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (float));
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  guint T, at, warnings = 0;

  g_assert_no_error (error);
  load_case ("bidir", &T, &in, &ref);
  g_assert_cmpuint (T, >, 2 * CUT);
  gst_element_set_bus (h->element, bus);
  g_object_set (h->element, "max-held-frames", CUT, NULL);
  /* buffers of PER frames: the cuts fall inside buffers */
  for (at = 0; at < T; at += PER) {
    g_autoptr (GArray) got = NULL;
    GstClockTime pts;
    guint n = MIN (PER, T - at);
    g_assert_cmpint (gst_harness_push (h, frames_buffer (in, at, n, FALSE)),
        ==, GST_FLOW_OK);
    got = pull_all (h, &pts);
    /* a piece comes out when its last frame comes in */
    g_assert_cmpuint (got->len, ==, (at + n) / CUT != at / CUT ? CUT * 3 : 0);
    if (got->len > 0)
      g_assert_cmpuint (pts, ==, gst_util_uint64_scale_int ((at + n) / CUT *
              CUT - CUT, GST_SECOND, 100));
    g_array_append_vals (out, got->data, got->len);
  }
  g_assert_true (gst_harness_push_event (h, gst_event_new_eos ()));
  {
    g_autoptr (GArray) rest = NULL;
    GstClockTime pts;
    rest = pull_all (h, &pts);
    g_array_append_vals (out, rest->data, rest->len);
  }
  g_assert_cmpuint (out->len, ==, T * 3);
  for (at = 0; at < T; at += CUT) {
    guint n = MIN (CUT, T - at);
    g_autoptr (LstmState) s = lstm_state_new (m, 0);
    g_autofree float *want = g_new (float, n * 3);
    lstm_forward (m, s, in + at * 4, n, want);
    g_assert_cmpmem ((float *) out->data + at * 3, n * 3 * sizeof (float),
        want, n * 3 * sizeof (float));
  }
  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING)) != NULL) {
    g_autoptr (GError) w = NULL;
    gst_message_parse_warning (msg, &w, NULL);
    g_assert_nonnull (strstr (w->message, "max-held-frames"));
    warnings++;
    gst_message_unref (msg);
  }
  g_assert_cmpuint (warnings, ==, 1);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/lstm/variants/element/unidirectional",
      test_unidirectional);
  g_test_add_func ("/lstm/variants/element/bidirectional-eos",
      test_bidirectional_eos);
  g_test_add_func ("/lstm/variants/element/bidirectional-discont-last",
      test_bidirectional_discont_last);
  g_test_add_func ("/lstm/variants/element/bidirectional-cut",
      test_bidirectional_cut);
  return g_test_run ();
}
