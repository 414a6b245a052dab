/* The forward pass: stacked nn.LSTM layers, then the head, state carried.
 *
 * Per chunk of T frames and per layer k (PyTorch's equations, rows of the
 * fused gate matrix in the order i, f, g, o):
 *
 *   G[t]  = W_ih x_t + b_ih + b_hh          one GEMM per block of frames
 *   G[t] += W_hh h_{t-1}                    one GEMV per frame
 *   i = sigmoid (G_i)   f = sigmoid (G_f)   g = tanh (G_g)   o = sigmoid (G_o)
 *   c_t = f * c_{t-1} + i * g               (lstm-act.c, vectorised)
 *   h_t = o * tanh (c_t)
 *
 * and h_t of layer k is the input of layer k + 1 (the layers step in a
 * wavefront, forward_chunk below). Models with a variant
 * (GRU, projection, bidirectional, ...) run in lstm-variant.c instead.
 */
#include "lstm-private.h"

#include <math.h>
#include <string.h>

/* x' = (x - mean) / std, per feature. */
void
lstm_forward_normalize (const LstmModel * m, const float *in, guint T,
    float *out)
{
  guint t, j, I = m->input_size;

  for (t = 0; t < T; t++) {
    const float *x = in + (gsize) t * I;
    float *y = out + (gsize) t * I;
    for (j = 0; j < I; j++)
      y[j] = (x[j] - m->input_mean[j]) / m->input_std[j];
  }
}

/* softmax (z)_j = exp (z_j - max z) / sum_k exp (z_k - max z) */
static void
softmax_row (float *z, guint n)
{
  float mx = z[0], sum = 0.0f;
  guint j;

  for (j = 1; j < n; j++)
    mx = MAX (mx, z[j]);
  for (j = 0; j < n; j++) {
    z[j] = expf (z[j] - mx);
    sum += z[j];
  }
  for (j = 0; j < n; j++)
    z[j] /= sum;
}

/* out [T, O] = activation (Y W^T + b) */
static void
head_forward (const LstmModel * m, const LstmPacked * w, const float *y,
    guint T, float *out)
{
  guint O = m->head_size, W = m->layer_output_size, t;

  lstm_blas_gemm_packed_bias (T, y, W, w, m->head_bias, out, O);

  for (t = 0; t < T; t++) {
    float *z = out + (gsize) t * O;
    switch (m->output) {
      case LSTM_OUTPUT_SOFTMAX:
        softmax_row (z, O);
        break;
      case LSTM_OUTPUT_SIGMOID:
        lstm_act_sigmoid (z, O);
        break;
      case LSTM_OUTPUT_IDENTITY:
        break;
    }
  }
}

const float *
lstm_forward_input (const LstmModel * m, LstmState * s, const float *input,
    guint T)
{
  if (m->input_mean == NULL)
    return input;
  lstm_forward_normalize (m, input, T, s->x_norm);
  return s->x_norm;
}

void
lstm_forward_output (const LstmModel * m, const LstmModelPacks * packs,
    const float *y, guint T, float *output)
{
  if (output == NULL)
    return;
  if (m->head_size > 0)
    head_forward (m, packs->head, y, T, output);
  else
    memcpy (output, y, (gsize) T * m->layer_output_size * sizeof (float));
}

/* The layers in a wavefront: layer k + 1 follows layer k at most `lag`
 * frames behind (WAVE_LAG, or half the chunk), its input product done per
 * block of that many frames, so that the frames' recurrent products
 * alternate between the layers' W_hh. Measured on an AMD EPYC (Zen 5,
 * 1 MiB L2; bench-forward, S1's 2 x 128): alternating between two 256 KiB
 * W_hh ran 9-11 % faster at 10 and 100 frames per call than each W_hh read
 * over and over for a whole chunk. Lags of 5-8 frames were best; 1-3 were
 * slower than no wavefront (the input product then reads W_ih for every
 * frame or two), and half of a 100-frame chunk gained nothing. Layers due
 * a frame in the same round take their recurrent products in one loop
 * over both W_hh (lstm_blas_gemv_packed_pair: 2.20 us against 2.45 in
 * turn). Every output is the same float sum either way (the product's
 * sums do not depend on its rows or their pairing). */
#define WAVE_LAG 8

typedef struct
{
  const LstmLayer *l;
  const LstmPacked *w_ih, *w_hh;
  const float *bias;            /* b_ih + b_hh */
  float *gates, *y, *h, *c;
  const float *x;               /* input rows: the layer below's y */
  guint done;                   /* frames stepped */
  guint ready;                  /* frames whose gates hold W_ih x + b */
} WaveLayer;

/* G[t] = b_ih + b_hh + W_ih x_t for frames ready .. upto - 1. */
static void
wave_input (WaveLayer * w, guint upto)
{
  gsize G4 = 4 * (gsize) w->l->hidden_size;
  float *g = w->gates + w->ready * G4;

  lstm_blas_gemm_packed_bias (upto - w->ready, w->x + (gsize) w->ready *
      w->l->input_size, w->l->input_size, w->w_ih, w->bias, g, G4);
  w->ready = upto;
}

/* h_{t-1} and G[t] of the layer's next frame */
static const float *
wave_h (const WaveLayer * w)
{
  guint H = w->l->hidden_size;

  return w->done == 0 ? w->h : w->y + (gsize) (w->done - 1) * H;
}

static float *
wave_gates (const WaveLayer * w)
{
  return w->gates + (gsize) w->done * 4 * w->l->hidden_size;
}

/* the cell of the layer's next frame, whose gates are complete */
static void
wave_cell (WaveLayer * w)
{
  guint H = w->l->hidden_size, t = w->done++;

  lstm_act_cell (w->gates + (gsize) t * 4 * H, w->c, w->y + (gsize) t * H, H);
}

/* G[t] += W_hh h_{t-1}, then the cell: frame `done` of one layer, or of
 * two layers (b not NULL) whose products run together. */
static void
wave_step (WaveLayer * a, WaveLayer * b)
{
  guint H = a->l->hidden_size;

  if (b == NULL) {
    lstm_blas_gemm_packed (1, wave_h (a), H, a->w_hh, wave_gates (a), 4 * H);
  } else {
    lstm_blas_gemv_packed_pair (wave_h (a), a->w_hh, wave_gates (a),
        wave_h (b), b->w_hh, wave_gates (b));
    wave_cell (b);
  }
  wave_cell (a);
}

static void
forward_chunk (const LstmModel * m, LstmState * s, const float *input,
    guint T, float *output)
{
  const LstmModelPacks *packs = lstm_model_get_packs (m);
  guint H = m->hidden_size, L = m->num_layers, lag = MIN ((T + 1) / 2,
      WAVE_LAG), k;
  WaveLayer wave[LSTM_MAX_LAYERS];

  for (k = 0; k < L; k++) {
    wave[k] = (WaveLayer) {
      .l = &m->layers[k],.w_ih = packs->ih[k],.w_hh = packs->hh[k],
      .bias = packs->bias[k],
      .gates = lstm_state_gates (s, k),.y = lstm_state_y (s, k),
      .h = s->h + (gsize) k * H,.c = s->c + (gsize) k * H,
      .x = k == 0 ? lstm_forward_input (m, s, input, T) : wave[k - 1].y,
    };
  }
  wave_input (&wave[0], T);
  while (wave[L - 1].done < T) {
    WaveLayer *due[LSTM_MAX_LAYERS];
    guint n = 0, i;

    for (k = 0; k < L; k++) {
      WaveLayer *w = &wave[k];
      guint below = k == 0 ? T : wave[k - 1].done;

      /* the input product for a block of frames the layer below has done */
      if (w->ready == w->done && below > w->ready
          && (below - w->ready >= lag || below == T))
        wave_input (w, below);
      if (w->done < w->ready)
        due[n++] = w;
    }
    /* the layers due a frame step two by two: no step reads another's
     * output of this round (a layer's input rows are done frames) */
    for (i = 0; i < n; i += 2)
      wave_step (due[i], i + 1 < n ? due[i + 1] : NULL);
  }
  for (k = 0; k < L; k++)
    memcpy (wave[k].h, wave[k].y + (gsize) (T - 1) * H, H * sizeof (float));
  lstm_forward_output (m, packs, wave[L - 1].y, T, output);
}

void
lstm_forward (const LstmModel * model, LstmState * state, const float *input,
    guint n_frames, float *output)
{
  guint done = 0, out_size;

  g_return_if_fail (model != NULL && state != NULL);
  g_return_if_fail (lstm_state_fits (state, model));
  g_return_if_fail (input != NULL || n_frames == 0);

  if (!lstm_model_is_plain (model)) {
    lstm_variant_forward (model, state, input, n_frames, output);
    return;
  }
  out_size = lstm_model_get_output_size (model);
  while (done < n_frames) {
    guint T = MIN (n_frames - done, state->max_frames);
    forward_chunk (model, state, input + (gsize) done * model->input_size, T,
        output != NULL ? output + (gsize) done * out_size : NULL);
    done += T;
  }
}
