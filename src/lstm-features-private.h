/* Internal to src/: the per-frame maths of lstm_features_* (Kaldi's
 * window processing, power spectrum, mel banks, DCT), shared by the
 * streaming code (lstm-features.c), the tables (lstm-features-kaldi.c)
 * and the kernels that compute a block of frames at once
 * (lstm-features-lanes.c). */
#ifndef __LSTM_FEATURES_PRIVATE_H__
#define __LSTM_FEATURES_PRIVATE_H__

#include "lstm.h"

#include "lstm-fft-private.h"

G_BEGIN_DECLS

typedef struct _LstmKaldi LstmKaldi;

/* A kernel set: computes `lanes` frames at once, one per vector lane. */
typedef struct
{
  const gchar *name;            /* "avx512", "avx2", "portable" */
  guint lanes;
  /* n_frames (<= lanes) frames, frame_size floats each, to out: their
   * windows start at rows, stride floats apart, or (rows NULL) are in
   * k->block already */
  void (*compute) (LstmKaldi * k, const float *rows, guint stride,
      guint n_frames, float *out);
} LstmKaldiKernel;

#define LSTM_KALDI_MAX_KERNELS 3

/* Everything a block of frames needs, sized once from the options and the
 * rate. */
struct _LstmKaldi
{
  LstmFeaturesConfig cfg;
  guint sample_rate;            /* Hz */
  guint window_size;            /* samples per window */
  guint frame_shift;            /* samples between frame starts */
  guint fft_size;               /* window_size rounded up to a power of 2 */
  guint frame_size;             /* floats per output frame */
  double log_energy_floor;      /* log (energy_floor), or -inf without one */

  /* Tables. torchaudio builds the mel banks, the DCT and the lifter in
   * float32 even for a float64 signal: those hold float32 values. */
  double *window;               /* [window_size] the window function */
  guint *mel_first;             /* [num_mel_bins] first FFT bin of each mel bin */
  guint *mel_len;               /* [num_mel_bins] FFT bins in each mel bin */
  guint *mel_offset;            /* [num_mel_bins] start of its weights */
  double *mel_weights;          /* the triangles' non-zero weights / 4, bin
                                 * after bin (see lstm-fft-lanes.h) */
  double *dct;                  /* MFCC: [num_ceps, num_mel_bins] */
  double *lifter;               /* MFCC: [num_ceps] */

  /* A block of frames, in double (see lstm-features-kaldi.c for why),
   * frame l of a kernel of L lanes in lane l: the window's samples
   * block[j * L + l] (j < window_size); the kernel then uses
   * [fft_size + fft_size / 2 + num_mel_bins] vectors of L doubles. */
  LstmFft *fft;
  double *block;                /* aligned to 64 bytes */
  const LstmKaldiKernel *kernels[LSTM_KALDI_MAX_KERNELS];   /* widest first */
  guint n_kernels;
  GRand *rand;                  /* dither noise, seeded: reproducible */
};

/* The seed of the dither noise (reset restarts it). */
#define LSTM_FEATURES_DITHER_SEED 20240613

/* Validates the options that do not depend on the rate. */
G_GNUC_INTERNAL gboolean lstm_kaldi_check_options (const LstmFeaturesConfig *
    cfg, GError ** error);

/* Validates the options for the rate and builds the tables. */
G_GNUC_INTERNAL LstmKaldi *lstm_kaldi_new (const LstmFeaturesConfig * cfg,
    guint sample_rate, GError ** error);
G_GNUC_INTERNAL void lstm_kaldi_free (LstmKaldi * k);

/* The kernel for the next n_frames (> 0) frames: the narrowest that
 * holds them all (its spare lanes padding), or else the widest. */
G_GNUC_INTERNAL const LstmKaldiKernel *lstm_kaldi_pick (const LstmKaldi * k,
    guint64 n_frames);

/* lstm-features-lanes.c: the kernel sets this CPU runs, capped by
 * LSTM_FEATURES_KERNELS, widest first (at most LSTM_KALDI_MAX_KERNELS;
 * "portable" only where no other runs). Returns how many. */
G_GNUC_INTERNAL guint lstm_kaldi_choose_kernels (const LstmKaldiKernel **
    kernels);

/* For tests (lstm-features-lanes.c): one block by `kern`, with the mel
 * energies in double too ([n_frames, num_mel_bins], logs if the
 * features take them). */
G_GNUC_INTERNAL void lstm_kaldi_block_mel (LstmKaldi * k,
    const LstmKaldiKernel * kern, const float *rows, guint stride,
    guint n_frames, float *out, double *mel);

/* For tests: y_i = ln (max (x_i, FLT_EPSILON)), the kernels' logarithm. */
G_GNUC_INTERNAL void lstm_kaldi_log_portable (const double *x, double *y,
    guint n);

G_END_DECLS

#endif
