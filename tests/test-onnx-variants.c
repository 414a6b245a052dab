/* ONNX import end to end for the variants: GRU and bidirectional LSTM
 * (exported by torch.onnx.export, against PyTorch's outputs), and the
 * hand-built peephole, CIFG + clip LSTMs and bidirectional GRU/LSTM with
 * clip (against generate_onnx.py's numpy implementation of ONNX's
 * equations, clip as onnxruntime applies it: gate inputs only).
 * bilstm_peephole_clip has |c_t| above its clip, so clipping c_t before
 * the tanh of h_t would fail it. */
#include "test-onnx-util.h"

/* float32 forward vs PyTorch float32 (or numpy float64): 1e-5 of the
 * output's scale, as for the plain LSTM in test-onnx.c */
#define TOLERANCE 1e-5

static void
test_forward (gconstpointer data)
{
  double err = onnx_case_forward_error (data);

  g_test_message ("%s: max relative error %.3g", (const gchar *) data, err);
  g_assert_cmpfloat (err, <=, TOLERANCE);
}

int
main (int argc, char **argv)
{
  static const gchar *const cases[] = {
    "gru_l2", "bilstm_l2_sigmoid", "lstm_peephole_mixed", "lstm_cifg_clip",
    "bigru_clip", "bilstm_peephole_clip",
  };
  guint i;

  g_test_init (&argc, &argv, NULL);
  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree gchar *p = g_strdup_printf ("/onnx/forward/%s", cases[i]);
    g_test_add_data_func (p, cases[i], test_forward);
  }
  return g_test_run ();
}
