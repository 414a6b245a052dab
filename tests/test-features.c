/* The feature core (lstm_features_*) against torchaudio.compliance.kaldi,
 * and its streaming: any split of the samples gives the same frames. */
#include "test-features-ref.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------- helpers */

static LstmFeatures *
new_features (const LstmFeaturesConfig * cfg, guint rate)
{
  g_autoptr (GError) error = NULL;
  LstmFeatures *f = lstm_features_new (cfg, rate, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f);
  return f;
}

/* Pushes mono S16 samples in pieces of the given sizes (cycled; NULL:
 * all at once), then finishes. Checks that every push writes exactly the
 * frames lstm_features_frames_after promised. Returns [frames, size]. */
/* Where frames go at the end of `out` (NULL while it is empty, so as not
 * to offset a NULL pointer). */
static float *
tail_of (GArray * out, guint old)
{
  return out->len > old ? (float *) out->data + old : NULL;
}

static GArray *
run_s16 (LstmFeatures * f, const gint16 * s, gsize n, const gsize * pieces,
    guint n_pieces)
{
  guint fs = lstm_features_get_frame_size (f);
  GArray *out = g_array_new (FALSE, FALSE, sizeof (float));
  gsize done = 0;
  guint p = 0;
  guint64 k;

  while (done < n) {
    gsize c = n - done;
    guint64 want;
    guint old = out->len;
    if (pieces != NULL)
      c = MIN (c, pieces[p % n_pieces]);
    p++;
    want = lstm_features_frames_after (f, c);
    g_array_set_size (out, old + want * fs);
    k = lstm_features_push_interleaved (f, s + done, LSTM_SAMPLE_S16, 1, -1,
        c, tail_of (out, old));
    g_assert_cmpuint (k, ==, want);
    done += c;
  }
  k = lstm_features_finish_frames (f);
  {
    guint old = out->len;
    g_array_set_size (out, old + k * fs);
    g_assert_cmpuint (lstm_features_finish (f, tail_of (out, old)), ==, k);
  }
  return out;
}

static GArray *
run_ref_whole (const FeatRef * r)
{
  LstmFeaturesConfig cfg;
  g_autoptr (LstmFeatures) f = NULL;

  feat_ref_config (r, &cfg);
  f = new_features (&cfg, r->rate);
  return run_s16 (f, r->audio, r->n_samples, NULL, 0);
}

static void
assert_same_frames (GArray * a, GArray * b)
{
  g_assert_cmpuint (a->len, ==, b->len);
  g_assert_cmpmem (a->data, a->len * sizeof (float), b->data,
      b->len * sizeof (float));
}

/* ------------------------------------------------------ torchaudio cases */

/* The whole signal in one push equals torchaudio's features, to
 * FEAT_ABS_TOL (1e-3) absolute, or FEAT_REL_TOL (1e-5) relative for
 * linear energies; the frame count is exactly torchaudio's. */
static void
test_reference (gconstpointer data)
{
  g_autoptr (FeatRef) r = feat_ref_load (data);
  g_autoptr (GArray) out = run_ref_whole (r);
  gboolean relative;
  double err;

  g_assert_cmpuint (out->len, ==, (gsize) r->frames * r->dims);
  for (guint i = 0; i < out->len; i++)
    g_assert_true (isfinite (g_array_index (out, float, i)));
  err = feat_ref_error (r, (float *) out->data, &relative);
  g_test_message ("%s: %u frames x %u, max %s error vs torchaudio %.3g "
      "(tolerance %g)", r->name, r->frames, r->dims,
      relative ? "relative" : "absolute", err, feat_ref_tolerance (relative));
  g_assert_cmpfloat (err, <=, feat_ref_tolerance (relative));
}

/* Random splits, and one sample per push, give bit-identical frames. */
static void
test_splits (gconstpointer data)
{
  g_autoptr (FeatRef) r = feat_ref_load (data);
  g_autoptr (GArray) whole = run_ref_whole (r);
  LstmFeaturesConfig cfg;
  g_autoptr (LstmFeatures) f = NULL;
  gsize pieces[16], one = 1;
  guint trial, i;

  feat_ref_config (r, &cfg);
  f = new_features (&cfg, r->rate);
  for (trial = 0; trial < 8; trial++) {
    g_autoptr (GArray) split = NULL;
    /* sizes from 1 sample to a few windows, some of them 0 */
    for (i = 0; i < G_N_ELEMENTS (pieces); i++)
      pieces[i] = g_test_rand_int_range (0, 4) == 0 ? 0 :
          g_test_rand_int_range (1, 1200);
    pieces[0] = MAX (pieces[0], 1);     /* progress guaranteed */
    split = run_s16 (f, r->audio, r->n_samples, pieces, 16);
    assert_same_frames (whole, split);
  }
  {
    g_autoptr (GArray) samplewise = run_s16 (f, r->audio, r->n_samples, &one,
        1);
    assert_same_frames (whole, samplewise);
  }
}

/* ------------------------------------------------------ input formats */

/* F32 is x * 32768: s / 32768 as F32 gives the S16 frames exactly;
 * identical stereo channels average to the same; channel=1 picks one. */
static void
test_input_formats (void)
{
  g_autoptr (FeatRef) r = feat_ref_load ("fbank-speech16k");
  g_autoptr (GArray) want = run_ref_whole (r);
  LstmFeaturesConfig cfg;
  g_autoptr (LstmFeatures) f = NULL;
  gsize n = r->n_samples, i;
  g_autofree float *mono = g_new (float, n);
  g_autofree float *stereo = g_new (float, 2 * n);
  g_autofree gint16 *stereo16 = g_new (gint16, 2 * n);
  g_autofree float *out = NULL;
  guint fs;

  feat_ref_config (r, &cfg);
  f = new_features (&cfg, r->rate);
  fs = lstm_features_get_frame_size (f);
  out = g_new (float, (gsize) r->frames * fs);
  for (i = 0; i < n; i++) {
    mono[i] = r->audio[i] / 32768.0f;
    stereo[2 * i] = stereo[2 * i + 1] = mono[i];
    stereo16[2 * i] = r->audio[i];
    stereo16[2 * i + 1] = (gint16) (i * 7919);  /* noise, for channel=0 */
  }
  g_assert_cmpuint (lstm_features_push_interleaved (f, mono, LSTM_SAMPLE_F32,
          1, -1, n, out), ==, r->frames);
  g_assert_cmpmem (out, want->len * 4, want->data, want->len * 4);
  lstm_features_reset (f);
  g_assert_cmpuint (lstm_features_push_interleaved (f, stereo,
          LSTM_SAMPLE_F32, 2, -1, n, out), ==, r->frames);
  g_assert_cmpmem (out, want->len * 4, want->data, want->len * 4);
  lstm_features_reset (f);
  g_assert_cmpuint (lstm_features_push_interleaved (f, stereo,
          LSTM_SAMPLE_F32, 2, 1, n, out), ==, r->frames);
  g_assert_cmpmem (out, want->len * 4, want->data, want->len * 4);
  lstm_features_reset (f);
  g_assert_cmpuint (lstm_features_push_interleaved (f, stereo16,
          LSTM_SAMPLE_S16, 2, 0, n, out), ==, r->frames);
  g_assert_cmpmem (out, want->len * 4, want->data, want->len * 4);
  g_assert_cmpuint (lstm_features_get_nonfinite (f), ==, 0);
}

/* Averaging: (a + b) / 2 per sample, in Kaldi's scale. */
static void
test_downmix_average (void)
{
  LstmFeaturesConfig cfg;
  g_autoptr (LstmFeatures) f = NULL;
  gint16 st[2 * 4000];
  float mono[4000];
  float a[40 * 24], b[40 * 24];
  guint64 n;

  lstm_features_config_init (&cfg);
  f = new_features (&cfg, 16000);
  for (guint i = 0; i < 4000; i++) {
    st[2 * i] = (gint16) (8000 * sin (i * 0.05));
    st[2 * i + 1] = (gint16) ((i * 7919) % 20000 - 10000);
    mono[i] = (st[2 * i] + st[2 * i + 1]) / 2.0f;
  }
  n = lstm_features_push_interleaved (f, st, LSTM_SAMPLE_S16, 2, -1, 4000, a);
  g_assert_cmpuint (n, ==, 1 + (4000 - 400) / 160);
  lstm_features_reset (f);
  g_assert_cmpuint (lstm_features_push (f, mono, 4000, b), ==, n);
  g_assert_cmpmem (a, n * 23 * 4, b, n * 23 * 4);
}

/* NaN and infinities count as 0 and are counted; no NaN comes out. */
static void
test_nonfinite (void)
{
  LstmFeaturesConfig cfg;
  g_autoptr (LstmFeatures) f = NULL;
  float x[3200], zeroed[3200], a[40 * 13], b[40 * 13];
  guint64 n;

  lstm_features_config_init (&cfg);
  cfg.type = LSTM_FEATURES_MFCC;
  cfg.use_energy = TRUE;
  f = new_features (&cfg, 16000);
  for (guint i = 0; i < 3200; i++)
    x[i] = zeroed[i] = 0.2f * sinf (i * 0.1f);
  x[10] = NAN;
  x[500] = INFINITY;
  x[501] = -INFINITY;
  /* finite, but infinite once scaled by 32768; 1e34 still scales */
  x[900] = 1e38f;
  x[901] = -3e34f;
  x[902] = zeroed[902] = 1e34f;
  zeroed[10] = zeroed[500] = zeroed[501] = zeroed[900] = zeroed[901] = 0.0f;
  n = lstm_features_push_interleaved (f, x, LSTM_SAMPLE_F32, 1, -1, 3200, a);
  g_assert_cmpuint (lstm_features_get_nonfinite (f), ==, 5);
  lstm_features_reset (f);
  g_assert_cmpuint (lstm_features_get_nonfinite (f), ==, 0);
  g_assert_cmpuint (lstm_features_push_interleaved (f, zeroed,
          LSTM_SAMPLE_F32, 1, -1, 3200, b), ==, n);
  g_assert_cmpmem (a, n * 13 * 4, b, n * 13 * 4);
  for (guint i = 0; i < n * 13; i++)
    g_assert_true (isfinite (a[i]));
}

/* ------------------------------------------------------------- framing */

/* Kaldi's reflection: s < 0 -> -s - 1, s >= N -> 2N - 1 - s, repeated. */
static gint64
reflect (gint64 s, gint64 N)
{
  while (s < 0 || s >= N) {
    if (s < 0)
      s = -s - 1;
    if (s >= N)
      s = 2 * N - 1 - s;
  }
  return s;
}

/* Without snip-edges, frame i is the window at i * shift - pad of the
 * reflected signal, pad = window / 2 - shift / 2, and there are
 * (N + shift / 2) / shift frames. So the frames equal those of a
 * snip-edges extractor run on the explicitly reflected signal: checked
 * for signals long and short (shorter than half a window reflects more
 * than once), with the head and the tail split across pushes. */
static void
test_reflection (void)
{
  static const gsize lengths[] = { 80, 100, 250, 399, 400, 401, 1000, 1759,
    1760, 3333
  };
  LstmFeaturesConfig snip, nosnip;
  guint li;

  lstm_features_config_init (&nosnip);
  nosnip.snip_edges = FALSE;
  nosnip.num_mel_bins = 40;
  nosnip.use_energy = TRUE;
  snip = nosnip;
  snip.snip_edges = TRUE;

  for (li = 0; li < G_N_ELEMENTS (lengths); li++) {
    gsize N = lengths[li], i;
    g_autoptr (LstmFeatures) a = new_features (&nosnip, 16000);
    g_autoptr (LstmFeatures) b = new_features (&snip, 16000);
    guint W = lstm_features_get_window_size (a);
    guint S = lstm_features_get_frame_shift (a);
    gint64 pad = W / 2 - S / 2;
    gsize m = (N + S / 2) / S, ylen = (m > 0 ? (m - 1) * S : 0) + W;
    g_autofree gint16 *x = g_new (gint16, N);
    g_autofree gint16 *y = g_new (gint16, ylen);
    gsize pieces[] = { 7, 151, 13, 400 };
    g_autoptr (GArray) got = NULL;
    g_autoptr (GArray) want = NULL;

    for (i = 0; i < N; i++)
      x[i] = (gint16) (5000 * sin (i * 0.3) + (i * 7919) % 1000);
    for (i = 0; i < ylen; i++)
      y[i] = x[reflect ((gint64) i - pad, N)];
    got = run_s16 (a, x, N, pieces, G_N_ELEMENTS (pieces));
    want = run_s16 (b, y, ylen, NULL, 0);
    g_assert_cmpuint (got->len, ==, m * 41);
    g_assert_cmpuint (want->len, >=, got->len);
    g_assert_cmpmem (got->data, got->len * 4, want->data, got->len * 4);
  }
}

/* Frame counts: snip-edges 1 + (N - window) / shift (0 when N < window);
 * without, (N + shift / 2) / shift; and frames_after tells in advance. */
static void
test_frame_counts (void)
{
  static const gsize lengths[] = { 0, 1, 79, 80, 159, 160, 239, 240, 399,
    400, 401, 559, 560, 16000, 16079, 16080
  };
  LstmFeaturesConfig cfg;
  guint li, snip;
  g_autofree gint16 *zeros = g_new0 (gint16, 16080);

  lstm_features_config_init (&cfg);
  for (snip = 0; snip < 2; snip++) {
    cfg.snip_edges = snip;
    for (li = 0; li < G_N_ELEMENTS (lengths); li++) {
      gsize N = lengths[li];
      g_autoptr (LstmFeatures) f = new_features (&cfg, 16000);
      g_autoptr (GArray) out = NULL;
      gsize want = snip ? (N >= 400 ? 1 + (N - 400) / 160 : 0) : (N + 80) / 160;
      /* the frames the samples complete; the rest wait for the end */
      if (snip)
        g_assert_cmpuint (lstm_features_frames_after (f, N), ==, want);
      else
        g_assert_cmpuint (lstm_features_frames_after (f, N), <=, want);
      out = run_s16 (f, zeros, N, NULL, 0);
      g_assert_cmpuint (out->len, ==, want * 23);
      /* finish reset the extractor: the next signal starts at frame 0 */
      g_assert_cmpuint (lstm_features_get_frames_done (f), ==, 0);
      g_assert_cmpuint (lstm_features_get_samples_done (f), ==, 0);
    }
  }
}

/* Window, shift, FFT size, lookahead and frame size follow the options. */
static void
test_geometry (void)
{
  LstmFeaturesConfig cfg;
  LstmFeatures *f;

  lstm_features_config_init (&cfg);
  f = new_features (&cfg, 16000);
  g_assert_cmpuint (lstm_features_get_window_size (f), ==, 400);
  g_assert_cmpuint (lstm_features_get_frame_shift (f), ==, 160);
  g_assert_cmpuint (lstm_features_get_fft_size (f), ==, 512);
  g_assert_cmpuint (lstm_features_get_lookahead (f), ==, 400);
  g_assert_cmpuint (lstm_features_get_frame_size (f), ==, 23);
  lstm_features_free (f);

  cfg.snip_edges = FALSE;
  cfg.use_energy = TRUE;
  cfg.num_mel_bins = 80;
  f = new_features (&cfg, 16000);
  /* pad = 400 / 2 - 160 / 2 = 120: frame 0 needs samples up to 279 */
  g_assert_cmpuint (lstm_features_get_lookahead (f), ==, 280);
  g_assert_cmpuint (lstm_features_get_frame_size (f), ==, 81);
  lstm_features_free (f);

  /* 22050 Hz: int (22050 * 25 * 0.001) = 551, int (220.5) = 220 */
  cfg.type = LSTM_FEATURES_MFCC;
  f = new_features (&cfg, 22050);
  g_assert_cmpuint (lstm_features_get_window_size (f), ==, 551);
  g_assert_cmpuint (lstm_features_get_frame_shift (f), ==, 220);
  g_assert_cmpuint (lstm_features_get_fft_size (f), ==, 1024);
  g_assert_cmpuint (lstm_features_get_frame_size (f), ==, 13);
  lstm_features_free (f);
}

/* reset forgets the samples: the same signal again gives the same frames. */
static void
test_reset (void)
{
  g_autoptr (FeatRef) r = feat_ref_load ("mfcc-speech16k");
  g_autoptr (GArray) want = run_ref_whole (r);
  LstmFeaturesConfig cfg;
  g_autoptr (LstmFeatures) f = NULL;
  g_autofree float *junk = g_new (float, 100 * 13);
  g_autoptr (GArray) again = NULL;

  feat_ref_config (r, &cfg);
  f = new_features (&cfg, r->rate);
  lstm_features_push_interleaved (f, r->audio, LSTM_SAMPLE_S16, 1, -1, 5000,
      junk);
  lstm_features_reset (f);
  again = run_s16 (f, r->audio, r->n_samples, NULL, 0);
  assert_same_frames (want, again);
}

/* Dither is seeded: reproducible, split-independent, and changes the
 * features (silence gets finite, varying values instead of log eps). */
static void
test_dither (void)
{
  LstmFeaturesConfig cfg;
  g_autofree gint16 *silence = g_new0 (gint16, 8000);
  gsize pieces[] = { 333, 1 };
  g_autoptr (LstmFeatures) a = NULL;
  g_autoptr (LstmFeatures) b = NULL;
  g_autoptr (GArray) x = NULL;
  g_autoptr (GArray) y = NULL;

  lstm_features_config_init (&cfg);
  cfg.dither = 1.0;
  a = new_features (&cfg, 16000);
  b = new_features (&cfg, 16000);
  x = run_s16 (a, silence, 8000, NULL, 0);
  y = run_s16 (b, silence, 8000, pieces, 2);
  assert_same_frames (x, y);
  /* log (FLT_EPSILON) = -15.94 without dither; unit-variance noise gives
   * each FFT bin a power of about the window's energy (~100 here), so
   * even the narrowest mel bin sits far above the floor */
  for (guint i = 0; i < x->len; i++)
    g_assert_cmpfloat (g_array_index (x, float, i), >, -8.0);
  g_assert_cmpfloat (g_array_index (x, float, 0), !=,
      g_array_index (x, float, 23));
}

/* ------------------------------------------------------------- errors */

typedef struct
{
  const gchar *what;
  void (*set) (LstmFeaturesConfig * cfg);
  guint rate;
  gboolean any_rate;            /* lstm_features_config_check refuses it */
  const gchar *words[4];        /* all must be in the message */
} BadCase;

static void
set_high_7600 (LstmFeaturesConfig * c)
{
  c->high_freq = 7600;
}

static void
set_low_9000 (LstmFeaturesConfig * c)
{
  c->low_freq = 9000;
}

static void
set_high_offset (LstmFeaturesConfig * c)
{
  c->high_freq = -7990;
}

static void
set_many_bins (LstmFeaturesConfig * c)
{
  c->num_mel_bins = 200;
}

static void
set_ceps (LstmFeaturesConfig * c)
{
  c->type = LSTM_FEATURES_MFCC;
  c->num_ceps = 30;
}

static void
set_short_frame (LstmFeaturesConfig * c)
{
  c->frame_length = 0.1;
}

static void
set_short_shift (LstmFeaturesConfig * c)
{
  c->frame_shift = 0.01;
}

static void
set_preemph (LstmFeaturesConfig * c)
{
  c->preemphasis_coefficient = 1.5;
}

static void
set_nan_floor (LstmFeaturesConfig * c)
{
  c->energy_floor = NAN;
}

static void
set_two_bins (LstmFeaturesConfig * c)
{
  c->num_mel_bins = 2;
}

static void
set_high_below_low (LstmFeaturesConfig * c)
{
  c->low_freq = 5000;
  c->high_freq = 3000;
}

static void
set_huge_lifter (LstmFeaturesConfig * c)
{
  c->type = LSTM_FEATURES_MFCC;
  c->cepstral_lifter = 1e300;
}

static void
set_nothing (LstmFeaturesConfig * c)
{
}

static void
test_errors (void)
{
  static const BadCase cases[] = {
    {"mel range above Nyquist", set_high_7600, 8000, FALSE,
        {"8000 Hz", "7600 Hz", "Nyquist frequency 4000 Hz", "too low"}},
    {"low-freq above Nyquist", set_low_9000, 16000, FALSE,
        {"16000 Hz", "9000 Hz", "8000 Hz"}},
    {"high-freq offset below low-freq", set_high_offset, 16000, FALSE,
        {"high-freq -7990 Hz", "10 Hz", "low-freq 20 Hz"}},
    {"empty mel bin", set_many_bins, 8000, FALSE,
        {"gets no FFT bin", "200 mel bins", "256-point FFT", "8000 Hz"}},
    {"num-ceps > num-mel-bins", set_ceps, 16000, TRUE, {"num-ceps 30", "(23)"}},
    {"window under 2 samples", set_short_frame, 8000, FALSE,
        {"frame-length of 0.1 ms", "8000 Hz", "at least 2"}},
    {"shift under 1 sample", set_short_shift, 8000, FALSE,
        {"frame-shift of 0.01 ms", "less than one sample"}},
    {"pre-emphasis", set_preemph, 16000, TRUE, {"preemphasis-coefficient 1.5"}},
    {"NaN energy floor", set_nan_floor, 16000, TRUE, {"energy-floor nan"}},
    {"2 mel bins", set_two_bins, 16000, TRUE, {"num-mel-bins 2"}},
    {"absolute high-freq below low-freq", set_high_below_low, 16000, TRUE,
        {"high-freq 3000 Hz", "not above low-freq 5000 Hz"}},
    {"lifter that overflows", set_huge_lifter, 16000, TRUE,
        {"cepstral-lifter 1e+300", "0 to 1e+06"}},
    {"rate 0", set_nothing, 0, FALSE, {"0 Hz"}},
    {"window over the limit", set_nothing, 100000000, FALSE, {"more than"}},
  };
  guint i, j;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    LstmFeaturesConfig cfg;
    g_autoptr (GError) error = NULL;
    LstmFeatures *f;

    lstm_features_config_init (&cfg);
    cases[i].set (&cfg);
    f = lstm_features_new (&cfg, cases[i].rate, &error);
    g_assert_null (f);
    g_assert_error (error, LSTM_ERROR, LSTM_ERROR_INVALID);
    g_test_message ("%s: %s", cases[i].what, error->message);
    for (j = 0; j < G_N_ELEMENTS (cases[i].words) && cases[i].words[j]; j++)
      if (strstr (error->message, cases[i].words[j]) == NULL)
        g_error ("%s: \"%s\" not in \"%s\"", cases[i].what, cases[i].words[j],
            error->message);
    /* the rate-independent check refuses the same, with the same words,
     * and only those */
    g_clear_error (&error);
    g_assert_cmpint (lstm_features_config_check (&cfg, &error), ==,
        !cases[i].any_rate);
    if (cases[i].any_rate) {
      g_assert_error (error, LSTM_ERROR, LSTM_ERROR_INVALID);
      g_assert_nonnull (strstr (error->message, cases[i].words[0]));
    } else {
      g_assert_no_error (error);
    }
  }
}

/* A channel outside the stream is a programmer error. */
static void
test_bad_channel (void)
{
  if (g_test_subprocess ()) {
    LstmFeaturesConfig cfg;
    g_autoptr (LstmFeatures) f = NULL;
    gint16 s[4] = { 0 };
    lstm_features_config_init (&cfg);
    f = new_features (&cfg, 16000);
    lstm_features_push_interleaved (f, s, LSTM_SAMPLE_S16, 2, 2, 2, NULL);
    return;
  }
  g_test_trap_subprocess (NULL, 0, 0);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*channel < (gint) channels*");
}

int
main (int argc, char **argv)
{
  g_autofree const gchar **names = NULL;
  guint i;

  g_test_init (&argc, &argv, NULL);
  names = feat_ref_case_names ();
  for (i = 0; names[i] != NULL; i++) {
    g_autofree gchar *ref = g_strdup_printf ("/lstm/features/reference/%s",
        names[i]);
    g_autofree gchar *split = g_strdup_printf ("/lstm/features/splits/%s",
        names[i]);
    g_test_add_data_func (ref, names[i], test_reference);
    g_test_add_data_func (split, names[i], test_splits);
  }
  g_test_add_func ("/lstm/features/input-formats", test_input_formats);
  g_test_add_func ("/lstm/features/downmix-average", test_downmix_average);
  g_test_add_func ("/lstm/features/nonfinite", test_nonfinite);
  g_test_add_func ("/lstm/features/reflection", test_reflection);
  g_test_add_func ("/lstm/features/frame-counts", test_frame_counts);
  g_test_add_func ("/lstm/features/geometry", test_geometry);
  g_test_add_func ("/lstm/features/reset", test_reset);
  g_test_add_func ("/lstm/features/dither", test_dither);
  g_test_add_func ("/lstm/features/errors", test_errors);
  g_test_add_func ("/lstm/features/bad-channel", test_bad_channel);
  return g_test_run ();
}
