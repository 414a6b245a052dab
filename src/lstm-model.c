/* LstmModel: construction, flat parameter layout, initialization, metadata. */
#include "lstm.h"

#include <math.h>
#include <string.h>

G_DEFINE_QUARK (lstm - error - quark, lstm_error);

/* Each tensor starts on a 64-byte boundary inside params (16 floats), so
 * vector kernels may use aligned loads on row starts of aligned widths. */
#define PARAM_ALIGN_FLOATS 16

static gsize
align_up (gsize n)
{
  return (n + PARAM_ALIGN_FLOATS - 1) / PARAM_ALIGN_FLOATS * PARAM_ALIGN_FLOATS;
}

static gboolean
check_sizes (guint input_size, guint hidden_size, guint num_layers,
    guint head_size, GError ** error)
{
  if (input_size == 0 || input_size > LSTM_MAX_INPUT_SIZE) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "input size %u is out of range (1..%u)", input_size,
        LSTM_MAX_INPUT_SIZE);
    return FALSE;
  }
  if (hidden_size == 0 || hidden_size > LSTM_MAX_HIDDEN_SIZE) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "hidden size %u is out of range (1..%u)", hidden_size,
        LSTM_MAX_HIDDEN_SIZE);
    return FALSE;
  }
  if (num_layers == 0 || num_layers > LSTM_MAX_LAYERS) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "number of layers %u is out of range (1..%u)", num_layers,
        LSTM_MAX_LAYERS);
    return FALSE;
  }
  if (head_size > LSTM_MAX_HEAD_SIZE) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "head size %u is out of range (0..%u)", head_size, LSTM_MAX_HEAD_SIZE);
    return FALSE;
  }
  return TRUE;
}

LstmModel *
lstm_model_new (guint input_size, guint hidden_size, guint num_layers,
    guint head_size, LstmOutput output, GError ** error)
{
  LstmModel *m;
  gsize g4, off = 0;
  guint k;

  g_return_val_if_fail (output <= LSTM_OUTPUT_SIGMOID, NULL);

  if (!check_sizes (input_size, hidden_size, num_layers, head_size, error))
    return NULL;

  m = g_new0 (LstmModel, 1);
  m->ref_count = 1;
  m->input_size = input_size;
  m->hidden_size = hidden_size;
  m->num_layers = num_layers;
  m->head_size = head_size;
  m->output = output;
  m->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  m->layers = g_new0 (LstmLayer, num_layers);

  /* Limits above keep every product here far below 2^63. */
  g4 = 4 * (gsize) hidden_size;
  for (k = 0; k < num_layers; k++) {
    gsize in = k == 0 ? input_size : hidden_size;
    off += align_up (g4 * in) + align_up (g4 * hidden_size) + 2 * align_up (g4);
    m->n_weights += g4 * in + g4 * hidden_size + 2 * g4;
  }
  off += align_up ((gsize) head_size * hidden_size) + align_up (head_size);
  m->n_weights += (gsize) head_size *hidden_size + head_size;
  m->n_params = off;
  m->params = g_aligned_alloc0 (m->n_params, sizeof (float), 64);

  off = 0;
  for (k = 0; k < num_layers; k++) {
    LstmLayer *l = &m->layers[k];
    l->input_size = k == 0 ? input_size : hidden_size;
    l->hidden_size = hidden_size;
    l->weight_ih = m->params + off;
    off += align_up (g4 * l->input_size);
    l->weight_hh = m->params + off;
    off += align_up (g4 * hidden_size);
    l->bias_ih = m->params + off;
    off += align_up (g4);
    l->bias_hh = m->params + off;
    off += align_up (g4);
  }
  if (head_size > 0) {
    m->head_weight = m->params + off;
    off += align_up ((gsize) head_size * hidden_size);
    m->head_bias = m->params + off;
    off += align_up (head_size);
  }
  g_assert (off == m->n_params);
  return m;
}

LstmModel *
lstm_model_ref (LstmModel * model)
{
  g_return_val_if_fail (model != NULL, NULL);
  g_atomic_int_inc (&model->ref_count);
  return model;
}

void
lstm_model_unref (LstmModel * model)
{
  g_return_if_fail (model != NULL);
  if (!g_atomic_int_dec_and_test (&model->ref_count))
    return;
  if (model->dispose_notify != NULL)
    model->dispose_notify (model);
  g_aligned_free (model->params);
  g_free (model->layers);
  g_free (model->input_mean);
  g_free (model->input_std);
  g_strfreev (model->labels);
  g_hash_table_unref (model->metadata);
  g_free (model);
}

static void
fill_uniform (GRand * rand, float *p, gsize n, double bound)
{
  gsize i;
  for (i = 0; i < n; i++)
    p[i] = (float) g_rand_double_range (rand, -bound, bound);
}

void
lstm_model_init_random (LstmModel * model, guint64 seed)
{
  guint32 seed_words[2] = { (guint32) seed, (guint32) (seed >> 32) };
  GRand *rand;
  /* nn.LSTM.reset_parameters: stdv = 1 / sqrt(hidden_size) for all four
   * tensors of every layer. nn.Linear: kaiming_uniform_(a = sqrt(5)) gives
   * bound = sqrt(6 / ((1 + a^2) fan_in)) = 1 / sqrt(fan_in) for the weight,
   * and the bias uses 1 / sqrt(fan_in) too; fan_in = hidden_size here. */
  double bound = 1.0 / sqrt ((double) model->hidden_size);
  gsize g4 = 4 * (gsize) model->hidden_size;
  guint k;

  g_return_if_fail (model != NULL);

  rand = g_rand_new_with_seed_array (seed_words, 2);
  for (k = 0; k < model->num_layers; k++) {
    LstmLayer *l = &model->layers[k];
    fill_uniform (rand, l->weight_ih, g4 * l->input_size, bound);
    fill_uniform (rand, l->weight_hh, g4 * l->hidden_size, bound);
    fill_uniform (rand, l->bias_ih, g4, bound);
    fill_uniform (rand, l->bias_hh, g4, bound);
  }
  if (model->head_size > 0) {
    fill_uniform (rand, model->head_weight,
        (gsize) model->head_size * model->hidden_size, bound);
    fill_uniform (rand, model->head_bias, model->head_size, bound);
  }
  g_rand_free (rand);
}

gboolean
lstm_model_set_normalization (LstmModel * model, const float *mean,
    const float *std, GError ** error)
{
  guint i;

  g_return_val_if_fail (model != NULL, FALSE);
  g_return_val_if_fail ((mean == NULL) == (std == NULL), FALSE);

  if (mean == NULL) {
    g_clear_pointer (&model->input_mean, g_free);
    g_clear_pointer (&model->input_std, g_free);
    return TRUE;
  }
  for (i = 0; i < model->input_size; i++) {
    if (!isfinite (mean[i])) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
          "input_mean[%u] is %g; it must be finite", i, mean[i]);
      return FALSE;
    }
    if (!isfinite (std[i]) || !(std[i] > 0.0f)) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
          "input_std[%u] is %g; it must be finite and greater than 0", i,
          std[i]);
      return FALSE;
    }
  }
  g_free (model->input_mean);
  g_free (model->input_std);
  model->input_mean = g_memdup2 (mean, model->input_size * sizeof (float));
  model->input_std = g_memdup2 (std, model->input_size * sizeof (float));
  return TRUE;
}

gboolean
lstm_model_set_labels (LstmModel * model, const gchar * const *labels,
    GError ** error)
{
  guint n;

  g_return_val_if_fail (model != NULL, FALSE);

  if (labels == NULL) {
    g_clear_pointer (&model->labels, g_strfreev);
    return TRUE;
  }
  n = g_strv_length ((gchar **) labels);
  if (n != model->head_size) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "%u labels given for a head of %u outputs", n, model->head_size);
    return FALSE;
  }
  for (guint i = 0; i < n; i++) {
    if (labels[i][0] == '\0' || !g_utf8_validate (labels[i], -1, NULL)) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
          "label %u is empty or not UTF-8", i);
      return FALSE;
    }
  }
  g_strfreev (model->labels);
  model->labels = g_strdupv ((gchar **) labels);
  return TRUE;
}

void
lstm_model_set_metadata (LstmModel * model, const gchar * key,
    const gchar * value)
{
  g_return_if_fail (model != NULL && key != NULL);
  if (value == NULL)
    g_hash_table_remove (model->metadata, key);
  else
    g_hash_table_insert (model->metadata, g_strdup (key), g_strdup (value));
}

const gchar *
lstm_model_get_metadata (const LstmModel * model, const gchar * key)
{
  g_return_val_if_fail (model != NULL && key != NULL, NULL);
  return g_hash_table_lookup (model->metadata, key);
}

guint
lstm_model_get_output_size (const LstmModel * model)
{
  g_return_val_if_fail (model != NULL, 0);
  return model->head_size > 0 ? model->head_size : model->hidden_size;
}

static gboolean
check_finite_block (const float *p, gsize n, const gchar * what, guint layer,
    GError ** error)
{
  gsize i;
  for (i = 0; i < n; i++) {
    if (!isfinite (p[i])) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_MODEL,
          "%s (layer %u) holds a non-finite value (%g) at element %"
          G_GSIZE_FORMAT, what, layer, p[i], i);
      return FALSE;
    }
  }
  return TRUE;
}

gboolean
lstm_model_check_finite (const LstmModel * model, GError ** error)
{
  gsize g4 = 4 * (gsize) model->hidden_size;
  guint k;

  for (k = 0; k < model->num_layers; k++) {
    const LstmLayer *l = &model->layers[k];
    if (!check_finite_block (l->weight_ih, g4 * l->input_size, "weight_ih", k,
            error)
        || !check_finite_block (l->weight_hh, g4 * l->hidden_size,
            "weight_hh", k, error)
        || !check_finite_block (l->bias_ih, g4, "bias_ih", k, error)
        || !check_finite_block (l->bias_hh, g4, "bias_hh", k, error))
      return FALSE;
  }
  if (model->head_size > 0
      && (!check_finite_block (model->head_weight,
              (gsize) model->head_size * model->hidden_size, "head weight", 0,
              error)
          || !check_finite_block (model->head_bias, model->head_size,
              "head bias", 0, error)))
    return FALSE;
  if (model->input_mean != NULL
      && (!check_finite_block (model->input_mean, model->input_size,
              "input_mean", 0, error)
          || !check_finite_block (model->input_std, model->input_size,
              "input_std", 0, error)))
    return FALSE;
  return TRUE;
}

LstmModel *
lstm_model_copy (const LstmModel * model)
{
  LstmModel *copy;
  GHashTableIter it;
  gpointer key, value;

  g_return_val_if_fail (model != NULL, NULL);

  copy = lstm_model_new (model->input_size, model->hidden_size,
      model->num_layers, model->head_size, model->output, NULL);
  g_assert (copy != NULL && copy->n_params == model->n_params);
  memcpy (copy->params, model->params, model->n_params * sizeof (float));
  if (model->input_mean != NULL)
    lstm_model_set_normalization (copy, model->input_mean, model->input_std,
        NULL);
  copy->labels = g_strdupv (model->labels);
  g_hash_table_iter_init (&it, model->metadata);
  while (g_hash_table_iter_next (&it, &key, &value))
    lstm_model_set_metadata (copy, key, value);
  return copy;
}

static const gchar *const output_names[] = { "identity", "softmax", "sigmoid" };

const gchar *
lstm_output_to_string (LstmOutput output)
{
  g_return_val_if_fail (output <= LSTM_OUTPUT_SIGMOID, NULL);
  return output_names[output];
}

gboolean
lstm_output_from_string (const gchar * str, LstmOutput * output)
{
  guint i;
  for (i = 0; i < G_N_ELEMENTS (output_names); i++) {
    if (g_strcmp0 (str, output_names[i]) == 0) {
      *output = (LstmOutput) i;
      return TRUE;
    }
  }
  return FALSE;
}
