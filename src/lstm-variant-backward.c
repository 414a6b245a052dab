/* Backpropagation through time for the variants (lstm-variant-bptt.c
 * ran the forward pass and kept the caches).
 *
 * Backward, per LSTM step,
 * with dh = dL/dh_t (this direction's output, from above and from step
 * t + 1) and dc = dL/dc_t carried from step t + 1:
 *
 *   dh~ = W_hr^T dh (projection; dW_hr += dh h~^T), else dh~ = dh
 *   da_o = dh~ tanh (c_t) o (1 - o) [|a_o| <= clip]
 *   dc  += dh~ o (1 - tanh^2 (c_t)) + da_o p_o        (dp_o += da_o c_t)
 *   layer norm of c: dc_raw = LN' (dc)   (dw_c += dc chat, db_c += dc)
 *   di = dc_raw g, df = dc_raw c_{t-1}, dg = dc_raw i, dc_{t-1} = dc_raw f
 *   CIFG (i = 1 - f): df -= di, di = 0
 *   da_i = di i (1 - i), da_f = df f (1 - f), da_g = dg (1 - g^2), each
 *   times [|a| <= clip];  dc_{t-1} += da_i p_i + da_f p_f (peephole)
 *   db_ih = db_hh += da;  layer norm: dxa = LN' (da), dha = LN' (da)
 *   dh_{t-1} = W_hh^T dha;  dW_hh += dha h_{t-1}^T;  dW_ih += dxa x^T
 * where LN' (dy) = rstd (dy w - mean (dy w) - xhat mean (dy w xhat)).
 *
 * GRU: dn = dh (1 - z), dz = dh (h_{t-1} - n), dh_{t-1} = dh z + W_hh^T dha;
 *   da_n = dn (1 - n^2): dxa_n = da_n, dha_n = da_n r, dr = da_n (W_hn h + b_hn);
 *   da_z = dz z (1 - z), da_r = dr r (1 - r): dxa = dha for r and z.
 *   db_ih += dxa, db_hh += dha.
 */
#include "lstm-variant-private.h"

#include <math.h>
#include <string.h>

#define grad_of lstm_train_grad_of

/* The clip passes the gradient where the gate input lay inside [-c, c]
 * (torch.clamp's rule: the bounds included). */
static inline float
clip_pass (const LstmVarCache * c, guint j, float clip)
{
  return c->pre == NULL || (c->pre[j] >= -clip && c->pre[j] <= clip) ?
      1.0f : 0.0f;
}

/* Layer norm's backward over n values: dx = rstd (dxh - mean (dxh) -
 * xhat mean (dxh xhat)) with dxh = dy w; gw += dy xhat, gb += dy. */
static void
layer_norm_backward (const float *dy, const float *xhat, float rstd,
    const float *w, guint n, float *gw, float *gb, float *dx)
{
  double m1 = 0.0, m2 = 0.0;
  guint j;

  for (j = 0; j < n; j++) {
    float dxh = dy[j] * w[j];
    m1 += dxh;
    m2 += dxh * xhat[j];
    gw[j] += dy[j] * xhat[j];
    gb[j] += dy[j];
  }
  m1 /= n;
  m2 /= n;
  for (j = 0; j < n; j++)
    dx[j] = rstd * (dy[j] * w[j] - (float) m1 - xhat[j] * (float) m2);
}

/* From dL/dh_t (v->dh, out wide) to dL/dc_t in v->dcs and da_o: the
 * projection, the output gate and tanh (c_t). */
static void
lstm_output_backward (LstmTrainer * t, const LstmLayer * l,
    const LstmVarCache * cc, const float *c_t, const float *hx, float *da)
{
  LstmVarTrainer *v = t->var;
  guint H = v->H, j, a;
  const float *o = cc->act + 3 * H, *p = l->peephole;
  const float *dhx = v->dh;
  float clip = t->model->cell_clip;

  if (l->weight_hr != NULL) {
    /* dW_hr += dh h~^T;  dh~ = W_hr^T dh */
    float *gw = grad_of (t, l->weight_hr);
    for (a = 0; a < v->out; a++)
      for (j = 0; j < H; j++)
        gw[(gsize) a * H + j] += v->dh[a] * hx[j];
    memset (v->dhx, 0, H * sizeof (float));
    lstm_train_gemm (FALSE, 1, H, v->out, v->dh, v->out, l->weight_hr, H,
        v->dhx, H);
    dhx = v->dhx;
  }
  for (j = 0; j < H; j++) {
    float tc = tanhf (c_t[j]);
    float dao = dhx[j] * tc * o[j] * (1.0f - o[j]) * clip_pass (cc,
        3 * H + j, clip);
    float dct = v->dc[j] + dhx[j] * o[j] * (1.0f - tc * tc);
    if (p != NULL) {
      dct += dao * p[2 * H + j];
      grad_of (t, l->peephole)[2 * H + j] += dao * c_t[j];
    }
    da[3 * H + j] = dao;
    v->dcs[j] = dct;
  }
}

/* One LSTM step back: v->dh and v->dc hold dL/dh_t (out) and dL/dc_t
 * (from step t + 1); on return dL/dh_{t-1} and dL/dc_{t-1}; dxa and dha
 * [G] receive the gradients of W_ih x and W_hh h. */
static void
lstm_step_backward (LstmTrainer * t, const LstmLayer * l,
    const LstmVarCache * cc, const float *c_t, const float *c_prev,
    const float *hx, float *dxa, float *dha)
{
  LstmVarTrainer *v = t->var;
  const LstmModel *m = t->model;
  guint H = v->H, G = v->G, j;
  const float *gi = cc->act, *gf = cc->act + H, *gg = cc->act + 2 * H;
  const float *p = l->peephole;
  float *da = dha, clip = m->cell_clip;

  lstm_output_backward (t, l, cc, c_t, hx, da);
  if (l->ln_c_weight != NULL)
    layer_norm_backward (v->dcs, cc->chat, cc->rstd[2], l->ln_c_weight, H,
        grad_of (t, l->ln_c_weight), grad_of (t, l->ln_c_bias), v->dcs);
  for (j = 0; j < H; j++) {
    float dcr = v->dcs[j];
    float di = dcr * gg[j], df = dcr * c_prev[j], dg = dcr * gi[j];
    float dai = 0.0f, daf, dag;

    if (m->coupled_gates)
      df -= di;
    else
      dai = di * gi[j] * (1.0f - gi[j]) * clip_pass (cc, j, clip);
    daf = df * gf[j] * (1.0f - gf[j]) * clip_pass (cc, H + j, clip);
    dag = dg * (1.0f - gg[j] * gg[j]) * clip_pass (cc, 2 * H + j, clip);
    v->dc[j] = dcr * gf[j];
    if (p != NULL) {
      float *gp = grad_of (t, l->peephole);
      v->dc[j] += dai * p[j] + daf * p[H + j];
      gp[j] += dai * c_prev[j];
      gp[H + j] += daf * c_prev[j];
    }
    da[j] = dai;
    da[H + j] = daf;
    da[2 * H + j] = dag;
  }
  /* a = LN (xa) + LN (ha) + b_ih + b_hh */
  lstm_vector_add (grad_of (t, l->bias_ih), da, G);
  lstm_vector_add (grad_of (t, l->bias_hh), da, G);
  if (l->ln_ih_weight != NULL) {
    layer_norm_backward (da, cc->xhat, cc->rstd[0], l->ln_ih_weight, G,
        grad_of (t, l->ln_ih_weight), grad_of (t, l->ln_ih_bias), dxa);
    layer_norm_backward (da, cc->hhat, cc->rstd[1], l->ln_hh_weight, G,
        grad_of (t, l->ln_hh_weight), grad_of (t, l->ln_hh_bias), dha);
  } else {
    memcpy (dxa, da, G * sizeof (float));
  }
  /* dL/dh_{t-1} = W_hh^T dha */
  memset (v->dh, 0, v->out * sizeof (float));
  lstm_train_gemm (FALSE, 1, v->out, G, dha, G, l->weight_hh, v->out, v->dh,
      v->out);
}

/* One GRU step back: v->dh holds dL/dh_t, becomes dL/dh_{t-1}. */
static void
gru_step_backward (LstmTrainer * t, const LstmLayer * l,
    const LstmVarCache * cc, const float *h_prev, float *dxa, float *dha)
{
  LstmVarTrainer *v = t->var;
  guint H = v->H, j;
  const float *r = cc->act, *z = cc->act + H, *n = cc->act + 2 * H;
  float clip = t->model->cell_clip;

  for (j = 0; j < H; j++) {
    float dh = v->dh[j];
    float dan = dh * (1.0f - z[j]) * (1.0f - n[j] * n[j]) * clip_pass (cc,
        2 * H + j, clip);
    float daz = dh * (h_prev[j] - n[j]) * z[j] * (1.0f - z[j]) *
        clip_pass (cc, H + j, clip);
    float dar = dan * cc->hn[j] * r[j] * (1.0f - r[j]) * clip_pass (cc, j,
        clip);

    dxa[j] = dha[j] = dar;
    dxa[H + j] = dha[H + j] = daz;
    dxa[2 * H + j] = dan;
    dha[2 * H + j] = dan * r[j];
    v->dh[j] = dh * z[j];
  }
  lstm_vector_add (grad_of (t, l->bias_ih), dxa, 3 * H);
  lstm_vector_add (grad_of (t, l->bias_hh), dha, 3 * H);
  lstm_train_gemm (FALSE, 1, H, 3 * H, dha, 3 * H, l->weight_hh, H, v->dh, H);
}

/* One direction of layer k over sequence b, steps in reverse order;
 * v->dy [N, W] holds dL/d the layer's output. */
static void
dir_backward_seq (LstmTrainer * t, guint k, guint dir, guint b)
{
  LstmVarTrainer *v = t->var;
  const LstmModel *m = t->model;
  const LstmLayer *l = &m->layers[k * v->D + dir];
  VarDir *d = &v->dirs[k * v->D + dir];
  gsize off = v->seq_off[b];
  guint T = v->seq_off[b + 1] - off, n;

  memset (v->dh, 0, v->out * sizeof (float));
  memset (v->dc, 0, v->H * sizeof (float));
  for (n = T; n-- > 0;) {
    gsize r = lstm_variant_step_row (off, T, dir, n);
    LstmVarCache cc = lstm_variant_cache_at (v, d, r);
    float *dxa = d->dxa + r * v->G, *dha = d->dha + r * v->G;

    lstm_vector_add (v->dh, v->dy + r * v->W + dir * v->out, v->out);
    if (m->cell == LSTM_CELL_GRU) {
      gru_step_backward (t, l, &cc, d->h_prev + r * v->out, dxa, dha);
    } else {
      const float *c_prev = n == 0 ? d->c0 + (gsize) b * v->H :
          d->c + lstm_variant_step_row (off, T, dir, n - 1) * v->H;
      lstm_step_backward (t, l, &cc, d->c + r * v->H, c_prev,
          m->proj_size > 0 ? d->hx + r * v->H : NULL, dxa, dha);
    }
  }
}

/* Layer k: v->dy holds dL/d its output; the weight gradients, and for
 * k > 0 dL/d the layer below's output back in v->dy. */
static void
layer_backward (LstmTrainer * t, guint k)
{
  LstmVarTrainer *v = t->var;
  const LstmModel *m = t->model;
  const float *x = lstm_variant_layer_input (t, k);
  gsize N = t->n_rows, i;
  guint dir, b, in = m->layers[k * v->D].input_size;
  float *swap;

  memset (v->dx, 0, N * in * sizeof (float));
  for (dir = 0; dir < v->D; dir++) {
    const LstmLayer *l = &m->layers[k * v->D + dir];
    VarDir *d = &v->dirs[k * v->D + dir];

    for (b = 0; b < t->n_seq; b++)
      dir_backward_seq (t, k, dir, b);
    /* dW_ih += dXA^T X, dW_hh += dHA^T H_prev, dX += dXA W_ih */
    lstm_train_gemm (TRUE, v->G, in, N, d->dxa, v->G, x, in,
        grad_of (t, l->weight_ih), in);
    lstm_train_gemm (TRUE, v->G, v->out, N, d->dha, v->G, d->h_prev, v->out,
        grad_of (t, l->weight_hh), v->out);
    lstm_train_gemm (FALSE, N, in, v->G, d->dxa, v->G, l->weight_ih, in,
        v->dx, in);
  }
  if (k == 0)
    return;
  if (v->mask[k - 1] != NULL)
    for (i = 0; i < N * in; i++)
      v->dx[i] *= v->mask[k - 1][i];
  swap = v->dy;
  v->dy = v->dx;
  v->dx = swap;
}

void
lstm_variant_bptt_backward (LstmTrainer * t)
{
  LstmVarTrainer *v = t->var;
  gsize r;
  guint k;

  /* dL/d top: packed rows (t->dy) to sequence rows */
  for (r = 0; r < t->n_rows; r++)
    memcpy (v->dy + lstm_variant_seq_row (t, r) * v->W, t->dy + r * v->W,
        v->W * sizeof (float));
  for (k = v->L; k-- > 0;)
    layer_backward (t, k);
}
