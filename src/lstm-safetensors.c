/* The safetensors container: parse and validate, convert, write.
 *
 * Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * (an object: "__metadata__" -> {string: string}, and per tensor
 * {"dtype", "shape", "data_offsets": [begin, end]} relative to the data
 * section), then the data section. Nothing here knows about LSTMs.
 */
#include "lstm-private.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

/* The reference implementation refuses headers above 100 MB. */
#define MAX_HEADER_SIZE (100u * 1000u * 1000u)

/* A safetensors header nests 3 levels deep (root, tensor, shape). */
#define MAX_JSON_DEPTH 64

typedef struct
{
  const gchar *name;
  LstmDtype dtype;
  guint size;                   /* bytes per element */
} DtypeInfo;

static const DtypeInfo dtypes[] = {
  {"F32", LSTM_DTYPE_F32, 4}, {"F16", LSTM_DTYPE_F16, 2},
  {"BF16", LSTM_DTYPE_BF16, 2}, {"F64", LSTM_DTYPE_F64, 8},
  {"I64", LSTM_DTYPE_OTHER, 8}, {"U64", LSTM_DTYPE_OTHER, 8},
  {"I32", LSTM_DTYPE_OTHER, 4}, {"U32", LSTM_DTYPE_OTHER, 4},
  {"I16", LSTM_DTYPE_OTHER, 2}, {"U16", LSTM_DTYPE_OTHER, 2},
  {"I8", LSTM_DTYPE_OTHER, 1}, {"U8", LSTM_DTYPE_OTHER, 1},
  {"BOOL", LSTM_DTYPE_OTHER, 1}, {"F8_E4M3", LSTM_DTYPE_OTHER, 1},
  {"F8_E5M2", LSTM_DTYPE_OTHER, 1},
};

static void
tensor_free (LstmTensor * t)
{
  g_free (t->name);
  g_free (t->dtype_name);
  g_free (t);
}

void
lstm_tensor_file_free (LstmTensorFile * file)
{
  if (file == NULL)
    return;
  g_free (file->name);
  g_ptr_array_unref (file->tensors);
  g_hash_table_unref (file->by_name);
  g_hash_table_unref (file->metadata);
  g_free (file);
}

/* *INDENT-OFF* */
static gboolean
fail (GError ** error, const gchar * file, const gchar * format, ...)
G_GNUC_PRINTF (3, 4);
/* *INDENT-ON* */

static gboolean
fail (GError ** error, const gchar * file, const gchar * format, ...)
{
  va_list args;
  gchar *msg;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, LSTM_ERROR, LSTM_ERROR_FORMAT, "%s: %s", file, msg);
  g_free (msg);
  return FALSE;
}

/* json-glib's parser recurses once per nesting level, so a header of
 * 100000 '[' overflows the stack before json-glib can report anything.
 * This scan runs first and refuses nesting deeper than MAX_JSON_DEPTH.
 * Brackets inside strings do not count, so it must agree with json-glib on
 * where strings are: outside strings it accepts only what JSON allows there
 * (json-glib also takes 'single-quoted' strings and comments, which could
 * hide brackets from a simpler scan), and nothing but blanks after the
 * document (json-glib reads "{} {}" as "{}"). Returns NULL when `json` may be
 * parsed, else why not, with the byte offset in `at`. */
const gchar *
lstm_json_prescan (const gchar * json, gsize len, gsize * at)
{
  gboolean in_string = FALSE, ended = FALSE;
  guint depth = 0;
  gsize i;

  for (i = 0; i < len; i++) {
    gchar c = json[i];

    *at = i;
    if (in_string) {
      if (c == '\\')
        i++;                    /* the escaped character, whatever it is */
      else if (c == '"')
        in_string = FALSE;
    } else if (ended && (c == '\0' || strchr (" \t\r\n", c) == NULL)) {
      return "goes on after its end";
    } else if (c == '"') {
      in_string = TRUE;
    } else if (c == '[' || c == '{') {
      if (++depth > MAX_JSON_DEPTH)
        return "nests deeper than " G_STRINGIFY (MAX_JSON_DEPTH) " levels";
    } else if (c == ']' || c == '}') {
      if (depth == 0)
        return "closes a bracket that was never opened";
      ended = --depth == 0;
    } else if (c == '\0' || (!g_ascii_isalnum (c)
            && strchr (" \t\r\n,:+-.", c) == NULL)) {
      return "has a character that JSON does not allow outside strings";
    }
  }
  return NULL;
}

/* A JSON integer >= 0 (not a float, not a string). */
static gboolean
get_uint (JsonNode * node, guint64 * out)
{
  gint64 v;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  v = json_node_get_int (node);
  if (v < 0)
    return FALSE;
  *out = (guint64) v;
  return TRUE;
}

static gboolean
parse_metadata (LstmTensorFile * file, JsonNode * node, GError ** error)
{
  JsonObject *obj;
  GList *members, *l;
  gboolean ok = TRUE;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return fail (error, file->name, "__metadata__ is not a JSON object");
  obj = json_node_get_object (node);
  members = json_object_get_members (obj);
  for (l = members; l != NULL; l = l->next) {
    JsonNode *v = json_object_get_member (obj, l->data);
    if (!JSON_NODE_HOLDS_VALUE (v)
        || json_node_get_value_type (v) != G_TYPE_STRING) {
      ok = fail (error, file->name, "__metadata__ entry '%s' is not a string",
          (const gchar *) l->data);
      break;
    }
    g_hash_table_insert (file->metadata, g_strdup (l->data),
        g_strdup (json_node_get_string (v)));
  }
  g_list_free (members);
  return ok;
}

static gboolean
parse_dtype (LstmTensorFile * file, LstmTensor * t, JsonObject * obj,
    guint * elem_size, GError ** error)
{
  JsonNode *node = json_object_get_member (obj, "dtype");
  const gchar *s;
  guint i;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return fail (error, file->name, "tensor '%s' has no string 'dtype'",
        t->name);
  s = json_node_get_string (node);
  for (i = 0; i < G_N_ELEMENTS (dtypes); i++) {
    if (strcmp (s, dtypes[i].name) == 0) {
      t->dtype_name = g_strdup (s);
      t->dtype = dtypes[i].dtype;
      *elem_size = dtypes[i].size;
      return TRUE;
    }
  }
  return fail (error, file->name, "tensor '%s' has unknown dtype '%.32s'",
      t->name, s);
}

static gboolean
parse_shape (LstmTensorFile * file, LstmTensor * t, JsonObject * obj,
    GError ** error)
{
  JsonNode *node = json_object_get_member (obj, "shape");
  JsonArray *arr;
  guint i;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return fail (error, file->name, "tensor '%s' has no 'shape' array",
        t->name);
  arr = json_node_get_array (node);
  t->n_dims = json_array_get_length (arr);
  if (t->n_dims > LSTM_TENSOR_MAX_DIMS)
    return fail (error, file->name, "tensor '%s' has %u dimensions (at most "
        "%u supported)", t->name, t->n_dims, LSTM_TENSOR_MAX_DIMS);
  t->n_elements = 1;
  for (i = 0; i < t->n_dims; i++) {
    if (!get_uint (json_array_get_element (arr, i), &t->shape[i]))
      return fail (error, file->name, "tensor '%s': shape entry %u is not a "
          "non-negative integer", t->name, i);
    if (!g_uint64_checked_mul (&t->n_elements, t->n_elements, t->shape[i]))
      return fail (error, file->name, "tensor '%s': the element count of its "
          "shape overflows 64 bits", t->name);
  }
  return TRUE;
}

gchar *
lstm_tensor_shape_string (const LstmTensor * t)
{
  GString *s = g_string_new ("[");
  guint i;

  for (i = 0; i < t->n_dims; i++)
    g_string_append_printf (s, "%s%" G_GUINT64_FORMAT, i ? ", " : "",
        t->shape[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static gboolean
parse_offsets (LstmTensorFile * file, LstmTensor * t, JsonObject * obj,
    guint elem_size, const guint8 * data, guint64 data_size, GError ** error)
{
  JsonNode *node = json_object_get_member (obj, "data_offsets");
  JsonArray *arr;
  guint64 begin, end, bytes;
  gboolean overflow;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node)
      || json_array_get_length (arr = json_node_get_array (node)) != 2
      || !get_uint (json_array_get_element (arr, 0), &begin)
      || !get_uint (json_array_get_element (arr, 1), &end))
    return fail (error, file->name, "tensor '%s' has no 'data_offsets' pair "
        "of non-negative integers", t->name);
  if (begin > end)
    return fail (error, file->name, "tensor '%s': data_offsets [%"
        G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT "] end before they begin",
        t->name, begin, end);
  if (end > data_size)
    return fail (error, file->name, "tensor '%s': data_offsets [%"
        G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT "] go beyond the end of the "
        "data section (%" G_GUINT64_FORMAT " bytes; truncated?)", t->name,
        begin, end, data_size);
  overflow = !g_uint64_checked_mul (&bytes, t->n_elements, elem_size);
  if (overflow || bytes != end - begin) {
    g_autofree gchar *shape = lstm_tensor_shape_string (t);
    if (overflow)
      return fail (error, file->name, "tensor '%s': %s shape %s needs more "
          "than 2^64 bytes", t->name, t->dtype_name, shape);
    return fail (error, file->name, "tensor '%s': %s shape %s needs %"
        G_GUINT64_FORMAT " bytes but data_offsets [%" G_GUINT64_FORMAT ", %"
        G_GUINT64_FORMAT "] give %" G_GUINT64_FORMAT, t->name, t->dtype_name,
        shape, bytes, begin, end, end - begin);
  }
  t->data = data + begin;
  t->size = (gsize) bytes;
  return TRUE;
}

static gboolean
parse_tensor (LstmTensorFile * file, const gchar * name, JsonNode * node,
    const guint8 * data, guint64 data_size, GError ** error)
{
  LstmTensor *t;
  guint elem_size = 0;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return fail (error, file->name, "header entry '%s' is not an object", name);
  t = g_new0 (LstmTensor, 1);
  t->name = g_strdup (name);
  g_ptr_array_add (file->tensors, t);
  g_hash_table_insert (file->by_name, t->name, t);
  return parse_dtype (file, t, json_node_get_object (node), &elem_size, error)
      && parse_shape (file, t, json_node_get_object (node), error)
      && parse_offsets (file, t, json_node_get_object (node), elem_size, data,
      data_size, error);
}

static gint
compare_by_data (gconstpointer a, gconstpointer b)
{
  const LstmTensor *ta = *(LstmTensor **) a, *tb = *(LstmTensor **) b;
  if (ta->data != tb->data)
    return ta->data < tb->data ? -1 : 1;
  return ta->size < tb->size ? -1 : ta->size > tb->size;
}

/* Two tensors may not share bytes (the format forbids it; a file that does
 * is lying about something). Empty tensors overlap nothing. */
static gboolean
check_overlaps (LstmTensorFile * file, GError ** error)
{
  g_autoptr (GPtrArray) sorted = g_ptr_array_sized_new (file->tensors->len);
  const LstmTensor *prev = NULL;
  guint i;

  /* a borrowed view: g_ptr_array_copy would take the free function too */
  for (i = 0; i < file->tensors->len; i++)
    g_ptr_array_add (sorted, file->tensors->pdata[i]);

  g_ptr_array_sort (sorted, compare_by_data);
  for (i = 0; i < sorted->len; i++) {
    const LstmTensor *t = sorted->pdata[i];
    if (t->size == 0)
      continue;
    if (prev != NULL && t->data < prev->data + prev->size)
      return fail (error, file->name, "tensors '%s' and '%s' overlap in the "
          "data section", prev->name, t->name);
    prev = t;
  }
  return TRUE;
}

static gboolean
parse_header (LstmTensorFile * file, const gchar * json, gsize json_len,
    const guint8 * data, guint64 data_size, GError ** error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) err = NULL;
  JsonNode *root_node;
  JsonObject *root;
  GList *members, *l;
  const gchar *why;
  gsize at;
  gboolean ok = TRUE;

  if (!g_utf8_validate (json, json_len, NULL))
    return fail (error, file->name, "the header is not UTF-8 text (or holds "
        "a NUL byte)");
  why = lstm_json_prescan (json, json_len, &at);
  if (why != NULL)
    return fail (error, file->name, "the header is not valid JSON: it %s "
        "(byte %" G_GSIZE_FORMAT ")", why, at);
  if (!json_parser_load_from_data (parser, json, json_len, &err))
    return fail (error, file->name, "the header is not valid JSON: %s",
        err->message);
  /* json-glib takes an empty or all-blank document and gives no root. */
  root_node = json_parser_get_root (parser);
  if (root_node == NULL)
    return fail (error, file->name, "the header is empty; expected a JSON "
        "object");
  if (!JSON_NODE_HOLDS_OBJECT (root_node))
    return fail (error, file->name, "the header is not a JSON object");

  root = json_node_get_object (root_node);
  members = json_object_get_members (root);
  for (l = members; l != NULL && ok; l = l->next) {
    const gchar *name = l->data;
    JsonNode *node = json_object_get_member (root, name);
    if (strcmp (name, "__metadata__") == 0)
      ok = parse_metadata (file, node, error);
    else
      ok = parse_tensor (file, name, node, data, data_size, error);
  }
  g_list_free (members);
  return ok && check_overlaps (file, error);
}

LstmTensorFile *
lstm_safetensors_parse (const guint8 * data, gsize size, const gchar * name,
    GError ** error)
{
  g_autoptr (LstmTensorFile) file = NULL;
  guint64 header_len;

  g_return_val_if_fail (data != NULL || size == 0, NULL);

  file = g_new0 (LstmTensorFile, 1);
  file->name = g_strdup (name != NULL ? name : "model");
  file->tensors = g_ptr_array_new_with_free_func ((GDestroyNotify) tensor_free);
  file->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  file->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      g_free);

  if (size < 8) {
    fail (error, file->name, "file is %" G_GSIZE_FORMAT " bytes, too short "
        "for the 8-byte header length of a safetensors file (truncated?)",
        size);
    return NULL;
  }
  memcpy (&header_len, data, 8);
  header_len = GUINT64_FROM_LE (header_len);
  if (header_len > size - 8) {
    fail (error, file->name, "header length %" G_GUINT64_FORMAT " is beyond "
        "the end of the file (%" G_GSIZE_FORMAT " bytes; truncated?)",
        header_len, size);
    return NULL;
  }
  if (header_len > MAX_HEADER_SIZE) {
    fail (error, file->name, "header length %" G_GUINT64_FORMAT " is above "
        "the %u-byte limit", header_len, MAX_HEADER_SIZE);
    return NULL;
  }
  if (!parse_header (file, (const gchar *) data + 8, header_len,
          data + 8 + header_len, size - 8 - header_len, error))
    return NULL;
  return g_steal_pointer (&file);
}

/* IEEE 754 binary16 -> binary32, subnormals and specials included. */
float
lstm_half_to_float (guint16 h)
{
  guint32 sign = (guint32) (h & 0x8000) << 16;
  guint32 exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  float f;

  if (exp == 0x1f)              /* Inf or NaN */
    bits = sign | 0x7f800000 | (man << 13);
  else if (exp != 0)            /* normal: rebias 15 -> 127 */
    bits = sign | ((exp + 112) << 23) | (man << 13);
  else {                        /* zero or subnormal: man * 2^-24 */
    f = ldexpf ((float) man, -24);
    return sign ? -f : f;
  }
  memcpy (&f, &bits, 4);
  return f;
}

gboolean
lstm_tensor_to_f32 (const LstmTensorFile * file, const LstmTensor * t,
    float *dst, GError ** error)
{
  const guint8 *p = t->data;
  guint64 i;

  for (i = 0; i < t->n_elements; i++) {
    guint16 u16;
    guint32 u32;
    guint64 u64;
    double d;

    switch (t->dtype) {
      case LSTM_DTYPE_F32:
        memcpy (&u32, p + 4 * i, 4);
        u32 = GUINT32_FROM_LE (u32);
        memcpy (&dst[i], &u32, 4);
        break;
      case LSTM_DTYPE_F16:
        memcpy (&u16, p + 2 * i, 2);
        dst[i] = lstm_half_to_float (GUINT16_FROM_LE (u16));
        break;
      case LSTM_DTYPE_BF16:    /* the top 16 bits of a binary32 */
        memcpy (&u16, p + 2 * i, 2);
        u32 = (guint32) GUINT16_FROM_LE (u16) << 16;
        memcpy (&dst[i], &u32, 4);
        break;
      case LSTM_DTYPE_F64:
        memcpy (&u64, p + 8 * i, 8);
        u64 = GUINT64_FROM_LE (u64);
        memcpy (&d, &u64, 8);
        dst[i] = (float) d;
        if (isfinite (d) && !isfinite (dst[i])) {
          g_set_error (error, LSTM_ERROR, LSTM_ERROR_MODEL,
              "%s: tensor '%s' element %" G_GUINT64_FORMAT " (%g) does not "
              "fit in F32", file->name, t->name, i, d);
          return FALSE;
        }
        break;
      default:
        g_set_error (error, LSTM_ERROR, LSTM_ERROR_UNSUPPORTED,
            "%s: tensor '%s' has dtype %s; only F32, F16, BF16 and F64 are "
            "supported", file->name, t->name, t->dtype_name);
        return FALSE;
    }
    if (!isfinite (dst[i])) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_MODEL,
          "%s: tensor '%s' holds a non-finite value (%g) at element %"
          G_GUINT64_FORMAT, file->name, t->name, dst[i], i);
      return FALSE;
    }
  }
  return TRUE;
}

static JsonNode *
tensor_header (const LstmTensorOut * t, guint64 begin, guint64 end)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  guint i;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "dtype");
  json_builder_add_string_value (b, "F32");
  json_builder_set_member_name (b, "shape");
  json_builder_begin_array (b);
  for (i = 0; i < t->n_dims; i++)
    json_builder_add_int_value (b, (gint64) t->shape[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "data_offsets");
  json_builder_begin_array (b);
  json_builder_add_int_value (b, (gint64) begin);
  json_builder_add_int_value (b, (gint64) end);
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static guint64
tensor_out_elements (const LstmTensorOut * t)
{
  guint64 n = 1;
  guint i;
  for (i = 0; i < t->n_dims; i++)
    n *= t->shape[i];
  return n;
}

GBytes *
lstm_safetensors_write (const LstmTensorOut * tensors, guint n_tensors,
    GHashTable * metadata)
{
  g_autoptr (JsonObject) root = json_object_new ();
  g_autoptr (JsonNode) root_node = json_node_new (JSON_NODE_OBJECT);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autofree gchar *json = NULL;
  GByteArray *out;
  guint64 offset = 0, header_len, le;
  gsize json_len;
  guint i;

  if (metadata != NULL && g_hash_table_size (metadata) > 0) {
    JsonObject *meta = json_object_new ();
    g_autoptr (GList) keys = g_hash_table_get_keys (metadata);
    GList *l;
    /* Sorted, so that saving the same model twice gives the same bytes. */
    keys = g_list_sort (keys, (GCompareFunc) strcmp);
    for (l = keys; l != NULL; l = l->next)
      json_object_set_string_member (meta, l->data,
          g_hash_table_lookup (metadata, l->data));
    json_object_set_object_member (root, "__metadata__", meta);
  }
  for (i = 0; i < n_tensors; i++) {
    guint64 bytes = tensor_out_elements (&tensors[i]) * 4;
    json_object_set_member (root, tensors[i].name,
        tensor_header (&tensors[i], offset, offset + bytes));
    offset += bytes;
  }

  json_node_set_object (root_node, root);
  json_generator_set_root (gen, root_node);
  json = json_generator_to_data (gen, &json_len);

  /* Pad the header with spaces so the data section starts 8-byte aligned. */
  header_len = (json_len + 7) / 8 * 8;
  out = g_byte_array_sized_new (8 + header_len + offset);
  le = GUINT64_TO_LE (header_len);
  g_byte_array_append (out, (const guint8 *) &le, 8);
  g_byte_array_append (out, (const guint8 *) json, json_len);
  for (i = json_len; i < header_len; i++)
    g_byte_array_append (out, (const guint8 *) " ", 1);
  for (i = 0; i < n_tensors; i++) {
    guint64 j, n = tensor_out_elements (&tensors[i]);
    for (j = 0; j < n; j++) {
      guint32 bits;
      memcpy (&bits, &tensors[i].data[j], 4);
      bits = GUINT32_TO_LE (bits);
      g_byte_array_append (out, (const guint8 *) &bits, 4);
    }
  }
  return g_byte_array_free_to_bytes (out);
}
