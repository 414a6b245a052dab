#include "test-onnx-util.h"

gchar *
onnx_ref_path (const gchar * file)
{
  g_autofree gchar *data_dir = ref_path ("");

  return g_build_filename (data_dir, "..", "onnx", file, NULL);
}

OnnxRefFile *
onnx_ref_file_parse (GBytes * bytes, const gchar * name)
{
  g_autoptr (GError) error = NULL;
  OnnxRefFile *f = g_new0 (OnnxRefFile, 1);
  const guint8 *data;
  gsize size;

  f->bytes = g_bytes_ref (bytes);
  data = g_bytes_get_data (bytes, &size);
  f->file = lstm_safetensors_parse (data, size, name, &error);
  g_assert_no_error (error);
  return f;
}

void
onnx_ref_file_free (OnnxRefFile * f)
{
  lstm_tensor_file_free (f->file);
  g_bytes_unref (f->bytes);
  g_free (f);
}

float *
onnx_ref_tensor (const OnnxRefFile * f, const gchar * name,
    guint64 * n_elements)
{
  g_autoptr (GError) error = NULL;
  const LstmTensor *t = g_hash_table_lookup (f->file->by_name, name);
  float *data;

  if (t == NULL)
    g_error ("%s: no tensor '%s'", f->file->name, name);
  data = g_new (float, MAX (t->n_elements, 1));
  lstm_tensor_to_f32 (f->file, t, data, &error);
  g_assert_no_error (error);
  *n_elements = t->n_elements;
  return data;
}

double
onnx_case_forward_error (const gchar * name)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *onnx = g_strdup_printf ("%s.onnx", name);
  g_autofree gchar *data = g_strdup_printf ("%s.data.safetensors", name);
  g_autofree gchar *onnx_path = onnx_ref_path (onnx);
  g_autofree gchar *data_path = onnx_ref_path (data);
  g_autoptr (GBytes) bytes = read_file_or_fail (data_path);
  g_autoptr (OnnxRefFile) ref = onnx_ref_file_parse (bytes, data_path);
  g_autoptr (LstmModel) model = lstm_model_load (onnx_path, &error);
  g_autoptr (LstmState) state = NULL;
  g_autofree float *input = NULL, *expected = NULL, *output = NULL;
  guint64 n_in, n_out;
  guint T;

  g_assert_no_error (error);
  input = onnx_ref_tensor (ref, "input", &n_in);
  expected = onnx_ref_tensor (ref, "output", &n_out);
  T = n_in / model->input_size;
  g_assert_cmpuint ((guint64) T * model->input_size, ==, n_in);
  g_assert_cmpuint ((guint64) T * lstm_model_get_output_size (model), ==,
      n_out);
  output = g_new (float, n_out);
  state = lstm_state_new (model, 5);    /* chunks of 5: the chunked path */
  lstm_forward (model, state, input, T, output);
  return rel_error (output, expected, n_out);
}
