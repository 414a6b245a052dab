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
 *   dL/dh_{t-1} = W_hh^T da        (one product for the step's rows)
 *
 * The weight gradients are then summed over every row with one product
 * each:
 *
 *   dW_ih += dA^T X    dW_hh += dA^T H_prev    db_ih = db_hh = sum_r dA_r
 *   dX = dA W_ih       (dL/dh of the layer below, times its dropout mask)
 *
 * Gradients stop at the initial states (truncated BPTT): dh_{-1} and
 * dc_{-1} are not computed.
 */
#include "lstm-variant-private.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- forward */

/* m = 0 with probability p, else 1 / (1 - p); dropped = y * m. A draw is
 * u = (top 24 bits) / 2^24, uniform in [0, 1); the value is kept when
 * u >= p. */
static void
dropout_forward (LstmTrainer * t, TrainLayer * tl, guint H)
{
  float p = (float) t->config.dropout;
  float scale = 1.0f / (1.0f - p);
  gsize n = t->n_rows * H, i;

  for (i = 0; i < n; i++) {
    float u =
        (float) (lstm_train_next_random (&t->rng) >> 40) * (1.0f / 16777216.0f);
    tl->mask[i] = u >= p ? scale : 0.0f;
    tl->dropped[i] = tl->y[i] * tl->mask[i];
  }
}

/* Layer k over every packed row; x [N, in]. */
static void
layer_forward (LstmTrainer * t, guint k, const float *x)
{
  const LstmLayer *l = &t->model->layers[k];
  TrainLayer *tl = &t->layers[k];
  guint H = l->hidden_size, in = l->input_size, s, j;
  gsize G4 = 4 * (gsize) H, N = t->n_rows, r;

  /* The weights as [in, 4H] and [H, 4H], for A += X W^T products. */
  lstm_train_transpose (G4, in, l->weight_ih, in, tl->w_ih_t, G4);
  lstm_train_transpose (G4, H, l->weight_hh, H, tl->w_hh_t, G4);

  /* A = b_ih + b_hh, then += X W_ih^T for all rows at once. */
  for (j = 0; j < G4; j++)
    t->bias_sum[j] = l->bias_ih[j] + l->bias_hh[j];
  for (r = 0; r < N; r++)
    memcpy (tl->gates + r * G4, t->bias_sum, G4 * sizeof (float));
  lstm_train_gemm (FALSE, N, G4, in, x, in, tl->w_ih_t, G4, tl->gates, G4);

  memcpy (tl->h_prev, tl->h0, (gsize) t->n_seq * H * sizeof (float));
  for (s = 0; s < t->n_steps; s++) {
    gsize r0 = t->step_off[s];
    guint n = t->step_rows[s];
    const float *c_prev = s == 0 ? tl->c0 : tl->c + t->step_off[s - 1] * H;

    /* A_t += H_{t-1} W_hh^T for the n sequences running at step t. */
    lstm_train_gemm (FALSE, n, G4, H, tl->h_prev + r0 * H, H, tl->w_hh_t,
        G4, tl->gates + r0 * G4, G4);
    for (j = 0; j < n; j++) {
      r = r0 + j;
      lstm_train_cell_forward (tl->gates + r * G4, c_prev + (gsize) j * H,
          tl->c + r * H, tl->tc + r * H, tl->y + r * H, H);
    }
    /* h_t of the sequences that go on is h_prev of step t + 1. */
    if (s + 1 < t->n_steps)
      memcpy (tl->h_prev + t->step_off[s + 1] * H, tl->y + r0 * H,
          (gsize) t->step_rows[s + 1] * H * sizeof (float));
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
  const float *x = t->x0, *yh;

  if (t->var != NULL)
    lstm_variant_bptt_forward (t);
  for (k = 0; t->var == NULL && k < m->num_layers; k++) {
    TrainLayer *tl = &t->layers[k];
    layer_forward (t, k, x);
    x = tl->y;
    if (t->training && tl->mask != NULL) {
      dropout_forward (t, tl, H);
      x = tl->dropped;
    }
  }

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

/* Layer k: dy [N, H] holds dL/dh^k on entry; on exit, for k > 0, dL/dh^{k-1}
 * (through layer k - 1's dropout mask). */
static void
layer_backward (LstmTrainer * t, guint k)
{
  const LstmLayer *l = &t->model->layers[k];
  TrainLayer *tl = &t->layers[k];
  guint H = l->hidden_size, in = l->input_size, s, j;
  gsize G4 = 4 * (gsize) H, N = t->n_rows, r;
  const float *x;

  if (k == 0)
    x = t->x0;
  else if (t->layers[k - 1].mask != NULL)
    x = t->layers[k - 1].dropped;
  else
    x = t->layers[k - 1].y;

  /* Nothing flows in from after the last step. */
  memset (t->dh, 0, (gsize) t->n_seq * H * sizeof (float));
  memset (t->dc, 0, (gsize) t->n_seq * H * sizeof (float));

  /* Rows j >= B_{t+1} of dh and dc were never written by a later step (it
   * had fewer sequences), so they are still 0: a sequence's last frame
   * gets no recurrent gradient. */
  for (s = t->n_steps; s-- > 0;) {
    gsize r0 = t->step_off[s];
    guint n = t->step_rows[s];
    const float *c_prev = s == 0 ? tl->c0 : tl->c + t->step_off[s - 1] * H;

    for (j = 0; j < n; j++) {
      r = r0 + j;
      lstm_train_cell_backward (tl->gates + r * G4, tl->tc + r * H,
          c_prev + (gsize) j * H, t->dy + r * H, t->dh + (gsize) j * H,
          t->dc + (gsize) j * H, t->da + r * G4, H);
    }
    /* db_ih = db_hh = sum over the rows of dA, added while they are hot */
    lstm_train_column_sums (n, G4, t->da + r0 * G4, G4,
        grad_of (t, l->bias_ih));
    /* dL/dh_{t-1} = dA_t W_hh */
    memset (t->dh, 0, (gsize) n * H * sizeof (float));
    lstm_train_gemm (FALSE, n, H, G4, t->da + r0 * G4, G4, l->weight_hh, H,
        t->dh, H);
  }

  /* dW_ih += dA^T X, dW_hh += dA^T H_prev */
  lstm_train_gemm (TRUE, G4, in, N, t->da, G4, x, in,
      grad_of (t, l->weight_ih), in);
  lstm_train_gemm (TRUE, G4, H, N, t->da, G4, tl->h_prev, H,
      grad_of (t, l->weight_hh), H);
  memcpy (grad_of (t, l->bias_hh), grad_of (t, l->bias_ih),
      G4 * sizeof (float));

  if (k == 0)
    return;
  /* dL/dx = dA W_ih; then x = h^{k-1} m. */
  memset (t->dy, 0, N * in * sizeof (float));
  lstm_train_gemm (FALSE, N, in, G4, t->da, G4, l->weight_ih, in, t->dy, in);
  if (t->layers[k - 1].mask != NULL) {
    const float *mask = t->layers[k - 1].mask;
    for (r = 0; r < N * in; r++)
      t->dy[r] *= mask[r];
  }
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
