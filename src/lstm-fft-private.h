/* Internal to src/: the tables of our real FFT (lstm-fft.c) and the
 * lane kernels that use them (lstm-fft-lanes.h, instantiated in
 * lstm-features-lanes.c). */
#ifndef __LSTM_FFT_PRIVATE_H__
#define __LSTM_FFT_PRIVATE_H__

#include <glib.h>

G_BEGIN_DECLS

/* A real FFT of n points (a power of two, n >= 2) computed as a complex
 * FFT of m = n / 2 points followed by a split (see lstm-fft.c). */
typedef struct
{
  guint n;                      /* real points */
  guint m;                      /* complex points: n / 2 */
  double *tw_re;                /* [3 m / 4] cos (2 pi j / m) */
  double *tw_im;                /* [3 m / 4] -sin (2 pi j / m) */
  double *split_c;              /* [m] cos (2 pi k / n) */
  double *split_s;              /* [m] sin (2 pi k / n) */
  guint *rev;                   /* [m] k with its log2 (m) bits reversed */
} LstmFft;

G_GNUC_INTERNAL LstmFft *lstm_fft_new (guint n);
G_GNUC_INTERNAL void lstm_fft_free (LstmFft * fft);

/* For tests (lstm-features-lanes.c): power[k] = 4 |X_k|^2, k < n / 2, the
 * DFT X of x[0 .. n), by the portable kernel. */
G_GNUC_INTERNAL void lstm_fft_power_portable (const LstmFft * fft,
    const double *x, double *power);

G_END_DECLS

#endif
