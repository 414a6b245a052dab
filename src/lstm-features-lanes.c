/* The kernel sets of the feature maths: lstm-fft-lanes.h and
 * lstm-features-lanes.h compiled for vectors of 2 doubles (portable: GCC
 * and clang vector extensions, SSE2 on x86-64, NEON on arm64, plain
 * scalar code elsewhere), 2 and 4 (AVX2) and 8 (AVX-512F), chosen at run time
 * from what the CPU supports, capped by LSTM_FEATURES_KERNELS (`avx512`,
 * `avx2`, `portable`). The frames are independent, so a block of L frames
 * is L lanes doing the scalar maths side by side: the butterflies and the
 * sums are plain vector arithmetic, and every kernel set gives the same
 * bits (this file is compiled with -ffp-contract=off: no lane fuses a
 * multiply and an add that another width would round twice). */
#include "lstm-features-private.h"
#include "lstm-fft-private.h"

#include <float.h>

#if defined (__x86_64__) && defined (__GNUC__)
#define HAVE_X86_KERNELS 1
#include <immintrin.h>
#endif

#define CAT_(a, b) a ## _ ## b
#define CAT(a, b) CAT_ (a, b)
#define FN(name) CAT (name, SUFFIX)

/* Each kernel set defines how it reads the windows of its frames:
 *   gather (h, idx)          lane l = h[idx[l]]
 *   gather_tile (h, idx, x)  x[j] lane l = h[idx[l] + j], j < lanes
 * (x86 has gather instructions, but they are slow on CPUs with the GDS
 * mitigation: the tiles load rows and transpose them.) */

/* ------------------------------------------------------------- portable */

typedef double V2 __attribute__((vector_size (16)));
typedef gint64 VI2 __attribute__((vector_size (16)));
#define V V2
#define VI VI2
#define SUFFIX portable
#define KERNEL static inline __attribute__ ((always_inline))
#define ENTRY static
#include "lstm-features-gather2.h"
#include "lstm-fft-lanes.h"
#include "lstm-features-lanes.h"
#undef V
#undef VI
#undef SUFFIX
#undef KERNEL
#undef ENTRY

#ifdef HAVE_X86_KERNELS

/* ----------------------------------------------------------------- AVX2 */

typedef double V4 __attribute__((vector_size (32)));
typedef gint64 VI4 __attribute__((vector_size (32)));
#define V V4
#define VI VI4
#define SUFFIX avx2
#define KERNEL static inline \
  __attribute__ ((always_inline, target ("avx2")))
#define ENTRY static __attribute__ ((target ("avx2")))

KERNEL V FN (gather) (const float *h, const gint32 * idx)
{
  V v = {h[idx[0]], h[idx[1]], h[idx[2]], h[idx[3]]};
  return v;
}

/* 4 samples of 4 rows r_l, converted, then transposed: t0 = (r0_0 r1_0 |
 * r0_2 r1_2), t1 = (r0_1 r1_1 | r0_3 r1_3), t2 and t3 the same of rows 2
 * and 3; sample j takes its two halves from t0 and t2 or t1 and t3. */
KERNEL void FN (gather_tile) (const float *h, const gint32 * idx, V * x)
{
  __m256d r0 = _mm256_cvtps_pd (_mm_loadu_ps (h + idx[0]));
  __m256d r1 = _mm256_cvtps_pd (_mm_loadu_ps (h + idx[1]));
  __m256d r2 = _mm256_cvtps_pd (_mm_loadu_ps (h + idx[2]));
  __m256d r3 = _mm256_cvtps_pd (_mm_loadu_ps (h + idx[3]));
  __m256d t0 = _mm256_unpacklo_pd (r0, r1), t1 = _mm256_unpackhi_pd (r0, r1);
  __m256d t2 = _mm256_unpacklo_pd (r2, r3), t3 = _mm256_unpackhi_pd (r2, r3);

  x[0] = (V) _mm256_permute2f128_pd (t0, t2, 0x20);
  x[1] = (V) _mm256_permute2f128_pd (t1, t3, 0x20);
  x[2] = (V) _mm256_permute2f128_pd (t0, t2, 0x31);
  x[3] = (V) _mm256_permute2f128_pd (t1, t3, 0x31);
}

#include "lstm-fft-lanes.h"
#include "lstm-features-lanes.h"
#undef V
#undef VI
#undef SUFFIX
#undef KERNEL
#undef ENTRY

/* The same on 2 lanes, for blocks of 1 or 2 frames (a push of 10 frames
 * is 8 + 2): SSE2 lacks the 64-bit comparisons of the logarithm. */
#define V V2
#define VI VI2
#define SUFFIX avx2_2
#define KERNEL static inline \
  __attribute__ ((always_inline, target ("avx2")))
#define ENTRY static __attribute__ ((target ("avx2")))
#include "lstm-features-gather2.h"
#include "lstm-fft-lanes.h"
#include "lstm-features-lanes.h"
#undef V
#undef VI
#undef SUFFIX
#undef KERNEL
#undef ENTRY

/* ------------------------------------------------------------- AVX-512F */

typedef double V8 __attribute__((vector_size (64)));
typedef gint64 VI8 __attribute__((vector_size (64)));
#define V V8
#define VI VI8
#define SUFFIX avx512
#define KERNEL static inline \
  __attribute__ ((always_inline, target ("avx512f")))
#define ENTRY static __attribute__ ((target ("avx512f")))

KERNEL V FN (gather) (const float *h, const gint32 * idx)
{
  V v = {h[idx[0]], h[idx[1]], h[idx[2]], h[idx[3]], h[idx[4]], h[idx[5]],
        h[idx[6]], h[idx[7]]
      };
  return v;
}

/* 8 samples of 8 rows, converted, then transposed in three steps:
 * t_2i = unpacklo (r_2i, r_2i+1) holds the pairs of rows 2i, 2i + 1 at
 * samples 0, 2, 4, 6 (one per 128-bit lane), t_2i+1 = unpackhi the odd
 * samples; u takes lanes 0 and 2 (0x88) or 1 and 3 (0xdd) of two t's,
 * and the same of two u's gives a sample of all 8 rows. */
KERNEL void FN (gather_tile) (const float *h, const gint32 * idx, V * x)
{
  __m512d r[8], t[8], u[4];
  guint l;

  for (l = 0; l < 8; l++)
    r[l] = _mm512_cvtps_pd (_mm256_loadu_ps (h + idx[l]));
  for (l = 0; l < 8; l += 2) {
    t[l] = _mm512_unpacklo_pd (r[l], r[l + 1]);
    t[l + 1] = _mm512_unpackhi_pd (r[l], r[l + 1]);
  }
  for (l = 0; l < 2; l++) {
    /* l = 0: the even samples (t0, t2, t4, t6); l = 1: the odd ones */
    u[0] = _mm512_shuffle_f64x2 (t[l], t[l + 2], 0x88);
    u[1] = _mm512_shuffle_f64x2 (t[l], t[l + 2], 0xdd);
    u[2] = _mm512_shuffle_f64x2 (t[l + 4], t[l + 6], 0x88);
    u[3] = _mm512_shuffle_f64x2 (t[l + 4], t[l + 6], 0xdd);
    x[l] = (V) _mm512_shuffle_f64x2 (u[0], u[2], 0x88);
    x[l + 4] = (V) _mm512_shuffle_f64x2 (u[0], u[2], 0xdd);
    x[l + 2] = (V) _mm512_shuffle_f64x2 (u[1], u[3], 0x88);
    x[l + 6] = (V) _mm512_shuffle_f64x2 (u[1], u[3], 0xdd);
  }
}

#include "lstm-fft-lanes.h"
#include "lstm-features-lanes.h"
#undef V
#undef VI
#undef SUFFIX
#undef KERNEL
#undef ENTRY

#endif /* HAVE_X86_KERNELS */

/* -------------------------------------------------------------- choice */

static const LstmKaldiKernel kernel_portable =
    { "portable", 2, lstm_kaldi_block_portable };
#ifdef HAVE_X86_KERNELS
static const LstmKaldiKernel kernel_avx2 = { "avx2", 4, lstm_kaldi_block_avx2 };
static const LstmKaldiKernel kernel_avx2_2 =
    { "avx2", 2, lstm_kaldi_block_avx2_2 };
static const LstmKaldiKernel kernel_avx512 =
    { "avx512", 8, lstm_kaldi_block_avx512 };
#endif

guint
lstm_kaldi_choose_kernels (const LstmKaldiKernel ** kernels)
{
  const gchar *want = g_getenv ("LSTM_FEATURES_KERNELS");
  guint n = 0;

  if (want == NULL || *want == '\0' || g_str_equal (want, "auto"))
    want = "avx512";
  else if (!g_str_equal (want, "avx512") && !g_str_equal (want, "avx2")
      && !g_str_equal (want, "portable")) {
    g_warning ("LSTM_FEATURES_KERNELS=%s is not one of auto, avx512, avx2, "
        "portable; using the best the CPU supports", want);
    want = "avx512";
  }
#ifdef HAVE_X86_KERNELS
  /* __builtin_cpu_supports also checks that the OS saves the registers. */
  __builtin_cpu_init ();
  if (g_str_equal (want, "avx512") && __builtin_cpu_supports ("avx512f"))
    kernels[n++] = &kernel_avx512;
  if (!g_str_equal (want, "portable") && __builtin_cpu_supports ("avx2")) {
    kernels[n++] = &kernel_avx2;
    kernels[n++] = &kernel_avx2_2;
  }
#endif
  /* only where no other runs: a block of 4 lanes with 2 spare costs less
   * than 2 frames in SSE2 (its 64-bit comparisons are scalar) */
  if (n == 0)
    kernels[n++] = &kernel_portable;
  return n;
}

/* For tests: 4 |X_k|^2 for k < n / 2 of the real signal x[0 .. n) by the
 * portable kernel's FFT (both of its lanes carry x). */
void
lstm_fft_power_portable (const LstmFft * fft, const double *x, double *power)
{
  V2 *z = g_aligned_alloc (fft->n, sizeof (V2), sizeof (V2));
  V2 *p = g_aligned_alloc (fft->m, sizeof (V2), sizeof (V2));
  guint i;

  for (i = 0; i < fft->n; i++)
    z[i] = (V2) {
    x[i], x[i]};
  fft_complex_portable (fft, z);
  fft_power_portable (fft, z, p);
  for (i = 0; i < fft->m; i++)
    power[i] = p[i][0];
  g_aligned_free (z);
  g_aligned_free (p);
}

/* For tests: y_i = ln (max (x_i, FLT_EPSILON)) by the portable kernel. */
void
lstm_kaldi_log_portable (const double *x, double *y, guint n)
{
  guint i;

  for (i = 0; i < n; i++) {
    V2 v = { x[i], x[i] };
    y[i] = log_floored_portable (v)[0];
  }
}

/* For tests: runs `kern` (no wider than k's widest) on the n_frames
 * frames at rows, stride floats apart, writing their features to out and
 * their mel energies in double, before rounding (the logarithms with
 * use-log-fbank or MFCC), frame after frame, to mel. */
void
lstm_kaldi_block_mel (LstmKaldi * k, const LstmKaldiKernel * kern,
    const float *rows, guint stride, guint n_frames, float *out, double *mel)
{
  guint B = k->cfg.num_mel_bins, L = kern->lanes, l, b;
  const double *m = k->block + ((gsize) k->fft_size + k->fft_size / 2) * L;

  g_return_if_fail (L <= k->kernels[0]->lanes && n_frames <= L);
  kern->compute (k, rows, stride, n_frames, out);
  for (l = 0; l < n_frames; l++)
    for (b = 0; b < B; b++)
      mel[l * B + b] = m[b * L + l];
}
