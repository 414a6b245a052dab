/* A minimal protobuf wire-format reader, enough for ONNX files.
 *
 * A message is a sequence of fields, each a varint key (field number << 3
 * | wire type) followed by its value: a varint (type 0), 8 little-endian
 * bytes (1), a varint length and that many bytes (2), or 4 bytes (5).
 * Types 3 and 4 (groups) are deprecated and never used by ONNX.
 *
 * Every read is checked against the end of the current message, so no
 * input can make us read outside the caller's buffer; nesting is bounded
 * by LSTM_PB_MAX_DEPTH and every message by LSTM_PB_MAX_SIZE.
 */
#include "lstm-onnx-private.h"

#include <string.h>

/* *INDENT-OFF* */
static gboolean
pb_error (const LstmPbReader * r, GError ** error, const gchar * format, ...)
G_GNUC_PRINTF (3, 4);
/* *INDENT-ON* */

static gboolean
pb_error (const LstmPbReader * r, GError ** error, const gchar * format, ...)
{
  va_list args;
  g_autofree gchar *msg = NULL;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, LSTM_ERROR, LSTM_ERROR_FORMAT,
      "%s: not a valid ONNX file: %s (in a %s)", r->name, msg, r->what);
  return FALSE;
}

void
lstm_pb_reader_init (LstmPbReader * r, const guint8 * data, gsize size,
    const gchar * name, const gchar * what)
{
  g_return_if_fail (data != NULL || size == 0);

  r->p = data;
  r->end = data + size;
  r->depth = 0;
  r->name = name;
  r->what = what;
}

/* Base-128 varint, least significant group first, at most 10 bytes. */
static gboolean
read_varint (LstmPbReader * r, guint64 * value, GError ** error)
{
  guint64 v = 0;
  guint shift;

  for (shift = 0; shift < 64; shift += 7) {
    guint8 b;

    if (r->p >= r->end)
      return pb_error (r, error, "truncated varint");
    b = *r->p++;
    v |= (guint64) (b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *value = v;
      return TRUE;
    }
  }
  return pb_error (r, error, "varint longer than 10 bytes");
}

static guint64
read_le (const guint8 * p, guint n)
{
  guint64 v = 0;
  guint i;

  for (i = 0; i < n; i++)
    v |= (guint64) p[i] << (8 * i);
  return v;
}

gint
lstm_pb_next (LstmPbReader * r, LstmPbField * f, GError ** error)
{
  guint64 key, len;

  if (r->p >= r->end)
    return 0;
  if (!read_varint (r, &key, error))
    return -1;
  f->number = key >> 3;
  f->wire = key & 7;
  f->data = NULL;
  f->len = 0;
  f->value = 0;
  if (key >> 3 == 0 || key >> 3 > G_MAXINT32) {
    pb_error (r, error, "field number %" G_GUINT64_FORMAT, key >> 3);
    return -1;
  }
  switch (f->wire) {
    case LSTM_PB_VARINT:
      return read_varint (r, &f->value, error) ? 1 : -1;
    case LSTM_PB_FIXED64:
    case LSTM_PB_FIXED32:
      len = f->wire == LSTM_PB_FIXED64 ? 8 : 4;
      if ((guint64) (r->end - r->p) < len) {
        pb_error (r, error, "field %u: truncated fixed-size value", f->number);
        return -1;
      }
      f->value = read_le (r->p, len);
      r->p += len;
      return 1;
    case LSTM_PB_LEN:
      if (!read_varint (r, &len, error))
        return -1;
      if (len > (guint64) (r->end - r->p)) {
        pb_error (r, error, "field %u: length %" G_GUINT64_FORMAT " runs past "
            "the end (%" G_GSIZE_FORMAT " bytes left)", f->number, len,
            (gsize) (r->end - r->p));
        return -1;
      }
      f->data = r->p;
      f->len = len;
      r->p += len;
      return 1;
    default:
      pb_error (r, error, "field %u has wire type %u", f->number, f->wire);
      return -1;
  }
}

gboolean
lstm_pb_expect (const LstmPbReader * r, const LstmPbField * f,
    LstmPbWire wire, GError ** error)
{
  if (f->wire == wire)
    return TRUE;
  return pb_error (r, error, "field %u has wire type %u, expected %u",
      f->number, f->wire, wire);
}

gboolean
lstm_pb_sub (const LstmPbReader * r, const LstmPbField * f,
    const gchar * what, LstmPbReader * sub, GError ** error)
{
  if (!lstm_pb_expect (r, f, LSTM_PB_LEN, error))
    return FALSE;
  if (r->depth + 1 > LSTM_PB_MAX_DEPTH)
    return pb_error (r, error, "messages nested deeper than %u levels",
        LSTM_PB_MAX_DEPTH);
  if (f->len > LSTM_PB_MAX_SIZE)
    return pb_error (r, error, "a %s of %" G_GSIZE_FORMAT " bytes (protobuf "
        "allows at most 2 GiB)", what, f->len);
  sub->p = f->data;
  sub->end = f->data + f->len;
  sub->depth = r->depth + 1;
  sub->name = r->name;
  sub->what = what;
  return TRUE;
}

gboolean
lstm_pb_append_varints (const LstmPbReader * r, const LstmPbField * f,
    GArray * out, GError ** error)
{
  LstmPbReader packed;
  gint64 v;

  if (f->wire == LSTM_PB_VARINT) {
    v = (gint64) f->value;
    g_array_append_val (out, v);
    return TRUE;
  }
  if (!lstm_pb_expect (r, f, LSTM_PB_LEN, error))
    return FALSE;
  packed = *r;
  packed.p = f->data;
  packed.end = f->data + f->len;
  while (packed.p < packed.end) {
    guint64 u;
    if (!read_varint (&packed, &u, error))
      return FALSE;
    v = (gint64) u;
    g_array_append_val (out, v);
  }
  return TRUE;
}

/* Repeated fixed-size values of `size` bytes, one or packed. */
static gboolean
append_fixed (const LstmPbReader * r, const LstmPbField * f, guint size,
    GArray * out, GError ** error)
{
  gsize i, n;

  if (f->wire == (size == 4 ? LSTM_PB_FIXED32 : LSTM_PB_FIXED64)) {
    if (size == 4) {
      guint32 bits = f->value;
      g_array_append_vals (out, &bits, 1);
    } else
      g_array_append_vals (out, &f->value, 1);
    return TRUE;
  }
  if (!lstm_pb_expect (r, f, LSTM_PB_LEN, error))
    return FALSE;
  if (f->len % size != 0)
    return pb_error (r, error, "field %u: packed %u-byte values in %"
        G_GSIZE_FORMAT " bytes", f->number, size, f->len);
  n = f->len / size;
  for (i = 0; i < n; i++) {
    guint64 v = read_le (f->data + i * size, size);
    if (size == 4) {
      guint32 bits = v;
      g_array_append_vals (out, &bits, 1);
    } else
      g_array_append_vals (out, &v, 1);
  }
  return TRUE;
}

gboolean
lstm_pb_append_fixed32 (const LstmPbReader * r, const LstmPbField * f,
    GArray * out, GError ** error)
{
  g_return_val_if_fail (g_array_get_element_size (out) == 4, FALSE);
  return append_fixed (r, f, 4, out, error);
}

gboolean
lstm_pb_append_fixed64 (const LstmPbReader * r, const LstmPbField * f,
    GArray * out, GError ** error)
{
  g_return_val_if_fail (g_array_get_element_size (out) == 8, FALSE);
  return append_fixed (r, f, 8, out, error);
}

gchar *
lstm_pb_string (const LstmPbReader * r, const LstmPbField * f, GError ** error)
{
  if (!lstm_pb_expect (r, f, LSTM_PB_LEN, error))
    return NULL;
  if (memchr (f->data, 0, f->len) != NULL
      || !g_utf8_validate ((const gchar *) f->data, f->len, NULL)) {
    pb_error (r, error, "field %u is not a UTF-8 string", f->number);
    return NULL;
  }
  return g_strndup ((const gchar *) f->data, f->len);
}
