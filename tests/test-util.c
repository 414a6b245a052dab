#include "test-util.h"

#include <math.h>

const gchar *const ref_case_names[] = {
  "i5_h17_l1", "i40_h128_l2_softmax12", "i3_h64_l3", "i80_h512_l2_f16",
  "i4_h8_l1_bf16", "i4_h8_l2_f64", "i6_h8_l2_nobias", NULL
};

gchar *
ref_path (const gchar * file)
{
  const gchar *dir = g_getenv ("LSTM_REFERENCE_DIR");
  if (dir == NULL)
    dir = LSTM_REFERENCE_DIR_DEFAULT;
  return g_build_filename (dir, file, NULL);
}

GBytes *
read_file_or_fail (const gchar * path)
{
  g_autoptr (GError) error = NULL;
  gchar *contents;
  gsize size;

  g_file_get_contents (path, &contents, &size, &error);
  g_assert_no_error (error);
  return g_bytes_new_take (contents, size);
}

float *
ref_take_tensor (LstmTensorFile * f, const gchar * name, guint n_dims,
    guint64 d0, guint64 d1)
{
  g_autoptr (GError) error = NULL;
  LstmTensor *t = g_hash_table_lookup (f->by_name, name);
  float *data;

  g_assert_nonnull (t);
  g_assert_cmpuint (t->n_dims, ==, n_dims);
  g_assert_cmpuint (t->shape[0], ==, d0);
  if (n_dims > 1)
    g_assert_cmpuint (t->shape[1], ==, d1);
  data = g_new (float, t->n_elements);
  lstm_tensor_to_f32 (f, t, data, &error);
  g_assert_no_error (error);
  return data;
}

RefCase *
ref_case_load (const gchar * name)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *model_file = g_strdup_printf ("%s.safetensors", name);
  g_autofree gchar *data_file = g_strdup_printf ("%s.data.safetensors", name);
  g_autofree gchar *model_path = ref_path (model_file);
  g_autofree gchar *data_path = ref_path (data_file);
  g_autoptr (GBytes) bytes = read_file_or_fail (data_path);
  g_autoptr (LstmTensorFile) f = NULL;
  RefCase *rc = g_new0 (RefCase, 1);
  LstmTensor *input;
  const guint8 *data;
  gsize size;
  guint L, H, O;

  rc->name = g_strdup (name);
  rc->model = lstm_model_load (model_path, &error);
  g_assert_no_error (error);

  data = g_bytes_get_data (bytes, &size);
  f = lstm_safetensors_parse (data, size, data_path, &error);
  g_assert_no_error (error);
  input = g_hash_table_lookup (f->by_name, "input");
  g_assert_nonnull (input);
  rc->T = input->shape[0];
  L = rc->model->num_layers;
  H = rc->model->hidden_size;
  O = lstm_model_get_output_size (rc->model);
  rc->input = ref_take_tensor (f, "input", 2, rc->T, rc->model->input_size);
  rc->output = ref_take_tensor (f, "output", 2, rc->T, O);
  rc->h_n = ref_take_tensor (f, "h_n", 2, L, H);
  rc->c_n = ref_take_tensor (f, "c_n", 2, L, H);
  return rc;
}

void
ref_case_free (RefCase * rc)
{
  if (rc == NULL)
    return;
  lstm_model_unref (rc->model);
  g_free (rc->name);
  g_free (rc->input);
  g_free (rc->output);
  g_free (rc->h_n);
  g_free (rc->c_n);
  g_free (rc);
}

double
max_abs_error (const float *a, const float *b, gsize n)
{
  double err = 0.0;
  gsize i;
  for (i = 0; i < n; i++) {
    double d = fabs ((double) a[i] - (double) b[i]);
    /* A NaN anywhere is an infinite error, not a skipped element. */
    if (!(d <= err))
      err = isnan (d) ? INFINITY : d;
  }
  return err;
}

double
rel_error (const float *a, const float *b, gsize n)
{
  double scale = 0.0;
  gsize i;
  for (i = 0; i < n; i++)
    scale = MAX (scale, fabs ((double) b[i]));
  return max_abs_error (a, b, n) / MAX (scale, 1e-30);
}

void
assert_same_cut (const float *got, const float *want, gsize n)
{
  if (g_str_equal (lstm_blas_get_kernels (), "openblas"))
    g_assert_cmpfloat (rel_error (got, want, n), <=, OPENBLAS_CUT_REL_TOL);
  else
    g_assert_cmpmem (got, n * sizeof (float), want, n * sizeof (float));
}

gchar *
run_self_with_kernels (const gchar * arg, const gchar * kernels)
{
  gchar *argv[] = { (gchar *) "/proc/self/exe", (gchar *) arg, NULL };
  gchar **envp = g_environ_setenv (g_get_environ (), "LSTM_BLAS_KERNELS",
      kernels, TRUE);
  gchar *out = NULL;
  gint status;
  g_autoptr (GError) error = NULL;

  g_assert_true (g_spawn_sync (NULL, argv, envp, G_SPAWN_DEFAULT, NULL, NULL,
          &out, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_strfreev (envp);
  return g_strstrip (out);
}
