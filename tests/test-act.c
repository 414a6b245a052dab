/* The vectorised gate non-linearities (src/lstm-act.c) against double
 * precision, and every kernel width against the plain C path bit for bit. */
#include "test-util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Errors in units of the float spacing at the exact value (ulps). libm's
 * float functions are within 1-2; the polynomials promise 3 (lstm-act.c);
 * measured: see the test messages. */
#define MAX_ULPS 4.0

/* Sweep: every 1/1024 over [-SPAN, SPAN] plus a few exact values. */
#define SPAN 30.0
#define STEP (1.0 / 1024)

static double
ulps (float y, double exact)
{
  float e = (float) exact;
  double spacing = nextafterf (fabsf (e), INFINITY) - fabsf (e);
  return fabs (y - exact) / spacing;
}

static float *
sweep (guint * n)
{
  static const float extra[] = { 0.0f, -0.0f, 0.49999997f, 0.5f, -0.5f,
    1e-30f, -1e-7f, 19.99f, 20.0f, 87.9f, -87.9f
  };
  guint count = (guint) (2 * SPAN / STEP) + 1, i;
  float *x = g_new (float, count + G_N_ELEMENTS (extra));

  for (i = 0; i < count; i++)
    x[i] = (float) (-SPAN + i * STEP);
  memcpy (x + count, extra, sizeof (extra));
  *n = count + G_N_ELEMENTS (extra);
  return x;
}

static void
test_sigmoid (void)
{
  guint n, i;
  float *x = sweep (&n), *y = g_memdup2 (x, n * sizeof (float));
  double worst = 0, at = 0;

  lstm_act_sigmoid (y, n);
  for (i = 0; i < n; i++) {
    double e = 1.0 / (1.0 + exp (-(double) x[i]));
    double u = ulps (y[i], e);
    if (u > worst) {
      worst = u;
      at = x[i];
    }
  }
  g_test_message ("sigmoid: %u values, max error %.2f ulps at x = %.6g "
      "(tolerance %.0f)", n, worst, at, MAX_ULPS);
  g_assert_cmpfloat (worst, <=, MAX_ULPS);
  g_free (x);
  g_free (y);
}

static void
test_tanh (void)
{
  guint n, i;
  float *x = sweep (&n), *y = g_memdup2 (x, n * sizeof (float));
  double worst = 0, at = 0;

  lstm_act_tanh (y, n);
  for (i = 0; i < n; i++) {
    double u = ulps (y[i], tanh ((double) x[i]));
    if (u > worst) {
      worst = u;
      at = x[i];
    }
    /* odd, and exactly +-1 far out */
    g_assert_true (!signbit (y[i]) == !signbit (x[i]));
  }
  g_test_message ("tanh: %u values, max error %.2f ulps at x = %.6g "
      "(tolerance %.0f)", n, worst, at, MAX_ULPS);
  g_assert_cmpfloat (worst, <=, MAX_ULPS);
  g_free (x);
  g_free (y);
}

/* The fused cell against the equations in double: c' = f c + i g,
 * h = o tanh (c'), for H values that exercise the vector body and tails. */
static void
test_cell (void)
{
  static const guint sizes[] = { 1, 7, 8, 15, 16, 17, 33, 128, 131 };
  GRand *rng = g_rand_new_with_seed (7);
  double worst = 0;
  guint s;

  for (s = 0; s < G_N_ELEMENTS (sizes); s++) {
    guint H = sizes[s], j;
    float *g = g_new (float, 4 * H), *c = g_new (float, H),
        *c0 = g_new (float, H), *h = g_new (float, H);

    for (j = 0; j < 4 * H; j++)
      g[j] = g_rand_double_range (rng, -8, 8);
    for (j = 0; j < H; j++)
      c0[j] = c[j] = g_rand_double_range (rng, -3, 3);
    lstm_act_cell (g, c, h, H);
    for (j = 0; j < H; j++) {
      double i = 1 / (1 + exp (-(double) g[j]));
      double f = 1 / (1 + exp (-(double) g[H + j]));
      double z = tanh ((double) g[2 * H + j]);
      double o = 1 / (1 + exp (-(double) g[3 * H + j]));
      /* h from our c, so that c's rounding (checked above) is not
       * counted again where tanh amplifies nothing but cancellation */
      double ce = f * c0[j] + i * z, he = o * tanh ((double) c[j]);
      /* relative to the terms' size: f c and i g may cancel */
      worst = MAX (worst, fabs (c[j] - ce) / (fabs (f * c0[j]) +
              fabs (i * z) + 1e-30));
      worst = MAX (worst, fabs (h[j] - he) / (fabs (he) + 1e-30));
    }
    g_free (g);
    g_free (c);
    g_free (c0);
    g_free (h);
  }
  g_rand_free (rng);
  /* a few ulps of each of four roundings: 1e-6 = 17 ulps of 2^-24 */
  g_test_message ("cell: max relative error %.3g (tolerance 1e-6)", worst);
  g_assert_cmpfloat (worst, <=, 1e-6);
}

/* Prints a checksum of the bits of every output with the kernels this
 * process chose (LSTM_BLAS_KERNELS). */
static void
print_bits (void)
{
  guint n, i, H = 131;
  float *x = sweep (&n), *s = g_memdup2 (x, n * sizeof (float)),
      *t = g_memdup2 (x, n * sizeof (float));
  float *c = g_new0 (float, H), *h = g_new (float, H);
  guint32 hash = 2166136261u;
  guint32 bits;

  lstm_act_sigmoid (s, n);
  lstm_act_tanh (t, n);
  for (i = 0; i + 4 * H <= n; i += 4 * H)
    lstm_act_cell (x + i, c, h, H);
  /* FNV-1a over the bits of every result */
#define MIX(v) do { memcpy (&bits, &(v), 4); hash = (hash ^ bits) * 16777619u; \
  } while (0)
  for (i = 0; i < n; i++) {
    MIX (s[i]);
    MIX (t[i]);
  }
  for (i = 0; i < H; i++) {
    MIX (c[i]);
    MIX (h[i]);
  }
#undef MIX
  printf ("%s %08x\n", lstm_blas_get_kernels (), hash);
  g_free (x);
  g_free (s);
  g_free (t);
  g_free (c);
  g_free (h);
}

/* "openblas" means plain C here; the hash after the name must agree. */
static void
test_kernels_agree (void)
{
  g_autofree gchar *plain = run_self_with_kernels ("--print-bits", "openblas");
  g_autofree gchar *avx2 = run_self_with_kernels ("--print-bits", "avx2");
  g_autofree gchar *avx512 = run_self_with_kernels ("--print-bits", "avx512");

  g_test_message ("%s | %s | %s", plain, avx2, avx512);
  g_assert_cmpstr (strchr (plain, ' '), ==, strchr (avx2, ' '));
  g_assert_cmpstr (strchr (plain, ' '), ==, strchr (avx512, ' '));
}

int
main (int argc, char **argv)
{
  if (argc > 1 && g_str_equal (argv[1], "--print-bits")) {
    print_bits ();
    return 0;
  }
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/lstm/act/sigmoid", test_sigmoid);
  g_test_add_func ("/lstm/act/tanh", test_tanh);
  g_test_add_func ("/lstm/act/cell", test_cell);
  g_test_add_func ("/lstm/act/kernels-agree", test_kernels_agree);
  return g_test_run ();
}
