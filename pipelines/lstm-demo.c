/* lstm-demo: load a model file and stream a sequence through it.
 *
 *   lstm-demo [--chunk N] MODEL.safetensors [DATA.safetensors]
 *
 * DATA holds an `input` tensor [T, input_size] and, optionally, the
 * `output` PyTorch computed for it (tests/reference/generate.py writes
 * such files). Without DATA a synthetic sequence is used. The input is fed
 * N frames per call with the state carried, as an element does with
 * buffers; the demo prints what the model says every few frames, then
 * snapshots the state, runs on, restores it and checks the rerun is
 * identical, and compares with PyTorch's output when DATA has it.
 *
 * The keyword-spotting pipeline replaces this as the main job once the
 * elements exist.
 */
#include "lstm-private.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float *
read_tensor (const gchar * path, const gchar * name, guint cols, guint * rows)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *contents = NULL;
  g_autoptr (LstmTensorFile) f = NULL;
  LstmTensor *t;
  gsize size;
  float *data;

  if (!g_file_get_contents (path, &contents, &size, &error)) {
    g_printerr ("%s\n", error->message);
    exit (1);
  }
  f = lstm_safetensors_parse ((guint8 *) contents, size, path, &error);
  if (f == NULL) {
    g_printerr ("%s\n", error->message);
    exit (1);
  }
  t = g_hash_table_lookup (f->by_name, name);
  if (t == NULL)
    return NULL;
  if (t->n_dims != 2 || t->shape[1] != cols || t->shape[0] == 0
      || t->shape[0] > G_MAXUINT / cols) {
    g_printerr ("%s: tensor '%s' should be [T, %u]\n", path, name, cols);
    exit (1);
  }
  *rows = t->shape[0];
  data = g_new (float, t->n_elements);
  if (!lstm_tensor_to_f32 (f, t, data, &error)) {
    g_printerr ("%s\n", error->message);
    exit (1);
  }
  return data;
}

/* The label and score of the largest output of one frame. */
static void
describe (const LstmModel * m, const float *out, GString * s)
{
  guint O = lstm_model_get_output_size (m), j, best = 0;

  for (j = 1; j < O; j++)
    if (out[j] > out[best])
      best = j;
  if (m->labels != NULL)
    g_string_append_printf (s, "%-10s %.3f", m->labels[best], out[best]);
  else
    g_string_append_printf (s, "argmax %-3u %.4f", best, out[best]);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (LstmModel) m = NULL;
  g_autoptr (LstmState) s = NULL;
  g_autoptr (GBytes) snap = NULL;
  g_autofree float *input = NULL;
  g_autofree float *expected = NULL;
  g_autofree float *out = NULL;
  g_autofree float *rerun = NULL;
  gint chunk = 10;
  guint T = 200, expected_T = 0, O, t, half;
  gint64 start, elapsed;
  GOptionEntry entries[] = {
    {"chunk", 'c', 0, G_OPTION_ARG_INT, &chunk, "Frames per call (10)", "N"},
    {NULL}
  };

  ctx = g_option_context_new ("MODEL.safetensors [DATA.safetensors]");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc < 2
      || chunk < 1) {
    g_printerr ("%s\n", error ? error->message :
        "usage: lstm-demo [--chunk N] MODEL.safetensors [DATA.safetensors]");
    return 2;
  }

  m = lstm_model_load (argv[1], &error);
  if (m == NULL) {
    g_printerr ("cannot load model: %s\n", error->message);
    return 1;
  }
  O = lstm_model_get_output_size (m);
  g_print ("model %s: input %u, %u layer(s) of hidden size %u, %s%u outputs "
      "(%s)%s\n", argv[1], m->input_size, m->num_layers, m->hidden_size,
      m->head_size ? "head of " : "no head, ", O,
      m->head_size ? lstm_output_to_string (m->output) : "top layer's h",
      m->input_mean ? ", input normalization" : "");
  g_print ("OpenBLAS core: %s\n", lstm_blas_get_core ());
  lstm_blas_set_threads (1);

  if (argc > 2) {
    input = read_tensor (argv[2], "input", m->input_size, &T);
    if (input == NULL) {
      g_printerr ("%s has no 'input' tensor\n", argv[2]);
      return 1;
    }
    expected = read_tensor (argv[2], "output", O, &expected_T);
  } else {
    input = g_new (float, (gsize) T * m->input_size);
    for (t = 0; t < T * m->input_size; t++)
      input[t] = sinf (0.05f * t) + 0.3f * cosf (0.31f * t);
  }

  out = g_new (float, (gsize) T * O);
  s = lstm_state_new (m, 0);
  start = g_get_monotonic_time ();
  for (t = 0; t < T; t += chunk) {
    guint n = MIN ((guint) chunk, T - t);
    lstm_forward (m, s, input + (gsize) t * m->input_size, n,
        out + (gsize) t * O);
  }
  elapsed = g_get_monotonic_time () - start;

  g_print ("%u frames, %d per call, state carried:\n", T, chunk);
  for (t = chunk - 1; t < T; t += MAX (chunk, (gint) T / 8)) {
    g_autoptr (GString) line = g_string_new (NULL);
    describe (m, out + (gsize) t * O, line);
    g_print ("  frame %4u  %s\n", t, line->str);
  }
  g_print ("%.0f frames per second (%.1f ms in all)\n",
      T / MAX (elapsed / 1e6, 1e-9), elapsed / 1000.0);

  /* snapshot at the half, run on, restore, run again: identical */
  half = T / 2;
  lstm_state_reset (s);
  lstm_forward (m, s, input, half, NULL);
  snap = lstm_state_serialize (s);
  rerun = g_new (float, (gsize) T * O);
  lstm_forward (m, s, input + (gsize) half * m->input_size, T - half, rerun);
  if (!lstm_state_deserialize (s, snap, &error)) {
    g_printerr ("%s\n", error->message);
    return 1;
  }
  lstm_forward (m, s, input + (gsize) half * m->input_size, T - half,
      rerun + (gsize) (T - half) * O);
  g_print ("state snapshot (%" G_GSIZE_FORMAT " bytes) restored: rerun is %s\n",
      g_bytes_get_size (snap), memcmp (rerun, rerun + (gsize) (T - half) * O,
          (gsize) (T - half) * O * 4) == 0 ? "identical" : "DIFFERENT");

  if (expected != NULL) {
    double err = 0, scale = 0;
    for (t = 0; t < MIN (T, expected_T) * O; t++) {
      err = MAX (err, fabs (out[t] - expected[t]));
      scale = MAX (scale, fabs (expected[t]));
    }
    g_print ("against PyTorch: max |difference| %.3g, relative %.3g\n", err,
        err / MAX (scale, 1e-30));
    if (err / MAX (scale, 1e-30) > 1e-5)
      return 1;
  }
  return 0;
}
