/* ONNX import: LSTM and GRU nodes. Their attributes (what we can run, the
 * rest refused by name), the weight inputs W, R, B, P, and the initial
 * states, which must be zero (our element starts every sequence from zero
 * state and then carries it).
 *
 * LSTM inputs: X, W, R, B, sequence_lens, initial_h, initial_c, P.
 * GRU inputs:  X, W, R, B, sequence_lens, initial_h.
 */
#include "lstm-onnx-private.h"

#include <math.h>
#include <string.h>

/* What one node asks for, read off its attributes. */
typedef struct
{
  gboolean gru;
  guint dirs;
  gint64 hidden_size;           /* 0 when not given */
  float clip;                   /* 0: none */
  gboolean input_forget;
} Attrs;

static gboolean
check_activations (const LstmOnnxModel * m, const LstmOnnxNode * n,
    const LstmOnnxAttr * a, const Attrs * at, GError ** error)
{
  /* the defaults: f = Sigmoid, g = h = Tanh (LSTM); f = Sigmoid, g = Tanh
   * (GRU); one list per direction */
  static const gchar *const lstm_acts[] = { "Sigmoid", "Tanh", "Tanh" };
  guint per = at->gru ? 2 : 3, i;

  if (a->strings->len != per * at->dirs)
    return lstm_onnx_refuse (m, n, LSTM_ERROR_UNSUPPORTED, error,
        "attribute 'activations' lists %u functions; expected %u",
        a->strings->len, per * at->dirs);
  for (i = 0; i < a->strings->len; i++) {
    const gchar *s = a->strings->pdata[i];
    if (s == NULL || g_ascii_strcasecmp (s, lstm_acts[i % per]) != 0)
      return lstm_onnx_refuse (m, n, LSTM_ERROR_UNSUPPORTED, error,
          "attribute 'activations': activation %u is '%s'; only the defaults "
          "(%s) are supported", i, s ? s : "(not text)",
          at->gru ? "Sigmoid, Tanh" : "Sigmoid, Tanh, Tanh");
  }
  return TRUE;
}

static gboolean
read_attr (const LstmOnnxModel * m, const LstmOnnxNode * n,
    const LstmOnnxAttr * a, Attrs * at, GError ** error)
{
  const gchar *name = a->name;

  if (strcmp (name, "hidden_size") == 0)
    at->hidden_size = a->i;
  else if (strcmp (name, "direction") == 0) {
    if (g_strcmp0 (a->s, "bidirectional") == 0)
      at->dirs = 2;
    else if (g_strcmp0 (a->s, "forward") != 0)
      return lstm_onnx_refuse (m, n, LSTM_ERROR_UNSUPPORTED, error,
          "attribute 'direction' is '%s'; forward and bidirectional are "
          "supported", a->s ? a->s : "(not text)");
  } else if (strcmp (name, "activations") == 0)
    return check_activations (m, n, a, at, error);
  else if ((strcmp (name, "activation_alpha") == 0
          || strcmp (name, "activation_beta") == 0) && a->floats->len == 0)
    return TRUE;                /* only used by non-default activations */
  else if (strcmp (name, "clip") == 0) {
    if (!(a->f > 0) || !isfinite (a->f))
      return lstm_onnx_refuse (m, n, LSTM_ERROR_MODEL, error,
          "attribute 'clip' is %g; it must be finite and > 0", a->f);
    at->clip = a->f;
  } else if (strcmp (name, "layout") == 0 && (a->i == 0 || a->i == 1))
    return TRUE;                /* batch-major or time-major X: same weights */
  else if (!at->gru && strcmp (name, "input_forget") == 0
      && (a->i == 0 || a->i == 1))
    at->input_forget = a->i == 1;
  else if (at->gru && strcmp (name, "linear_before_reset") == 0) {
    if (a->i != 1)
      return lstm_onnx_refuse (m, n, LSTM_ERROR_UNSUPPORTED, error,
          "attribute 'linear_before_reset' is %" G_GINT64_FORMAT "; only 1 "
          "(PyTorch's GRU: r multiplies (R_h h + Rb_h)) is supported", a->i);
  } else if (a->type == LSTM_ONNX_ATTR_INT)
    return lstm_onnx_refuse (m, n, LSTM_ERROR_UNSUPPORTED, error,
        "attribute '%s' = %" G_GINT64_FORMAT " is not supported", name, a->i);
  else
    return lstm_onnx_refuse (m, n, LSTM_ERROR_UNSUPPORTED, error,
        "attribute '%s' is not supported", name);
  return TRUE;
}

static gboolean
read_attrs (const LstmOnnxModel * m, const LstmOnnxNode * n, Attrs * at,
    GError ** error)
{
  guint i;
  gboolean lbr = FALSE;

  at->gru = strcmp (n->op_type, "GRU") == 0;
  at->dirs = 1;
  /* direction first: 'activations' is checked against it */
  for (i = 0; i < n->attrs->len; i++) {
    const LstmOnnxAttr *a = n->attrs->pdata[i];
    if (strcmp (a->name, "direction") == 0 && !read_attr (m, n, a, at, error))
      return FALSE;
  }
  for (i = 0; i < n->attrs->len; i++) {
    const LstmOnnxAttr *a = n->attrs->pdata[i];
    lbr |= strcmp (a->name, "linear_before_reset") == 0;
    if (strcmp (a->name, "direction") != 0 && !read_attr (m, n, a, at, error))
      return FALSE;
  }
  if (at->gru && !lbr)
    return lstm_onnx_refuse (m, n, LSTM_ERROR_UNSUPPORTED, error,
        "attribute 'linear_before_reset' is absent (0 by default); only 1 "
        "(PyTorch's GRU) is supported");
  return TRUE;
}

/* An initial state must be zero: a zero constant, perhaps expanded or
 * reshaped, or a graph input (dropped: the element starts from zero). */
static gboolean
check_zero_state (const LstmOnnxModel * m, const LstmOnnxNode * n, guint k,
    const gchar * what, GError ** error)
{
  const gchar *v = lstm_onnx_node_input (n, k);
  /* each keeps a zero tensor zero (input 0 is the data) */
  static const gchar *const pass[] = { "Expand", "Identity", "Cast", "Slice",
    "Unsqueeze", "Squeeze", "Reshape", "Transpose", NULL
  };
  guint steps, i;

  for (steps = 0; v != NULL && steps <= m->nodes->len; steps++) {
    const LstmOnnxTensor *t = lstm_onnx_constant (m, v);
    const LstmOnnxNode *p = g_hash_table_lookup (m->producer_of, v);
    const LstmOnnxAttr *a;
    gboolean passes = FALSE;

    if (t == NULL && p != NULL && strcmp (p->op_type, "ConstantOfShape") == 0) {
      if ((a = lstm_onnx_node_attr (p, "value")) == NULL || a->t == NULL)
        return TRUE;            /* the default value is 0.0f */
      t = a->t;
    }
    if (t != NULL) {
      g_autofree gchar *label = g_strdup_printf ("%s of node '%s'", what,
          n->name);
      g_autofree float *x = lstm_onnx_tensor_floats (m, t, label, error);
      guint64 j;
      if (x == NULL)
        return FALSE;
      for (j = 0; j < t->n_elements; j++)
        if (x[j] != 0)
          return lstm_onnx_refuse (m, n, LSTM_ERROR_UNSUPPORTED, error,
              "input %s is not zero; only a zero initial state is supported",
              what);
      return TRUE;
    }
    if (p == NULL)
      return TRUE;              /* a graph input */
    for (i = 0; pass[i] != NULL; i++)
      passes |= strcmp (p->op_type, pass[i]) == 0;
    if (!passes)
      return lstm_onnx_refuse (m, n, LSTM_ERROR_UNSUPPORTED, error,
          "input %s comes from a %s node; only a zero constant is supported",
          what, p->op_type);
    v = lstm_onnx_node_input (p, 0);
  }
  return TRUE;
}

/* Reads input k of n, which must have exactly the shape d0 x d1 (x d2). */
static float *
weight (const LstmOnnxModel * m, const LstmOnnxNode * n, guint k,
    const gchar * what, guint rank, const guint64 * want, const gchar * form,
    GError ** error)
{
  gint64 d[3] = { 0, 0, 0 };
  g_autofree float *x = NULL;
  guint i;

  if ((x = lstm_onnx_input_floats (m, n, k, what, rank, d, error)) == NULL)
    return NULL;
  for (i = 0; i < rank; i++)
    if ((guint64) d[i] != want[i]) {
      g_autofree gchar *got = rank == 2 ?
          g_strdup_printf ("[%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "]",
          d[0], d[1]) : g_strdup_printf ("[%" G_GINT64_FORMAT ", %"
          G_GINT64_FORMAT ", %" G_GINT64_FORMAT "]", d[0], d[1], d[2]);
      g_autofree gchar *exp = rank == 2 ?
          g_strdup_printf ("[%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT "]",
          want[0], want[1]) : g_strdup_printf ("[%" G_GUINT64_FORMAT ", %"
          G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT "]", want[0], want[1],
          want[2]);
      lstm_onnx_refuse (m, n, LSTM_ERROR_MODEL, error, "input %s has shape "
          "%s; expected %s = %s", what, got, form, exp);
      return NULL;
    }
  return g_steal_pointer (&x);
}

/* W [dirs, G*H, I] gives H and I; R, B and P must fit them. */
static gboolean
read_weights (const LstmOnnxModel * m, const LstmOnnxNode * n,
    const Attrs * at, LstmOnnxLayer * l, guint * hidden, GError ** error)
{
  const LstmOnnxTensor *w;
  guint64 G = at->gru ? 3 : 4, H, I, want[3];

  w = lstm_onnx_node_input (n, 1) == NULL ? NULL :
      lstm_onnx_constant (m, lstm_onnx_node_input (n, 1));
  if (w != NULL && w->n_dims == 3) {
    H = w->dims[1] / G;
    I = w->dims[2];
    if (H == 0 || H > LSTM_MAX_HIDDEN_SIZE || I == 0
        || I > LSTM_MAX_INPUT_SIZE || (at->hidden_size != 0
            && (guint64) at->hidden_size != H))
      return lstm_onnx_refuse (m, n, LSTM_ERROR_MODEL, error, "input W is "
          "[%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
          "]: hidden size %" G_GUINT64_FORMAT " (1 to %u%s), input size %"
          G_GUINT64_FORMAT " (1 to %u)", w->dims[0], w->dims[1], w->dims[2],
          H, LSTM_MAX_HIDDEN_SIZE, at->hidden_size ? ", and as the attribute "
          "hidden_size says" : "", I, LSTM_MAX_INPUT_SIZE);
  } else
    H = I = 1;                  /* weight () below says what is wrong */
  want[0] = at->dirs;
  want[1] = G * H;
  want[2] = I;
  if ((l->W = weight (m, n, 1, "W", 3, want, "[directions, G*H, input]",
              error)) == NULL)
    return FALSE;
  want[2] = H;
  if ((l->R = weight (m, n, 2, "R", 3, want, "[directions, G*H, H]",
              error)) == NULL)
    return FALSE;
  want[1] = 2 * G * H;
  if (lstm_onnx_node_input (n, 3) != NULL && (l->B = weight (m, n, 3, "B", 2,
              want, "[directions, 2*G*H]", error)) == NULL)
    return FALSE;
  want[1] = 3 * H;
  if (!at->gru && lstm_onnx_node_input (n, 7) != NULL
      && (l->P = weight (m, n, 7, "P", 2, want, "[directions, 3*H]",
              error)) == NULL)
    return FALSE;
  l->input_size = I;
  *hidden = H;
  return TRUE;
}

/* Every layer must be the same kind of cell as the top one. */
static gboolean
same_as_top (const LstmOnnxModel * m, const LstmOnnxNet * net,
    const LstmOnnxNode * n, const Attrs * at, guint H, GError ** error)
{
  const LstmOnnxNode *top = ((LstmOnnxLayer *) net->layers->pdata[0])->node;
  const gchar *what = at->gru != net->gru ? "operator" :
      at->dirs != net->dirs ? "attribute 'direction'" :
      H != net->hidden_size ? "hidden size" :
      at->clip != net->clip ? "attribute 'clip'" :
      at->input_forget != net->input_forget ? "attribute 'input_forget'" : NULL;

  if (what == NULL)
    return TRUE;
  return lstm_onnx_refuse (m, n, LSTM_ERROR_UNSUPPORTED, error, "its %s "
      "differs from that of node '%s'; every layer must be alike", what,
      top->name);
}

gboolean
lstm_onnx_take_layer (const LstmOnnxModel * m, LstmOnnxNet * net,
    const LstmOnnxNode * n, GError ** error)
{
  Attrs at = { 0 };
  LstmOnnxLayer *l;
  guint H = 0;

  if (!read_attrs (m, n, &at, error))
    return FALSE;
  if (n->inputs->len > (at.gru ? 6u : 8u))
    return lstm_onnx_refuse (m, n, LSTM_ERROR_MODEL, error, "%u inputs; "
        "an %s has at most %u", n->inputs->len, n->op_type, at.gru ? 6 : 8);
  if (lstm_onnx_node_input (n, 4) != NULL)
    return lstm_onnx_refuse (m, n, LSTM_ERROR_UNSUPPORTED, error,
        "input sequence_lens is not supported (the element runs one "
        "unpadded sequence)");
  if (!check_zero_state (m, n, 5, "initial_h", error)
      || (!at.gru && !check_zero_state (m, n, 6, "initial_c", error)))
    return FALSE;
  if (net->layers->len >= LSTM_MAX_LAYERS)
    return lstm_onnx_refuse (m, n, LSTM_ERROR_UNSUPPORTED, error, "more than "
        "%u layers", LSTM_MAX_LAYERS);
  l = g_new0 (LstmOnnxLayer, 1);
  l->node = n;
  g_ptr_array_add (net->layers, l);     /* freed with net */
  if (!read_weights (m, n, &at, l, &H, error))
    return FALSE;
  if (net->layers->len > 1)
    return same_as_top (m, net, n, &at, H, error);
  net->gru = at.gru;
  net->dirs = at.dirs;
  net->hidden_size = H;
  net->clip = at.clip;
  net->input_forget = at.input_forget;
  return TRUE;
}

gboolean
lstm_onnx_check_net (const LstmOnnxModel * m, const LstmOnnxNet * net,
    GError ** error)
{
  guint out = net->dirs * net->hidden_size, k;

  for (k = 1; k < net->layers->len; k++) {
    const LstmOnnxLayer *l = net->layers->pdata[k];
    if (l->input_size != out)
      return lstm_onnx_refuse (m, l->node, LSTM_ERROR_MODEL, error,
          "takes %u inputs, but the layer below gives %u", l->input_size, out);
  }
  if (net->head_size > 0 && net->head_input_size != out) {
    const LstmOnnxLayer *top = net->layers->pdata[net->layers->len - 1];
    return lstm_onnx_refuse (m, top->node, LSTM_ERROR_MODEL, error,
        "gives %u outputs, but the head's weight takes %u", out,
        net->head_input_size);
  }
  return TRUE;
}
