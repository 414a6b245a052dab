/* Matrix kernels of the forward pass, in one place so that they can be
 * swapped or specialised without touching the maths around them. */
#include "lstm-private.h"

#include <cblas.h>

void
lstm_blas_gemm_nt (guint M, guint N, guint K, const float *A, gsize lda,
    const float *B, gsize ldb, float *C, gsize ldc)
{
  if (M == 1) {
    /* One frame: a matrix-vector product; OpenBLAS's gemm has no fast path
     * for a single row. */
    lstm_blas_gemv (N, K, B, ldb, A, C);
    return;
  }
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, lda,
      B, ldb, 1.0f, C, ldc);
}

void
lstm_blas_gemv (guint M, guint N, const float *A, gsize lda, const float *x,
    float *y)
{
  cblas_sgemv (CblasRowMajor, CblasNoTrans, M, N, 1.0f, A, lda, x, 1, 1.0f, y,
      1);
}

void
lstm_blas_set_threads (guint n_threads)
{
  openblas_set_num_threads (MAX (n_threads, 1));
}

const gchar *
lstm_blas_get_core (void)
{
  return openblas_get_corename ();
}
