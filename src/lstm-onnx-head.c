/* ONNX import: reading constant inputs, and the linear head (MatMul + Add,
 * or Gemm). See lstm-onnx.c for the walk, lstm-onnx-rnn.c for the layers.
 */
#include "lstm-onnx-private.h"

#include <math.h>
#include <string.h>

const LstmOnnxTensor *
lstm_onnx_constant (const LstmOnnxModel * m, const gchar * value)
{
  const LstmOnnxTensor *t = g_hash_table_lookup (m->init_by_name, value);
  const LstmOnnxNode *n;
  const LstmOnnxAttr *a;

  if (t != NULL)
    return t;
  n = g_hash_table_lookup (m->producer_of, value);
  if (n != NULL && strcmp (n->op_type, "Constant") == 0
      && (a = lstm_onnx_node_attr (n, "value")) != NULL)
    return a->t;
  return NULL;
}

/* Why value is not a constant, and what to do, for an error message:
 * weights that are graph inputs (export_params=False) or computed by
 * other nodes (do_constant_folding=False). */
static gboolean
is_graph_input (const LstmOnnxModel * m, const gchar * value)
{
  guint i;

  for (i = 0; i < m->inputs->len; i++)
    if (g_strcmp0 (m->inputs->pdata[i], value) == 0)
      return TRUE;
  return FALSE;
}

#define NOT_EXPORTED " (it is a graph input: export the weights into the " \
  "file, torch.onnx.export's export_params=True, the default)"

static const gchar *
not_constant_hint (const LstmOnnxModel * m, const gchar * value)
{
  if (is_graph_input (m, value))
    return NOT_EXPORTED;
  if (g_hash_table_lookup (m->producer_of, value) != NULL)
    return " (other nodes compute it: export with constant folding, "
        "torch.onnx.export's do_constant_folding=True, the default)";
  return "";
}

float *
lstm_onnx_input_floats (const LstmOnnxModel * m, const LstmOnnxNode * n,
    guint k, const gchar * what, guint rank, gint64 * dims, GError ** error)
{
  const gchar *v = lstm_onnx_node_input (n, k);
  const LstmOnnxTensor *t;
  g_autofree gchar *label = NULL;

  if (v == NULL) {
    lstm_onnx_refuse (m, n, LSTM_ERROR_MODEL, error, "input %s is missing",
        what);
    return NULL;
  }
  if ((t = lstm_onnx_constant (m, v)) == NULL) {
    lstm_onnx_refuse (m, n, LSTM_ERROR_MODEL, error, "input %s '%s' is not "
        "an initializer or a Constant%s", what, v, not_constant_hint (m, v));
    return NULL;
  }
  if (t->n_dims != rank) {
    lstm_onnx_refuse (m, n, LSTM_ERROR_MODEL, error, "input %s '%s' has %u "
        "dimensions; expected %u", what, v, t->n_dims, rank);
    return NULL;
  }
  memcpy (dims, t->dims, rank * sizeof (gint64));
  label = g_strdup_printf ("input %s of node '%s'", what, n->name);
  return lstm_onnx_tensor_floats (m, t, label, error);
}

/* ------------------------------------------------------------- the head */

static gboolean
take_bias (const LstmOnnxModel * m, LstmOnnxNet * net,
    const LstmOnnxNode * n, const gchar ** next, GError ** error)
{
  const gchar *a = lstm_onnx_node_input (n, 0), *b = lstm_onnx_node_input (n,
      1);
  guint k;
  gint64 dims[LSTM_TENSOR_MAX_DIMS];
  const LstmOnnxTensor *t;

  if (a == NULL || b == NULL || n->inputs->len != 2
      || (lstm_onnx_constant (m, a) == NULL) == (lstm_onnx_constant (m,
              b) == NULL)) {
    /* a weight that is a graph input (not exported), else two computed
     * values (a residual connection, attention, a normalization) */
    const gchar *input = a != NULL && is_graph_input (m, a) ? a :
        b != NULL && is_graph_input (m, b) ? b : NULL;
    if (input != NULL)
      return lstm_onnx_refuse (m, n, LSTM_ERROR_UNSUPPORTED, error,
          "an Add in the head must add a constant bias to a MatMul's "
          "output; '%s' is not a constant" NOT_EXPORTED, input);
    return lstm_onnx_refuse (m, n, LSTM_ERROR_UNSUPPORTED, error,
        "an Add in the head must add a constant bias to a MatMul's output; "
        "this one adds two computed values");
  }
  k = lstm_onnx_constant (m, a) != NULL ? 0 : 1;
  *next = k == 0 ? b : a;
  t = lstm_onnx_constant (m, k == 0 ? a : b);
  if (t->n_dims == 0 || t->dims[t->n_dims - 1] != (gint64) t->n_elements)
    return lstm_onnx_refuse (m, n, LSTM_ERROR_UNSUPPORTED, error,
        "the bias '%s' must be a vector (one value per output)", t->name);
  net->head_bias =
      lstm_onnx_input_floats (m, n, k, "bias", t->n_dims, dims, error);
  net->head_size = t->n_elements;
  return net->head_bias != NULL;
}

static gboolean
all_finite (const float *x, guint64 n)
{
  guint64 i;

  for (i = 0; i < n; i++)
    if (!isfinite (x[i]))
      return FALSE;
  return TRUE;
}

static gboolean
check_gemm_attrs (const LstmOnnxModel * m, const LstmOnnxNode * n,
    float *alpha, float *beta, gboolean * trans_b, GError ** error)
{
  guint i;

  for (i = 0; i < n->attrs->len; i++) {
    const LstmOnnxAttr *a = n->attrs->pdata[i];
    if (strcmp (a->name, "alpha") == 0)
      *alpha = a->f;
    else if (strcmp (a->name, "beta") == 0)
      *beta = a->f;
    else if (strcmp (a->name, "transB") == 0)
      *trans_b = a->i != 0;
    else if (strcmp (a->name, "transA") != 0 || a->i != 0)
      return lstm_onnx_refuse (m, n, LSTM_ERROR_UNSUPPORTED, error,
          "attribute '%s' is not supported%s", a->name,
          strcmp (a->name, "transA") == 0 ? " with a value other than 0" : "");
  }
  if (!isfinite (*alpha) || !isfinite (*beta))
    return lstm_onnx_refuse (m, n, LSTM_ERROR_MODEL, error,
        "attribute alpha or beta is not finite");
  return TRUE;
}

/* y = x B (+ bias), B [in, O]; or with Gemm y = alpha x op(B) + beta C.
 * Ours is nn.Linear's weight [O, in]: B transposed. */
static gboolean
take_weight (const LstmOnnxModel * m, LstmOnnxNet * net,
    const LstmOnnxNode * n, GError ** error)
{
  gboolean gemm = strcmp (n->op_type, "Gemm") == 0, trans_b = FALSE;
  float alpha = 1, beta = 1;
  gint64 d[2], cd[LSTM_TENSOR_MAX_DIMS];
  g_autofree float *B = NULL;
  guint64 in, O, i, j;

  if (gemm && !check_gemm_attrs (m, n, &alpha, &beta, &trans_b, error))
    return FALSE;
  if (!gemm && n->attrs->len > 0)
    return lstm_onnx_refuse (m, n, LSTM_ERROR_UNSUPPORTED, error,
        "attribute '%s' is not supported",
        ((LstmOnnxAttr *) n->attrs->pdata[0])->name);
  if ((B = lstm_onnx_input_floats (m, n, 1, "B", 2, d, error)) == NULL)
    return FALSE;
  in = trans_b ? d[1] : d[0];
  O = trans_b ? d[0] : d[1];
  if (O == 0 || O > LSTM_MAX_HEAD_SIZE || in == 0 || in > 2 *
      LSTM_MAX_HIDDEN_SIZE || (net->head_bias != NULL && O != net->head_size))
    return lstm_onnx_refuse (m, n, LSTM_ERROR_MODEL, error, "weight B is "
        "[%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "]; that is %"
        G_GUINT64_FORMAT " outputs (1 to %u%s)", d[0], d[1], O,
        LSTM_MAX_HEAD_SIZE,
        net->head_bias != NULL ? ", and as many as the bias" : "");
  net->head_size = O;
  net->head_input_size = in;
  net->head_weight = g_new (float, O * in);
  for (i = 0; i < O; i++)
    for (j = 0; j < in; j++)
      net->head_weight[i * in + j] = alpha * (trans_b ? B[i * in + j] :
          B[j * O + i]);
  if (!all_finite (net->head_weight, O * in))
    return lstm_onnx_refuse (m, n, LSTM_ERROR_MODEL, error,
        "alpha (%g) times B is not finite in float32", alpha);
  if (gemm && lstm_onnx_node_input (n, 2) != NULL) {
    const LstmOnnxTensor *c =
        lstm_onnx_constant (m, lstm_onnx_node_input (n, 2));
    if (net->head_bias != NULL)
      return lstm_onnx_refuse (m, n, LSTM_ERROR_UNSUPPORTED, error,
          "a Gemm with a bias C followed by an Add (two biases)");
    if (c == NULL || c->n_dims == 0 || c->n_elements != O
        || c->dims[c->n_dims - 1] != (gint64) O)
      return lstm_onnx_refuse (m, n, LSTM_ERROR_UNSUPPORTED, error,
          "the bias C must be a constant vector of %" G_GUINT64_FORMAT
          " values", O);
    if ((net->head_bias =
            lstm_onnx_input_floats (m, n, 2, "C", c->n_dims, cd,
                error)) == NULL)
      return FALSE;
    for (i = 0; i < O; i++)
      net->head_bias[i] *= beta;
    if (!all_finite (net->head_bias, O))
      return lstm_onnx_refuse (m, n, LSTM_ERROR_MODEL, error,
          "beta (%g) times C is not finite in float32", beta);
  }
  if (net->head_bias == NULL)
    net->head_bias = g_new0 (float, O);
  return TRUE;
}

gboolean
lstm_onnx_take_head (const LstmOnnxModel * m, LstmOnnxNet * net,
    const LstmOnnxNode * n, const gchar ** next, GError ** error)
{
  if (strcmp (n->op_type, "Add") == 0)
    return take_bias (m, net, n, next, error);
  *next = lstm_onnx_node_input (n, 0);
  return take_weight (m, net, n, error);
}
