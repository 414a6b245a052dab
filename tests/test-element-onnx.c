/* The lstm element with model=<file>.onnx: the exported LSTM's frames in
 * buffers of 5, against PyTorch's outputs; a refused ONNX file is an
 * element error that carries the converter's message. */
#include "test-onnx-util.h"

#include <gst/gst.h>
#include <gst/check/gstharness.h>
#include <string.h>

/* Tolerance against PyTorch as in test-forward.c: max relative error. */
#define TORCH_REL_TOL 1e-5

static GstHarness *
new_harness (const gchar * file, guint channels)
{
  g_autofree gchar *path = onnx_ref_path (file);
  g_autofree gchar *caps = g_strdup_printf ("audio/x-raw,format=F32LE,"
      "layout=interleaved,channels=%u,rate=100", channels);
  GstElement *e = gst_element_factory_make ("lstm", NULL);
  GstHarness *h;

  g_assert_nonnull (e);
  g_object_set (e, "model", path, NULL);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_src_caps_str (h, caps);
  return h;
}

static void
test_forward (void)
{
  g_autofree gchar *data_path = onnx_ref_path ("lstm_l2_softmax"
      ".data.safetensors");
  g_autoptr (GBytes) bytes = read_file_or_fail (data_path);
  g_autoptr (OnnxRefFile) ref = onnx_ref_file_parse (bytes, data_path);
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (float));
  g_autofree float *input = NULL, *expected = NULL;
  GstHarness *h = new_harness ("lstm_l2_softmax.onnx", 5);
  guint64 n_in, n_out;
  guint first;
  double err;

  input = onnx_ref_tensor (ref, "input", &n_in);
  expected = onnx_ref_tensor (ref, "output", &n_out);
  for (first = 0; first < n_in / 5; first += 5) {
    guint n = MIN (5, n_in / 5 - first);
    GstBuffer *b = gst_buffer_new_memdup (input + first * 5,
        n * 5 * sizeof (float));
    GstMapInfo map;

    g_assert_cmpint (gst_harness_push (h, b), ==, GST_FLOW_OK);
    b = gst_harness_pull (h);
    gst_buffer_map (b, &map, GST_MAP_READ);
    g_array_append_vals (out, map.data, map.size / sizeof (float));
    gst_buffer_unmap (b, &map);
    gst_buffer_unref (b);
  }
  g_assert_cmpuint (out->len, ==, n_out);
  err = rel_error ((float *) out->data, expected, n_out);
  g_test_message ("max relative error %.3g", err);
  g_assert_cmpfloat (err, <=, TORCH_REL_TOL);
  gst_harness_teardown (h);
}

static void
test_refused (void)
{
  g_autofree gchar *path = onnx_ref_path ("bad-op-relu.onnx");
  GstElement *e = gst_element_factory_make ("lstm", NULL);
  GstBus *bus = gst_bus_new ();
  g_autoptr (GError) error = NULL;
  g_autofree gchar *debug = NULL;
  GstMessage *msg;

  g_object_set (e, "model", path, NULL);
  gst_element_set_bus (e, bus);
  g_assert_cmpint (gst_element_set_state (e, GST_STATE_PAUSED), ==,
      GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  g_assert_nonnull (msg);
  gst_message_parse_error (msg, &error, &debug);
  g_test_message ("%s", debug);
  g_assert_nonnull (strstr (debug, "node 'relu0' (Relu)"));
  gst_message_unref (msg);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_object_unref (e);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/lstm/onnx/equals-pytorch", test_forward);
  g_test_add_func ("/lstm/onnx/refused-file-is-an-error", test_refused);
  return g_test_run ();
}
