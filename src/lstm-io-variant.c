/* Model files of the variants: tensor kinds, their shapes, and the
 * metadata keys of the variants PyTorch has no tensor for.
 *
 * Names (one direction of layer k; the backward direction of a
 * bidirectional layer adds `_reverse`, as PyTorch does):
 *   weight_ih_l{k} [G, in_k]   weight_hh_l{k} [G, out]   G = 4H LSTM, 3H GRU
 *   bias_ih_l{k} [G]           bias_hh_l{k} [G]          out = P or H
 *   weight_hr_l{k} [P, H]      nn.LSTM's projection (proj_size = P)
 *   weight_peephole_l{k} [3H]  ours: p_i, p_f, p_o (ONNX's P is i, o, f)
 *   layer_norm_ih_weight_l{k}, layer_norm_ih_bias_l{k} [G]   ours
 *   layer_norm_hh_weight_l{k}, layer_norm_hh_bias_l{k} [G]   ours
 *   layer_norm_c_weight_l{k}, layer_norm_c_bias_l{k} [H]     ours
 * in_0 = the input size, in_k = D * out for k > 0.
 *
 * Metadata: `cell` = lstm | gru (absent: lstm, or GRU inferred from
 * [3H, H] recurrent weights); `coupled-gates` = true | false;
 * `cell-clip` = a decimal float > 0; `bidirectional` = true | false (the
 * tensors decide; `true` without `_reverse` tensors is refused).
 */
#include "lstm-private.h"

#include <math.h>
#include <string.h>

const gchar *const lstm_layer_tensor_names[LSTM_N_LAYER_TENSORS] = {
  "weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr",
  "weight_peephole", "layer_norm_ih_weight", "layer_norm_ih_bias",
  "layer_norm_hh_weight", "layer_norm_hh_bias", "layer_norm_c_weight",
  "layer_norm_c_bias"
};

float *
lstm_layer_tensor (const LstmLayer * l, guint kind)
{
  float *const all[LSTM_N_LAYER_TENSORS] = { l->weight_ih, l->weight_hh,
    l->bias_ih, l->bias_hh, l->weight_hr, l->peephole, l->ln_ih_weight,
    l->ln_ih_bias, l->ln_hh_weight, l->ln_hh_bias, l->ln_c_weight,
    l->ln_c_bias
  };

  g_return_val_if_fail (kind < LSTM_N_LAYER_TENSORS, NULL);
  return all[kind];
}

guint
lstm_layer_tensor_shape (const LstmModelConfig * c, guint k, guint kind,
    guint64 shape[2])
{
  guint64 H = c->hidden_size;
  guint64 G = (c->cell == LSTM_CELL_GRU ? 3 : 4) * H;
  guint64 out = c->proj_size > 0 ? c->proj_size : H;
  guint64 in = k == 0 ? c->input_size : (c->bidirectional ? 2 : 1) * out;

  shape[1] = 0;
  switch (kind) {
    case LSTM_T_WEIGHT_IH:
      shape[0] = G;
      shape[1] = in;
      return 2;
    case LSTM_T_WEIGHT_HH:
      shape[0] = G;
      shape[1] = out;
      return 2;
    case LSTM_T_WEIGHT_HR:
      shape[0] = c->proj_size;
      shape[1] = H;
      return 2;
    case LSTM_T_PEEPHOLE:
      shape[0] = 3 * H;
      return 1;
    case LSTM_T_LN_C_WEIGHT:
    case LSTM_T_LN_C_BIAS:
      shape[0] = H;
      return 1;
    default:                   /* biases, layer norm of the gates */
      shape[0] = G;
      return 1;
  }
}

static gboolean
variant_error (GError ** error, const gchar * file, const gchar * key,
    const gchar * value, const gchar * expected)
{
  g_set_error (error, LSTM_ERROR, LSTM_ERROR_MODEL,
      "%s: metadata '%s' is '%s'; expected %s", file, key, value, expected);
  return FALSE;
}

/* "true" / "false" (absent: FALSE). */
static gboolean
read_flag (GHashTable * metadata, const gchar * file, const gchar * key,
    gboolean * flag, GError ** error)
{
  const gchar *s = g_hash_table_lookup (metadata, key);

  *flag = FALSE;
  if (s == NULL || strcmp (s, "false") == 0)
    return TRUE;
  if (strcmp (s, "true") == 0) {
    *flag = TRUE;
    return TRUE;
  }
  return variant_error (error, file, key, s, "true or false");
}

gboolean
lstm_io_read_variant_metadata (GHashTable * metadata, const gchar * file,
    LstmModelConfig * c, gboolean * cell_given, gboolean * bidirectional,
    GError ** error)
{
  const gchar *s;

  *cell_given = FALSE;
  s = g_hash_table_lookup (metadata, "cell");
  if (s != NULL) {
    if (strcmp (s, "lstm") == 0)
      c->cell = LSTM_CELL_LSTM;
    else if (strcmp (s, "gru") == 0)
      c->cell = LSTM_CELL_GRU;
    else
      return variant_error (error, file, "cell", s, "lstm or gru");
    *cell_given = TRUE;
  }
  if (!read_flag (metadata, file, "coupled-gates", &c->coupled_gates, error)
      || !read_flag (metadata, file, "bidirectional", bidirectional, error))
    return FALSE;
  c->cell_clip = 0.0;
  s = g_hash_table_lookup (metadata, "cell-clip");
  if (s != NULL) {
    gchar *end = NULL;
    double v = g_ascii_strtod (s, &end);
    if (end == s || *end != '\0' || !isfinite (v) || v <= 0.0 || v > G_MAXFLOAT)
      return variant_error (error, file, "cell-clip", s,
          "a positive decimal number");
    c->cell_clip = v;
  }
  return TRUE;
}

void
lstm_io_write_variant_metadata (const LstmModel * m, GHashTable * meta)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

  g_hash_table_remove (meta, "cell");
  g_hash_table_remove (meta, "coupled-gates");
  g_hash_table_remove (meta, "cell-clip");
  g_hash_table_remove (meta, "bidirectional");
  /* A plain LSTM's file stays as it was before the variants existed. */
  if (m->cell == LSTM_CELL_GRU)
    g_hash_table_insert (meta, g_strdup ("cell"), g_strdup ("gru"));
  if (m->coupled_gates)
    g_hash_table_insert (meta, g_strdup ("coupled-gates"), g_strdup ("true"));
  if (m->num_directions == 2)
    g_hash_table_insert (meta, g_strdup ("bidirectional"), g_strdup ("true"));
  if (m->cell_clip > 0.0f) {
    /* nine digits read back as the same float */
    g_ascii_formatd (buf, sizeof (buf), "%.9g", m->cell_clip);
    g_hash_table_insert (meta, g_strdup ("cell-clip"), g_strdup (buf));
  }
}
