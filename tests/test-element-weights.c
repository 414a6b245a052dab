/* The lstm element's `weights` property (reduced-precision weights), with
 * GstHarness, on the S1 reference model (40 inputs, 2 layers of 128, a
 * 12-way softmax head).
 *
 * weights=f16 gives bit for bit lstm_forward in float32 on the model with
 * its weights rounded to half; int8 within 1e-6 of float32 on its
 * dequantized weights (as test-precision.c); an f32 and an f16 element on
 * one file do not disturb each other; the property changes while playing
 * with the state carried on; a variant model is refused with a message.
 */
#include "test-util.h"

#include "gstlstm.h"
#include "test-element-util.h"

#include <gst/gst.h>
#include <gst/check/gstharness.h>
#include <glib/gstdio.h>
#include <string.h>

#define S1 "i40_h128_l2_softmax12"
#define CAPS_40 "audio/x-raw,format=F32LE,layout=interleaved,channels=40," \
  "rate=100"
#define PER_BUFFER 10           /* frames */

/* int8 against float32 on s q: see INT8_ABS_TOL in test-precision.c */
#define INT8_ABS_TOL 1e-6

static GstHarness *
weights_harness (const gchar * path, const gchar * weights)
{
  GstElement *e = gst_element_factory_make ("lstm", NULL);
  GstHarness *h;

  g_assert_nonnull (e);
  g_object_set (e, "model", path, NULL);
  gst_util_set_object_arg (G_OBJECT (e), "weights", weights);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_src_caps_str (h, CAPS_40);
  return h;
}

/* Pushes frames [first, first + n) of x, PER_BUFFER a buffer; appends
 * the outputs to out. */
static void
push (GstHarness * h, const float *x, guint first, guint n, GArray * out)
{
  guint t;

  for (t = first; t < first + n; t += PER_BUFFER) {
    guint c = MIN (PER_BUFFER, first + n - t);
    GstBuffer *b = gst_buffer_new_memdup (x + (gsize) t * 40,
        (gsize) c * 40 * sizeof (float));
    GstMapInfo map;

    GST_BUFFER_PTS (b) = gst_util_uint64_scale_int (t, GST_SECOND, 100);
    g_assert_cmpint (gst_harness_push (h, b), ==, GST_FLOW_OK);
    b = gst_harness_pull (h);
    gst_buffer_map (b, &map, GST_MAP_READ);
    g_array_append_vals (out, map.data, map.size / sizeof (float));
    gst_buffer_unmap (b, &map);
    gst_buffer_unref (b);
  }
}

/* What the element with `precision` must compute: lstm_forward in float32
 * on the model with rounded weights (the copy of a reduced model is that,
 * in float32), over frames [0, n). */
static float *
expected (const LstmModel * file_model, LstmPrecision precision,
    const float *x, guint n)
{
  g_autoptr (LstmModel) reduced = lstm_model_copy (file_model);
  g_autoptr (LstmModel) f32 = NULL;
  g_autoptr (LstmState) s = NULL;
  float *y = g_new (float, (gsize) n * 12);

  g_assert_true (lstm_model_set_weight_precision (reduced, precision, NULL));
  f32 = lstm_model_copy (reduced);
  g_assert_cmpint (lstm_model_get_weight_precision (f32), ==,
      LSTM_PRECISION_F32);
  s = lstm_state_new (f32, 0);
  lstm_forward (f32, s, x, n, y);
  return y;
}

/* f16 the same outputs, int8 close; both differ from f32 (the property
 * acts). */
static void
test_precision (gconstpointer data)
{
  LstmPrecision p = GPOINTER_TO_INT (data);
  g_autoptr (RefCase) rc = ref_case_load (S1);
  g_autofree gchar *path = ref_path (S1 ".safetensors");
  GstHarness *h = weights_harness (path, lstm_precision_to_string (p));
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (float));
  g_autofree float *want = expected (rc->model, p, rc->input, rc->T);
  gsize n = (gsize) rc->T * 12;
  double err, diff;

  push (h, rc->input, 0, rc->T, out);
  g_assert_cmpuint (out->len, ==, n);
  err = max_abs_error ((float *) out->data, want, n);
  diff = max_abs_error ((float *) out->data, rc->output, n);
  g_test_message ("weights=%s: max |element - f32 on rounded| = %g, "
      "max |element - PyTorch f32| = %g", lstm_precision_to_string (p), err,
      diff);
  if (p == LSTM_PRECISION_F16)
    assert_same_cut ((float *) out->data, want, n);
  else
    g_assert_cmpfloat (err, <=, INT8_ABS_TOL);
  g_assert_cmpfloat (diff, >, 0.0);
  gst_harness_teardown (h);
}

/* An f32 and an f16 element on one file, interleaved: each gives its own
 * model's bits; the f32 one the file's (the cache keeps them apart). */
static void
test_side_by_side (void)
{
  g_autoptr (RefCase) rc = ref_case_load (S1);
  g_autofree gchar *path = ref_path (S1 ".safetensors");
  GstHarness *a = weights_harness (path, "f32");
  GstHarness *b = weights_harness (path, "f16");
  g_autoptr (GArray) out_a = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr (GArray) out_b = g_array_new (FALSE, FALSE, sizeof (float));
  g_autofree float *want_a = expected (rc->model, LSTM_PRECISION_F32,
      rc->input, rc->T);
  g_autofree float *want_b = expected (rc->model, LSTM_PRECISION_F16,
      rc->input, rc->T);
  gsize n = (gsize) rc->T * 12;
  guint t;

  g_assert_true (((GstLstm *) a->element)->model !=
      ((GstLstm *) b->element)->model);
  for (t = 0; t < rc->T; t += PER_BUFFER) {
    push (a, rc->input, t, MIN (PER_BUFFER, rc->T - t), out_a);
    push (b, rc->input, t, MIN (PER_BUFFER, rc->T - t), out_b);
  }
  assert_same_cut ((float *) out_a->data, want_a, n);
  assert_same_cut ((float *) out_b->data, want_b, n);
  gst_harness_teardown (a);
  gst_harness_teardown (b);
}

/* weights=f16 set while playing: swapped in between buffers, the state
 * carried on. Reference: one state through the f32 model for the frames
 * before the swap, then through the rounded model. */
static void
test_change_playing (void)
{
  g_autoptr (RefCase) rc = ref_case_load (S1);
  g_autofree gchar *path = ref_path (S1 ".safetensors");
  GstHarness *h = weights_harness (path, "f32");
  GstLstm *self = (GstLstm *) h->element;
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr (LstmModel) half = lstm_model_copy (rc->model);
  g_autoptr (LstmModel) rounded = NULL;
  g_autoptr (LstmState) s = lstm_state_new (rc->model, 0);
  guint split = 30, T = rc->T;
  g_autofree float *want = g_new (float, (gsize) T * 12);

  g_assert_true (lstm_model_set_weight_precision (half, LSTM_PRECISION_F16,
          NULL));
  rounded = lstm_model_copy (half);
  lstm_forward (rc->model, s, rc->input, split, want);
  lstm_forward (rounded, s, rc->input + split * 40, T - split,
      want + split * 12);

  push (h, rc->input, 0, split, out);
  g_object_set (h->element, "weights", LSTM_PRECISION_F16, NULL);
  g_assert_true (element_wait_pending_model (self));
  push (h, rc->input, split, T - split, out);
  g_assert_cmpint (lstm_model_get_weight_precision (self->model), ==,
      LSTM_PRECISION_F16);
  g_assert_cmpuint (out->len, ==, (gsize) T * 12);
  assert_same_cut ((float *) out->data, want, (gsize) T * 12);
  gst_harness_teardown (h);
}

/* A GRU model with weights=f16: an error that says why, not a crash. */
static void
test_variant_refused (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstm-weights-XXXXXX", NULL);
  g_autofree gchar *path = g_build_filename (dir, "gru.safetensors", NULL);
  g_autofree gchar *desc = NULL;
  g_autoptr (LstmModel) gru = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree gchar *dbg = NULL;
  LstmModelConfig c;
  GstElement *p;
  GstBus *bus;
  GstMessage *msg;

  lstm_model_config_init (&c, 40, 8, 1, 3, LSTM_OUTPUT_SOFTMAX);
  c.cell = LSTM_CELL_GRU;
  gru = lstm_model_new_full (&c, NULL);
  g_assert_true (lstm_model_save (gru, path, NULL));
  desc = g_strdup_printf ("audiotestsrc num-buffers=1 ! audio/x-raw,"
      "format=F32LE,channels=40,rate=100 ! lstm model=%s weights=f16 ! "
      "fakesink", path);
  p = gst_parse_launch (desc, NULL);
  g_assert_nonnull (p);
  bus = gst_element_get_bus (p);
  gst_element_set_state (p, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (bus, 5 * GST_SECOND, GST_MESSAGE_ERROR);
  g_assert_nonnull (msg);
  gst_message_parse_error (msg, &err, &dbg);
  g_test_message ("%s (%s)", err->message, dbg);
  g_assert_nonnull (strstr (dbg, "plain LSTM models only"));
  g_assert_nonnull (strstr (dbg, path));
  gst_message_unref (msg);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (p);
  g_unlink (path);
  g_rmdir (dir);
}

/* weights=f16 set while a GRU plays: refused with a warning that says the
 * precision is what was refused (the file runs on, at f32), and the
 * property goes back (it said 'Could not load the new LSTM model'). */
static void
test_variant_refused_playing (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstm-weights-XXXXXX", NULL);
  g_autofree gchar *path = g_build_filename (dir, "gru.safetensors", NULL);
  g_autoptr (LstmModel) gru = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree gchar *dbg = NULL;
  GstElement *e = gst_element_factory_make ("lstm", NULL);
  GstBus *bus = gst_bus_new ();
  float x[10 * 40] = { 0 };
  LstmModelConfig c;
  LstmPrecision now;
  GstHarness *h;
  GstMessage *msg;

  lstm_model_config_init (&c, 40, 8, 1, 3, LSTM_OUTPUT_SOFTMAX);
  c.cell = LSTM_CELL_GRU;
  gru = lstm_model_new_full (&c, NULL);
  g_assert_true (lstm_model_save (gru, path, NULL));
  g_object_set (e, "model", path, NULL);
  gst_element_set_bus (e, bus);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_harness_set_src_caps_str (h, "audio/x-raw,format=F32LE,"
      "layout=interleaved,channels=40,rate=100");
  g_object_set (e, "weights", LSTM_PRECISION_F16, NULL);
  msg = gst_bus_timed_pop_filtered (bus, 5 * GST_SECOND, GST_MESSAGE_WARNING);
  g_assert_nonnull (msg);
  gst_message_parse_warning (msg, &err, &dbg);
  g_test_message ("%s (%s)", err->message, dbg);
  g_assert_nonnull (strstr (err->message, "with weights=f16; it keeps "
          "running with weights=f32"));
  g_assert_nonnull (strstr (dbg, "plain LSTM models only"));
  gst_message_unref (msg);
  g_object_get (e, "weights", &now, NULL);
  g_assert_cmpint (now, ==, LSTM_PRECISION_F32);
  g_assert_cmpint (gst_harness_push (h, gst_buffer_new_memdup (x,
              sizeof (x))), ==, GST_FLOW_OK);
  gst_buffer_unref (gst_harness_pull (h));
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
  gst_object_unref (e);
  g_unlink (path);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/lstm/element/weights/f16-bits",
      GINT_TO_POINTER (LSTM_PRECISION_F16), test_precision);
  g_test_add_data_func ("/lstm/element/weights/int8-close",
      GINT_TO_POINTER (LSTM_PRECISION_INT8), test_precision);
  g_test_add_func ("/lstm/element/weights/side-by-side", test_side_by_side);
  g_test_add_func ("/lstm/element/weights/change-playing", test_change_playing);
  g_test_add_func ("/lstm/element/weights/variant-refused-playing",
      test_variant_refused_playing);
  g_test_add_func ("/lstm/element/weights/variant-refused",
      test_variant_refused);
  return g_test_run ();
}
