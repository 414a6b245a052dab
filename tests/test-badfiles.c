/* Broken model files: every one is refused with a GError that says what is
 * wrong, and none makes the loader crash or read out of bounds (run this
 * under ASan/UBSan to check the second half; see tests/fuzz/ for more).
 *
 * Most cases start from a small valid file built here (base_model ()) and
 * break one thing, so that the error can only come from that one thing.
 * Raw headers are written with ' for " to keep them readable (see
 * file_from_json ()).
 */
#include "lstm.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#define FILE_NAME "bad.safetensors"

/* ------------------------------------------------------------ building */

/* One header entry: a tensor whose data_offsets are computed when the file
 * is built, or an entry written as raw JSON. */
typedef struct
{
  gchar *name;
  gchar *raw;                   /* the entry's JSON value, or NULL */
  gchar *dtype;
  gchar *shape;                 /* JSON text, e.g. "[16, 3]" */
  guint8 *data;                 /* NULL: `size` zero bytes */
  gsize size;
} Entry;

typedef struct
{
  GPtrArray *entries;           /* Entry*, in header order */
  gchar *metadata;              /* the JSON object text, or NULL */
} Builder;

static void
entry_free (Entry * e)
{
  g_free (e->name);
  g_free (e->raw);
  g_free (e->dtype);
  g_free (e->shape);
  g_free (e->data);
  g_free (e);
}

static void
builder_free (Builder * b)
{
  g_ptr_array_unref (b->entries);
  g_free (b->metadata);
  g_free (b);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Builder, builder_free);

static Builder *
builder_new (void)
{
  Builder *b = g_new0 (Builder, 1);
  b->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
  return b;
}

/* ' stands for " so that JSON reads well in C strings (so \' is \"). */
static gchar *
unquote (const gchar * s)
{
  gchar *out = g_strdup (s);
  g_strdelimit (out, "'", '"');
  return out;
}

static gsize
dtype_size (const gchar * dtype)
{
  if (strcmp (dtype, "F64") == 0 || strcmp (dtype, "I64") == 0)
    return 8;
  if (strcmp (dtype, "F32") == 0 || strcmp (dtype, "I32") == 0)
    return 4;
  if (strcmp (dtype, "F16") == 0 || strcmp (dtype, "BF16") == 0)
    return 2;
  g_assert_cmpstr (dtype, ==, "U8");
  return 1;
}

/* Element count of a shape written as "[a, b, ...]". */
static guint64
shape_elements (const gchar * shape)
{
  guint64 n = 1;
  const gchar *p = shape + 1;

  g_assert_true (shape[0] == '[');
  while (*p != ']') {
    gchar *end;
    n *= g_ascii_strtoull (p, &end, 10);
    g_assert_true (end != p);
    p = end;
    while (*p == ',' || *p == ' ')
      p++;
  }
  return n;
}

static Entry *
find_entry (Builder * b, const gchar * name)
{
  guint i;
  for (i = 0; i < b->entries->len; i++) {
    Entry *e = b->entries->pdata[i];
    if (strcmp (e->name, name) == 0)
      return e;
  }
  return NULL;
}

/* Adds (or replaces, keeping its place) an entry. */
static Entry *
put_entry (Builder * b, const gchar * name)
{
  Entry *e = find_entry (b, name);

  if (e == NULL) {
    e = g_new0 (Entry, 1);
    e->name = g_strdup (name);
    g_ptr_array_add (b->entries, e);
  }
  g_clear_pointer (&e->raw, g_free);
  g_clear_pointer (&e->dtype, g_free);
  g_clear_pointer (&e->shape, g_free);
  g_clear_pointer (&e->data, g_free);
  e->size = 0;
  return e;
}

/* A tensor of zeros (a finite value in every float dtype). */
static void
add_tensor (Builder * b, const gchar * name, const gchar * dtype,
    const gchar * shape)
{
  Entry *e = put_entry (b, name);
  e->dtype = g_strdup (dtype);
  e->shape = g_strdup (shape);
  e->size = shape_elements (shape) * dtype_size (dtype);
}

/* An F32 tensor with every element `value`. */
static void
add_filled (Builder * b, const gchar * name, const gchar * shape, float value)
{
  Entry *e;
  gsize i;

  add_tensor (b, name, "F32", shape);
  e = find_entry (b, name);
  e->data = g_malloc (e->size);
  for (i = 0; i < e->size / 4; i++)
    memcpy (e->data + 4 * i, &value, 4);
}

/* An entry whose value is written as is (' for "). */
static void
add_raw (Builder * b, const gchar * name, const gchar * json)
{
  Entry *e = put_entry (b, name);
  e->raw = unquote (json);
}

static void
remove_entry (Builder * b, const gchar * name)
{
  Entry *e = find_entry (b, name);
  g_assert_nonnull (e);
  g_ptr_array_remove (b->entries, e);
}

/* Overwrites element `index` of a tensor with `n` raw little-endian bytes. */
static void
set_element (Builder * b, const gchar * name, gsize index, const void *bytes,
    gsize n)
{
  Entry *e = find_entry (b, name);

  g_assert_nonnull (e);
  g_assert_cmpuint (n, ==, dtype_size (e->dtype));
  g_assert_cmpuint ((index + 1) * n, <=, e->size);
  if (e->data == NULL)
    e->data = g_malloc0 (e->size);
  memcpy (e->data + index * n, bytes, n);
}

static void
set_f32 (Builder * b, const gchar * name, gsize index, float value)
{
  guint32 bits;
  memcpy (&bits, &value, 4);
  bits = GUINT32_TO_LE (bits);
  set_element (b, name, index, &bits, 4);
}

static void
set_metadata (Builder * b, const gchar * json)
{
  g_free (b->metadata);
  b->metadata = json != NULL ? unquote (json) : NULL;
}

/* The four tensors of nn.LSTM layer k. */
static void
add_layer (Builder * b, const gchar * prefix, guint k, guint in, guint H)
{
  static const gchar *const kinds[] = {
    "weight_ih", "weight_hh", "bias_ih", "bias_hh"
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (kinds); i++) {
    g_autofree gchar *name = g_strdup_printf ("%s%s_l%u", prefix, kinds[i], k);
    g_autofree gchar *shape = i == 0 ? g_strdup_printf ("[%u, %u]", 4 * H, in)
        : i == 1 ? g_strdup_printf ("[%u, %u]", 4 * H, H)
        : g_strdup_printf ("[%u]", 4 * H);
    add_tensor (b, name, "F32", shape);
  }
}

/* I = 3, H = 4, two layers "lstm.", head "fc." of 2 outputs, softmax,
 * labels and normalization: a bit of everything the loader reads. */
static Builder *
base_model (void)
{
  Builder *b = builder_new ();

  add_layer (b, "lstm.", 0, 3, 4);
  add_layer (b, "lstm.", 1, 4, 4);
  add_tensor (b, "fc.weight", "F32", "[2, 4]");
  add_tensor (b, "fc.bias", "F32", "[2]");
  add_tensor (b, "input_mean", "F32", "[3]");
  add_filled (b, "input_std", "[3]", 1.0f);
  set_metadata (b, "{'output': 'softmax', 'labels': '[\\'yes\\', \\'no\\']'}");
  return b;
}

/* 8-byte length `header_len`, then `json` as is, then `data_size` zeros.
 * g_malloc0 leaves the zeros to the kernel, so huge data costs nothing
 * until it is read. */
static GBytes *
file_with_length (guint64 header_len, const gchar * json, gsize json_len,
    gsize data_size)
{
  guint8 *p = g_malloc0 (8 + json_len + data_size);
  guint64 le = GUINT64_TO_LE (header_len);

  memcpy (p, &le, 8);
  memcpy (p + 8, json, json_len);
  return g_bytes_new_take (p, 8 + json_len + data_size);
}

/* A file whose header is `json` with ' read as ", and `data_size` zeros. */
static GBytes *
file_from_json (const gchar * json, gsize data_size)
{
  g_autofree gchar *text = unquote (json);
  return file_with_length (strlen (text), text, strlen (text), data_size);
}

static GBytes *
builder_to_bytes (Builder * b)
{
  GString *json = g_string_new ("{");
  g_autofree gchar *text = NULL;
  guint64 offset = 0;
  guint8 *p;
  gsize json_len;
  GBytes *file;
  guint i;

  if (b->metadata != NULL)
    g_string_append_printf (json, "\"__metadata__\": %s", b->metadata);
  for (i = 0; i < b->entries->len; i++) {
    Entry *e = b->entries->pdata[i];
    if (json->len > 1)
      g_string_append (json, ", ");
    if (e->raw != NULL) {
      g_string_append_printf (json, "\"%s\": %s", e->name, e->raw);
      continue;
    }
    g_string_append_printf (json, "\"%s\": {\"dtype\": \"%s\", \"shape\": %s, "
        "\"data_offsets\": [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT "]}",
        e->name, e->dtype, e->shape, offset, offset + e->size);
    offset += e->size;
  }
  g_string_append_c (json, '}');
  json_len = json->len;
  text = g_string_free (json, FALSE);

  file = file_with_length (json_len, text, json_len, offset);
  p = (guint8 *) g_bytes_get_data (file, NULL) + 8 + json_len;
  for (i = 0; i < b->entries->len; i++) {
    Entry *e = b->entries->pdata[i];
    if (e->raw != NULL)
      continue;
    if (e->data != NULL)
      memcpy (p, e->data, e->size);
    p += e->size;
  }
  return file;
}

/* ------------------------------------------------------------ checking */

/* The file must be refused with `code` and a message that names the file
 * and holds every word of the NULL-terminated list. */
static void
expect_refused_bytes (GBytes * file, LstmError code, const gchar * word, ...)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LstmModel) m = NULL;
  gsize size;
  const guint8 *data = g_bytes_get_data (file, &size);
  va_list args;

  m = lstm_model_load_from_data (data, size, FILE_NAME, &error);
  g_assert_null (m);
  g_assert_nonnull (error);
  g_test_message ("refused: %s", error->message);
  g_assert_error (error, LSTM_ERROR, (gint) code);
  g_assert_nonnull (strstr (error->message, FILE_NAME));
  va_start (args, word);
  for (; word != NULL; word = va_arg (args, const gchar *))
  {
    if (strstr (error->message, word) == NULL)
      g_test_message ("'%s' is not in the message", word);
    g_assert_nonnull (strstr (error->message, word));
  }
  va_end (args);
}

#define expect_refused(b, code, ...) G_STMT_START {                     \
    g_autoptr (GBytes) file_ = builder_to_bytes (b);                    \
    expect_refused_bytes (file_, code, __VA_ARGS__, NULL);              \
  } G_STMT_END

#define expect_refused_json(json, data_size, code, ...) G_STMT_START {  \
    g_autoptr (GBytes) file_ = file_from_json (json, data_size);        \
    expect_refused_bytes (file_, code, __VA_ARGS__, NULL);              \
  } G_STMT_END

static LstmModel *
expect_loads (Builder * b)
{
  g_autoptr (GBytes) file = builder_to_bytes (b);
  g_autoptr (GError) error = NULL;
  gsize size;
  const guint8 *data = g_bytes_get_data (file, &size);
  LstmModel *m = lstm_model_load_from_data (data, size, FILE_NAME, &error);

  g_assert_no_error (error);
  g_assert_nonnull (m);
  return m;
}

/* --------------------------------------------------------- the cases */

/* The builder's base file is valid, so each case below fails for its one
 * defect only. */
static void
test_base_loads (void)
{
  g_autoptr (Builder) b = base_model ();
  g_autoptr (LstmModel) m = expect_loads (b);

  g_assert_cmpuint (m->input_size, ==, 3);
  g_assert_cmpuint (m->hidden_size, ==, 4);
  g_assert_cmpuint (m->num_layers, ==, 2);
  g_assert_cmpuint (m->head_size, ==, 2);
  g_assert_cmpint (m->output, ==, LSTM_OUTPUT_SOFTMAX);
  g_assert_cmpstr (m->labels[1], ==, "no");
  g_assert_nonnull (m->input_std);
  g_assert_cmpfloat (m->input_std[2], ==, 1.0f);
}

/* Every proper prefix of a valid file is refused as truncated. */
static void
test_truncated_every_offset (void)
{
  const gchar *labels[] = { "left", "right", NULL };
  const float mean[3] = { 0.5f, -1.0f, 2.0f }, std[3] = { 1.0f, 2.0f, 0.5f };
  g_autoptr (GError) error = NULL;
  g_autoptr (LstmModel) model = lstm_model_new (3, 4, 2, 2,
      LSTM_OUTPUT_SOFTMAX, &error);
  g_autoptr (LstmModel) back = NULL;
  g_autoptr (GBytes) bytes = NULL;
  const guint8 *data;
  gsize size, n;

  g_assert_no_error (error);
  lstm_model_init_random (model, 7);
  g_assert_true (lstm_model_set_labels (model, labels, &error));
  g_assert_true (lstm_model_set_normalization (model, mean, std, &error));
  bytes = lstm_model_save_to_bytes (model);
  data = g_bytes_get_data (bytes, &size);

  back = lstm_model_load_from_data (data, size, FILE_NAME, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->labels[0], ==, "left");

  for (n = 0; n < size; n++) {
    g_autoptr (GError) err = NULL;
    /* A copy of exactly n bytes, so ASan sees any read past the end. */
    g_autofree guint8 *prefix = g_memdup2 (data, n);
    LstmModel *m = lstm_model_load_from_data (prefix, n, FILE_NAME, &err);

    g_assert_null (m);
    g_assert_error (err, LSTM_ERROR, LSTM_ERROR_FORMAT);
    if (strstr (err->message, "truncated") == NULL)
      g_test_message ("%" G_GSIZE_FORMAT " bytes: %s", n, err->message);
    g_assert_nonnull (strstr (err->message, "truncated"));
  }
  g_test_message ("%" G_GSIZE_FORMAT " prefixes refused", size);
}

static void
test_header_length (void)
{
  const gchar *json = "{}";
  g_autoptr (GBytes) beyond = file_with_length (1000, json, 2, 10);
  g_autoptr (GBytes) huge = file_with_length (G_GUINT64_CONSTANT (1) << 63,
      json, 2, 0);
  g_autoptr (GBytes) all_ones = file_with_length (G_MAXUINT64, json, 2, 0);
  /* a header of 100 MB + 1 that is all there: above the size limit */
  gsize big = 100 * 1000 * 1000 + 1;
  g_autoptr (GBytes) over_limit = file_with_length (big, "", 0, big);

  expect_refused_bytes (beyond, LSTM_ERROR_FORMAT, "1000", "beyond",
      "truncated", NULL);
  expect_refused_bytes (huge, LSTM_ERROR_FORMAT, "9223372036854775808",
      "beyond", NULL);
  expect_refused_bytes (all_ones, LSTM_ERROR_FORMAT, "18446744073709551615",
      "beyond", NULL);
  expect_refused_bytes (over_limit, LSTM_ERROR_FORMAT, "100000001", "limit",
      NULL);
}

static void
test_invalid_json (void)
{
  g_autoptr (GBytes) nul = file_with_length (4, "{\0}x", 4, 0);

  expect_refused_json ("{'a': }", 0, LSTM_ERROR_FORMAT, "JSON");
  expect_refused_json ("{'a': 1", 0, LSTM_ERROR_FORMAT, "JSON");
  expect_refused_json ("{} {}", 0, LSTM_ERROR_FORMAT, "JSON");
  expect_refused_json ("{'a\xff': 1}", 0, LSTM_ERROR_FORMAT, "UTF-8");
  expect_refused_bytes (nul, LSTM_ERROR_FORMAT, "NUL", NULL);
  /* json-glib reads an empty document as "no root" */
  expect_refused_json ("", 0, LSTM_ERROR_FORMAT, "empty");
  expect_refused_json ("        ", 0, LSTM_ERROR_FORMAT, "empty");
}

static void
test_json_not_object (void)
{
  expect_refused_json ("[1, 2]", 0, LSTM_ERROR_FORMAT, "not a JSON object");
  expect_refused_json ("'lstm'", 0, LSTM_ERROR_FORMAT, "not a JSON object");
  expect_refused_json ("42", 0, LSTM_ERROR_FORMAT, "not a JSON object");
  expect_refused_json ("null", 0, LSTM_ERROR_FORMAT, "not a JSON object");
}

/* json-glib recurses per level: 100000 levels would overflow the stack. */
static void
test_json_deeply_nested (void)
{
  const gsize depth = 100000;
  g_autofree gchar *brackets = g_malloc (depth + 1);
  g_autofree gchar *braces = NULL;
  g_autofree gchar *in_meta = NULL;
  g_autoptr (Builder) b = base_model ();
  g_autoptr (LstmModel) m = NULL;

  memset (brackets, '[', depth);
  brackets[depth] = '\0';
  braces = g_strnfill (depth, '{');
  expect_refused_json (brackets, 0, LSTM_ERROR_FORMAT, "JSON", "deeper");
  expect_refused_json (braces, 0, LSTM_ERROR_FORMAT, "JSON", "deeper");
  in_meta = g_strdup_printf ("{'__metadata__': {'a': %s}}", brackets);
  expect_refused_json (in_meta, 0, LSTM_ERROR_FORMAT, "deeper");

  /* json-glib also reads 'single-quoted' strings and comments: a " inside
   * them must not hide brackets from the depth scan. */
  {
    g_autofree gchar *sq = g_strdup_printf ("{\"a\": '\"', \"b\": %s",
        brackets);
    g_autofree gchar *comment = g_strdup_printf ("{/* \" */ \"b\": %s",
        brackets);
    g_autoptr (GBytes) f1 = file_with_length (strlen (sq), sq, strlen (sq), 0);
    g_autoptr (GBytes) f2 = file_with_length (strlen (comment), comment,
        strlen (comment), 0);
    expect_refused_bytes (f1, LSTM_ERROR_FORMAT, "JSON", NULL);
    expect_refused_bytes (f2, LSTM_ERROR_FORMAT, "JSON", NULL);
  }

  /* The labels are JSON too, parsed a second time. */
  {
    g_autofree gchar *meta = g_strdup_printf ("{'labels': '%s'}", brackets);
    set_metadata (b, meta);
    expect_refused (b, LSTM_ERROR_MODEL, "labels");
  }

  /* Brackets inside strings are text, not nesting: this loads. */
  {
    g_autofree gchar *meta = g_strdup_printf ("{'note': '%s ]]] \\\\ \\' {{', "
        "'output': 'softmax', 'labels': '[\\'a\\', \\'b\\']'}", brackets);
    set_metadata (b, meta);
    m = expect_loads (b);
    g_assert_cmpuint (strlen (lstm_model_get_metadata (m, "note")), >, depth);
  }
}

static void
test_metadata_not_strings (void)
{
  g_autoptr (Builder) b = base_model ();

  set_metadata (b, "{'output': 'softmax', 'epochs': 12}");
  expect_refused (b, LSTM_ERROR_FORMAT, "'epochs'", "not a string");
  set_metadata (b, "{'labels': ['yes', 'no']}");
  expect_refused (b, LSTM_ERROR_FORMAT, "'labels'", "not a string");
  set_metadata (b, "{'output': null}");
  expect_refused (b, LSTM_ERROR_FORMAT, "'output'", "not a string");
  set_metadata (b, "['output', 'softmax']");
  expect_refused (b, LSTM_ERROR_FORMAT, "__metadata__", "not a JSON object");
  set_metadata (b, "'softmax'");
  expect_refused (b, LSTM_ERROR_FORMAT, "__metadata__", "not a JSON object");
}

static void
test_entry_incomplete (void)
{
  g_autoptr (Builder) b = base_model ();

  add_raw (b, "lstm.bias_hh_l1", "[16]");
  expect_refused (b, LSTM_ERROR_FORMAT, "'lstm.bias_hh_l1'", "not an object");
  add_raw (b, "lstm.bias_hh_l1", "{'shape': [16], 'data_offsets': [0, 64]}");
  expect_refused (b, LSTM_ERROR_FORMAT, "'lstm.bias_hh_l1'", "dtype");
  add_raw (b, "lstm.bias_hh_l1",
      "{'dtype': 32, 'shape': [16], 'data_offsets': [0, 64]}");
  expect_refused (b, LSTM_ERROR_FORMAT, "'lstm.bias_hh_l1'", "dtype");
  add_raw (b, "lstm.bias_hh_l1", "{'dtype': 'F32', 'data_offsets': [0, 64]}");
  expect_refused (b, LSTM_ERROR_FORMAT, "'lstm.bias_hh_l1'", "shape");
  add_raw (b, "lstm.bias_hh_l1", "{'dtype': 'F32', 'shape': 16, "
      "'data_offsets': [0, 64]}");
  expect_refused (b, LSTM_ERROR_FORMAT, "'lstm.bias_hh_l1'", "shape");
  add_raw (b, "lstm.bias_hh_l1", "{'dtype': 'F32', 'shape': [16]}");
  expect_refused (b, LSTM_ERROR_FORMAT, "'lstm.bias_hh_l1'", "data_offsets");
}

static void
test_dtype (void)
{
  g_autoptr (Builder) b = base_model ();

  expect_refused_json ("{'w': {'dtype': 'F33', 'shape': [2], "
      "'data_offsets': [0, 8]}}", 8, LSTM_ERROR_FORMAT, "'w'", "F33");
  expect_refused_json ("{'w': {'dtype': 'f32', 'shape': [2], "
      "'data_offsets': [0, 8]}}", 8, LSTM_ERROR_FORMAT, "'w'", "f32");
  g_clear_pointer (&b, builder_free);

  /* A valid safetensors dtype that an LSTM cannot compute with. */
  b = base_model ();
  add_tensor (b, "lstm.weight_hh_l0", "I64", "[16, 4]");
  expect_refused (b, LSTM_ERROR_UNSUPPORTED, "lstm.weight_hh_l0", "I64");
  g_clear_pointer (&b, builder_free);
  b = base_model ();
  add_tensor (b, "input_std", "U8", "[3]");
  expect_refused (b, LSTM_ERROR_UNSUPPORTED, "input_std", "U8");
}

static void
test_shape_entries (void)
{
  static const gchar *const bad[] = {
    "[-16, 4]", "[16.0, 4]", "[16, '4']", "[16, null]", "[16, [4]]",
    "[16, 1e2]", "[16, true]", "[18446744073709551616, 4]",
  };
  g_autoptr (Builder) b = base_model ();
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autofree gchar *raw = g_strdup_printf ("{'dtype': 'F32', 'shape': %s, "
        "'data_offsets': [0, 256]}", bad[i]);
    add_raw (b, "lstm.weight_hh_l0", raw);
    expect_refused (b, LSTM_ERROR_FORMAT, "'lstm.weight_hh_l0'", "shape");
  }
  add_raw (b, "lstm.weight_hh_l0", "{'dtype': 'F32', "
      "'shape': [1, 1, 1, 1, 1, 1, 1, 1, 64], 'data_offsets': [0, 256]}");
  expect_refused (b, LSTM_ERROR_FORMAT, "'lstm.weight_hh_l0'", "9 dimensions");
}

static void
test_offsets (void)
{
  /* out of range, reversed, not a pair of non-negative integers */
  expect_refused_json ("{'a': {'dtype': 'F32', 'shape': [8], "
      "'data_offsets': [0, 32]}}", 16, LSTM_ERROR_FORMAT, "'a'", "[0, 32]",
      "beyond", "16 bytes");
  expect_refused_json ("{'a': {'dtype': 'F32', 'shape': [1], "
      "'data_offsets': [18446744073709551612, 18446744073709551615]}}", 16,
      LSTM_ERROR_FORMAT, "'a'", "data_offsets");
  expect_refused_json ("{'a': {'dtype': 'F32', 'shape': [1], "
      "'data_offsets': [9223372036854775800, 9223372036854775804]}}", 16,
      LSTM_ERROR_FORMAT, "'a'", "beyond");
  expect_refused_json ("{'a': {'dtype': 'F32', 'shape': [1], "
      "'data_offsets': [8, 4]}}", 16, LSTM_ERROR_FORMAT, "'a'", "[8, 4]",
      "end before");
  expect_refused_json ("{'a': {'dtype': 'F32', 'shape': [1], "
      "'data_offsets': [0]}}", 16, LSTM_ERROR_FORMAT, "'a'", "data_offsets");
  expect_refused_json ("{'a': {'dtype': 'F32', 'shape': [1], "
      "'data_offsets': [0, 4, 8]}}", 16, LSTM_ERROR_FORMAT, "data_offsets");
  expect_refused_json ("{'a': {'dtype': 'F32', 'shape': [1], "
      "'data_offsets': [-4, 0]}}", 16, LSTM_ERROR_FORMAT, "data_offsets");
  expect_refused_json ("{'a': {'dtype': 'F32', 'shape': [1], "
      "'data_offsets': [0, 4.0]}}", 16, LSTM_ERROR_FORMAT, "data_offsets");
  expect_refused_json ("{'a': {'dtype': 'F32', 'shape': [1], "
      "'data_offsets': {'begin': 0, 'end': 4}}}", 16, LSTM_ERROR_FORMAT,
      "data_offsets");
}

static void
test_offsets_overlap (void)
{
  expect_refused_json ("{'a': {'dtype': 'F32', 'shape': [4], "
      "'data_offsets': [0, 16]}, 'b': {'dtype': 'F32', 'shape': [4], "
      "'data_offsets': [8, 24]}}", 24, LSTM_ERROR_FORMAT, "overlap", "'a'",
      "'b'");
  /* the same bytes twice, listed in the other order */
  expect_refused_json ("{'b': {'dtype': 'F32', 'shape': [4], "
      "'data_offsets': [0, 16]}, 'a': {'dtype': 'F32', 'shape': [4], "
      "'data_offsets': [0, 16]}}", 16, LSTM_ERROR_FORMAT, "overlap");
  /* one inside another */
  expect_refused_json ("{'a': {'dtype': 'F32', 'shape': [8], "
      "'data_offsets': [0, 32]}, 'b': {'dtype': 'F16', 'shape': [2], "
      "'data_offsets': [20, 24]}}", 32, LSTM_ERROR_FORMAT, "overlap");
  /* touching is fine, and an empty tensor overlaps nothing: these get as
   * far as the LSTM names */
  expect_refused_json ("{'a': {'dtype': 'F32', 'shape': [4], "
      "'data_offsets': [0, 16]}, 'b': {'dtype': 'F32', 'shape': [0], "
      "'data_offsets': [8, 8]}, 'c': {'dtype': 'F32', 'shape': [4], "
      "'data_offsets': [16, 32]}}", 32, LSTM_ERROR_MODEL, "no LSTM tensors");
}

static void
test_shape_size_mismatch (void)
{
  g_autoptr (Builder) b = base_model ();

  expect_refused_json ("{'a': {'dtype': 'F32', 'shape': [4], "
      "'data_offsets': [0, 12]}}", 16, LSTM_ERROR_FORMAT, "'a'", "[4]",
      "needs 16 bytes", "give 12");
  expect_refused_json ("{'a': {'dtype': 'F16', 'shape': [2, 3], "
      "'data_offsets': [0, 24]}}", 24, LSTM_ERROR_FORMAT, "F16", "[2, 3]",
      "needs 12 bytes", "give 24");
  /* a shape entry of 0 makes a tensor of 0 bytes */
  expect_refused_json ("{'a': {'dtype': 'F32', 'shape': [0, 4], "
      "'data_offsets': [0, 16]}}", 16, LSTM_ERROR_FORMAT, "needs 0 bytes");

  /* within a model */
  add_raw (b, "fc.bias", "{'dtype': 'F32', 'shape': [3], "
      "'data_offsets': [0, 8]}");
  expect_refused (b, LSTM_ERROR_FORMAT, "'fc.bias'", "needs 12 bytes");
}

static void
test_huge_dimensions (void)
{
  /* 2^40 rows: the size check must not believe the shape */
  expect_refused_json ("{'a': {'dtype': 'F32', 'shape': [1099511627776, 4], "
      "'data_offsets': [0, 16]}}", 16, LSTM_ERROR_FORMAT,
      "[1099511627776, 4]", "needs 17592186044416 bytes");
  expect_refused_json ("{'a': {'dtype': 'F32', 'shape': [1099511627776, 4], "
      "'data_offsets': [0, 17592186044416]}}", 16, LSTM_ERROR_FORMAT, "beyond");
  /* 2^32 * 2^32 elements: the count itself overflows */
  expect_refused_json ("{'a': {'dtype': 'F32', 'shape': [4294967296, 1, "
      "4294967296], 'data_offsets': [0, 16]}}", 16, LSTM_ERROR_FORMAT,
      "overflows 64 bits");
  expect_refused_json ("{'a': {'dtype': 'F32', 'shape': "
      "[9223372036854775807, 3], 'data_offsets': [0, 16]}}", 16,
      LSTM_ERROR_FORMAT, "overflows 64 bits");
  /* 2^62 elements fit, their 2^64 bytes do not */
  expect_refused_json ("{'a': {'dtype': 'F32', 'shape': [2305843009213693952, "
      "2], 'data_offsets': [0, 16]}}", 16, LSTM_ERROR_FORMAT,
      "more than 2^64 bytes");
}

static void
test_missing_tensor (void)
{
  g_autoptr (Builder) b = base_model ();

  /* biases are all there or none (nn.LSTM (bias=False)): one missing is
   * an error */
  remove_entry (b, "lstm.bias_hh_l1");
  expect_refused (b, LSTM_ERROR_MODEL, "missing", "'lstm.bias_hh_l1'");
  g_clear_pointer (&b, builder_free);

  /* layer 1 without layer 0 */
  b = base_model ();
  remove_entry (b, "lstm.weight_ih_l0");
  remove_entry (b, "lstm.weight_hh_l0");
  remove_entry (b, "lstm.bias_ih_l0");
  remove_entry (b, "lstm.bias_hh_l0");
  expect_refused (b, LSTM_ERROR_MODEL, "missing", "'lstm.weight_ih_l0'");
  g_clear_pointer (&b, builder_free);

  /* nothing that looks like an LSTM */
  b = builder_new ();
  add_tensor (b, "fc.weight", "F32", "[2, 4]");
  add_tensor (b, "fc.bias", "F32", "[2]");
  expect_refused (b, LSTM_ERROR_MODEL, "no LSTM tensors");
  expect_refused_json ("{}", 0, LSTM_ERROR_MODEL, "no LSTM tensors");
}

static void
test_layer_shapes (void)
{
  g_autoptr (Builder) b = base_model ();

  /* layer 1 must take layer 0's H = 4 outputs */
  add_tensor (b, "lstm.weight_ih_l1", "F32", "[16, 3]");
  expect_refused (b, LSTM_ERROR_MODEL, "'lstm.weight_ih_l1'", "[16, 3]",
      "expected [16, 4]", "layer 1 takes the 4 outputs of layer 0");
  g_clear_pointer (&b, builder_free);

  b = base_model ();
  add_tensor (b, "lstm.weight_hh_l0", "F32", "[16, 5]");
  expect_refused (b, LSTM_ERROR_MODEL, "'lstm.weight_hh_l0'", "[16, 5]",
      "[4H, H]");
  add_tensor (b, "lstm.weight_hh_l0", "F32", "[64]");
  expect_refused (b, LSTM_ERROR_MODEL, "'lstm.weight_hh_l0'", "[64]");
  add_tensor (b, "lstm.weight_hh_l0", "F32", "[16, 4, 1]");
  expect_refused (b, LSTM_ERROR_MODEL, "'lstm.weight_hh_l0'", "[16, 4, 1]");
  g_clear_pointer (&b, builder_free);

  b = base_model ();
  add_tensor (b, "lstm.weight_hh_l1", "F32", "[20, 5]");
  expect_refused (b, LSTM_ERROR_MODEL, "'lstm.weight_hh_l1'", "[20, 5]",
      "expected [16, 4]");
  g_clear_pointer (&b, builder_free);

  b = base_model ();
  add_tensor (b, "lstm.bias_ih_l0", "F32", "[4, 4]");
  expect_refused (b, LSTM_ERROR_MODEL, "'lstm.bias_ih_l0'", "[4, 4]",
      "expected [16]");
  g_clear_pointer (&b, builder_free);

  b = base_model ();
  add_tensor (b, "lstm.weight_ih_l0", "F32", "[16, 0]");
  expect_refused (b, LSTM_ERROR_MODEL, "'lstm.weight_ih_l0'", "[16, 0]");
}

/* Sizes above LSTM_MAX_*: the data is all there (zeros, never read). */
static void
test_sizes_above_limits (void)
{
  g_autoptr (Builder) b = builder_new ();

  /* H = 4097: weight_hh alone is 16388 x 4097 F16, 134 MB */
  add_layer (b, "", 0, 1, 4097);
  add_tensor (b, "weight_hh_l0", "F16", "[16388, 4097]");
  expect_refused (b, LSTM_ERROR_MODEL, "'weight_hh_l0'", "[16388, 4097]",
      "4096");
  g_clear_pointer (&b, builder_free);

  b = base_model ();
  add_tensor (b, "lstm.weight_ih_l0", "F16", "[16, 65537]");
  expect_refused (b, LSTM_ERROR_MODEL, "'lstm.weight_ih_l0'", "65536");
  g_clear_pointer (&b, builder_free);

  b = base_model ();
  set_metadata (b, NULL);
  add_tensor (b, "fc.weight", "F16", "[65537, 4]");
  add_tensor (b, "fc.bias", "F16", "[65537]");
  expect_refused (b, LSTM_ERROR_MODEL, "'fc.weight'", "65537", "65536");
  g_clear_pointer (&b, builder_free);

  b = base_model ();
  add_layer (b, "lstm.", 64, 4, 4);
  expect_refused (b, LSTM_ERROR_MODEL, "'lstm.weight_ih_l64'",
      "at most 64 layers");
  g_clear_pointer (&b, builder_free);

  b = base_model ();
  add_tensor (b, "lstm.weight_ih_l99999999999999999999999", "F32", "[1]");
  expect_refused (b, LSTM_ERROR_MODEL, "at most 64 layers");
}

static void
test_head (void)
{
  g_autoptr (Builder) b = base_model ();

  /* nn.Linear (bias=False): zeros (tests/reference i6_h8_l2_nobias runs
   * such a model against PyTorch) */
  remove_entry (b, "fc.bias");
  {
    g_autoptr (LstmModel) m = expect_loads (b);
    for (guint i = 0; i < m->head_size; i++)
      g_assert_cmpfloat (m->head_bias[i], ==, 0.0f);
  }
  g_clear_pointer (&b, builder_free);

  b = base_model ();
  add_tensor (b, "fc.weight", "F32", "[2, 5]");
  expect_refused (b, LSTM_ERROR_MODEL, "'fc.weight'", "[2, 5]",
      "expected [2, 4]", "top layer");
  g_clear_pointer (&b, builder_free);

  b = base_model ();
  add_tensor (b, "fc.bias", "F32", "[3]");
  expect_refused (b, LSTM_ERROR_MODEL, "'fc.bias'", "[3]", "expected [2]");
  g_clear_pointer (&b, builder_free);

  b = base_model ();
  add_tensor (b, "fc.weight", "F32", "[0, 4]");
  add_tensor (b, "fc.bias", "F32", "[0]");
  expect_refused (b, LSTM_ERROR_MODEL, "'fc.weight'", "0 outputs");
  g_clear_pointer (&b, builder_free);

  b = base_model ();
  add_tensor (b, "out.weight", "F32", "[2, 4]");
  add_tensor (b, "out.bias", "F32", "[2]");
  expect_refused (b, LSTM_ERROR_UNSUPPORTED, "two head", "'fc.weight'",
      "'out.weight'");
}

static void
test_normalization (void)
{
  g_autoptr (Builder) b = base_model ();

  remove_entry (b, "input_std");
  expect_refused (b, LSTM_ERROR_MODEL, "input_mean is present",
      "input_std is missing");
  g_clear_pointer (&b, builder_free);

  b = base_model ();
  remove_entry (b, "input_mean");
  expect_refused (b, LSTM_ERROR_MODEL, "input_mean is missing");
  g_clear_pointer (&b, builder_free);

  b = base_model ();
  set_f32 (b, "input_std", 1, 0.0f);
  expect_refused (b, LSTM_ERROR_MODEL, "input_std[1]", "greater than 0");
  set_f32 (b, "input_std", 1, -2.0f);
  expect_refused (b, LSTM_ERROR_MODEL, "input_std[1]", "greater than 0");
  set_f32 (b, "input_std", 1, 1.0f);
  set_f32 (b, "input_std", 2, INFINITY);
  expect_refused (b, LSTM_ERROR_MODEL, "input_std");
  g_clear_pointer (&b, builder_free);

  b = base_model ();
  add_tensor (b, "input_mean", "F32", "[4]");
  expect_refused (b, LSTM_ERROR_MODEL, "'input_mean'", "[4]",
      "one per input feature");
  g_clear_pointer (&b, builder_free);

  b = base_model ();
  add_filled (b, "norm.input_std", "[3]", 1.0f);
  expect_refused (b, LSTM_ERROR_MODEL, "two normalization tensors",
      "'norm.input_std'");
}

static void
test_labels (void)
{
  static const gchar *const not_lists[] = {
    "{'labels': 'yes'}", "{'labels': '{}'}", "{'labels': ''}",
    "{'labels': '   '}", "{'labels': '[1, 2]'}",
    "{'labels': '[\\'a\\', null]'}", "{'labels': '[\\'a\\', [\\'b\\']]'}",
    "{'labels': '[\\'a\\' \\'b\\']'}",
  };
  g_autoptr (Builder) b = base_model ();
  guint i;

  set_metadata (b, "{'labels': '[\\'a\\', \\'b\\', \\'c\\']'}");
  expect_refused (b, LSTM_ERROR_MODEL, "labels", "3 labels", "2 outputs");
  set_metadata (b, "{'labels': '[\\'a\\']'}");
  expect_refused (b, LSTM_ERROR_MODEL, "labels", "1 labels", "2 outputs");
  set_metadata (b, "{'labels': '[\\'a\\', \\'\\']'}");
  expect_refused (b, LSTM_ERROR_MODEL, "labels", "empty");
  for (i = 0; i < G_N_ELEMENTS (not_lists); i++) {
    set_metadata (b, not_lists[i]);
    expect_refused (b, LSTM_ERROR_MODEL, "labels");
  }
  g_clear_pointer (&b, builder_free);

  /* labels for a model without a head */
  b = base_model ();
  remove_entry (b, "fc.weight");
  remove_entry (b, "fc.bias");
  expect_refused (b, LSTM_ERROR_MODEL, "labels", "no head");
}

static void
test_output_unknown (void)
{
  g_autoptr (Builder) b = base_model ();

  set_metadata (b, "{'output': 'tanh'}");
  expect_refused (b, LSTM_ERROR_MODEL, "'output'", "'tanh'", "softmax");
  set_metadata (b, "{'output': 'Softmax'}");
  expect_refused (b, LSTM_ERROR_MODEL, "'Softmax'");
  set_metadata (b, "{'output': ''}");
  expect_refused (b, LSTM_ERROR_MODEL, "'output'");
}

static void
test_non_finite (void)
{
  const guint16 f16_inf = GUINT16_TO_LE (0x7c00);
  const guint16 f16_nan = GUINT16_TO_LE (0x7e00);
  const guint16 bf16_nan = GUINT16_TO_LE (0x7fc0);
  g_autoptr (Builder) b = base_model ();
  guint64 bits;
  double d;

  set_f32 (b, "lstm.weight_hh_l1", 7, NAN);
  expect_refused (b, LSTM_ERROR_MODEL, "'lstm.weight_hh_l1'", "non-finite",
      "element 7");
  set_f32 (b, "lstm.weight_hh_l1", 7, -INFINITY);
  expect_refused (b, LSTM_ERROR_MODEL, "'lstm.weight_hh_l1'", "-inf");
  g_clear_pointer (&b, builder_free);

  b = base_model ();
  add_tensor (b, "lstm.bias_ih_l0", "F16", "[16]");
  set_element (b, "lstm.bias_ih_l0", 3, &f16_inf, 2);
  expect_refused (b, LSTM_ERROR_MODEL, "'lstm.bias_ih_l0'", "inf", "element 3");
  set_element (b, "lstm.bias_ih_l0", 3, &f16_nan, 2);
  expect_refused (b, LSTM_ERROR_MODEL, "'lstm.bias_ih_l0'", "nan");
  g_clear_pointer (&b, builder_free);

  b = base_model ();
  add_tensor (b, "lstm.weight_ih_l0", "BF16", "[16, 3]");
  set_element (b, "lstm.weight_ih_l0", 47, &bf16_nan, 2);
  expect_refused (b, LSTM_ERROR_MODEL, "'lstm.weight_ih_l0'", "element 47");
  g_clear_pointer (&b, builder_free);

  b = base_model ();
  add_tensor (b, "fc.bias", "F64", "[2]");
  d = INFINITY;
  memcpy (&bits, &d, 8);
  bits = GUINT64_TO_LE (bits);
  set_element (b, "fc.bias", 1, &bits, 8);
  expect_refused (b, LSTM_ERROR_MODEL, "'fc.bias'", "inf", "element 1");
  /* finite in F64, infinite in F32 */
  d = 1e300;
  memcpy (&bits, &d, 8);
  bits = GUINT64_TO_LE (bits);
  set_element (b, "fc.bias", 1, &bits, 8);
  expect_refused (b, LSTM_ERROR_MODEL, "'fc.bias'", "does not fit in F32");
}

static void
test_unexpected_names (void)
{
  g_autoptr (Builder) b = base_model ();

  add_tensor (b, "num_batches_tracked", "F32", "[1]");
  expect_refused (b, LSTM_ERROR_MODEL, "unexpected tensor",
      "'num_batches_tracked'");
  add_tensor (b, "num_batches_tracked", "I64", "[]");
  expect_refused (b, LSTM_ERROR_MODEL, "'num_batches_tracked'");
  g_clear_pointer (&b, builder_free);

  b = base_model ();
  add_tensor (b, "lstm.weight_ih_l0x", "F32", "[16, 3]");
  expect_refused (b, LSTM_ERROR_MODEL, "'lstm.weight_ih_l0x'", "'x'");
  g_clear_pointer (&b, builder_free);

  /* two names for layer 0's weight_ih */
  b = base_model ();
  add_tensor (b, "lstm.weight_ih_l00", "F32", "[16, 3]");
  expect_refused (b, LSTM_ERROR_MODEL, "'lstm.weight_ih_l0'",
      "'lstm.weight_ih_l00'", "layer 0");
  g_clear_pointer (&b, builder_free);

  /* a 1-D "weight" is not a head */
  b = base_model ();
  add_tensor (b, "ln.weight", "F32", "[4]");
  expect_refused (b, LSTM_ERROR_MODEL, "unexpected tensor", "'ln.weight'");
}

/* Variant tensors that do not make a whole variant. */
static void
test_incomplete_variant (void)
{
  g_autoptr (Builder) b = base_model ();

  add_tensor (b, "lstm.weight_ih_l0_reverse", "F32", "[16, 3]");
  expect_refused (b, LSTM_ERROR_MODEL, "missing tensor",
      "'lstm.weight_hh_l0_reverse'", "bidirectional");
  g_clear_pointer (&b, builder_free);

  /* weight_hr [2, 4] makes weight_hh [16, 2]: the file's [16, 4] is wrong */
  b = base_model ();
  add_tensor (b, "lstm.weight_hr_l0", "F32", "[2, 4]");
  expect_refused (b, LSTM_ERROR_MODEL, "missing tensor", "'lstm.weight_hr_l1'");
  add_tensor (b, "lstm.weight_hr_l1", "F32", "[2, 4]");
  expect_refused (b, LSTM_ERROR_MODEL, "'lstm.weight_hh_l0'", "[16, 4]",
      "[16, 2]");
}

/* Peephole, layer norm, GRU and the variant metadata keys, each wrong. */
static void
test_bad_variant (void)
{
  g_autoptr (Builder) b = base_model ();
  g_autoptr (LstmModel) m = NULL;

  add_tensor (b, "lstm.weight_peephole_l0", "F32", "[12]");
  add_tensor (b, "lstm.weight_peephole_l1", "F32", "[12]");
  m = expect_loads (b);
  g_assert_true (m->peephole);
  g_clear_pointer (&m, lstm_model_unref);
  remove_entry (b, "lstm.weight_peephole_l1");
  add_tensor (b, "lstm.weight_peephole_l1", "F32", "[16]");
  expect_refused (b, LSTM_ERROR_MODEL, "'lstm.weight_peephole_l1'", "[16]",
      "[12]");
  g_clear_pointer (&b, builder_free);

  b = base_model ();
  add_filled (b, "lstm.layer_norm_ih_weight_l0", "[16]", 1.0f);
  expect_refused (b, LSTM_ERROR_MODEL, "missing tensor",
      "'lstm.layer_norm_ih_bias_l0'");
  g_clear_pointer (&b, builder_free);

  b = base_model ();
  set_metadata (b, "{'cell-clip': '-1'}");
  expect_refused (b, LSTM_ERROR_MODEL, "'cell-clip'", "'-1'", "positive");
  set_metadata (b, "{'cell-clip': '3x'}");
  expect_refused (b, LSTM_ERROR_MODEL, "'cell-clip'", "'3x'");
  set_metadata (b, "{'cell-clip': 'inf'}");
  expect_refused (b, LSTM_ERROR_MODEL, "'cell-clip'", "'inf'");
  set_metadata (b, "{'cell': 'rnn'}");
  expect_refused (b, LSTM_ERROR_MODEL, "'cell'", "'rnn'", "lstm or gru");
  set_metadata (b, "{'coupled-gates': 'yes'}");
  expect_refused (b, LSTM_ERROR_MODEL, "'coupled-gates'", "'yes'");
  set_metadata (b, "{'bidirectional': 'true'}");
  expect_refused (b, LSTM_ERROR_MODEL, "'bidirectional'",
      "'lstm.weight_ih_l0_reverse'");
  /* the LSTM's [16, 4] recurrent weights are not a GRU's [12, 4] */
  set_metadata (b, "{'cell': 'gru'}");
  expect_refused (b, LSTM_ERROR_MODEL, "'lstm.weight_hh_l0'", "[3H, H]",
      "'gru'");
  set_metadata (b, "{'cell-clip': '2.5', 'coupled-gates': 'true'}");
  m = expect_loads (b);
  g_assert_cmpfloat (m->cell_clip, ==, 2.5f);
  g_assert_true (m->coupled_gates);
  g_clear_pointer (&m, lstm_model_unref);
  g_clear_pointer (&b, builder_free);

  /* a GRU (inferred from [12, 4]) with a peephole is not defined */
  b = builder_new ();
  add_tensor (b, "gru.weight_ih_l0", "F32", "[12, 3]");
  add_tensor (b, "gru.weight_hh_l0", "F32", "[12, 4]");
  add_tensor (b, "gru.bias_ih_l0", "F32", "[12]");
  add_tensor (b, "gru.bias_hh_l0", "F32", "[12]");
  m = expect_loads (b);
  g_assert_cmpint (m->cell, ==, LSTM_CELL_GRU);
  g_clear_pointer (&m, lstm_model_unref);
  add_tensor (b, "gru.weight_peephole_l0", "F32", "[12]");
  expect_refused (b, LSTM_ERROR_MODEL, "GRU", "peephole");
}

static void
test_two_prefixes (void)
{
  g_autoptr (Builder) b = base_model ();

  remove_entry (b, "lstm.bias_hh_l1");
  add_tensor (b, "rnn.bias_hh_l1", "F32", "[16]");
  expect_refused (b, LSTM_ERROR_MODEL, "two prefixes", "'lstm.'", "'rnn.'",
      "'rnn.bias_hh_l1'");
  g_clear_pointer (&b, builder_free);

  /* a second whole LSTM */
  b = base_model ();
  add_layer (b, "encoder.", 0, 3, 4);
  expect_refused (b, LSTM_ERROR_MODEL, "two prefixes", "'encoder.'");
}

/* Files that are fine: the loader is strict, not fussy. */
static void
test_valid_variants (void)
{
  g_autoptr (Builder) b = base_model ();
  g_autoptr (LstmModel) m1 = NULL;
  g_autoptr (LstmModel) m2 = NULL;
  g_autoptr (LstmModel) m3 = NULL;
  guint i;

  /* header entries in reverse order, no metadata, a mix of dtypes */
  for (i = 0; i < b->entries->len / 2; i++) {
    gpointer t = b->entries->pdata[i];
    b->entries->pdata[i] = b->entries->pdata[b->entries->len - 1 - i];
    b->entries->pdata[b->entries->len - 1 - i] = t;
  }
  set_metadata (b, NULL);
  add_tensor (b, "lstm.weight_ih_l0", "F16", "[16, 3]");
  add_tensor (b, "fc.weight", "F64", "[2, 4]");
  add_tensor (b, "lstm.bias_hh_l1", "BF16", "[16]");
  m1 = expect_loads (b);
  g_assert_cmpint (m1->output, ==, LSTM_OUTPUT_IDENTITY);
  g_assert_null (m1->labels);
  g_clear_pointer (&b, builder_free);

  /* no prefix, no head, no normalization, an empty metadata object */
  b = builder_new ();
  add_layer (b, "", 0, 2, 3);
  set_metadata (b, "{}");
  m2 = expect_loads (b);
  g_assert_cmpuint (lstm_model_get_output_size (m2), ==, 3);
  g_clear_pointer (&b, builder_free);

  /* extra metadata is kept; JSON escapes in labels are decoded */
  b = base_model ();
  set_metadata (b, "{'sample_rate': '16000', 'labels': "
      "'[\\'\\\\u00e9t\\\\u00e9\\', \\'no\\']'}");
  m3 = expect_loads (b);
  g_assert_cmpstr (lstm_model_get_metadata (m3, "sample_rate"), ==, "16000");
  g_assert_cmpstr (m3->labels[0], ==, "\xc3\xa9t\xc3\xa9");
}

/* Every reference model loads; the data files beside them are valid
 * safetensors files but not models. */
static void
test_reference_models (void)
{
  const gchar *dir_name = g_getenv ("LSTM_REFERENCE_DIR");
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) dir = NULL;
  const gchar *file;
  guint n_models = 0, n_data = 0;

#ifdef LSTM_REFERENCE_DIR_DEFAULT
  if (dir_name == NULL)
    dir_name = LSTM_REFERENCE_DIR_DEFAULT;
#endif
  if (dir_name == NULL) {
    g_test_skip ("LSTM_REFERENCE_DIR is not set");
    return;
  }
  dir = g_dir_open (dir_name, 0, &error);
  g_assert_no_error (error);
  while ((file = g_dir_read_name (dir)) != NULL) {
    g_autofree gchar *path = g_build_filename (dir_name, file, NULL);
    g_autoptr (LstmModel) m = NULL;
    g_autoptr (GError) err = NULL;

    if (!g_str_has_suffix (file, ".safetensors"))
      continue;
    m = lstm_model_load (path, &err);
    if (g_str_has_suffix (file, ".data.safetensors")) {
      g_assert_null (m);
      g_assert_error (err, LSTM_ERROR, LSTM_ERROR_MODEL);
      g_assert_nonnull (strstr (err->message, file));
      n_data++;
    } else {
      g_assert_no_error (err);
      g_assert_nonnull (m);
      n_models++;
    }
  }
  g_test_message ("%u reference models loaded, %u data files refused",
      n_models, n_data);
  g_assert_cmpuint (n_models, >=, 6);
  g_assert_cmpuint (n_data, ==, n_models);
}

static void
test_missing_path (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstm-badfiles-XXXXXX", NULL);
  g_autofree gchar *path = g_build_filename (dir, "no-such-model.safetensors",
      NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) error2 = NULL;
  LstmModel *m;

  g_assert_nonnull (dir);
  m = lstm_model_load (path, &error);
  g_assert_null (m);
  g_assert_error (error, LSTM_ERROR, LSTM_ERROR_IO);
  g_test_message ("refused: %s", error->message);
  g_assert_nonnull (strstr (error->message, path));

  /* a directory is not a model file either */
  m = lstm_model_load (dir, &error2);
  g_assert_null (m);
  g_assert_error (error2, LSTM_ERROR, LSTM_ERROR_IO);
  g_assert_nonnull (strstr (error2->message, dir));
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/lstm/io/bad/base-loads", test_base_loads);
  g_test_add_func ("/lstm/io/bad/truncated-every-offset",
      test_truncated_every_offset);
  g_test_add_func ("/lstm/io/bad/header-length", test_header_length);
  g_test_add_func ("/lstm/io/bad/invalid-json", test_invalid_json);
  g_test_add_func ("/lstm/io/bad/json-not-object", test_json_not_object);
  g_test_add_func ("/lstm/io/bad/json-deeply-nested", test_json_deeply_nested);
  g_test_add_func ("/lstm/io/bad/metadata-not-strings",
      test_metadata_not_strings);
  g_test_add_func ("/lstm/io/bad/entry-incomplete", test_entry_incomplete);
  g_test_add_func ("/lstm/io/bad/dtype", test_dtype);
  g_test_add_func ("/lstm/io/bad/shape-entries", test_shape_entries);
  g_test_add_func ("/lstm/io/bad/offsets", test_offsets);
  g_test_add_func ("/lstm/io/bad/offsets-overlap", test_offsets_overlap);
  g_test_add_func ("/lstm/io/bad/shape-size-mismatch",
      test_shape_size_mismatch);
  g_test_add_func ("/lstm/io/bad/huge-dimensions", test_huge_dimensions);
  g_test_add_func ("/lstm/io/bad/missing-tensor", test_missing_tensor);
  g_test_add_func ("/lstm/io/bad/layer-shapes", test_layer_shapes);
  g_test_add_func ("/lstm/io/bad/sizes-above-limits", test_sizes_above_limits);
  g_test_add_func ("/lstm/io/bad/head", test_head);
  g_test_add_func ("/lstm/io/bad/normalization", test_normalization);
  g_test_add_func ("/lstm/io/bad/labels", test_labels);
  g_test_add_func ("/lstm/io/bad/output-unknown", test_output_unknown);
  g_test_add_func ("/lstm/io/bad/non-finite", test_non_finite);
  g_test_add_func ("/lstm/io/bad/unexpected-names", test_unexpected_names);
  g_test_add_func ("/lstm/io/bad/incomplete-variant", test_incomplete_variant);
  g_test_add_func ("/lstm/io/bad/variant", test_bad_variant);
  g_test_add_func ("/lstm/io/bad/two-prefixes", test_two_prefixes);
  g_test_add_func ("/lstm/io/bad/missing-path", test_missing_path);
  g_test_add_func ("/lstm/io/good/valid-variants", test_valid_variants);
  g_test_add_func ("/lstm/io/good/reference-models", test_reference_models);

  return g_test_run ();
}
