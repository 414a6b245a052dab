/* Kaldi's per-frame maths (lstm-features-kaldi.c gives the equations and
 * builds the tables) on a block of frames, one frame per lane of V. A
 * template like lstm-fft-lanes.h (V, VI: vectors of doubles and of 64-bit
 * integers; KERNEL, ENTRY: the attributes of the helpers and of the entry
 * point; FN (name)), compiled with -ffp-contract=off: each lane does the
 * same IEEE operations in the same order whatever the width, so every
 * kernel set gives the same bits. */

KERNEL V
FN (splat) (double s)
{
  V zero = { 0 };
  return zero + s;
}

/* max (a, b) lane by lane (a NaN in a gives b). */
KERNEL V
FN (vmax) (V a, V b)
{
  VI m = a > b;
  return (V) (((VI) a & m) | ((VI) b & ~m));
}

/* ln x for positive, finite, normal x: x = 2^e r with r in [sqrt (1/2),
 * sqrt 2), and with f = r - 1, s = f / (2 + f),
 *   ln r = 2 atanh s = 2 s (1 + s^2 / 3 + s^4 / 5 + ...);
 * |s| <= 0.172, so the terms to s^16 / 17 leave an error under 1e-15
 * (the output is float: 1e-7 relative).
 *   ln x = e ln2_hi + (2 s P (s^2) + e ln2_lo),
 * ln2_hi with 32 zero bits at its end, so that e ln2_hi is exact. */
#define LN2_HI 6.93147180369123816490e-01
#define LN2_LO 1.90821492927058770002e-10
#define SQRT2_MANTISSA 0x6a09e667f3bcdLL        /* sqrt 2 = 1.6a09e667f3bcd p0 */
KERNEL V
FN (vlog) (V x)
{
  VI bits = (VI) x;
  VI mant = bits & 0x000fffffffffffffLL;
  VI big = mant > SQRT2_MANTISSA;       /* -1 where the mantissa > sqrt 2 */
  VI biased = (bits >> 52) - big;       /* there r = mantissa / 2, e + 1 */
  V r = (V) (mant | ((1023 + big) << 52));
  /* 2^52 + biased, read as a double, minus 2^52 + 1023: e, exactly */
  V e = (V) (biased | 0x4330000000000000LL) - (4503599627370496.0 + 1023.0);
  V f = r - 1.0, s = f / (f + 2.0), z = s * s;
  static const double inv_odd[] = { 1.0 / 15, 1.0 / 13, 1.0 / 11, 1.0 / 9,
    1.0 / 7, 1.0 / 5, 1.0 / 3, 1.0
  };
  V poly = FN (splat) (1.0 / 17);
  guint t;

  for (t = 0; t < G_N_ELEMENTS (inv_odd); t++)
    poly = poly * z + inv_odd[t];
  return e * LN2_HI + ((s + s) * poly + e * LN2_LO);
}

/* ln (max (x, FLT_EPSILON)): the floor of torchaudio and Kaldi. */
KERNEL V
FN (log_floored) (V x)
{
  return FN (vlog) (FN (vmax) (x, FN (splat) (FLT_EPSILON)));
}

/* sum x_i and sum x_i^2, in four partial sums each (four independent
 * chains of additions). */
KERNEL V
FN (sum4) (const V * x, guint n)
{
  V s0 = { 0 }, s1 = { 0 }, s2 = { 0 }, s3 = { 0 };
  guint i;

  for (i = 0; i + 4 <= n; i += 4) {
    s0 += x[i];
    s1 += x[i + 1];
    s2 += x[i + 2];
    s3 += x[i + 3];
  }
  for (; i < n; i++)
    s0 += x[i];
  return (s0 + s1) + (s2 + s3);
}

KERNEL V
FN (sum_squares4) (const V * x, guint n)
{
  V s0 = { 0 }, s1 = { 0 }, s2 = { 0 }, s3 = { 0 };
  guint i;

  for (i = 0; i + 4 <= n; i += 4) {
    s0 += x[i] * x[i];
    s1 += x[i + 1] * x[i + 1];
    s2 += x[i + 2] * x[i + 2];
    s3 += x[i + 3] * x[i + 3];
  }
  for (; i < n; i++)
    s0 += x[i] * x[i];
  return (s0 + s1) + (s2 + s3);
}

/* From the end, a_i = x_i - mean and
 *   x_i := (a_i - p a_{i-1}) w_i   (a_{-1} = a_0),
 * reading x_{i-1} before it changes; returns sum a_i^2 in four partial
 * sums (a_i, a_{i-1}, a_{i-2}, a_{i-3} of each step of 4). */
KERNEL V
FN (center_preemph) (const LstmKaldi * k, V * x, V mean, double p)
{
  const double *w = k->window;
  V s0 = { 0 }, s1 = { 0 }, s2 = { 0 }, s3 = { 0 }, a;
  gint i = (gint) k->window_size - 1;

  for (; i >= 4; i -= 4) {
    V a0 = x[i] - mean, a1 = x[i - 1] - mean, a2 = x[i - 2] - mean;
    V a3 = x[i - 3] - mean, a4 = x[i - 4] - mean;
    x[i] = (a0 - p * a1) * w[i];
    x[i - 1] = (a1 - p * a2) * w[i - 1];
    x[i - 2] = (a2 - p * a3) * w[i - 2];
    x[i - 3] = (a3 - p * a4) * w[i - 3];
    s0 += a0 * a0;
    s1 += a1 * a1;
    s2 += a2 * a2;
    s3 += a3 * a3;
  }
  for (; i >= 1; i--) {
    V b = x[i - 1] - mean;
    a = x[i] - mean;
    x[i] = (a - p * b) * w[i];
    s0 += a * a;
  }
  a = x[0] - mean;
  x[0] = (a - p * a) * w[0];
  s0 += a * a;
  return (s0 + s1) + (s2 + s3);
}

/* max (ln (max (E, FLT_EPSILON)), ln (energy_floor)) */
KERNEL V
FN (log_energy) (const LstmKaldi * k, V sum_squares)
{
  return FN (vmax) (FN (log_floored) (sum_squares),
      FN (splat) (k->log_energy_floor));
}

/* Kaldi's ProcessWindow on x[0 .. N) (dithered already; sum = sum x_i):
 *   x_i -= mean,  E_raw = sum x_i^2,
 *   y_i = (x_i - p x_{i-1}) w_i  with x_{-1} = x_0,  E = sum y_i^2,
 * the first three in one pass (center_preemph; mean 0 without DC
 * removal); then x[N .. n) = 0, the zero padding (the FFT of the block
 * before overwrote it). Returns the log energy. */
KERNEL V
FN (process_window) (const LstmKaldi * k, V * x, V sum)
{
  const LstmFeaturesConfig *c = &k->cfg;
  guint i, N = k->window_size;
  V mean = { 0 }, squares;

  if (c->remove_dc_offset)
    mean = sum / (double) N;
  squares = FN (center_preemph) (k, x, mean, c->preemphasis_coefficient);
  if (!c->raw_energy)
    squares = FN (sum_squares4) (x, N);
  for (i = N; i < k->fft_size; i++)
    x[i] = FN (splat) (0.0);
  return FN (log_energy) (k, squares);
}

/* mel_b = sum_i w_bi |X_i|^2 over the FFT bins of triangle b, in two
 * partial sums (even and odd i: two chains of additions). */
KERNEL void
FN (mel_energies) (const LstmKaldi * k, const V * power, V * mel)
{
  guint b, i;

  for (b = 0; b < k->cfg.num_mel_bins; b++) {
    const double *wt = k->mel_weights + k->mel_offset[b];
    const V *pw = power + k->mel_first[b];
    guint len = k->mel_len[b];
    V s0 = { 0 }, s1 = { 0 };
    for (i = 0; i + 2 <= len; i += 2) {
      s0 += wt[i] * pw[i];
      s1 += wt[i + 1] * pw[i + 1];
    }
    if (i < len)
      s0 += wt[i] * pw[i];
    mel[b] = s0 + s1;
  }
}

/* Lane l of v to out[l * stride] for the n_frames real lanes. */
KERNEL void
FN (store) (V v, guint n_frames, float *out, guint stride)
{
  guint l;

  for (l = 0; l < n_frames; l++)
    out[l * stride] = (float) v[l];
}

/* Lane l of v[0 .. n) to out[l * stride + 0 .. n) for the n_frames real
 * lanes: frame after frame, as the output is laid out. */
KERNEL void
FN (store_frames) (const V * v, guint n, guint n_frames, float *out,
    guint stride)
{
  guint l, i;

  for (l = 0; l < n_frames; l++)
    for (i = 0; i < n; i++)
      out[l * stride + i] = (float) v[i][l];
}

/* MFCC: c_j = lifter_j sum_b dct_jb ln (max (mel_b, eps)), to cep. */
KERNEL void
FN (cepstra) (const LstmKaldi * k, V * mel, V * cep)
{
  guint B = k->cfg.num_mel_bins, b, j;

  for (b = 0; b < B; b++)
    mel[b] = FN (log_floored) (mel[b]);
  for (j = 0; j < k->cfg.num_ceps; j++) {
    const double *d = k->dct + (gsize) j * B;
    V sum = { 0 };
    for (b = 0; b < B; b++)
      sum += d[b] * mel[b];
    cep[j] = sum * k->lifter[j];
  }
}

/* x[j] lane l = rows[idx[l] + j] for j < window_size, with idx[l] =
 * l * stride for the n_frames real lanes and 0 (frame 0 again: their
 * results are dropped) for the others; tiles of lanes x lanes samples
 * (gather_tile), the rest one by one. Returns sum4 (x, window_size),
 * summed as it goes in the same order. */
KERNEL V
FN (gather_window) (const LstmKaldi * k, const float *rows, guint stride,
    guint n_frames, V * x)
{
  const guint L = sizeof (V) / sizeof (double), S = MAX (L, 4);
  gint32 idx[sizeof (V) / sizeof (double)];
  V s[4] = { {0}, {0}, {0}, {0} };
  guint l, j, t, N = k->window_size;

  for (l = 0; l < L; l++)
    idx[l] = (gint32) ((l < n_frames ? l : 0) * stride);
  /* S is a multiple of 4: sample j + t goes to partial sum t mod 4 */
  for (j = 0; j + S <= N; j += S) {
    for (t = 0; t < S; t += L)
      FN (gather_tile) (rows + j + t, idx, x + j + t);
    for (t = 0; t < S; t++)
      s[t & 3] += x[j + t];
  }
  for (; j + 4 <= N; j += 4)
    for (t = 0; t < 4; t++)
      s[t] += x[j + t] = FN (gather) (rows + j + t, idx);
  for (; j < N; j++)
    s[0] += x[j] = FN (gather) (rows + j, idx);
  return (s[0] + s[1]) + (s[2] + s[3]);
}

/* The n_frames (<= lanes) frames whose windows start at rows, stride
 * floats apart (or, if rows is NULL, are in k->block already) to
 * frame_size floats each at out. */
ENTRY void
FN (lstm_kaldi_block) (LstmKaldi * k, const float *rows, guint stride,
    guint n_frames, float *out)
{
  const LstmFeaturesConfig *c = &k->cfg;
  guint B = c->num_mel_bins, fs = k->frame_size, b;
  V *x = (V *) k->block, *power = x + k->fft_size;
  V *mel = power + k->fft_size / 2;
  V sum = { 0 }, energy;

  if (rows != NULL)
    sum = FN (gather_window) (k, rows, stride, n_frames, x);
  else if (c->remove_dc_offset)
    sum = FN (sum4) (x, k->window_size);
  energy = FN (process_window) (k, x, sum);

  FN (fft_complex) (k->fft, x);
  FN (fft_power) (k->fft, x, power);
  FN (mel_energies) (k, power, mel);

  if (c->type == LSTM_FEATURES_FBANK) {
    if (c->use_log_fbank)
      for (b = 0; b < B; b++)
        mel[b] = FN (log_floored) (mel[b]);
    FN (store_frames) (mel, B, n_frames, out + (c->use_energy ? 1 : 0), fs);
  } else {
    /* the spectrum is no longer needed: the cepstra go there (each FFT
     * bin is in 2 triangles at most: num_ceps <= num_mel_bins <= n) */
    FN (cepstra) (k, mel, x);
    FN (store_frames) (x, c->num_ceps, n_frames, out, fs);
  }
  if (c->use_energy)
    FN (store) (energy, n_frames, out, fs);
}

#undef LN2_HI
#undef LN2_LO
#undef SQRT2_MANTISSA
