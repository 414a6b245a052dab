/* Input normalization measured on training frames: mean and population
 * standard deviation per feature.
 *
 * Each call's frames are summarized exactly (two passes in double: their
 * mean, then M2 = sum (x - mean)^2) and merged into the running totals as
 * Chan, Golub and LeVeque's pairwise update does:
 *
 *   n = n_a + n_b,  d = mean_b - mean_a
 *   mean = mean_a + d n_b / n
 *   M2 = M2_a + M2_b + d^2 n_a n_b / n
 *
 * so neither a large offset nor millions of frames cost precision, and
 * std = sqrt (M2 / n) (unbiased=False).
 */
#include "lstm.h"

#include <math.h>
#include <string.h>

struct _LstmNormStats
{
  guint n_features;
  guint64 count;                /* frames merged so far */
  double *mean;                 /* [n_features] */
  double *m2;                   /* [n_features] sum of squared deviations */
  double *chunk_mean;           /* [n_features] scratch of one call */
  double *chunk_m2;             /* [n_features] */
};

LstmNormStats *
lstm_norm_stats_new (guint n_features)
{
  LstmNormStats *s;

  g_return_val_if_fail (n_features > 0 && n_features <= LSTM_MAX_INPUT_SIZE,
      NULL);

  s = g_new0 (LstmNormStats, 1);
  s->n_features = n_features;
  s->mean = g_new0 (double, n_features);
  s->m2 = g_new0 (double, n_features);
  s->chunk_mean = g_new0 (double, n_features);
  s->chunk_m2 = g_new0 (double, n_features);
  return s;
}

void
lstm_norm_stats_free (LstmNormStats * stats)
{
  if (stats == NULL)
    return;
  g_free (stats->mean);
  g_free (stats->m2);
  g_free (stats->chunk_mean);
  g_free (stats->chunk_m2);
  g_free (stats);
}

guint
lstm_norm_stats_add (LstmNormStats * stats, const float *frames, guint n_frames)
{
  guint F, t, j, n = 0;
  double nb, na, d;

  g_return_val_if_fail (stats != NULL, 0);
  g_return_val_if_fail (frames != NULL || n_frames == 0, 0);

  F = stats->n_features;
  memset (stats->chunk_mean, 0, F * sizeof (double));
  memset (stats->chunk_m2, 0, F * sizeof (double));
  for (t = 0; t < n_frames; t++) {
    const float *x = frames + (gsize) t * F;
    if (!lstm_frame_is_finite (x, F))
      continue;
    for (j = 0; j < F; j++)
      stats->chunk_mean[j] += x[j];
    n++;
  }
  if (n == 0)
    return 0;
  for (j = 0; j < F; j++)
    stats->chunk_mean[j] /= n;
  for (t = 0; t < n_frames; t++) {
    const float *x = frames + (gsize) t * F;
    if (!lstm_frame_is_finite (x, F))
      continue;
    for (j = 0; j < F; j++) {
      d = x[j] - stats->chunk_mean[j];
      stats->chunk_m2[j] += d * d;
    }
  }

  na = (double) stats->count;
  nb = n;
  for (j = 0; j < F; j++) {
    d = stats->chunk_mean[j] - stats->mean[j];
    stats->mean[j] += d * nb / (na + nb);
    stats->m2[j] += stats->chunk_m2[j] + d * d * na * nb / (na + nb);
  }
  stats->count += n;
  return n;
}

guint64
lstm_norm_stats_get_count (const LstmNormStats * stats)
{
  g_return_val_if_fail (stats != NULL, 0);
  return stats->count;
}

gboolean
lstm_norm_stats_get (const LstmNormStats * stats, float *mean, float *std,
    GError ** error)
{
  guint j;

  g_return_val_if_fail (stats != NULL && mean != NULL && std != NULL, FALSE);

  if (stats->count == 0) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "no finite frame was measured: the normalization of %u features "
        "is undefined", stats->n_features);
    return FALSE;
  }
  for (j = 0; j < stats->n_features; j++) {
    double sd = sqrt (stats->m2[j] / (double) stats->count);
    mean[j] = (float) stats->mean[j];
    /* a constant feature is only centred (std 1), as StandardScaler does */
    std[j] = sd <= 1e-6 * fabs (stats->mean[j]) || (float) sd <= 0.0f ?
        1.0f : (float) sd;
  }
  return TRUE;
}

gboolean
lstm_norm_stats_apply (const LstmNormStats * stats, LstmModel * model,
    GError ** error)
{
  g_autofree float *mean = NULL;
  g_autofree float *std = NULL;

  g_return_val_if_fail (stats != NULL && model != NULL, FALSE);

  if (model->input_size != stats->n_features) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "statistics of %u features do not fit a model of input size %u",
        stats->n_features, model->input_size);
    return FALSE;
  }
  mean = g_new (float, stats->n_features);
  std = g_new (float, stats->n_features);
  if (!lstm_norm_stats_get (stats, mean, std, error))
    return FALSE;
  return lstm_model_set_normalization (model, mean, std, error);
}
