/* Training forward (with every activation cached) and backpropagation
 * through time, over a batch packed as lstm-train-private.h describes.
 *
 * Forward, layer k, packed row r = frame t of a sequence (PyTorch's
 * equations, gate rows i, f, g, o; the same as lstm-forward.c):
 *
 *   a_r = W_ih x_r + b_ih + b_hh + W_hh h_{t-1}
 *   i = sigmoid (a_i)   f = sigmoid (a_f)   g = tanh (a_g)   o = sigmoid (a_o)
 *   c_t = f * c_{t-1} + i * g
 *   h_t = o * tanh (c_t)
 *
 * Between layers, in training with dropout p: x^{k+1} = h^k * m, m = 0
 * with probability p, else 1 / (1 - p) (nn.LSTM's dropout argument).
 * The head: z = h^top W^T + b (nn.Linear), on the loss rows only.
 *
 * Backward, from dL/dz (lstm-loss.c): the head's gradients, dL/dh^top,
 * then each layer from the top down and each step from the last down,
 * carrying dh and dc of the step after. Per cell (lstm-train-act.c,
 * cell_backward_libm, has them next to its code), with
 * dh = dL/dh_t = dL/dy_t + dL/dh_t via step t + 1:
 *
 *   da_o = dh tanh (c_t) o (1 - o)
 *   dc   = dL/dc_t = dc_{t+1} f_{t+1} + dh o (1 - tanh^2 (c_t))
 *   da_i = dc g i (1 - i)          da_g = dc i (1 - g^2)
 *   da_f = dc c_{t-1} f (1 - f)    dL/dc_{t-1} = dc f
 *   dL/dh_{t-1} = W_hh^T da
 *
 * How the products are laid out. Row r of a layer's zin is z_r = [x_r,
 * h_{t-1}] and W = [W_ih W_hh] ([4H, in + H]), so that
 *
 *   forward, per step    A_t = b_ih + b_hh + Z_t W^T
 *   backward, per step   [dX_t dH_{t-1}] = dA_t W   (dX_t: dL/dh of the
 *                        layer below, times its dropout mask)
 *   per block of steps   [dW_ih dW_hh]^T += Z_b^T dA_b,  db_ih = db_hh = sum dA_r
 *
 * are one product each, not two: the input projection is not computed
 * ahead for all rows, whose gate rows would then be read back from memory
 * one step at a time. The per-step products read W packed as panels once
 * per batch (lstm_train_pack) and write into cache-resident scratch (da,
 * one step's rows), from which the cell moves the gate values on; in
 * backward the cell writes a step's dA there, the step's product reads it
 * and it is copied into a block of a few steps' rows that the weight
 * gradients' product reads, block by block, while it is in cache
 * (lstm_train_pack_block). The rows the next step will read or write are
 * prefetched while the current one is computed (measured: each of these
 * was worth 2 to 7 % of a bench-train step).
 *
 * Gradients stop at the initial states (truncated BPTT): dh_{-1} and
 * dc_{-1} are not computed.
 */
#include "lstm-variant-private.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- forward */

/* dst[r, 0..n-1] = src[r, 0..n-1] for rows r < rows */
static void
copy_rows (gsize rows, guint n, const float *src, gsize lds, float *dst,
    gsize ldd)
{
  gsize r;

  for (r = 0; r < rows; r++)
    memcpy (dst + r * ldd, src + r * lds, n * sizeof (float));
}

/* m = 0 with probability p, else 1 / (1 - p); the next layer's input is
 * y * m, written into its rows of `next` (ld floats apart), for the rows
 * [r0, r0 + n). A draw is u = (top 24 bits) / 2^24, uniform in [0, 1);
 * the value is kept when u >= p. Called for the rows of each step in
 * turn, it draws in row order over the whole batch. */
static void
dropout_rows (LstmTrainer * t, TrainLayer * tl, guint H, gsize r0, guint n,
    float *next, gsize ld)
{
  float p = (float) t->config.dropout;
  float scale = 1.0f / (1.0f - p);
  gsize r;
  guint i;

  for (r = r0; r < r0 + n; r++) {
    const float *y = tl->y + r * tl->ldy;
    float *m = tl->mask + r * H, *x = next + r * ld;
    for (i = 0; i < H; i++) {
      float u = (float) (lstm_train_next_random (&t->rng) >> 40) *
          (1.0f / 16777216.0f);
      m[i] = u >= p ? scale : 0.0f;
      x[i] = y[i] * m[i];
    }
  }
}

/* Layer k over every packed row; its zin holds x_r on entry. The cell
 * writes each step's h into the next step's zin too, and h is the next
 * layer's x (scaled there by the dropout mask when training with
 * dropout). */
static void
layer_forward (LstmTrainer * t, guint k)
{
  const LstmLayer *l = &t->model->layers[k];
  TrainLayer *tl = &t->layers[k];
  guint H = l->hidden_size, in = l->input_size, s, j;
  gsize G4 = 4 * (gsize) H, Z = in + (gsize) H, r;
  gboolean last = k + 1 == t->model->num_layers;
  float *next = last ? NULL : t->layers[k + 1].zin;
  gboolean drop = !last && t->training && tl->mask != NULL;

  /* [W_ih W_hh] ([4H, Z], packed for backward in layer_backward) and its
   * transpose packed ([Z, 4H], for A_t = b + zin_t W^T). */
  copy_rows (G4, in, l->weight_ih, in, tl->w, Z);
  copy_rows (G4, H, l->weight_hh, H, tl->w + in, Z);
  lstm_train_pack (Z, G4, tl->w, Z, TRUE, tl->wp_f);
  for (j = 0; j < G4; j++)
    t->bias_sum[j] = l->bias_ih[j] + l->bias_hh[j];

  copy_rows (t->step_rows[0], H, tl->h0, H, tl->zin + in, Z);
  for (s = 0; s < t->n_steps; s++) {
    gsize r0 = t->step_off[s];
    guint n = t->step_rows[s];
    const float *c_prev = s == 0 ? tl->c0 : tl->c + t->step_off[s - 1] * H;

    /* the rows the cell writes next (c and h of this step, the next
     * step's zin, which its product then reads), fetched meanwhile */
    gsize q = s + 1 < t->n_steps ? t->step_off[s + 1] : r0;
    LstmTrainPrefetch pf[3] = {
      {(const char *) (tl->c + r0 * H), n * H * sizeof (float)},
      {(const char *) (tl->y + r0 * tl->ldy), n * tl->ldy * sizeof (float)},
      {(const char *) (tl->zin + q * Z), s + 1 < t->n_steps ?
            t->step_rows[s + 1] * Z * sizeof (float) : 0},
    };

    /* A_t = b_ih + b_hh + [x_t h_{t-1}] [W_ih W_hh]^T for the n sequences
     * running at step t: one product for input and recurrence, into
     * scratch that stays in cache (da, free until backward); the cell
     * writes the gate values into their rows for backward. */
    lstm_train_gemm_packed (n, G4, Z, tl->zin + r0 * Z, Z, tl->wp_f,
        t->bias_sum, t->da, G4, pf, G_N_ELEMENTS (pf));
    for (j = 0; j < n; j++) {
      r = r0 + j;
      /* h_t of a sequence that goes on is also h_{t-1} of step t + 1 */
      lstm_train_cell_forward (t->da + j * G4, tl->gates + r * G4,
          c_prev + (gsize) j * H, tl->c + r * H, tl->tc + r * H,
          tl->y + r * tl->ldy, s + 1 < t->n_steps && j < t->step_rows[s + 1]
          ? tl->zin + (t->step_off[s + 1] + j) * Z + in : NULL, H);
    }
    /* the next layer's x: h as the cell wrote it (tl->y is there without
     * dropout), or h times the dropout mask, or (evaluating a model that
     * trains with dropout) a copy of h */
    if (drop)
      dropout_rows (t, tl, H, r0, n, next, 2 * (gsize) H);
    else if (!last && tl->y != next)
      copy_rows (n, H, tl->y + r0 * H, H, next + r0 * 2 * H, 2 * (gsize) H);
  }
}

/* The top layer's output on the packed rows ([N, layer_output_size]). */
static const float *
top_output (LstmTrainer * t)
{
  if (t->var != NULL)
    return lstm_variant_bptt_top (t);
  return t->layers[t->model->num_layers - 1].y;
}

/* The head's input: the top layer's h on every row, or gathered from the
 * last frames (last_frame_only). */
static const float *
head_input (LstmTrainer * t)
{
  const float *top = top_output (t);
  guint W = t->model->layer_output_size, j;

  if (!t->config.last_frame_only)
    return top;
  for (j = 0; j < t->n_seq; j++)
    memcpy (t->y_last + (gsize) j * W, top + t->loss_row[j] * W,
        W * sizeof (float));
  return t->y_last;
}

void
lstm_bptt_forward (LstmTrainer * t)
{
  const LstmModel *m = t->model;
  guint H = m->layer_output_size, O = m->head_size, k;
  gsize R = t->n_loss_rows, r;
  const float *yh;

  if (t->var != NULL)
    lstm_variant_bptt_forward (t);
  else
    copy_rows (t->n_rows, m->input_size, t->x0, m->input_size,
        t->layers[0].zin, m->input_size + (gsize) m->hidden_size);
  for (k = 0; t->var == NULL && k < m->num_layers; k++)
    layer_forward (t, k);

  /* z = Y W^T + b on the loss rows; without a head z is h itself. */
  yh = head_input (t);
  if (O == 0) {
    memcpy (t->z, yh, R * H * sizeof (float));
    return;
  }
  for (r = 0; r < R; r++)
    memcpy (t->z + r * O, m->head_bias, O * sizeof (float));
  lstm_train_transpose (O, H, m->head_weight, H, t->head_w_t, O);
  lstm_train_gemm (FALSE, R, O, H, yh, H, t->head_w_t, O, t->z, O);
}

/* --------------------------------------------------------------- backward */

#define grad_of lstm_train_grad_of

/* Step s of layer k, backward: dA of the step's rows from dy and the
 * recurrent dh, dc carried in t->dzin and t->dc, kept in t->da_block (a
 * block of kc rows from packed row b0) for the weight gradients; then
 * dL/dh_{t-1} into dzin for step s - 1 and, above layer 0, dL/dh^{k-1}
 * into dy. */
static void
step_backward (LstmTrainer * t, guint k, guint s, gsize b0, gsize kc)
{
  const LstmLayer *l = &t->model->layers[k];
  TrainLayer *tl = &t->layers[k];
  guint H = l->hidden_size, in = l->input_size, n = t->step_rows[s], j;
  gsize G4 = 4 * (gsize) H, Z = in + (gsize) H, r0 = t->step_off[s];
  /* row j of dzin: dL/dx_t of sequence j, then dL/dh_{t-1} */
  float *dh = t->dzin + in;
  const float *mask = k > 0 ? t->layers[k - 1].mask : NULL;
  const float *c_prev = s == 0 ? tl->c0 : tl->c + t->step_off[s - 1] * H;

  /* what the cell reads at step t - 1, fetched while this step's product
   * runs: gates, tanh (c), dy of its rows, c of the step before; and this
   * step's zin, for the weight gradients of its block */
  gsize q = s > 0 ? t->step_off[s - 1] : 0, nq = s > 0 ? t->step_rows[s - 1]
      : 0;
  LstmTrainPrefetch pf[5] = {
    {(const char *) (tl->gates + q * G4), nq * G4 * sizeof (float)},
    {(const char *) (tl->tc + q * H), nq * H * sizeof (float)},
    {(const char *) (t->dy + q * H), nq * H * sizeof (float)},
    {(const char *) (tl->c + (s > 1 ? t->step_off[s - 2] : 0) * H),
        s > 1 ? nq * H * sizeof (float) : 0},
    {(const char *) (tl->zin + r0 * Z), n * Z * sizeof (float)},
  };

  for (j = 0; j < n; j++) {
    gsize r = r0 + j;
    lstm_train_cell_backward (tl->gates + r * G4, tl->tc + r * H,
        c_prev + (gsize) j * H, t->dy + r * H, dh + j * Z,
        t->dc + (gsize) j * H, t->da + j * G4, H);
  }
  /* the rows kept for the weight gradients; db_ih = db_hh = their sum,
   * added meanwhile */
  lstm_train_pack_block (kc, G4, r0 - b0, n, t->da, G4, t->da_block,
      grad_of (t, l->bias_ih));

  /* [dL/dx_t dL/dh_{t-1}] = dA_t [W_ih W_hh]: the first part only above
   * layer 0, the second only after step 0 (truncated at h0). */
  if (k == 0) {
    if (s == 0)
      return;
    lstm_train_gemm_packed (n, H, G4, t->da, G4, tl->wp_b, NULL, dh, Z, pf,
        G_N_ELEMENTS (pf));
    return;
  }
  lstm_train_gemm_packed (n, s == 0 ? in : Z, G4, t->da, G4, tl->wp_b, NULL,
      t->dzin, Z, pf, G_N_ELEMENTS (pf));
  /* dL/dh^{k-1} at step t's rows, whose dy was used above; x = h^{k-1} m */
  for (j = 0; j < n; j++) {
    const float *dx = t->dzin + j * Z;
    float *d = t->dy + (r0 + j) * in;
    guint i;
    if (mask == NULL) {
      memcpy (d, dx, in * sizeof (float));
      continue;
    }
    for (i = 0; i < in; i++)
      d[i] = dx[i] * mask[(r0 + j) * in + i];
  }
}

/* Layer k: dy [N, H] holds dL/dh^k on entry; on exit, for k > 0, dL/dh^{k-1}
 * (through layer k - 1's dropout mask). */
static void
layer_backward (LstmTrainer * t, guint k)
{
  const LstmLayer *l = &t->model->layers[k];
  TrainLayer *tl = &t->layers[k];
  guint H = l->hidden_size, in = l->input_size, s;
  gsize G4 = 4 * (gsize) H, Z = in + (gsize) H;

  /* Nothing flows in from after the last step. Rows j >= B_{t+1} of dh
   * and dc are never written by a later step (it had fewer sequences), so
   * they stay 0: a sequence's last frame gets no recurrent gradient. */
  memset (t->dzin, 0, (gsize) t->n_seq * Z * sizeof (float));
  memset (t->dc, 0, (gsize) t->n_seq * H * sizeof (float));
  /* W for the per-step products (layer 0: only its W_hh part) */
  if (k == 0)
    lstm_train_pack (G4, H, tl->w + in, Z, FALSE, tl->wp_b);
  else
    lstm_train_pack (G4, Z, tl->w, Z, FALSE, tl->wp_b);

  /* The steps from the last down, in blocks of consecutive steps of at
   * most lstm_train_block_rows () rows (or one step); after each block,
   * [dW_ih dW_hh]^T += zin^T dA over its rows, while dA is in cache (this
   * way round the product's rows are the Z inputs and its columns the 4H
   * gates, which the kernels cut into whole panels). */
  for (s = t->n_steps; s > 0;) {
    guint lo = s - 1;
    gsize kc = t->step_rows[lo], b0;
    while (lo > 0 && kc + t->step_rows[lo - 1] <= lstm_train_block_rows ())
      kc += t->step_rows[--lo];
    b0 = t->step_off[lo];
    while (s-- > lo)
      step_backward (t, k, s, b0, kc);
    s = lo;
    /* the first block (the last steps) sets dW, the others add */
    lstm_train_gemm_tn_block (Z, G4, kc, tl->zin + b0 * Z, Z, t->da_block,
        b0 + kc < t->n_rows, t->dw, G4);
  }
  lstm_train_transpose (in, G4, t->dw, G4, grad_of (t, l->weight_ih), in);
  lstm_train_transpose (H, G4, t->dw + in * G4, G4, grad_of (t,
          l->weight_hh), H);
  memcpy (grad_of (t, l->bias_hh), grad_of (t, l->bias_ih),
      G4 * sizeof (float));
}

/* dz -> the head's gradients and dL/dh^top in dy. */
static void
head_backward (LstmTrainer * t)
{
  const LstmModel *m = t->model;
  guint H = m->layer_output_size, O = m->head_size, j;
  gsize R = t->n_loss_rows;
  /* every frame: straight into dy; last frames: into dh, then scattered */
  float *dyh = t->config.last_frame_only ? t->dh : t->dy;
  const float *yh = t->config.last_frame_only ? t->y_last : top_output (t);

  if (O == 0) {
    memcpy (dyh, t->dz, R * H * sizeof (float));
  } else {
    /* dW = dZ^T Y,  db = sum_r dZ_r,  dY = dZ W */
    lstm_train_gemm (TRUE, O, H, R, t->dz, O, yh, H,
        grad_of (t, m->head_weight), H);
    lstm_train_column_sums (R, O, t->dz, O, grad_of (t, m->head_bias));
    memset (dyh, 0, R * H * sizeof (float));
    lstm_train_gemm (FALSE, R, H, O, t->dz, O, m->head_weight, H, dyh, H);
  }
  if (!t->config.last_frame_only)
    return;
  memset (t->dy, 0, t->n_rows * H * sizeof (float));
  for (j = 0; j < t->n_seq; j++)
    memcpy (t->dy + t->loss_row[j] * H, t->dh + (gsize) j * H,
        H * sizeof (float));
}

void
lstm_bptt_backward (LstmTrainer * t)
{
  guint k;

  memset (t->grad, 0, t->model->n_params * sizeof (float));
  head_backward (t);
  if (t->var != NULL) {
    lstm_variant_bptt_backward (t);
    return;
  }
  for (k = t->model->num_layers; k-- > 0;)
    layer_backward (t, k);
}
