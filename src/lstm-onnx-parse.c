/* ONNX's messages, read off the protobuf wire (onnx/onnx.proto, IR 8):
 *
 *   ModelProto     2 producer_name, 3 producer_version, 7 graph,
 *                  8 opset_import (OperatorSetIdProto: 1 domain, 2 version)
 *   GraphProto     1 node, 5 initializer, 11 input, 12 output
 *                  (ValueInfoProto: 1 name), 15 sparse_initializer
 *   NodeProto      1 input, 2 output, 3 name, 4 op_type, 5 attribute,
 *                  7 domain
 *   AttributeProto 1 name, 20 type, 2 f, 3 i, 4 s, 5 t, 6 g, 7 floats,
 *                  8 ints, 9 strings, 11 graphs
 *   TensorProto    1 dims, 2 data_type, 4 float_data, 5 int32_data,
 *                  7 int64_data, 8 name, 9 raw_data, 10 double_data,
 *                  13 external_data, 14 data_location
 *
 * Fields not listed are skipped. Nothing here decides what a model means.
 */
#include "lstm-onnx-private.h"

#include <string.h>

/* Largest tensor we read: 2^31 elements (an 8 GiB float32 tensor). */
#define MAX_ELEMENTS (G_GUINT64_CONSTANT (1) << 31)

static void
tensor_free (LstmOnnxTensor * t)
{
  if (t == NULL)
    return;
  g_free (t->name);
  g_array_unref (t->floats);
  g_array_unref (t->doubles);
  g_array_unref (t->int32s);
  g_array_unref (t->int64s);
  g_free (t);
}

static void
attr_free (LstmOnnxAttr * a)
{
  g_free (a->name);
  g_free (a->s);
  g_array_unref (a->floats);
  g_array_unref (a->ints);
  g_ptr_array_unref (a->strings);
  tensor_free (a->t);
  g_free (a);
}

static void
node_free (LstmOnnxNode * n)
{
  g_free (n->name);
  g_free (n->op_type);
  g_free (n->domain);
  g_ptr_array_unref (n->inputs);
  g_ptr_array_unref (n->outputs);
  g_ptr_array_unref (n->attrs);
  g_free (n);
}

void
lstm_onnx_model_free (LstmOnnxModel * m)
{
  if (m == NULL)
    return;
  g_free (m->producer);
  g_ptr_array_unref (m->nodes);
  g_ptr_array_unref (m->initializers);
  g_ptr_array_unref (m->inputs);
  g_ptr_array_unref (m->outputs);
  g_hash_table_unref (m->init_by_name);
  g_hash_table_unref (m->producer_of);
  g_free (m);
}

static gboolean
unsupported (const LstmPbReader * r, GError ** error, const gchar * what)
{
  g_set_error (error, LSTM_ERROR, LSTM_ERROR_UNSUPPORTED,
      "%s: %s is not supported", r->name, what);
  return FALSE;
}

static gboolean
finish_tensor (const LstmPbReader * r, LstmOnnxTensor * t, GError ** error)
{
  guint64 n = 1;
  guint i;

  for (i = 0; i < t->n_dims; i++) {
    if (t->dims[i] < 0 || (t->dims[i] > 0
            && n > MAX_ELEMENTS / (guint64) t->dims[i])) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_FORMAT, "%s: tensor '%s' "
          "has dimension %u of size %" G_GINT64_FORMAT "; sizes must be >= 0 "
          "and the tensor at most 2^31 elements", r->name,
          t->name ? t->name : "", i, t->dims[i]);
      return FALSE;
    }
    n *= t->dims[i];
  }
  t->n_elements = n;
  if (t->external) {
    g_autofree gchar *what = g_strdup_printf ("tensor '%s' keeps its data in "
        "an external file, which", t->name ? t->name : "");
    return unsupported (r, error, what);
  }
  if (t->name == NULL)
    t->name = g_strdup ("");
  return TRUE;
}

static gboolean
tensor_field (LstmPbReader * r, LstmPbField * f, LstmOnnxTensor * t,
    GArray * dims, GError ** error)
{
  switch (f->number) {
    case 1:
      return lstm_pb_append_varints (r, f, dims, error);
    case 2:
      t->data_type = f->value;
      return lstm_pb_expect (r, f, LSTM_PB_VARINT, error);
    case 4:
      return lstm_pb_append_fixed32 (r, f, t->floats, error);
    case 5:
      return lstm_pb_append_varints (r, f, t->int32s, error);
    case 7:
      return lstm_pb_append_varints (r, f, t->int64s, error);
    case 8:
      g_free (t->name);
      return (t->name = lstm_pb_string (r, f, error)) != NULL;
    case 9:
      t->raw = f->data;
      t->raw_len = f->len;
      t->has_raw = TRUE;
      return lstm_pb_expect (r, f, LSTM_PB_LEN, error);
    case 10:
      return lstm_pb_append_fixed64 (r, f, t->doubles, error);
    case 13:
      t->external = TRUE;
      return TRUE;
    case 14:
      t->external |= f->value == 1;
      return lstm_pb_expect (r, f, LSTM_PB_VARINT, error);
    default:
      return TRUE;
  }
}

static LstmOnnxTensor *
parse_tensor (const LstmPbReader * parent, const LstmPbField * pf,
    GError ** error)
{
  LstmOnnxTensor *t = g_new0 (LstmOnnxTensor, 1);
  g_autoptr (GArray) dims = g_array_new (FALSE, FALSE, sizeof (gint64));
  LstmPbReader r;
  LstmPbField f;
  gint got;

  t->floats = g_array_new (FALSE, FALSE, sizeof (float));
  t->doubles = g_array_new (FALSE, FALSE, sizeof (double));
  t->int32s = g_array_new (FALSE, FALSE, sizeof (gint64));
  t->int64s = g_array_new (FALSE, FALSE, sizeof (gint64));
  if (!lstm_pb_sub (parent, pf, "TensorProto", &r, error))
    goto fail;
  while ((got = lstm_pb_next (&r, &f, error)) > 0)
    if (!tensor_field (&r, &f, t, dims, error))
      goto fail;
  if (got < 0)
    goto fail;
  if (dims->len > LSTM_TENSOR_MAX_DIMS) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_UNSUPPORTED, "%s: tensor '%s' "
        "has %u dimensions; at most %u are supported", r.name,
        t->name ? t->name : "", dims->len, LSTM_TENSOR_MAX_DIMS);
    goto fail;
  }
  t->n_dims = dims->len;
  if (dims->len > 0)            /* an empty GArray's data may be NULL */
    memcpy (t->dims, dims->data, dims->len * sizeof (gint64));
  if (!finish_tensor (&r, t, error))
    goto fail;
  return t;
fail:
  tensor_free (t);
  return NULL;
}

static gboolean
attr_field (LstmPbReader * r, LstmPbField * f, LstmOnnxAttr * a,
    GError ** error)
{
  switch (f->number) {
    case 1:
      g_free (a->name);
      return (a->name = lstm_pb_string (r, f, error)) != NULL;
    case 20:
      a->type = f->value;
      return lstm_pb_expect (r, f, LSTM_PB_VARINT, error);
    case 2:
    memcpy (&a->f, &(guint32) {
        f->value}
          , 4);
      return lstm_pb_expect (r, f, LSTM_PB_FIXED32, error);
    case 3:
      a->i = (gint64) f->value;
      return lstm_pb_expect (r, f, LSTM_PB_VARINT, error);
    case 4:
      /* binary strings are kept as NULL: only names are compared */
      g_clear_pointer (&a->s, g_free);
      a->s = lstm_pb_string (r, f, NULL);
      return lstm_pb_expect (r, f, LSTM_PB_LEN, error);
    case 5:
      tensor_free (a->t);
      return (a->t = parse_tensor (r, f, error)) != NULL;
    case 6:
    case 11:
      a->has_graph = TRUE;
      return TRUE;
    case 7:
      return lstm_pb_append_fixed32 (r, f, a->floats, error);
    case 8:
      return lstm_pb_append_varints (r, f, a->ints, error);
    case 9:
      g_ptr_array_add (a->strings, lstm_pb_string (r, f, NULL));
      return lstm_pb_expect (r, f, LSTM_PB_LEN, error);
    default:
      return TRUE;
  }
}

static LstmOnnxAttr *
parse_attr (const LstmPbReader * parent, const LstmPbField * pf,
    GError ** error)
{
  LstmOnnxAttr *a = g_new0 (LstmOnnxAttr, 1);
  LstmPbReader r;
  LstmPbField f;
  gint got = -1;

  a->floats = g_array_new (FALSE, FALSE, sizeof (float));
  a->ints = g_array_new (FALSE, FALSE, sizeof (gint64));
  a->strings = g_ptr_array_new_with_free_func (g_free);
  if (lstm_pb_sub (parent, pf, "AttributeProto", &r, error))
    while ((got = lstm_pb_next (&r, &f, error)) > 0)
      if (!attr_field (&r, &f, a, error)) {
        got = -1;
        break;
      }
  if (got < 0) {
    attr_free (a);
    return NULL;
  }
  if (a->name == NULL)
    a->name = g_strdup ("");
  return a;
}

static gboolean
node_field (LstmPbReader * r, LstmPbField * f, LstmOnnxNode * n,
    GError ** error)
{
  gchar *s = NULL;
  LstmOnnxAttr *a;

  if (f->number == 5) {
    if ((a = parse_attr (r, f, error)) == NULL)
      return FALSE;
    g_ptr_array_add (n->attrs, a);
    return TRUE;
  }
  if (f->number < 1 || f->number > 7 || f->number == 5 || f->number == 6)
    return TRUE;
  if ((s = lstm_pb_string (r, f, error)) == NULL)
    return FALSE;
  switch (f->number) {
    case 1:
      g_ptr_array_add (n->inputs, s);
      break;
    case 2:
      g_ptr_array_add (n->outputs, s);
      break;
    case 3:
      g_free (n->name);
      n->name = s;
      break;
    case 4:
      g_free (n->op_type);
      n->op_type = s;
      break;
    default:                   /* 7 */
      g_free (n->domain);
      n->domain = s;
      break;
  }
  return TRUE;
}

static gboolean
parse_node (LstmOnnxModel * m, const LstmPbReader * parent,
    const LstmPbField * pf, GError ** error)
{
  LstmOnnxNode *n = g_new0 (LstmOnnxNode, 1);
  LstmPbReader r;
  LstmPbField f;
  gint got = -1;

  n->inputs = g_ptr_array_new_with_free_func (g_free);
  n->outputs = g_ptr_array_new_with_free_func (g_free);
  n->attrs = g_ptr_array_new_with_free_func ((GDestroyNotify) attr_free);
  g_ptr_array_add (m->nodes, n);        /* freed with the model */
  if (lstm_pb_sub (parent, pf, "NodeProto", &r, error))
    while ((got = lstm_pb_next (&r, &f, error)) > 0)
      if (!node_field (&r, &f, n, error))
        return FALSE;
  if (got < 0)
    return FALSE;
  if (n->name == NULL)
    n->name = g_strdup ("");
  if (n->op_type == NULL)
    n->op_type = g_strdup ("");
  if (n->domain == NULL)
    n->domain = g_strdup ("");
  return TRUE;
}

/* ValueInfoProto: only its name. */
static gboolean
parse_value_name (GPtrArray * out, const LstmPbReader * parent,
    const LstmPbField * pf, GError ** error)
{
  LstmPbReader r;
  LstmPbField f;
  gchar *name = NULL;
  gint got = -1;

  if (lstm_pb_sub (parent, pf, "ValueInfoProto", &r, error))
    while ((got = lstm_pb_next (&r, &f, error)) > 0)
      if (f.number == 1) {
        g_free (name);
        if ((name = lstm_pb_string (&r, &f, error)) == NULL)
          return FALSE;
      }
  if (got < 0) {
    g_free (name);
    return FALSE;
  }
  g_ptr_array_add (out, name ? name : g_strdup (""));
  return TRUE;
}

static gboolean
graph_field (LstmOnnxModel * m, LstmPbReader * r, LstmPbField * f,
    GError ** error)
{
  LstmOnnxTensor *t;

  switch (f->number) {
    case 1:
      return parse_node (m, r, f, error);
    case 5:
      if ((t = parse_tensor (r, f, error)) == NULL)
        return FALSE;
      g_ptr_array_add (m->initializers, t);
      return TRUE;
    case 11:
      return parse_value_name (m->inputs, r, f, error);
    case 12:
      return parse_value_name (m->outputs, r, f, error);
    case 15:
      return unsupported (r, error, "a sparse initializer");
    default:
      return TRUE;
  }
}

static gboolean
parse_graph (LstmOnnxModel * m, const LstmPbReader * parent,
    const LstmPbField * pf, GError ** error)
{
  LstmPbReader r;
  LstmPbField f;
  gint got = -1;
  guint i, k;

  if (lstm_pb_sub (parent, pf, "GraphProto", &r, error))
    while ((got = lstm_pb_next (&r, &f, error)) > 0)
      if (!graph_field (m, &r, &f, error))
        return FALSE;
  if (got < 0)
    return FALSE;
  for (i = 0; i < m->initializers->len; i++) {
    LstmOnnxTensor *t = m->initializers->pdata[i];
    g_hash_table_insert (m->init_by_name, t->name, t);
  }
  for (i = 0; i < m->nodes->len; i++) {
    LstmOnnxNode *n = m->nodes->pdata[i];
    for (k = 0; k < n->outputs->len; k++)
      if (*(gchar *) n->outputs->pdata[k] != '\0')
        g_hash_table_insert (m->producer_of, n->outputs->pdata[k], n);
  }
  return TRUE;
}

/* OperatorSetIdProto: the default domain ("" or "ai.onnx") version. */
static gboolean
parse_opset (LstmOnnxModel * m, const LstmPbReader * parent,
    const LstmPbField * pf, GError ** error)
{
  LstmPbReader r;
  LstmPbField f;
  g_autofree gchar *domain = NULL;
  gint64 version = 0;
  gint got = -1;

  if (lstm_pb_sub (parent, pf, "OperatorSetIdProto", &r, error))
    while ((got = lstm_pb_next (&r, &f, error)) > 0) {
      if (f.number == 1) {
        g_free (domain);
        if ((domain = lstm_pb_string (&r, &f, error)) == NULL)
          return FALSE;
      } else if (f.number == 2) {
        if (!lstm_pb_expect (&r, &f, LSTM_PB_VARINT, error))
          return FALSE;
        version = f.value;
      }
    }
  if (got < 0)
    return FALSE;
  if (domain == NULL || *domain == '\0' || strcmp (domain, "ai.onnx") == 0)
    m->opset = version;
  return TRUE;
}

static gboolean
model_field (LstmOnnxModel * m, LstmPbReader * r, LstmPbField * f,
    gchar ** producer, gboolean * have_graph, GError ** error)
{
  switch (f->number) {
    case 2:
    case 3:
      g_free (producer[f->number - 2]);
      return (producer[f->number - 2] = lstm_pb_string (r, f, error)) != NULL;
    case 7:
      if (*have_graph) {
        g_set_error (error, LSTM_ERROR, LSTM_ERROR_FORMAT,
            "%s: not a valid ONNX file: two graphs in the model", r->name);
        return FALSE;
      }
      *have_graph = TRUE;
      return parse_graph (m, r, f, error);
    case 8:
      return parse_opset (m, r, f, error);
    default:
      return TRUE;
  }
}

LstmOnnxModel *
lstm_onnx_model_parse (const guint8 * data, gsize size, const gchar * file,
    GError ** error)
{
  g_autoptr (LstmOnnxModel) m = g_new0 (LstmOnnxModel, 1);
  gchar *producer[2] = { NULL, NULL };
  gboolean have_graph = FALSE, ok = TRUE;
  LstmPbReader r;
  LstmPbField f;
  gint got;

  g_return_val_if_fail (data != NULL || size == 0, NULL);

  m->file = file;
  m->nodes = g_ptr_array_new_with_free_func ((GDestroyNotify) node_free);
  m->initializers =
      g_ptr_array_new_with_free_func ((GDestroyNotify) tensor_free);
  m->inputs = g_ptr_array_new_with_free_func (g_free);
  m->outputs = g_ptr_array_new_with_free_func (g_free);
  m->init_by_name = g_hash_table_new (g_str_hash, g_str_equal);
  m->producer_of = g_hash_table_new (g_str_hash, g_str_equal);
  lstm_pb_reader_init (&r, data, size, file, "ModelProto");
  if (size > LSTM_PB_MAX_SIZE) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_FORMAT, "%s: %" G_GSIZE_FORMAT
        " bytes; an ONNX file holds at most 2 GiB", file, size);
    return NULL;
  }
  while (ok && (got = lstm_pb_next (&r, &f, error)) > 0)
    ok = model_field (m, &r, &f, producer, &have_graph, error);
  if (ok && got == 0 && producer[0] != NULL)
    m->producer = g_strjoin (" ", producer[0], producer[1] ? producer[1] :
        NULL, NULL);
  g_free (producer[0]);
  g_free (producer[1]);
  if (!ok || got < 0)
    return NULL;
  if (!have_graph) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_FORMAT,
        "%s: not an ONNX model: no graph", file);
    return NULL;
  }
  return g_steal_pointer (&m);
}

const LstmOnnxAttr *
lstm_onnx_node_attr (const LstmOnnxNode * node, const gchar * name)
{
  guint i;

  for (i = 0; i < node->attrs->len; i++) {
    const LstmOnnxAttr *a = node->attrs->pdata[i];
    if (strcmp (a->name, name) == 0)
      return a;
  }
  return NULL;
}

const gchar *
lstm_onnx_node_input (const LstmOnnxNode * node, guint k)
{
  const gchar *s;

  if (k >= node->inputs->len)
    return NULL;
  s = node->inputs->pdata[k];
  return *s != '\0' ? s : NULL;
}
