/* Matrix kernels of the forward pass, in one place so that they can be
 * swapped or specialised without touching the maths around them.
 *
 * Both products are computed by our own kernels, not OpenBLAS's. OpenBLAS
 * picks its kernels from the CPU it detects and on some virtual machines
 * falls back to the generic "Prescott" set, 2-7x slower here; the hot path
 * must not depend on that guess (DESIGN.md, "Numerics and speed"). The
 * kernels are chosen once per process from what the CPU supports: AVX-512F,
 * AVX2 with FMA, or else OpenBLAS. The environment variable
 * LSTM_BLAS_KERNELS (`avx512`, `avx2`, `openblas`) caps the choice, for
 * tests and benchmarks. Measured in BENCHMARKS.md (tests/bench/run.sh):
 * the per-frame matrix-vector products, which dominate an LSTM, run 1.3-2x
 * faster than OpenBLAS's SkylakeX sgemv (the 4 MB W_hh of H = 512 runs at
 * the memory's speed either way); OpenBLAS's SkylakeX sgemm stays ahead on
 * chunk products with few inputs (K <= 80), which cost little next to the
 * recurrent step, because a dot-product kernel pays a horizontal sum per
 * output.
 *
 * Every output element is one dot product, always summed the same way:
 *
 *   acc[l] = sum over k = l (mod V) of a_k b_k    V float lanes, k in order,
 *                                                 one fused multiply-add each
 *   C_ij  += tree (acc)                           a fixed halving tree:
 *            w_l = acc_l + acc_{l+V/2}, then w_l + w_{l+V/4}, ... down to 1
 *
 * whatever the tile the element is computed in. So y = W x (lstm_blas_gemv)
 * and the rows of C = A B^T (lstm_blas_gemm_nt) agree bit for bit: a
 * sequence fed in chunks of any size gives exactly the result of feeding it
 * whole. Accumulation is float32, as in BLAS; no fast-math.
 *
 * The weights B may also be packed in reduced precision (lstm-precision.c,
 * lstm_blas_gemm_nt_packed): halves are widened to float32 in registers
 * (F16C's vcvtph2ps, exact) and int8 likewise (exact), then the same FMAs
 * run in the same order. Halves give the bits of the float32 kernel on the
 * halves' values; int8 rows end with C_ij += s_j tree (acc), the row's
 * scale applied once after the sum. The AVX2 set needs F16C for this (every
 * AVX2 CPU has it; the set is not chosen without it).
 */
#include "lstm-private.h"

#include <cblas.h>

/* The vector kernels are x86-64 only; elsewhere OpenBLAS does the work. */
#if defined (__x86_64__) && defined (__GNUC__)
#define HAVE_X86_KERNELS 1
#include <cpuid.h>
#include <immintrin.h>
#endif

typedef void (*GemmFunc) (guint M, guint N, guint K, const float *A,
    gsize lda, const float *B, gsize ldb, float *C, gsize ldc);
/* The same with B packed as `bt` (F16 or INT8), ldb in elements, and
 * INT8's scales S [N]. */
typedef void (*GemmPackedFunc) (LstmPrecision bt, guint M, guint N, guint K,
    const float *A, gsize lda, const void *B, gsize ldb, const float *S,
    float *C, gsize ldc);

/* B + n elements of type bt. */
static inline const void *
b_offset (LstmPrecision bt, const void *B, gsize n)
{
  gsize esize = bt == LSTM_PRECISION_F32 ? 4 : bt == LSTM_PRECISION_F16 ? 2 : 1;
  return (const guint8 *) B + n * esize;
}

/* S + j, or NULL without scales (no offset on a null pointer). */
static inline const float *
scale_at (const float *S, gsize j)
{
  return S != NULL ? S + j : NULL;
}

/* ------------------------------------------------------------- OpenBLAS */

/* The fallback for CPUs without AVX2 and FMA. */
static void
gemm_openblas (guint M, guint N, guint K, const float *A, gsize lda,
    const float *B, gsize ldb, float *C, gsize ldc)
{
  if (M == 1)
    cblas_sgemv (CblasRowMajor, CblasNoTrans, N, K, 1.0f, B, ldb, A, 1, 1.0f,
        C, 1);
  else
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A,
        lda, B, ldb, 1.0f, C, ldc);
}

#ifdef HAVE_X86_KERNELS

/* ------------------------------------------------------------- AVX-512F */

/* A tile computes C[mr rows, nr columns] from mr rows of A and nr rows of
 * B, K floats each: mr * nr accumulators of 16 lanes, one pass over K.
 * mr and nr are constants at every call, so the loops unroll and the
 * accumulators live in registers (3 x 8 + 3 + 1 of the 32 zmm). */
#define AVX512_INLINE static inline \
  __attribute__ ((always_inline, target ("avx512f")))

/* The halving tree of one accumulator: 16 lanes -> 8 -> 4 -> 2 -> 1. */
AVX512_INLINE float
reduce1_avx512 (__m512 v)
{
  __m256 w = _mm256_add_ps (_mm512_castps512_ps256 (v),
      _mm256_castpd_ps (_mm512_extractf64x4_pd (_mm512_castps_pd (v), 1)));
  __m128 x = _mm_add_ps (_mm256_castps256_ps128 (w),
      _mm256_extractf128_ps (w, 1));
  __m128 y = _mm_add_ps (x, _mm_movehl_ps (x, x));
  return _mm_cvtss_f32 (_mm_add_ss (y, _mm_shuffle_ps (y, y, 1)));
}

/* The first two levels of the tree for four accumulators at once:
 * returns [x_a, x_b, x_c, x_d], 4 lanes each, x_l = w_l + w_{l+4},
 * w_l = acc_l + acc_{l+8}. */
AVX512_INLINE __m512
halve4_avx512 (__m512 a, __m512 b, __m512 c, __m512 d)
{
  __m512 ab = _mm512_add_ps (_mm512_shuffle_f32x4 (a, b, 0x44),
      _mm512_shuffle_f32x4 (a, b, 0xee));
  __m512 cd = _mm512_add_ps (_mm512_shuffle_f32x4 (c, d, 0x44),
      _mm512_shuffle_f32x4 (c, d, 0xee));
  return _mm512_add_ps (_mm512_shuffle_f32x4 (ab, cd, 0x88),
      _mm512_shuffle_f32x4 (ab, cd, 0xdd));
}

/* Four accumulators -> [z_a, z_b, z_c, z_d]. */
AVX512_INLINE __m128
reduce4_avx512 (__m512 a, __m512 b, __m512 c, __m512 d)
{
  __m512 u = halve4_avx512 (a, b, c, d);
  /* y_l = x_l + x_{l+2}, then z = y_0 + y_1, in each 128-bit lane */
  __m512 t = _mm512_add_ps (u, _mm512_permute_ps (u, _MM_SHUFFLE (1, 0, 3,
              2)));
  __m512 s = _mm512_add_ps (t, _mm512_permute_ps (t, _MM_SHUFFLE (2, 3, 0,
              1)));
  return _mm512_castps512_ps128 (_mm512_permutexvar_ps (_mm512_setr_epi32 (0,
              4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), s));
}

/* Eight accumulators -> [z_0 .. z_7]. */
AVX512_INLINE __m256
reduce8_avx512 (const __m512 * v)
{
  __m512 u1 = halve4_avx512 (v[0], v[1], v[2], v[3]);
  __m512 u2 = halve4_avx512 (v[4], v[5], v[6], v[7]);
  /* lane r: [y_r0, y_r1, y_(r+4)0, y_(r+4)1], y_l = x_l + x_{l+2} */
  __m512 y = _mm512_add_ps (_mm512_shuffle_ps (u1, u2, _MM_SHUFFLE (1, 0, 1,
              0)), _mm512_shuffle_ps (u1, u2, _MM_SHUFFLE (3, 2, 3, 2)));
  /* lane r: [z_r, z_(r+4), z_r, z_(r+4)], z = y_0 + y_1 */
  __m512 s = _mm512_add_ps (_mm512_shuffle_ps (y, y, _MM_SHUFFLE (2, 0, 2,
              0)), _mm512_shuffle_ps (y, y, _MM_SHUFFLE (3, 1, 3, 1)));
  return _mm512_castps512_ps256 (_mm512_permutexvar_ps (_mm512_setr_epi32 (0,
              4, 8, 12, 1, 5, 9, 13, 0, 0, 0, 0, 0, 0, 0, 0), s));
}

/* 16 weights from B + i, widened to float32 (exactly). */
AVX512_INLINE __m512
load_b_avx512 (const LstmPrecision bt, const void *B, gsize i)
{
  if (bt == LSTM_PRECISION_F16)
    return _mm512_cvtph_ps (_mm256_loadu_si256 ((const __m256i *)
            b_offset (bt, B, i)));
  if (bt == LSTM_PRECISION_INT8)
    return _mm512_cvtepi32_ps (_mm512_cvtepi8_epi32 (_mm_loadu_si128 ((const
                    __m128i *) b_offset (bt, B, i))));
  return _mm512_loadu_ps ((const float *) B + i);
}

/* C[i, j] += dot (A row i, B row j) for i < mr, j < nr; nr is 8, 4 or 1.
 * B is of type bt; for INT8 the dot is times S[j]. */
AVX512_INLINE void
tile_avx512 (const LstmPrecision bt, const guint mr, const guint nr, guint K,
    const float *A, gsize lda, const void *B, gsize ldb, const float *S,
    float *C, gsize ldc)
{
  __m512 acc[3][8], a[3], b;
  guint r, c, k;

#pragma GCC unroll 8
  for (c = 0; c < nr; c++)
#pragma GCC unroll 3
    for (r = 0; r < mr; r++)
      acc[r][c] = _mm512_setzero_ps ();

  for (k = 0; k + 16 <= K; k += 16) {
#pragma GCC unroll 3
    for (r = 0; r < mr; r++)
      a[r] = _mm512_loadu_ps (A + r * lda + k);
#pragma GCC unroll 8
    for (c = 0; c < nr; c++) {
      b = load_b_avx512 (bt, B, c * ldb + k);
#pragma GCC unroll 3
      for (r = 0; r < mr; r++)
        acc[r][c] = _mm512_fmadd_ps (a[r], b, acc[r][c]);
    }
  }
  if (k < K) {
    /* The last K % 16 columns: masked loads read nothing past the rows
     * and give zeros, which add nothing to the accumulators. Packed rows
     * are padded with zeros: read whole. */
    __mmask16 m = (__mmask16) ((1u << (K - k)) - 1);
#pragma GCC unroll 3
    for (r = 0; r < mr; r++)
      a[r] = _mm512_maskz_loadu_ps (m, A + r * lda + k);
#pragma GCC unroll 8
    for (c = 0; c < nr; c++) {
      b = bt == LSTM_PRECISION_F32 ? _mm512_maskz_loadu_ps (m,
          (const float *) B + c * ldb + k) : load_b_avx512 (bt, B, c * ldb + k);
#pragma GCC unroll 3
      for (r = 0; r < mr; r++)
        acc[r][c] = _mm512_fmadd_ps (a[r], b, acc[r][c]);
    }
  }
#pragma GCC unroll 3
  for (r = 0; r < mr; r++) {
    float *cr = C + r * ldc;
    if (nr == 8) {
      __m256 z = reduce8_avx512 (acc[r]);
      if (bt == LSTM_PRECISION_INT8)
        z = _mm256_mul_ps (z, _mm256_loadu_ps (S));
      _mm256_storeu_ps (cr, _mm256_add_ps (_mm256_loadu_ps (cr), z));
    } else if (nr == 4) {
      __m128 z = reduce4_avx512 (acc[r][0], acc[r][1], acc[r][2], acc[r][3]);
      if (bt == LSTM_PRECISION_INT8)
        z = _mm_mul_ps (z, _mm_loadu_ps (S));
      _mm_storeu_ps (cr, _mm_add_ps (_mm_loadu_ps (cr), z));
    } else {
      float z = reduce1_avx512 (acc[r][0]);
      cr[0] += bt == LSTM_PRECISION_INT8 ? S[0] * z : z;
    }
  }
}

/* All rows of A against nr rows of B: 3 rows at a time, then 2 or 1. */
AVX512_INLINE void
panel_avx512 (const LstmPrecision bt, const guint nr, guint M, guint K,
    const float *A, gsize lda, const void *B, gsize ldb, const float *S,
    float *C, gsize ldc)
{
  guint i;

  for (i = 0; i + 3 <= M; i += 3)
    tile_avx512 (bt, 3, nr, K, A + i * lda, lda, B, ldb, S, C + i * ldc, ldc);
  if (M - i == 2)
    tile_avx512 (bt, 2, nr, K, A + i * lda, lda, B, ldb, S, C + i * ldc, ldc);
  else if (M - i == 1)
    tile_avx512 (bt, 1, nr, K, A + i * lda, lda, B, ldb, S, C + i * ldc, ldc);
}

/* C[M,N] += A[M,K] B[N,K]^T. The outer loop walks B (the weights) 8 rows
 * at a time, so each weight is read from memory once per call and the 8
 * rows (8 x K floats) stay in L1 while every row of A passes by. */
AVX512_INLINE void
gemm_any_avx512 (const LstmPrecision bt, guint M, guint N, guint K,
    const float *A, gsize lda, const void *B, gsize ldb, const float *S,
    float *C, gsize ldc)
{
  guint j;

  for (j = 0; j + 8 <= N; j += 8)
    panel_avx512 (bt, 8, M, K, A, lda, b_offset (bt, B, j * ldb), ldb,
        scale_at (S, j), C + j, ldc);
  for (; j + 4 <= N; j += 4)
    panel_avx512 (bt, 4, M, K, A, lda, b_offset (bt, B, j * ldb), ldb,
        scale_at (S, j), C + j, ldc);
  for (; j < N; j++)
    panel_avx512 (bt, 1, M, K, A, lda, b_offset (bt, B, j * ldb), ldb,
        scale_at (S, j), C + j, ldc);
}

/* *INDENT-OFF* */
__attribute__ ((target ("avx512f")))
static void
gemm_avx512 (guint M, guint N, guint K, const float *A, gsize lda,
    const float *B, gsize ldb, float *C, gsize ldc)
/* *INDENT-ON* */

{
  gemm_any_avx512 (LSTM_PRECISION_F32, M, N, K, A, lda, B, ldb, NULL, C, ldc);
}

/* *INDENT-OFF* */
__attribute__ ((target ("avx512f")))
static void
gemm_packed_avx512 (LstmPrecision bt, guint M, guint N, guint K,
    const float *A, gsize lda, const void *B, gsize ldb, const float *S,
    float *C, gsize ldc)
/* *INDENT-ON* */

{
  if (bt == LSTM_PRECISION_F16)
    gemm_any_avx512 (LSTM_PRECISION_F16, M, N, K, A, lda, B, ldb, S, C, ldc);
  else
    gemm_any_avx512 (LSTM_PRECISION_INT8, M, N, K, A, lda, B, ldb, S, C, ldc);
}

/* ----------------------------------------------------------- AVX2 + FMA */

/* The same scheme with 8 lanes and 16 ymm registers: tiles of 2 x 4 (or
 * 1 x 8 for a single row of A, the matrix-vector case). F16C widens the
 * halves. */
#define AVX2_INLINE static inline \
  __attribute__ ((always_inline, target ("avx2,fma,f16c")))

/* 8 lanes -> 4 -> 2 -> 1 */
AVX2_INLINE float
reduce1_avx2 (__m256 v)
{
  __m128 w = _mm_add_ps (_mm256_castps256_ps128 (v),
      _mm256_extractf128_ps (v, 1));
  __m128 y = _mm_add_ps (w, _mm_movehl_ps (w, w));
  return _mm_cvtss_f32 (_mm_add_ss (y, _mm_shuffle_ps (y, y, 1)));
}

/* Four accumulators -> [z_a, z_b, z_c, z_d]. */
AVX2_INLINE __m128
reduce4_avx2 (__m256 a, __m256 b, __m256 c, __m256 d)
{
  /* [w_a | w_b], [w_c | w_d], w_l = acc_l + acc_{l+4} */
  __m256 ab = _mm256_add_ps (_mm256_permute2f128_ps (a, b, 0x20),
      _mm256_permute2f128_ps (a, b, 0x31));
  __m256 cd = _mm256_add_ps (_mm256_permute2f128_ps (c, d, 0x20),
      _mm256_permute2f128_ps (c, d, 0x31));
  /* [y_a0, y_a1, y_c0, y_c1 | y_b0, y_b1, y_d0, y_d1], y_l = w_l + w_{l+2} */
  __m256 y = _mm256_add_ps (_mm256_shuffle_ps (ab, cd, _MM_SHUFFLE (1, 0, 1,
              0)), _mm256_shuffle_ps (ab, cd, _MM_SHUFFLE (3, 2, 3, 2)));
  /* [z_a, z_c, z_a, z_c | z_b, z_d, z_b, z_d], z = y_0 + y_1 */
  __m256 s = _mm256_add_ps (_mm256_shuffle_ps (y, y, _MM_SHUFFLE (2, 0, 2,
              0)), _mm256_shuffle_ps (y, y, _MM_SHUFFLE (3, 1, 3, 1)));
  return _mm_unpacklo_ps (_mm256_castps256_ps128 (s),
      _mm256_extractf128_ps (s, 1));
}

/* 8 weights from B + i, widened to float32 (exactly). */
AVX2_INLINE __m256
load_b_avx2 (const LstmPrecision bt, const void *B, gsize i)
{
  if (bt == LSTM_PRECISION_F16)
    return _mm256_cvtph_ps (_mm_loadu_si128 ((const __m128i *)
            b_offset (bt, B, i)));
  if (bt == LSTM_PRECISION_INT8)
    return _mm256_cvtepi32_ps (_mm256_cvtepi8_epi32 (_mm_loadl_epi64 ((const
                    __m128i *) b_offset (bt, B, i))));
  return _mm256_loadu_ps ((const float *) B + i);
}

/* C[i, j] += dot (A row i, B row j) for i < mr, j < nr; mr * nr <= 8.
 * B is of type bt; for INT8 the dot is times S[j]. */
AVX2_INLINE void
tile_avx2 (const LstmPrecision bt, const guint mr, const guint nr, guint K,
    const float *A, gsize lda, const void *B, gsize ldb, const float *S,
    float *C, gsize ldc)
{
  __m256 acc[2][8], a[2], b;
  guint r, c, k;

#pragma GCC unroll 8
  for (c = 0; c < nr; c++)
#pragma GCC unroll 2
    for (r = 0; r < mr; r++)
      acc[r][c] = _mm256_setzero_ps ();

  for (k = 0; k + 8 <= K; k += 8) {
#pragma GCC unroll 2
    for (r = 0; r < mr; r++)
      a[r] = _mm256_loadu_ps (A + r * lda + k);
#pragma GCC unroll 8
    for (c = 0; c < nr; c++) {
      b = load_b_avx2 (bt, B, c * ldb + k);
#pragma GCC unroll 2
      for (r = 0; r < mr; r++)
        acc[r][c] = _mm256_fmadd_ps (a[r], b, acc[r][c]);
    }
  }
  if (k < K) {
    /* lanes l < K % 8 enabled: sign bit set where l < rest */
    __m256i m = _mm256_cmpgt_epi32 (_mm256_set1_epi32 ((int) (K - k)),
        _mm256_setr_epi32 (0, 1, 2, 3, 4, 5, 6, 7));
#pragma GCC unroll 2
    for (r = 0; r < mr; r++)
      a[r] = _mm256_maskload_ps (A + r * lda + k, m);
#pragma GCC unroll 8
    for (c = 0; c < nr; c++) {
      /* packed rows are padded with zeros: read whole */
      b = bt == LSTM_PRECISION_F32 ? _mm256_maskload_ps ((const float *) B +
          c * ldb + k, m) : load_b_avx2 (bt, B, c * ldb + k);
#pragma GCC unroll 2
      for (r = 0; r < mr; r++)
        acc[r][c] = _mm256_fmadd_ps (a[r], b, acc[r][c]);
    }
  }
#pragma GCC unroll 2
  for (r = 0; r < mr; r++) {
    float *cr = C + r * ldc;
    if (nr == 8) {
      __m256 z = _mm256_set_m128 (reduce4_avx2 (acc[r][4], acc[r][5],
              acc[r][6], acc[r][7]), reduce4_avx2 (acc[r][0], acc[r][1],
              acc[r][2], acc[r][3]));
      if (bt == LSTM_PRECISION_INT8)
        z = _mm256_mul_ps (z, _mm256_loadu_ps (S));
      _mm256_storeu_ps (cr, _mm256_add_ps (_mm256_loadu_ps (cr), z));
    } else if (nr == 4) {
      __m128 z = reduce4_avx2 (acc[r][0], acc[r][1], acc[r][2], acc[r][3]);
      if (bt == LSTM_PRECISION_INT8)
        z = _mm_mul_ps (z, _mm_loadu_ps (S));
      _mm_storeu_ps (cr, _mm_add_ps (_mm_loadu_ps (cr), z));
    } else {
      float z = reduce1_avx2 (acc[r][0]);
      cr[0] += bt == LSTM_PRECISION_INT8 ? S[0] * z : z;
    }
  }
}

AVX2_INLINE void
panel_avx2 (const LstmPrecision bt, const guint nr, guint M, guint K,
    const float *A, gsize lda, const void *B, gsize ldb, const float *S,
    float *C, gsize ldc)
{
  guint i;

  for (i = 0; i + 2 <= M; i += 2)
    tile_avx2 (bt, 2, nr, K, A + i * lda, lda, B, ldb, S, C + i * ldc, ldc);
  if (i < M)
    tile_avx2 (bt, 1, nr, K, A + i * lda, lda, B, ldb, S, C + i * ldc, ldc);
}

AVX2_INLINE void
gemm_any_avx2 (const LstmPrecision bt, guint M, guint N, guint K,
    const float *A, gsize lda, const void *B, gsize ldb, const float *S,
    float *C, gsize ldc)
{
  guint j = 0;

  if (M == 1)
    for (; j + 8 <= N; j += 8)
      tile_avx2 (bt, 1, 8, K, A, lda, b_offset (bt, B, j * ldb), ldb,
          scale_at (S, j), C + j, ldc);
  for (; j + 4 <= N; j += 4)
    panel_avx2 (bt, 4, M, K, A, lda, b_offset (bt, B, j * ldb), ldb,
        scale_at (S, j), C + j, ldc);
  for (; j < N; j++)
    panel_avx2 (bt, 1, M, K, A, lda, b_offset (bt, B, j * ldb), ldb,
        scale_at (S, j), C + j, ldc);
}

/* *INDENT-OFF* */
__attribute__ ((target ("avx2,fma,f16c")))
static void
gemm_avx2 (guint M, guint N, guint K, const float *A, gsize lda,
    const float *B, gsize ldb, float *C, gsize ldc)
/* *INDENT-ON* */

{
  gemm_any_avx2 (LSTM_PRECISION_F32, M, N, K, A, lda, B, ldb, NULL, C, ldc);
}

/* *INDENT-OFF* */
__attribute__ ((target ("avx2,fma,f16c")))
static void
gemm_packed_avx2 (LstmPrecision bt, guint M, guint N, guint K,
    const float *A, gsize lda, const void *B, gsize ldb, const float *S,
    float *C, gsize ldc)
/* *INDENT-ON* */

{
  if (bt == LSTM_PRECISION_F16)
    gemm_any_avx2 (LSTM_PRECISION_F16, M, N, K, A, lda, B, ldb, S, C, ldc);
  else
    gemm_any_avx2 (LSTM_PRECISION_INT8, M, N, K, A, lda, B, ldb, S, C, ldc);
}

#endif /* HAVE_X86_KERNELS */

/* ------------------------------------------------------------- dispatch */

typedef struct
{
  const gchar *name;
  GemmFunc gemm;
  GemmPackedFunc gemm_packed;   /* NULL: packed weights use their floats */
} Kernels;

static const Kernels kernels_openblas = { "openblas", gemm_openblas, NULL };

#ifdef HAVE_X86_KERNELS
static const Kernels kernels_avx512 = { "avx512", gemm_avx512,
  gemm_packed_avx512
};
static const Kernels kernels_avx2 = { "avx2", gemm_avx2, gemm_packed_avx2 };

/* F16C (CPUID leaf 1, ECX bit 29): not every compiler's
 * __builtin_cpu_supports knows the name. */
static gboolean
cpu_has_f16c (void)
{
  guint a, b, c, d;
  return __get_cpuid (1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
}
#endif

/* The best set the CPU runs, capped by LSTM_BLAS_KERNELS: "avx512" (or
 * unset, "auto") takes the best, "avx2" at most AVX2, "openblas" none. */
static const Kernels *
choose_kernels (void)
{
  const gchar *want = g_getenv ("LSTM_BLAS_KERNELS");
  const Kernels *k = &kernels_openblas;

  if (want == NULL || *want == '\0' || g_str_equal (want, "auto"))
    want = "avx512";
  else if (!g_str_equal (want, "avx512") && !g_str_equal (want, "avx2")
      && !g_str_equal (want, "openblas")) {
    g_warning ("LSTM_BLAS_KERNELS=%s is not one of auto, avx512, avx2, "
        "openblas; using the best the CPU supports", want);
    want = "avx512";
  }
#ifdef HAVE_X86_KERNELS
  /* __builtin_cpu_supports also checks that the OS saves the registers. */
  __builtin_cpu_init ();
  if (g_str_equal (want, "avx512") && __builtin_cpu_supports ("avx512f"))
    k = &kernels_avx512;
  else if (!g_str_equal (want, "openblas") && __builtin_cpu_supports ("avx2")
      && __builtin_cpu_supports ("fma") && cpu_has_f16c ())
    k = &kernels_avx2;
#endif
  g_debug ("matrix kernels: %s", k->name);
  return k;
}

/* Chosen on first use; a race only makes two threads choose the same. */
static const Kernels *
get_kernels (void)
{
  static const Kernels *kernels;
  const Kernels *k = g_atomic_pointer_get (&kernels);

  if (G_UNLIKELY (k == NULL)) {
    k = choose_kernels ();
    g_atomic_pointer_set (&kernels, k);
  }
  return k;
}

/* ------------------------------------------------------------------ API */

void
lstm_blas_gemm_nt (guint M, guint N, guint K, const float *A, gsize lda,
    const float *B, gsize ldb, float *C, gsize ldc)
{
  get_kernels ()->gemm (M, N, K, A, lda, B, ldb, C, ldc);
}

void
lstm_blas_gemm_nt_packed (guint M, guint N, guint K, const float *A,
    gsize lda, const float *W, const LstmPackedMatrix * packed, float *C,
    gsize ldc)
{
  const Kernels *k = get_kernels ();

  if (packed == NULL || k->gemm_packed == NULL) {
    k->gemm (M, N, K, A, lda, W, K, C, ldc);
    return;
  }
  g_return_if_fail (packed->rows == N && packed->cols == K);
  k->gemm_packed (packed->precision, M, N, K, A, lda, packed->data,
      packed->stride, packed->scale, C, ldc);
}

/* y = A x is the one-row product y^T += x^T A^T: the same kernel, so
 * the two agree bit for bit. */
void
lstm_blas_gemv (guint M, guint N, const float *A, gsize lda, const float *x,
    float *y)
{
  get_kernels ()->gemm (1, M, N, x, N, A, lda, y, M);
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

const gchar *
lstm_blas_get_kernels (void)
{
  return get_kernels ()->name;
}
