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
 *   C[i, j] += acc[i, j]
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
 * A half-precision pack (LSTM_WEIGHTS_F16) holds the same panels as IEEE
 * halves; the kernels widen each vector to float32 as they load it
 * (F16C's vcvtph2ps, exact) and go on as above, so it gives exactly the
 * float32 result for the weights rounded to half, with half the bytes.
 */
#include "lstm-private.h"

#include <math.h>
#include <string.h>

#if defined (__x86_64__) && defined (__GNUC__)
#define HAVE_X86_KERNELS 1
#include <immintrin.h>
#endif

#define PANEL 128               /* output columns per panel, at most */

struct _LstmPacked
{
  guint n, k;                   /* W is [n, k] */
  guint width;                  /* P: columns per panel, a multiple of 16 */
  guint n_panels;
  gboolean half;                /* panels of IEEE halves, else floats */
  gpointer data;                /* [n_panels, k, width] floats or halves */
  const float *w;               /* the fallback's row-major W: the model's */
  float *rounded;               /* ... or, for halves, W rounded (owned) */
};

/* IEEE half from float, rounded to nearest, ties to even. */
static guint16
half_from_float (float f)
{
  guint32 x, a, h, rest;
  guint16 sign;

  memcpy (&x, &f, sizeof x);
  sign = (x >> 16) & 0x8000;
  a = x & 0x7fffffff;
  if (a > 0x7f800000)           /* NaN: stays a (quiet) NaN */
    return sign | 0x7e00;
  if (a >= 0x477ff000)          /* from 65520 up, and infinity */
    return sign | 0x7c00;
  if (a < 0x38800000) {         /* below 2^-14: subnormal halves of 2^-24 */
    float m;
    memcpy (&m, &a, sizeof m);
    return sign | (guint16) nearbyintf (m * 16777216.0f);
  }
  /* rebias the exponent (127 -> 15), keep 10 of the 23 fraction bits and
   * round on the other 13 (a carry rolls into the exponent, as it should) */
  h = (a >> 13) - (112u << 10);
  rest = a & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
    h++;
  return sign | (guint16) h;
}

/* The float a half stands for (exact). */
static float
float_from_half (guint16 h)
{
  guint32 sign = (guint32) (h & 0x8000) << 16, e = (h >> 10) & 0x1f;
  guint32 m = h & 0x3ff, x;
  float f;

  if (e == 0) {
    f = m * (1.0f / 16777216.0f);
    return sign ? -f : f;
  }
  x = sign | (e == 31 ? 0x7f800000 | (m << 13) : ((e + 112) << 23) | (m << 13));
  memcpy (&f, &x, sizeof f);
  return f;
}

float
lstm_half_round (float x)
{
  return float_from_half (half_from_float (x));
}

LstmPacked *
lstm_packed_new (const float *w, guint n, guint k, LstmWeights weights)
{
  LstmPacked *p;
  gsize size, at;
  guint j, i;

  g_return_val_if_fail (w != NULL && n > 0 && k > 0, NULL);

  p = g_new0 (LstmPacked, 1);
  p->n = n;
  p->k = k;
  p->width = n >= PANEL ? PANEL : (n + 15) / 16 * 16;
  p->n_panels = (n + p->width - 1) / p->width;
  p->half = weights == LSTM_WEIGHTS_F16;
  p->w = w;
  size = (gsize) p->n_panels * k * p->width;
  p->data = g_aligned_alloc0 (size, p->half ? 2 : 4, 64);
  if (p->half)
    p->rounded = g_new (float, (gsize) n * k);
  for (j = 0; j < n; j++)
    for (i = 0; i < k; i++) {
      float v = w[(gsize) j * k + i];
      at = ((gsize) (j / p->width) * k + i) * p->width + j % p->width;
      if (p->half) {
        guint16 h = half_from_float (v);
        ((guint16 *) p->data)[at] = h;
        p->rounded[(gsize) j * k + i] = float_from_half (h);
      } else {
        ((float *) p->data)[at] = v;
      }
    }
  if (p->half)
    p->w = p->rounded;
  return p;
}

void
lstm_packed_free (LstmPacked * p)
{
  if (p == NULL)
    return;
  g_aligned_free (p->data);
  g_free (p->rounded);
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
/* 16 weights of a panel row: floats, or halves widened exactly. */
AVX512_INLINE __m512
weights_avx512 (const gboolean half, gconstpointer w, gsize at)
{
  if (half)
    return _mm512_cvtph_ps (_mm256_load_si256 ((const __m256i *)
            ((const guint16 *) w + at)));
  return _mm512_load_ps ((const float *) w + at);
}

AVX512_INLINE void
tile_avx512 (const gboolean half, const guint mr, const guint nv, guint K,
    const float *A, gsize lda, gconstpointer w, guint width, float *C,
    gsize ldc, guint cols)
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
      b[v] = weights_avx512 (half, w, (gsize) k * width + 16 * v);
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
      _mm512_mask_storeu_ps (c, m, _mm512_add_ps (_mm512_maskz_loadu_ps (m,
                  c), acc[r][v]));
    }
  }
}

/* A switch over the tiles of mr <= 6 rows and nv <= 8 vectors (mr * nv
 * <= 24) with float or half weights. */
#define TILE512(H, MR, NV) case (MR) * 16 + (NV): \
  tile_avx512 (H, MR, NV, K, A, lda, w, width, C, ldc, cols); break
#define TILES512(H) \
  TILE512 (H, 1, 1); TILE512 (H, 1, 2); TILE512 (H, 1, 3); \
  TILE512 (H, 1, 4); TILE512 (H, 1, 5); TILE512 (H, 1, 6); \
  TILE512 (H, 1, 7); TILE512 (H, 1, 8); TILE512 (H, 2, 1); \
  TILE512 (H, 2, 2); TILE512 (H, 2, 3); TILE512 (H, 2, 4); \
  TILE512 (H, 2, 5); TILE512 (H, 2, 6); TILE512 (H, 2, 7); \
  TILE512 (H, 2, 8); TILE512 (H, 3, 1); TILE512 (H, 3, 2); \
  TILE512 (H, 3, 3); TILE512 (H, 3, 4); TILE512 (H, 4, 1); \
  TILE512 (H, 4, 2); TILE512 (H, 4, 3); TILE512 (H, 4, 4); \
  TILE512 (H, 5, 1); TILE512 (H, 5, 2); TILE512 (H, 5, 3); \
  TILE512 (H, 5, 4); TILE512 (H, 6, 1); TILE512 (H, 6, 2); \
  TILE512 (H, 6, 3); TILE512 (H, 6, 4); \
  default: g_assert_not_reached ()

/* *INDENT-OFF* */
__attribute__ ((target ("avx512f")))
static void
block_avx512 (gboolean half, guint mr, guint nv, guint K, const float *A,
    gsize lda, gconstpointer w, guint width, float *C, gsize ldc, guint cols)
{
  if (half)
    switch (mr * 16 + nv) { TILES512 (TRUE); }
  else
    switch (mr * 16 + nv) { TILES512 (FALSE); }
}
/* *INDENT-ON* */

#undef TILES512
#undef TILE512

/* ----------------------------------------------------------- AVX2 + FMA */

#define AVX2_INLINE static inline \
  __attribute__ ((always_inline, target ("avx2,fma,f16c")))

/* 8 weights of a panel row: floats, or halves widened exactly. */
AVX2_INLINE __m256
weights_avx2 (const gboolean half, gconstpointer w, gsize at)
{
  if (half)
    return _mm256_cvtph_ps (_mm_load_si128 ((const __m128i *)
            ((const guint16 *) w + at)));
  return _mm256_load_ps ((const float *) w + at);
}

/* The same tile with 8-lane vectors: at most 8 accumulators of 16 ymm. */
AVX2_INLINE void
tile_avx2 (const gboolean half, const guint mr, const guint nv, guint K,
    const float *A, gsize lda, gconstpointer w, guint width, float *C,
    gsize ldc, guint cols)
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
      b[v] = weights_avx2 (half, w, (gsize) k * width + 8 * v);
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
        _mm256_storeu_ps (c, _mm256_add_ps (_mm256_loadu_ps (c), acc[r][v]));
      } else {
        float t[8];
        _mm256_storeu_ps (t, acc[r][v]);
        for (l = 0; l < n; l++)
          c[l] += t[l];
      }
    }
  }
}

/* Tiles of mr <= 2 rows and nv <= 8 vectors (mr * nv <= 8). */
#define TILE256(H, MR, NV) case (MR) * 16 + (NV): \
  tile_avx2 (H, MR, NV, K, A, lda, w, width, C, ldc, cols); break
#define TILES256(H) \
  TILE256 (H, 1, 1); TILE256 (H, 1, 2); TILE256 (H, 1, 3); \
  TILE256 (H, 1, 4); TILE256 (H, 1, 5); TILE256 (H, 1, 6); \
  TILE256 (H, 1, 7); TILE256 (H, 1, 8); TILE256 (H, 2, 1); \
  TILE256 (H, 2, 2); TILE256 (H, 2, 3); TILE256 (H, 2, 4); \
  default: g_assert_not_reached ()

/* *INDENT-OFF* */
__attribute__ ((target ("avx2,fma,f16c")))
static void
block_avx2 (gboolean half, guint mr, guint nv, guint K, const float *A,
    gsize lda, gconstpointer w, guint width, float *C, gsize ldc, guint cols)
{
  if (half)
    switch (mr * 16 + nv) { TILES256 (TRUE); }
  else
    switch (mr * 16 + nv) { TILES256 (FALSE); }
}
/* *INDENT-ON* */

#undef TILES256
#undef TILE256

#endif /* HAVE_X86_KERNELS */

/* ---------------------------------------------------------------- driver */

typedef void (*BlockFunc) (gboolean half, guint mr, guint nv, guint K,
    const float *A, gsize lda, gconstpointer w, guint width, float *C,
    gsize ldc, guint cols);

/* How a kernel set cuts a panel: `lanes` floats per vector; with
 * M <= wide_rows, tiles of all M rows and up to wide_vectors vectors; else
 * tiles of up to max_rows rows and narrow_vectors vectors. */
typedef struct
{
  BlockFunc block;
  guint lanes, wide_rows, wide_vectors, max_rows, narrow_vectors;
} Cutting;

/* Rows i0 .. M-1 in tiles of near-equal height <= max_rows. */
static void
rows_in_tiles (const Cutting * cut, gboolean half, guint M, guint nv,
    guint K, const float *A, gsize lda, gconstpointer w, guint width,
    float *C, gsize ldc, guint cols)
{
  guint n_tiles = (M + cut->max_rows - 1) / cut->max_rows;
  guint base = M / n_tiles, extra = M % n_tiles, t, i = 0;

  for (t = 0; t < n_tiles; t++) {
    guint mr = base + (t < extra ? 1 : 0);
    cut->block (half, mr, nv, K, A + (gsize) i * lda, lda, w, width,
        C + (gsize) i * ldc, ldc, cols);
    i += mr;
  }
}

static void
gemm_packed (const Cutting * cut, guint M, const float *A, gsize lda,
    const LstmPacked * p, float *C, gsize ldc)
{
  guint K = p->k, n_vec = p->width / cut->lanes, q, v0;
  gboolean wide = M <= cut->wide_rows;
  guint step = wide ? cut->wide_vectors : cut->narrow_vectors;
  gsize elem = p->half ? 2 : 4;

  for (q = 0; q < p->n_panels; q++) {
    guint first = q * p->width, cols = MIN (p->width, p->n - first);

    for (v0 = 0; v0 < n_vec && cut->lanes * v0 < cols; v0 += step) {
      guint nv = MIN (step, n_vec - v0);
      guint c = MIN (cols - cut->lanes * v0, nv * cut->lanes);
      gconstpointer w = (const guint8 *) p->data
          + ((gsize) q * K * p->width + cut->lanes * v0) * elem;
      float *Cv = C + first + cut->lanes * v0;
      if (wide)
        cut->block (p->half, M, nv, K, A, lda, w, p->width, Cv, ldc, c);
      else
        rows_in_tiles (cut, p->half, M, nv, K, A, lda, w, p->width, Cv, ldc, c);
    }
  }
}

#ifdef HAVE_X86_KERNELS
static const Cutting cutting_avx512 = { block_avx512, 16, 2, 8, 6, 4 };
static const Cutting cutting_avx2 = { block_avx2, 8, 1, 8, 2, 4 };
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

void
lstm_blas_gemm_packed (guint M, const float *A, gsize lda,
    const LstmPacked * p, float *C, gsize ldc)
{
  static const Cutting *cut;
  static gboolean have_f16c;
  static gsize chosen;

  if (M == 0)
    return;
  if (g_once_init_enter (&chosen)) {
    cut = get_cutting ();
#ifdef HAVE_X86_KERNELS
    /* every AVX2 CPU we know has F16C, but a virtual machine may hide it:
     * then half packs take the fallback, on the rounded weights */
    have_f16c = __builtin_cpu_supports ("f16c");
#endif
    g_once_init_leave (&chosen, 1);
  }
  if (cut != NULL && (!p->half || cut != &cutting_avx2 || have_f16c))
    gemm_packed (cut, M, A, lda, p, C, ldc);
  else
    lstm_blas_gemm_nt (M, p->n, p->k, A, lda, p->w, p->k, C, ldc);
}

/* ------------------------------------------------------------ model packs */

static LstmModelPacks *
packs_new (const LstmModel * m, LstmWeights weights)
{
  LstmModelPacks *p = g_new0 (LstmModelPacks, 1);
  guint k;

  /* the variants (lstm-variant.c) run their layers on lstm-blas.c's
   * kernels; only their head is packed */
  p->n_layers = lstm_model_is_plain (m) ? m->num_layers : 0;
  p->ih = g_new0 (LstmPacked *, p->n_layers);
  p->hh = g_new0 (LstmPacked *, p->n_layers);
  for (k = 0; k < p->n_layers; k++) {
    const LstmLayer *l = &m->layers[k];
    p->ih[k] = lstm_packed_new (l->weight_ih, 4 * l->hidden_size,
        l->input_size, weights);
    p->hh[k] = lstm_packed_new (l->weight_hh, 4 * l->hidden_size,
        l->hidden_size, weights);
  }
  if (m->head_size > 0)
    p->head = lstm_packed_new (m->head_weight, m->head_size,
        m->layer_output_size, weights);
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
  }
  g_free (p->ih);
  g_free (p->hh);
  lstm_packed_free (p->head);
  g_free (p);
}

/* Made on first use; two threads racing both make one and one is kept. */
const LstmModelPacks *
lstm_model_get_packs (const LstmModel * m, LstmWeights weights)
{
  gpointer *slot = &((LstmModel *) m)->packs[weights];
  LstmModelPacks *p = g_atomic_pointer_get (slot);

  if (G_LIKELY (p != NULL))
    return p;
  p = packs_new (m, weights);
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
