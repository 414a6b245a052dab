/* The tables of our real FFT; the transform itself is in
 * lstm-fft-lanes.h, written once for a vector of frames.
 *
 * A real signal y_0 .. y_{n-1} (n a power of two) is read as m = n / 2
 * complex points z_j = y_{2j} + i y_{2j+1}, whose DFT is
 *   Z_k = sum_j z_j e^{-2 pi i jk / m}          (k < m; Z_m = Z_0).
 * Its even and odd samples' DFTs are
 *   E_k = (Z_k + conj Z_{m-k}) / 2,   O_k = (Z_k - conj Z_{m-k}) / (2i),
 * and the real signal's DFT is X_k = E_k + e^{-2 pi i k / n} O_k.
 *
 * Z is computed in place by radix-2 decimation in frequency: a stage of
 * length L (L = m, m / 2, .. 2) replaces each pair (a, b = a + L / 2) of a
 * group by
 *   a' = a + b,   b' = (a - b) w^j,   w = e^{-2 pi i / L}, j = a mod L / 2,
 * which leaves Z_k at position rev (k), its index with the log2 (m) bits
 * reversed; w^j = tw[j m / L]. Two stages are done at once (radix 4),
 * which needs w^3j too: tw holds k < 3m / 4. */
#include "lstm-fft-private.h"

#include <math.h>

static guint
bit_reverse (guint k, guint bits)
{
  guint r = 0, b;

  for (b = 0; b < bits; b++, k >>= 1)
    r = (r << 1) | (k & 1);
  return r;
}

LstmFft *
lstm_fft_new (guint n)
{
  LstmFft *fft;
  guint bits = 0, j;

  g_return_val_if_fail (n >= 2 && (n & (n - 1)) == 0, NULL);

  fft = g_new0 (LstmFft, 1);
  fft->n = n;
  fft->m = n / 2;
  while ((1u << bits) < fft->m)
    bits++;
  fft->tw_re = g_new (double, MAX (3 * fft->m / 4, 1));
  fft->tw_im = g_new (double, MAX (3 * fft->m / 4, 1));
  for (j = 0; j < 3 * fft->m / 4; j++) {
    double a = 2.0 * G_PI * j / fft->m;
    fft->tw_re[j] = cos (a);
    fft->tw_im[j] = -sin (a);
  }
  fft->split_c = g_new (double, fft->m);
  fft->split_s = g_new (double, fft->m);
  fft->rev = g_new (guint, fft->m);
  for (j = 0; j < fft->m; j++) {
    double a = 2.0 * G_PI * j / n;
    fft->split_c[j] = cos (a);
    fft->split_s[j] = sin (a);
    fft->rev[j] = bit_reverse (j, bits);
  }
  return fft;
}

void
lstm_fft_free (LstmFft * fft)
{
  if (fft == NULL)
    return;
  g_free (fft->tw_re);
  g_free (fft->tw_im);
  g_free (fft->split_c);
  g_free (fft->split_s);
  g_free (fft->rev);
  g_free (fft);
}
