/* Time per call of the matrix kernels of src/lstm-blas.c next to
 * OpenBLAS's sgemv/sgemm on the same products, one thread: the products
 * the benchmark's models make per frame (gemv with W_hh or W_ih) and per
 * chunk of 10 or 64 frames (gemm, input projection and head).
 *
 * Usage: bench-kernels [--min-time S]
 *        bench-kernels --peak    OpenBLAS's single-thread sgemm GFLOP/s on
 *                                1024 x 1024 x 1024 (the best of 7): the
 *                                machine's practical peak, for the suite;
 *                                and the core's FMA peak: independent
 *                                fused multiply-adds and nothing else, the
 *                                widest the CPU has (AVX-512 or AVX2; 0
 *                                on other CPUs), the best of 7: what no
 *                                product can beat
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

#if defined (__x86_64__) && defined (__GNUC__)
#define HAVE_X86 1
#include <immintrin.h>
#endif

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

#ifdef HAVE_X86
/* FMA_CHAINS independent chains of n fused multiply-adds each (enough
 * chains to cover the FMA latency times the FMA units); flops done. The
 * values stay finite: a = a * 0.999 + 0.001 tends to 1. */
#define FMA_CHAINS 12
#define FMA_LOOP(type, fma, set1) G_STMT_START { \
  type acc[FMA_CHAINS], b = set1 (0.999f), c = set1 (1e-3f); \
  guint i; \
  for (i = 0; i < FMA_CHAINS; i++) \
    acc[i] = set1 ((float) i); \
  for (; n > 0; n--) { \
    _Pragma ("GCC unroll 12") \
    for (i = 0; i < FMA_CHAINS; i++) \
      acc[i] = fma (acc[i], b, c); \
  } \
  for (i = 1; i < FMA_CHAINS; i++) \
    acc[0] = fma (acc[0], b, acc[i]); \
  memcpy (sink, &acc[0], sizeof (float)); \
} G_STMT_END

/* *INDENT-OFF* */
__attribute__ ((target ("avx512f")))
static double
fma_run_avx512 (guint64 n, float *sink)
/* *INDENT-ON* */
{
  double flops = (double) n * FMA_CHAINS * 2 * 16;
  FMA_LOOP (__m512, _mm512_fmadd_ps, _mm512_set1_ps);
  return flops;
}

/* *INDENT-OFF* */
__attribute__ ((target ("avx2,fma")))
static double
fma_run_avx2 (guint64 n, float *sink)
/* *INDENT-ON* */
{
  double flops = (double) n * FMA_CHAINS * 2 * 8;
  FMA_LOOP (__m256, _mm256_fmadd_ps, _mm256_set1_ps);
  return flops;
}
#endif

/* GFLOP/s of fused multiply-adds alone, the best of REPS runs (a few
 * hundredths of a second each). */
static double
fma_peak (void)
{
  double best = 0;
#ifdef HAVE_X86
  double (*run) (guint64, float *) = NULL;
  float sink = 0;
  guint r;

  __builtin_cpu_init ();
  if (__builtin_cpu_supports ("avx512f"))
    run = fma_run_avx512;
  else if (__builtin_cpu_supports ("avx2")
      && __builtin_cpu_supports ("fma"))
    run = fma_run_avx2;
  if (run == NULL)
    return 0;
  for (r = 0; r < REPS + 1; r++) {
    gint64 start = g_get_monotonic_time ();
    double flops = run (20000000, &sink);
    double gflops = flops / ((g_get_monotonic_time () - start) * 1e3);
    if (r > 0)                  /* the first run warms up */
      best = MAX (best, gflops);
  }
  if (sink != sink)             /* keeps the loops' results alive */
    printf ("nan\n");
#endif
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
    printf ("fma_gflops\t%.2f\n", fma_peak ());
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
