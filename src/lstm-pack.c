/* Weights packed for the forward pass's outer-product kernels, and those
 * kernels: C[M, N] += A[M, K] W^T for a weight matrix W [N, K] that is
 * read at every frame (the gate products and the head of a plain LSTM).
 *
 * A pack stores W^T in panels of P output columns (P = 128, or N rounded
 * up to a multiple of 16 when N < 128), k-major inside a panel, the
 * columns past N zero:
 *
 *   panel p, row k:  W[p P + j, k]  for j = 0 .. P-1    (64-byte aligned)
 *
 * A kernel walks k once, loads the weights of up to 128 consecutive
 * outputs as whole vectors, broadcasts A[i, k] and accumulates
 *
 *   acc[i, j] = 0;  acc[i, j] = fma (A[i, k], W[j, k], acc[i, j]),  k = 0 .. K-1
 *   C[i, j] += acc[i, j]      (or C[i, j] = bias[j] + acc[i, j]: the input
 *                              products start from b_ih + b_hh)
 *
 * On AVX-512 a single row (the recurrent product of one frame) runs
 * against two whole panels at once, and the rows of two packs' products
 * (two layers of the wavefront, lstm-forward.c) panel against panel: the
 * same sums, two weight streams in one loop. AVX2 runs them in turn.
 *
 * Every output is summed in that one order whatever its tile, the number
 * of rows M and the vector width, so the AVX-512 and AVX2 kernels agree
 * bit for bit, a chunk of T frames gives exactly the bits of T single
 * frames, and streams stepped together exactly those of each stream alone.
 * There is no horizontal sum per output (the dot-product kernels of
 * lstm-blas.c pay one, which dominates when K is small), and a tile keeps
 * its weights in registers for all of its rows: the many-stream products
 * run at the arithmetic's speed, not the weights' streaming speed.
 * Without AVX2 (or with LSTM_BLAS_KERNELS=openblas) the products go to
 * lstm_blas_gemm_nt on the unpacked W instead, which sums differently.
 *
 * A model with reduced-precision weights (lstm-precision.c, which rounds
 * the model's floats first) gets packs of IEEE halves or of int8 q with a
 * scale s_j per output (w_jk = s_j q_jk): the kernels widen each vector of
 * weights to float32 as they load it (F16C's vcvtph2ps, exact; int8 by
 * sign extension) and go on as above, an int8 tile ending with
 * C[i, j] = fma (acc[i, j], s_j, C[i, j]). Half packs thus give the
 * float32 bits for the rounded weights with half the bytes; int8 packs
 * a quarter of the bytes, within rounding of them.
 */
#include "lstm-private.h"

#include <math.h>
#include <string.h>

#if defined (__x86_64__) && defined (__GNUC__)
#define HAVE_X86_KERNELS 1
#include <cpuid.h>
#include <immintrin.h>
#endif

#define PANEL 128               /* output columns per panel, at most */

/* What a pack's elements are (a kernel's `kind`). */
enum
{
  KIND_F32,
  KIND_F16,
  KIND_I8,
};

struct _LstmPacked
{
  guint n, k;                   /* W is [n, k] */
  guint width;                  /* P: columns per panel, a multiple of 16 */
  guint n_panels;
  guint kind;                   /* KIND_*: floats, halves or int8 */
  gpointer data;                /* [n_panels, k, width] elements */
  float *scale;                 /* KIND_I8: [n_panels * width] s_j, else NULL */
  const float *w;               /* the model's W [n, k], for the fallback */
};

LstmPacked *
lstm_packed_new (const float *w, guint n, guint k, LstmPrecision precision)
{
  static const gsize elem_size[] = { 4, 2, 1 };
  LstmPacked *p;
  guint j, i;

  g_return_val_if_fail (w != NULL && n > 0 && k > 0, NULL);

  p = g_new0 (LstmPacked, 1);
  p->n = n;
  p->k = k;
  p->width = n >= PANEL ? PANEL : (n + 15) / 16 * 16;
  p->n_panels = (n + p->width - 1) / p->width;
  p->kind = precision == LSTM_PRECISION_F16 ? KIND_F16 :
      precision == LSTM_PRECISION_INT8 ? KIND_I8 : KIND_F32;
  p->w = w;
  p->data = g_aligned_alloc0 ((gsize) p->n_panels * k * p->width,
      elem_size[p->kind], 64);
  if (p->kind == KIND_I8)
    p->scale = g_aligned_alloc0 ((gsize) p->n_panels * p->width,
        sizeof (float), 64);
  for (j = 0; j < n; j++) {
    const float *row = w + (gsize) j * k;
    /* column j of its panel: element (i, j) at i * width */
    gsize at = (gsize) (j / p->width) * k * p->width + j % p->width;

    /* int8: lstm-precision.c's q and s of the row (on its rounded w, the
     * same q again) */
    if (p->kind == KIND_I8)
      p->scale[j] = lstm_int8_scale (row, k);
    for (i = 0; i < k; i++) {
      if (p->kind == KIND_I8)
        ((gint8 *) p->data)[at + (gsize) i * p->width] =
            lstm_int8_quantize (row[i], p->scale[j]);
      else if (p->kind == KIND_F16)
        ((guint16 *) p->data)[at + (gsize) i * p->width] =
            lstm_float_to_half (row[i]);
      else
        ((float *) p->data)[at + (gsize) i * p->width] = row[i];
    }
  }
  return p;
}

void
lstm_packed_free (LstmPacked * p)
{
  if (p == NULL)
    return;
  g_aligned_free (p->data);
  g_aligned_free (p->scale);
  g_free (p);
}

#ifdef HAVE_X86_KERNELS

/* ------------------------------------------------------------- AVX-512F */

#define AVX512_INLINE static inline \
  __attribute__ ((always_inline, target ("avx512f")))

/* C[mr rows, the first `cols` of nv * 16 columns] += A[mr, K] w, w the
 * panel rows (stride `width`) of those columns. mr and nv are constants
 * at every call, so the accumulators live in registers (at most 24 of
 * the 32 zmm, with nv weight vectors and one broadcast). */
/* 16 weights of a panel row as floats: floats, halves widened exactly,
 * or int8 sign-extended. */
AVX512_INLINE __m512
weights_avx512 (const guint kind, gconstpointer w, gsize at)
{
  if (kind == KIND_F16)
    return _mm512_cvtph_ps (_mm256_load_si256 ((const __m256i *)
            ((const guint16 *) w + at)));
  if (kind == KIND_I8)
    return _mm512_cvtepi32_ps (_mm512_cvtepi8_epi32 (_mm_load_si128
            ((const __m128i *) ((const gint8 *) w + at))));
  return _mm512_load_ps ((const float *) w + at);
}

/* A tile's sum of columns at .. at + 15 into C's old value (or the bias)
 * c0: c0 + sum, or for int8 fma (sum, s[at ..], c0), one rounding, spelled
 * out so that no compiler contraction can make it differ between widths
 * (s is NULL but for int8). */
AVX512_INLINE __m512
finish_avx512 (const guint kind, __m512 sum, const float *s, guint at,
    __m512 c0)
{
  return kind == KIND_I8 ? _mm512_fmadd_ps (sum, _mm512_load_ps (s + at),
      c0) : _mm512_add_ps (c0, sum);
}

/* C[mr rows, the first `cols` of nv * 16 columns] += A[mr, K] w, w the
 * panel rows (stride `width`) of those columns (int8: times the columns'
 * scales s after the sum); with `bias`, C = bias + the same, C not read.
 * kind, mr and nv are constants at every call,
 * so the accumulators live in registers (at most 24 of the 32 zmm, with
 * nv weight vectors and one broadcast). */
AVX512_INLINE void
tile_avx512 (const guint kind, const guint mr, const guint nv, guint K,
    const float *A, gsize lda, gconstpointer w, const float *s,
    const float *bias, guint width, float *C, gsize ldc, guint cols)
{
  __m512 acc[6][8], b[8], a;
  guint r, v, k;

#pragma GCC unroll 6
  for (r = 0; r < mr; r++)
#pragma GCC unroll 8
    for (v = 0; v < nv; v++)
      acc[r][v] = _mm512_setzero_ps ();
  for (k = 0; k < K; k++) {
#pragma GCC unroll 8
    for (v = 0; v < nv; v++)
      b[v] = weights_avx512 (kind, w, (gsize) k * width + 16 * v);
#pragma GCC unroll 6
    for (r = 0; r < mr; r++) {
      a = _mm512_set1_ps (A[r * lda + k]);
#pragma GCC unroll 8
      for (v = 0; v < nv; v++)
        acc[r][v] = _mm512_fmadd_ps (a, b[v], acc[r][v]);
    }
  }
#pragma GCC unroll 6
  for (r = 0; r < mr; r++) {
#pragma GCC unroll 8
    for (v = 0; v < nv; v++) {
      guint n = 16 * v < cols ? MIN (16, cols - 16 * v) : 0;
      __mmask16 m = (__mmask16) (n == 16 ? 0xffff : (1u << n) - 1);
      float *c = C + r * ldc + 16 * v;
      const float *from = bias != NULL ? bias + 16 * v : c;
      _mm512_mask_storeu_ps (c, m, finish_avx512 (kind, acc[r][v], s,
              16 * v, _mm512_maskz_loadu_ps (m, from)));
    }
  }
}

/* One row against two whole panels (PANEL columns each) at once:
 * c0 += a0 w0 and c1 += a1 w1, the same sums as two 1 x 8 tiles. Two
 * weight streams in one loop read faster from L2 than one after the other
 * (measured on an AMD EPYC, 256 KiB of W_hh per stream: a pair of rows on
 * two matrices 2.20 us against 2.45 us in turn; two panels of one matrix
 * 5 % faster than panel by panel). */
AVX512_INLINE void
two_panels_avx512 (const guint kind, guint K, const float *a0,
    gconstpointer w0, const float *s0, float *c0, const float *a1,
    gconstpointer w1, const float *s1, float *c1)
{
  __m512 acc0[8], acc1[8], x0, x1;
  guint v, k;

#pragma GCC unroll 8
  for (v = 0; v < 8; v++)
    acc0[v] = acc1[v] = _mm512_setzero_ps ();
  for (k = 0; k < K; k++) {
    x0 = _mm512_set1_ps (a0[k]);
    x1 = _mm512_set1_ps (a1[k]);
#pragma GCC unroll 8
    for (v = 0; v < 8; v++) {
      gsize at = (gsize) k * PANEL + 16 * v;
      acc0[v] = _mm512_fmadd_ps (x0, weights_avx512 (kind, w0, at), acc0[v]);
      acc1[v] = _mm512_fmadd_ps (x1, weights_avx512 (kind, w1, at), acc1[v]);
    }
  }
#pragma GCC unroll 8
  for (v = 0; v < 8; v++) {
    _mm512_storeu_ps (c0 + 16 * v, finish_avx512 (kind, acc0[v], s0, 16 * v,
            _mm512_loadu_ps (c0 + 16 * v)));
    _mm512_storeu_ps (c1 + 16 * v, finish_avx512 (kind, acc1[v], s1, 16 * v,
            _mm512_loadu_ps (c1 + 16 * v)));
  }
}

/* *INDENT-OFF* */
__attribute__ ((target ("avx512f")))
static void
pair_avx512 (guint kind, guint K, const float *a0, gconstpointer w0,
    const float *s0, float *c0, const float *a1, gconstpointer w1,
    const float *s1, float *c1)
{
  switch (kind) {
    case KIND_F16:
      two_panels_avx512 (KIND_F16, K, a0, w0, s0, c0, a1, w1, s1, c1);
      break;
    case KIND_I8:
      two_panels_avx512 (KIND_I8, K, a0, w0, s0, c0, a1, w1, s1, c1);
      break;
    default:
      two_panels_avx512 (KIND_F32, K, a0, w0, s0, c0, a1, w1, s1, c1);
      break;
  }
}
/* *INDENT-ON* */

/* A switch over the tiles of mr <= 6 rows and nv <= 8 vectors (mr * nv
 * <= 24) of one kind of weights. */
#define TILE512(KIND, MR, NV) case (MR) * 16 + (NV): \
  tile_avx512 (KIND, MR, NV, K, A, lda, w, s, bias, width, C, ldc, cols); break
#define TILES512(KIND) \
  TILE512 (KIND, 1, 1); TILE512 (KIND, 1, 2); TILE512 (KIND, 1, 3); \
  TILE512 (KIND, 1, 4); TILE512 (KIND, 1, 5); TILE512 (KIND, 1, 6); \
  TILE512 (KIND, 1, 7); TILE512 (KIND, 1, 8); TILE512 (KIND, 2, 1); \
  TILE512 (KIND, 2, 2); TILE512 (KIND, 2, 3); TILE512 (KIND, 2, 4); \
  TILE512 (KIND, 2, 5); TILE512 (KIND, 2, 6); TILE512 (KIND, 2, 7); \
  TILE512 (KIND, 2, 8); TILE512 (KIND, 3, 1); TILE512 (KIND, 3, 2); \
  TILE512 (KIND, 3, 3); TILE512 (KIND, 3, 4); TILE512 (KIND, 4, 1); \
  TILE512 (KIND, 4, 2); TILE512 (KIND, 4, 3); TILE512 (KIND, 4, 4); \
  TILE512 (KIND, 5, 1); TILE512 (KIND, 5, 2); TILE512 (KIND, 5, 3); \
  TILE512 (KIND, 5, 4); TILE512 (KIND, 6, 1); TILE512 (KIND, 6, 2); \
  TILE512 (KIND, 6, 3); TILE512 (KIND, 6, 4); \
  default: g_assert_not_reached ()

/* *INDENT-OFF* */
__attribute__ ((target ("avx512f")))
static void
block_avx512 (guint kind, guint mr, guint nv, guint K, const float *A,
    gsize lda, gconstpointer w, const float *s, const float *bias,
    guint width, float *C, gsize ldc, guint cols)
{
  switch (kind) {
    case KIND_F16: switch (mr * 16 + nv) { TILES512 (KIND_F16); } break;
    case KIND_I8: switch (mr * 16 + nv) { TILES512 (KIND_I8); } break;
    default: switch (mr * 16 + nv) { TILES512 (KIND_F32); } break;
  }
}
/* *INDENT-ON* */

#undef TILES512
#undef TILE512

/* ----------------------------------------------------------- AVX2 + FMA */

#define AVX2_INLINE static inline \
  __attribute__ ((always_inline, target ("avx2,fma,f16c")))

/* 8 weights of a panel row as floats. */
AVX2_INLINE __m256
weights_avx2 (const guint kind, gconstpointer w, gsize at)
{
  if (kind == KIND_F16)
    return _mm256_cvtph_ps (_mm_load_si128 ((const __m128i *)
            ((const guint16 *) w + at)));
  if (kind == KIND_I8)
    return _mm256_cvtepi32_ps (_mm256_cvtepi8_epi32 (_mm_loadl_epi64
            ((const __m128i *) ((const gint8 *) w + at))));
  return _mm256_load_ps ((const float *) w + at);
}

/* The same tile with 8-lane vectors: at most 8 accumulators of 16 ymm. */
AVX2_INLINE void
tile_avx2 (const guint kind, const guint mr, const guint nv, guint K,
    const float *A, gsize lda, gconstpointer w, const float *s,
    const float *bias, guint width, float *C, gsize ldc, guint cols)
{
  __m256 acc[2][8], b[8], a;
  guint r, v, k;

#pragma GCC unroll 2
  for (r = 0; r < mr; r++)
#pragma GCC unroll 8
    for (v = 0; v < nv; v++)
      acc[r][v] = _mm256_setzero_ps ();
  for (k = 0; k < K; k++) {
#pragma GCC unroll 8
    for (v = 0; v < nv; v++)
      b[v] = weights_avx2 (kind, w, (gsize) k * width + 8 * v);
#pragma GCC unroll 2
    for (r = 0; r < mr; r++) {
      a = _mm256_broadcast_ss (A + r * lda + k);
#pragma GCC unroll 8
      for (v = 0; v < nv; v++)
        acc[r][v] = _mm256_fmadd_ps (a, b[v], acc[r][v]);
    }
  }
#pragma GCC unroll 2
  for (r = 0; r < mr; r++) {
#pragma GCC unroll 8
    for (v = 0; v < nv; v++) {
      float *c = C + r * ldc + 8 * v;
      guint n = 8 * v < cols ? MIN (8, cols - 8 * v) : 0, l;
      if (n == 8) {
        __m256 c0 = _mm256_loadu_ps (bias != NULL ? bias + 8 * v : c);
        _mm256_storeu_ps (c, kind == KIND_I8 ?
            _mm256_fmadd_ps (acc[r][v], _mm256_load_ps (s + 8 * v), c0) :
            _mm256_add_ps (c0, acc[r][v]));
      } else {
        float t[8];
        _mm256_storeu_ps (t, acc[r][v]);
        for (l = 0; l < n; l++) {
          float c0 = bias != NULL ? bias[8 * v + l] : c[l];
          c[l] = kind == KIND_I8 ? fmaf (t[l], s[8 * v + l], c0) : c0 + t[l];
        }
      }
    }
  }
}

/* Tiles of mr <= 2 rows and nv <= 8 vectors (mr * nv <= 8). */
#define TILE256(KIND, MR, NV) case (MR) * 16 + (NV): \
  tile_avx2 (KIND, MR, NV, K, A, lda, w, s, bias, width, C, ldc, cols); break
#define TILES256(KIND) \
  TILE256 (KIND, 1, 1); TILE256 (KIND, 1, 2); TILE256 (KIND, 1, 3); \
  TILE256 (KIND, 1, 4); TILE256 (KIND, 1, 5); TILE256 (KIND, 1, 6); \
  TILE256 (KIND, 1, 7); TILE256 (KIND, 1, 8); TILE256 (KIND, 2, 1); \
  TILE256 (KIND, 2, 2); TILE256 (KIND, 2, 3); TILE256 (KIND, 2, 4); \
  default: g_assert_not_reached ()

/* *INDENT-OFF* */
__attribute__ ((target ("avx2,fma,f16c")))
static void
block_avx2 (guint kind, guint mr, guint nv, guint K, const float *A,
    gsize lda, gconstpointer w, const float *s, const float *bias,
    guint width, float *C, gsize ldc, guint cols)
{
  switch (kind) {
    case KIND_F16: switch (mr * 16 + nv) { TILES256 (KIND_F16); } break;
    case KIND_I8: switch (mr * 16 + nv) { TILES256 (KIND_I8); } break;
    default: switch (mr * 16 + nv) { TILES256 (KIND_F32); } break;
  }
}
/* *INDENT-ON* */

#undef TILES256
#undef TILE256

#endif /* HAVE_X86_KERNELS */

/* ---------------------------------------------------------------- driver */

typedef void (*BlockFunc) (guint kind, guint mr, guint nv, guint K,
    const float *A, gsize lda, gconstpointer w, const float *s,
    const float *bias, guint width, float *C, gsize ldc, guint cols);
typedef void (*PairFunc) (guint kind, guint K, const float *a0,
    gconstpointer w0, const float *s0, float *c0, const float *a1,
    gconstpointer w1, const float *s1, float *c1);

/* How a kernel set cuts a panel: `lanes` floats per vector; with
 * M <= wide_rows, tiles of all M rows and up to wide_vectors vectors; else
 * tiles of up to max_rows rows and narrow_vectors vectors. `pair`, when
 * not NULL, takes one row against two whole panels at once. */
typedef struct
{
  BlockFunc block;
  guint lanes, wide_rows, wide_vectors, max_rows, narrow_vectors;
  PairFunc pair;
} Cutting;

static const gsize elem_size[] = { 4, 2, 1 };

/* Panel q of a pack, and its columns' int8 scales (NULL for others). */
static gconstpointer
panel_data (const LstmPacked * p, guint q)
{
  return (const guint8 *) p->data
      + (gsize) q * p->k * p->width * elem_size[p->kind];
}

static const float *
panel_scale (const LstmPacked * p, guint q)
{
  return p->scale != NULL ? p->scale + (gsize) q * p->width : NULL;
}

/* Whole panels: those with all PANEL columns in use. */
static guint
whole_panels (const LstmPacked * p)
{
  return p->width == PANEL ? p->n / PANEL : 0;
}

/* Rows 0 .. M-1 in tiles of near-equal height <= max_rows. */
static void
rows_in_tiles (const Cutting * cut, guint kind, guint M, guint nv, guint K,
    const float *A, gsize lda, gconstpointer w, const float *s,
    const float *bias, guint width, float *C, gsize ldc, guint cols)
{
  guint n_tiles = (M + cut->max_rows - 1) / cut->max_rows;
  guint base = M / n_tiles, extra = M % n_tiles, t, i = 0;

  for (t = 0; t < n_tiles; t++) {
    guint mr = base + (t < extra ? 1 : 0);
    cut->block (kind, mr, nv, K, A + (gsize) i * lda, lda, w, s, bias, width,
        C + (gsize) i * ldc, ldc, cols);
    i += mr;
  }
}

/* (Inlined into each of its three callers, with kernels_for: a separate
 * call per product cost S2's 8 x 32 model 4 % of its core speed, where a
 * frame takes 0.1 us.)
 *
 * Panels `from` .. n_panels - 1 of the product, C += A W^T, or with
 * `bias` (a row of N) C = bias + A W^T; with one row and no bias, whole
 * panels two at a time when the kernel set can. */
static inline __attribute__ ((always_inline)) void
gemm_packed (const Cutting * cut, guint M, const float *A, gsize lda,
    const LstmPacked * p, const float *bias, float *C, gsize ldc, guint from)
{
  guint K = p->k, n_vec = p->width / cut->lanes, q = from, v0;
  gboolean wide = M <= cut->wide_rows;
  guint step = wide ? cut->wide_vectors : cut->narrow_vectors;

  if (M == 1 && cut->pair != NULL && bias == NULL)
    for (; q + 2 <= whole_panels (p); q += 2)
      cut->pair (p->kind, K, A, panel_data (p, q), panel_scale (p, q),
          C + (gsize) q * PANEL, A, panel_data (p, q + 1),
          panel_scale (p, q + 1), C + (gsize) (q + 1) * PANEL);
  for (; q < p->n_panels; q++) {
    guint first = q * p->width, cols = MIN (p->width, p->n - first);

    for (v0 = 0; v0 < n_vec && cut->lanes * v0 < cols; v0 += step) {
      guint nv = MIN (step, n_vec - v0);
      guint c = MIN (cols - cut->lanes * v0, nv * cut->lanes);
      gsize col = first + cut->lanes * v0;
      gconstpointer w = (const guint8 *) panel_data (p, q)
          + (gsize) cut->lanes * v0 * elem_size[p->kind];
      const float *s = p->scale != NULL ? p->scale + col : NULL;
      const float *b = bias != NULL ? bias + col : NULL;
      if (wide)
        cut->block (p->kind, M, nv, K, A, lda, w, s, b, p->width, C + col,
            ldc, c);
      else
        rows_in_tiles (cut, p->kind, M, nv, K, A, lda, w, s, b, p->width,
            C + col, ldc, c);
    }
  }
}

#ifdef HAVE_X86_KERNELS
static const Cutting cutting_avx512 =
    { block_avx512, 16, 2, 8, 6, 4, pair_avx512 };
static const Cutting cutting_avx2 = { block_avx2, 8, 1, 8, 2, 4, NULL };
#else
static const Cutting cutting_avx2;      /* never chosen */
#endif

/* The set lstm-blas.c chose (LSTM_BLAS_KERNELS caps both the same way);
 * NULL: OpenBLAS. */
static const Cutting *
get_cutting (void)
{
#ifdef HAVE_X86_KERNELS
  const gchar *k = lstm_blas_get_kernels ();
  if (g_str_equal (k, "avx512"))
    return &cutting_avx512;
  if (g_str_equal (k, "avx2"))
    return &cutting_avx2;
#endif
  return NULL;
}

/* The kernel set for pack p, or NULL: the fallback. */
static inline __attribute__ ((always_inline)) const Cutting *
kernels_for (const LstmPacked * p)
{
  static const Cutting *cut;
  static gboolean have_f16c;
  static gsize chosen;

  if (g_once_init_enter (&chosen)) {
    cut = get_cutting ();
#ifdef HAVE_X86_KERNELS
    /* every AVX2 CPU we know has F16C, but a virtual machine may hide it:
     * then half packs take the fallback, on the rounded weights */
    {
      guint a, b, c, d;
      have_f16c = __get_cpuid (1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
    }
#endif
    g_once_init_leave (&chosen, 1);
  }
  if (cut != NULL && (p->kind != KIND_F16 || cut != &cutting_avx2 || have_f16c))
    return cut;
  return NULL;
}

void
lstm_blas_gemm_packed (guint M, const float *A, gsize lda,
    const LstmPacked * p, float *C, gsize ldc)
{
  const Cutting *cut = kernels_for (p);

  if (M == 0)
    return;
  if (cut != NULL)
    gemm_packed (cut, M, A, lda, p, NULL, C, ldc, 0);
  else
    lstm_blas_gemm_nt (M, p->n, p->k, A, lda, p->w, p->k, C, ldc);
}

void
lstm_blas_gemm_packed_bias (guint M, const float *A, gsize lda,
    const LstmPacked * p, const float *bias, float *C, gsize ldc)
{
  const Cutting *cut = kernels_for (p);
  guint i;

  if (M == 0)
    return;
  if (cut != NULL) {
    gemm_packed (cut, M, A, lda, p, bias, C, ldc, 0);
    return;
  }
  for (i = 0; i < M; i++)
    memcpy (C + (gsize) i * ldc, bias, p->n * sizeof (float));
  lstm_blas_gemm_nt (M, p->n, p->k, A, lda, p->w, p->k, C, ldc);
}

void
lstm_blas_gemv_packed_pair (const float *a0, const LstmPacked * p0,
    float *c0, const float *a1, const LstmPacked * p1, float *c1)
{
  const Cutting *cut = kernels_for (p0);
  guint q = 0;

  if (cut != NULL && cut->pair != NULL && p1->kind == p0->kind
      && p1->k == p0->k && whole_panels (p1) == whole_panels (p0)) {
    for (; q < whole_panels (p0); q++)
      cut->pair (p0->kind, p0->k, a0, panel_data (p0, q), panel_scale (p0,
              q), c0 + (gsize) q * PANEL, a1, panel_data (p1, q),
          panel_scale (p1, q), c1 + (gsize) q * PANEL);
    gemm_packed (cut, 1, a0, p0->k, p0, NULL, c0, 0, q);
    gemm_packed (cut, 1, a1, p1->k, p1, NULL, c1, 0, q);
    return;
  }
  lstm_blas_gemm_packed (1, a0, p0->k, p0, c0, 0);
  lstm_blas_gemm_packed (1, a1, p1->k, p1, c1, 0);
}

/* ------------------------------------------------------------ model packs */

static LstmModelPacks *
packs_new (const LstmModel * m, LstmPrecision precision)
{
  LstmModelPacks *p = g_new0 (LstmModelPacks, 1);
  guint k;

  /* the variants (lstm-variant.c) run their layers on lstm-blas.c's
   * kernels; only their head is packed (float32: they have no other) */
  p->n_layers = lstm_model_is_plain (m) ? m->num_layers : 0;
  p->ih = g_new0 (LstmPacked *, p->n_layers);
  p->hh = g_new0 (LstmPacked *, p->n_layers);
  p->bias = g_new0 (float *, p->n_layers);
  for (k = 0; k < p->n_layers; k++) {
    const LstmLayer *l = &m->layers[k];
    guint j, G4 = 4 * l->hidden_size;
    p->ih[k] = lstm_packed_new (l->weight_ih, 4 * l->hidden_size,
        l->input_size, precision);
    p->bias[k] = g_new (float, G4);
    for (j = 0; j < G4; j++)
      p->bias[k][j] = l->bias_ih[j] + l->bias_hh[j];
    p->hh[k] = lstm_packed_new (l->weight_hh, 4 * l->hidden_size,
        l->hidden_size, precision);
  }
  if (m->head_size > 0)
    p->head = lstm_packed_new (m->head_weight, m->head_size,
        m->layer_output_size, precision);
  return p;
}

void
lstm_model_packs_free (LstmModelPacks * p)
{
  guint k;

  if (p == NULL)
    return;
  for (k = 0; k < p->n_layers; k++) {
    lstm_packed_free (p->ih[k]);
    lstm_packed_free (p->hh[k]);
    g_free (p->bias[k]);
  }
  g_free (p->ih);
  g_free (p->hh);
  g_free (p->bias);
  lstm_packed_free (p->head);
  g_free (p);
}

/* The packs of the model's weight precision, made on first use; two
 * threads racing both make one and one is kept. */
const LstmModelPacks *
lstm_model_get_packs (const LstmModel * m)
{
  gpointer *slot = &((LstmModel *) m)->packs[m->precision];
  LstmModelPacks *p = g_atomic_pointer_get (slot);

  if (G_LIKELY (p != NULL))
    return p;
  p = packs_new (m, m->precision);
  if (!g_atomic_pointer_compare_and_exchange (slot, NULL, p)) {
    lstm_model_packs_free (p);
    p = g_atomic_pointer_get (slot);
  }
  return p;
}

void
lstm_model_weights_changed (LstmModel * model)
{
  guint i;

  g_return_if_fail (model != NULL);
  for (i = 0; i < G_N_ELEMENTS (model->packs); i++)
    lstm_model_packs_free (g_atomic_pointer_exchange (&model->packs[i], NULL));
}
