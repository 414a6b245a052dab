/* Model files: PyTorch's names, conversions, save -> load, atomic saves.
 * (Broken files are test-badfiles.c.) */
#include "test-util.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct
{
  const gchar *name;
  guint input, hidden, layers, head;
  LstmOutput output;
  gboolean norm, labels;
} Expect;

/* What tests/reference/generate.py wrote (see tests/reference/README.md):
 * prefixes "lstm.", "", "rnn." and heads "fc.", "head.", "classifier.",
 * "out."; no metadata at all in i5, i3, bf16 and nobias. */
static const Expect expected[] = {
  {"i5_h17_l1", 5, 17, 1, 0, LSTM_OUTPUT_IDENTITY, FALSE, FALSE},
  {"i40_h128_l2_softmax12", 40, 128, 2, 12, LSTM_OUTPUT_SOFTMAX, TRUE, TRUE},
  {"i3_h64_l3", 3, 64, 3, 1, LSTM_OUTPUT_IDENTITY, FALSE, FALSE},
  {"i80_h512_l2_f16", 80, 512, 2, 4, LSTM_OUTPUT_SIGMOID, FALSE, FALSE},
  {"i4_h8_l1_bf16", 4, 8, 1, 0, LSTM_OUTPUT_IDENTITY, FALSE, FALSE},
  {"i4_h8_l2_f64", 4, 8, 2, 3, LSTM_OUTPUT_IDENTITY, FALSE, FALSE},
  /* nn.LSTM (bias=False) + nn.Linear (bias=False): no bias tensors */
  {"i6_h8_l2_nobias", 6, 8, 2, 3, LSTM_OUTPUT_IDENTITY, FALSE, FALSE},
};

static LstmModel *
load_ref (const gchar * name)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *file = g_strdup_printf ("%s.safetensors", name);
  g_autofree gchar *path = ref_path (file);
  LstmModel *m = lstm_model_load (path, &error);
  g_assert_no_error (error);
  return m;
}

static void
test_load_reference (gconstpointer data)
{
  const Expect *e = data;
  g_autoptr (LstmModel) m = load_ref (e->name);

  g_assert_cmpuint (m->input_size, ==, e->input);
  g_assert_cmpuint (m->hidden_size, ==, e->hidden);
  g_assert_cmpuint (m->num_layers, ==, e->layers);
  g_assert_cmpuint (m->head_size, ==, e->head);
  g_assert_cmpint (m->output, ==, e->output);
  g_assert_cmpint (m->input_mean != NULL, ==, e->norm);
  g_assert_cmpint (m->labels != NULL, ==, e->labels);
  g_assert_true (lstm_model_check_finite (m, NULL));
  if (e->labels) {
    g_assert_cmpuint (g_strv_length (m->labels), ==, 12);
    g_assert_cmpstr (m->labels[0], ==, "yes");
    g_assert_cmpstr (m->labels[11], ==, "_silence_");
  }
}

static void
assert_models_equal (const LstmModel * a, const LstmModel * b)
{
  GHashTableIter it;
  gpointer key, value;

  g_assert_cmpuint (a->input_size, ==, b->input_size);
  g_assert_cmpuint (a->hidden_size, ==, b->hidden_size);
  g_assert_cmpuint (a->num_layers, ==, b->num_layers);
  g_assert_cmpuint (a->head_size, ==, b->head_size);
  g_assert_cmpint (a->output, ==, b->output);
  /* bit-exact, padding included (both zero) */
  g_assert_cmpmem (a->params, a->n_params * 4, b->params, b->n_params * 4);
  g_assert_cmpint (a->input_mean != NULL, ==, b->input_mean != NULL);
  if (a->input_mean != NULL) {
    g_assert_cmpmem (a->input_mean, a->input_size * 4, b->input_mean,
        b->input_size * 4);
    g_assert_cmpmem (a->input_std, a->input_size * 4, b->input_std,
        b->input_size * 4);
  }
  if (a->labels != NULL || b->labels != NULL)
    g_assert_cmpstrv (a->labels, b->labels);
  g_hash_table_iter_init (&it, a->metadata);
  while (g_hash_table_iter_next (&it, &key, &value)) {
    if (strcmp (key, "output") != 0 && strcmp (key, "labels") != 0)
      g_assert_cmpstr (g_hash_table_lookup (b->metadata, key), ==, value);
  }
}

/* save -> load gives back the same floats bit for bit, and saving the
 * loaded model again gives the same bytes. */
static void
test_save_load_exact (gconstpointer data)
{
  const Expect *e = data;
  g_autoptr (LstmModel) m = load_ref (e->name);
  g_autoptr (LstmModel) back = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GBytes) again = NULL;
  g_autoptr (GError) error = NULL;
  const guint8 *p;
  gsize size;

  lstm_model_set_metadata (m, "note", "caf\xc3\xa9 \"quoted\"\n");
  bytes = lstm_model_save_to_bytes (m);
  p = g_bytes_get_data (bytes, &size);
  back = lstm_model_load_from_data (p, size, "saved", &error);
  g_assert_no_error (error);
  assert_models_equal (m, back);
  g_assert_cmpstr (lstm_model_get_metadata (back, "note"), ==,
      "caf\xc3\xa9 \"quoted\"\n");
  again = lstm_model_save_to_bytes (back);
  g_assert_true (g_bytes_equal (bytes, again));
}

/* What we write uses PyTorch's names, so nn.LSTM loads it. */
static void
test_saved_names (void)
{
  g_autoptr (LstmModel) m = load_ref ("i40_h128_l2_softmax12");
  g_autoptr (GBytes) bytes = lstm_model_save_to_bytes (m);
  g_autoptr (LstmTensorFile) f = NULL;
  static const gchar *const names[] = {
    "lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0",
    "lstm.bias_hh_l0", "lstm.weight_ih_l1", "lstm.weight_hh_l1",
    "lstm.bias_ih_l1", "lstm.bias_hh_l1", "head.weight", "head.bias",
    "input_mean", "input_std"
  };
  gsize size;
  const guint8 *p = g_bytes_get_data (bytes, &size);
  guint i;

  f = lstm_safetensors_parse (p, size, "saved", NULL);
  g_assert_nonnull (f);
  g_assert_cmpuint (f->tensors->len, ==, G_N_ELEMENTS (names));
  for (i = 0; i < G_N_ELEMENTS (names); i++) {
    LstmTensor *t = f->tensors->pdata[i];
    g_assert_cmpstr (t->name, ==, names[i]);
    g_assert_cmpstr (t->dtype_name, ==, "F32");
  }
  g_assert_cmpstr (g_hash_table_lookup (f->metadata, "output"), ==, "softmax");
  g_assert_cmpstr (g_hash_table_lookup (f->metadata, "labels"), ==,
      "[\"yes\",\"no\",\"up\",\"down\",\"left\",\"right\",\"on\",\"off\","
      "\"stop\",\"go\",\"_unknown_\",\"_silence_\"]");
  /* the data section starts 8-byte aligned */
  g_assert_cmpuint (GUINT64_FROM_LE (*(guint64 *) p) % 8, ==, 0);
}

static guint
count_entries (const gchar * dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  guint n = 0;
  while (g_dir_read_name (d) != NULL)
    n++;
  return n;
}

/* A save replaces the file whole and leaves no temporary behind; a failed
 * save leaves the old file as it was. */
static void
test_save_atomic (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("lstm-io-XXXXXX", NULL);
  g_autofree gchar *path = g_build_filename (dir, "model.safetensors", NULL);
  g_autofree gchar *bad = g_build_filename (dir, "no-such-dir", "m.st", NULL);
  g_autoptr (LstmModel) a = lstm_model_new (3, 4, 1, 2, LSTM_OUTPUT_SOFTMAX,
      NULL);
  g_autoptr (LstmModel) b = lstm_model_new (3, 4, 2, 0, LSTM_OUTPUT_IDENTITY,
      NULL);
  g_autoptr (LstmModel) back = NULL;
  g_autoptr (GBytes) before = NULL;
  g_autoptr (GBytes) after = NULL;

  lstm_model_init_random (a, 1);
  lstm_model_init_random (b, 2);
  g_assert_true (lstm_model_save (a, path, &error));
  g_assert_true (lstm_model_save (b, path, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (count_entries (dir), ==, 1);
  back = lstm_model_load (path, &error);
  g_assert_no_error (error);
  assert_models_equal (b, back);

  before = read_file_or_fail (path);
  g_assert_false (lstm_model_save (a, bad, &error));
  g_assert_error (error, LSTM_ERROR, LSTM_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "no-such-dir"));
  after = read_file_or_fail (path);
  g_assert_true (g_bytes_equal (before, after));

  g_unlink (path);
  g_rmdir (dir);
}

/* What is at the path decides: a symbolic link is saved through (it stays
 * a link, its target gets the model); a pipe, a folder or a link to
 * nothing is refused by the check and by the save, and stays as it was. */
static void
test_save_path_kinds (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("lstm-io-XXXXXX", NULL);
  g_autofree gchar *real = g_build_filename (dir, "real.safetensors", NULL);
  g_autofree gchar *link = g_build_filename (dir, "link.safetensors", NULL);
  g_autofree gchar *fifo = g_build_filename (dir, "fifo.safetensors", NULL);
  g_autofree gchar *sub = g_build_filename (dir, "sub", NULL);
  g_autofree gchar *dangling = g_build_filename (dir, "dangling", NULL);
  g_autofree gchar *in_proc = g_strdup ("/proc/lstm-test.safetensors");
  g_autofree gchar *none = g_build_filename (dir, "none.safetensors", NULL);
  g_autoptr (LstmModel) a = lstm_model_new (3, 4, 1, 2, LSTM_OUTPUT_SOFTMAX,
      NULL);
  g_autoptr (LstmModel) back = NULL;
  const gchar *refused[] = { fifo, sub, dangling, in_proc };
  GStatBuf st;
  guint i;

  lstm_model_init_random (a, 1);
  g_assert_true (g_file_set_contents (real, "old", 3, NULL));
  g_assert_cmpint (symlink ("real.safetensors", link), ==, 0);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  g_assert_cmpint (g_mkdir (sub, 0700), ==, 0);
  g_assert_cmpint (symlink ("missing.safetensors", dangling), ==, 0);

  g_assert_true (lstm_model_check_save_path (none, &error));
  g_assert_true (lstm_model_check_save_path (real, &error));
  g_assert_true (lstm_model_check_save_path (link, &error));
  g_assert_no_error (error);
  g_assert_true (lstm_model_save (a, link, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_lstat (link, &st), ==, 0);
  g_assert_true (S_ISLNK (st.st_mode));
  back = lstm_model_load (real, &error);
  g_assert_no_error (error);
  assert_models_equal (a, back);

  for (i = 0; i < G_N_ELEMENTS (refused); i++) {
    g_assert_false (lstm_model_check_save_path (refused[i], &error));
    g_assert_error (error, LSTM_ERROR, LSTM_ERROR_IO);
    g_assert_nonnull (strstr (error->message, refused[i]));
    g_clear_error (&error);
    g_assert_false (lstm_model_save (a, refused[i], &error));
    g_assert_error (error, LSTM_ERROR, LSTM_ERROR_IO);
    g_clear_error (&error);
  }
  g_assert_cmpint (g_lstat (fifo, &st), ==, 0);
  g_assert_true (S_ISFIFO (st.st_mode));
  g_assert_true (g_file_test (sub, G_FILE_TEST_IS_DIR));
  g_assert_cmpint (g_lstat (dangling, &st), ==, 0);
  g_assert_true (S_ISLNK (st.st_mode));
  g_assert_false (g_file_test (in_proc, G_FILE_TEST_EXISTS));
  /* nothing else was left in the folder (the checks' probe files) */
  g_assert_cmpuint (count_entries (dir), ==, 5);

  g_unlink (link);
  g_unlink (real);
  g_unlink (fifo);
  g_unlink (dangling);
  g_rmdir (sub);
  g_rmdir (dir);
}

/* A model saved by us runs exactly like the one it was saved from. */
static void
test_saved_runs_same (void)
{
  g_autoptr (RefCase) rc = ref_case_load ("i3_h64_l3");
  g_autoptr (GBytes) bytes = lstm_model_save_to_bytes (rc->model);
  gsize size;
  const guint8 *p = g_bytes_get_data (bytes, &size);
  g_autoptr (LstmModel) back = lstm_model_load_from_data (p, size, "x", NULL);
  g_autoptr (LstmState) s1 = lstm_state_new (rc->model, 0);
  g_autoptr (LstmState) s2 = lstm_state_new (back, 0);
  g_autofree float *o1 = g_new (float, rc->T);
  g_autofree float *o2 = g_new (float, rc->T);

  lstm_forward (rc->model, s1, rc->input, rc->T, o1);
  lstm_forward (back, s2, rc->input, rc->T, o2);
  g_assert_cmpmem (o1, rc->T * 4, o2, rc->T * 4);
}

int
main (int argc, char **argv)
{
  guint i;

  g_test_init (&argc, &argv, NULL);
  lstm_blas_set_threads (1);
  for (i = 0; i < G_N_ELEMENTS (expected); i++) {
    g_autofree gchar *p1 = g_strdup_printf ("/lstm/io/load-reference/%s",
        expected[i].name);
    g_autofree gchar *p2 = g_strdup_printf ("/lstm/io/save-load-exact/%s",
        expected[i].name);
    g_test_add_data_func (p1, &expected[i], test_load_reference);
    g_test_add_data_func (p2, &expected[i], test_save_load_exact);
  }
  g_test_add_func ("/lstm/io/saved-names", test_saved_names);
  g_test_add_func ("/lstm/io/save-atomic", test_save_atomic);
  g_test_add_func ("/lstm/io/save-path-kinds", test_save_path_kinds);
  g_test_add_func ("/lstm/io/saved-runs-same", test_saved_runs_same);
  return g_test_run ();
}
