/* LstmState: reset, copy, serialize and restore. */
#include "test-util.h"

#include <math.h>
#include <string.h>

/* snapshot -> run -> restore -> run gives bit-identical outputs. */
static void
test_serialize_continue (void)
{
  g_autoptr (RefCase) rc = ref_case_load ("i40_h128_l2_softmax12");
  LstmModel *m = rc->model;
  guint O = m->head_size, half = rc->T / 2;
  gsize n = (gsize) (rc->T - half) * O;
  g_autoptr (LstmState) s = lstm_state_new (m, 0);
  g_autoptr (LstmState) other = lstm_state_new (m, 5);
  g_autoptr (GBytes) snap = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree float *first = g_new (float, n);
  g_autofree float *second = g_new (float, n);
  g_autofree float *third = g_new (float, n);
  const float *rest = rc->input + (gsize) half * m->input_size;

  lstm_forward (m, s, rc->input, half, NULL);
  snap = lstm_state_serialize (s);
  lstm_forward (m, s, rest, rc->T - half, first);

  g_assert_true (lstm_state_deserialize (s, snap, &error));
  g_assert_no_error (error);
  lstm_forward (m, s, rest, rc->T - half, second);
  g_assert_cmpmem (first, n * 4, second, n * 4);

  /* a different state object (other chunk size) continues the same way */
  g_assert_true (lstm_state_deserialize (other, snap, NULL));
  lstm_forward (m, other, rest, rc->T - half, third);
  g_assert_cmpfloat (rel_error (third, first, n), <=, 1e-6);

  /* and the whole run matches PyTorch's last frames, so the snapshot held
   * the real state (tolerance as in test-forward) */
  g_assert_cmpfloat (rel_error (first, rc->output + (gsize) half * O, n), <=,
      1e-5);
}

static void
test_reset_copy_dup (void)
{
  g_autoptr (RefCase) rc = ref_case_load ("i5_h17_l1");
  LstmModel *m = rc->model;
  g_autoptr (LstmState) s = lstm_state_new (m, 0);
  g_autoptr (LstmState) d = NULL;
  g_autoptr (LstmState) c = lstm_state_new (m, 0);
  float zeros[17] = { 0 };
  g_autofree float *o1 = g_new (float, (gsize) rc->T * 17);
  g_autofree float *o2 = g_new (float, (gsize) rc->T * 17);

  lstm_forward (m, s, rc->input, 10, NULL);
  d = lstm_state_dup (s);
  lstm_state_copy (c, s);
  g_assert_cmpmem (lstm_state_get_c (d, 0), 68, lstm_state_get_c (s, 0), 68);
  g_assert_cmpmem (lstm_state_get_h (c, 0), 68, lstm_state_get_h (s, 0), 68);
  g_assert_true (memcmp (lstm_state_get_h (s, 0), zeros, 68) != 0);

  lstm_state_reset (s);
  g_assert_cmpmem (lstm_state_get_h (s, 0), 68, zeros, 68);
  g_assert_cmpmem (lstm_state_get_c (s, 0), 68, zeros, 68);
  /* after a reset the model runs as from the start */
  lstm_forward (m, s, rc->input, rc->T, o1);
  g_assert_cmpfloat (rel_error (o1, rc->output, (gsize) rc->T * 17), <=, 1e-5);
  /* the duplicate goes on independently */
  lstm_forward (m, d, rc->input + 10 * 5, rc->T - 10, o2);
  lstm_forward (m, c, rc->input + 10 * 5, rc->T - 10, o1);
  g_assert_cmpmem (o1, (rc->T - 10) * 68, o2, (rc->T - 10) * 68);
}

static void
expect_refused (LstmState * s, GBytes * bytes, const gchar * words)
{
  g_autoptr (GBytes) before = lstm_state_serialize (s);
  g_autoptr (GBytes) after = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_false (lstm_state_deserialize (s, bytes, &error));
  g_assert_error (error, LSTM_ERROR, LSTM_ERROR_STATE);
  g_test_message ("refused: %s", error->message);
  g_assert_nonnull (strstr (error->message, words));
  after = lstm_state_serialize (s);
  g_assert_true (g_bytes_equal (before, after));
}

static GBytes *
patched (GBytes * b, gsize offset, const void *data, gsize len)
{
  gsize size;
  guint8 *copy = g_bytes_unref_to_data (g_bytes_ref (b), &size);
  memcpy (copy + offset, data, len);
  return g_bytes_new_take (copy, size);
}

static void
test_deserialize_bad (void)
{
  g_autoptr (LstmModel) m = lstm_model_new (3, 6, 2, 0, LSTM_OUTPUT_IDENTITY,
      NULL);
  g_autoptr (LstmModel) m2 = lstm_model_new (3, 7, 2, 0, LSTM_OUTPUT_IDENTITY,
      NULL);
  g_autoptr (LstmState) s = NULL;
  g_autoptr (LstmState) s2 = NULL;
  g_autoptr (GBytes) good = NULL;
  g_autoptr (GBytes) other = NULL;
  g_autoptr (GBytes) garbage = g_bytes_new_static ("hello", 5);
  g_autoptr (GBytes) truncated = NULL;
  g_autoptr (GBytes) nan = NULL;
  g_autoptr (GBytes) version = NULL;
  float in[3 * 4] = { 1, 2, 3, -1, 0.5f, 0, 0, 0, 1, 2, 2, 2 };
  float nanf_ = NAN;
  guint32 v4 = GUINT32_TO_LE (4);       /* 1, 2 and 3 exist */

  lstm_model_init_random (m, 5);
  lstm_model_init_random (m2, 5);
  s = lstm_state_new (m, 0);
  s2 = lstm_state_new (m2, 0);
  lstm_forward (m, s, in, 4, NULL);
  lstm_forward (m2, s2, in, 4, NULL);
  good = lstm_state_serialize (s);
  other = lstm_state_serialize (s2);
  g_assert_cmpuint (g_bytes_get_size (good), ==, 24 + 2 * 2 * 6 * 4);

  expect_refused (s, garbage, "not an LSTM state");
  expect_refused (s, other, "is for 2 layers, h and c 7 wide, but the model "
      "has 2 layers, h and c 6 wide");
  truncated = g_bytes_new_from_bytes (good, 0, g_bytes_get_size (good) - 4);
  expect_refused (s2, good, "h and c 6 wide");
  expect_refused (s, truncated, "bytes");
  nan = patched (good, 24 + 4 * 3, &nanf_, 4);
  expect_refused (s, nan, "non-finite");
  version = patched (good, 8, &v4, 4);
  expect_refused (s, version, "version 4");
}

static LstmState *
state_of (guint layers, LstmCell cell, gboolean bidirectional)
{
  LstmModelConfig c;
  g_autoptr (LstmModel) m = NULL;
  float in[3 * 4] = { 1, 2, 3, -1, 0.5f, 0, 0, 0, 1, 2, 2, 2 };
  LstmState *s;

  lstm_model_config_init (&c, 3, 6, layers, 0, LSTM_OUTPUT_IDENTITY);
  c.cell = cell;
  c.bidirectional = bidirectional;
  m = lstm_model_new_full (&c, NULL);
  lstm_model_init_random (m, 9);
  s = lstm_state_new (m, 4);
  lstm_forward (m, s, in, 4, NULL);
  return s;
}

/* A layer in 2 directions is not 2 layers, though their states have the
 * same sizes: a bidirectional model's snapshot (version 3) is refused by
 * a unidirectional model of twice the layers, LSTM or GRU, and the other
 * way round; the message counts layers and directions apart. Each kind's
 * own snapshot restores it. (Before version 3, a GRU of 2 layers took a
 * bidirectional GRU's snapshot and the other way round.) */
static void
test_deserialize_directions (void)
{
  LstmCell cells[] = { LSTM_CELL_LSTM, LSTM_CELL_GRU };
  guint32 v2 = GUINT32_TO_LE (2);
  guint k;

  for (k = 0; k < G_N_ELEMENTS (cells); k++) {
    g_autoptr (LstmState) bi = state_of (1, cells[k], TRUE);
    g_autoptr (LstmState) uni = state_of (2, cells[k], FALSE);
    g_autoptr (GBytes) bi_snap = lstm_state_serialize (bi);
    g_autoptr (GBytes) uni_snap = lstm_state_serialize (uni);
    g_autoptr (GBytes) as_v2 = patched (bi_snap, 8, &v2, 4);
    g_autoptr (GError) error = NULL;

    g_assert_cmpuint (g_bytes_get_size (bi_snap), ==,
        g_bytes_get_size (uni_snap));
    expect_refused (uni, bi_snap, "is for 1 layer in 2 directions");
    expect_refused (bi, uni_snap, "the model has 1 layer in 2 directions");
    g_assert_true (lstm_state_deserialize (bi, bi_snap, &error));
    g_assert_true (lstm_state_deserialize (uni, uni_snap, &error));
    g_assert_no_error (error);
    expect_refused (bi, as_v2, "is for 2 layers");
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  lstm_blas_set_threads (1);
  g_test_add_func ("/lstm/state/serialize-continue", test_serialize_continue);
  g_test_add_func ("/lstm/state/reset-copy-dup", test_reset_copy_dup);
  g_test_add_func ("/lstm/state/deserialize-bad", test_deserialize_bad);
  g_test_add_func ("/lstm/state/deserialize-directions",
      test_deserialize_directions);
  return g_test_run ();
}
