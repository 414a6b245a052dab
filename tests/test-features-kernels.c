/* The feature kernels (src/lstm-features-lanes.c, src/lstm-fft.c): our
 * FFT against a plain DFT, and every kernel set this CPU runs
 * (LSTM_FEATURES_KERNELS) against the portable one, bit for bit. */
#include "test-util.h"
#include "lstm-features-private.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- FFT */

/* power_k = 4 |X_k|^2 against the DFT summed in long double, for every
 * n = 2 .. 2048, on random samples in [-1, 1): the error relative to the
 * signal's energy E = sum x^2 (Parseval: sum |X_k|^2 = n E) stays under
 * 1e-12 (double rounding is 1.1e-16 per operation, the FFT has log2 n
 * levels). */
static void
test_fft_dft (void)
{
  guint n;

  for (n = 2; n <= 2048; n *= 2) {
    LstmFft *fft = lstm_fft_new (n);
    double *x = g_new (double, n), *power = g_new (double, n / 2);
    long double energy = 0.0;
    double worst = 0.0;
    guint i, k;

    for (i = 0; i < n; i++) {
      x[i] = g_test_rand_double_range (-1.0, 1.0);
      energy += (long double) x[i] * x[i];
    }
    lstm_fft_power_portable (fft, x, power);
    for (k = 0; k < n / 2; k++) {
      long double re = 0.0, im = 0.0;
      for (i = 0; i < n; i++) {
        /* the angle reduced mod n first: exact in long double */
        long double a = 2.0L * G_PI * (long double) ((guint64) i * k % n) / n;
        re += x[i] * cosl (a);
        im -= x[i] * sinl (a);
      }
      worst = MAX (worst, fabs (power[k] - 4.0 * (double) (re * re + im * im))
          / (4.0 * n * (double) energy));
    }
    g_test_message ("n = %u: max error %.3g of n E (tolerance 1e-12)", n,
        worst);
    g_assert_cmpfloat (worst, <=, 1e-12);
    lstm_fft_free (fft);
    g_free (x);
    g_free (power);
  }
}

/* The kernels' logarithm against libm's, on FLT_EPSILON (the floor)
 * to 1e300 (log-uniform), around 1, at powers of two and around sqrt 2
 * (where the reduction switches): relative error at most 2e-15 (9 ulps;
 * the output is float, 6e-8). Below the floor it gives the floor's. */
static void
test_log (void)
{
  guint n = 100000, i;
  double *x = g_new (double, n), *y = g_new (double, n), worst = 0.0;

  for (i = 0; i < n; i++) {
    switch (i % 4) {
      case 0:
        x[i] = exp (g_test_rand_double_range (log (FLT_EPSILON), 690.0));
        break;
      case 1:
        x[i] = 1.0 + g_test_rand_double_range (-1e-3, 1e-3);
        break;
      case 2:
        x[i] = ldexp (1.0, g_test_rand_int_range (-23, 1000));
        break;
      default:
        x[i] = ldexp (G_SQRT2 * (1.0 + g_test_rand_double_range (-1e-12,
                    1e-12)), g_test_rand_int_range (-20, 20));
        break;
    }
  }
  x[0] = 1.0;
  lstm_kaldi_log_portable (x, y, n);
  for (i = 0; i < n; i++) {
    double ref = log (x[i]);
    double err = ref == 0.0 ? fabs (y[i]) : fabs (y[i] - ref) / fabs (ref);
    worst = MAX (worst, err);
  }
  g_test_message ("max relative error %.3g (tolerance 2e-15)", worst);
  g_assert_cmpfloat (worst, <=, 2e-15);
  x[0] = 0.0;
  x[1] = 1e-30;
  lstm_kaldi_log_portable (x, y, 2);
  g_assert_cmpfloat (y[0], ==, y[1]);
  g_assert_cmpfloat (fabs (y[0] - log (FLT_EPSILON)), <=, 1e-14);
  g_free (x);
  g_free (y);
}

/* ------------------------------------------------------------ kernels */

/* The kernel sets this CPU runs: "portable" always, then "avx2" and
 * "avx512" if LSTM_FEATURES_KERNELS can choose them here. */
static GPtrArray *
kernel_sets (void)
{
  const gchar *names[] = { "portable", "avx2", "avx512" };
  GPtrArray *sets = g_ptr_array_new ();
  guint i;

  for (i = 0; i < G_N_ELEMENTS (names); i++) {
    const LstmKaldiKernel *k[LSTM_KALDI_MAX_KERNELS];
    g_setenv ("LSTM_FEATURES_KERNELS", names[i], TRUE);
    lstm_kaldi_choose_kernels (k);
    if (g_str_equal (k[0]->name, names[i]))
      g_ptr_array_add (sets, (gpointer) names[i]);
  }
  g_unsetenv ("LSTM_FEATURES_KERNELS");
  return sets;
}

/* Where frames go at the end of `out` (NULL while it is empty, so as not
 * to offset a NULL pointer). */
static float *
tail (GArray * out, guint old)
{
  return out->len > old ? (float *) out->data + old : NULL;
}

/* Features of s[0 .. n) with the kernel set `set`, pushed in pieces of
 * the given sizes (cycled), then finished. */
static GArray *
features_with (const gchar * set, const LstmFeaturesConfig * cfg,
    const float *s, gsize n, const gsize * pieces, guint n_pieces)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LstmFeatures) f = NULL;
  GArray *out = g_array_new (FALSE, FALSE, sizeof (float));
  guint fs;
  gsize done = 0;
  guint p = 0;

  g_setenv ("LSTM_FEATURES_KERNELS", set, TRUE);
  f = lstm_features_new (cfg, 16000, &error);
  g_unsetenv ("LSTM_FEATURES_KERNELS");
  g_assert_no_error (error);
  fs = lstm_features_get_frame_size (f);
  while (done < n) {
    gsize c = MIN (n - done, pieces[p % n_pieces]);
    guint old = out->len;
    guint64 want = lstm_features_frames_after (f, c);
    p++;
    g_array_set_size (out, old + want * fs);
    g_assert_cmpuint (lstm_features_push (f, s + done, c, tail (out, old)),
        ==, want);
    done += c;
  }
  {
    guint old = out->len;
    g_array_set_size (out, old + lstm_features_finish_frames (f) * fs);
    lstm_features_finish (f, tail (out, old));
  }
  return out;
}

/* A configuration whose FFT has n points: a window of n / 2 + 1 samples
 * (n = 2: 2), as many mel bins as it holds up to 23 (at least 3); FALSE
 * if no configuration has n points. Varies the options with n so that
 * both feature types, the energy, reflection and dither are covered. */
static gboolean
config_for (guint n, LstmFeaturesConfig * cfg)
{
  guint window = n == 2 ? 2 : n / 2 + 1, bins;

  lstm_features_config_init (cfg);
  /* samples = int (16000 * ms * 0.001): half a sample over, never under */
  cfg->frame_length = (window + 0.5) / 16.0;
  /* 10 ms, or an eighth of the window when longer: without snip-edges
   * the frames cover the signal at one per shift */
  cfg->frame_shift = (MAX (160, window / 8) + 0.5) / 16.0;
  cfg->low_freq = 0.0;
  cfg->type = (n & 0x5555555) ? LSTM_FEATURES_FBANK : LSTM_FEATURES_MFCC;
  cfg->use_energy = (n & 0x3333333) != 0;
  cfg->snip_edges = (n & 0x0f0f0f0f) != 0;
  cfg->dither = n == 1024 ? 1.0 : 0.0;
  for (bins = 23; bins >= 3; bins--) {
    g_autoptr (LstmFeatures) f = NULL;
    cfg->num_mel_bins = bins;
    cfg->num_ceps = MIN (13, bins);
    f = lstm_features_new (cfg, 16000, NULL);
    if (f != NULL) {
      g_assert_cmpuint (lstm_features_get_fft_size (f), ==, n);
      return TRUE;
    }
  }
  return FALSE;
}

/* Every kernel set gives the portable set's bits, for every FFT size the
 * features accept, on random audio of 20 frames (blocks of 8, 4, 2 and
 * 1 frames, full and not), pushed whole and in random pieces. */
static void
test_kernels_agree (void)
{
  g_autoptr (GPtrArray) sets = kernel_sets ();
  guint n, tested = 0, i, j;

  for (i = 0; i < sets->len; i++)
    g_test_message ("kernel set: %s", (const gchar *) sets->pdata[i]);
  for (n = 2; n <= LSTM_FEATURES_MAX_FFT; n *= 2) {
    LstmFeaturesConfig cfg;
    gsize len, whole, pieces[8];
    g_autofree float *s = NULL;
    g_autoptr (GArray) ref = NULL;

    if (!config_for (n, &cfg))
      continue;
    /* 20 frames; 11 (8 + 3) for the longest windows, which take time */
    len = (gsize) (n / 2 + 1) + (n <= 16384 ? 19 : 10) * (gsize) MAX (160,
        (n / 2 + 1) / 8) + 7;
    s = g_new (float, len);
    for (j = 0; j < len; j++)
      s[j] = (float) g_test_rand_int_range (-32768, 32768);
    whole = len;
    for (j = 0; j < G_N_ELEMENTS (pieces); j++)
      pieces[j] = g_test_rand_int_range (1, 2000);
    ref = features_with ("portable", &cfg, s, len, &whole, 1);
    g_assert_cmpuint (ref->len, >, 0);
    for (i = 0; i < sets->len; i++) {
      g_autoptr (GArray) a = features_with (sets->pdata[i], &cfg, s, len,
          &whole, 1);
      g_autoptr (GArray) b = features_with (sets->pdata[i], &cfg, s, len,
          pieces, G_N_ELEMENTS (pieces));
      g_assert_cmpmem (a->data, a->len * 4, ref->data, ref->len * 4);
      g_assert_cmpmem (b->data, b->len * 4, ref->data, ref->len * 4);
    }
    tested++;
  }
  g_test_message ("%u FFT sizes", tested);
  g_assert_cmpuint (tested, >=, 15);
}

/* The mel energies in double of frames 0 .. n_frames - 1 of s (frame i at
 * s + i * shift) by `kern`, in blocks of its lanes. */
static double *
block_mel (LstmKaldi * k, const LstmKaldiKernel * kern, const float *s,
    guint n_frames)
{
  guint B = k->cfg.num_mel_bins, i;
  double *mel = g_new (double, (gsize) n_frames * B);
  float *out = g_new (float, (gsize) n_frames * k->frame_size);

  for (i = 0; i < n_frames; i += kern->lanes)
    lstm_kaldi_block_mel (k, kern, s + i * k->frame_shift, k->frame_shift,
        MIN (kern->lanes, n_frames - i), out + i * k->frame_size, mel + i * B);
  g_free (out);
  return mel;
}

/* Every kernel this CPU runs gives the portable kernel's mel energies in
 * double bit for bit, before the rounding to float (which would hide a
 * difference in the last bits, e.g. a fused multiply-add in one set),
 * for 1 to lanes frames in a block, at every FFT size the features
 * accept. */
static void
test_blocks_agree (void)
{
  const LstmKaldiKernel *all[LSTM_KALDI_MAX_KERNELS];
  const LstmKaldiKernel *portable[LSTM_KALDI_MAX_KERNELS];
  guint n_all, n, i, j, f;

  g_setenv ("LSTM_FEATURES_KERNELS", "portable", TRUE);
  lstm_kaldi_choose_kernels (portable);
  g_unsetenv ("LSTM_FEATURES_KERNELS");
  n_all = lstm_kaldi_choose_kernels (all);
  for (n = 2; n <= LSTM_FEATURES_MAX_FFT; n *= 2) {
    LstmFeaturesConfig cfg;
    LstmKaldi *k;
    float *s;
    double *ref;
    gsize len;

    if (!config_for (n, &cfg))
      continue;
    k = lstm_kaldi_new (&cfg, 16000, NULL);
    len = k->window_size + 7 * (gsize) k->frame_shift;
    s = g_new (float, len);
    for (j = 0; j < len; j++)
      s[j] = (float) g_test_rand_int_range (-32768, 32768);
    ref = block_mel (k, portable[0], s, 8);
    for (i = 0; i < n_all; i++) {
      if (all[i]->lanes > k->kernels[0]->lanes)
        continue;
      for (f = 1; f <= all[i]->lanes; f++) {
        double *mel = block_mel (k, all[i], s, f);
        g_assert_cmpmem (mel, f * cfg.num_mel_bins * sizeof (double), ref,
            f * cfg.num_mel_bins * sizeof (double));
        g_free (mel);
      }
    }
    g_free (ref);
    g_free (s);
    lstm_kaldi_free (k);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/lstm/features/fft-against-dft", test_fft_dft);
  g_test_add_func ("/lstm/features/log", test_log);
  g_test_add_func ("/lstm/features/kernels-agree", test_kernels_agree);
  g_test_add_func ("/lstm/features/blocks-agree", test_blocks_agree);
  return g_test_run ();
}
