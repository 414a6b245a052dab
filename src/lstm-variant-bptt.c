/* Training the variants: forward with caches and backpropagation through
 * time for GRU, projection, peephole, CIFG, clip, layer norm and
 * bidirectional layers (the forward equations are at the top of
 * lstm-variant.c; the same step functions compute them here).
 *
 * Rows are laid out sequence after sequence (row seq_off[b] + t is frame t
 * of batch sequence b), so each direction of each layer runs over a
 * sequence's rows in time order or in reverse; the backward pass is in
 * lstm-variant-backward.c.
 */
#include "lstm-variant-private.h"

#include <string.h>

static float *
alloc_floats (gsize n)
{
  return g_aligned_alloc0 (MAX (n, 1), sizeof (float), 64);
}

/* Floats of cache per row (for the trainer's limit). */
static gsize
floats_per_row (const LstmModel * m, const LstmTrainConfig * c)
{
  gsize H = m->hidden_size, G = m->layers[0].gate_size, W =
      m->layer_output_size, out = m->layers[0].out_size;
  gsize dir = 4 * G + 2 * H + out + (m->cell_clip > 0 ? G : 0)
      + (m->layer_norm ? 2 * G + H + 3 : 0) + (m->proj_size > 0 ? H : 0);

  return m->input_size + m->num_layers * (m->num_directions * dir + W)
      + (c->dropout > 0 ? 2 * (m->num_layers - 1) * W : 0) + 3 * W
      + m->input_size;
}

static void
alloc_dir (LstmVarTrainer * v, const LstmModel * m, VarDir * d, gsize N,
    guint max_batch)
{
  gsize G = v->G, H = v->H;

  d->xa = alloc_floats (N * G);
  d->act = alloc_floats (N * G);
  d->dxa = alloc_floats (N * G);
  d->dha = alloc_floats (N * G);
  d->h_prev = alloc_floats (N * v->out);
  d->h0 = alloc_floats ((gsize) max_batch * v->out);
  d->c0 = alloc_floats ((gsize) max_batch * H);
  if (m->cell == LSTM_CELL_GRU)
    d->hn = alloc_floats (N * H);
  else
    d->c = alloc_floats (N * H);
  if (m->cell_clip > 0.0f)
    d->pre = alloc_floats (N * G);
  if (m->layer_norm) {
    d->xhat = alloc_floats (N * G);
    d->hhat = alloc_floats (N * G);
    d->chat = alloc_floats (N * H);
    d->rstd = alloc_floats (N * 3);
  }
  d->hx = alloc_floats (m->proj_size > 0 ? N * H : H);
}

LstmVarTrainer *
lstm_variant_bptt_new (const LstmModel * m, const LstmTrainConfig * config,
    guint max_batch, guint max_frames, guint64 max_floats, GError ** error)
{
  LstmVarTrainer *v;
  gsize N = (gsize) max_batch * max_frames, per_row, wide;
  guint k;

  per_row = floats_per_row (m, config);
  if ((guint64) N > max_floats / per_row) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "batches of %u sequences of %u frames need %" G_GUINT64_FORMAT
        " floats of cache for this model (%" G_GSIZE_FORMAT " per frame); "
        "at most %" G_GUINT64_FORMAT " are allowed", max_batch, max_frames,
        (guint64) N * per_row, per_row, max_floats);
    return NULL;
  }
  v = g_new0 (LstmVarTrainer, 1);
  v->L = m->num_layers;
  v->D = m->num_directions;
  v->H = m->hidden_size;
  v->G = m->layers[0].gate_size;
  v->out = m->layers[0].out_size;
  v->W = m->layer_output_size;
  v->max_rows = N;
  v->dirs = g_new0 (VarDir, v->L * v->D);
  for (k = 0; k < v->L * v->D; k++)
    alloc_dir (v, m, &v->dirs[k], N, max_batch);
  v->y = g_new0 (float *, v->L);
  v->mask = g_new0 (float *, v->L);
  v->dropped = g_new0 (float *, v->L);
  for (k = 0; k < v->L; k++) {
    v->y[k] = alloc_floats (N * v->W);
    if (config->dropout > 0.0 && k + 1 < v->L) {
      v->mask[k] = alloc_floats (N * v->W);
      v->dropped[k] = alloc_floats (N * v->W);
    }
  }
  wide = MAX (v->W, m->input_size);
  v->x = alloc_floats (N * m->input_size);
  v->seq_off = g_new0 (gsize, (gsize) max_batch + 1);
  v->top = alloc_floats (N * v->W);
  v->dy = alloc_floats (N * wide);
  v->dx = alloc_floats (N * wide);
  v->ha = alloc_floats (v->G);
  v->dh = alloc_floats (MAX (v->H, v->out));
  v->dc = alloc_floats (v->H);
  v->dhx = alloc_floats (v->H);
  v->dcs = alloc_floats (v->H);
  return v;
}

static void
free_dir (VarDir * d)
{
  float **all[] = { &d->xa, &d->act, &d->pre, &d->xhat, &d->hhat, &d->chat,
    &d->rstd, &d->hn, &d->c, &d->hx, &d->h0, &d->c0, &d->dxa, &d->dha,
    &d->h_prev
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (all); i++)
    g_aligned_free (*all[i]);
}

void
lstm_variant_bptt_free (LstmVarTrainer * v)
{
  guint k;

  if (v == NULL)
    return;
  for (k = 0; k < v->L * v->D; k++)
    free_dir (&v->dirs[k]);
  for (k = 0; k < v->L; k++) {
    g_aligned_free (v->y[k]);
    g_aligned_free (v->mask[k]);
    g_aligned_free (v->dropped[k]);
  }
  g_free (v->dirs);
  g_free (v->y);
  g_free (v->mask);
  g_free (v->dropped);
  g_aligned_free (v->x);
  g_free (v->seq_off);
  g_aligned_free (v->top);
  g_aligned_free (v->dy);
  g_aligned_free (v->dx);
  g_aligned_free (v->ha);
  g_aligned_free (v->dh);
  g_aligned_free (v->dc);
  g_aligned_free (v->dhx);
  g_aligned_free (v->dcs);
  g_free (v);
}


void
lstm_variant_bptt_pack (LstmTrainer * t, const LstmBatch * batch)
{
  LstmVarTrainer *v = t->var;
  guint I = t->model->input_size, b, k;
  gsize r;

  v->seq_off[0] = 0;
  for (b = 0; b < batch->n_sequences; b++)
    v->seq_off[b + 1] = v->seq_off[b] + batch->lengths[b];
  for (r = 0; r < t->n_rows; r++)
    memcpy (v->x + lstm_variant_seq_row (t, r) * I, t->x0 + r * I,
        I * sizeof (float));
  for (k = 0; k < v->L * v->D; k++) {
    VarDir *d = &v->dirs[k];
    for (b = 0; b < batch->n_sequences; b++) {
      const LstmState *st = batch->states ? batch->states[b] : NULL;
      float *h0 = d->h0 + (gsize) b * v->out, *c0 = d->c0 + (gsize) b *v->H;
      if (st == NULL) {
        memset (h0, 0, v->out * sizeof (float));
        memset (c0, 0, v->H * sizeof (float));
        continue;
      }
      memcpy (h0, lstm_state_get_h (st, k), v->out * sizeof (float));
      if (t->model->cell == LSTM_CELL_LSTM)
        memcpy (c0, lstm_state_get_c (st, k), v->H * sizeof (float));
    }
  }
}

/* ---------------------------------------------------------------- forward */

/* The cache of row r of direction d. */
LstmVarCache
lstm_variant_cache_at (const LstmVarTrainer * v, const VarDir * d, gsize r)
{
  LstmVarCache c = { 0 };
  gsize G = v->G, H = v->H;

  c.act = d->act + r * G;
  c.pre = d->pre != NULL ? d->pre + r * G : NULL;
  c.xhat = d->xhat != NULL ? d->xhat + r * G : NULL;
  c.hhat = d->hhat != NULL ? d->hhat + r * G : NULL;
  c.chat = d->chat != NULL ? d->chat + r * H : NULL;
  c.rstd = d->rstd != NULL ? d->rstd + r * 3 : NULL;
  c.hn = d->hn != NULL ? d->hn + r * H : NULL;
  return c;
}

/* One direction of layer k over sequence b; y [N, W]. */
static void
dir_forward_seq (LstmTrainer * t, guint k, guint dir, guint b, float *y)
{
  LstmVarTrainer *v = t->var;
  const LstmModel *m = t->model;
  const LstmLayer *l = &m->layers[k * v->D + dir];
  VarDir *d = &v->dirs[k * v->D + dir];
  gsize off = v->seq_off[b], r, rp = 0;
  guint T = v->seq_off[b + 1] - off, n;

  for (n = 0; n < T; n++) {
    LstmVarCache cache;
    const float *h_prev = n == 0 ? d->h0 + (gsize) b * v->out :
        y + rp * v->W + dir * v->out;
    float *out, *hx;

    r = lstm_variant_step_row (off, T, dir, n);
    out = y + r * v->W + dir * v->out;
    hx = m->proj_size > 0 ? d->hx + r * v->H : d->hx;
    cache = lstm_variant_cache_at (v, d, r);
    memcpy (d->h_prev + r * v->out, h_prev, v->out * sizeof (float));
    if (m->cell == LSTM_CELL_GRU) {
      lstm_variant_gru_step (m, l, d->xa + r * v->G, h_prev, out, v->ha,
          &cache);
    } else {
      float *c = d->c + r * v->H;
      memcpy (c, n == 0 ? d->c0 + (gsize) b * v->H : d->c + rp * v->H,
          v->H * sizeof (float));
      lstm_variant_lstm_step (m, l, d->xa + r * v->G, h_prev, c, out, v->ha,
          hx, &cache);
    }
    rp = r;
  }
}

/* m = 0 with probability p, else 1 / (1 - p), as lstm-bptt.c draws it. */
static void
dropout (LstmTrainer * t, guint k)
{
  LstmVarTrainer *v = t->var;
  float p = (float) t->config.dropout, scale = 1.0f / (1.0f - p);
  gsize n = t->n_rows * v->W, i;

  for (i = 0; i < n; i++) {
    float u = (float) (lstm_train_next_random (&t->rng) >> 40) *
        (1.0f / 16777216.0f);
    v->mask[k][i] = u >= p ? scale : 0.0f;
    v->dropped[k][i] = v->y[k][i] * v->mask[k][i];
  }
}

/* The input of layer k: [N, in]. */
const float *
lstm_variant_layer_input (LstmTrainer * t, guint k)
{
  LstmVarTrainer *v = t->var;

  if (k == 0)
    return v->x;
  return t->training && v->mask[k - 1] != NULL ? v->dropped[k - 1] :
      v->y[k - 1];
}

void
lstm_variant_bptt_forward (LstmTrainer * t)
{
  LstmVarTrainer *v = t->var;
  const LstmModel *m = t->model;
  gsize N = t->n_rows, r;
  guint k, dir, b;

  for (k = 0; k < v->L; k++) {
    const float *x = lstm_variant_layer_input (t, k);
    for (dir = 0; dir < v->D; dir++) {
      const LstmLayer *l = &m->layers[k * v->D + dir];
      VarDir *d = &v->dirs[k * v->D + dir];

      /* XA = X W_ih^T for every row at once */
      memset (d->xa, 0, N * v->G * sizeof (float));
      lstm_blas_gemm_nt (N, v->G, l->input_size, x, l->input_size,
          l->weight_ih, l->input_size, d->xa, v->G);
      for (b = 0; b < t->n_seq; b++)
        dir_forward_seq (t, k, dir, b, v->y[k]);
    }
    if (t->training && v->mask[k] != NULL)
      dropout (t, k);
  }
  for (r = 0; r < N; r++)
    memcpy (v->top + r * v->W, v->y[v->L - 1] + lstm_variant_seq_row (t,
            r) * v->W, v->W * sizeof (float));
}

const float *
lstm_variant_bptt_top (LstmTrainer * t)
{
  return t->var->top;
}

void
lstm_variant_bptt_store_states (LstmTrainer * t, const LstmBatch * batch)
{
  LstmVarTrainer *v = t->var;
  guint b, k;

  for (b = 0; b < batch->n_sequences; b++) {
    LstmState *st = batch->states[b];
    gsize off = v->seq_off[b], T = v->seq_off[b + 1] - off;
    for (k = 0; k < v->L * v->D; k++) {
      guint dir = k % v->D;
      /* the last step of the forward direction is the last frame; of the
       * backward direction, the first */
      gsize r = dir == 0 ? off + T - 1 : off;
      memcpy (st->h + (gsize) k * v->out, v->y[k / v->D] + r * v->W
          + dir * v->out, v->out * sizeof (float));
      if (t->model->cell == LSTM_CELL_LSTM)
        memcpy (st->c + (gsize) k * v->H, v->dirs[k].c + r * v->H,
            v->H * sizeof (float));
    }
  }
}
