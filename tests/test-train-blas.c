/* The matrix products of training (src/lstm-train-blas.c) against a
 * double-precision sum, with every kernel set this CPU runs: C += A B,
 * C += A^T B (in place, and block by block as the trainer makes it), C +=
 * A B and C = bias + A B with B packed as panels (from B and from B^T),
 * on sizes that cut the tiles, panels and blocks unevenly, with leading dimensions wider than
 * the matrices. The padding of A and B holds NaN (a kernel reading it
 * would spread it into C) and C's padding must come back unchanged. The
 * transpose, on the same sizes, must be exact.
 */
#include "test-util.h"
#include "lstm-train-private.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct
{
  guint M, N, K;
} Shape;

/* tiles of 8 (6 with AVX2) rows, panels of 32 (16) columns, blocks of 256
 * (packed: 96) rows of K */
static const Shape shapes[] = {
  {1, 1, 1}, {1, 17, 3}, {7, 31, 5}, {8, 32, 128}, {9, 33, 129},
  {32, 512, 168}, {32, 256, 512}, {13, 300, 257}, {95, 16, 300},
  {97, 40, 130}, {168, 512, 400}, {200, 100, 1000}, {3, 17, 0},
};

#define PAD 5                   /* extra floats per row */

typedef enum
{
  AB,                           /* C += A B */
  ATB,                          /* C += A^T B */
  ATB_BLOCKS,                   /* C += A^T B, block by block */
  PACKED,                       /* C = A Bp */
  PACKED_T,                     /* C = A Bp, Bp packed from B^T */
  PACKED_BIAS,                  /* C = bias + A Bp */
} Product;

static const gchar *const product_names[] = {
  "A B", "A^T B", "A^T B (blocks)", "A B (packed)",
  "A B (packed from B^T)", "bias + A B (packed)"
};

/* Bp for lstm_train_gemm_packed from B [K,N] (ldb apart), given as B or,
 * with trans, through a copy of B^T (its padding NaN too) */
static float *
packed (guint K, guint N, const float *B, gsize ldb, gboolean trans)
{
  float *Bp = g_aligned_alloc0 (lstm_train_packed_size (K, N) + 1,
      sizeof (float), 64);
  gsize ldt = K + PAD, k, j;
  float *BT;

  if (!trans) {
    lstm_train_pack (K, N, B, ldb, FALSE, Bp);
    return Bp;
  }
  BT = g_new (float, N * ldt);
  for (j = 0; j < N; j++)
    for (k = 0; k < ldt; k++)
      BT[j * ldt + k] = k < K ? B[k * ldb + j] : NAN;
  lstm_train_pack (K, N, BT, ldt, TRUE, Bp);
  g_free (BT);
  return Bp;
}

/* C = A^T B as the trainer makes the weight gradients: blocks of rows
 * (here of lstm_train_block_rows () rows and of 5, in turn), the last
 * first, which sets C, the others adding; each stored a few rows at a time
 * with the chunks out of order (the trainer stores the steps last to
 * first) and its rows summed into sums [N], then its product */
static void
tn_blocks (guint M, guint N, guint K, const float *A, gsize lda,
    const float *B, gsize ldb, float *C, gsize ldc, float *sums)
{
  guint big = lstm_train_block_rows (), chunk = 7, k0, kc, b = 0, n = 0;
  gsize size = lstm_train_block_size (MAX (big, 5), N);
  float *Bp = g_aligned_alloc (size, sizeof (float), 64);
  guint *starts = g_new (guint, K + 1);

  for (k0 = 0; k0 < K; k0 += b++ % 2 == 0 ? big : 5)
    starts[n++] = k0;
  starts[n] = K;
  while (n-- > 0) {
    guint r;
    k0 = starts[n];
    kc = starts[n + 1] - k0;
    /* whatever the last block left there must not matter */
    memset (Bp, 0xff, size * sizeof (float));
    for (r = (kc - 1) / chunk * chunk;; r -= chunk) {
      lstm_train_pack_block (kc, N, r, MIN (chunk, kc - r),
          B + (k0 + r) * ldb, ldb, Bp, sums);
      if (r == 0)
        break;
    }
    lstm_train_gemm_tn_block (M, N, kc, A + k0 * lda, lda, Bp,
        k0 + kc < K, C, ldc);
  }
  g_aligned_free (Bp);
  g_free (starts);
}

/* Returns the largest error relative to its bound: in float32, a sum of K
 * products in any order is within K u sum |a b| (u = 2^-24) of the exact
 * one, plus u |c| for adding it to c; so > 1 is a wrong result. Products
 * with a packed B read at most N' = N - 3 of its columns too. */
static double
check (Product what, guint M, guint N, guint K, GRand * rng)
{
  gboolean trans_a = what == ATB || what == ATB_BLOCKS;
  gboolean with_bias = what == PACKED_BIAS;
  gsize lda = (trans_a ? M : K) + PAD, ldb = N + PAD, ldc = N + PAD;
  gsize a_rows = trans_a ? K : M;
  float *A = g_new (float, a_rows * lda), *B = g_new (float, K * ldb);
  float *C = g_new (float, M * ldc), *C0 = g_new (float, M * ldc);
  float *bias = g_new (float, N), *Bp = NULL, *sums = g_new0 (float, N);
  double worst = 0.0, u = ldexp (1.0, -24);
  gsize i, j, k;
  guint n_used = N;

  for (i = 0; i < a_rows * lda; i++)
    A[i] = i % lda < (trans_a ? M : K) ?
        (float) g_rand_double_range (rng, -1.0, 1.0) : NAN;
  for (i = 0; i < K * ldb; i++)
    B[i] = i % ldb < N ? (float) g_rand_double_range (rng, -1.0, 1.0) : NAN;
  for (i = 0; i < M * ldc; i++)
    C[i] = C0[i] = (float) g_rand_double_range (rng, -1.0, 1.0);
  for (j = 0; j < N; j++)
    bias[j] = (float) g_rand_double_range (rng, -1.0, 1.0);

  switch (what) {
    case AB:
    case ATB:
      lstm_train_gemm (trans_a, M, N, K, A, lda, B, ldb, C, ldc);
      break;
    case ATB_BLOCKS:
      tn_blocks (M, N, K, A, lda, B, ldb, C, ldc, sums);
      break;
    case PACKED:
    case PACKED_T:
    case PACKED_BIAS:
      Bp = packed (K, N, B, ldb, what == PACKED_T);
      if (N > 3 && what == PACKED)
        n_used = N - 3;
      lstm_train_gemm_packed (M, n_used, K, A, lda, Bp, with_bias ? bias :
          NULL, C, ldc, NULL, 0);
      break;
  }
  N = n_used;

  for (i = 0; i < M; i++) {
    for (j = 0; j < ldc; j++) {
      /* blocks: C = A^T B, not added to (none for K = 0); packed: C =
       * bias + A Bp or A Bp, not added to */
      gboolean set = what == PACKED || what == PACKED_T
          || (what == ATB_BLOCKS && K > 0);
      double sum = with_bias ? bias[j % N] : set ? 0.0 : C0[i * ldc + j];
      double mag = 0.0, err;
      if (j >= N) {
        /* padding: untouched, bit for bit */
        if (memcmp (&C[i * ldc + j], &C0[i * ldc + j], sizeof (float)) != 0)
          g_error ("%s %ux%ux%u: C[%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT
              "] past N was written", product_names[what], M, N, K, i, j);
        continue;
      }
      for (k = 0; k < K; k++) {
        double p = (double) (trans_a ? A[k * lda + i] : A[i * lda + k]) *
            B[k * ldb + j];
        sum += p;
        mag += fabs (p);
      }
      err = fabs (C[i * ldc + j] - sum) / (K * u * mag + u * fabs (sum) +
          1e-30);
      if (!(err <= worst))      /* NaN counts as the worst */
        worst = isnan (err) ? INFINITY : err;
    }
  }
  /* blocks: B's column sums, added row by row in the blocks' order */
  for (j = 0; what == ATB_BLOCKS && j < N; j++) {
    double sum = 0.0, mag = 0.0, err;
    for (k = 0; k < K; k++) {
      sum += B[k * ldb + j];
      mag += fabs (B[k * ldb + j]);
    }
    err = fabs (sums[j] - sum) / (K * u * mag + 1e-30);
    if (!(err <= worst))
      worst = isnan (err) ? INFINITY : err;
  }
  g_free (A);
  g_free (B);
  g_free (C);
  g_free (C0);
  g_free (bias);
  g_free (sums);
  g_aligned_free (Bp);
  return worst;
}

/* lstm_train_transpose: exact, and nothing written past the matrix; 0 if
 * so, else infinity (the error measure of the products). */
static double
check_transpose (guint rows, guint cols, GRand * rng)
{
  gsize lda = cols + PAD, ldat = rows + PAD, i, j;
  float *A = g_new (float, rows * lda), *AT = g_new (float, cols * ldat);
  float *AT0 = g_new (float, cols * ldat);
  double worst = 0.0;

  for (i = 0; i < rows * lda; i++)
    A[i] = i % lda < cols ? (float) g_rand_double_range (rng, -1.0, 1.0)
        : NAN;
  for (i = 0; i < cols * ldat; i++)
    AT[i] = AT0[i] = (float) g_rand_double_range (rng, -1.0, 1.0);
  lstm_train_transpose (rows, cols, A, lda, AT, ldat);
  for (j = 0; j < cols; j++)
    for (i = 0; i < ldat; i++) {
      const float *want = i < rows ? &A[i * lda + j] : &AT0[j * ldat + i];
      if (memcmp (&AT[j * ldat + i], want, sizeof (float)) != 0) {
        g_printerr ("transpose %ux%u: AT[%" G_GSIZE_FORMAT ", %"
            G_GSIZE_FORMAT "] wrong\n", rows, cols, j, i);
        worst = INFINITY;
      }
    }
  g_free (A);
  g_free (AT);
  g_free (AT0);
  return worst;
}

/* Every product on every shape, and transposes, with this process's
 * kernels; prints the kernel set and the worst error / bound. */
static int
run_checks (void)
{
  GRand *rng = g_rand_new_with_seed (7);
  double worst = 0.0;
  guint s;

  for (s = 0; s < G_N_ELEMENTS (shapes); s++) {
    const Shape *p = &shapes[s];
    Product what;
    for (what = AB; what <= PACKED_BIAS; what++)
      worst = MAX (worst, check (what, p->M, p->N, p->K, rng));
  }
  for (s = 0; s < G_N_ELEMENTS (shapes); s++)
    worst = MAX (worst, check_transpose (shapes[s].M, shapes[s].K, rng));
  worst = MAX (worst, check_transpose (512, 168, rng));
  worst = MAX (worst, check_transpose (40, 512, rng));
  g_rand_free (rng);
  printf ("%s %.6f\n", lstm_blas_get_kernels (), worst);
  return 0;
}

static void
check_with (gconstpointer kernels)
{
  g_autofree gchar *out = run_self_with_kernels ("--check", kernels);
  g_autofree gchar *name = NULL;
  double worst = -1.0;

  name = g_malloc0 (strlen (out) + 1);
  g_assert_cmpint (sscanf (out, "%s %lf", name, &worst), ==, 2);
  /* a CPU without the set runs the next one down: said, and still checked */
  g_test_message ("asked for %s, ran %s: worst error %.4f of its bound",
      (const gchar *) kernels, name, worst);
  /* within the bound of a float32 sum (> 1 is a wrong result; the kernels'
   * blocked sums land far inside it) */
  g_assert_cmpfloat (worst, >=, 0.0);
  g_assert_cmpfloat (worst, <=, 1.0);
}

int
main (int argc, char **argv)
{
  if (argc > 1 && g_str_equal (argv[1], "--check"))
    return run_checks ();
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/lstm/train-blas/avx512", "avx512", check_with);
  g_test_add_data_func ("/lstm/train-blas/avx2", "avx2", check_with);
  g_test_add_data_func ("/lstm/train-blas/openblas", "openblas", check_with);
  return g_test_run ();
}
