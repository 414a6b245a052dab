/* ONNX import: conversion against generate_onnx.py's expectations, the
 * LSTM end to end against PyTorch, refusals, and the protobuf reader on
 * broken bytes. (GRU, bidirectional, peephole, CIFG and clip end to end:
 * test-onnx-variants.c.) */
#include "test-onnx-util.h"
#include "lstm-onnx-private.h"

#include <glib/gstdio.h>
#include <string.h>

static const gchar *const cases[] = {
  "lstm_l2_softmax", "lstm_batchfirst_nobias", "gru_l2", "bilstm_l2_sigmoid",
  "lstm_peephole_mixed", "lstm_cifg_clip", "bigru_clip",
  "bilstm_peephole_clip", NULL
};

static GBytes *
convert_file (const gchar * file, GError ** error)
{
  g_autofree gchar *path = onnx_ref_path (file);
  g_autoptr (GBytes) onnx = read_file_or_fail (path);
  gsize size;
  const guint8 *data = g_bytes_get_data (onnx, &size);

  return lstm_onnx_convert (data, size, path, error);
}

/* Same names, shapes, bit-identical values (a reorder, and for FLOAT16 and
 * DOUBLE storage the same rounding numpy does), same metadata values. */
static void
test_convert (gconstpointer data)
{
  const gchar *name = data;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *onnx = g_strdup_printf ("%s.onnx", name);
  g_autofree gchar *exp_file = g_strdup_printf ("%s.expected.safetensors",
      name);
  g_autofree gchar *exp_path = onnx_ref_path (exp_file);
  g_autoptr (GBytes) exp_bytes = read_file_or_fail (exp_path);
  g_autoptr (GBytes) got_bytes = convert_file (onnx, &error);
  g_autoptr (OnnxRefFile) exp = NULL;
  g_autoptr (OnnxRefFile) got = NULL;
  GHashTableIter it;
  gpointer key, value;
  guint i;

  g_assert_no_error (error);
  exp = onnx_ref_file_parse (exp_bytes, exp_path);
  got = onnx_ref_file_parse (got_bytes, "converted");
  g_assert_cmpuint (got->file->tensors->len, ==, exp->file->tensors->len);
  for (i = 0; i < exp->file->tensors->len; i++) {
    const LstmTensor *e = exp->file->tensors->pdata[i];
    const LstmTensor *g = g_hash_table_lookup (got->file->by_name, e->name);
    g_autofree float *ev = NULL, *gv = NULL;
    guint64 n;

    if (g == NULL)
      g_error ("%s: the converter wrote no tensor '%s'", name, e->name);
    g_assert_cmpuint (g->n_dims, ==, e->n_dims);
    g_assert_cmpmem (g->shape, g->n_dims * sizeof (guint64), e->shape,
        e->n_dims * sizeof (guint64));
    ev = onnx_ref_tensor (exp, e->name, &n);
    gv = onnx_ref_tensor (got, e->name, &n);
    /* exact: -0 and 0 compare equal, which is what a negated zero gives */
    if (max_abs_error (gv, ev, n) != 0)
      g_error ("%s: tensor '%s' differs by %g", name, e->name,
          max_abs_error (gv, ev, n));
  }
  g_hash_table_iter_init (&it, exp->file->metadata);
  while (g_hash_table_iter_next (&it, &key, &value))
    g_assert_cmpstr (g_hash_table_lookup (got->file->metadata, key), ==, value);
  g_assert_cmpuint (g_hash_table_size (got->file->metadata), ==,
      g_hash_table_size (exp->file->metadata));
}

/* The LSTMs exported by torch.onnx.export, loaded through lstm_model_load's
 * .onnx path, against PyTorch's output. */
static void
test_forward_lstm (gconstpointer data)
{
  /* float32 forward vs PyTorch float32: 1e-5 of the output's scale (the
   * safetensors reference cases pass at the same tolerance) */
  double err = onnx_case_forward_error (data);

  g_test_message ("%s: max relative error %.3g", (const gchar *) data, err);
  g_assert_cmpfloat (err, <=, 1e-5);
}

/* A refused file: the error code, and words the message must contain
 * (the node, the attribute, the value). */
typedef struct
{
  const gchar *file;
  gint code;                    /* LstmError */
  const gchar *words[4];
} Refusal;

static const Refusal refusals[] = {
  {"bad-op-relu.onnx", LSTM_ERROR_UNSUPPORTED, {"node 'relu0'", "Relu"}},
  {"bad-op-side.onnx", LSTM_ERROR_UNSUPPORTED, {"node 'sin0'", "Sin"}},
  {"bad-activation.onnx", LSTM_ERROR_UNSUPPORTED,
      {"node 'rnn0'", "'activations'", "'Relu'"}},
  {"bad-attr.onnx", LSTM_ERROR_UNSUPPORTED,
      {"node 'rnn0'", "'output_sequence'"}},
  {"bad-direction.onnx", LSTM_ERROR_UNSUPPORTED,
      {"node 'rnn0'", "'direction'", "'reverse'"}},
  {"bad-gru-lbr0.onnx", LSTM_ERROR_UNSUPPORTED,
      {"node 'rnn0' (GRU)", "'linear_before_reset' is 0"}},
  {"bad-gru-lbr-absent.onnx", LSTM_ERROR_UNSUPPORTED,
      {"node 'rnn0' (GRU)", "'linear_before_reset' is absent"}},
  {"bad-missing-initializer.onnx", LSTM_ERROR_MODEL,
      {"node 'rnn0'", "input R 'R_missing'"}},
  {"bad-initial-h.onnx", LSTM_ERROR_UNSUPPORTED,
      {"node 'rnn0'", "initial_h", "not zero"}},
  {"bad-int-weights.onnx", LSTM_ERROR_MODEL,
      {"tensor 'W0'", "input W of node 'rnn0'", "data type 6"}},
  {"bad-softmax-axis.onnx", LSTM_ERROR_UNSUPPORTED,
      {"node 'softmax0'", "'axis'"}},
  {"bad-uses-y-h.onnx", LSTM_ERROR_UNSUPPORTED,
      {"node 'rnn0'", "output 'Yh0'", "only Y"}},
  {"bad-softmax-no-head.onnx", LSTM_ERROR_UNSUPPORTED,
      {"node 'softmax0'", "MatMul or Gemm head"}},
  /* a graph with no LSTM at all says so, not what it trips on first */
  {"bad-no-rnn.onnx", LSTM_ERROR_UNSUPPORTED,
      {"no LSTM or GRU node", "MatMul, Add, Relu"}},
  /* head (h_n[-1]): the final state through a Gather */
  {"bad-head-on-final-state.onnx", LSTM_ERROR_UNSUPPORTED,
      {"node 'gather0'", "output 'Yh0'", "only Y", "output-mode=last"}},
  /* export_params=False, do_constant_folding=False: what to change */
  {"bad-weight-input.onnx", LSTM_ERROR_UNSUPPORTED,
      {"node 'fc_bias'", "'head_b' is not a constant", "export_params=True"}},
  {"bad-weight-computed.onnx", LSTM_ERROR_MODEL,
      {"node 'rnn0'", "input W 'W0'", "do_constant_folding=True"}},
};

static void
test_refuse (gconstpointer data)
{
  const Refusal *r = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = convert_file (r->file, &error);
  guint i;

  g_assert_null (bytes);
  g_assert_error (error, LSTM_ERROR, r->code);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, r->file));
  for (i = 0; i < G_N_ELEMENTS (r->words) && r->words[i] != NULL; i++)
    if (strstr (error->message, r->words[i]) == NULL)
      g_error ("'%s' not in: %s", r->words[i], error->message);
}

/* Either converted or refused with a message; never a crash (ASan). */
static void
convert_or_refuse (const guint8 * data, gsize size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = lstm_onnx_convert (data, size, "broken", &error);

  if (bytes == NULL) {
    g_assert_nonnull (error);
    g_assert_true (error->domain == LSTM_ERROR);
    g_assert_cmpstr (error->message, !=, "");
  } else
    g_assert_null (error);
}

static void
test_truncated (void)
{
  g_autofree gchar *path = onnx_ref_path ("lstm_l2_softmax.onnx");
  g_autoptr (GBytes) onnx = read_file_or_fail (path);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) half = NULL;
  gsize size, n;
  const guint8 *data = g_bytes_get_data (onnx, &size);

  for (n = 0; n < size; n += 13)
    convert_or_refuse (data, n);
  /* the middle of the file is inside the graph: a field runs past the end */
  half = lstm_onnx_convert (data, size / 2, "half", &error);
  g_assert_null (half);
  g_assert_error (error, LSTM_ERROR, LSTM_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "runs past the end"));
}

static void
test_corrupt (void)
{
  g_autofree gchar *path = onnx_ref_path ("bilstm_l2_sigmoid.onnx");
  g_autoptr (GBytes) onnx = read_file_or_fail (path);
  gsize size, i;
  const guint8 *data = g_bytes_get_data (onnx, &size);
  g_autofree guint8 *copy = g_memdup2 (data, size);

  for (i = 0; i < size; i += 11) {
    copy[i] ^= 0xff;
    convert_or_refuse (copy, size);
    copy[i] ^= 0xff;
  }
}

/* Bytes that are not protobuf at all, and not ONNX. */
static void
test_not_onnx (void)
{
  static const struct
  {
    const gchar *bytes;
    gsize len;
    gint code;
    const gchar *words;
  } bad[] = {
    {"", 0, LSTM_ERROR_FORMAT, "no graph"},
    {"\x0b", 1, LSTM_ERROR_FORMAT, "wire type 3"},
    {"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12,
        LSTM_ERROR_FORMAT, "longer than 10 bytes"},
    {"\x08\xff", 2, LSTM_ERROR_FORMAT, "truncated varint"},
    {"\x3a\x05\x0a\x03", 4, LSTM_ERROR_FORMAT, "runs past the end"},
    {"\x3a\x00", 2, LSTM_ERROR_MODEL, "no output"},
    {"\x3a\x00\x3a\x00", 4, LSTM_ERROR_FORMAT, "two graphs"},
    {"\x05\x00\x00", 3, LSTM_ERROR_FORMAT, "field number 0"},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GBytes) out = lstm_onnx_convert ((const guint8 *) bad[i].bytes,
        bad[i].len, "bytes", &error);
    g_assert_null (out);
    g_assert_error (error, LSTM_ERROR, bad[i].code);
    if (strstr (error->message, bad[i].words) == NULL)
      g_error ("case %u: '%s' not in: %s", i, bad[i].words, error->message);
  }
}

/* Packed and unpacked repeated fields read the same; nesting is bounded. */
static void
test_pb_reader (void)
{
  /* field 1 = 3, 300 unpacked; field 1 packed [5, 150] */
  static const guint8 msg[] = { 0x08, 0x03, 0x08, 0xac, 0x02, 0x0a, 0x03,
    0x05, 0x96, 0x01
  };
  static const guint8 nest[] = { 0x0a, 0x00 };
  g_autoptr (GArray) v = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GError) error = NULL;
  LstmPbReader r, sub;
  LstmPbField f;
  gint got;

  lstm_pb_reader_init (&r, msg, sizeof msg, "test", "Test");
  while ((got = lstm_pb_next (&r, &f, &error)) > 0)
    g_assert_true (lstm_pb_append_varints (&r, &f, v, &error));
  g_assert_no_error (error);
  g_assert_cmpint (got, ==, 0);
  g_assert_cmpuint (v->len, ==, 4);
  g_assert_cmpint (g_array_index (v, gint64, 1), ==, 300);
  g_assert_cmpint (g_array_index (v, gint64, 3), ==, 150);

  lstm_pb_reader_init (&r, nest, sizeof nest, "test", "Test");
  r.depth = LSTM_PB_MAX_DEPTH;
  g_assert_cmpint (lstm_pb_next (&r, &f, &error), ==, 1);
  g_assert_false (lstm_pb_sub (&r, &f, "Deep", &sub, &error));
  g_assert_error (error, LSTM_ERROR, LSTM_ERROR_FORMAT);
}

/* An ONNX file under a .safetensors name: the safetensors reader refuses
 * it, and the error says what it is and what to do. */
static void
test_onnx_misnamed (void)
{
  g_autofree gchar *src = onnx_ref_path ("gru_l2.onnx");
  g_autofree gchar *dir = g_dir_make_tmp ("lstm-onnx-XXXXXX", NULL);
  g_autofree gchar *path = g_build_filename (dir, "m.safetensors", NULL);
  g_autoptr (GBytes) bytes = read_file_or_fail (src);
  g_autoptr (GError) error = NULL;
  LstmModel *m;

  g_assert_true (g_file_set_contents (path, g_bytes_get_data (bytes, NULL),
          g_bytes_get_size (bytes), NULL));
  m = lstm_model_load (path, &error);
  g_assert_null (m);
  g_assert_error (error, LSTM_ERROR, LSTM_ERROR_FORMAT);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "is an ONNX model: name it "
          ".onnx"));
  g_unlink (path);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  guint i;

  g_test_init (&argc, &argv, NULL);
  for (i = 0; cases[i] != NULL; i++) {
    g_autofree gchar *p = g_strdup_printf ("/onnx/convert/%s", cases[i]);
    g_test_add_data_func (p, cases[i], test_convert);
  }
  g_test_add_data_func ("/onnx/forward/lstm_l2_softmax", "lstm_l2_softmax",
      test_forward_lstm);
  g_test_add_data_func ("/onnx/forward/lstm_batchfirst_nobias",
      "lstm_batchfirst_nobias", test_forward_lstm);
  for (i = 0; i < G_N_ELEMENTS (refusals); i++) {
    g_autofree gchar *p = g_strdup_printf ("/onnx/refuse/%s",
        refusals[i].file);
    g_test_add_data_func (p, &refusals[i], test_refuse);
  }
  g_test_add_func ("/onnx/refuse/truncated", test_truncated);
  g_test_add_func ("/onnx/refuse/misnamed", test_onnx_misnamed);
  g_test_add_func ("/onnx/refuse/corrupt", test_corrupt);
  g_test_add_func ("/onnx/refuse/not-onnx", test_not_onnx);
  g_test_add_func ("/onnx/protobuf/reader", test_pb_reader);
  return g_test_run ();
}
