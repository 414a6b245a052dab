/* The matrix kernels of src/lstm-blas.c and src/lstm-pack.c against a
 * plain double-precision loop, over many shapes: every M and N in 1..70 with a spread of K, odd
 * and unaligned leading dimensions and base pointers, M = 1, and the sizes
 * of the real models (4H = 2048 rows of 512 or 80 columns).
 *
 * Error measure, per output element i (ggml's test-backend-ops compares
 * the same way, by a normalized error):
 *
 *   err_i = |y_i - ref_i| / (|y0_i| + sum_j |A_ij x_j|)
 *
 * i.e. the error relative to the magnitudes that were summed, which is
 * what float32 accumulation bounds (about sqrt(N) * 2^-24 for random data,
 * N * 2^-24 at worst). Reported: the largest err_i per kernel. Fails (exit
 * status 1) above MAX_NORMALIZED_ERROR, when a kernel writes outside its
 * output (guard values around and between the rows of C and y), or when
 * a row of gemm_nt differs in any bit from gemv on the same row (our
 * kernels promise that; OpenBLAS's do not, so for them it is only shown).
 *
 * Usage: check-kernels            every kernel set the CPU runs, each in
 *                                 a child process (avx512, avx2, openblas)
 *        check-kernels --current  only the set chosen in this process
 *                                 (LSTM_BLAS_KERNELS, else the best)
 */
#include "lstm-private.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* 2^-24 is float32's unit roundoff; 1e-6 is 17 of them, far above the
 * sqrt(N) growth of random-sign sums of up to 512 terms. */
#define MAX_NORMALIZED_ERROR 1e-6

#define GUARD 12345.0f          /* written around outputs, must survive */
#define PAD 5                   /* guard floats before and after each buffer */

static GRand *rng;

static float *
random_buffer (gsize n)
{
  /* PAD guard floats before and after; returned pointer skips the first. */
  float *b = g_new (float, n + 2 * PAD);
  gsize i;

  for (i = 0; i < n + 2 * PAD; i++)
    b[i] = (float) g_rand_double_range (rng, -1.0, 1.0);
  return b + PAD;
}

static void
free_buffer (float *b)
{
  g_free (b - PAD);
}

typedef struct
{
  double max_err;
  guint n_cases;
  guint n_bad_writes;
  gchar worst[96];
} Stats;

static void
note (Stats * s, double err, const gchar * what)
{
  if (err > s->max_err || isnan (err)) {
    s->max_err = isnan (err) ? INFINITY : err;
    g_strlcpy (s->worst, what, sizeof s->worst);
  }
}

/* Guards around C [M, ldc] (allocated with random_buffer, `shift` floats
 * before c = C + shift) and in the gaps between its rows (ldc > N). */
static void
set_guards (float *C, guint shift, guint M, guint N, gsize ldc)
{
  float *c = C + shift;
  guint i, j;

  for (i = 0; i < M; i++)
    for (j = N; j < ldc; j++)
      c[i * ldc + j] = GUARD;
  for (i = 1; i <= PAD; i++)
    C[-(gint) i] = C[M * ldc + shift + i - 1] = GUARD;
  for (i = 0; i < shift; i++)
    C[i] = GUARD;
}

/* How many of those guards a kernel overwrote. */
static guint
bad_writes (const float *C, guint shift, guint M, guint N, gsize ldc)
{
  const float *c = C + shift;
  guint i, j, n = 0;

  for (i = 0; i < M; i++)
    for (j = N; j < ldc; j++)
      n += c[i * ldc + j] != GUARD;
  for (i = 1; i <= PAD; i++)
    n += (C[-(gint) i] != GUARD) + (C[M * ldc + shift + i - 1] != GUARD);
  for (i = 0; i < shift; i++)
    n += C[i] != GUARD;
  return n;
}

/* C[M,N] += A[M,K] B[N,K]^T with lda, ldb, ldc; `shift` floats added to
 * each base pointer (0 = the allocator's alignment, else unaligned). */
static void
check_gemm (Stats * s, guint M, guint N, guint K, gsize lda, gsize ldb,
    gsize ldc, guint shift)
{
  float *A = random_buffer (M * lda + shift);
  float *B = random_buffer (N * ldb + shift);
  float *C = random_buffer (M * ldc + shift);
  float *a = A + shift, *b = B + shift, *c = C + shift;
  float *c0 = g_new (float, M * ldc);
  gchar what[96];
  double worst = 0;
  guint i, j, k;

  set_guards (C, shift, M, N, ldc);
  memcpy (c0, c, M * ldc * sizeof (float));

  lstm_blas_gemm_nt (M, N, K, a, lda, b, ldb, c, ldc);

  for (i = 0; i < M; i++) {
    for (j = 0; j < N; j++) {
      double ref = c0[i * ldc + j], mag = fabs (ref);
      for (k = 0; k < K; k++) {
        double p = (double) a[i * lda + k] * b[j * ldb + k];
        ref += p;
        mag += fabs (p);
      }
      worst = MAX (worst, fabs (c[i * ldc + j] - ref) / MAX (mag, 1e-30));
      if (isnan (c[i * ldc + j]))
        worst = INFINITY;
    }
  }
  s->n_bad_writes += bad_writes (C, shift, M, N, ldc);

  g_snprintf (what, sizeof what, "gemm_nt M=%u N=%u K=%u lda=%zu ldb=%zu "
      "ldc=%zu shift=%u", M, N, K, lda, ldb, ldc, shift);
  note (s, worst, what);
  s->n_cases++;
  g_free (c0);
  free_buffer (A);
  free_buffer (B);
  free_buffer (C);
}

/* y[M] += A[M,N] x[N] with lda; `shift` as above. */
static void
check_gemv (Stats * s, guint M, guint N, gsize lda, guint shift)
{
  float *A = random_buffer (M * lda + shift);
  float *X = random_buffer (N + shift);
  float *Y = random_buffer (M + shift);
  float *a = A + shift, *x = X + shift, *y = Y + shift;
  float *y0 = g_new (float, M);
  gchar what[96];
  double worst = 0;
  guint i, j;

  /* Guards: around the buffer and in the `shift` floats before y. */
  for (i = 1; i <= PAD; i++)
    Y[-(gint) i] = Y[M + shift + i - 1] = GUARD;
  for (i = 0; i < shift; i++)
    Y[i] = GUARD;
  memcpy (y0, y, M * sizeof (float));

  lstm_blas_gemv (M, N, a, lda, x, y);

  for (i = 0; i < M; i++) {
    double ref = y0[i], mag = fabs (ref);
    for (j = 0; j < N; j++) {
      double p = (double) a[i * lda + j] * x[j];
      ref += p;
      mag += fabs (p);
    }
    worst = MAX (worst, fabs (y[i] - ref) / MAX (mag, 1e-30));
    if (isnan (y[i]))
      worst = INFINITY;
  }
  for (i = 1; i <= PAD; i++)
    s->n_bad_writes +=
        (Y[-(gint) i] != GUARD) + (Y[M + shift + i - 1] != GUARD);
  for (i = 0; i < shift; i++)
    s->n_bad_writes += Y[i] != GUARD;

  g_snprintf (what, sizeof what, "gemv M=%u N=%u lda=%zu shift=%u",
      M, N, lda, shift);
  note (s, worst, what);
  s->n_cases++;
  g_free (y0);
  free_buffer (A);
  free_buffer (X);
  free_buffer (Y);
}

/* How check_packed calls the packed kernels. */
typedef enum
{
  PACKED_ADD,                   /* lstm_blas_gemm_packed: C += A W^T */
  PACKED_BIAS,                  /* lstm_blas_gemm_packed_bias: C = b + A W^T */
  PACKED_PAIR,                  /* lstm_blas_gemv_packed_pair, one row each */
} PackedCall;

static const gchar *const packed_call_names[] = { "", " bias", " pair" };

/* One product through a pack: its operands (A [M, lda] and C [M, ldc]
 * `shift` floats into their buffers), W as the pack stands for it, and for
 * int8 its q and s. */
typedef struct
{
  float *A, *W, *C, *a, *c, *c0, *bias, *scale, *Q;
  LstmPacked *p;
} PackedCase;

static void
packed_case_init (PackedCase * pc, LstmPrecision weights, guint M, guint N,
    guint K, gsize lda, gsize ldc, guint shift)
{
  guint i, j, k;

  pc->A = random_buffer (M * lda + shift);
  pc->W = random_buffer (N * K);
  pc->C = random_buffer (M * ldc + shift);
  pc->bias = random_buffer (N);
  pc->a = pc->A + shift;
  pc->c = pc->C + shift;
  pc->c0 = g_new (float, M * ldc);
  pc->p = lstm_packed_new (pc->W, N, K, weights);
  pc->scale = g_new0 (float, N);
  pc->Q = g_new (float, N * K);
  /* a half pack is the float product on the weights rounded to half; an
   * int8 one sums q_jk x_k and scales by s_j = max_k |w_jk| / 127 */
  if (weights == LSTM_PRECISION_F16)
    for (i = 0; i < N * K; i++)
      pc->W[i] = lstm_half_to_float (lstm_float_to_half (pc->W[i]));
  for (j = 0; j < N && weights == LSTM_PRECISION_INT8; j++) {
    for (k = 0; k < K; k++)
      pc->scale[j] = MAX (pc->scale[j], fabsf (pc->W[j * K + k]));
    pc->scale[j] /= 127.0f;
    for (k = 0; k < K; k++) {
      pc->Q[j * K + k] = nearbyintf (pc->W[j * K + k] / pc->scale[j]);
      /* what the fallback reads */
      pc->W[j * K + k] = pc->scale[j] * pc->Q[j * K + k];
    }
  }
  set_guards (pc->C, shift, M, N, ldc);
  memcpy (pc->c0, pc->c, M * ldc * sizeof (float));
}

/* The normalized error of C against the double-precision product, and in
 * n_order the outputs that differ in any bit from the order the packed
 * kernels promise: acc = 0, acc = fmaf (a_k, w_k, acc) for k in order,
 * C = C0 + acc with C0 the old C or the bias (int8: w_k = q_k and C =
 * fmaf (acc, s, C0)). That order is what makes every kernel width, tile,
 * row count and pairing agree. */
static double
packed_case_check (const PackedCase * pc, LstmPrecision weights,
    gboolean with_bias, guint M, guint N, guint K, gsize lda, gsize ldc,
    guint * n_order)
{
  double worst = 0;
  guint i, j, k;

  for (i = 0; i < M; i++) {
    for (j = 0; j < N; j++) {
      float from = with_bias ? pc->bias[j] : pc->c0[i * ldc + j];
      float acc = 0.0f, want, got = pc->c[i * ldc + j];
      double ref = from, mag = fabs (ref);
      for (k = 0; k < K; k++) {
        double q = (double) pc->a[i * lda + k] * pc->W[j * K + k];
        ref += q;
        mag += fabs (q);
        acc = fmaf (pc->a[i * lda + k], weights == LSTM_PRECISION_INT8 ?
            pc->Q[j * K + k] : pc->W[j * K + k], acc);
      }
      want = weights == LSTM_PRECISION_INT8 ?
          fmaf (acc, pc->scale[j], from) : from + acc;
      *n_order += memcmp (&want, &got, sizeof (float)) != 0;
      worst = MAX (worst, fabs (got - ref) / MAX (mag, 1e-30));
      if (isnan (got))
        worst = INFINITY;
    }
  }
  return worst;
}

static void
packed_case_clear (PackedCase * pc)
{
  lstm_packed_free (pc->p);
  g_free (pc->scale);
  g_free (pc->Q);
  g_free (pc->c0);
  free_buffer (pc->A);
  free_buffer (pc->W);
  free_buffer (pc->C);
  free_buffer (pc->bias);
}

/* C[M,N] (+)= A[M,K] W[N,K]^T through a pack of W (lstm-pack.c), with lda,
 * ldc and `shift` as above, called as `call` says (PACKED_PAIR: two such
 * products of one row, on two packs of the same shape). Besides the
 * normalized error, counts the outputs that differ in any bit from the
 * order the packed kernels promise (packed_case_check). */
static void
check_packed (Stats * s, guint * n_order, LstmPrecision weights,
    PackedCall call, guint M, guint N, guint K, gsize lda, gsize ldc,
    guint shift)
{
  PackedCase pc[2];
  guint n_cases = call == PACKED_PAIR ? 2 : 1, i;
  gchar what[96];
  double worst = 0;

  if (call == PACKED_PAIR)
    M = 1;
  for (i = 0; i < n_cases; i++)
    packed_case_init (&pc[i], weights, M, N, K, lda, ldc, shift);
  switch (call) {
    case PACKED_ADD:
      lstm_blas_gemm_packed (M, pc[0].a, lda, pc[0].p, pc[0].c, ldc);
      break;
    case PACKED_BIAS:
      lstm_blas_gemm_packed_bias (M, pc[0].a, lda, pc[0].p, pc[0].bias,
          pc[0].c, ldc);
      break;
    case PACKED_PAIR:
      lstm_blas_gemv_packed_pair (pc[0].a, pc[0].p, pc[0].c, pc[1].a,
          pc[1].p, pc[1].c);
      break;
  }
  for (i = 0; i < n_cases; i++) {
    worst = MAX (worst, packed_case_check (&pc[i], weights,
            call == PACKED_BIAS, M, N, K, lda, ldc, n_order));
    s->n_bad_writes += bad_writes (pc[i].C, shift, M, N, ldc);
    packed_case_clear (&pc[i]);
  }

  g_snprintf (what, sizeof what, "packed%s %s M=%u N=%u K=%u lda=%zu "
      "ldc=%zu shift=%u", packed_call_names[call],
      lstm_precision_to_string (weights), M, N, K, lda, ldc, shift);
  note (s, worst, what);
  s->n_cases++;
}

static gboolean
report (const gchar * kernel, const Stats * s)
{
  gboolean ok = s->max_err <= MAX_NORMALIZED_ERROR && s->n_bad_writes == 0;

  printf ("%-8s %6u cases  max normalized error %.3g (%.2f ulp of 2^-24)  "
      "bad writes %u  %s\n", kernel, s->n_cases, s->max_err,
      s->max_err / 0x1p-24, s->n_bad_writes, ok ? "ok" : "FAIL");
  printf ("         worst: %s\n", s->worst);
  return ok;
}

/* Row i of gemm_nt against gemv with x = row i of A, bit for bit: the
 * promise that makes a sequence fed in chunks equal to it fed whole.
 * Returns how many output floats differ. */
static guint
check_rows_equal_gemv (void)
{
  static const guint ns[] = { 1, 3, 4, 7, 8, 9, 12, 17, 68, 256, 2048 };
  static const guint ks[] = { 1, 3, 5, 16, 17, 40, 64, 80, 128, 512 };
  guint M, n, k, i, j, n_diff = 0;

  for (M = 1; M <= 7; M++)
    for (n = 0; n < G_N_ELEMENTS (ns); n++)
      for (k = 0; k < G_N_ELEMENTS (ks); k++) {
        guint N = ns[n], K = ks[k];
        float *A = random_buffer (M * K), *B = random_buffer (N * K);
        float *C = random_buffer (M * N), *y = g_new (float, M * N);

        memcpy (y, C, M * N * sizeof (float));
        for (i = 0; i < M; i++)
          lstm_blas_gemv (N, K, B, K, A + i * K, y + i * N);
        lstm_blas_gemm_nt (M, N, K, A, K, B, K, C, N);
        for (j = 0; j < M * N; j++)
          n_diff += memcmp (&y[j], &C[j], sizeof (float)) != 0;

        g_free (y);
        free_buffer (A);
        free_buffer (B);
        free_buffer (C);
      }
  return n_diff;
}

static const gchar *kernels_name;

/* lstm-blas.c names its choice in a debug message on first use. */
static void
catch_kernels_name (const gchar * domain, GLogLevelFlags level,
    const gchar * message, gpointer user_data)
{
  if (g_str_has_prefix (message, "matrix kernels: "))
    kernels_name = g_strdup (message + strlen ("matrix kernels: "));
}

/* Checks the kernels this process uses. */
static gboolean
check_current (void)
{
  /* K values for the full M x N sweep: small, around vector widths (8,
   * 16) and their multiples, and odd. */
  static const guint ks[] = { 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64,
    70
  };
  /* The models' real products: (M frames, N = 4H or head, K = in). */
  static const guint big[][3] = {
    {64, 2048, 512}, {64, 2048, 80}, {36, 2048, 512}, {10, 2048, 80},
    {100, 512, 128}, {64, 12, 128}, {1, 2048, 512}, {2, 2048, 512},
    {64, 68, 5}, {64, 256, 64}, {64, 256, 3}, {7, 300, 257}, {1, 512, 128},
    {1, 300, 257},
  };
  Stats gemm = { 0 }, gemv = { 0 }, packed = { 0 };
  guint M, N, K, i, shift, n_diff, n_order = 0;
  gboolean ok = TRUE, ours;
  float one = 1.0f, y = 0.0f;

  g_log_set_handler ("lstm", G_LOG_LEVEL_DEBUG, catch_kernels_name, NULL);
  rng = g_rand_new_with_seed (20240611);
  lstm_blas_set_threads (1);
  lstm_blas_gemv (1, 1, &one, 1, &one, &y);     /* makes the choice */
  printf ("kernels: %s\n", kernels_name ? kernels_name : "?");
  ours = kernels_name != NULL && !g_str_has_prefix (kernels_name, "openblas");

  /* gemv: every M, N in 1..70; packed, padded lda, unaligned bases. */
  for (M = 1; M <= 70; M++)
    for (N = 1; N <= 70; N++) {
      check_gemv (&gemv, M, N, N, 0);
      check_gemv (&gemv, M, N, N + 3, 1);
    }
  for (shift = 0; shift < 3; shift++) {
    check_gemv (&gemv, 2048, 512, 512, shift);
    check_gemv (&gemv, 2048, 80, 80, shift);
    check_gemv (&gemv, 2048, 80, 83, shift);
    check_gemv (&gemv, 512, 128, 128, shift);
    check_gemv (&gemv, 68, 17, 17, shift);
    check_gemv (&gemv, 1, 4096, 4096, shift);
    check_gemv (&gemv, 4096, 1, 1, shift);
  }

  /* gemm_nt: every M, N in 1..70 with a spread of K, half of them with
   * padded leading dimensions and unaligned bases. */
  for (M = 1; M <= 70; M++)
    for (N = 1; N <= 70; N++)
      for (i = 0; i < G_N_ELEMENTS (ks); i++) {
        K = ks[i];
        if ((M + N + i) % 2 == 0)
          check_gemm (&gemm, M, N, K, K, K, N, 0);
        else
          check_gemm (&gemm, M, N, K, K + 1, K + 3, N + 2, (M + N) % 3);
      }
  /* every K in 1..70 on a few M, N */
  for (K = 1; K <= 70; K++) {
    check_gemm (&gemm, 1, 67, K, K, K, 67, 0);
    check_gemm (&gemm, 13, 33, K, K, K, 33, 0);
    check_gemm (&gemm, 64, 64, K, K + 5, K + 1, 71, 1);
  }
  for (i = 0; i < G_N_ELEMENTS (big); i++) {
    guint m = big[i][0], n = big[i][1], k = big[i][2];
    check_gemm (&gemm, m, n, k, k, k, n, 0);
    check_gemm (&gemm, m, n, k, k + 1, k + 7, n + 3, 2);
  }

  /* packed: every M in 1..70 and N in 1..140 (panels of 16 .. 128
   * columns, one or two of them) with a spread of K, adding to C or from
   * a bias row; the real products */
  for (M = 1; M <= 70; M++)
    for (N = 1; N <= 140; N += (N < 70 ? 1 : 7))
      for (i = 0; i < G_N_ELEMENTS (ks); i += 3) {
        K = ks[i];
        LstmPrecision w = (LstmPrecision) ((M + N + i) % 3);
        PackedCall call = (M + N + i) % 5 == 0 ? PACKED_BIAS : PACKED_ADD;
        if ((M + N + i) % 2 == 0)
          check_packed (&packed, &n_order, w, call, M, N, K, K, N, 0);
        else
          check_packed (&packed, &n_order, w, call, M, N, K, K + 1, N + 2,
              (M + N) % 3);
      }
  for (i = 0; i < G_N_ELEMENTS (big); i++) {
    guint m = big[i][0], n = big[i][1], k = big[i][2];
    check_packed (&packed, &n_order, LSTM_PRECISION_F32, PACKED_ADD, m, n, k,
        k, n, 0);
    check_packed (&packed, &n_order, LSTM_PRECISION_F16, PACKED_ADD, m, n, k,
        k + 1, n + 3, 2);
    check_packed (&packed, &n_order, LSTM_PRECISION_INT8, PACKED_ADD, m, n, k,
        k, n, 1);
    check_packed (&packed, &n_order, (LstmPrecision) (i % 3), PACKED_BIAS, m,
        n, k, k, n, i % 2);
  }
  /* one row, against whole panels two at a time and the rest, or two
   * packs at once: N from one panel to five and a part */
  for (N = 100; N <= 700; N += 60)
    for (i = 0; i < 3; i++) {
      K = ks[(N / 60 + i) % G_N_ELEMENTS (ks)] + 60;
      check_packed (&packed, &n_order, (LstmPrecision) i, PACKED_ADD, 1, N,
          K, K, N, 0);
      check_packed (&packed, &n_order, (LstmPrecision) i, PACKED_PAIR, 1, N,
          K, K, N, i);
    }

  ok &= report ("gemv", &gemv);
  ok &= report ("gemm_nt", &gemm);
  ok &= report ("packed", &packed);
  printf ("packed == sequential fmaf order bit for bit: %u floats differ  %s\n",
      n_order, n_order == 0 ? "ok" : ours ? "FAIL" : "(not promised)");
  ok &= n_order == 0 || !ours;

  n_diff = check_rows_equal_gemv ();
  printf ("gemm_nt rows == gemv bit for bit: %u floats differ  %s\n",
      n_diff, n_diff == 0 ? "ok" : ours ? "FAIL" : "(not promised)");
  ok &= n_diff == 0 || !ours;

  g_rand_free (rng);
  return ok;
}

int
main (int argc, char **argv)
{
  static const gchar *sets[] = { "avx512", "avx2", "openblas" };
  gboolean ok = TRUE;
  guint i;

  if (argc > 1 && g_str_equal (argv[1], "--current"))
    return check_current ()? 0 : 1;

  /* One child per kernel set: the library chooses once per process. */
  for (i = 0; i < G_N_ELEMENTS (sets); i++) {
    gchar *child_argv[] = { (gchar *) "/proc/self/exe", (gchar *) "--current",
      NULL
    };
    gchar **envp = g_environ_setenv (g_get_environ (), "LSTM_BLAS_KERNELS",
        sets[i], TRUE);
    g_autoptr (GError) error = NULL;
    gint status;

    printf ("== LSTM_BLAS_KERNELS=%s\n", sets[i]);
    fflush (stdout);
    if (!g_spawn_sync (NULL, child_argv, envp, G_SPAWN_CHILD_INHERITS_STDIN,
            NULL, NULL, NULL, NULL, &status, &error)) {
      g_printerr ("cannot run the check: %s\n", error->message);
      ok = FALSE;
    } else if (!g_spawn_check_wait_status (status, NULL)) {
      ok = FALSE;
    }
    g_strfreev (envp);
  }
  printf ("%s\n", ok ? "all kernels ok" : "FAILED");
  return ok ? 0 : 1;
}
