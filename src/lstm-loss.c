/* Losses with PyTorch's 'mean' reduction, and their gradient dL/dz.
 *
 * The loss rows are every packed row (a term per frame) or each
 * sequence's last frame (last_frame_only). Over the n counted rows:
 *
 * Cross-entropy (nn.CrossEntropyLoss (reduction='mean') on the logits z,
 * rows whose class is LSTM_IGNORE_INDEX not counted, as ignore_index):
 *   L = 1/n sum_r (log sum_j exp z_rj - z_r,y_r)
 *   dL/dz_rj = (softmax (z_r)_j - [j = y_r]) / n
 * So with every frame counted, L is the loss over the concatenated valid
 * frames of all sequences: each frame weighs the same, a long sequence
 * more than a short one.
 *
 * MSE (nn.MSELoss (reduction='mean') on p = act (z), the model's output):
 *   L = 1/(n O) sum_r sum_j (p_rj - t_rj)^2
 *   dL/dp_rj = 2 (p_rj - t_rj) / (n O), then through the activation:
 *   identity dz = dp;  sigmoid dz = dp p (1 - p);
 *   softmax  dz_j = p_j (dp_j - sum_k dp_k p_k)
 */
#include "lstm-train-private.h"

#include <math.h>
#include <string.h>

/* Where the target of loss row r is: sequence *seq, entry *at of its
 * class_ids (or row of its targets). */
static inline void
target_of_row (const LstmTrainer * t, gsize r, guint * seq, guint * at)
{
  if (t->config.last_frame_only) {
    *seq = t->order[r];
    *at = 0;
  } else {
    *seq = t->row_seq[r];
    *at = t->row_frame[r];
  }
}

/* One row of cross-entropy: returns -log softmax (z)_y; writes
 * softmax (z) - onehot (y) into dz when it is not NULL. */
static double
cross_entropy_row (const float *z, guint O, gint32 y, float *dz,
    gboolean * correct)
{
  float mx = z[0], sum = 0.0f, lse;
  guint j, best = 0;

  for (j = 1; j < O; j++) {
    if (z[j] > mx) {
      mx = z[j];
      best = j;
    }
  }
  for (j = 0; j < O; j++) {
    float e = expf (z[j] - mx);
    sum += e;
    if (dz != NULL)
      dz[j] = e;                /* kept for the gradient below */
  }
  /* log sum_j exp z_j = max + log sum_j exp (z_j - max) */
  lse = mx + logf (sum);
  *correct = best == (guint) y;
  if (dz != NULL) {
    for (j = 0; j < O; j++)
      dz[j] = dz[j] / sum;
    dz[y] -= 1.0f;
  }
  return (double) lse - (double) z[y];
}

/* One row of squared error: p = act (z) into p; returns
 * sum_j (p_j - t_j)^2; writes 2 (p - t) taken back through the activation
 * (dL/dz before the 1/(n O)) into dz when it is not NULL. */
static double
squared_error_row (const float *z, guint O, LstmOutput act,
    const float *target, float *p, float *dz)
{
  double se = 0.0;
  float mx, sum = 0.0f, dot = 0.0f;
  guint j;

  switch (act) {
    case LSTM_OUTPUT_IDENTITY:
      memcpy (p, z, O * sizeof (float));
      break;
    case LSTM_OUTPUT_SIGMOID:
      for (j = 0; j < O; j++)
        p[j] = 1.0f / (1.0f + expf (-z[j]));
      break;
    case LSTM_OUTPUT_SOFTMAX:
      mx = z[0];
      for (j = 1; j < O; j++)
        mx = MAX (mx, z[j]);
      for (j = 0; j < O; j++) {
        p[j] = expf (z[j] - mx);
        sum += p[j];
      }
      for (j = 0; j < O; j++)
        p[j] /= sum;
      break;
  }
  for (j = 0; j < O; j++) {
    float d = p[j] - target[j];
    se += (double) d *d;
    if (dz != NULL)
      dz[j] = 2.0f * d;         /* dL/dp before the 1/(n O) */
  }
  if (dz == NULL)
    return se;
  switch (act) {
    case LSTM_OUTPUT_IDENTITY:
      break;
    case LSTM_OUTPUT_SIGMOID:
      /* dp/dz = p (1 - p) */
      for (j = 0; j < O; j++)
        dz[j] *= p[j] * (1.0f - p[j]);
      break;
    case LSTM_OUTPUT_SOFTMAX:
      /* dz_j = p_j (dp_j - sum_k dp_k p_k) */
      for (j = 0; j < O; j++)
        dot += dz[j] * p[j];
      for (j = 0; j < O; j++)
        dz[j] = p[j] * (dz[j] - dot);
      break;
  }
  return se;
}

float
lstm_loss_compute (LstmTrainer * t, const LstmBatch * batch,
    gboolean want_grad, LstmTrainStats * stats)
{
  const LstmModel *m = t->model;
  guint O = lstm_model_get_output_size (m), seq, at;
  /* without a head the output is h itself: no activation */
  LstmOutput act = m->head_size > 0 ? m->output : LSTM_OUTPUT_IDENTITY;
  gboolean ce = t->config.loss == LSTM_LOSS_CROSS_ENTROPY;
  gsize R = t->n_loss_rows, r, i, counted = 0, correct = 0;
  double sum = 0.0;
  float scale;

  for (r = 0; r < R; r++) {
    const float *z = t->z + r * O;
    float *dz = want_grad ? t->dz + r * O : NULL;

    target_of_row (t, r, &seq, &at);
    if (ce) {
      gint32 y = batch->class_ids[seq][at];
      gboolean ok;
      if (y == LSTM_IGNORE_INDEX) {
        if (dz != NULL)
          memset (dz, 0, O * sizeof (float));
        continue;
      }
      sum += cross_entropy_row (z, O, y, dz, &ok);
      correct += ok;
    } else {
      sum += squared_error_row (z, O, act,
          batch->targets[seq] + (gsize) at * O, t->p_row, dz) / O;
    }
    counted++;
  }
  g_assert (counted > 0);       /* lstm-train.c checked */

  if (want_grad) {
    /* 'mean': 1/n (cross-entropy), 1/(n O) (MSE, whose rows hold 2 (p - t)) */
    scale = ce ? 1.0f / (float) counted : 1.0f / ((float) counted * O);
    for (i = 0; i < R * O; i++)
      t->dz[i] *= scale;
  }
  if (stats != NULL) {
    stats->loss_sum += sum;
    stats->n_targets += counted;
    stats->n_correct += correct;
  }
  return (float) (sum / counted);
}
