/* Kaldi's feature maths for one frame, as torchaudio.compliance.kaldi
 * computes it (that module is the reference: its fbank and mfcc functions
 * reproduce compute-fbank-feats and compute-mfcc-feats):
 *
 *   window samples -> [dither] -> [remove DC] -> [raw log energy]
 *   -> pre-emphasis -> window function -> zero padding to a power of two
 *   -> [log energy] -> |FFT|^2 -> triangular mel bins -> log
 *   -> [MFCC: DCT-II, lifter, c0 := log energy]
 *
 * Frames are computed a block at a time, one per vector lane, by the
 * kernels of lstm-features-lanes.c (the FFT: lstm-fft.c); this file
 * checks the options and builds the tables. A frame is computed in double
 * and rounded to float at the end. In
 * float32 the log of a mel bin that holds only leakage and quantization
 * noise (the low bins of a loud tone or chirp: 1e-9 of the frame's
 * energy) is off by up to 0.2, in torchaudio's float32 run as in ours;
 * in double we agree with torchaudio's float64 run to 2.3e-5 at most,
 * the rounding of the float32 output (MFCCs reach 230).
 *
 * The tables that torchaudio builds in float32 whatever the signal's type
 * (mel triangles, DCT, lifter) are built here with the same float32
 * operations, so that the two agree to rounding rather than differ by the
 * last digits of two different roundings. */
#include "lstm-features-private.h"

#include <math.h>
#include <string.h>

/* Kaldi's mel scale: m = 1127 ln (1 + f / 700). */
static double
mel_scale (double hz)
{
  return 1127.0 * log (1.0 + hz / 700.0);
}

static double
inverse_mel_scale (double mel)
{
  return 700.0 * (exp (mel / 1127.0) - 1.0);
}

/* The same in float32, as torchaudio's mel_scale on a float tensor. */
static float
mel_scale_f (float hz)
{
  return 1127.0f * logf (1.0f + hz / 700.0f);
}

static guint
next_power_of_two (guint n)
{
  guint p = 1;
  while (p < n)
    p <<= 1;
  return p;
}

const gchar *
lstm_window_type_to_string (LstmWindowType type)
{
  switch (type) {
    case LSTM_WINDOW_POVEY:
      return "povey";
    case LSTM_WINDOW_HAMMING:
      return "hamming";
    case LSTM_WINDOW_HANNING:
      return "hanning";
    case LSTM_WINDOW_RECTANGULAR:
      return "rectangular";
    case LSTM_WINDOW_BLACKMAN:
      return "blackman";
  }
  return "unknown";
}

/* Kaldi's FeatureWindowFunction, with a = 2 pi / (N - 1):
 *   hanning      0.5 - 0.5 cos (a n)
 *   povey        (0.5 - 0.5 cos (a n))^0.85
 *   hamming      0.54 - 0.46 cos (a n)
 *   rectangular  1
 *   blackman     c - 0.5 cos (a n) + (0.5 - c) cos (2 a n)   (c = 0.42) */
static void
make_window (LstmKaldi * k)
{
  guint n, N = k->window_size;
  double a = 2.0 * G_PI / (N - 1);

  for (n = 0; n < N; n++) {
    double w;
    switch (k->cfg.window_type) {
      case LSTM_WINDOW_HANNING:
        w = 0.5 - 0.5 * cos (a * n);
        break;
      case LSTM_WINDOW_POVEY:
        w = pow (0.5 - 0.5 * cos (a * n), 0.85);
        break;
      case LSTM_WINDOW_HAMMING:
        w = 0.54 - 0.46 * cos (a * n);
        break;
      case LSTM_WINDOW_BLACKMAN:
        w = k->cfg.blackman_coeff - 0.5 * cos (a * n)
            + (0.5 - k->cfg.blackman_coeff) * cos (2.0 * a * n);
        break;
      case LSTM_WINDOW_RECTANGULAR:
      default:
        w = 1.0;
        break;
    }
    k->window[n] = w;
  }
}

/* The triangles, in mel space: bin b rises from left_b to centre_b and
 * falls to right_b, with left_b = mel (low) + b * delta, centre_b =
 * left_b + delta, right_b = left_b + 2 delta and delta = (mel (high) -
 * mel (low)) / (num_bins + 1). FFT bin i (frequency i * rate / fft_size,
 * i < fft_size / 2: the Nyquist bin is left out, as Kaldi does) weighs
 *   max (0, min ((m_i - left) / (centre - left), (right - m_i) / (right - centre)))
 * with m_i its mel frequency. Only the non-zero weights are kept. */
static gboolean
make_mel_banks (LstmKaldi * k, double low, double high, GError ** error)
{
  guint B = k->cfg.num_mel_bins, n_fft_bins = k->fft_size / 2, b, i;
  double bin_width = (double) k->sample_rate / k->fft_size;
  double mel_low = mel_scale (low), mel_high = mel_scale (high);
  double delta = (mel_high - mel_low) / (B + 1);
  float *mel = g_new (float, n_fft_bins);
  GArray *weights = g_array_new (FALSE, FALSE, sizeof (double));

  /* torchaudio: mel_scale (bin_width * arange (n)) in float32 */
  for (i = 0; i < n_fft_bins; i++)
    mel[i] = mel_scale_f ((float) bin_width * (float) i);

  for (b = 0; b < B; b++) {
    /* torchaudio: mel_low + b * delta, as float32 tensors */
    float left = (float) mel_low + (float) b * (float) delta;
    float centre = (float) mel_low + ((float) b + 1.0f) * (float) delta;
    float right = (float) mel_low + ((float) b + 2.0f) * (float) delta;

    k->mel_offset[b] = weights->len;
    k->mel_len[b] = 0;
    for (i = 0; i < n_fft_bins; i++) {
      float up = (mel[i] - left) / (centre - left);
      float down = (right - mel[i]) / (right - centre);
      double w = MIN (up, down);
      if (w <= 0.0)
        continue;
      if (k->mel_len[b] == 0)
        k->mel_first[b] = i;
      /* a triangle is convex: its bins are contiguous */
      g_assert (i == k->mel_first[b] + k->mel_len[b]);
      /* the kernels' power spectrum is 4 |X_i|^2 (lstm-fft-lanes.h);
       * w / 4 is exact */
      w *= 0.25;
      g_array_append_val (weights, w);
      k->mel_len[b]++;
    }
    if (k->mel_len[b] == 0) {
      /* Kaldi refuses this ("You may have set --num-mel-bins too
       * large"); torchaudio would emit log (epsilon) forever. */
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
          "mel bin %u (%.1f Hz to %.1f Hz) gets no FFT bin: %u mel bins "
          "between %g Hz and %g Hz are too many for a %u-point FFT at %u Hz "
          "(FFT bins %.2f Hz apart); use fewer mel bins, a longer "
          "frame-length or a higher sample rate", b,
          inverse_mel_scale (left), inverse_mel_scale (right), B, low, high,
          k->fft_size, k->sample_rate, bin_width);
      g_free (mel);
      g_array_free (weights, TRUE);
      return FALSE;
    }
  }
  k->mel_weights = (double *) g_array_free (weights, FALSE);
  g_free (mel);
  return TRUE;
}

/* Kaldi's DCT (torchaudio's create_dct (N, N, "ortho") with the first
 * row overwritten): c_k = sum_n d_kn x_n, with
 *   d_0n = sqrt (1 / N),  d_kn = sqrt (2 / N) cos (pi / N (n + 0.5) k),
 * and the lifter 1 + L / 2 sin (pi k / L). Both in float32 as torchaudio
 * computes them: for k up to 80 the cosine's argument is large enough
 * that its float32 rounding shows in the fifth digit. */
static void
make_dct (LstmKaldi * k)
{
  guint N = k->cfg.num_mel_bins, C = k->cfg.num_ceps, c, n;
  float scale = (float) sqrt (2.0 / N);
  float step = (float) (G_PI / N);
  float L = (float) k->cfg.cepstral_lifter;

  for (c = 0; c < C; c++) {
    for (n = 0; n < N; n++) {
      float arg = (step * ((float) n + 0.5f)) * (float) c;
      float d = c == 0 ? (float) sqrt (1.0 / N) : cosf (arg) * scale;
      k->dct[c * N + n] = d;
    }
    if (L != 0.0f) {
      float s = sinf ((float) G_PI * (float) c / L);
      k->lifter[c] = 1.0f + (float) (0.5 * k->cfg.cepstral_lifter) * s;
    } else {
      k->lifter[c] = 1.0;
    }
  }
}

#define INVALID(...) \
  G_STMT_START { \
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID, __VA_ARGS__); \
    return FALSE; \
  } G_STMT_END

/* Options that do not depend on the rate. */
gboolean
lstm_kaldi_check_options (const LstmFeaturesConfig * c, GError ** error)
{
  if (c->type != LSTM_FEATURES_FBANK && c->type != LSTM_FEATURES_MFCC)
    INVALID ("unknown feature type %d", (int) c->type);
  if ((guint) c->window_type > LSTM_WINDOW_BLACKMAN)
    INVALID ("unknown window type %d", (int) c->window_type);
  if (c->num_mel_bins < 3 || c->num_mel_bins > 1024)
    INVALID ("num-mel-bins %u is out of range: 3 to 1024", c->num_mel_bins);
  if (c->type == LSTM_FEATURES_MFCC
      && (c->num_ceps < 1 || c->num_ceps > c->num_mel_bins))
    INVALID ("num-ceps %u is out of range: 1 to num-mel-bins (%u)",
        c->num_ceps, c->num_mel_bins);
  if (!(c->frame_length > 0.0) || !isfinite (c->frame_length))
    INVALID ("frame-length %g ms must be positive", c->frame_length);
  if (!(c->frame_shift > 0.0) || !isfinite (c->frame_shift))
    INVALID ("frame-shift %g ms must be positive", c->frame_shift);
  if (!(c->preemphasis_coefficient >= 0.0 && c->preemphasis_coefficient <= 1))
    INVALID ("preemphasis-coefficient %g is out of range: 0 to 1",
        c->preemphasis_coefficient);
  if (!isfinite (c->blackman_coeff))
    INVALID ("blackman-coeff %g is not finite", c->blackman_coeff);
  if (!(c->dither >= 0.0) || !isfinite (c->dither))
    INVALID ("dither %g must be 0 or positive", c->dither);
  if (!(c->energy_floor >= 0.0) || !isfinite (c->energy_floor))
    INVALID ("energy-floor %g must be 0 or positive", c->energy_floor);
  if (!(c->cepstral_lifter >= 0.0
          && c->cepstral_lifter <= LSTM_FEATURES_MAX_LIFTER))
    INVALID ("cepstral-lifter %g is out of range: 0 to %g", c->cepstral_lifter,
        LSTM_FEATURES_MAX_LIFTER);
  if (!(c->low_freq >= 0.0) || !isfinite (c->low_freq))
    INVALID ("low-freq %g Hz must be 0 or positive", c->low_freq);
  if (!isfinite (c->high_freq))
    INVALID ("high-freq %g Hz is not finite", c->high_freq);
  /* a positive high-freq is absolute: low-freq must be below it whatever
   * the rate (<= 0 is an offset from Nyquist, checked with the rate) */
  if (c->high_freq > 0.0 && c->high_freq <= c->low_freq)
    INVALID ("high-freq %g Hz is not above low-freq %g Hz", c->high_freq,
        c->low_freq);
  return TRUE;
}

/* Window and shift in samples, as torchaudio computes them:
 * int (rate * ms * 0.001), truncated; the FFT length; the mel range. */
static gboolean
check_rate (LstmKaldi * k, double *low, double *high, GError ** error)
{
  const LstmFeaturesConfig *c = &k->cfg;
  double rate = k->sample_rate, nyquist = 0.5 * rate;
  double window = rate * c->frame_length * 0.001;
  double shift = rate * c->frame_shift * 0.001;

  if (k->sample_rate == 0)
    INVALID ("the sample rate is 0 Hz");
  if (window < 2.0)
    INVALID ("a frame-length of %g ms at %u Hz is %g samples; a window needs "
        "at least 2", c->frame_length, k->sample_rate, floor (window));
  if (window > LSTM_FEATURES_MAX_FFT)
    INVALID ("a frame-length of %g ms at %u Hz is %.0f samples, more than "
        "the %u this element allows", c->frame_length, k->sample_rate,
        floor (window), (guint) LSTM_FEATURES_MAX_FFT);
  if (shift < 1.0)
    INVALID ("a frame-shift of %g ms at %u Hz is less than one sample",
        c->frame_shift, k->sample_rate);
  if (shift > LSTM_FEATURES_MAX_FFT)
    INVALID ("a frame-shift of %g ms at %u Hz is %.0f samples, more than "
        "the %u this element allows", c->frame_shift, k->sample_rate,
        floor (shift), (guint) LSTM_FEATURES_MAX_FFT);
  k->window_size = (guint) window;
  k->frame_shift = (guint) shift;
  k->fft_size = next_power_of_two (k->window_size);

  *low = c->low_freq;
  *high = c->high_freq <= 0.0 ? c->high_freq + nyquist : c->high_freq;
  if (*low >= nyquist || *high > nyquist)
    INVALID ("the sample rate %u Hz is too low for the mel range: low-freq "
        "%g Hz to high-freq %g Hz needs both under the Nyquist frequency "
        "%g Hz (half the rate); use a higher rate or lower the frequencies",
        k->sample_rate, *low, *high, nyquist);
  if (*high <= *low)
    INVALID ("high-freq %g Hz (%g Hz at %u Hz, since values <= 0 are "
        "offsets from the Nyquist frequency %g Hz) is not above low-freq "
        "%g Hz", c->high_freq, *high, k->sample_rate, nyquist, *low);
  return TRUE;
}

#undef INVALID

/* Blocks of one window of L frames, capped at this many bytes: a
 * kernel with a block larger than this (windows of 2^17 samples and more
 * at 8 lanes) is left out for a narrower one. */
#define MAX_BLOCK_BYTES (16 << 20)

static gsize
block_bytes (const LstmKaldi * k, guint lanes)
{
  return ((gsize) k->fft_size + k->fft_size / 2 + k->cfg.num_mel_bins)
      * lanes * sizeof (double);
}

/* The kernel sets, their FFT and their block of frames. */
static void
make_kernels (LstmKaldi * k)
{
  const LstmKaldiKernel **kern = k->kernels;

  k->n_kernels = lstm_kaldi_choose_kernels (kern);
  while (k->n_kernels > 1 && block_bytes (k, kern[0]->lanes) > MAX_BLOCK_BYTES) {
    memmove (kern, kern + 1, (k->n_kernels - 1) * sizeof (*kern));
    k->n_kernels--;
  }
  k->fft = lstm_fft_new (k->fft_size);
  k->block = g_aligned_alloc0 (block_bytes (k, kern[0]->lanes), 1, 64);
}

void
lstm_kaldi_free (LstmKaldi * k)
{
  if (k == NULL)
    return;
  g_free (k->window);
  g_free (k->mel_first);
  g_free (k->mel_len);
  g_free (k->mel_offset);
  g_free (k->mel_weights);
  g_free (k->dct);
  g_free (k->lifter);
  lstm_fft_free (k->fft);
  g_aligned_free (k->block);
  if (k->rand != NULL)
    g_rand_free (k->rand);
  g_free (k);
}

LstmKaldi *
lstm_kaldi_new (const LstmFeaturesConfig * cfg, guint sample_rate,
    GError ** error)
{
  LstmKaldi *k;
  double low, high;
  guint B = cfg->num_mel_bins;

  if (!lstm_kaldi_check_options (cfg, error))
    return NULL;
  k = g_new0 (LstmKaldi, 1);
  k->cfg = *cfg;
  k->sample_rate = sample_rate;
  if (!check_rate (k, &low, &high, error)) {
    lstm_kaldi_free (k);
    return NULL;
  }

  k->mel_first = g_new0 (guint, B);
  k->mel_len = g_new0 (guint, B);
  k->mel_offset = g_new0 (guint, B);
  if (!make_mel_banks (k, low, high, error)) {
    lstm_kaldi_free (k);
    return NULL;
  }
  k->window = g_new (double, k->window_size);
  make_window (k);
  if (cfg->type == LSTM_FEATURES_MFCC) {
    k->dct = g_new (double, (gsize) cfg->num_ceps * B);
    k->lifter = g_new (double, cfg->num_ceps);
    make_dct (k);
    k->frame_size = cfg->num_ceps;
  } else {
    k->frame_size = B + (cfg->use_energy ? 1 : 0);
  }
  k->log_energy_floor = cfg->energy_floor > 0.0 ?
      log (cfg->energy_floor) : -INFINITY;

  make_kernels (k);
  k->rand = g_rand_new_with_seed (LSTM_FEATURES_DITHER_SEED);
  return k;
}

const LstmKaldiKernel *
lstm_kaldi_pick (const LstmKaldi * k, guint64 n_frames)
{
  guint i;

  for (i = 0; i + 1 < k->n_kernels; i++)
    if (k->kernels[i + 1]->lanes < n_frames)
      break;
  return k->kernels[i];
}
