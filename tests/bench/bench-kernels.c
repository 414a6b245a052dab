/* Time per call of the matrix kernels of src/lstm-blas.c next to
 * OpenBLAS's sgemv/sgemm on the same products, one thread: the products
 * the benchmark's models make per frame (gemv with W_hh or W_ih) and per
 * chunk of 10 or 64 frames (gemm, input projection and head).
 *
 * Usage: bench-kernels [--min-time S]
 *        bench-kernels --peak    OpenBLAS's single-thread sgemm GFLOP/s on
 *                                1024 x 1024 x 1024 (the best of 7): the
 *                                machine's practical peak, for the suite
 *
 * Output, tab-separated, one line per product (times in microseconds,
 * the best of 7 measurements of at least S seconds each, 0.05 by default):
 *
 *   kernels  <the set lstm-blas.c chose>
 *   core     <OpenBLAS's core>
 *   kernel   <product>  <ours us>  <OpenBLAS us>
 *
 * A product is written M x N x K for C[M,N] += A[M,K] B[N,K]^T and N x K
 * for y[N] += W[N,K] x[K]. Operands are 64-byte aligned, as in LstmModel
 * and LstmState, and each is reused call after call, as the weights are.
 */
#include "lstm-private.h"

#include <cblas.h>
#include <stdio.h>
#include <string.h>

#define REPS 7

typedef struct
{
  guint M, N, K;                /* M = 0: a gemv of N x K */
} Product;

static const Product products[] = {
  {0, 68, 17}, {0, 256, 64}, {0, 512, 128}, {0, 2048, 80}, {0, 2048, 512},
  {10, 512, 40}, {10, 2048, 512},
  {64, 68, 5}, {64, 256, 3}, {64, 512, 40}, {64, 512, 128}, {64, 12, 128},
  {64, 2048, 80}, {64, 2048, 512},
};

static gchar *kernels_name;

static void
catch_kernels_name (const gchar * domain, GLogLevelFlags level,
    const gchar * message, gpointer user_data)
{
  if (g_str_has_prefix (message, "matrix kernels: ") && kernels_name == NULL)
    kernels_name = g_strdup (message + strlen ("matrix kernels: "));
}

static void
call (gboolean openblas, const Product * p, const float *A, const float *B,
    float *C)
{
  guint M = MAX (p->M, 1);

  if (!openblas && p->M == 0)
    lstm_blas_gemv (p->N, p->K, B, p->K, A, C);
  else if (!openblas)
    lstm_blas_gemm_nt (M, p->N, p->K, A, p->K, B, p->K, C, p->N);
  else if (p->M == 0)
    cblas_sgemv (CblasRowMajor, CblasNoTrans, p->N, p->K, 1.0f, B, p->K, A,
        1, 1.0f, C, 1);
  else
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, M, p->N, p->K,
        1.0f, A, p->K, B, p->K, 1.0f, C, p->N);
}

/* Best time per call in microseconds. */
static double
time_call (gboolean openblas, const Product * p, const float *A,
    const float *B, float *C, double min_time)
{
  double best = G_MAXDOUBLE;
  guint r;

  for (r = 0; r < REPS; r++) {
    gint64 start = g_get_monotonic_time (), now;
    guint64 n = 0;
    do {
      call (openblas, p, A, B, C);
      n++;
      now = g_get_monotonic_time ();
    } while (now - start < min_time * G_USEC_PER_SEC);
    best = MIN (best, (double) (now - start) / n);
  }
  return best;
}

static float *
random_aligned (gsize n, GRand * rand)
{
  float *b = g_aligned_alloc (n, sizeof (float), 64);
  gsize i;

  /* Small values: C grows by little over millions of calls. */
  for (i = 0; i < n; i++)
    b[i] = (float) g_rand_double_range (rand, -1e-3, 1e-3);
  return b;
}

/* C = A B^T, n x n x n, through OpenBLAS: 2 n^3 flops a call. */
static double
sgemm_peak (GRand * rand)
{
  const guint n = 1024;
  float *A = random_aligned ((gsize) n * n, rand);
  float *B = random_aligned ((gsize) n * n, rand);
  float *C = random_aligned ((gsize) n * n, rand);
  double best = 0;
  guint r;

  for (r = 0; r < REPS + 1; r++) {
    gint64 start = g_get_monotonic_time ();
    double gflops;
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, A,
        n, B, n, 0.0f, C, n);
    gflops = 2.0 * n * n * n / ((g_get_monotonic_time () - start) * 1e3);
    if (r > 0)                  /* the first call warms up */
      best = MAX (best, gflops);
  }
  g_aligned_free (A);
  g_aligned_free (B);
  g_aligned_free (C);
  return best;
}

int
main (int argc, char **argv)
{
  gdouble min_time = 0.05;
  gboolean peak = FALSE;
  GOptionEntry entries[] = {
    {"min-time", 0, 0, G_OPTION_ARG_DOUBLE, &min_time,
        "Seconds per measurement (default 0.05)", "S"},
    {"peak", 0, 0, G_OPTION_ARG_NONE, &peak,
        "Only OpenBLAS's sgemm GFLOP/s (1024^3)", NULL},
    {NULL}
  };
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  GRand *rand = g_rand_new_with_seed (7);
  float one = 1.0f, y = 0.0f;
  guint i;

  ctx = g_option_context_new ("- matrix kernels against OpenBLAS");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("%s\n", error->message);
    return 2;
  }

  lstm_blas_set_threads (1);
  if (peak) {
    printf ("core\t%s\nsgemm_gflops\t%.2f\n", lstm_blas_get_core (),
        sgemm_peak (rand));
    g_rand_free (rand);
    return 0;
  }
  g_log_set_handler ("lstm", G_LOG_LEVEL_DEBUG, catch_kernels_name, NULL);
  lstm_blas_gemv (1, 1, &one, 1, &one, &y);     /* makes the choice */
  printf ("kernels\t%s\n", kernels_name ? kernels_name : "?");
  printf ("core\t%s\n", lstm_blas_get_core ());

  for (i = 0; i < G_N_ELEMENTS (products); i++) {
    const Product *p = &products[i];
    guint M = MAX (p->M, 1);
    float *A = random_aligned ((gsize) M * p->K, rand);
    float *B = random_aligned ((gsize) p->N * p->K, rand);
    float *C = random_aligned ((gsize) M * p->N, rand);
    gchar *name = p->M ? g_strdup_printf ("%ux%ux%u", p->M, p->N, p->K)
        : g_strdup_printf ("%ux%u", p->N, p->K);
    double ours = time_call (FALSE, p, A, B, C, min_time);
    double theirs = time_call (TRUE, p, A, B, C, min_time);

    printf ("kernel\t%s\t%.2f\t%.2f\n", name, ours, theirs);
    fflush (stdout);
    g_free (name);
    g_aligned_free (A);
    g_aligned_free (B);
    g_aligned_free (C);
  }
  g_free (kernels_name);
  g_rand_free (rand);
  return 0;
}
