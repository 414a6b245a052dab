/* Streaming framing of lstm_features_*: samples arrive in pieces of any
 * size; every frame comes out as soon as its window is complete, and is
 * the same frame Kaldi computes on the whole signal.
 *
 * Frame i's window starts at sample a_i = i * shift - offset and is
 * `window` samples long, with offset = 0 when snip_edges is set and
 * offset = window / 2 - shift / 2 (integer halves) when it is not, so that
 * frame i is centred on i * shift + shift / 2 (Kaldi's FirstSampleOfFrame).
 * Samples outside [0, N) are reflected as Kaldi's ExtractWindow does:
 * s < 0 reads s' = -s - 1, s >= N reads s' = 2N - 1 - s, repeated until
 * inside (only a signal shorter than half a window needs a second turn).
 *
 * Frames: with snip_edges, every i with a_i + window <= N; without, i <
 * round (N / shift) = (N + shift / 2) / shift (Kaldi's NumFrames). The
 * last frames of the latter reach past N and wait for
 * lstm_features_finish, which knows N.
 *
 * The samples live in `hist`, a fixed buffer of absolute sample indices
 * [hist_start, received): it keeps from one window before the next frame's
 * start (enough for the reflection at the end), and is compacted when
 * full, so a push of any length allocates nothing. */
#include "lstm-features-private.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* Samples converted per step of lstm_features_push_interleaved. */
#define CONVERT_CHUNK 4096

struct _LstmFeatures
{
  LstmKaldi *k;
  guint window;                 /* samples per window */
  guint shift;                  /* samples between frames */
  gint offset;                  /* a_i = i * shift - offset */
  guint lookahead;              /* window - offset: frame i needs samples
                                 * up to i * shift + lookahead - 1 */

  float *hist;                  /* [hist_cap] samples hist_start .. received - 1 */
  gsize hist_cap;
  gint64 hist_start;            /* absolute index of hist[0] */
  guint64 received;             /* samples pushed: N so far */
  guint64 next_frame;           /* index of the next frame to compute */
  guint64 nonfinite;            /* non-finite input values replaced by 0 */

  float *convert;               /* [CONVERT_CHUNK] interleaved -> mono */
};

void
lstm_features_config_init (LstmFeaturesConfig * cfg)
{
  g_return_if_fail (cfg != NULL);

  memset (cfg, 0, sizeof (*cfg));
  cfg->type = LSTM_FEATURES_FBANK;
  cfg->num_mel_bins = 23;
  cfg->num_ceps = 13;
  cfg->frame_length = 25.0;
  cfg->frame_shift = 10.0;
  cfg->preemphasis_coefficient = 0.97;
  cfg->window_type = LSTM_WINDOW_POVEY;
  cfg->blackman_coeff = 0.42;
  cfg->dither = 0.0;
  cfg->remove_dc_offset = TRUE;
  cfg->use_energy = FALSE;
  cfg->raw_energy = TRUE;
  cfg->energy_floor = 1.0;
  cfg->low_freq = 20.0;
  cfg->high_freq = 0.0;
  cfg->snip_edges = TRUE;
  cfg->use_log_fbank = TRUE;
  cfg->cepstral_lifter = 22.0;
}

gboolean
lstm_features_config_check (const LstmFeaturesConfig * cfg, GError ** error)
{
  g_return_val_if_fail (cfg != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return lstm_kaldi_check_options (cfg, error);
}

LstmFeatures *
lstm_features_new (const LstmFeaturesConfig * cfg, guint sample_rate,
    GError ** error)
{
  LstmFeatures *f;
  LstmKaldi *k;

  g_return_val_if_fail (cfg != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  k = lstm_kaldi_new (cfg, sample_rate, error);
  if (k == NULL)
    return NULL;
  f = g_new0 (LstmFeatures, 1);
  f->k = k;
  f->window = k->window_size;
  f->shift = k->frame_shift;
  f->offset = cfg->snip_edges ? 0 :
      (gint) (f->window / 2) - (gint) (f->shift / 2);
  f->lookahead = (guint) ((gint) f->window - f->offset);
  /* Compaction keeps fewer than 2 windows (see compact ()); the rest is
   * room for new samples between two compactions. */
  f->hist_cap = 2 * (gsize) f->window + MAX (4096, 2 * (gsize) f->window);
  f->hist = g_new (float, f->hist_cap);
  f->convert = g_new (float, CONVERT_CHUNK);
  return f;
}

void
lstm_features_free (LstmFeatures * f)
{
  if (f == NULL)
    return;
  lstm_kaldi_free (f->k);
  g_free (f->hist);
  g_free (f->convert);
  g_free (f);
}

void
lstm_features_reset (LstmFeatures * f)
{
  g_return_if_fail (f != NULL);

  f->hist_start = 0;
  f->received = 0;
  f->next_frame = 0;
  f->nonfinite = 0;
  g_rand_set_seed (f->k->rand, LSTM_FEATURES_DITHER_SEED);
}

guint
lstm_features_get_frame_size (const LstmFeatures * f)
{
  g_return_val_if_fail (f != NULL, 0);
  return f->k->frame_size;
}

guint
lstm_features_get_window_size (const LstmFeatures * f)
{
  g_return_val_if_fail (f != NULL, 0);
  return f->window;
}

guint
lstm_features_get_frame_shift (const LstmFeatures * f)
{
  g_return_val_if_fail (f != NULL, 0);
  return f->shift;
}

guint
lstm_features_get_fft_size (const LstmFeatures * f)
{
  g_return_val_if_fail (f != NULL, 0);
  return f->k->fft_size;
}

guint
lstm_features_get_lookahead (const LstmFeatures * f)
{
  g_return_val_if_fail (f != NULL, 0);
  return f->lookahead;
}

guint64
lstm_features_get_frames_done (const LstmFeatures * f)
{
  g_return_val_if_fail (f != NULL, 0);
  return f->next_frame;
}

guint64
lstm_features_get_samples_done (const LstmFeatures * f)
{
  g_return_val_if_fail (f != NULL, 0);
  return f->received;
}

guint64
lstm_features_get_nonfinite (const LstmFeatures * f)
{
  g_return_val_if_fail (f != NULL, 0);
  return f->nonfinite;
}

/* Frames whose window ends at or before sample `total`: i * shift +
 * lookahead <= total, counted from next_frame. */
static guint64
frames_ready (const LstmFeatures * f, guint64 total)
{
  guint64 last;

  if (total < f->lookahead)
    return 0;
  last = (total - f->lookahead) / f->shift;     /* the last ready index */
  return last + 1 > f->next_frame ? last + 1 - f->next_frame : 0;
}

guint64
lstm_features_frames_after (const LstmFeatures * f, guint64 n_samples)
{
  g_return_val_if_fail (f != NULL, 0);
  return frames_ready (f, f->received + n_samples);
}

/* First sample of frame i's window (negative for the first frames
 * without snip_edges). */
static gint64
frame_start (const LstmFeatures * f, guint64 i)
{
  return (gint64) (i * f->shift) - f->offset;
}

/* Kaldi's RandGauss: Box-Muller, sqrt (-2 ln u1) cos (2 pi u2), u1 in (0, 1]. */
static double
rand_gauss (GRand * rand)
{
  double u1 = 1.0 - g_rand_double (rand);
  double u2 = g_rand_double (rand);
  return sqrt (-2.0 * log (u1)) * cos (2.0 * G_PI * u2);
}

/* Copies frame i's window to x[j * stride], reflecting at 0 and at N =
 * received (Kaldi's loop), and adds the dither: x_j += dither * noise. */
static void
gather_frame (LstmFeatures * f, guint64 i, double *x, guint stride)
{
  gint64 a = frame_start (f, i);
  gint64 n = (gint64) f->received;
  double dither = f->k->cfg.dither;
  guint j;

  if (a >= f->hist_start && a + f->window <= n) {
    const float *h = f->hist + (a - f->hist_start);
    for (j = 0; j < f->window; j++)
      x[j * stride] = h[j];
  } else {
    for (j = 0; j < f->window; j++) {
      gint64 s = a + j;
      while (s < 0 || s >= n) {
        if (s < 0)
          s = -s - 1;
        if (s >= n)
          s = 2 * n - 1 - s;
      }
      g_assert (s >= f->hist_start);
      x[j * stride] = f->hist[s - f->hist_start];
    }
  }
  if (dither != 0.0)
    for (j = 0; j < f->window; j++)
      x[j * stride] += dither * rand_gauss (f->k->rand);
}

/* Frames i .. i + n - 1 lie in hist without reflection. */
static gboolean
frames_in_hist (const LstmFeatures * f, guint64 i, guint n)
{
  return frame_start (f, i) >= f->hist_start
      && frame_start (f, i + n - 1) + f->window <= (gint64) f->received;
}

/* Computes the n frames from next_frame on into out, a block of frames
 * at a time (as many as the kernel has lanes). The kernel reads the
 * windows from hist itself; with dither or reflection they are copied to
 * the block first (spare lanes get zeros). */
static void
compute_frames (LstmFeatures * f, guint64 n, float *out)
{
  LstmKaldi *k = f->k;

  while (n > 0) {
    const LstmKaldiKernel *kern = lstm_kaldi_pick (k, n);
    guint lanes = kern->lanes, nb = (guint) MIN (n, lanes), l, j;
    if (k->cfg.dither == 0.0 && frames_in_hist (f, f->next_frame, nb)) {
      kern->compute (k, f->hist + (frame_start (f, f->next_frame) -
              f->hist_start), f->shift, nb, out);
    } else {
      for (l = 0; l < nb; l++)
        gather_frame (f, f->next_frame + l, k->block + l, lanes);
      for (; l < lanes; l++)
        for (j = 0; j < f->window; j++)
          k->block[j * lanes + l] = 0.0;
      kern->compute (k, NULL, 0, nb, out);
    }
    f->next_frame += nb;
    out += (gsize) nb *k->frame_size;
    n -= nb;
  }
}

/* Computes the frames whose windows are complete into out + written
 * frames; returns how many. All of a push's frames are computed together
 * (as few blocks as can be), unless the buffer fills first. */
static guint64
compute_ready (LstmFeatures * f, float *out, guint64 written)
{
  guint64 ready = frames_ready (f, f->received);

  if (ready > 0)
    compute_frames (f, ready, out + written * f->k->frame_size);
  return ready;
}

/* Drops the samples no frame needs any more: those before one window
 * ahead of the next frame's start. Called when hist is full; then the
 * next frame is not complete (received < a + window), so fewer than
 * 2 windows remain and the buffer has room again. */
static void
compact (LstmFeatures * f)
{
  gint64 keep = MAX (0, frame_start (f, f->next_frame) - (gint64) f->window);

  g_assert (keep > f->hist_start);
  if (keep < (gint64) f->received)
    memmove (f->hist, f->hist + (keep - f->hist_start),
        (f->received - keep) * sizeof (float));
  f->hist_start = keep;
}

guint64
lstm_features_push (LstmFeatures * f, const float *samples, gsize n_samples,
    float *out)
{
  guint64 written = 0;

  g_return_val_if_fail (f != NULL, 0);
  g_return_val_if_fail (samples != NULL || n_samples == 0, 0);
  g_return_val_if_fail (out != NULL || lstm_features_frames_after (f,
          n_samples) == 0, 0);

  while (n_samples > 0) {
    gsize len, n;
    if ((gint64) f->received < f->hist_start) {
      /* a shift longer than the window: samples between frames */
      n = MIN (n_samples, (guint64) (f->hist_start - f->received));
      samples += n;
      n_samples -= n;
      f->received += n;
      continue;
    }
    len = f->received - f->hist_start;
    if (len == f->hist_cap) {
      /* the frames ready so far, before compact () drops their samples */
      written += compute_ready (f, out, written);
      compact (f);
      continue;
    }
    n = MIN (n_samples, f->hist_cap - len);
    memcpy (f->hist + len, samples, n * sizeof (float));
    samples += n;
    n_samples -= n;
    f->received += n;
  }
  written += compute_ready (f, out, written);
  return written;
}

typedef gint16 S16x8 __attribute__((vector_size (16)));
typedef float F32x8 __attribute__((vector_size (32)));

/* The common case, 8 samples at a time (vector extensions: SSE2 on
 * x86-64; every int16 is exact in float). */
static void
convert_mono_s16 (const gint16 * s, float *out, gsize n)
{
  gsize i;

  for (i = 0; i + 8 <= n; i += 8) {
    S16x8 v;
    F32x8 x;
    memcpy (&v, s + i, sizeof (v));
    x = __builtin_convertvector (v, F32x8);
    memcpy (out + i, &x, sizeof (x));
  }
  for (; i < n; i++)
    out[i] = s[i];
}

/* The largest F32 magnitude that stays finite once scaled by 32768
 * (about 1.04e34): a larger one would become an infinity. */
#define F32_MAX_SCALABLE (FLT_MAX / 32768.0f)

/* Interleaved S16 or F32 to mono in Kaldi's scale: one channel, or the
 * mean of all. F32 is x * 32768; a NaN, an infinity or a value beyond
 * F32_MAX_SCALABLE counts as 0, and is counted as non-finite. */
static void
convert (LstmFeatures * f, gconstpointer samples, LstmSampleFormat format,
    guint channels, gint channel, gsize first, gsize n)
{
  gsize i;
  guint c;

  if (format == LSTM_SAMPLE_S16 && channels == 1) {
    convert_mono_s16 ((const gint16 *) samples + first, f->convert, n);
  } else if (format == LSTM_SAMPLE_S16) {
    const gint16 *s = (const gint16 *) samples + first * channels;
    for (i = 0; i < n; i++, s += channels) {
      float sum = 0.0f;
      if (channel >= 0) {
        f->convert[i] = s[channel];
        continue;
      }
      for (c = 0; c < channels; c++)
        sum += s[c];
      f->convert[i] = sum / channels;
    }
  } else {
    const float *x = (const float *) samples + first * channels;
    for (i = 0; i < n; i++, x += channels) {
      float sum = 0.0f;
      guint c0 = channel >= 0 ? (guint) channel : 0;
      guint c1 = channel >= 0 ? c0 + 1 : channels;
      for (c = c0; c < c1; c++) {
        if (fabsf (x[c]) <= F32_MAX_SCALABLE)  /* false for NaN too */
          sum += x[c];
        else
          f->nonfinite++;
      }
      f->convert[i] = sum / (c1 - c0) * 32768.0f;
    }
  }
}

guint64
lstm_features_push_interleaved (LstmFeatures * f, gconstpointer samples,
    LstmSampleFormat format, guint channels, gint channel, gsize n_samples,
    float *out)
{
  guint64 written = 0;
  gsize done = 0;

  g_return_val_if_fail (f != NULL, 0);
  g_return_val_if_fail (samples != NULL || n_samples == 0, 0);
  g_return_val_if_fail (format == LSTM_SAMPLE_S16
      || format == LSTM_SAMPLE_F32, 0);
  g_return_val_if_fail (channels >= 1, 0);
  g_return_val_if_fail (channel >= -1 && channel < (gint) channels, 0);

  while (done < n_samples) {
    gsize n = MIN (n_samples - done, CONVERT_CHUNK);
    convert (f, samples, format, channels, channel, done, n);
    written += lstm_features_push (f, f->convert, n,
        out != NULL ? out + written * f->k->frame_size : NULL);
    done += n;
  }
  return written;
}

guint64
lstm_features_finish_frames (const LstmFeatures * f)
{
  guint64 m;

  g_return_val_if_fail (f != NULL, 0);
  if (f->k->cfg.snip_edges)
    return 0;
  m = (f->received + f->shift / 2) / f->shift;
  return m > f->next_frame ? m - f->next_frame : 0;
}

guint64
lstm_features_finish (LstmFeatures * f, float *out)
{
  guint64 n;

  g_return_val_if_fail (f != NULL, 0);
  n = lstm_features_finish_frames (f);
  g_return_val_if_fail (out != NULL || n == 0, 0);

  compute_frames (f, n, out);
  lstm_features_reset (f);
  return n;
}
