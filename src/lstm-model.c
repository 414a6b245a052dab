/* LstmModel: construction, flat parameter layout, initialization, metadata. */
#include "lstm-private.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

gsize
lstm_memory_floats (void)
{
  long pages = sysconf (_SC_PHYS_PAGES), size = sysconf (_SC_PAGESIZE);

  if (pages <= 0 || size <= 0)
    return G_MAXSIZE;
  return (gsize) pages / sizeof (float) * (gsize) size;
}

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

void
lstm_model_config_init (LstmModelConfig * config, guint input_size,
    guint hidden_size, guint num_layers, guint head_size, LstmOutput output)
{
  g_return_if_fail (config != NULL);
  memset (config, 0, sizeof (*config));
  config->input_size = input_size;
  config->hidden_size = hidden_size;
  config->num_layers = num_layers;
  config->head_size = head_size;
  config->output = output;
  config->cell = LSTM_CELL_LSTM;
}

/* The variants that are defined: the GRU has no projection, peephole,
 * coupled gates or layer norm (neither PyTorch nor ONNX define them). */
static gboolean
check_variant (const LstmModelConfig * c, GError ** error)
{
  if (c->cell == LSTM_CELL_GRU && (c->proj_size > 0 || c->peephole
          || c->coupled_gates || c->layer_norm)) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "the GRU cell has no %s; that variant is defined for the LSTM cell "
        "only", c->proj_size > 0 ? "projection" : c->peephole ? "peephole"
        : c->coupled_gates ? "coupled gates" : "layer norm");
    return FALSE;
  }
  if (c->proj_size >= c->hidden_size) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "projection size %u must be smaller than the hidden size %u (as in "
        "nn.LSTM)", c->proj_size, c->hidden_size);
    return FALSE;
  }
  if (!isfinite (c->cell_clip) || c->cell_clip < 0.0) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "cell clip %g must be a finite number > 0 (or 0 for none)",
        c->cell_clip);
    return FALSE;
  }
  return TRUE;
}

gboolean
lstm_model_config_validate (const LstmModelConfig * c, GError ** error)
{
  return check_sizes (c->input_size, c->hidden_size, c->num_layers,
      c->head_size, error) && check_variant (c, error);
}

/* The block of n floats at *off (NULL while only counting), *off moved
 * past it. */
static float *
take_block (float *params, gsize * off, gsize n)
{
  float *p = params != NULL ? params + *off : NULL;
  *off += align_up (n);
  return p;
}

/* Floats of one direction of a layer, each block aligned; points its
 * tensors at m->params + off (NULL while m->params is not allocated). */
static gsize
layer_layout (const LstmModel * m, LstmLayer * l, gsize off)
{
  gsize G = l->gate_size, H = l->hidden_size, start = off;
  float *p = m->params;

  l->weight_ih = take_block (p, &off, G * l->input_size);
  l->weight_hh = take_block (p, &off, G * l->out_size);
  l->bias_ih = take_block (p, &off, G);
  l->bias_hh = take_block (p, &off, G);
  if (m->proj_size > 0)
    l->weight_hr = take_block (p, &off, (gsize) m->proj_size * H);
  if (m->peephole)
    l->peephole = take_block (p, &off, 3 * H);
  if (m->layer_norm) {
    l->ln_ih_weight = take_block (p, &off, G);
    l->ln_ih_bias = take_block (p, &off, G);
    l->ln_hh_weight = take_block (p, &off, G);
    l->ln_hh_bias = take_block (p, &off, G);
    l->ln_c_weight = take_block (p, &off, H);
    l->ln_c_bias = take_block (p, &off, H);
  }
  return off - start;
}

/* Trainable floats of one direction of a layer, padding excluded. */
static gsize
layer_weights (const LstmModel * m, const LstmLayer * l)
{
  gsize G = l->gate_size, H = l->hidden_size;
  gsize n = G * l->input_size + G * l->out_size + 2 * G;

  n += (gsize) m->proj_size * H;
  if (m->peephole)
    n += 3 * H;
  if (m->layer_norm)
    n += 4 * G + 2 * H;
  return n;
}

/* Sizes of every layer, then the params buffer, then the pointers; FALSE
 * (and no buffer) when the buffer could not fit in this machine's memory,
 * which allocating would abort on. */
static gboolean
layout_params (LstmModel * m, GError ** error)
{
  guint D = m->num_directions, k, d;
  gsize off = 0, HI = m->layer_output_size;

  for (k = 0; k < m->num_layers; k++) {
    for (d = 0; d < D; d++) {
      LstmLayer *l = &m->layers[k * D + d];
      l->input_size = k == 0 ? m->input_size : m->layer_output_size;
      l->hidden_size = m->hidden_size;
      l->gate_size = (m->cell == LSTM_CELL_GRU ? 3 : 4) * m->hidden_size;
      l->out_size = m->proj_size > 0 ? m->proj_size : m->hidden_size;
      l->direction = d;
      off += layer_layout (m, l, off);
      m->n_weights += layer_weights (m, l);
    }
  }
  off += align_up ((gsize) m->head_size * HI) + align_up (m->head_size);
  m->n_weights += (gsize) m->head_size * HI + m->head_size;
  m->n_params = off;
  if (m->n_params > lstm_memory_floats ()) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "a model of these sizes has %" G_GSIZE_FORMAT " parameters (%.1f "
        "GiB), more than this machine's memory (%.1f GiB)", m->n_params,
        m->n_params * 4.0 / (1 << 30), lstm_memory_floats () * 4.0 /
        (1 << 30));
    return FALSE;
  }
  m->params = g_aligned_alloc0 (m->n_params, sizeof (float), 64);

  off = 0;
  for (k = 0; k < m->num_layers * D; k++)
    off += layer_layout (m, &m->layers[k], off);
  if (m->head_size > 0) {
    m->head_weight = m->params + off;
    off += align_up ((gsize) m->head_size * HI);
    m->head_bias = m->params + off;
    off += align_up (m->head_size);
  }
  g_assert (off == m->n_params);
  return TRUE;
}

/* Layer norm starts as the identity: gains 1, shifts 0 (nn.LayerNorm). */
static void
init_layer_norm (LstmModel * m)
{
  guint k, j;

  for (k = 0; m->layer_norm && k < m->num_layers * m->num_directions; k++) {
    LstmLayer *l = &m->layers[k];
    for (j = 0; j < l->gate_size; j++)
      l->ln_ih_weight[j] = l->ln_hh_weight[j] = 1.0f;
    for (j = 0; j < l->hidden_size; j++)
      l->ln_c_weight[j] = 1.0f;
  }
}

LstmModel *
lstm_model_new_full (const LstmModelConfig * c, GError ** error)
{
  LstmModel *m;

  g_return_val_if_fail (c != NULL, NULL);
  g_return_val_if_fail (c->output <= LSTM_OUTPUT_SIGMOID, NULL);
  g_return_val_if_fail (c->cell <= LSTM_CELL_GRU, NULL);

  if (!lstm_model_config_validate (c, error))
    return NULL;

  m = g_new0 (LstmModel, 1);
  m->ref_count = 1;
  m->input_size = c->input_size;
  m->hidden_size = c->hidden_size;
  m->num_layers = c->num_layers;
  m->head_size = c->head_size;
  m->output = c->output;
  m->cell = c->cell;
  m->proj_size = c->proj_size;
  m->num_directions = c->bidirectional ? 2 : 1;
  m->peephole = c->peephole;
  m->coupled_gates = c->coupled_gates;
  m->layer_norm = c->layer_norm;
  m->cell_clip = (float) c->cell_clip;
  m->layer_output_size = m->num_directions *
      (c->proj_size > 0 ? c->proj_size : c->hidden_size);
  m->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  m->layers = g_new0 (LstmLayer, m->num_layers * m->num_directions);
  /* Limits above keep every product here far below 2^63. */
  if (!layout_params (m, error)) {
    lstm_model_unref (m);
    return NULL;
  }
  init_layer_norm (m);
  return m;
}

LstmModel *
lstm_model_new (guint input_size, guint hidden_size, guint num_layers,
    guint head_size, LstmOutput output, GError ** error)
{
  LstmModelConfig c;

  g_return_val_if_fail (output <= LSTM_OUTPUT_SIGMOID, NULL);
  lstm_model_config_init (&c, input_size, hidden_size, num_layers, head_size,
      output);
  return lstm_model_new_full (&c, error);
}

void
lstm_model_get_config (const LstmModel * m, LstmModelConfig * c)
{
  g_return_if_fail (m != NULL && c != NULL);
  lstm_model_config_init (c, m->input_size, m->hidden_size, m->num_layers,
      m->head_size, m->output);
  c->cell = m->cell;
  c->proj_size = m->proj_size;
  c->bidirectional = m->num_directions == 2;
  c->peephole = m->peephole;
  c->coupled_gates = m->coupled_gates;
  c->layer_norm = m->layer_norm;
  c->cell_clip = m->cell_clip;
}

gboolean
lstm_model_is_plain (const LstmModel * m)
{
  g_return_val_if_fail (m != NULL, FALSE);
  return m->cell == LSTM_CELL_LSTM && m->proj_size == 0
      && m->num_directions == 1 && !m->peephole && !m->coupled_gates
      && !m->layer_norm && m->cell_clip == 0.0f;
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
  lstm_model_weights_changed (model);
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

/* Every tensor of one direction of a layer (the layer-norm gains and
 * shifts are left as they are: 1 and 0). */
static void
init_layer_random (GRand * rand, const LstmModel * m, LstmLayer * l,
    double bound)
{
  gsize G = l->gate_size;

  fill_uniform (rand, l->weight_ih, G * l->input_size, bound);
  fill_uniform (rand, l->weight_hh, G * l->out_size, bound);
  fill_uniform (rand, l->bias_ih, G, bound);
  fill_uniform (rand, l->bias_hh, G, bound);
  if (l->weight_hr != NULL)
    fill_uniform (rand, l->weight_hr, (gsize) m->proj_size * l->hidden_size,
        bound);
  if (l->peephole != NULL)
    fill_uniform (rand, l->peephole, 3 * (gsize) l->hidden_size, bound);
}

void
lstm_model_init_random (LstmModel * model, guint64 seed)
{
  guint32 seed_words[2] = { (guint32) seed, (guint32) (seed >> 32) };
  GRand *rand;
  /* nn.LSTM / nn.GRU reset_parameters: stdv = 1 / sqrt(hidden_size) for
   * every tensor of every layer (weight_hr included; we use it for the
   * peepholes too). nn.Linear: kaiming_uniform_(a = sqrt(5)) gives
   * bound = sqrt(6 / ((1 + a^2) fan_in)) = 1 / sqrt(fan_in) for the weight,
   * and the bias uses 1 / sqrt(fan_in) too; fan_in is the head's input
   * width (H for a plain LSTM). */
  double bound = 1.0 / sqrt ((double) model->hidden_size);
  double head_bound = 1.0 / sqrt ((double) model->layer_output_size);
  guint k;

  g_return_if_fail (model != NULL);

  rand = g_rand_new_with_seed_array (seed_words, 2);
  for (k = 0; k < model->num_layers * model->num_directions; k++)
    init_layer_random (rand, model, &model->layers[k], bound);
  if (model->head_size > 0) {
    fill_uniform (rand, model->head_weight,
        (gsize) model->head_size * model->layer_output_size, head_bound);
    fill_uniform (rand, model->head_bias, model->head_size, head_bound);
  }
  g_rand_free (rand);
  lstm_model_weights_changed (model);
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
    const gchar *c;
    if (labels[i][0] == '\0' || !g_utf8_validate (labels[i], -1, NULL)) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
          "label %u is empty or not UTF-8", i);
      return FALSE;
    }
    /* a label is one line of text: the text output writes one prediction
     * a line, "label score" */
    for (c = labels[i]; *c != '\0'; c++)
      if ((guchar) * c < 0x20 || *c == 0x7f) {
        g_autofree gchar *shown = g_strescape (labels[i], NULL);
        g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
            "label %u (\"%s\") holds a control character (a newline, a "
            "tab...): a label is one line of text", i, shown);
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
  return model->head_size > 0 ? model->head_size : model->layer_output_size;
}

static gboolean
check_finite_block (const float *p, gsize n, const gchar * what, guint layer,
    GError ** error)
{
  gsize i;
  for (i = 0; p != NULL && i < n; i++) {
    if (!isfinite (p[i])) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_MODEL,
          "%s (layer %u) holds a non-finite value (%g) at element %"
          G_GSIZE_FORMAT, what, layer, p[i], i);
      return FALSE;
    }
  }
  return TRUE;
}

static gboolean
check_finite_layer (const LstmModel * m, const LstmLayer * l, guint k,
    GError ** error)
{
  gsize G = l->gate_size, H = l->hidden_size;

  return check_finite_block (l->weight_ih, G * l->input_size, "weight_ih", k,
      error)
      && check_finite_block (l->weight_hh, G * l->out_size, "weight_hh", k,
      error)
      && check_finite_block (l->bias_ih, G, "bias_ih", k, error)
      && check_finite_block (l->bias_hh, G, "bias_hh", k, error)
      && check_finite_block (l->weight_hr, (gsize) m->proj_size * H,
      "weight_hr", k, error)
      && check_finite_block (l->peephole, 3 * H, "weight_peephole", k, error)
      && check_finite_block (l->ln_ih_weight, G, "layer_norm_ih_weight", k,
      error)
      && check_finite_block (l->ln_ih_bias, G, "layer_norm_ih_bias", k, error)
      && check_finite_block (l->ln_hh_weight, G, "layer_norm_hh_weight", k,
      error)
      && check_finite_block (l->ln_hh_bias, G, "layer_norm_hh_bias", k, error)
      && check_finite_block (l->ln_c_weight, H, "layer_norm_c_weight", k, error)
      && check_finite_block (l->ln_c_bias, H, "layer_norm_c_bias", k, error);
}

gboolean
lstm_model_check_finite (const LstmModel * model, GError ** error)
{
  guint D = model->num_directions, k;

  for (k = 0; k < model->num_layers * D; k++)
    if (!check_finite_layer (model, &model->layers[k], k / D, error))
      return FALSE;
  if (model->head_size > 0
      && (!check_finite_block (model->head_weight,
              (gsize) model->head_size * model->layer_output_size,
              "head weight", 0, error)
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
  LstmModelConfig config;
  GHashTableIter it;
  gpointer key, value;

  g_return_val_if_fail (model != NULL, NULL);

  lstm_model_get_config (model, &config);
  copy = lstm_model_new_full (&config, NULL);
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
