/* Model files: safetensors with PyTorch's nn.LSTM / nn.Linear names.
 *
 * Loading maps tensor names to the model: `<prefix>weight_ih_l{k}` and its
 * three siblings for every layer k (one prefix shared by all of them, which
 * may be empty), a head `<p>weight` [O, H] + `<p>bias` [O], and optional
 * `input_mean` / `input_std` [input_size]. Every size is checked against the
 * others before anything is allocated.
 */
#include "lstm-private.h"

#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>

#define T_WEIGHT_IH LSTM_T_WEIGHT_IH
#define T_WEIGHT_HH LSTM_T_WEIGHT_HH
#define N_BASE_TENSORS 4        /* weight_ih, weight_hh, bias_ih, bias_hh */
#define N_LAYER_TENSORS LSTM_N_LAYER_TENSORS
#define layer_tensor_names lstm_layer_tensor_names

/* What the names of a file say; tensors borrowed from the LstmTensorFile. */
typedef struct
{
  gchar *prefix;                /* LSTM prefix, "" for a bare nn.LSTM */
  GPtrArray *layers;            /* [L] of LstmTensor *[2 * N_LAYER_TENSORS],
                                 * direction d's at d * N_LAYER_TENSORS */
  guint n_directions;           /* 2 when a `_reverse` tensor is there */
  gboolean has[N_LAYER_TENSORS];        /* some layer has that kind */
  const LstmTensor *head_weight, *head_bias;
  const LstmTensor *mean, *std;
} Layout;

static void
layout_clear (Layout * lay)
{
  g_free (lay->prefix);
  if (lay->layers != NULL)
    g_ptr_array_unref (lay->layers);
}

/* *INDENT-OFF* */
static gboolean
model_error (GError ** error, LstmError code, const gchar * file,
    const gchar * format, ...)
G_GNUC_PRINTF (4, 5);
/* *INDENT-ON* */

static gboolean
model_error (GError ** error, LstmError code, const gchar * file,
    const gchar * format, ...)
{
  va_list args;
  gchar *msg;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, LSTM_ERROR, code, "%s: %s", file, msg);
  g_free (msg);
  return FALSE;
}

/* Splits "<prefix><kind>_l<k>[suffix]" into its parts. Returns the tensor
 * kind index (lstm_layer_tensor_names), or -1. */
static gint
parse_layer_name (const gchar * name, gsize * prefix_len, guint64 * layer,
    const gchar ** suffix)
{
  guint i;

  for (i = 0; i < N_LAYER_TENSORS; i++) {
    g_autofree gchar *kind = g_strconcat (layer_tensor_names[i], "_l", NULL);
    const gchar *at = strstr (name, kind);
    const gchar *digits;
    gchar *end;

    /* the last occurrence, so a prefix may contain the word itself */
    while (at != NULL && strstr (at + 1, kind) != NULL)
      at = strstr (at + 1, kind);
    if (at == NULL)
      continue;
    if (at != name && at[-1] != '.')
      continue;                 /* "foo_weight_ih_l0" is not ours */
    digits = at + strlen (kind);
    if (!g_ascii_isdigit (digits[0]))
      continue;
    *layer = g_ascii_strtoull (digits, &end, 10);
    *prefix_len = at - name;
    *suffix = end;
    return i;
  }
  return -1;
}

static gboolean
ends_with_component (const gchar * name, const gchar * last)
{
  gsize n = strlen (name), m = strlen (last);
  return n >= m && strcmp (name + n - m, last) == 0
      && (n == m || name[n - m - 1] == '.');
}

static gboolean
classify_lstm_tensor (Layout * lay, const LstmTensorFile * f,
    const LstmTensor * t, GError ** error)
{
  gsize prefix_len;
  guint64 k;
  const gchar *suffix;
  gint kind = parse_layer_name (t->name, &prefix_len, &k, &suffix);
  const LstmTensor **slots;

  guint d = 0;

  if (kind < 0)
    return TRUE;                /* not an LSTM tensor; the caller looks again */
  if (strcmp (suffix, "_reverse") == 0) {
    d = 1;
    lay->n_directions = 2;
  } else if (*suffix != '\0')
    return model_error (error, LSTM_ERROR_MODEL, f->name,
        "tensor '%s' looks like an LSTM tensor but its name ends in '%s'",
        t->name, suffix);
  if (k >= LSTM_MAX_LAYERS)
    return model_error (error, LSTM_ERROR_MODEL, f->name,
        "tensor '%s' names layer %" G_GUINT64_FORMAT "; at most %u layers are "
        "supported", t->name, k, LSTM_MAX_LAYERS);
  if (lay->prefix == NULL)
    lay->prefix = g_strndup (t->name, prefix_len);
  else if (strlen (lay->prefix) != prefix_len
      || strncmp (lay->prefix, t->name, prefix_len) != 0)
    return model_error (error, LSTM_ERROR_MODEL, f->name,
        "LSTM tensors under two prefixes, '%s' and '%.*s' (tensor '%s'); one "
        "file holds one LSTM", lay->prefix, (int) prefix_len, t->name, t->name);

  while (lay->layers->len <= k)
    g_ptr_array_add (lay->layers, g_new0 (const LstmTensor *,
            2 * N_LAYER_TENSORS));
  slots = (const LstmTensor **) lay->layers->pdata[k] + d * N_LAYER_TENSORS;
  /* "weight_ih_l1" and "weight_ih_l01" both name layer 1 */
  if (slots[kind] != NULL)
    return model_error (error, LSTM_ERROR_MODEL, f->name,
        "tensors '%s' and '%s' are both %s%s of layer %" G_GUINT64_FORMAT,
        slots[kind]->name, t->name, layer_tensor_names[kind],
        d == 1 ? "_reverse" : "", k);
  slots[kind] = t;
  lay->has[kind] = TRUE;
  return TRUE;
}

/* Everything that is not an LSTM tensor: normalization or the head. */
static gboolean
classify_other_tensor (Layout * lay, const LstmTensorFile * f,
    const LstmTensor * t, GHashTable * seen, GError ** error)
{
  const LstmTensor **stat = NULL;

  if (ends_with_component (t->name, "input_mean"))
    stat = &lay->mean;
  else if (ends_with_component (t->name, "input_std"))
    stat = &lay->std;
  if (stat != NULL) {
    if (*stat != NULL)
      return model_error (error, LSTM_ERROR_MODEL, f->name,
          "two normalization tensors, '%s' and '%s'", (*stat)->name, t->name);
    *stat = t;
    return TRUE;
  }
  if (ends_with_component (t->name, "weight") && t->n_dims == 2) {
    g_autofree gchar *bias = g_strdup_printf ("%.*sbias",
        (int) (strlen (t->name) - strlen ("weight")), t->name);
    /* no bias: nn.Linear (bias=False), zeros */
    const LstmTensor *b = g_hash_table_lookup (f->by_name, bias);

    if (lay->head_weight != NULL)
      return model_error (error, LSTM_ERROR_UNSUPPORTED, f->name,
          "two head layers, '%s' and '%s'; one linear head is supported",
          lay->head_weight->name, t->name);
    lay->head_weight = t;
    lay->head_bias = b;
    if (b != NULL)
      g_hash_table_add (seen, (gpointer) b);
    return TRUE;
  }
  return model_error (error, LSTM_ERROR_MODEL, f->name,
      "unexpected tensor '%s'; a model holds nn.LSTM tensors, one nn.Linear "
      "head (weight and bias), input_mean and input_std", t->name);
}

/* The weights always; the biases unless no layer has any (nn.LSTM
 * (bias=False): zeros, as PyTorch computes without them); layer norm's
 * six tensors come together: one present means all. */
static gboolean
layout_needs (const Layout * lay, guint kind)
{
  if (kind == LSTM_T_BIAS_IH || kind == LSTM_T_BIAS_HH)
    return lay->has[LSTM_T_BIAS_IH] || lay->has[LSTM_T_BIAS_HH];
  if (kind < N_BASE_TENSORS)
    return TRUE;
  if (kind >= LSTM_T_LN_IH_WEIGHT) {
    guint j;
    for (j = LSTM_T_LN_IH_WEIGHT; j < N_LAYER_TENSORS; j++)
      if (lay->has[j])
        return TRUE;
    return FALSE;
  }
  return lay->has[kind];
}

/* Every direction of layer k has every tensor the file's variant needs:
 * a `_reverse` tensor anywhere makes every layer bidirectional, a
 * projection, peephole or layer-norm tensor anywhere makes every layer
 * have it. */
static gboolean
check_layer_complete (Layout * lay, const LstmTensorFile * f, guint k,
    GHashTable * seen, GError ** error)
{
  const LstmTensor **slots = lay->layers->pdata[k];
  guint d, i;

  for (d = 0; d < lay->n_directions; d++) {
    for (i = 0; i < N_LAYER_TENSORS; i++) {
      const LstmTensor *t = slots[d * N_LAYER_TENSORS + i];
      if (t == NULL && layout_needs (lay, i))
        return model_error (error, LSTM_ERROR_MODEL, f->name,
            "missing tensor '%s%s_l%u%s'%s", lay->prefix,
            layer_tensor_names[i], k, d == 1 ? "_reverse" : "",
            d == 1 ? " (the model is bidirectional: a '_reverse' tensor is "
            "present)" : i >= N_BASE_TENSORS ? " (another layer has it)" : "");
      if (t != NULL)
        g_hash_table_add (seen, (gpointer) t);
    }
  }
  return TRUE;
}

static gboolean
find_layout (Layout * lay, const LstmTensorFile * f, GError ** error)
{
  g_autoptr (GHashTable) seen = g_hash_table_new (NULL, NULL);
  guint i, k;

  lay->layers = g_ptr_array_new_with_free_func (g_free);
  lay->n_directions = 1;
  for (i = 0; i < f->tensors->len; i++)
    if (!classify_lstm_tensor (lay, f, f->tensors->pdata[i], error))
      return FALSE;
  for (k = 0; k < lay->layers->len; k++)
    if (!check_layer_complete (lay, f, k, seen, error))
      return FALSE;
  if (lay->layers->len == 0)
    return model_error (error, LSTM_ERROR_MODEL, f->name,
        "no LSTM tensors (expected names like 'weight_ih_l0', "
        "'lstm.weight_hh_l0')");
  /* Heads first, so a bias is claimed by its weight, whatever the order. */
  for (i = 0; i < f->tensors->len; i++) {
    const LstmTensor *t = f->tensors->pdata[i];
    if (!g_hash_table_contains (seen, t) && ends_with_component (t->name,
            "weight") && !classify_other_tensor (lay, f, t, seen, error))
      return FALSE;
  }
  for (i = 0; i < f->tensors->len; i++) {
    const LstmTensor *t = f->tensors->pdata[i];
    if (!g_hash_table_contains (seen, t) && t != lay->head_weight
        && !classify_other_tensor (lay, f, t, seen, error))
      return FALSE;
  }
  if ((lay->mean == NULL) != (lay->std == NULL))
    return model_error (error, LSTM_ERROR_MODEL, f->name,
        "%s is present but %s is missing", lay->mean ? "input_mean" :
        "input_std", lay->mean ? "input_std" : "input_mean");
  return TRUE;
}

/* The tensor must have exactly this shape (n_dims 1 or 2). */
static gboolean
expect_shape (const LstmTensorFile * f, const LstmTensor * t, guint n_dims,
    guint64 d0, guint64 d1, const gchar * why, GError ** error)
{
  g_autofree gchar *got = NULL;

  if (t->n_dims == n_dims && t->shape[0] == d0
      && (n_dims == 1 || t->shape[1] == d1))
    return TRUE;
  got = lstm_tensor_shape_string (t);
  if (n_dims == 1)
    return model_error (error, LSTM_ERROR_MODEL, f->name,
        "tensor '%s' has shape %s; expected [%" G_GUINT64_FORMAT "]%s",
        t->name, got, d0, why);
  return model_error (error, LSTM_ERROR_MODEL, f->name,
      "tensor '%s' has shape %s; expected [%" G_GUINT64_FORMAT ", %"
      G_GUINT64_FORMAT "]%s", t->name, got, d0, d1, why);
}

/* The hidden size and the cell from layer 0: with a projection weight_hr
 * is [P, H]; else weight_hh is [4H, H] (LSTM) or [3H, H] (GRU), which
 * names the cell when the metadata does not. */
static gboolean
read_hidden (const Layout * lay, const LstmTensorFile * f, gboolean cell_given,
    LstmModelConfig * c, GError ** error)
{
  const LstmTensor **l0 = lay->layers->pdata[0];
  const LstmTensor *hh = l0[T_WEIGHT_HH], *hr = l0[LSTM_T_WEIGHT_HR];
  g_autofree gchar *got = NULL;

  if (hr != NULL) {
    if (hr->n_dims == 2 && hr->shape[1] > 0
        && hr->shape[1] <= LSTM_MAX_HIDDEN_SIZE && hr->shape[0] > 0
        && hr->shape[0] < hr->shape[1]) {
      c->hidden_size = hr->shape[1];
      c->proj_size = hr->shape[0];
      return TRUE;
    }
    got = lstm_tensor_shape_string (hr);
    return model_error (error, LSTM_ERROR_MODEL, f->name,
        "tensor '%s' has shape %s; expected [P, H] with P < H and H from 1 "
        "to %u", hr->name, got, LSTM_MAX_HIDDEN_SIZE);
  }
  if (hh->n_dims == 2 && hh->shape[1] > 0
      && hh->shape[1] <= LSTM_MAX_HIDDEN_SIZE) {
    if (!cell_given && hh->shape[0] == 3 * hh->shape[1])
      c->cell = LSTM_CELL_GRU;
    if (hh->shape[0] == (c->cell == LSTM_CELL_GRU ? 3 : 4) * hh->shape[1]) {
      c->hidden_size = hh->shape[1];
      return TRUE;
    }
  }
  got = lstm_tensor_shape_string (hh);
  return model_error (error, LSTM_ERROR_MODEL, f->name,
      "tensor '%s' has shape %s; expected [%s, H] with H from 1 to %u%s",
      hh->name, got, c->cell == LSTM_CELL_GRU ? "3H" : "4H",
      LSTM_MAX_HIDDEN_SIZE, c->cell == LSTM_CELL_GRU ?
      " (metadata 'cell' is 'gru')" : cell_given ? "" : " (or [3H, H], a GRU)");
}

/* The model's shape from the names, layer 0's shapes and the metadata. */
static gboolean
read_config (const Layout * lay, const LstmTensorFile * f,
    LstmModelConfig * c, GError ** error)
{
  const LstmTensor *ih = ((const LstmTensor **) lay->layers->pdata[0])
      [T_WEIGHT_IH];
  g_autoptr (GError) err = NULL;
  gboolean cell_given, bidirectional;

  lstm_model_config_init (c, 1, 1, lay->layers->len, 0, LSTM_OUTPUT_IDENTITY);
  if (!lstm_io_read_variant_metadata (f->metadata, f->name, c, &cell_given,
          &bidirectional, error)
      || !read_hidden (lay, f, cell_given, c, error))
    return FALSE;
  if (ih->n_dims != 2 || ih->shape[1] == 0
      || ih->shape[1] > LSTM_MAX_INPUT_SIZE) {
    g_autofree gchar *got = lstm_tensor_shape_string (ih);
    return model_error (error, LSTM_ERROR_MODEL, f->name,
        "tensor '%s' has shape %s; expected [%u, input size] with an input "
        "size from 1 to %u", ih->name, got,
        (c->cell == LSTM_CELL_GRU ? 3 : 4) * c->hidden_size,
        LSTM_MAX_INPUT_SIZE);
  }
  c->input_size = ih->shape[1];
  c->bidirectional = lay->n_directions == 2;
  if (bidirectional && !c->bidirectional)
    return model_error (error, LSTM_ERROR_MODEL, f->name,
        "metadata 'bidirectional' is 'true' but there is no '_reverse' "
        "tensor (missing '%sweight_ih_l0_reverse')", lay->prefix);
  c->peephole = lay->has[LSTM_T_PEEPHOLE];
  c->layer_norm = lay->has[LSTM_T_LN_IH_WEIGHT];
  if (lay->head_weight != NULL) {
    guint64 O = lay->head_weight->shape[0];
    if (O == 0 || O > LSTM_MAX_HEAD_SIZE)
      return model_error (error, LSTM_ERROR_MODEL, f->name,
          "head '%s' has %" G_GUINT64_FORMAT " outputs; 1 to %u are supported",
          lay->head_weight->name, O, LSTM_MAX_HEAD_SIZE);
    c->head_size = O;
  }
  if (!lstm_model_config_validate (c, &err))
    return model_error (error, LSTM_ERROR_MODEL, f->name, "%s", err->message);
  return TRUE;
}

/* Every tensor against the shape the config gives it. */
static gboolean
check_shapes (const Layout * lay, const LstmTensorFile * f,
    const LstmModelConfig * c, GError ** error)
{
  guint64 W = (c->bidirectional ? 2 : 1) *
      (guint64) (c->proj_size > 0 ? c->proj_size : c->hidden_size);
  guint k, i;

  for (k = 0; k < lay->layers->len; k++) {
    const LstmTensor **t = lay->layers->pdata[k];
    g_autofree gchar *why = k == 0 ? g_strdup ("") :
        g_strdup_printf (" (layer %u takes the %" G_GUINT64_FORMAT
        " outputs of layer %u)", k, W, k - 1);
    for (i = 0; i < 2 * N_LAYER_TENSORS; i++) {
      guint64 shape[2];
      guint n_dims;

      if (t[i] == NULL)
        continue;
      n_dims = lstm_layer_tensor_shape (c, k, i % N_LAYER_TENSORS, shape);
      if (!expect_shape (f, t[i], n_dims, shape[0], shape[1],
              i % N_LAYER_TENSORS == T_WEIGHT_IH ? why : "", error))
        return FALSE;
    }
  }
  if (lay->head_weight != NULL
      && (!expect_shape (f, lay->head_weight, 2, c->head_size, W,
              " (the head takes the top layer's h)", error)
          || (lay->head_bias != NULL && !expect_shape (f, lay->head_bias, 1,
                  c->head_size, 0, "", error))))
    return FALSE;
  if (lay->mean != NULL
      && (!expect_shape (f, lay->mean, 1, c->input_size, 0,
              " (one per input feature)", error)
          || !expect_shape (f, lay->std, 1, c->input_size, 0,
              " (one per input feature)", error)))
    return FALSE;
  return TRUE;
}

/* Every tensor the model uses must hold floats; checked before the model
 * is allocated (an I8 file would otherwise cost four times its size). */
static gboolean
check_dtypes (const Layout * lay, const LstmTensorFile * f, GError ** error)
{
  g_autoptr (GPtrArray) used = g_ptr_array_new ();
  guint i, k;

  for (k = 0; k < lay->layers->len; k++)
    for (i = 0; i < 2 * N_LAYER_TENSORS; i++)
      g_ptr_array_add (used, ((gpointer *) lay->layers->pdata[k])[i]);
  g_ptr_array_add (used, (gpointer) lay->head_weight);
  g_ptr_array_add (used, (gpointer) lay->head_bias);
  g_ptr_array_add (used, (gpointer) lay->mean);
  g_ptr_array_add (used, (gpointer) lay->std);
  for (i = 0; i < used->len; i++) {
    const LstmTensor *t = used->pdata[i];
    if (t != NULL && t->dtype == LSTM_DTYPE_OTHER)
      return model_error (error, LSTM_ERROR_UNSUPPORTED, f->name,
          "tensor '%s' has dtype %s; only F32, F16, BF16 and F64 are "
          "supported", t->name, t->dtype_name);
  }
  return TRUE;
}

static gboolean
parse_labels (LstmModel * m, const LstmTensorFile * f, const gchar * json,
    GError ** error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GPtrArray) labels = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) err = NULL;
  JsonNode *root;
  JsonArray *arr;
  gsize at;
  guint i;

  /* json-glib gives no root for a blank string, and recurses per level. */
  if (lstm_json_prescan (json, strlen (json), &at) != NULL
      || !json_parser_load_from_data (parser, json, -1, NULL)
      || (root = json_parser_get_root (parser)) == NULL
      || !JSON_NODE_HOLDS_ARRAY (root))
    return model_error (error, LSTM_ERROR_MODEL, f->name,
        "metadata 'labels' is not a JSON list of strings");
  arr = json_node_get_array (root);
  for (i = 0; i < json_array_get_length (arr); i++) {
    JsonNode *n = json_array_get_element (arr, i);
    if (!JSON_NODE_HOLDS_VALUE (n)
        || json_node_get_value_type (n) != G_TYPE_STRING)
      return model_error (error, LSTM_ERROR_MODEL, f->name,
          "metadata 'labels' entry %u is not a string", i);
    g_ptr_array_add (labels, g_strdup (json_node_get_string (n)));
  }
  g_ptr_array_add (labels, NULL);
  if (m->head_size == 0)
    return model_error (error, LSTM_ERROR_MODEL, f->name,
        "metadata 'labels' given but the model has no head");
  if (!lstm_model_set_labels (m, (const gchar * const *) labels->pdata, &err))
    return model_error (error, LSTM_ERROR_MODEL, f->name,
        "metadata 'labels': %s", err->message);
  return TRUE;
}

static gboolean
apply_metadata (LstmModel * m, const LstmTensorFile * f, GError ** error)
{
  GHashTableIter it;
  gpointer key, value;
  const gchar *s;

  g_hash_table_iter_init (&it, f->metadata);
  while (g_hash_table_iter_next (&it, &key, &value))
    lstm_model_set_metadata (m, key, value);

  s = g_hash_table_lookup (f->metadata, "output");
  if (s != NULL && !lstm_output_from_string (s, &m->output))
    return model_error (error, LSTM_ERROR_MODEL, f->name,
        "metadata 'output' is '%s'; expected softmax, sigmoid or identity", s);
  s = g_hash_table_lookup (f->metadata, "labels");
  if (s != NULL && !parse_labels (m, f, s, error))
    return FALSE;
  return TRUE;
}

static gboolean
fill_weights (LstmModel * m, const Layout * lay, const LstmTensorFile * f,
    GError ** error)
{
  guint D = m->num_directions, k, i;

  for (k = 0; k < m->num_layers; k++) {
    const LstmTensor **t = lay->layers->pdata[k];
    for (i = 0; i < D * N_LAYER_TENSORS; i++) {
      const LstmLayer *l = &m->layers[k * D + i / N_LAYER_TENSORS];
      if (t[i] != NULL && !lstm_tensor_to_f32 (f, t[i],
              lstm_layer_tensor (l, i % N_LAYER_TENSORS), error))
        return FALSE;
    }
  }
  if (m->head_size > 0
      && (!lstm_tensor_to_f32 (f, lay->head_weight, m->head_weight, error)
          || (lay->head_bias != NULL
              && !lstm_tensor_to_f32 (f, lay->head_bias, m->head_bias,
                  error))))
    return FALSE;
  if (lay->mean != NULL) {
    g_autofree float *mean = g_new (float, m->input_size);
    g_autofree float *std = g_new (float, m->input_size);
    if (!lstm_tensor_to_f32 (f, lay->mean, mean, error)
        || !lstm_tensor_to_f32 (f, lay->std, std, error))
      return FALSE;
    g_autoptr (GError) err = NULL;
    if (!lstm_model_set_normalization (m, mean, std, &err))
      return model_error (error, LSTM_ERROR_MODEL, f->name, "%s", err->message);
  }
  return TRUE;
}

LstmModel *
lstm_model_load_from_data (const guint8 * data, gsize size,
    const gchar * name, GError ** error)
{
  g_autoptr (LstmTensorFile) f = NULL;
  g_autoptr (LstmModel) m = NULL;
  Layout lay = { 0 };
  LstmModelConfig config;
  gboolean ok;

  g_return_val_if_fail (data != NULL || size == 0, NULL);

  f = lstm_safetensors_parse (data, size, name, error);
  if (f == NULL)
    return NULL;
  ok = find_layout (&lay, f, error)
      && read_config (&lay, f, &config, error)
      && check_shapes (&lay, f, &config, error)
      && check_dtypes (&lay, f, error);
  if (ok) {
    m = lstm_model_new_full (&config, error);
    ok = m != NULL && apply_metadata (m, f, error)
        && fill_weights (m, &lay, f, error);
  }
  layout_clear (&lay);
  return ok ? g_steal_pointer (&m) : NULL;
}

LstmModel *
lstm_model_load (const gchar * path, GError ** error)
{
  g_autofree gchar *contents = NULL;
  g_autoptr (GError) err = NULL;
  LstmModel *m;
  gsize size;

  g_return_val_if_fail (path != NULL, NULL);

  if (lstm_onnx_is_onnx_name (path))
    return lstm_model_load_onnx (path, error);
  if (!g_file_get_contents (path, &contents, &size, &err)) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_IO, "%s", err->message);
    return NULL;
  }
  m = lstm_model_load_from_data ((const guint8 *) contents, size, path, &err);
  if (m == NULL && err->code == LSTM_ERROR_FORMAT) {
    /* an ONNX file under another name: the name chooses the reader */
    g_autoptr (GError) ignored = NULL;
    g_autoptr (GBytes) onnx = lstm_onnx_convert ((const guint8 *) contents,
        size, path, &ignored);
    if (onnx != NULL) {
      g_set_error (error, err->domain, err->code, "%s (the file is an ONNX "
          "model: name it .onnx, or convert it with lstm-onnx-import)",
          err->message);
      return NULL;
    }
  }
  if (m == NULL)
    g_propagate_error (error, g_steal_pointer (&err));
  return m;
}

static gchar *
labels_to_json (gchar ** labels)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_array (b);
  for (; *labels != NULL; labels++)
    json_builder_add_string_value (b, *labels);
  json_builder_end_array (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}

GBytes *
lstm_model_save_to_bytes (const LstmModel * model)
{
  g_autoptr (GArray) out = g_array_new (FALSE, TRUE, sizeof (LstmTensorOut));
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GHashTable) meta = NULL;
  GHashTableIter it;
  gpointer key, value;
  LstmModelConfig config;
  guint D = model->num_directions, k, i;

  g_return_val_if_fail (model != NULL, NULL);

  lstm_model_get_config (model, &config);
  for (k = 0; k < model->num_layers * D; k++) {
    const LstmLayer *l = &model->layers[k];
    for (i = 0; i < N_LAYER_TENSORS; i++) {
      LstmTensorOut t = { 0 };
      gchar *name;

      t.data = lstm_layer_tensor (l, i);
      if (t.data == NULL)
        continue;
      name = g_strdup_printf ("lstm.%s_l%u%s", layer_tensor_names[i], k / D,
          l->direction == 1 ? "_reverse" : "");
      g_ptr_array_add (names, name);
      t.name = name;
      t.n_dims = lstm_layer_tensor_shape (&config, k / D, i, t.shape);
      g_array_append_val (out, t);
    }
  }
  if (model->head_size > 0) {
    LstmTensorOut w = { "head.weight", 2, {model->head_size,
        model->layer_output_size}, model->head_weight
    };
    LstmTensorOut b = { "head.bias", 1, {model->head_size}, model->head_bias };
    g_array_append_val (out, w);
    g_array_append_val (out, b);
  }
  if (model->input_mean != NULL) {
    LstmTensorOut mean = { "input_mean", 1, {model->input_size},
    model->input_mean
    };
    LstmTensorOut std = { "input_std", 1, {model->input_size},
    model->input_std
    };
    g_array_append_val (out, mean);
    g_array_append_val (out, std);
  }

  meta = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_iter_init (&it, model->metadata);
  while (g_hash_table_iter_next (&it, &key, &value))
    g_hash_table_insert (meta, g_strdup (key), g_strdup (value));
  g_hash_table_remove (meta, "output");
  g_hash_table_remove (meta, "labels");
  if (model->head_size > 0)
    g_hash_table_insert (meta, g_strdup ("output"),
        g_strdup (lstm_output_to_string (model->output)));
  if (model->labels != NULL)
    g_hash_table_insert (meta, g_strdup ("labels"),
        labels_to_json (model->labels));
  lstm_io_write_variant_metadata (model, meta);

  return lstm_safetensors_write ((LstmTensorOut *) out->data, out->len, meta);
}

gboolean
lstm_model_save (const LstmModel * model, const gchar * path, GError ** error)
{
  g_autoptr (GBytes) bytes = NULL;
  gsize size;
  const gchar *data;

  g_return_val_if_fail (model != NULL && path != NULL, FALSE);

  bytes = lstm_model_save_to_bytes (model);
  data = g_bytes_get_data (bytes, &size);
  return lstm_file_replace (path, data, size, error);
}

gboolean
lstm_model_check_save_path (const gchar * path, GError ** error)
{
  g_return_val_if_fail (path != NULL, FALSE);

  return lstm_file_check_replaceable (path, error);
}
