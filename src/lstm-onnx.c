/* ONNX import: finds the recurrent network in an ONNX graph and writes it
 * as our model file.
 *
 * The graph is walked backwards from its first output:
 *
 *   output <- [Softmax | Sigmoid] <- [MatMul (+ Add) | Gemm] <- LSTM/GRU
 *          <- LSTM/GRU ... <- graph input
 *
 * with the glue torch.onnx.export puts between them (Squeeze, Unsqueeze,
 * Transpose, Reshape, Identity) passed through. Every other node of the
 * graph must be one of the constant and shape operators that compute the
 * zero initial states; anything else is refused, naming the node.
 * The nodes that carry weights are read in lstm-onnx-rnn.c (LSTM, GRU)
 * and lstm-onnx-head.c (the head); lstm-onnx-write.c writes our file.
 */
#include "lstm-onnx-private.h"

#include <string.h>

static const gchar *const glue_ops[] = {
  "Squeeze", "Unsqueeze", "Transpose", "Reshape", "Identity", NULL
};

/* Nodes allowed off the main path: they compute shapes and the initial
 * states (checked to be zero where they reach an LSTM or GRU). */
static const gchar *const side_ops[] = {
  "Constant", "ConstantOfShape", "Shape", "Gather", "Unsqueeze", "Squeeze",
  "Concat", "Expand", "Slice", "Cast", "Identity", "Reshape", "Transpose",
  NULL
};

static gboolean
is_op (const LstmOnnxNode * n, const gchar * const *ops)
{
  if (*n->domain != '\0' && strcmp (n->domain, "ai.onnx") != 0)
    return FALSE;
  for (; *ops != NULL; ops++)
    if (strcmp (n->op_type, *ops) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
op_is (const LstmOnnxNode * n, const gchar * op)
{
  const gchar *const ops[] = { op, NULL };
  return is_op (n, ops);
}

gboolean
lstm_onnx_refuse (const LstmOnnxModel * m, const LstmOnnxNode * n,
    LstmError code, GError ** error, const gchar * format, ...)
{
  va_list args;
  g_autofree gchar *msg = NULL;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, LSTM_ERROR, code, "%s: node '%s' (%s%s%s): %s",
      m->file, n->name, *n->domain ? n->domain : "", *n->domain ? "." : "",
      n->op_type, msg);
  return FALSE;
}

/* Where the walk is: what may come next, going backwards. */
typedef enum
{ AT_OUTPUT, AT_ACTIVATION, AT_HEAD, AT_RNN } Stage;

typedef struct
{
  const LstmOnnxModel *m;
  LstmOnnxNet *net;
  GHashTable *on_path;          /* LstmOnnxNode* on the main path */
  Stage stage;
  const LstmOnnxNode *activation;
} Walk;

/* The output activation: Softmax over the last axis, or Sigmoid. */
static gboolean
take_activation (Walk * w, const LstmOnnxNode * n, GError ** error)
{
  const LstmOnnxAttr *axis = lstm_onnx_node_attr (n, "axis");
  guint i;

  for (i = 0; i < n->attrs->len; i++) {
    const LstmOnnxAttr *a = n->attrs->pdata[i];
    if (a != axis || op_is (n, "Sigmoid"))
      return lstm_onnx_refuse (w->m, n, LSTM_ERROR_UNSUPPORTED, error,
          "attribute '%s' is not supported", a->name);
  }
  /* the frames are [T, batch, O]: the last axis is -1 or 2; before opset
   * 13 the default axis was 1 */
  if (op_is (n, "Softmax") && (axis != NULL ? axis->i != -1 && axis->i != 2
          : w->m->opset != 0 && w->m->opset < 13))
    return lstm_onnx_refuse (w->m, n, LSTM_ERROR_UNSUPPORTED, error,
        "attribute 'axis' must select the last axis (-1); got %"
        G_GINT64_FORMAT, axis != NULL ? axis->i : 1);
  w->net->output =
      op_is (n, "Softmax") ? LSTM_OUTPUT_SOFTMAX : LSTM_OUTPUT_SIGMOID;
  w->activation = n;
  w->stage = AT_ACTIVATION;
  return TRUE;
}

/* One step of the walk: takes node n, reached through its output `via`,
 * and sets `next` to the value the path continues with (input 0, or the
 * non-constant input of a head's Add). */
static gboolean
step (Walk * w, const LstmOnnxNode * n, const gchar * via,
    const gchar ** next, GError ** error)
{
  *next = lstm_onnx_node_input (n, 0);
  if (is_op (n, glue_ops))
    return TRUE;
  if (w->stage == AT_OUTPUT && (op_is (n, "Softmax") || op_is (n, "Sigmoid")))
    return take_activation (w, n, error);
  /* an Add (the bias) comes before its MatMul, going backwards */
  if ((w->stage <= AT_ACTIVATION || (w->stage == AT_HEAD
              && w->net->head_weight == NULL && !op_is (n, "Add")))
      && (op_is (n, "MatMul") || op_is (n, "Gemm") || op_is (n, "Add"))) {
    w->stage = AT_HEAD;
    return lstm_onnx_take_head (w->m, w->net, n, next, error);
  }
  if (op_is (n, "LSTM") || op_is (n, "GRU")) {
    if (w->stage == AT_HEAD && w->net->head_weight == NULL)
      return lstm_onnx_refuse (w->m, n, LSTM_ERROR_UNSUPPORTED, error,
          "the Add after it must follow a MatMul (a linear head)");
    if (w->stage == AT_ACTIVATION)
      return lstm_onnx_refuse (w->m, w->activation, LSTM_ERROR_UNSUPPORTED,
          error, "an output activation needs a MatMul or Gemm head before "
          "it; here it follows the %s directly", n->op_type);
    if (strcmp (via, n->outputs->pdata[0]) != 0)
      return lstm_onnx_refuse (w->m, n, LSTM_ERROR_UNSUPPORTED, error,
          "the graph uses its output '%s'; only Y (the output of every frame, "
          "output 0) is supported", via);
    w->stage = AT_RNN;
    return lstm_onnx_take_layer (w->m, w->net, n, error);
  }
  if (op_is (n, "Softmax") || op_is (n, "Sigmoid") || op_is (n, "MatMul")
      || op_is (n, "Gemm") || op_is (n, "Add"))
    return lstm_onnx_refuse (w->m, n, LSTM_ERROR_UNSUPPORTED, error,
        "is not supported at this place: the graph must be LSTM/GRU layers, "
        "then an optional MatMul(+Add) or Gemm head, then an optional Softmax "
        "or Sigmoid");
  /* h_n or c_n read through this node (head (h_n[-1]), say) */
  {
    const LstmOnnxNode *rnn = *next != NULL ?
        g_hash_table_lookup (w->m->producer_of, *next) : NULL;
    if (rnn != NULL && (op_is (rnn, "LSTM") || op_is (rnn, "GRU"))
        && strcmp (*next, rnn->outputs->pdata[0]) != 0)
      return lstm_onnx_refuse (w->m, n, LSTM_ERROR_UNSUPPORTED, error,
          "operator %s reads node '%s''s output '%s' (its final state, "
          "Y_h or Y_c); only Y (the output of every frame, output 0) is "
          "supported: apply the head to the LSTM's output (y[-1] is h_n "
          "of the last layer) and run lstm with output-mode=last for one "
          "prediction per sequence", n->op_type, rnn->name, *next);
  }
  return lstm_onnx_refuse (w->m, n, LSTM_ERROR_UNSUPPORTED, error,
      "operator %s is not supported on the path from the input to the output",
      n->op_type);
}

/* A graph with no LSTM or GRU node at all (a Transformer, an MLP): said
 * so, with the operators it has, before the walk trips on one of them. */
static gboolean
check_has_rnn (const LstmOnnxModel * m, GError ** error)
{
  g_autoptr (GString) ops = g_string_new (NULL);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  guint i, listed = 0;

  for (i = 0; i < m->nodes->len; i++) {
    const LstmOnnxNode *n = m->nodes->pdata[i];
    if (op_is (n, "LSTM") || op_is (n, "GRU"))
      return TRUE;
    if (g_hash_table_add (seen, n->op_type) && listed++ < 8)
      g_string_append_printf (ops, "%s%s", ops->len ? ", " : "", n->op_type);
  }
  g_set_error (error, LSTM_ERROR, LSTM_ERROR_UNSUPPORTED, "%s: the graph "
      "has no LSTM or GRU node (its operators: %s%s); only LSTM/GRU "
      "networks, with an optional linear head, are imported", m->file,
      ops->len ? ops->str : "none", listed > 8 ? ", ..." : "");
  return FALSE;
}

static gboolean
walk_back (Walk * w, GError ** error)
{
  const gchar *value = w->m->outputs->pdata[0];
  guint steps, i;

  for (steps = 0; steps <= w->m->nodes->len; steps++) {
    const LstmOnnxNode *n = g_hash_table_lookup (w->m->producer_of, value);
    const gchar *next;

    if (n == NULL)
      break;
    if (g_hash_table_contains (w->on_path, n)) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_FORMAT, "%s: the graph has a "
          "cycle through node '%s'", w->m->file, n->name);
      return FALSE;
    }
    g_hash_table_add (w->on_path, (gpointer) n);
    if (!step (w, n, value, &next, error))
      return FALSE;
    if (next == NULL)
      return lstm_onnx_refuse (w->m, n, LSTM_ERROR_MODEL, error,
          "has no input 0");
    value = next;
  }
  if (w->net->layers->len == 0) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_UNSUPPORTED, "%s: no LSTM or "
        "GRU node on the path from the graph's input to its output '%s'",
        w->m->file, (gchar *) w->m->outputs->pdata[0]);
    return FALSE;
  }
  if (g_hash_table_contains (w->m->init_by_name, value)) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_MODEL, "%s: the first layer's "
        "input '%s' is a constant, not a graph input", w->m->file, value);
    return FALSE;
  }
  /* we met the layers top first */
  for (i = 0; i < w->net->layers->len / 2; i++) {
    gpointer *p = w->net->layers->pdata, t = p[i];
    p[i] = p[w->net->layers->len - 1 - i];
    p[w->net->layers->len - 1 - i] = t;
  }
  return TRUE;
}

/* Every node off the main path must be a constant or shape operator. */
static gboolean
check_side_nodes (const Walk * w, GError ** error)
{
  guint i;

  for (i = 0; i < w->m->nodes->len; i++) {
    const LstmOnnxNode *n = w->m->nodes->pdata[i];
    if (!g_hash_table_contains (w->on_path, n) && !is_op (n, side_ops))
      return lstm_onnx_refuse (w->m, n, LSTM_ERROR_UNSUPPORTED, error,
          "operator %s is not supported (supported: LSTM, GRU, MatMul, Add, "
          "Gemm, Softmax, Sigmoid, and the shape and constant operators "
          "torch.onnx.export adds)", n->op_type);
  }
  return TRUE;
}

GBytes *
lstm_onnx_convert (const guint8 * data, gsize size, const gchar * name,
    GError ** error)
{
  g_autoptr (LstmOnnxModel) m = NULL;
  g_autoptr (GHashTable) on_path = g_hash_table_new (NULL, NULL);
  LstmOnnxNet net = { 0 };
  Walk w = { 0 };
  GBytes *bytes = NULL;

  g_return_val_if_fail (data != NULL || size == 0, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  m = lstm_onnx_model_parse (data, size, name, error);
  if (m == NULL)
    return NULL;
  if (m->outputs->len == 0) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_MODEL, "%s: the graph has no "
        "output", name);
    return NULL;
  }
  net.layers = g_ptr_array_new ();
  net.producer = m->producer;
  w.m = m;
  w.net = &net;
  w.on_path = on_path;
  if (check_has_rnn (m, error) && walk_back (&w, error)
      && check_side_nodes (&w, error)
      && lstm_onnx_check_net (m, &net, error))
    bytes = lstm_onnx_net_write (&net);
  lstm_onnx_net_clear (&net);
  return bytes;
}

gboolean
lstm_onnx_is_onnx_name (const gchar * path)
{
  gsize n = strlen (path);

  return n >= 5 && g_ascii_strcasecmp (path + n - 5, ".onnx") == 0;
}

LstmModel *
lstm_model_load_onnx (const gchar * path, GError ** error)
{
  g_autofree gchar *contents = NULL;
  g_autoptr (GError) err = NULL;
  g_autoptr (GBytes) bytes = NULL;
  gsize size;
  const guint8 *out;

  g_return_val_if_fail (path != NULL, NULL);

  if (!g_file_get_contents (path, &contents, &size, &err)) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_IO, "%s", err->message);
    return NULL;
  }
  bytes = lstm_onnx_convert ((const guint8 *) contents, size, path, error);
  if (bytes == NULL)
    return NULL;
  out = g_bytes_get_data (bytes, &size);
  return lstm_model_load_from_data (out, size, path, error);
}
