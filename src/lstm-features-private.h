/* Internal to src/: the per-frame maths of lstm_features_* (Kaldi's
 * window processing, power spectrum, mel banks, DCT), shared by the
 * streaming code (lstm-features.c) and the tables and frame computation
 * (lstm-features-kaldi.c). */
#ifndef __LSTM_FEATURES_PRIVATE_H__
#define __LSTM_FEATURES_PRIVATE_H__

#include "lstm.h"

#include <gst/fft/gstfftf64.h>

G_BEGIN_DECLS

/* Everything one frame needs, sized once from the options and the rate. */
typedef struct
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
  double *mel_weights;          /* the triangles' non-zero weights, bin after bin */
  double *dct;                  /* MFCC: [num_ceps, num_mel_bins] */
  double *lifter;               /* MFCC: [num_ceps] */

  /* One frame, in double: see lstm-features-kaldi.c for why. */
  GstFFTF64 *fft;
  double *frame;                /* [fft_size] the window's samples, zero padded */
  GstFFTF64Complex *spectrum;   /* [fft_size / 2 + 1] */
  double *power;                /* [fft_size / 2] |X_i|^2 */
  double *mel;                  /* [num_mel_bins] mel energies */
  GRand *rand;                  /* dither noise, seeded: reproducible */
} LstmKaldi;

/* The seed of the dither noise (reset restarts it). */
#define LSTM_FEATURES_DITHER_SEED 20240613

/* Validates the options for the rate and builds the tables. */
G_GNUC_INTERNAL LstmKaldi *lstm_kaldi_new (const LstmFeaturesConfig * cfg,
    guint sample_rate, GError ** error);
G_GNUC_INTERNAL void lstm_kaldi_free (LstmKaldi * k);

/* One frame: k->frame[0 .. window_size) holds the window's samples (the
 * rest stays 0); they are processed in place and frame_size floats are
 * written to `out`. */
G_GNUC_INTERNAL void lstm_kaldi_compute (LstmKaldi * k, float *out);

G_END_DECLS

#endif
