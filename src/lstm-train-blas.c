/* Matrix products of training: C[M,N] += op (A) B, op (A) = A or A^T.
 *
 * Training's products differ from inference's: many rows at once (a batch
 * of sequences, or all N packed rows of a batch), so they are classic
 * GEMMs, not the dot-product shapes lstm-blas.c is built for. Every one is
 * written here as C += A B (B [K,N] row-major, the weights transposed once
 * per step where needed) or as C += A^T B (the weight gradients, summed
 * over the K = N rows of a batch):
 *
 *   forward   A_t = b + Z_t W^T (lstm_train_gemm_packed)  Z += Y W_head^T
 *   backward  [dX_t dH_{t-1}] += dA_t W     dY += dZ W_head
 *   gradients [dW_ih dW_hh]^T += Z^T dA (lstm_train_gemm_tn_block)
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
 * stays near while k runs. (The per-step products read their weights
 * packed as panels instead, lstm_train_gemm_packed; the weight gradients
 * go block by block, lstm_train_gemm_tn_block.) */
#define KC 256
#define NC 256

#define MR 8                    /* rows of a tile (AVX-512) */
#define PANEL 32                /* columns of a tile (AVX-512) */

/* The weight gradients' A^T B goes in blocks of PK_KC rows. */
#define PK_KC 96

/* C = 0 + ..., through the bias of the kernels (a panel's worth) */
static const float zero_panel[PANEL] __attribute__ ((aligned (64)));

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

/* Lines per tile for `tiles` tiles to prefetch all of pf. */
static gsize
prefetch_per_tile (const LstmTrainPrefetch * pf, guint n_pf, gsize tiles)
{
  gsize lines = 0;
  guint i;

  for (i = 0; i < n_pf; i++)
    lines += (pf[i].bytes + 63) / 64;
  return tiles > 0 ? (lines + tiles - 1) / tiles : 0;
}

/* Lines a tile prefetches while its k runs, one every gap values of k
 * (spread out, prefetches never wait for a line fill buffer). */
typedef struct
{
  const char *p;
  gsize lines;
  gsize gap;
} PrefetchRun;

/* The next run of at most `lines` lines of pf for a tile of kc values of
 * k, from its first region that has any left. */
static inline PrefetchRun
prefetch_run (LstmTrainPrefetch * pf, guint n_pf, gsize lines, gsize kc)
{
  PrefetchRun run = { NULL, 0, 1 };
  guint i;

  for (i = 0; i < n_pf; i++)
    if (pf[i].bytes > 0) {
      run.p = pf[i].p;
      run.lines = MIN (lines, (pf[i].bytes + 63) / 64);
      run.gap = MAX (kc / MAX (run.lines, 1), 1);
      break;
    }
  return run;
}

/* Marks what the run prefetched as done in pf. */
static inline void
prefetch_ran (LstmTrainPrefetch * pf, guint n_pf, const PrefetchRun * run)
{
  guint i;

  for (i = 0; i < n_pf; i++)
    if (pf[i].bytes > 0) {
      gsize done = (gsize) (run->p - pf[i].p);
      pf[i].p = run->p;
      pf[i].bytes = pf[i].bytes > done ? pf[i].bytes - done : 0;
      break;
    }
}

/* ------------------------------------------------------------- AVX-512F */

#define AVX512_INLINE static inline \
  __attribute__ ((always_inline, target ("avx512f")))

/* C[r, 0..16 nv - 1] += sum_k A(r, k) B[k, 0..16 nv - 1] for r < mr
 * (mr <= 8), k < kc, nv = 1 or 2 vectors, A(r, k) = A[r * ar + k * ak],
 * rows of B ldb apart; m0, m1 mask the columns that exist, or with full
 * all 32 do (no masks: measured 3 to 7 % faster, with k unrolled by 2, on
 * the per-step products). With bias, C is not read: C[r, j] = bias[j] +
 * the sum. With run, one line of it is prefetched every run->gap values
 * of k while it has lines. */
AVX512_INLINE void
tile_avx512 (const guint mr, const guint nv, const gboolean full, gsize kc,
    const float *A, gsize ar, gsize ak, const float *B, gsize ldb,
    const float *bias, float *C, gsize ldc, __mmask16 m0, __mmask16 m1,
    PrefetchRun * run)
{
  __m512 c0[8], c1[8], b0, b1 = _mm512_setzero_ps (), x;
  gsize k, until = run != NULL ? run->gap : 0;
  guint r;

#pragma GCC unroll 8
  for (r = 0; r < mr; r++) {
    c0[r] = _mm512_setzero_ps ();
    c1[r] = _mm512_setzero_ps ();
  }
#pragma GCC unroll 2
  for (k = 0; k < kc; k++) {
    if (run != NULL && --until == 0) {
      until = run->gap;
      if (run->lines > 0) {
        __builtin_prefetch (run->p, 0, 2);
        run->p += 64;
        run->lines--;
      }
    }
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
                c, ldc, m0, m1, NULL);
          } else if (n > 16) {
            TILE_CASES (tile_avx512, mr, 2, FALSE, kc, a, ar, ak, b, ldb, bj,
                c, ldc, m0, m1, NULL);
          } else {
            TILE_CASES (tile_avx512, mr, 1, FALSE, kc, a, ar, ak, b, ldb, bj,
                c, ldc, m0, m1, NULL);
          }
        }
      }
    }
  }
}

/* C += A^T Bp over one block of kc rows of B, stored as panels by
 * lstm_train_pack_block ([p][k][PANEL]): a panel (kc x 32 floats, 12
 * KiB) stays in L1 while every tile of rows passes over it; A's tiles are
 * read in place (MR consecutive floats per k). */
/* *INDENT-OFF* */
__attribute__ ((target ("avx512f")))
static void
gemm_tn_block_avx512 (guint M, guint N, gsize kc, const float *A, gsize lda,
    const float *Bp, const float *zero, float *C, gsize ldc)
/* *INDENT-ON* */

{
  guint np = (N + PANEL - 1) / PANEL, i, p;

  for (p = 0; p < np; p++) {
    guint n = N - p * PANEL;
    __mmask16 m0 = mask16 (n), m1 = n > 16 ? mask16 (n - 16) : 0;
    const float *b = Bp + p * kc * PANEL;
    for (i = 0; i < M; i += MR) {
      guint mr = MIN (M - i, MR);
      if (n >= PANEL) {
        TILE_CASES (tile_avx512, mr, 2, TRUE, kc, A + i, 1, lda, b, PANEL,
            zero, C + i * ldc + p * PANEL, ldc, m0, m1, NULL);
      } else {
        TILE_CASES (tile_avx512, mr, 2, FALSE, kc, A + i, 1, lda, b, PANEL,
            zero, C + i * ldc + p * PANEL, ldc, m0, m1, NULL);
      }
    }
  }
}

/* A row of B into the block layout. */
/* *INDENT-OFF* */
__attribute__ ((target ("avx512f")))
static void
pack_row_avx512 (guint N, const float *src, float *dst, gsize kc,
    float *sums)
/* *INDENT-ON* */

{
  guint np = (N + PANEL - 1) / PANEL, p;

  for (p = 0; p < np; p++) {
    guint n = N - p * PANEL;
    __mmask16 m0 = mask16 (n), m1 = n > 16 ? mask16 (n - 16) : 0;
    float *d = dst + p * kc * PANEL, *y = sums + p * PANEL;
    __m512 x0 = _mm512_maskz_loadu_ps (m0, src + p * PANEL);
    __m512 x1 = _mm512_maskz_loadu_ps (m1, src + p * PANEL + 16);
    _mm512_store_ps (d, x0);
    _mm512_store_ps (d + 16, x1);
    if (sums == NULL)
      continue;
    _mm512_mask_storeu_ps (y, m0, _mm512_add_ps (_mm512_maskz_loadu_ps (m0,
                y), x0));
    _mm512_mask_storeu_ps (y + 16, m1,
        _mm512_add_ps (_mm512_maskz_loadu_ps (m1, y + 16), x1));
  }
}

/* C = bias + A Bp (bias NULL: 0), Bp packed by lstm_train_pack; a panel
 * at a time, every tile of rows in turn over it (K in blocks of KC, the
 * first setting C, the others adding) */
/* *INDENT-OFF* */
__attribute__ ((target ("avx512f")))
static void
gemm_packed_avx512 (guint M, guint N, gsize K, const float *A, gsize lda,
    const float *Bp, const float *bias, float *C, gsize ldc,
    LstmTrainPrefetch * pf, guint n_pf)
/* *INDENT-ON* */

{
  guint np = (N + PANEL - 1) / PANEL, i, p;
  gsize k0, kc, per_tile = prefetch_per_tile (pf, n_pf,
      (K + KC - 1) / KC * np * ((M + MR - 1) / MR));

  for (k0 = 0; k0 < K; k0 += kc) {
    kc = MIN (KC, K - k0);
    for (p = 0; p < np; p++) {
      guint n = N - p * PANEL;
      __mmask16 m0 = mask16 (n), m1 = n > 16 ? mask16 (n - 16) : 0;
      const float *b = Bp + p * K * PANEL + k0 * PANEL;
      const float *bj = k0 > 0 ? NULL : bias != NULL ? bias + p * PANEL :
          zero_panel;
      for (i = 0; i < M; i += MR) {
        guint mr = MIN (M - i, MR);
        const float *a = A + i * lda + k0;
        float *c = C + i * ldc + p * PANEL;
        PrefetchRun run = prefetch_run (pf, n_pf, per_tile, kc);
        if (n >= PANEL) {
          TILE_CASES (tile_avx512, mr, 2, TRUE, kc, a, lda, 1, b, PANEL, bj,
              c, ldc, m0, m1, &run);
        } else if (n > 16) {
          TILE_CASES (tile_avx512, mr, 2, FALSE, kc, a, lda, 1, b, PANEL, bj,
              c, ldc, m0, m1, &run);
        } else {
          TILE_CASES (tile_avx512, mr, 1, FALSE, kc, a, lda, 1, b, PANEL, bj,
              c, ldc, m0, m1, &run);
        }
        prefetch_ran (pf, n_pf, &run);
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

/* The weight gradients' product goes a block of rows at a time: B's
 * rows of a block (dA of the steps just computed, in cache) copied as
 * panels of PANEL columns ([p][k][PANEL], zero padded), then A^T B over
 * them. Read in place instead, the panel of a tile (32 floats per k, rows
 * 2 KiB apart when N = 512) falls on a few L1 sets and misses on every k;
 * a block of PK_KC rows keeps a panel (12 KiB) in L1. Made once the layer's
 * rows were all done, with dA stored for all of them, the product read
 * 13 MB of it back from memory for bench-train's batch. */
guint
lstm_train_block_rows (void)
{
  return PK_KC;
}

gsize
lstm_train_block_size (gsize kc, guint N)
{
  return kc * ((N + PANEL - 1) / PANEL) * PANEL;
}

void
lstm_train_pack_block (gsize kc, guint N, gsize k0, guint n, const float *B,
    gsize ldb, float *Bp, float *sums)
{
  gsize k;
  guint p, j;

  for (k = k0; k < k0 + n; k++) {
    const float *src = B + (k - k0) * ldb;
    float *dst = Bp + k * PANEL;
#ifdef HAVE_X86_KERNELS
    if (get_gemm () == gemm_avx512) {
      pack_row_avx512 (N, src, dst, kc, sums);
      continue;
    }
#endif
    for (p = 0; p * PANEL < N; p++)
      for (j = 0; j < PANEL; j++)
        dst[p * kc * PANEL + j] = p * PANEL + j < N ? src[p * PANEL + j] : 0;
    for (j = 0; sums != NULL && j < N; j++)
      sums[j] += src[j];
  }
}

void
lstm_train_gemm_tn_block (guint M, guint N, gsize kc, const float *A,
    gsize lda, const float *Bp, gboolean accumulate, float *C, gsize ldc)
{
  const float *zero = accumulate ? NULL : zero_panel;
  guint p, i;

  if (M == 0 || N == 0)
    return;
  if (kc == 0) {
    for (i = 0; !accumulate && i < M; i++)
      memset (C + (gsize) i * ldc, 0, N * sizeof (float));
    return;
  }
#ifdef HAVE_X86_KERNELS
  if (get_gemm () == gemm_avx512) {
    gemm_tn_block_avx512 (M, N, kc, A, lda, Bp, zero, C, ldc);
    return;
  }
#endif
  for (p = 0; p * PANEL < N; p++)
    get_gemm ()(TRUE, M, MIN (PANEL, N - p * PANEL), kc, A, lda,
        Bp + p * kc * PANEL, PANEL, zero, C + p * PANEL, ldc);
}

/* ------------------------------------------------------- packed operand B */

/* Panels of PANEL columns: Bp[p][k][j] = B(k, PANEL p + j), each K x
 * PANEL floats, contiguous. The per-step products read the same weights
 * at every step of a batch: in place their rows are 1 or 2 KiB apart,
 * and a panel's rows fall on a few L1 sets; packed once per batch, a
 * panel is read straight through (measured: the per-step products 8 to
 * 10 % faster on their own, 256 x 512 x 32 per step). */
gsize
lstm_train_packed_size (gsize K, guint N)
{
  return K * ((N + PANEL - 1) / PANEL) * PANEL;
}

void
lstm_train_pack (gsize K, guint N, const float *B, gsize ldb, gboolean trans,
    float *Bp)
{
  guint np = (N + PANEL - 1) / PANEL, p;
  gsize k;

  for (p = 0; p < np; p++) {
    guint n = MIN (PANEL, N - p * PANEL);
    float *d = Bp + p * K * PANEL;
    if (trans) {
      /* B given as B^T [N, K]: rows PANEL p .. of it, transposed */
      lstm_train_transpose (n, K, B + (gsize) p * PANEL * ldb, ldb, d,
          PANEL);
      for (k = 0; n < PANEL && k < K; k++)
        memset (d + k * PANEL + n, 0, (PANEL - n) * sizeof (float));
      continue;
    }
    for (k = 0; k < K; k++) {
      memcpy (d + k * PANEL, B + k * ldb + p * PANEL, n * sizeof (float));
      memset (d + k * PANEL + n, 0, (PANEL - n) * sizeof (float));
    }
  }
}

void
lstm_train_gemm_packed (guint M, guint N, gsize K, const float *A,
    gsize lda, const float *Bp, const float *bias, float *C, gsize ldc,
    LstmTrainPrefetch * pf, guint n_pf)
{
  guint i, p;

  if (M == 0 || N == 0)
    return;
  if (K == 0) {
    for (i = 0; i < M; i++) {
      if (bias != NULL)
        memcpy (C + (gsize) i * ldc, bias, N * sizeof (float));
      else
        memset (C + (gsize) i * ldc, 0, N * sizeof (float));
    }
    return;
  }
#ifdef HAVE_X86_KERNELS
  if (get_gemm () == gemm_avx512) {
    gemm_packed_avx512 (M, N, K, A, lda, Bp, bias, C, ldc, pf, n_pf);
    return;
  }
#endif
  /* a panel is a [K, PANEL] matrix of its own */
  (void) pf;
  (void) n_pf;
  for (p = 0; p * PANEL < N; p++)
    get_gemm ()(FALSE, M, MIN (PANEL, N - p * PANEL), K, A, lda,
        Bp + p * K * PANEL, PANEL, bias != NULL ? bias + p * PANEL :
        zero_panel, C + p * PANEL, ldc);
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
