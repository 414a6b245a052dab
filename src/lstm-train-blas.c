/* Matrix products of training: C[M,N] += op (A) B, op (A) = A or A^T.
 *
 * Training's products differ from inference's: many rows at once (a batch
 * of sequences, or all N packed rows of a batch), so they are classic
 * GEMMs, not the dot-product shapes lstm-blas.c is built for. Every one is
 * written here as C += A B (B [K,N] row-major, the weights transposed once
 * per step where needed) or as C += A^T B (the weight gradients, summed
 * over the K = N rows of a batch):
 *
 *   forward   A_t = b + Z_t W^T (lstm_train_gemm_bias)    Z += Y W_head^T
 *   backward  [dX_t dH_{t-1}] += dA_t W     dY += dZ W_head
 *   gradients [dW_ih dW_hh]^T += Z^T dA (lstm_train_gemm_tn)
 *             dW_head += dZ^T Y
 *
 * (Z_t: the rows [x_t h_{t-1}] of a step, W = [W_ih W_hh]; lstm-bptt.c.)
 * The variants' trainer (lstm-variant-backward.c) makes the same kinds of
 * products with its own operands.
 *
 * The kernels are outer products: a tile of mr rows x 2 vectors of C
 * stays in registers while k runs, each step loading 2 vectors of a row of
 * B and broadcasting mr elements of A, one fused multiply-add each. K is
 * cut in blocks of KC so that the panel of B a tile reads (KC x 2 vectors)
 * stays in L1 while every tile of rows passes over it. Chosen once per
 * process with the forward pass's kernels (lstm_blas_get_kernels ():
 * AVX-512F, AVX2 with FMA), so speed does not depend on the core OpenBLAS
 * detects (DESIGN.md, "Numerics and speed"); "openblas" (a CPU without
 * them, or LSTM_BLAS_KERNELS=openblas) calls cblas_sgemm. Accumulation is
 * float32 and its order is fixed for given sizes: results are
 * deterministic.
 */
#include "lstm-train-private.h"

#include <cblas.h>
#include <string.h>

#if defined (__x86_64__) && defined (__GNUC__)
#define HAVE_X86_KERNELS 1
#include <immintrin.h>
#endif

/* Blocks of B: KC rows by NC columns (256 KiB, in L2), swept by every
 * tile of rows of A in turn; a tile's panel (KC x 32 floats, 32 KiB)
 * stays near while k runs. (Packing the blocks into contiguous scratch,
 * as BLAS libraries do, measured no faster on the per-step products of
 * 32 rows; the weight gradients' A^T B over all rows is packed, below.) */
#define KC 256
#define NC 256

#define MR 8                    /* rows of a tile (AVX-512) */
#define PANEL 32                /* columns of a tile (AVX-512) */

/* The packed A^T B (gemm_tn_packed_avx512) copies B in blocks of PK_KC
 * rows. */
#define PK_KC 96

typedef void (*GemmFunc) (gboolean trans_a, guint M, guint N, gsize K,
    const float *A, gsize lda, const float *B, gsize ldb, const float *bias,
    float *C, gsize ldc);

static void
gemm_openblas (gboolean trans_a, guint M, guint N, gsize K, const float *A,
    gsize lda, const float *B, gsize ldb, const float *bias, float *C,
    gsize ldc)
{
  guint i;

  for (i = 0; bias != NULL && i < M; i++)
    memcpy (C + (gsize) i * ldc, bias, N * sizeof (float));
  cblas_sgemm (CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
      CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb, 1.0f, C, ldc);
}

#ifdef HAVE_X86_KERNELS

/* ------------------------------------------------------------- AVX-512F */

#define AVX512_INLINE static inline \
  __attribute__ ((always_inline, target ("avx512f")))

/* C[r, 0..16 nv - 1] += sum_k A(r, k) B[k, 0..16 nv - 1] for r < mr
 * (mr <= 8), k < kc, nv = 1 or 2 vectors, A(r, k) = A[r * ar + k * ak],
 * rows of B ldb apart; m0, m1 mask the columns that exist, or with full
 * all 32 do (no masks: measured 3 to 7 % faster, with k unrolled by 2, on
 * the per-step products). With bias, C is not read: C[r, j] = bias[j] +
 * the sum. */
AVX512_INLINE void
tile_avx512 (const guint mr, const guint nv, const gboolean full, gsize kc,
    const float *A, gsize ar, gsize ak, const float *B, gsize ldb,
    const float *bias, float *C, gsize ldc, __mmask16 m0, __mmask16 m1)
{
  __m512 c0[8], c1[8], b0, b1 = _mm512_setzero_ps (), x;
  gsize k;
  guint r;

#pragma GCC unroll 8
  for (r = 0; r < mr; r++) {
    c0[r] = _mm512_setzero_ps ();
    c1[r] = _mm512_setzero_ps ();
  }
#pragma GCC unroll 2
  for (k = 0; k < kc; k++) {
    if (full) {
      b0 = _mm512_loadu_ps (B + k * ldb);
      b1 = _mm512_loadu_ps (B + k * ldb + 16);
    } else {
      b0 = _mm512_maskz_loadu_ps (m0, B + k * ldb);
      if (nv == 2)
        b1 = _mm512_maskz_loadu_ps (m1, B + k * ldb + 16);
    }
#pragma GCC unroll 8
    for (r = 0; r < mr; r++) {
      x = _mm512_set1_ps (A[r * ar + k * ak]);
      c0[r] = _mm512_fmadd_ps (x, b0, c0[r]);
      if (nv == 2)
        c1[r] = _mm512_fmadd_ps (x, b1, c1[r]);
    }
  }
#pragma GCC unroll 8
  for (r = 0; r < mr; r++) {
    float *cr = C + r * ldc;
    const float *from = bias != NULL ? bias : cr;
    if (full) {
      _mm512_storeu_ps (cr, _mm512_add_ps (_mm512_loadu_ps (from), c0[r]));
      _mm512_storeu_ps (cr + 16, _mm512_add_ps (_mm512_loadu_ps (from + 16),
              c1[r]));
      continue;
    }
    _mm512_mask_storeu_ps (cr, m0, _mm512_add_ps (_mm512_maskz_loadu_ps (m0,
                from), c0[r]));
    if (nv == 2)
      _mm512_mask_storeu_ps (cr + 16, m1,
          _mm512_add_ps (_mm512_maskz_loadu_ps (m1, from + 16), c1[r]));
  }
}

/* One tile of mr rows (a constant in each case, so the tile unrolls) and
 * nv vectors. */
#define TILE_CASES(tile, MR_, nv, ...) \
  switch (MR_) { \
    case 8: tile (8, nv, __VA_ARGS__); break; \
    case 7: tile (7, nv, __VA_ARGS__); break; \
    case 6: tile (6, nv, __VA_ARGS__); break; \
    case 5: tile (5, nv, __VA_ARGS__); break; \
    case 4: tile (4, nv, __VA_ARGS__); break; \
    case 3: tile (3, nv, __VA_ARGS__); break; \
    case 2: tile (2, nv, __VA_ARGS__); break; \
    default: tile (1, nv, __VA_ARGS__); break; \
  }

static inline __mmask16
mask16 (guint n)
{
  return n >= 16 ? 0xffff : (__mmask16) ((1u << n) - 1);
}

/* *INDENT-OFF* */
__attribute__ ((target ("avx512f")))
static void
gemm_avx512 (gboolean trans_a, guint M, guint N, gsize K, const float *A,
    gsize lda, const float *B, gsize ldb, const float *bias, float *C,
    gsize ldc)
/* *INDENT-ON* */

{
  gsize ar = trans_a ? 1 : lda, ak = trans_a ? lda : 1, k0, kc;
  guint i, j, j0;

  for (k0 = 0; k0 < K; k0 += kc) {
    /* the first block starts from the bias, if any; the rest add */
    const float *bias0 = k0 == 0 ? bias : NULL;
    kc = MIN (KC, K - k0);
    for (j0 = 0; j0 < N; j0 += NC) {
      guint j1 = MIN (j0 + NC, N);
      for (i = 0; i < M; i += MR) {
        guint mr = MIN (M - i, MR);
        const float *a = A + i * ar + k0 * ak;
        for (j = j0; j < j1; j += PANEL) {
          guint n = j1 - j;
          __mmask16 m0 = mask16 (n), m1 = n > 16 ? mask16 (n - 16) : 0;
          const float *b = B + k0 * ldb + j;
          const float *bj = bias0 != NULL ? bias0 + j : NULL;
          float *c = C + i * ldc + j;
          if (n >= PANEL) {
            TILE_CASES (tile_avx512, mr, 2, TRUE, kc, a, ar, ak, b, ldb, bj,
                c, ldc, m0, m1);
          } else if (n > 16) {
            TILE_CASES (tile_avx512, mr, 2, FALSE, kc, a, ar, ak, b, ldb, bj,
                c, ldc, m0, m1);
          } else {
            TILE_CASES (tile_avx512, mr, 1, FALSE, kc, a, ar, ak, b, ldb, bj,
                c, ldc, m0, m1);
          }
        }
      }
    }
  }
}

/* A^T B for many rows (the weight gradients, K = all rows of a batch).
 * Read in place, the B panel of a tile (32 floats per k, rows ldb apart)
 * falls on a few cache sets when ldb is a multiple of 1 KiB, as 4H is,
 * and misses L1 on every k. So each block of PK_KC rows of B is first
 * copied as panels of PANEL columns ([k][PANEL], zero padded), and each
 * panel (12 KiB) then stays in L1 while every tile of rows passes over
 * it; A's tiles are read in place (MR consecutive floats per k). On
 * 256 x 512 x 3200 and 168 x 512 x 3200: 20 to 25 % faster than BLIS's
 * layout (A packed too, blocks of 128 rows and 96 columns), which was
 * itself faster than no copy at all. */
/* *INDENT-OFF* */
__attribute__ ((target ("avx512f")))
static void
gemm_tn_packed_avx512 (guint M, guint N, gsize K, const float *A, gsize lda,
    const float *B, gsize ldb, float *C, gsize ldc, float *Bp)
/* *INDENT-ON* */

{
  guint np = (N + PANEL - 1) / PANEL, i, p;
  gsize k0, kc, k;

  for (k0 = 0; k0 < K; k0 += kc) {
    kc = MIN (PK_KC, K - k0);
    /* Bp[p][k][PANEL] = B[k0 + k, 32 p + j], 0 past N */
    for (p = 0; p < np; p++) {
      guint n = N - p * PANEL;
      __mmask16 m0 = mask16 (n), m1 = n > 16 ? mask16 (n - 16) : 0;
      const float *b = B + k0 * ldb + p * PANEL;
      float *d = Bp + p * kc * PANEL;
      for (k = 0; k < kc; k++) {
        _mm512_store_ps (d + k * PANEL, _mm512_maskz_loadu_ps (m0,
                b + k * ldb));
        _mm512_store_ps (d + k * PANEL + 16, _mm512_maskz_loadu_ps (m1,
                b + k * ldb + 16));
      }
    }
    for (p = 0; p < np; p++) {
      guint n = N - p * PANEL;
      __mmask16 m0 = mask16 (n), m1 = n > 16 ? mask16 (n - 16) : 0;
      const float *b = Bp + p * kc * PANEL;
      for (i = 0; i < M; i += MR) {
        guint mr = MIN (M - i, MR);
        if (n >= PANEL) {
          TILE_CASES (tile_avx512, mr, 2, TRUE, kc, A + k0 * lda + i, 1, lda,
              b, PANEL, NULL, C + i * ldc + p * PANEL, ldc, m0, m1);
        } else {
          TILE_CASES (tile_avx512, mr, 2, FALSE, kc, A + k0 * lda + i, 1, lda,
              b, PANEL, NULL, C + i * ldc + p * PANEL, ldc, m0, m1);
        }
      }
    }
  }
}

/* ----------------------------------------------------------- AVX2 + FMA */

/* The same with 8 lanes and 16 ymm registers: tiles of 6 rows x 16
 * columns (12 accumulators, 2 of B, 1 broadcast). */
#define AVX2_INLINE static inline \
  __attribute__ ((always_inline, target ("avx2,fma")))

AVX2_INLINE void
tile_avx2 (const guint mr, const guint nv, gsize kc, const float *A,
    gsize ar, gsize ak, const float *B, gsize ldb, const float *bias,
    float *C, gsize ldc, __m256i m0, __m256i m1)
{
  /* [8]: TILE_CASES also names mr 7 and 8, which gemm_avx2 never asks for */
  __m256 c0[8], c1[8], b0, b1 = _mm256_setzero_ps (), x;
  gsize k;
  guint r;

#pragma GCC unroll 6
  for (r = 0; r < mr; r++) {
    c0[r] = _mm256_setzero_ps ();
    c1[r] = _mm256_setzero_ps ();
  }
  for (k = 0; k < kc; k++) {
    b0 = _mm256_maskload_ps (B + k * ldb, m0);
    if (nv == 2)
      b1 = _mm256_maskload_ps (B + k * ldb + 8, m1);
#pragma GCC unroll 6
    for (r = 0; r < mr; r++) {
      x = _mm256_broadcast_ss (A + r * ar + k * ak);
      c0[r] = _mm256_fmadd_ps (x, b0, c0[r]);
      if (nv == 2)
        c1[r] = _mm256_fmadd_ps (x, b1, c1[r]);
    }
  }
#pragma GCC unroll 6
  for (r = 0; r < mr; r++) {
    float *cr = C + r * ldc;
    const float *from = bias != NULL ? bias : cr;
    _mm256_maskstore_ps (cr, m0, _mm256_add_ps (_mm256_maskload_ps (from,
                m0), c0[r]));
    if (nv == 2)
      _mm256_maskstore_ps (cr + 8, m1,
          _mm256_add_ps (_mm256_maskload_ps (from + 8, m1), c1[r]));
  }
}

/* lanes l < n enabled (sign bit set) */
AVX2_INLINE __m256i
mask8 (guint n)
{
  return _mm256_cmpgt_epi32 (_mm256_set1_epi32 ((int) MIN (n, 8)),
      _mm256_setr_epi32 (0, 1, 2, 3, 4, 5, 6, 7));
}

/* *INDENT-OFF* */
__attribute__ ((target ("avx2,fma")))
static void
gemm_avx2 (gboolean trans_a, guint M, guint N, gsize K, const float *A,
    gsize lda, const float *B, gsize ldb, const float *bias, float *C,
    gsize ldc)
/* *INDENT-ON* */

{
  gsize ar = trans_a ? 1 : lda, ak = trans_a ? lda : 1, k0, kc;
  guint i, j, j0;

  for (k0 = 0; k0 < K; k0 += kc) {
    /* the first block starts from the bias, if any; the rest add */
    const float *bias0 = k0 == 0 ? bias : NULL;
    kc = MIN (KC, K - k0);
    for (j0 = 0; j0 < N; j0 += NC) {
      guint j1 = MIN (j0 + NC, N);
      for (i = 0; i < M; i += 6) {
        guint mr = MIN (M - i, 6);
        const float *a = A + i * ar + k0 * ak;
        for (j = j0; j < j1; j += 16) {
          guint n = j1 - j;
          __m256i m0 = mask8 (n), m1 = mask8 (n > 8 ? n - 8 : 0);
          const float *b = B + k0 * ldb + j;
          const float *bj = bias0 != NULL ? bias0 + j : NULL;
          float *c = C + i * ldc + j;
          if (n > 8) {
            TILE_CASES (tile_avx2, mr, 2, kc, a, ar, ak, b, ldb, bj, c, ldc,
                m0, m1);
          } else {
            TILE_CASES (tile_avx2, mr, 1, kc, a, ar, ak, b, ldb, bj, c, ldc,
                m0, m1);
          }
        }
      }
    }
  }
}

#endif /* HAVE_X86_KERNELS */

/* The kernel set of lstm-blas.c, so both passes use the same ISA. */
static GemmFunc
choose (void)
{
  const gchar *k = lstm_blas_get_kernels ();

#ifdef HAVE_X86_KERNELS
  if (g_str_equal (k, "avx512"))
    return gemm_avx512;
  if (g_str_equal (k, "avx2"))
    return gemm_avx2;
#endif
  (void) k;
  return gemm_openblas;
}

static GemmFunc
get_gemm (void)
{
  static GemmFunc gemm;
  GemmFunc g = g_atomic_pointer_get (&gemm);

  if (G_UNLIKELY (g == NULL)) {
    g = choose ();
    g_atomic_pointer_set (&gemm, g);
  }
  return g;
}

void
lstm_train_gemm (gboolean trans_a, guint M, guint N, gsize K, const float *A,
    gsize lda, const float *B, gsize ldb, float *C, gsize ldc)
{
  if (M == 0 || N == 0 || K == 0)
    return;
  get_gemm ()(trans_a, M, N, K, A, lda, B, ldb, NULL, C, ldc);
}

void
lstm_train_gemm_bias (guint M, guint N, gsize K, const float *A, gsize lda,
    const float *B, gsize ldb, const float *bias, float *C, gsize ldc)
{
  guint i;

  if (M == 0 || N == 0)
    return;
  if (K == 0) {
    for (i = 0; i < M; i++)
      memcpy (C + (gsize) i * ldc, bias, N * sizeof (float));
    return;
  }
  get_gemm ()(FALSE, M, N, K, A, lda, B, ldb, bias, C, ldc);
}

gsize
lstm_train_gemm_tn_scratch (guint N)
{
  return PK_KC * (gsize) ((N + PANEL - 1) / PANEL) * PANEL;
}

void
lstm_train_gemm_tn (guint M, guint N, gsize K, const float *A, gsize lda,
    const float *B, gsize ldb, float *C, gsize ldc, float *scratch)
{
  if (M == 0 || N == 0 || K == 0)
    return;
#ifdef HAVE_X86_KERNELS
  if (get_gemm () == gemm_avx512) {
    gemm_tn_packed_avx512 (M, N, K, A, lda, B, ldb, C, ldc, scratch);
    return;
  }
#endif
  get_gemm ()(TRUE, M, N, K, A, lda, B, ldb, NULL, C, ldc);
}

/* Transposes in tiles so that both sides are walked in cache lines. */
#define TILE 32

static void
transpose_scalar (gsize rows, gsize cols, const float *A, gsize lda,
    float *AT, gsize ldat)
{
  gsize i0, j0, i, j;

  for (i0 = 0; i0 < rows; i0 += TILE) {
    gsize i1 = MIN (i0 + TILE, rows);
    for (j0 = 0; j0 < cols; j0 += TILE) {
      gsize j1 = MIN (j0 + TILE, cols);
      for (i = i0; i < i1; i++)
        for (j = j0; j < j1; j++)
          AT[j * ldat + i] = A[i * lda + j];
    }
  }
}

#ifdef HAVE_X86_KERNELS
#define SHUF_LO(a, b) _mm512_shuffle_f32x4 ((a), (b), 0x88)
#define SHUF_HI(a, b) _mm512_shuffle_f32x4 ((a), (b), 0xdd)
#define PD(x) _mm512_castps_pd (x)
#define PS(x) _mm512_castpd_ps (x)

/* Blocks of 16 x 16 in registers: rows interleaved by 32 bits, then 64,
 * then by 128-bit lanes twice; blocks at the edges load the rows and
 * columns that exist (the rest 0) and store the same. Scalar, the
 * transposes of the weights and their gradients took 2.4 % of a
 * bench-train step (perf). */
/* *INDENT-OFF* */
__attribute__ ((target ("avx512f")))
static void
transpose_avx512 (gsize rows, gsize cols, const float *A, gsize lda,
    float *AT, gsize ldat)
/* *INDENT-ON* */

{
  gsize i0, j0;
  guint r;

  for (i0 = 0; i0 < rows; i0 += 16) {
    guint rr = (guint) MIN (16, rows - i0);
    __mmask16 store = mask16 (rr);
    for (j0 = 0; j0 < cols; j0 += 16) {
      guint cc = (guint) MIN (16, cols - j0);
      __mmask16 load = mask16 (cc);
      __m512 x[16], t[16], u[16];
      for (r = 0; r < 16; r++)
        x[r] = r < rr ? _mm512_maskz_loadu_ps (load, A + (i0 + r) * lda + j0)
            : _mm512_setzero_ps ();
      for (r = 0; r < 16; r += 2) {
        t[r] = _mm512_unpacklo_ps (x[r], x[r + 1]);
        t[r + 1] = _mm512_unpackhi_ps (x[r], x[r + 1]);
      }
      for (r = 0; r < 16; r += 4) {
        u[r] = PS (_mm512_unpacklo_pd (PD (t[r]), PD (t[r + 2])));
        u[r + 1] = PS (_mm512_unpackhi_pd (PD (t[r]), PD (t[r + 2])));
        u[r + 2] = PS (_mm512_unpacklo_pd (PD (t[r + 1]), PD (t[r + 3])));
        u[r + 3] = PS (_mm512_unpackhi_pd (PD (t[r + 1]), PD (t[r + 3])));
      }
      /* u[4q + c] holds element c of every 4-row group q's 128-bit lanes */
      for (r = 0; r < 4; r++) {
        t[r] = SHUF_LO (u[r], u[r + 4]);
        t[r + 4] = SHUF_HI (u[r], u[r + 4]);
        t[r + 8] = SHUF_LO (u[r + 8], u[r + 12]);
        t[r + 12] = SHUF_HI (u[r + 8], u[r + 12]);
      }
      for (r = 0; r < 8; r++) {
        x[r] = SHUF_LO (t[r], t[r + 8]);
        x[r + 8] = SHUF_HI (t[r], t[r + 8]);
      }
      for (r = 0; r < cc; r++)
        _mm512_mask_storeu_ps (AT + (j0 + r) * ldat + i0, store, x[r]);
    }
  }
}

#undef SHUF_LO
#undef SHUF_HI
#undef PD
#undef PS
#endif

void
lstm_train_transpose (gsize rows, gsize cols, const float *A, gsize lda,
    float *AT, gsize ldat)
{
#ifdef HAVE_X86_KERNELS
  if (get_gemm () == gemm_avx512) {
    transpose_avx512 (rows, cols, A, lda, AT, ldat);
    return;
  }
#endif
  transpose_scalar (rows, cols, A, lda, AT, ldat);
}
