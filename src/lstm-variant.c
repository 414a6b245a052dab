/* The forward pass of the variants: GRU, projection, peephole, coupled
 * gates (CIFG), cell clip, layer norm, and bidirectional layers. A plain
 * LSTM never comes here (lstm-forward.c keeps its own hot loop).
 *
 * One direction of layer k, frame t, with xa = W_ih x_t and
 * ha = W_hh h_{t-1} (h is P wide with a projection):
 *
 * LSTM (rows i, f, g, o; LN (v; w, b) = (v - mean v) / sqrt (var v + 1e-5)
 * * w + b over the whole vector, only with layer norm):
 *   a   = LN (xa; w_ih, b_ih') + LN (ha; w_hh, b_hh') + b_ih + b_hh
 *   a_i += p_i * c_{t-1}     a_f += p_f * c_{t-1}        (peephole)
 *   a_* = clip (a_*, -c, c) for i, f, g, o                (cell clip)
 *   f = sigmoid (a_f)   g = tanh (a_g)
 *   i = sigmoid (a_i), or 1 - f with coupled gates (CIFG)
 *   c_t = f * c_{t-1} + i * g;   c_t = LN (c_t; w_c, b_c) (layer norm)
 *   a_o += p_o * c_t (peephole), clipped;   o = sigmoid (a_o)
 *   h~ = o * tanh (c_t);   h_t = W_hr h~ (projection), else h~
 *   (the clip never touches c_t, not even before this tanh: onnxruntime's
 *   reading of ONNX's clip, README "Decisions")
 *
 * GRU (rows r, z, n; PyTorch's nn.GRU, ONNX linear_before_reset = 1):
 *   r = sigmoid (clip (xa_r + b_ir + ha_r + b_hr))
 *   z = sigmoid (clip (xa_z + b_iz + ha_z + b_hz))
 *   n = tanh (clip (xa_n + b_in + r * (ha_n + b_hn)))
 *   h_t = (1 - z) * n + z * h_{t-1}
 *
 * A bidirectional layer runs direction 1 from the last frame to the first
 * and its output is concat (forward h_t, backward h_t).
 */
#include "lstm-variant-private.h"

#include <math.h>
#include <string.h>

#define LN_EPS 1e-5f            /* nn.LayerNorm's default eps */

static inline float
sigmoidf (float x)
{
  return 1.0f / (1.0f + expf (-x));
}

/* clip (a) = min (max (a, -c), c); c = 0 means no clipping. */
static inline float
clipf (float a, float c)
{
  return c > 0.0f ? CLAMP (a, -c, c) : a;
}

/* y = (x - mean) / sqrt (var + eps) * w + b over n values (population
 * variance, as nn.LayerNorm); y may be x. With xhat, the normalized values
 * (x - mean) / sqrt (var + eps) go there and 1 / sqrt (var + eps) to
 * *rstd_out, for the backward pass. */
static void
layer_norm (const float *x, guint n, const float *w, const float *b, float *y,
    float *xhat, float *rstd_out)
{
  double mean = 0.0, var = 0.0;
  float rstd;
  guint j;

  for (j = 0; j < n; j++)
    mean += x[j];
  mean /= n;
  for (j = 0; j < n; j++)
    var += (x[j] - mean) * (x[j] - mean);
  rstd = 1.0f / sqrtf ((float) (var / n) + LN_EPS);
  for (j = 0; j < n; j++) {
    float v = ((float) (x[j] - mean)) * rstd;
    if (xhat != NULL)
      xhat[j] = v;
    y[j] = v * w[j] + b[j];
  }
  if (rstd_out != NULL)
    *rstd_out = rstd;
}

/* One LSTM-variant step. xa [4H] holds W_ih x_t (it is overwritten),
 * c [H] is updated in place, h [out] receives h_t; ha is [4H] and hx [H]
 * scratch (hx keeps h~ = o tanh (c_t)). cache, when not NULL, receives
 * what the backward pass needs. */
void
lstm_variant_lstm_step (const LstmModel * m, const LstmLayer * l, float *xa,
    const float *h_prev, float *c, float *h, float *ha, float *hx,
    const LstmVarCache * cache)
{
  guint H = l->hidden_size, G = l->gate_size, j;
  float *ai = xa, *af = xa + H, *ag = xa + 2 * H, *ao = xa + 3 * H;
  const float *p = l->peephole;
  float cc = m->cell_clip;
  float *act = cache != NULL ? cache->act : NULL;
  float *pre = cache != NULL ? cache->pre : NULL;

  memset (ha, 0, G * sizeof (float));
  lstm_blas_gemv (G, l->out_size, l->weight_hh, l->out_size, h_prev, ha);
  if (l->ln_ih_weight != NULL) {
    layer_norm (xa, G, l->ln_ih_weight, l->ln_ih_bias, xa,
        cache ? cache->xhat : NULL, cache ? &cache->rstd[0] : NULL);
    layer_norm (ha, G, l->ln_hh_weight, l->ln_hh_bias, ha,
        cache ? cache->hhat : NULL, cache ? &cache->rstd[1] : NULL);
  }
  for (j = 0; j < G; j++)
    xa[j] += ha[j] + l->bias_ih[j] + l->bias_hh[j];
  for (j = 0; j < H; j++) {
    float f, i, g;
    if (p != NULL) {
      ai[j] += p[j] * c[j];
      af[j] += p[H + j] * c[j];
    }
    f = sigmoidf (clipf (af[j], cc));
    i = m->coupled_gates ? 1.0f - f : sigmoidf (clipf (ai[j], cc));
    g = tanhf (clipf (ag[j], cc));
    c[j] = f * c[j] + i * g;
    if (act != NULL) {
      act[j] = i;
      act[H + j] = f;
      act[2 * H + j] = g;
    }
  }
  if (l->ln_c_weight != NULL)
    layer_norm (c, H, l->ln_c_weight, l->ln_c_bias, c,
        cache ? cache->chat : NULL, cache ? &cache->rstd[2] : NULL);
  for (j = 0; j < H; j++) {
    float o;
    ao[j] += p != NULL ? p[2 * H + j] * c[j] : 0.0f;
    o = sigmoidf (clipf (ao[j], cc));
    hx[j] = o * tanhf (c[j]);
    if (act != NULL)
      act[3 * H + j] = o;
  }
  if (pre != NULL)
    memcpy (pre, xa, G * sizeof (float));
  if (l->weight_hr == NULL) {
    memcpy (h, hx, H * sizeof (float));
    return;
  }
  memset (h, 0, l->out_size * sizeof (float));
  lstm_blas_gemv (l->out_size, H, l->weight_hr, H, hx, h);
}

/* One GRU step: xa [3H] holds W_ih x_t (overwritten), h [H] receives h_t;
 * ha [3H] scratch. */
void
lstm_variant_gru_step (const LstmModel * m, const LstmLayer * l, float *xa,
    const float *h_prev, float *h, float *ha, const LstmVarCache * cache)
{
  guint H = l->hidden_size, j;
  const float *bi = l->bias_ih, *bh = l->bias_hh;
  float cc = m->cell_clip;

  memset (ha, 0, 3 * H * sizeof (float));
  lstm_blas_gemv (3 * H, H, l->weight_hh, H, h_prev, ha);
  for (j = 0; j < H; j++) {
    float ar = xa[j] + bi[j] + ha[j] + bh[j];
    float az = xa[H + j] + bi[H + j] + ha[H + j] + bh[H + j];
    float hn = ha[2 * H + j] + bh[2 * H + j];
    float r = sigmoidf (clipf (ar, cc)), z = sigmoidf (clipf (az, cc));
    float an = xa[2 * H + j] + bi[2 * H + j] + r * hn;
    float n = tanhf (clipf (an, cc));

    h[j] = (1.0f - z) * n + z * h_prev[j];
    if (cache == NULL)
      continue;
    cache->act[j] = r;
    cache->act[H + j] = z;
    cache->act[2 * H + j] = n;
    cache->hn[j] = hn;
    if (cache->pre != NULL) {
      cache->pre[j] = ar;
      cache->pre[H + j] = az;
      cache->pre[2 * H + j] = an;
    }
  }
}

/* One direction of a layer over T frames: x [T, in], y [T, ldy] gets this
 * direction's h_t at column y_off; h [out] and c [H] carried. */
static void
direction_forward (const LstmModel * m, const LstmLayer * l, LstmState * s,
    const float *x, guint T, float *y, gsize ldy, float *h, float *c)
{
  guint G = l->gate_size, out = l->out_size, n;
  gsize y_off = (gsize) l->direction * out;
  float *ha = s->step, *hx = s->step + 4 * l->hidden_size;
  float *gates = lstm_state_gates (s, 0);

  /* XA = X W_ih^T for all T frames at once; the biases come per step. */
  memset (gates, 0, (gsize) T * G * sizeof (float));
  lstm_blas_gemm_nt (T, G, l->input_size, x, l->input_size, l->weight_ih,
      l->input_size, gates, G);

  for (n = 0; n < T; n++) {
    guint t = l->direction == 0 ? n : T - 1 - n;
    float *yt = y + (gsize) t * ldy + y_off;

    if (m->cell == LSTM_CELL_GRU)
      lstm_variant_gru_step (m, l, gates + (gsize) t * G, h, yt, ha, NULL);
    else
      lstm_variant_lstm_step (m, l, gates + (gsize) t * G, h, c, yt, ha, hx,
          NULL);
    memcpy (h, yt, out * sizeof (float));
  }
}

/* Every layer over T frames (a whole sequence when bidirectional). */
static void
variant_chunk (const LstmModel * m, LstmState * s, const float *input,
    guint T, float *output)
{
  const float *x = lstm_forward_input (m, s, input, T);
  guint D = m->num_directions, W = m->layer_output_size, k, d;
  float *y = NULL;

  for (k = 0; k < m->num_layers; k++) {
    y = lstm_state_y (s, k & 1);
    for (d = 0; d < D; d++) {
      guint slot = k * D + d;
      direction_forward (m, &m->layers[slot], s, x, T, y, W,
          s->h + (gsize) slot * s->h_size, s->c + (gsize) slot * s->c_size);
    }
    x = y;
  }
  lstm_forward_output (m, lstm_model_get_packs (m), y, T, output);
}

void
lstm_variant_forward (const LstmModel * model, LstmState * state,
    const float *input, guint n_frames, float *output)
{
  guint done = 0, out_size = lstm_model_get_output_size (model);

  /* The backward direction needs the whole sequence: one chunk. */
  if (model->num_directions == 2) {
    lstm_state_reserve (state, n_frames);
    if (n_frames > 0)
      variant_chunk (model, state, input, n_frames, output);
    return;
  }
  while (done < n_frames) {
    guint T = MIN (n_frames - done, state->max_frames);
    variant_chunk (model, state, input + (gsize) done * model->input_size, T,
        output != NULL ? output + (gsize) done * out_size : NULL);
    done += T;
  }
}
