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

/* ------------------------------------------------------------- portable */

typedef double V2 __attribute__((vector_size (16)));
typedef gint64 VI2 __attribute__((vector_size (16)));
#define V V2
#define VI VI2
#define SUFFIX portable
#define KERNEL static inline __attribute__ ((always_inline))
#define ENTRY static

/* lane l = h[idx[l]] */
KERNEL V FN (gather) (const float *h, const gint32 * idx)
{
  V v;
  guint l;

  for (l = 0; l < G_N_ELEMENTS (v); l++)
    v[l] = h[idx[l]];
  return v;
}

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
  __m128i i = _mm_loadu_si128 ((const __m128i *) idx);
  return (V) _mm256_cvtps_pd (_mm_i32gather_ps (h, i, 4));
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

KERNEL V FN (gather) (const float *h, const gint32 * idx)
{
  V v = {h[idx[0]], h[idx[1]]};
  return v;
}

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
  __m256i i = _mm256_loadu_si256 ((const __m256i *) idx);
  return (V) _mm512_cvtps_pd (_mm256_i32gather_ps (h, i, 4));
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
