/* ONNX TensorProto payloads to floats: FLOAT, FLOAT16 and DOUBLE, from
 * raw_data (little-endian) or the typed repeated fields (float_data,
 * int32_data holding FLOAT16 bits, double_data). */
#include "lstm-onnx-private.h"

#include <math.h>
#include <string.h>

static gboolean
payload_error (const LstmOnnxModel * m, const LstmOnnxTensor * t,
    const gchar * what, const gchar * detail, GError ** error)
{
  g_set_error (error, LSTM_ERROR, LSTM_ERROR_MODEL, "%s: tensor '%s' (%s) "
      "%s", m->file, t->name, what, detail);
  return FALSE;
}

/* One element of t as a double; the payload size was checked. */
static double
element (const LstmOnnxTensor * t, guint64 i)
{
  guint32 u32;
  guint64 u64;
  float f;
  double d;

  if (t->has_raw) {
    switch (t->data_type) {
      case LSTM_ONNX_FLOAT:
        memcpy (&u32, t->raw + 4 * i, 4);
        u32 = GUINT32_FROM_LE (u32);
        memcpy (&f, &u32, 4);
        return f;
      case LSTM_ONNX_FLOAT16:
        return lstm_half_to_float (t->raw[2 * i] | (t->raw[2 * i + 1] << 8));
      default:
        memcpy (&u64, t->raw + 8 * i, 8);
        u64 = GUINT64_FROM_LE (u64);
        memcpy (&d, &u64, 8);
        return d;
    }
  }
  switch (t->data_type) {
    case LSTM_ONNX_FLOAT:
      return g_array_index (t->floats, float, i);
    case LSTM_ONNX_FLOAT16:
      return lstm_half_to_float (g_array_index (t->int32s, gint64, i));
    default:
      return g_array_index (t->doubles, double, i);
  }
}

/* The payload must hold exactly n_elements values of the tensor's type. */
static gboolean
check_payload (const LstmOnnxModel * m, const LstmOnnxTensor * t,
    const gchar * what, GError ** error)
{
  guint esize = t->data_type == LSTM_ONNX_FLOAT ? 4 :
      t->data_type == LSTM_ONNX_FLOAT16 ? 2 : 8;
  const GArray *field = t->data_type == LSTM_ONNX_FLOAT ? t->floats :
      t->data_type == LSTM_ONNX_FLOAT16 ? t->int32s : t->doubles;
  g_autofree gchar *detail = NULL;
  guint64 have = t->has_raw ? t->raw_len / esize : field->len;
  guint i;

  if (t->data_type != LSTM_ONNX_FLOAT && t->data_type != LSTM_ONNX_FLOAT16
      && t->data_type != LSTM_ONNX_DOUBLE) {
    detail = g_strdup_printf ("has ONNX data type %d; FLOAT (1), FLOAT16 "
        "(10) and DOUBLE (11) are supported", t->data_type);
    return payload_error (m, t, what, detail, error);
  }
  if (have != t->n_elements || (t->has_raw && t->raw_len % esize != 0)) {
    detail = g_strdup_printf ("has %" G_GUINT64_FORMAT " elements but "
        "holds %" G_GSIZE_FORMAT " %s", t->n_elements,
        t->has_raw ? t->raw_len : (gsize) field->len,
        t->has_raw ? "bytes of raw_data" : "values");
    return payload_error (m, t, what, detail, error);
  }
  if (!t->has_raw && t->data_type == LSTM_ONNX_FLOAT16)
    for (i = 0; i < field->len; i++)
      if (g_array_index (field, gint64, i) < 0
          || g_array_index (field, gint64, i) > 0xffff)
        return payload_error (m, t, what, "holds a FLOAT16 value that does "
            "not fit 16 bits", error);
  return TRUE;
}

float *
lstm_onnx_tensor_floats (const LstmOnnxModel * m, const LstmOnnxTensor * t,
    const gchar * what, GError ** error)
{
  g_autofree float *out = NULL;
  guint64 i;

  if (!check_payload (m, t, what, error))
    return NULL;
  out = g_new (float, MAX (t->n_elements, 1));
  for (i = 0; i < t->n_elements; i++) {
    double v = element (t, i);
    /* a finite double above FLT_MAX would become inf */
    if (!isfinite (v) || !isfinite ((float) v)) {
      g_autofree gchar *detail = g_strdup_printf ("holds a non-finite value "
          "at element %" G_GUINT64_FORMAT " (%g as float32)", i, (float) v);
      payload_error (m, t, what, detail, error);
      return NULL;
    }
    out[i] = v;
  }
  return g_steal_pointer (&out);
}
