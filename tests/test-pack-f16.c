/* Half-precision weights (lstm_state_set_weights (LSTM_WEIGHTS_F16)):
 * the rounding against the CPU's own F16C conversion, and the forward pass
 * against the float32 one on the weights rounded to half, bit for bit,
 * alone and with streams stepped together. */
#include "lstm.h"

#include <math.h>
#include <string.h>

#if defined (__x86_64__) && defined (__GNUC__)
#include <immintrin.h>

/* The hardware's float -> half -> float (round to nearest even). */
__attribute__((target ("f16c")))
     static float f16c_round (float x)
{
  return _cvtsh_ss (_cvtss_sh (x, _MM_FROUND_TO_NEAREST_INT));
}
#endif

static gboolean
same_bits (float a, float b)
{
  return memcmp (&a, &b, sizeof a) == 0 || (isnan (a) && isnan (b));
}

/* Every 4099th float bit pattern (all signs, exponents, NaN, infinity,
 * subnormals) and the edges of the half range, against F16C. */
static void
test_round_f16c (void)
{
#if defined (__x86_64__) && defined (__GNUC__)
  static const float edges[] = { 65504.0f, 65519.99f, 65520.0f, 65536.0f,
    0x1p-24f, 0x1p-25f, 0x1.8p-25f, 0x1.8p-24f, 0x1p-14f, 0x1.ffcp-15f,
    0x1.ffep-15f, 1.0f / 3.0f, 1.0f + 0x1p-11f, 1.0f + 0x1.8p-11f, -0.0f,
    0.0f
  };
  guint64 u;
  guint n_bad = 0, i;

  __builtin_cpu_init ();
  if (!__builtin_cpu_supports ("f16c")) {
    g_test_skip ("no F16C on this CPU");
    return;
  }
  for (u = 0; u <= G_MAXUINT32; u += 4099) {
    guint32 b = (guint32) u;
    float x;
    memcpy (&x, &b, sizeof x);
    n_bad += !same_bits (lstm_half_round (x), f16c_round (x));
  }
  for (i = 0; i < G_N_ELEMENTS (edges); i++) {
    n_bad += !same_bits (lstm_half_round (edges[i]), f16c_round (edges[i]));
    n_bad += !same_bits (lstm_half_round (-edges[i]), f16c_round (-edges[i]));
  }
  g_assert_cmpuint (n_bad, ==, 0);
#else
  g_test_skip ("x86-64 only");
#endif
}

static LstmModel *
make_model (guint I, guint H, guint L, guint O)
{
  LstmModel *m = lstm_model_new (I, H, L, O, LSTM_OUTPUT_SOFTMAX, NULL);
  lstm_model_init_random (m, 7 * H + L);
  return m;
}

/* A copy whose weight matrices are rounded to half (biases are not). */
static LstmModel *
rounded_copy (const LstmModel * m)
{
  LstmModel *r = lstm_model_copy (m);
  guint k;
  gsize i;

  for (k = 0; k < r->num_layers; k++) {
    LstmLayer *l = &r->layers[k];
    for (i = 0; i < (gsize) 4 * l->hidden_size * l->input_size; i++)
      l->weight_ih[i] = lstm_half_round (l->weight_ih[i]);
    for (i = 0; i < (gsize) 4 * l->hidden_size * l->hidden_size; i++)
      l->weight_hh[i] = lstm_half_round (l->weight_hh[i]);
  }
  for (i = 0; i < (gsize) r->head_size * r->layer_output_size; i++)
    r->head_weight[i] = lstm_half_round (r->head_weight[i]);
  lstm_model_weights_changed (r);
  return r;
}

static float *
random_frames (guint n, guint I, guint seed)
{
  GRand *rng = g_rand_new_with_seed (seed);
  float *x = g_new (float, (gsize) n * I);
  gsize i;

  for (i = 0; i < (gsize) n * I; i++)
    x[i] = g_rand_double_range (rng, -2, 2);
  g_rand_free (rng);
  return x;
}

/* F16 on the model == F32 on the rounded model, bit for bit, fed in
 * chunks of several sizes; and F16 is not F32 (the setting is used). */
static void
test_forward_f16 (void)
{
  static const guint chunks[] = { 1, 10, 3, 100, 7 };
  const guint I = 40, H = 128, L = 2, O = 12, T = 121;
  g_autoptr (LstmModel) m = make_model (I, H, L, O);
  g_autoptr (LstmModel) r = rounded_copy (m);
  g_autoptr (LstmState) half = lstm_state_new (m, 0);
  g_autoptr (LstmState) want = lstm_state_new (r, 0);
  g_autoptr (LstmState) full = lstm_state_new (m, 0);
  g_autofree float *x = random_frames (T, I, 3);
  g_autofree float *y = g_new (float, T * O);
  g_autofree float *y_want = g_new (float, T * O);
  g_autofree float *y_full = g_new (float, T * O);
  GBytes *a, *b;
  double max_diff = 0;
  guint i, done = 0;

  lstm_state_set_weights (half, LSTM_WEIGHTS_F16);
  g_assert_cmpint (lstm_state_get_weights (half), ==, LSTM_WEIGHTS_F16);
  for (i = 0; i < G_N_ELEMENTS (chunks); done += chunks[i++]) {
    lstm_forward (m, half, x + done * I, chunks[i], y + done * O);
    lstm_forward (r, want, x + done * I, chunks[i], y_want + done * O);
    lstm_forward (m, full, x + done * I, chunks[i], y_full + done * O);
  }
  g_assert_cmpuint (done, ==, T);
  g_assert_cmpmem (y, T * O * 4, y_want, T * O * 4);
  a = lstm_state_serialize (half);
  b = lstm_state_serialize (want);
  g_assert_true (g_bytes_equal (a, b));
  g_bytes_unref (a);
  g_bytes_unref (b);

  for (i = 0; i < T * O; i++)
    max_diff = MAX (max_diff, fabs (y[i] - y_full[i]));
  g_test_message ("f16 vs f32 probabilities: max |diff| %.3g", max_diff);
  /* half has 11 significant bits: weights within 2^-12 relative, which
   * moved these probabilities by 1.5e-6 when written; 1e-2 would mean a
   * bug */
  g_assert_cmpfloat (max_diff, >, 0.0);
  g_assert_cmpfloat (max_diff, <, 1e-2);
}

/* Streams stepped together with F16 == each alone with F16. */
static void
test_streams_f16 (void)
{
  const guint I = 8, H = 32, L = 1, O = 4, S = 5, T = 23;
  g_autoptr (LstmModel) m = make_model (I, H, L, O);
  g_autoptr (LstmStreams) st = lstm_streams_new (m, S, 8);
  LstmState *together[5], *alone[5];
  float *in[5], *out[5], *want[5];
  guint s;

  for (s = 0; s < S; s++) {
    together[s] = lstm_state_new (m, 0);
    alone[s] = lstm_state_new (m, 0);
    lstm_state_set_weights (together[s], LSTM_WEIGHTS_F16);
    lstm_state_set_weights (alone[s], LSTM_WEIGHTS_F16);
    in[s] = random_frames (T, I, 10 + s);
    out[s] = g_new (float, T * O);
    want[s] = g_new (float, T * O);
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
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/lstm/f16/round-f16c", test_round_f16c);
  g_test_add_func ("/lstm/f16/forward", test_forward_f16);
  g_test_add_func ("/lstm/f16/streams", test_streams_f16);
  return g_test_run ();
}
