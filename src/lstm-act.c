/* The gate non-linearities of the forward pass, vectorised.
 *
 * libm's expf/tanhf are one call per value; for an LSTM of 128 units that
 * is 640 calls per frame and layer, more time than the matrix products
 * (perf, BENCHMARKS.md). Here the same functions are evaluated 16 (AVX-512)
 * or 8 (AVX2) at a time from one polynomial, in float:
 *
 *   exp (x)  = 2^n p(r),  n = round (x log2 e),  r = x - n ln 2 (two-part
 *              ln 2 so r is exact), |r| <= ln 2 / 2, p = Taylor to r^7
 *              (truncation <= 0.347^8 / 8! = 5e-9 relative)
 *   sigmoid (x) = 1 / (1 + exp (-x))                    x clamped to +-88
 *   tanh (x)    = x + x^3 q(x^2)         for |x| < 1/2, q = Taylor to x^15
 *                                        (truncation 2.2e-8 relative)
 *               = sign (x) (1 - 2 / (exp (2|x|) + 1))   otherwise, |x| <= 20
 *
 * Every path (AVX-512, AVX2 + FMA, plain C) performs the same IEEE
 * operations in the same order with fused multiply-adds, so all three give
 * the same bits and the choice of kernel never changes a result. Measured
 * error against double precision over [-30, 30] (tests/test-act.c): 2.3
 * float ulps for sigmoid, 1.2 for tanh; libm's is 1-2.
 */
#include "lstm-private.h"

#include <math.h>
#include <string.h>

#if defined (__x86_64__) && defined (__GNUC__)
#define HAVE_X86_KERNELS 1
#include <immintrin.h>
#endif

#define LOG2E     1.44269504088896341f
#define LN2_HI    0.693359375f  /* 8 significant bits: n * LN2_HI is exact */
#define LN2_LO   -2.12194440e-4f
#define EXP_CLAMP 88.0f
#define TANH_CLAMP 20.0f
#define TANH_SMALL 0.5f

/* 1/k! for k = 2..7, highest first (Horner) */
static const float exp_coef[] = {
  1.0f / 5040.0f, 1.0f / 720.0f, 1.0f / 120.0f, 1.0f / 24.0f, 1.0f / 6.0f,
  0.5f,
};

/* tanh (x) / x - 1 = x^2 q(x^2): the Taylor coefficients of tanh from x^3
 * to x^15, highest first: -1/3, 2/15, -17/315, 62/2835, -1382/155925,
 * 21844/6081075, -929569/638512875. */
static const float tanh_coef[] = {
  -929569.0f / 638512875.0f, 21844.0f / 6081075.0f, -1382.0f / 155925.0f,
  62.0f / 2835.0f, -17.0f / 315.0f, 2.0f / 15.0f, -1.0f / 3.0f,
};

/* ------------------------------------------------------------ plain C */

static inline float
exp_c1 (float x)
{
  float n = nearbyintf (x * LOG2E), r, p;
  union
  {
    gint32 i;
    float f;
  } scale;
  guint k;

  r = fmaf (n, -LN2_HI, x);
  r = fmaf (n, -LN2_LO, r);
  p = exp_coef[0];
  for (k = 1; k < G_N_ELEMENTS (exp_coef); k++)
    p = fmaf (p, r, exp_coef[k]);
  p = fmaf (p, r, 1.0f);
  p = fmaf (p, r, 1.0f);
  scale.i = ((gint32) n + 127) << 23;
  return p * scale.f;
}

static inline float
sigmoid_c1 (float x)
{
  /* as max_ps/min_ps do: a NaN gives the bound */
  x = fminf (fmaxf (x, -EXP_CLAMP), EXP_CLAMP);
  return 1.0f / (1.0f + exp_c1 (-x));
}

static inline float
tanh_c1 (float x)
{
  float a = fminf (fabsf (x), TANH_CLAMP), x2, q, t;
  guint k;

  if (a < TANH_SMALL) {
    x2 = x * x;
    q = tanh_coef[0];
    for (k = 1; k < G_N_ELEMENTS (tanh_coef); k++)
      q = fmaf (q, x2, tanh_coef[k]);
    return copysignf (fmaf (x * x2, q, x), x);  /* tanh (-0) = -0 */
  }
  t = 1.0f - 2.0f / (exp_c1 (a + a) + 1.0f);
  return copysignf (t, x);
}

/* c = f c + i z, h = o tanh (c) for units [from, H) */
static void
cell_c (const float *g, float *c, float *h, guint from, guint H)
{
  guint j;

  for (j = from; j < H; j++) {
    float i = sigmoid_c1 (g[j]);
    float f = sigmoid_c1 (g[H + j]);
    float z = tanh_c1 (g[2 * H + j]);
    float o = sigmoid_c1 (g[3 * H + j]);
    c[j] = fmaf (f, c[j], i * z);
    h[j] = o * tanh_c1 (c[j]);
  }
}

static void
sigmoid_c (float *x, guint from, guint n)
{
  guint j;
  for (j = from; j < n; j++)
    x[j] = sigmoid_c1 (x[j]);
}

static void
tanh_c (float *x, guint from, guint n)
{
  guint j;
  for (j = from; j < n; j++)
    x[j] = tanh_c1 (x[j]);
}

#ifdef HAVE_X86_KERNELS

/* The same operations, V lanes at a time. VEC_FUNCS (suffix, type, prefix,
 * target) defines exp, sigmoid, tanh and the cell update for one width. */
#define VEC_FUNCS(S, V, P, TARGET, NL)                                       \
static inline __attribute__ ((always_inline, target (TARGET))) V             \
exp_##S (V x)                                                                \
{                                                                            \
  V n = P##_round_ps (P##_mul_ps (x, P##_set1_ps (LOG2E)),                   \
      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);                        \
  V r = P##_fmadd_ps (n, P##_set1_ps (-LN2_HI), x), p;                       \
  guint k;                                                                   \
  r = P##_fmadd_ps (n, P##_set1_ps (-LN2_LO), r);                            \
  p = P##_set1_ps (exp_coef[0]);                                             \
  for (k = 1; k < G_N_ELEMENTS (exp_coef); k++)                              \
    p = P##_fmadd_ps (p, r, P##_set1_ps (exp_coef[k]));                      \
  p = P##_fmadd_ps (p, r, P##_set1_ps (1.0f));                               \
  p = P##_fmadd_ps (p, r, P##_set1_ps (1.0f));                               \
  return P##_mul_ps (p, P##_castsi##NL##_ps (P##_slli_epi32 (                \
              P##_add_epi32 (P##_cvtps_epi32 (n), P##_set1_epi32 (127)),     \
              23)));                                                         \
}                                                                            \
                                                                             \
static inline __attribute__ ((always_inline, target (TARGET))) V             \
sigmoid_##S (V x)                                                            \
{                                                                            \
  x = P##_min_ps (P##_max_ps (x, P##_set1_ps (-EXP_CLAMP)),                  \
      P##_set1_ps (EXP_CLAMP));                                              \
  return P##_div_ps (P##_set1_ps (1.0f), P##_add_ps (P##_set1_ps (1.0f),     \
          exp_##S (P##_sub_ps (P##_setzero_ps (), x))));                     \
}                                                                            \
                                                                             \
static inline __attribute__ ((always_inline, target (TARGET))) V             \
tanh_##S (V x)                                                               \
{                                                                            \
  V sign = P##_and_ps (x, P##_set1_ps (-0.0f));                              \
  V a = P##_min_ps (P##_andnot_ps (P##_set1_ps (-0.0f), x),                  \
      P##_set1_ps (TANH_CLAMP));                                             \
  V x2 = P##_mul_ps (x, x), q = P##_set1_ps (tanh_coef[0]), big;             \
  guint k;                                                                   \
  for (k = 1; k < G_N_ELEMENTS (tanh_coef); k++)                             \
    q = P##_fmadd_ps (q, x2, P##_set1_ps (tanh_coef[k]));                    \
  q = P##_fmadd_ps (P##_mul_ps (x, x2), q, x);                               \
  big = P##_sub_ps (P##_set1_ps (1.0f), P##_div_ps (P##_set1_ps (2.0f),      \
          P##_add_ps (exp_##S (P##_add_ps (a, a)), P##_set1_ps (1.0f))));    \
  return P##_or_ps (VEC_SELECT_##S (a, q, big), sign);                       \
}                                                                            \
                                                                             \
__attribute__ ((target (TARGET))) static guint                               \
cell_##S (const float *g, float *c, float *h, guint H)                       \
{                                                                            \
  const guint L = sizeof (V) / sizeof (float);                               \
  guint j;                                                                   \
  for (j = 0; j + L <= H; j += L) {                                          \
    V i = sigmoid_##S (P##_loadu_ps (g + j));                                \
    V f = sigmoid_##S (P##_loadu_ps (g + H + j));                            \
    V z = tanh_##S (P##_loadu_ps (g + 2 * H + j));                           \
    V o = sigmoid_##S (P##_loadu_ps (g + 3 * H + j));                        \
    V cj = P##_fmadd_ps (f, P##_loadu_ps (c + j), P##_mul_ps (i, z));        \
    P##_storeu_ps (c + j, cj);                                               \
    P##_storeu_ps (h + j, P##_mul_ps (o, tanh_##S (cj)));                    \
  }                                                                          \
  return j;                                                                  \
}                                                                            \
                                                                             \
__attribute__ ((target (TARGET))) static guint                               \
sigmoid_v_##S (float *x, guint n)                                            \
{                                                                            \
  const guint L = sizeof (V) / sizeof (float);                               \
  guint j;                                                                   \
  for (j = 0; j + L <= n; j += L)                                            \
    P##_storeu_ps (x + j, sigmoid_##S (P##_loadu_ps (x + j)));               \
  return j;                                                                  \
}                                                                            \
                                                                             \
__attribute__ ((target (TARGET))) static guint                               \
tanh_v_##S (float *x, guint n)                                               \
{                                                                            \
  const guint L = sizeof (V) / sizeof (float);                               \
  guint j;                                                                   \
  for (j = 0; j + L <= n; j += L)                                            \
    P##_storeu_ps (x + j, tanh_##S (P##_loadu_ps (x + j)));                  \
  return j;                                                                  \
}

/* lanes with |x| < 1/2 take the polynomial */
#define VEC_SELECT_avx512(a, small, big)                                     \
  _mm512_mask_blend_ps (_mm512_cmp_ps_mask (a,                               \
          _mm512_set1_ps (TANH_SMALL), _CMP_LT_OQ), big, small)
#define VEC_SELECT_avx2(a, small, big)                                       \
  _mm256_blendv_ps (big, small, _mm256_cmp_ps (a,                            \
          _mm256_set1_ps (TANH_SMALL), _CMP_LT_OQ))

/* AVX-512F has no plain round, and/or/andnot on floats (those are DQ). */
#define _mm512_round_ps(x, mode) _mm512_roundscale_ps (x, mode)
#define _mm512_and_ps(a, b) _mm512_castsi512_ps (_mm512_and_si512 (          \
          _mm512_castps_si512 (a), _mm512_castps_si512 (b)))
#define _mm512_or_ps(a, b) _mm512_castsi512_ps (_mm512_or_si512 (            \
          _mm512_castps_si512 (a), _mm512_castps_si512 (b)))
#define _mm512_andnot_ps(a, b) _mm512_castsi512_ps (_mm512_andnot_si512 (    \
          _mm512_castps_si512 (a), _mm512_castps_si512 (b)))

/* *INDENT-OFF* */
VEC_FUNCS (avx512, __m512, _mm512, "avx512f", 512)
VEC_FUNCS (avx2, __m256, _mm256, "avx2,fma", 256)
/* *INDENT-ON* */

#endif /* HAVE_X86_KERNELS */

/* ------------------------------------------------------------ dispatch */

typedef struct
{
  guint (*cell) (const float *g, float *c, float *h, guint H);
  guint (*sigmoid) (float *x, guint n);
  guint (*tanh) (float *x, guint n);
} ActKernels;

/* plain C does every element in the tail loop */
static guint
cell_none (const float *g, float *c, float *h, guint H)
{
  return 0;
}

static guint
vec_none (float *x, guint n)
{
  return 0;
}

static const ActKernels act_plain = { cell_none, vec_none, vec_none };

#ifdef HAVE_X86_KERNELS
static const ActKernels act_avx512 = { cell_avx512, sigmoid_v_avx512,
  tanh_v_avx512
};
static const ActKernels act_avx2 = { cell_avx2, sigmoid_v_avx2, tanh_v_avx2 };
#endif

/* The width the matrix kernels use (lstm-blas.c; LSTM_BLAS_KERNELS). The
 * result does not depend on it. */
static const ActKernels *
get_act (void)
{
  static const ActKernels *kernels;
  const ActKernels *k = g_atomic_pointer_get (&kernels);

  if (G_UNLIKELY (k == NULL)) {
    const gchar *name = lstm_blas_get_kernels ();
    k = &act_plain;
#ifdef HAVE_X86_KERNELS
    if (g_str_equal (name, "avx512"))
      k = &act_avx512;
    else if (g_str_equal (name, "avx2"))
      k = &act_avx2;
#endif
    g_atomic_pointer_set (&kernels, k);
  }
  return k;
}

/* ------------------------------------------------------------------ API */

void
lstm_act_cell (const float *gates, float *c, float *h, guint H)
{
  cell_c (gates, c, h, get_act ()->cell (gates, c, h, H), H);
}

void
lstm_act_sigmoid (float *x, guint n)
{
  sigmoid_c (x, get_act ()->sigmoid (x, n), n);
}

void
lstm_act_tanh (float *x, guint n)
{
  tanh_c (x, get_act ()->tanh (x, n), n);
}
