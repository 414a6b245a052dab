/* Streams stepped together (lstm_streams_forward) against each stream run
 * alone through lstm_forward: the same bits, outputs and state. */
#include "lstm.h"

#include <math.h>
#include <string.h>

typedef struct
{
  guint I, H, L, O;
  LstmOutput output;
  gboolean normalize;
} Shape;

static const Shape shapes[] = {
  {5, 17, 1, 0, LSTM_OUTPUT_IDENTITY, FALSE},
  {40, 128, 2, 12, LSTM_OUTPUT_SOFTMAX, TRUE},
  {3, 33, 3, 4, LSTM_OUTPUT_SIGMOID, FALSE},
  {8, 32, 1, 2, LSTM_OUTPUT_IDENTITY, TRUE},
};

static LstmModel *
make_model (const Shape * sh)
{
  LstmModel *m = lstm_model_new (sh->I, sh->H, sh->L, sh->O, sh->output,
      NULL);
  lstm_model_init_random (m, sh->H + sh->L);
  if (sh->normalize) {
    float *mean = g_new (float, sh->I), *std = g_new (float, sh->I);
    for (guint j = 0; j < sh->I; j++) {
      mean[j] = 0.1f * j;
      std[j] = 0.5f + 0.25f * j;
    }
    g_assert_true (lstm_model_set_normalization (m, mean, std, NULL));
    g_free (mean);
    g_free (std);
  }
  return m;
}

/* S streams, each fed the same chunks (of changing sizes) together, and
 * each alone: every output and the final states equal to the bit. */
static void
test_equal_alone (gconstpointer data)
{
  const Shape *sh = data;
  static const guint chunks[] = { 1, 10, 3, 64, 70, 2 };
  const guint S = 7, max_frames = 16;
  g_autoptr (LstmModel) m = make_model (sh);
  guint O = lstm_model_get_output_size (m), T = 0, s, i, done;
  g_autoptr (LstmStreams) st = lstm_streams_new (m, S, max_frames);
  LstmState *together[7], *alone[7];
  float *in[7], *out[7], *want[7];
  GRand *rng = g_rand_new_with_seed (11);

  for (i = 0; i < G_N_ELEMENTS (chunks); i++)
    T += chunks[i];
  for (s = 0; s < S; s++) {
    together[s] = lstm_state_new (m, 0);
    alone[s] = lstm_state_new (m, 0);
    in[s] = g_new (float, (gsize) T * sh->I);
    out[s] = g_new0 (float, (gsize) T * O);
    want[s] = g_new0 (float, (gsize) T * O);
    for (i = 0; i < T * sh->I; i++)
      in[s][i] = g_rand_double_range (rng, -2, 2);
    /* alone, in the same chunks (OpenBLAS, the fallback without AVX2,
     * only promises equal bits for equal calls) */
    for (i = 0, done = 0; i < G_N_ELEMENTS (chunks); done += chunks[i++])
      lstm_forward (m, alone[s], in[s] + (gsize) done * sh->I, chunks[i],
          want[s] + (gsize) done * O);
  }
  done = 0;
  for (i = 0; i < G_N_ELEMENTS (chunks); i++) {
    const float *cin[7];
    float *cout[7];
    for (s = 0; s < S; s++) {
      cin[s] = in[s] + (gsize) done *sh->I;
      cout[s] = out[s] + (gsize) done *O;
    }
    /* the number of streams stepped together changes too: all of them,
     * then all but the last (which catches up alone) */
    lstm_streams_forward (st, m, together, i % 2 ? S - 1 : S, cin,
        chunks[i], cout);
    if (i % 2)
      lstm_forward (m, together[S - 1], cin[S - 1], chunks[i], cout[S - 1]);
    done += chunks[i];
  }
  for (s = 0; s < S; s++) {
    GBytes *a = lstm_state_serialize (together[s]);
    GBytes *b = lstm_state_serialize (alone[s]);
    g_assert_cmpmem (out[s], (gsize) T * O * 4, want[s], (gsize) T * O * 4);
    g_assert_true (g_bytes_equal (a, b));
    g_bytes_unref (a);
    g_bytes_unref (b);
    lstm_state_free (together[s]);
    lstm_state_free (alone[s]);
    g_free (in[s]);
    g_free (out[s]);
    g_free (want[s]);
  }
  g_rand_free (rng);
}

/* outputs NULL only advances the states, as lstm_forward does */
static void
test_states_only (void)
{
  g_autoptr (LstmModel) m = make_model (&shapes[1]);
  g_autoptr (LstmStreams) st = lstm_streams_new (m, 2, 0);
  g_autoptr (LstmState) a = lstm_state_new (m, 0);
  g_autoptr (LstmState) b = lstm_state_new (m, 0);
  g_autoptr (LstmState) c = lstm_state_new (m, 0);
  float x[40 * 5];
  LstmState *both[2] = { a, b };
  const float *in[2] = { x, x };
  GBytes *sa, *sc;

  for (guint i = 0; i < G_N_ELEMENTS (x); i++)
    x[i] = sinf (i);
  lstm_streams_forward (st, m, both, 2, in, 5, NULL);
  lstm_forward (m, c, x, 5, NULL);
  sa = lstm_state_serialize (a);
  sc = lstm_state_serialize (c);
  g_assert_true (g_bytes_equal (sa, sc));
  g_bytes_unref (sa);
  g_bytes_unref (sc);
}

/* With reduced-precision weights (lstm_model_set_weight_precision) too,
 * streams stepped together give each stream's bits alone. */
static void
test_precision (gconstpointer data)
{
  LstmPrecision precision = GPOINTER_TO_UINT (data);
  const guint S = 5, T = 23;
  g_autoptr (LstmModel) m = make_model (&shapes[1]);
  g_autoptr (LstmStreams) st = lstm_streams_new (m, S, 8);
  guint I = shapes[1].I, O = lstm_model_get_output_size (m), s, i;
  LstmState *together[5], *alone[5];
  float *in[5], *out[5], *want[5];
  GRand *rng = g_rand_new_with_seed (5);

  g_assert_true (lstm_model_set_weight_precision (m, precision, NULL));
  for (s = 0; s < S; s++) {
    together[s] = lstm_state_new (m, 0);
    alone[s] = lstm_state_new (m, 0);
    in[s] = g_new (float, T * I);
    out[s] = g_new (float, T * O);
    want[s] = g_new (float, T * O);
    for (i = 0; i < T * I; i++)
      in[s][i] = g_rand_double_range (rng, -2, 2);
    lstm_forward (m, alone[s], in[s], T, want[s]);
  }
  lstm_streams_forward (st, m, together, S, (const float *const *) in, T, out);
  for (s = 0; s < S; s++) {
    g_assert_cmpmem (out[s], T * O * 4, want[s], T * O * 4);
    lstm_state_free (together[s]);
    lstm_state_free (alone[s]);
    g_free (in[s]);
    g_free (out[s]);
    g_free (want[s]);
  }
  g_rand_free (rng);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (shapes); i++) {
    g_autofree gchar *path = g_strdup_printf ("/lstm/streams/equal-alone/"
        "i%u_h%u_l%u_o%u", shapes[i].I, shapes[i].H, shapes[i].L,
        shapes[i].O);
    g_test_add_data_func (path, &shapes[i], test_equal_alone);
  }
  g_test_add_func ("/lstm/streams/states-only", test_states_only);
  g_test_add_data_func ("/lstm/streams/precision/f16",
      GUINT_TO_POINTER (LSTM_PRECISION_F16), test_precision);
  g_test_add_data_func ("/lstm/streams/precision/int8",
      GUINT_TO_POINTER (LSTM_PRECISION_INT8), test_precision);
  return g_test_run ();
}
