/* The LSTM variants: model files round trip, state, forward against the
 * references of tests/reference/generate_variants.py. */
#include "test-util.h"

#include <math.h>
#include <string.h>

/* One model of each variant the README lists (I = 3, H = 5, 2 layers,
 * a head of 2). */
typedef struct
{
  const gchar *name;
  LstmCell cell;
  guint proj_size;
  gboolean bidirectional, peephole, coupled_gates, layer_norm;
  double cell_clip;
} Variant;

static const Variant variants[] = {
  {"gru", LSTM_CELL_GRU, 0, FALSE, FALSE, FALSE, FALSE, 0.0},
  {"proj", LSTM_CELL_LSTM, 3, FALSE, FALSE, FALSE, FALSE, 0.0},
  {"bidir", LSTM_CELL_LSTM, 0, TRUE, FALSE, FALSE, FALSE, 0.0},
  {"bidir-gru", LSTM_CELL_GRU, 0, TRUE, FALSE, FALSE, FALSE, 0.0},
  {"bidir-proj", LSTM_CELL_LSTM, 2, TRUE, FALSE, FALSE, FALSE, 0.0},
  {"peephole", LSTM_CELL_LSTM, 0, FALSE, TRUE, FALSE, FALSE, 0.0},
  {"cifg", LSTM_CELL_LSTM, 0, FALSE, FALSE, TRUE, FALSE, 0.0},
  {"clip", LSTM_CELL_LSTM, 0, FALSE, FALSE, FALSE, FALSE, 0.25},
  {"layer-norm", LSTM_CELL_LSTM, 0, FALSE, FALSE, FALSE, TRUE, 0.0},
  {"all", LSTM_CELL_LSTM, 4, TRUE, TRUE, TRUE, TRUE, 1.5},
};

static LstmModel *
variant_model (const Variant * v, guint64 seed)
{
  LstmModelConfig c;
  g_autoptr (GError) error = NULL;
  LstmModel *m;

  lstm_model_config_init (&c, 3, 5, 2, 2, LSTM_OUTPUT_SOFTMAX);
  c.cell = v->cell;
  c.proj_size = v->proj_size;
  c.bidirectional = v->bidirectional;
  c.peephole = v->peephole;
  c.coupled_gates = v->coupled_gates;
  c.layer_norm = v->layer_norm;
  c.cell_clip = v->cell_clip;
  m = lstm_model_new_full (&c, &error);
  g_assert_no_error (error);
  lstm_model_init_random (m, seed);
  return m;
}

/* Saved and loaded back: the same variant, the same floats, the same
 * outputs (bit for bit), for every variant. */
static void
test_roundtrip (void)
{
  float in[7 * 3];
  guint i, v;

  for (i = 0; i < G_N_ELEMENTS (in); i++)
    in[i] = sinf (0.7f * i);
  for (v = 0; v < G_N_ELEMENTS (variants); v++) {
    g_autoptr (LstmModel) a = variant_model (&variants[v], 10 + v);
    g_autoptr (GBytes) bytes = lstm_model_save_to_bytes (a);
    g_autoptr (GError) error = NULL;
    g_autoptr (LstmModel) b = NULL;
    g_autoptr (LstmState) sa = NULL;
    g_autoptr (LstmState) sb = NULL;
    LstmModelConfig ca, cb;
    float ya[7 * 2], yb[7 * 2];
    gsize size;
    const guint8 *data = g_bytes_get_data (bytes, &size);

    g_test_message ("variant %s", variants[v].name);
    b = lstm_model_load_from_data (data, size, variants[v].name, &error);
    g_assert_no_error (error);
    lstm_model_get_config (a, &ca);
    lstm_model_get_config (b, &cb);
    g_assert_cmpmem (&ca, sizeof (ca), &cb, sizeof (cb));
    g_assert_cmpuint (a->n_params, ==, b->n_params);
    g_assert_cmpmem (a->params, a->n_params * 4, b->params, b->n_params * 4);
    g_assert_false (lstm_model_is_plain (b));

    sa = lstm_state_new (a, 4);
    sb = lstm_state_new (b, 0);
    lstm_forward (a, sa, in, 7, ya);
    lstm_forward (b, sb, in, 7, yb);
    g_assert_cmpmem (ya, sizeof (ya), yb, sizeof (yb));
    for (i = 0; i < 7; i++)
      g_assert_cmpfloat_with_epsilon (ya[2 * i] + ya[2 * i + 1], 1.0, 1e-5);
  }
}

/* Variants that are not defined are refused with a message naming them. */
static void
test_bad_config (void)
{
  LstmModelConfig c;
  g_autoptr (GError) error = NULL;

  lstm_model_config_init (&c, 3, 5, 1, 0, LSTM_OUTPUT_IDENTITY);
  c.cell = LSTM_CELL_GRU;
  c.layer_norm = TRUE;
  g_assert_null (lstm_model_new_full (&c, &error));
  g_assert_error (error, LSTM_ERROR, LSTM_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "layer norm"));
  g_clear_error (&error);

  lstm_model_config_init (&c, 3, 5, 1, 0, LSTM_OUTPUT_IDENTITY);
  c.proj_size = 5;
  g_assert_null (lstm_model_new_full (&c, &error));
  g_assert_nonnull (strstr (error->message, "projection size 5"));
  g_clear_error (&error);

  lstm_model_config_init (&c, 3, 5, 1, 0, LSTM_OUTPUT_IDENTITY);
  c.cell_clip = -1.0;
  g_assert_null (lstm_model_new_full (&c, &error));
  g_assert_nonnull (strstr (error->message, "cell clip"));
}

/* Unidirectional variants carry the state: pieces equal the whole; the
 * state snapshot (version 2) restores it. */
static void
test_chunked_and_state (void)
{
  float in[9 * 3], whole[9 * 2], parts[9 * 2];
  guint i, v;

  for (i = 0; i < G_N_ELEMENTS (in); i++)
    in[i] = cosf (0.3f * i);
  for (v = 0; v < G_N_ELEMENTS (variants); v++) {
    g_autoptr (LstmModel) m = variant_model (&variants[v], 30 + v);
    g_autoptr (LstmState) s = lstm_state_new (m, 2);
    g_autoptr (LstmState) s2 = NULL;
    g_autoptr (GBytes) snap = NULL;
    g_autoptr (GError) error = NULL;

    if (variants[v].bidirectional)
      continue;
    lstm_forward (m, s, in, 9, whole);
    lstm_state_reset (s);
    lstm_forward (m, s, in, 4, parts);
    snap = lstm_state_serialize (s);
    s2 = lstm_state_new (m, 0);
    g_assert_true (lstm_state_deserialize (s2, snap, &error));
    g_assert_no_error (error);
    lstm_forward (m, s2, in + 4 * 3, 5, parts + 4 * 2);
    g_assert_cmpmem (whole, sizeof (whole), parts, sizeof (parts));
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  lstm_blas_set_threads (1);
  g_test_add_func ("/lstm/variants/roundtrip", test_roundtrip);
  g_test_add_func ("/lstm/variants/bad-config", test_bad_config);
  g_test_add_func ("/lstm/variants/chunked-and-state", test_chunked_and_state);
  return g_test_run ();
}
