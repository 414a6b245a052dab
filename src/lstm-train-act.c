/* The element-wise kernels of training, vectorized: one cell's forward
 * and backward over a row (the gate non-linearities inside), and the
 * column sums of the bias gradients.
 *
 * glibc's tanhf and expf are scalar calls (tanhf through expm1f): they
 * cost as much as the whole matrix work of a training step (perf, 
 * tests/bench/bench-train). These use one exp, computed as Cephes's expf
 * does (S. L. Moshier, Cephes Math Library, expf.c):
 *
 *   n = round (x log2 e),  r = x - n ln 2 (ln 2 in two parts)
 *   exp (x) = 2^n (1 + r + r^2 P(r)),  P of degree 5,  |error| < 2 ulp
 *
 * for x clamped to [-87.3, 88.3] (2^n stays a normal float), and
 *
 *   sigmoid (x) = 1 / (1 + exp (-x))
 *   tanh (x)    = sign (x) (1 - 2 / (exp (2 |x|) + 1))        |x| >= 0.625
 *               = x + x^3 Q(x^2)  (Cephes tanhf.c)           |x| <  0.625
 *
 * (the odd polynomial keeps the relative error small near 0, where the
 * first form cancels). Within 2-3 ulp of libm over the float range: the
 * reference tests against PyTorch (whose own vectorized exp and tanh are
 * ~1 ulp) hold to the same tolerances either way. The kernel set follows
 * lstm_blas_get_kernels (); "openblas" uses libm's expf and tanhf.
 */
#include "lstm-train-private.h"

#include <math.h>

#if defined (__x86_64__) && defined (__GNUC__)
#define HAVE_X86_KERNELS 1
#include <immintrin.h>
#endif

#define EXP_HI 88.3762626647949f
#define EXP_LO -87.3365447504f
#define LOG2E 1.44269504088896341f
#define LN2_HI 0.693359375f
#define LN2_LO -2.12194440e-4f
#define P0 1.9875691500E-4f
#define P1 1.3981999507E-3f
#define P2 8.3334519073E-3f
#define P3 4.1665795894E-2f
#define P4 1.6666665459E-1f
#define P5 5.0000001201E-1f
#define TANH_SMALL 0.625f
#define Q0 -5.70498872745E-3f
#define Q1 2.06390887954E-2f
#define Q2 -5.37397155531E-2f
#define Q3 1.33314422036E-1f
#define Q4 -3.33332819422E-1f

typedef void (*CellForwardFunc) (const float *a, float *g,
    const float *c_prev, float *c, float *tc, float *y, float *y2, guint H);
typedef void (*CellBackwardFunc) (const float *g, const float *tc,
    const float *c_prev, const float *dy, const float *dh, float *dc,
    float *da, guint H);
typedef void (*ColumnSumsFunc) (gsize M, guint N, const float *A, gsize lda,
    float *y);

/* ----------------------------------------------------------------- libm */

/* One frame of one sequence: from the 4H pre-activations a, the gate
 * values into g (which may be a); c_prev [H] in; c, tc = tanh (c),
 * y = h [H] out, and h into y2 too unless it is NULL. */
static void
cell_forward_libm (const float *a, float *g, const float *c_prev, float *c,
    float *tc, float *y, float *y2, guint H)
{
  float *gi = g, *gf = g + H, *gg = g + 2 * H, *go = g + 3 * H;
  guint j;

  for (j = 0; j < H; j++) {
    /* i = sigmoid (a_i), f = sigmoid (a_f), g = tanh (a_g),
     * o = sigmoid (a_o) */
    float i = 1.0f / (1.0f + expf (-a[j]));
    float f = 1.0f / (1.0f + expf (-a[H + j]));
    float z = tanhf (a[2 * H + j]);
    float o = 1.0f / (1.0f + expf (-a[3 * H + j]));
    gi[j] = i;
    gf[j] = f;
    gg[j] = z;
    go[j] = o;
    /* c_t = f * c_{t-1} + i * g;  h_t = o * tanh (c_t) */
    c[j] = f * c_prev[j] + i * z;
    tc[j] = tanhf (c[j]);
    y[j] = o * tc[j];
    if (y2 != NULL)
      y2[j] = y[j];
  }
}

/* One frame of one sequence, from dL/dh_t (dy, the output's gradient, plus
 * dh, the recurrent one from step t + 1) and dL/dc_t from step t + 1 (dc):
 * writes dL/da (da, 4H) and replaces dc with dL/dc_{t-1}. */
static void
cell_backward_libm (const float *gates, const float *tc, const float *c_prev,
    const float *dy, const float *dh, float *dc, float *da, guint H)
{
  const float *gi = gates, *gf = gates + H, *gg = gates + 2 * H,
      *go = gates + 3 * H;
  float *dai = da, *daf = da + H, *dag = da + 2 * H, *dao = da + 3 * H;
  guint j;

  for (j = 0; j < H; j++) {
    float i = gi[j], f = gf[j], g = gg[j], o = go[j], th = tc[j];
    float dht = dy[j] + dh[j];
    /* h = o tanh (c):  dL/do = dh tanh (c),  da_o = dL/do o (1 - o) */
    dao[j] = dht * th * o * (1.0f - o);
    /* dL/dc_t = dc_{t+1} f_{t+1} (carried in dc) + dh o (1 - tanh^2 (c)) */
    float dct = dc[j] + dht * o * (1.0f - th * th);
    /* c = f c_{t-1} + i g:  da_i = dc g i (1 - i) */
    dai[j] = dct * g * i * (1.0f - i);
    /* da_g = dc i (1 - g^2) */
    dag[j] = dct * i * (1.0f - g * g);
    /* da_f = dc c_{t-1} f (1 - f) */
    daf[j] = dct * c_prev[j] * f * (1.0f - f);
    /* dL/dc_{t-1} = dc f */
    dc[j] = dct * f;
  }
}

/* y[j] += sum_i A[i, j], summed row after row (a fixed order). */
static void
column_sums_scalar (gsize M, guint N, const float *A, gsize lda, float *y)
{
  gsize i;
  guint j;

  for (i = 0; i < M; i++) {
    const float *a = A + i * lda;
    for (j = 0; j < N; j++)
      y[j] += a[j];
  }
}

#ifdef HAVE_X86_KERNELS

/* ------------------------------------------------------------- AVX-512F */

#define AVX512_INLINE static inline \
  __attribute__ ((always_inline, target ("avx512f")))

AVX512_INLINE __m512
exp_avx512 (__m512 x)
{
  __m512 n, r, p;

  x = _mm512_min_ps (_mm512_max_ps (x, _mm512_set1_ps (EXP_LO)),
      _mm512_set1_ps (EXP_HI));
  n = _mm512_roundscale_ps (_mm512_mul_ps (x, _mm512_set1_ps (LOG2E)),
      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  r = _mm512_fnmadd_ps (n, _mm512_set1_ps (LN2_HI), x);
  r = _mm512_fnmadd_ps (n, _mm512_set1_ps (LN2_LO), r);
  p = _mm512_set1_ps (P0);
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (P1));
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (P2));
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (P3));
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (P4));
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (P5));
  p = _mm512_fmadd_ps (p, _mm512_mul_ps (r, r), _mm512_add_ps (r,
          _mm512_set1_ps (1.0f)));
  /* times 2^n */
  return _mm512_scalef_ps (p, n);
}

AVX512_INLINE __m512
sigmoid1_avx512 (__m512 x)
{
  __m512 one = _mm512_set1_ps (1.0f);
  return _mm512_div_ps (one, _mm512_add_ps (one,
          exp_avx512 (_mm512_sub_ps (_mm512_setzero_ps (), x))));
}

AVX512_INLINE __m512
tanh1_avx512 (__m512 x)
{
  __m512 one = _mm512_set1_ps (1.0f);
  __m512 ax = _mm512_abs_ps (x);
  __m512 e = exp_avx512 (_mm512_add_ps (ax, ax));
  __m512 big = _mm512_sub_ps (one, _mm512_div_ps (_mm512_set1_ps (2.0f),
          _mm512_add_ps (e, one)));
  __m512 z = _mm512_mul_ps (x, x), q;
  __mmask16 small = _mm512_cmp_ps_mask (ax, _mm512_set1_ps (TANH_SMALL),
      _CMP_LT_OQ);

  q = _mm512_set1_ps (Q0);
  q = _mm512_fmadd_ps (q, z, _mm512_set1_ps (Q1));
  q = _mm512_fmadd_ps (q, z, _mm512_set1_ps (Q2));
  q = _mm512_fmadd_ps (q, z, _mm512_set1_ps (Q3));
  q = _mm512_fmadd_ps (q, z, _mm512_set1_ps (Q4));
  q = _mm512_fmadd_ps (_mm512_mul_ps (q, z), x, x);
  /* sign (x) |big|: copy x's sign bit onto big (which is >= 0) */
  big = _mm512_castsi512_ps (_mm512_or_si512 (_mm512_castps_si512 (big),
          _mm512_and_si512 (_mm512_castps_si512 (x),
              _mm512_set1_epi32 ((int) 0x80000000u))));
  return _mm512_mask_blend_ps (small, big, q);
}

/* cell_forward_libm's equations, 16 lanes at a time. The gate values
 * and tanh (c) are not read again until backward: when whole vectors
 * line up with cache lines they are streamed past the caches (no read
 * of the line they replace), which measured 2 to 3 % of a bench-train
 * step. */
/* *INDENT-OFF* */
__attribute__ ((target ("avx512f")))
static void
cell_forward_avx512 (const float *a, float *g, const float *c_prev, float *c,
    float *tc, float *y, float *y2, guint H)
/* *INDENT-ON* */
{
  gboolean stream = H % 16 == 0 && (guintptr) g % 64 == 0
      && (guintptr) tc % 64 == 0 && a != g;
  guint j;

  for (j = 0; j < H; j += 16) {
    __mmask16 m = H - j >= 16 ? 0xffff : (__mmask16) ((1u << (H - j)) - 1);
    __m512 i = sigmoid1_avx512 (_mm512_maskz_loadu_ps (m, a + j));
    __m512 f = sigmoid1_avx512 (_mm512_maskz_loadu_ps (m, a + H + j));
    __m512 z = tanh1_avx512 (_mm512_maskz_loadu_ps (m, a + 2 * H + j));
    __m512 o = sigmoid1_avx512 (_mm512_maskz_loadu_ps (m, a + 3 * H + j));
    __m512 cp = _mm512_maskz_loadu_ps (m, c_prev + j);
    __m512 cc = _mm512_add_ps (_mm512_mul_ps (f, cp), _mm512_mul_ps (i, z));
    __m512 t = tanh1_avx512 (cc);
    if (stream) {
      _mm512_stream_ps (g + j, i);
      _mm512_stream_ps (g + H + j, f);
      _mm512_stream_ps (g + 2 * H + j, z);
      _mm512_stream_ps (g + 3 * H + j, o);
      _mm512_stream_ps (tc + j, t);
    } else {
      _mm512_mask_storeu_ps (g + j, m, i);
      _mm512_mask_storeu_ps (g + H + j, m, f);
      _mm512_mask_storeu_ps (g + 2 * H + j, m, z);
      _mm512_mask_storeu_ps (g + 3 * H + j, m, o);
      _mm512_mask_storeu_ps (tc + j, m, t);
    }
    _mm512_mask_storeu_ps (c + j, m, cc);
    _mm512_mask_storeu_ps (y + j, m, _mm512_mul_ps (o, t));
    if (y2 != NULL)
      _mm512_mask_storeu_ps (y2 + j, m, _mm512_mul_ps (o, t));
  }
  /* streamed stores are weakly ordered: fence them before anything else
   * (another thread, after a lock) can read them */
  if (stream)
    _mm_sfence ();
}

/* cell_backward_libm's equations, 16 lanes at a time. */
/* *INDENT-OFF* */
__attribute__ ((target ("avx512f")))
static void
cell_backward_avx512 (const float *g, const float *tc, const float *c_prev,
    const float *dy, const float *dh, float *dc, float *da, guint H)
/* *INDENT-ON* */
{
  __m512 one = _mm512_set1_ps (1.0f);
  guint j;

  for (j = 0; j < H; j += 16) {
    __mmask16 m = H - j >= 16 ? 0xffff : (__mmask16) ((1u << (H - j)) - 1);
    __m512 i = _mm512_maskz_loadu_ps (m, g + j);
    __m512 f = _mm512_maskz_loadu_ps (m, g + H + j);
    __m512 z = _mm512_maskz_loadu_ps (m, g + 2 * H + j);
    __m512 o = _mm512_maskz_loadu_ps (m, g + 3 * H + j);
    __m512 th = _mm512_maskz_loadu_ps (m, tc + j);
    __m512 dht = _mm512_add_ps (_mm512_maskz_loadu_ps (m, dy + j),
        _mm512_maskz_loadu_ps (m, dh + j));
    __m512 dct = _mm512_add_ps (_mm512_maskz_loadu_ps (m, dc + j),
        _mm512_mul_ps (_mm512_mul_ps (dht, o), _mm512_sub_ps (one,
                _mm512_mul_ps (th, th))));
    _mm512_mask_storeu_ps (da + 3 * H + j, m,
        _mm512_mul_ps (_mm512_mul_ps (_mm512_mul_ps (dht, th), o),
            _mm512_sub_ps (one, o)));
    _mm512_mask_storeu_ps (da + j, m,
        _mm512_mul_ps (_mm512_mul_ps (_mm512_mul_ps (dct, z), i),
            _mm512_sub_ps (one, i)));
    _mm512_mask_storeu_ps (da + 2 * H + j, m,
        _mm512_mul_ps (_mm512_mul_ps (dct, i), _mm512_sub_ps (one,
                _mm512_mul_ps (z, z))));
    _mm512_mask_storeu_ps (da + H + j, m,
        _mm512_mul_ps (_mm512_mul_ps (_mm512_mul_ps (dct,
                    _mm512_maskz_loadu_ps (m, c_prev + j)), f),
            _mm512_sub_ps (one, f)));
    _mm512_mask_storeu_ps (dc + j, m, _mm512_mul_ps (dct, f));
  }
}

/* *INDENT-OFF* */
__attribute__ ((target ("avx512f")))
static void
column_sums_avx512 (gsize M, guint N, const float *A, gsize lda, float *y)
/* *INDENT-ON* */

{
  guint j;
  gsize i;

  for (j = 0; j < N; j += 16) {
    __mmask16 m = N - j >= 16 ? 0xffff : (__mmask16) ((1u << (N - j)) - 1);
    __m512 acc = _mm512_maskz_loadu_ps (m, y + j);
    for (i = 0; i < M; i++)
      acc = _mm512_add_ps (acc, _mm512_maskz_loadu_ps (m, A + i * lda + j));
    _mm512_mask_storeu_ps (y + j, m, acc);
  }
}

/* ----------------------------------------------------------- AVX2 + FMA */

#define AVX2_INLINE static inline \
  __attribute__ ((always_inline, target ("avx2,fma")))

AVX2_INLINE __m256
exp_avx2 (__m256 x)
{
  __m256 n, r, p;
  __m256i e;

  x = _mm256_min_ps (_mm256_max_ps (x, _mm256_set1_ps (EXP_LO)),
      _mm256_set1_ps (EXP_HI));
  n = _mm256_round_ps (_mm256_mul_ps (x, _mm256_set1_ps (LOG2E)),
      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  r = _mm256_fnmadd_ps (n, _mm256_set1_ps (LN2_HI), x);
  r = _mm256_fnmadd_ps (n, _mm256_set1_ps (LN2_LO), r);
  p = _mm256_set1_ps (P0);
  p = _mm256_fmadd_ps (p, r, _mm256_set1_ps (P1));
  p = _mm256_fmadd_ps (p, r, _mm256_set1_ps (P2));
  p = _mm256_fmadd_ps (p, r, _mm256_set1_ps (P3));
  p = _mm256_fmadd_ps (p, r, _mm256_set1_ps (P4));
  p = _mm256_fmadd_ps (p, r, _mm256_set1_ps (P5));
  p = _mm256_fmadd_ps (p, _mm256_mul_ps (r, r), _mm256_add_ps (r,
          _mm256_set1_ps (1.0f)));
  /* 2^n as a float: (n + 127) << 23; n is in [-126, 128) */
  e = _mm256_slli_epi32 (_mm256_add_epi32 (_mm256_cvtps_epi32 (n),
          _mm256_set1_epi32 (127)), 23);
  return _mm256_mul_ps (p, _mm256_castsi256_ps (e));
}

AVX2_INLINE __m256
sigmoid1_avx2 (__m256 x)
{
  __m256 one = _mm256_set1_ps (1.0f);
  return _mm256_div_ps (one, _mm256_add_ps (one,
          exp_avx2 (_mm256_sub_ps (_mm256_setzero_ps (), x))));
}

AVX2_INLINE __m256
tanh1_avx2 (__m256 x)
{
  __m256 one = _mm256_set1_ps (1.0f);
  __m256 sign = _mm256_set1_ps (-0.0f);
  __m256 ax = _mm256_andnot_ps (sign, x);
  __m256 e = exp_avx2 (_mm256_add_ps (ax, ax));
  __m256 big = _mm256_sub_ps (one, _mm256_div_ps (_mm256_set1_ps (2.0f),
          _mm256_add_ps (e, one)));
  __m256 z = _mm256_mul_ps (x, x), q;
  __m256 small = _mm256_cmp_ps (ax, _mm256_set1_ps (TANH_SMALL), _CMP_LT_OQ);

  q = _mm256_set1_ps (Q0);
  q = _mm256_fmadd_ps (q, z, _mm256_set1_ps (Q1));
  q = _mm256_fmadd_ps (q, z, _mm256_set1_ps (Q2));
  q = _mm256_fmadd_ps (q, z, _mm256_set1_ps (Q3));
  q = _mm256_fmadd_ps (q, z, _mm256_set1_ps (Q4));
  q = _mm256_fmadd_ps (_mm256_mul_ps (q, z), x, x);
  big = _mm256_or_ps (big, _mm256_and_ps (sign, x));
  return _mm256_blendv_ps (big, q, small);
}

AVX2_INLINE __m256i
tail_mask (gsize rest)
{
  return _mm256_cmpgt_epi32 (_mm256_set1_epi32 ((int) rest),
      _mm256_setr_epi32 (0, 1, 2, 3, 4, 5, 6, 7));
}

/* cell_forward_libm's equations, 8 lanes at a time. */
/* *INDENT-OFF* */
__attribute__ ((target ("avx2,fma")))
static void
cell_forward_avx2 (const float *a, float *g, const float *c_prev, float *c,
    float *tc, float *y, float *y2, guint H)
/* *INDENT-ON* */
{
  guint j;

  for (j = 0; j < H; j += 8) {
    __m256i m = tail_mask (H - j);
    __m256 i = sigmoid1_avx2 (_mm256_maskload_ps (a + j, m));
    __m256 f = sigmoid1_avx2 (_mm256_maskload_ps (a + H + j, m));
    __m256 z = tanh1_avx2 (_mm256_maskload_ps (a + 2 * H + j, m));
    __m256 o = sigmoid1_avx2 (_mm256_maskload_ps (a + 3 * H + j, m));
    __m256 cp = _mm256_maskload_ps (c_prev + j, m);
    __m256 cc = _mm256_add_ps (_mm256_mul_ps (f, cp), _mm256_mul_ps (i, z));
    __m256 t = tanh1_avx2 (cc);
    _mm256_maskstore_ps (g + j, m, i);
    _mm256_maskstore_ps (g + H + j, m, f);
    _mm256_maskstore_ps (g + 2 * H + j, m, z);
    _mm256_maskstore_ps (g + 3 * H + j, m, o);
    _mm256_maskstore_ps (c + j, m, cc);
    _mm256_maskstore_ps (tc + j, m, t);
    _mm256_maskstore_ps (y + j, m, _mm256_mul_ps (o, t));
    if (y2 != NULL)
      _mm256_maskstore_ps (y2 + j, m, _mm256_mul_ps (o, t));
  }
}

/* cell_backward_libm's equations, 8 lanes at a time. */
/* *INDENT-OFF* */
__attribute__ ((target ("avx2,fma")))
static void
cell_backward_avx2 (const float *g, const float *tc, const float *c_prev,
    const float *dy, const float *dh, float *dc, float *da, guint H)
/* *INDENT-ON* */
{
  __m256 one = _mm256_set1_ps (1.0f);
  guint j;

  for (j = 0; j < H; j += 8) {
    __m256i m = tail_mask (H - j);
    __m256 i = _mm256_maskload_ps (g + j, m);
    __m256 f = _mm256_maskload_ps (g + H + j, m);
    __m256 z = _mm256_maskload_ps (g + 2 * H + j, m);
    __m256 o = _mm256_maskload_ps (g + 3 * H + j, m);
    __m256 th = _mm256_maskload_ps (tc + j, m);
    __m256 dht = _mm256_add_ps (_mm256_maskload_ps (dy + j, m),
        _mm256_maskload_ps (dh + j, m));
    __m256 dct = _mm256_add_ps (_mm256_maskload_ps (dc + j, m),
        _mm256_mul_ps (_mm256_mul_ps (dht, o), _mm256_sub_ps (one,
                _mm256_mul_ps (th, th))));
    _mm256_maskstore_ps (da + 3 * H + j, m,
        _mm256_mul_ps (_mm256_mul_ps (_mm256_mul_ps (dht, th), o),
            _mm256_sub_ps (one, o)));
    _mm256_maskstore_ps (da + j, m,
        _mm256_mul_ps (_mm256_mul_ps (_mm256_mul_ps (dct, z), i),
            _mm256_sub_ps (one, i)));
    _mm256_maskstore_ps (da + 2 * H + j, m,
        _mm256_mul_ps (_mm256_mul_ps (dct, i), _mm256_sub_ps (one,
                _mm256_mul_ps (z, z))));
    _mm256_maskstore_ps (da + H + j, m,
        _mm256_mul_ps (_mm256_mul_ps (_mm256_mul_ps (dct,
                    _mm256_maskload_ps (c_prev + j, m)), f),
            _mm256_sub_ps (one, f)));
    _mm256_maskstore_ps (dc + j, m, _mm256_mul_ps (dct, f));
  }
}

/* *INDENT-OFF* */
__attribute__ ((target ("avx2,fma")))
static void
column_sums_avx2 (gsize M, guint N, const float *A, gsize lda, float *y)
/* *INDENT-ON* */

{
  guint j;
  gsize i;

  for (j = 0; j < N; j += 8) {
    __m256i m = tail_mask (N - j);
    __m256 acc = _mm256_maskload_ps (y + j, m);
    for (i = 0; i < M; i++)
      acc = _mm256_add_ps (acc, _mm256_maskload_ps (A + i * lda + j, m));
    _mm256_maskstore_ps (y + j, m, acc);
  }
}

#endif /* HAVE_X86_KERNELS */

typedef struct
{
  CellForwardFunc cell_forward;
  CellBackwardFunc cell_backward;
  ColumnSumsFunc column_sums;
} Acts;

static const Acts *
get_acts (void)
{
  static const Acts libm = { cell_forward_libm, cell_backward_libm,
    column_sums_scalar
  };
#ifdef HAVE_X86_KERNELS
  static const Acts avx512 = { cell_forward_avx512, cell_backward_avx512,
    column_sums_avx512
  };
  static const Acts avx2 = { cell_forward_avx2, cell_backward_avx2,
    column_sums_avx2
  };
#endif
  static const Acts *acts;
  const Acts *a = g_atomic_pointer_get (&acts);

  if (G_UNLIKELY (a == NULL)) {
    const gchar *k = lstm_blas_get_kernels ();
    a = &libm;
#ifdef HAVE_X86_KERNELS
    if (g_str_equal (k, "avx512"))
      a = &avx512;
    else if (g_str_equal (k, "avx2"))
      a = &avx2;
#endif
    (void) k;
    g_atomic_pointer_set (&acts, a);
  }
  return a;
}

void
lstm_train_cell_forward (const float *a, float *g, const float *c_prev,
    float *c, float *tc, float *y, float *y2, guint H)
{
  get_acts ()->cell_forward (a, g, c_prev, c, tc, y, y2, H);
}

void
lstm_train_cell_backward (const float *gates, const float *tc,
    const float *c_prev, const float *dy, const float *dh, float *dc,
    float *da, guint H)
{
  get_acts ()->cell_backward (gates, tc, c_prev, dy, dh, dc, da, H);
}

void
lstm_train_column_sums (gsize M, guint N, const float *A, gsize lda, float *y)
{
  get_acts ()->column_sums (M, N, A, lda, y);
}
