/* Reduced-precision weights (lstm_model_set_weight_precision).
 *
 * F16: lstm_forward with the packed halves must give bit for bit what it
 * gives in float32 on a model whose weights were rounded to half (the
 * rounding done here, independently, with F16C when the CPU has it), for
 * every kernel set (LSTM_BLAS_KERNELS, each in a subprocess: the library
 * chooses once per process). INT8: close to float32 on the dequantized
 * weights, within the tolerance stated at the check.
 */
#include "test-util.h"

#include <glib/gstdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined (__x86_64__) && defined (__GNUC__)
#include <cpuid.h>
#include <immintrin.h>

/* The CPU's own rounding (vcvtps2ph, round to nearest even), or FALSE
 * without F16C. */
__attribute__((target ("f16c")))
     static gboolean hw_float_to_half (float f, guint16 * h)
{
  guint a, b, c, d;

  if (!__get_cpuid (1, &a, &b, &c, &d) || (c & bit_F16C) == 0)
    return FALSE;
  *h = _cvtss_sh (f, _MM_FROUND_TO_NEAREST_INT);
  return TRUE;
}
#else
static gboolean
hw_float_to_half (float f, guint16 * h)
{
  return FALSE;
}
#endif

/* float -> half -> float, with the CPU's rounding when it has F16C. */
static float
round_half (float f)
{
  guint16 h;

  if (!hw_float_to_half (f, &h))
    h = lstm_float_to_half (f);
  return lstm_half_to_float (h);
}

/* Every half converts to float and back to itself; floats of every
 * exponent (normal, subnormal, overflowing, ties) round as F16C does. */
static void
test_half_rounding (void)
{
  GRand *rng = g_rand_new_with_seed (7);
  guint32 i, bits;
  guint16 hw;
  float f;

  for (i = 0; i < 0x10000; i++) {
    guint16 h = (guint16) i;
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0)
      continue;                 /* NaN payloads need not survive */
    g_assert_cmphex (lstm_float_to_half (lstm_half_to_float (h)), ==, h);
  }
  if (!hw_float_to_half (1.0f, &hw)) {
    g_test_skip ("no F16C to compare the rounding with");
    g_rand_free (rng);
    return;
  }
  for (i = 0; i < 2000000; i++) {
    /* exponents 2^-30 .. 2^17 and every mantissa; ties when the low 13
     * bits are 0x1000 */
    bits = (g_rand_int (rng) & 0x80000000)
        | ((guint32) g_rand_int_range (rng, 97, 145) << 23)
        | (g_rand_int (rng) & 0x7fffff);
    if (i % 4 == 0)
      bits = (bits & ~0x1fffu) | 0x1000;
    memcpy (&f, &bits, 4);
    hw_float_to_half (f, &hw);
    if (lstm_float_to_half (f) != hw)
      g_error ("float %08x (%g): ours %04x, F16C %04x", bits, f,
          lstm_float_to_half (f), hw);
  }
  g_rand_free (rng);
}

/* A random model; its sizes give tails in every kernel (I, H not multiples
 * of 8 or 16) or are S1's. */
static LstmModel *
random_model (guint I, guint H, guint L, guint O)
{
  LstmModel *m = lstm_model_new (I, H, L, O, LSTM_OUTPUT_SOFTMAX, NULL);

  g_assert_nonnull (m);
  lstm_model_init_random (m, 99);
  return m;
}

/* The model with every weight matrix (W_ih, W_hh, head) mapped by f. */
static LstmModel *
map_weights (const LstmModel * m, float (*f) (float))
{
  LstmModel *r = lstm_model_copy (m);
  guint k, j;

  for (k = 0; k < r->num_layers; k++) {
    LstmLayer *l = &r->layers[k];
    for (j = 0; j < 4 * l->hidden_size * l->input_size; j++)
      l->weight_ih[j] = f (l->weight_ih[j]);
    for (j = 0; j < 4 * l->hidden_size * l->hidden_size; j++)
      l->weight_hh[j] = f (l->weight_hh[j]);
  }
  for (j = 0; j < r->head_size * r->layer_output_size; j++)
    r->head_weight[j] = f (r->head_weight[j]);
  return r;
}

/* Runs n frames through model in chunks of 1, 7, 5 and the rest (rows of
 * A left over after the kernels' tiles of 3 (AVX-512) or 2 (AVX2): 0, 1
 * and 2); returns the outputs and the final state's bytes. */
static float *
run (const LstmModel * m, const float *x, guint n, GBytes ** state)
{
  LstmState *s = lstm_state_new (m, 0);
  guint O = lstm_model_get_output_size (m), I = m->input_size;
  float *out = g_new (float, (gsize) n * O);

  lstm_forward (m, s, x, 1, out);
  lstm_forward (m, s, x + I, 7, out + O);
  lstm_forward (m, s, x + 8 * I, 5, out + 8 * O);
  lstm_forward (m, s, x + 13 * I, n - 13, out + 13 * O);
  *state = lstm_state_serialize (s);
  lstm_state_free (s);
  return out;
}

static float *
random_input (guint n)
{
  GRand *rng = g_rand_new_with_seed (5);
  float *x = g_new (float, n);
  guint i;

  for (i = 0; i < n; i++)
    x[i] = (float) g_rand_double_range (rng, -2.0, 2.0);
  g_rand_free (rng);
  return x;
}

#define N_FRAMES 60

typedef struct
{
  guint I, H, L, O;
} Shape;

static const Shape shapes[] = {
  {37, 29, 2, 7}, {40, 128, 2, 12}, {3, 5, 1, 0}, {80, 70, 1, 30},
};

/* With our kernels the packed copy is what runs, not the floats: zeroing
 * the floats of W_hh changes nothing. With OpenBLAS the floats run. */
static void
check_packed_runs (LstmModel * m, const float *x, const float *y, gsize n_out)
{
  LstmLayer *l = &m->layers[0];
  g_autoptr (GBytes) st = NULL;
  g_autofree float *y0 = NULL;
  gboolean ours = !g_str_equal (lstm_blas_get_kernels (), "openblas");

  memset (l->weight_hh, 0, 4 * (gsize) l->hidden_size * l->hidden_size *
      sizeof (float));
  y0 = run (m, x, N_FRAMES, &st);
  g_assert_cmpint (memcmp (y0, y, n_out * sizeof (float)) == 0, ==, ours);
}

/* w -> s_r q for the int8 reference. */
static LstmModel *
dequantize_int8 (const LstmModel * m)
{
  LstmModel *r = lstm_model_copy (m);
  LstmModel *q = lstm_model_copy (m);

  /* the library's own quantization (checked in /lstm/precision/int8-
   * rounding): what is compared here is the kernels' sum */
  g_assert_true (lstm_model_set_weight_precision (q, LSTM_PRECISION_INT8,
          NULL));
  memcpy (r->params, q->params, r->n_params * sizeof (float));
  lstm_model_unref (q);
  return r;
}

/* INT8 sums q x and scales after: rounding differs from float32 on s q.
 * Each dot product is off by a few float32 ulps of the sum of |w x|; after
 * the gates, two layers and a softmax the outputs (probabilities or h, all
 * below 1) differ by < 1e-7 (measured: 6e-8 at most); 1e-6 leaves a
 * margin and is far below what a wrong scale or row gives (> 1e-2). */
#define INT8_ABS_TOL 1e-6

/* In the subprocess, with the kernel set of LSTM_BLAS_KERNELS: f16 gives
 * the bits of float32 on the half-rounded weights (outputs, final state,
 * and the model's floats are those weights); int8 is within INT8_ABS_TOL
 * of float32 on s q. */
static void
check_precision (LstmPrecision p)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (shapes); i++) {
    const Shape *sh = &shapes[i];
    g_autoptr (LstmModel) m = random_model (sh->I, sh->H, sh->L, sh->O);
    g_autoptr (LstmModel) ref = p == LSTM_PRECISION_F16 ?
        map_weights (m, round_half) : dequantize_int8 (m);
    g_autoptr (GError) error = NULL;
    g_autofree float *x = random_input (N_FRAMES * sh->I);
    g_autoptr (GBytes) s_p = NULL, s32 = NULL;
    g_autofree float *y_p = NULL, *y32 = NULL;
    gsize n_out = (gsize) N_FRAMES * lstm_model_get_output_size (m);
    double err;

    g_assert_true (lstm_model_set_weight_precision (m, p, &error));
    g_assert_no_error (error);
    g_assert_cmpint (lstm_model_get_weight_precision (m), ==, p);
    y_p = run (m, x, N_FRAMES, &s_p);
    y32 = run (ref, x, N_FRAMES, &s32);
    err = max_abs_error (y_p, y32, n_out);
    /* stderr: the parent shows it (stdout is the subprocess's TAP) */
    g_printerr ("# %s, %u,%u,%u,%u: max |%s - f32 on its weights| = %g\n",
        lstm_blas_get_kernels (), sh->I, sh->H, sh->L, sh->O,
        lstm_precision_to_string (p), err);
    if (p == LSTM_PRECISION_INT8) {
      g_assert_cmpfloat (err, <=, INT8_ABS_TOL);
      continue;
    }
    g_assert_cmpmem (y_p, n_out * sizeof (float), y32, n_out * sizeof (float));
    g_assert_true (g_bytes_equal (s_p, s32));
    g_assert_cmpmem (m->params, m->n_params * sizeof (float), ref->params,
        ref->n_params * sizeof (float));
    check_packed_runs (m, x, y_p, n_out);
  }
}

/* Every int8 weight is s_r q with q an integer in [-127, 127] and s_r =
 * max_k |w_rk| / 127, within half a step s_r / 2 of the original (1e-6
 * relative: the float rounding of w / s_r and s_r q). */
static void
test_int8_rounding (void)
{
  g_autoptr (LstmModel) m = random_model (37, 29, 1, 0);
  g_autoptr (LstmModel) orig = lstm_model_copy (m);
  guint r, k, rows = 4 * 29, cols = 29;

  g_assert_true (lstm_model_set_weight_precision (m, LSTM_PRECISION_INT8,
          NULL));
  for (r = 0; r < rows; r++) {
    float s, mx = 0.0f;
    for (k = 0; k < cols; k++)
      mx = MAX (mx, fabsf (orig->layers[0].weight_hh[r * cols + k]));
    s = mx / 127.0f;
    for (k = 0; k < cols; k++) {
      float w = orig->layers[0].weight_hh[r * cols + k];
      float w8 = m->layers[0].weight_hh[r * cols + k];
      float q = nearbyintf (w8 / s);
      g_assert_cmpfloat (fabsf (q), <=, 127);
      g_assert_cmpfloat (w8, ==, s * q);
      g_assert_cmpfloat (fabsf (w8 - w), <=, s / 2 * (1 + 1e-6));
    }
  }
}

/* One test per kernel set: the checks run in a subprocess with
 * LSTM_BLAS_KERNELS set; a set the CPU lacks is skipped. */
static void
test_kernel_set (gconstpointer data)
{
  const gchar *set = data;
  const gchar *want = g_getenv ("LSTM_BLAS_KERNELS");

  if (g_test_subprocess ()) {
    if (!g_str_equal (lstm_blas_get_kernels (), want)) {
      g_test_skip ("the CPU does not run this kernel set");
      return;
    }
    check_precision (strstr (g_test_get_path (), "/int8/") != NULL ?
        LSTM_PRECISION_INT8 : LSTM_PRECISION_F16);
    return;
  }
  g_setenv ("LSTM_BLAS_KERNELS", set, TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_unsetenv ("LSTM_BLAS_KERNELS");
  g_test_trap_assert_passed ();
}

/* A variant and a weight beyond the half range are refused, the model
 * left as it was; back to f32 keeps the rounded floats. */
static void
test_refused (void)
{
  LstmModelConfig c;
  g_autoptr (LstmModel) gru = NULL;
  g_autoptr (LstmModel) m = random_model (4, 6, 1, 3);
  g_autoptr (LstmModel) orig = NULL;
  g_autoptr (GError) error = NULL;

  lstm_model_config_init (&c, 4, 6, 1, 3, LSTM_OUTPUT_SOFTMAX);
  c.cell = LSTM_CELL_GRU;
  gru = lstm_model_new_full (&c, NULL);
  g_assert_false (lstm_model_set_weight_precision (gru, LSTM_PRECISION_F16,
          &error));
  g_assert_error (error, LSTM_ERROR, LSTM_ERROR_UNSUPPORTED);
  g_test_message ("%s", error->message);
  g_clear_error (&error);

  m->layers[0].weight_hh[5] = 1e5f;
  orig = lstm_model_copy (m);
  g_assert_false (lstm_model_set_weight_precision (m, LSTM_PRECISION_F16,
          &error));
  g_assert_error (error, LSTM_ERROR, LSTM_ERROR_MODEL);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "weight_hh_l0 [0, 5]"));
  g_assert_cmpint (lstm_model_get_weight_precision (m), ==, LSTM_PRECISION_F32);
  g_assert_cmpmem (m->params, m->n_params * sizeof (float), orig->params,
      orig->n_params * sizeof (float));

  /* int8 holds any finite range */
  g_assert_true (lstm_model_set_weight_precision (m, LSTM_PRECISION_INT8,
          NULL));
  g_assert_true (lstm_model_set_weight_precision (m, LSTM_PRECISION_F32, NULL));
  g_assert_cmpint (lstm_model_get_weight_precision (m), ==, LSTM_PRECISION_F32);
  g_assert_cmpfloat (m->layers[0].weight_hh[5], ==, 1e5f);
}

/* The cache keeps one model per file and precision; the f32 one is the
 * file's weights, untouched by the f16 one. */
static void
test_shared (void)
{
  g_autoptr (LstmModel) m = random_model (5, 9, 2, 4);
  g_autofree gchar *dir = g_dir_make_tmp ("lstm-precision-XXXXXX", NULL);
  g_autofree gchar *path = g_build_filename (dir, "m.safetensors", NULL);
  LstmModel *a, *b, *c, *d;

  g_assert_true (lstm_model_save (m, path, NULL));
  a = lstm_model_load_shared_precision (path, LSTM_PRECISION_F16, NULL);
  b = lstm_model_load_shared (path, NULL);
  c = lstm_model_load_shared_precision (path, LSTM_PRECISION_F16, NULL);
  d = lstm_model_load_shared_precision (path, LSTM_PRECISION_INT8, NULL);
  g_assert_true (a == c);
  g_assert_true (a != b && b != d && a != d);
  g_assert_cmpint (lstm_model_get_weight_precision (a), ==, LSTM_PRECISION_F16);
  g_assert_cmpint (lstm_model_get_weight_precision (b), ==, LSTM_PRECISION_F32);
  g_assert_cmpmem (b->params, b->n_params * sizeof (float), m->params,
      m->n_params * sizeof (float));
  lstm_model_unref (a);
  lstm_model_unref (b);
  lstm_model_unref (c);
  lstm_model_unref (d);
  g_unlink (path);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  static const gchar *sets[] = { "avx512", "avx2", "openblas" };
  guint i;

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/lstm/precision/half-rounding", test_half_rounding);
  for (i = 0; i < G_N_ELEMENTS (sets); i++) {
    g_autofree gchar *f16 = g_strdup_printf ("/lstm/precision/f16/%s-bits",
        sets[i]);
    g_autofree gchar *i8 = g_strdup_printf ("/lstm/precision/int8/%s-close",
        sets[i]);
    g_test_add_data_func (f16, sets[i], test_kernel_set);
    g_test_add_data_func (i8, sets[i], test_kernel_set);
  }
  g_test_add_func ("/lstm/precision/int8-rounding", test_int8_rounding);
  g_test_add_func ("/lstm/precision/refused", test_refused);
  g_test_add_func ("/lstm/precision/shared", test_shared);
  return g_test_run ();
}
