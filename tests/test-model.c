/* LstmModel construction, limits, initialization, labels, normalization. */
#include "test-util.h"

#include <math.h>
#include <string.h>

static void
test_new_sizes (void)
{
  g_autoptr (LstmModel) m = lstm_model_new (40, 128, 2, 12,
      LSTM_OUTPUT_SOFTMAX, NULL);
  gsize g4 = 4 * 128;

  g_assert_nonnull (m);
  g_assert_cmpuint (m->layers[0].input_size, ==, 40);
  g_assert_cmpuint (m->layers[1].input_size, ==, 128);
  g_assert_cmpuint (lstm_model_get_output_size (m), ==, 12);
  /* PyTorch's parameter count for nn.LSTM(40, 128, 2) + nn.Linear(128, 12) */
  g_assert_cmpuint (m->n_weights, ==, g4 * 40 + g4 * 128 + 2 * g4
      + g4 * 128 + g4 * 128 + 2 * g4 + 12 * 128 + 12);
  /* every tensor lies inside params, 64-byte aligned, none overlapping */
  g_assert_true (m->layers[0].weight_ih == m->params);
  g_assert_true ((guintptr) m->layers[1].weight_hh % 64 == 0);
  g_assert_true (m->head_bias + 12 <= m->params + m->n_params);
  g_assert_true (m->layers[0].weight_hh >= m->layers[0].weight_ih + g4 * 40);
  g_assert_cmpuint (lstm_model_get_output_size (m), ==, 12);
}

static void
test_new_limits (void)
{
  static const guint bad[][4] = {
    {0, 8, 1, 0}, {4, 0, 1, 0}, {4, 8, 0, 0},
    {LSTM_MAX_INPUT_SIZE + 1, 8, 1, 0}, {4, LSTM_MAX_HIDDEN_SIZE + 1, 1, 0},
    {4, 8, LSTM_MAX_LAYERS + 1, 0}, {4, 8, 1, LSTM_MAX_HEAD_SIZE + 1},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    LstmModel *m = lstm_model_new (bad[i][0], bad[i][1], bad[i][2], bad[i][3],
        LSTM_OUTPUT_IDENTITY, &error);
    g_assert_null (m);
    g_assert_error (error, LSTM_ERROR, LSTM_ERROR_INVALID);
    g_assert_nonnull (strstr (error->message, "out of range"));
  }
}

/* Sizes within the limits whose parameters do not fit in the machine's
 * memory are an error that says so, not an abort in the allocator (the
 * largest plain model: 65536 inputs, 64 layers of 4096, about 35 GiB;
 * skipped on a machine with more memory than that). */
static void
test_new_too_big (void)
{
  g_autoptr (GError) error = NULL;
  guint64 H = LSTM_MAX_HIDDEN_SIZE, floats = 4 * H * (LSTM_MAX_INPUT_SIZE
      + H) + (LSTM_MAX_LAYERS - 1) * 4 * H * 2 * H;
  LstmModel *m;

  if (floats <= lstm_memory_floats ()) {
    g_test_skip ("the largest model fits in this machine's memory");
    return;
  }
  m = lstm_model_new (LSTM_MAX_INPUT_SIZE, LSTM_MAX_HIDDEN_SIZE,
      LSTM_MAX_LAYERS, 0, LSTM_OUTPUT_IDENTITY, &error);
  g_assert_null (m);
  g_assert_error (error, LSTM_ERROR, LSTM_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "more than this machine's "
          "memory"));
}

/* nn.LSTM.reset_parameters: uniform in [-1/sqrt(H), 1/sqrt(H)]. With
 * n = 4H(I+H) + 8H samples the extremes come within a few 1/n of the bound,
 * and the mean within a few sigma = bound / sqrt(3 n) of 0. */
static void
test_init_random (void)
{
  g_autoptr (LstmModel) a = lstm_model_new (10, 64, 2, 3, LSTM_OUTPUT_SOFTMAX,
      NULL);
  g_autoptr (LstmModel) b = lstm_model_new (10, 64, 2, 3, LSTM_OUTPUT_SOFTMAX,
      NULL);
  g_autoptr (LstmModel) c = lstm_model_new (10, 64, 2, 3, LSTM_OUTPUT_SOFTMAX,
      NULL);
  const LstmLayer *l = &a->layers[1];
  double bound = 1.0 / 8.0, lo = 0, hi = 0, sum = 0, sigma;
  gsize n = 4 * 64 * 64, i;

  lstm_model_init_random (a, 42);
  lstm_model_init_random (b, 42);
  lstm_model_init_random (c, 43);
  g_assert_cmpmem (a->params, a->n_params * 4, b->params, b->n_params * 4);
  g_assert_true (memcmp (a->params, c->params, a->n_params * 4) != 0);

  for (i = 0; i < n; i++) {
    lo = MIN (lo, l->weight_hh[i]);
    hi = MAX (hi, l->weight_hh[i]);
    sum += l->weight_hh[i];
  }
  sigma = bound / sqrt (3.0 * n);
  g_assert_cmpfloat (lo, >=, -bound);
  g_assert_cmpfloat (hi, <=, bound);
  g_assert_cmpfloat (lo, <, -bound * (1 - 1e-3));
  g_assert_cmpfloat (hi, >, bound * (1 - 1e-3));
  g_assert_cmpfloat (fabs (sum / n), <, 5 * sigma);
  /* biases and head are initialized too, with the same bound */
  for (i = 0; i < 4 * 64; i++)
    g_assert_cmpfloat (fabs (l->bias_hh[i]), <=, bound);
  g_assert_cmpfloat (fabs (a->head_weight[0]), >, 0.0);
  g_assert_cmpfloat (fabs (a->head_bias[2]), <=, bound);
  g_assert_cmpfloat (fabs (a->head_bias[2]), >, 0.0);
}

static void
test_labels (void)
{
  g_autoptr (LstmModel) m = lstm_model_new (2, 4, 1, 3, LSTM_OUTPUT_SOFTMAX,
      NULL);
  const gchar *two[] = { "a", "b", NULL };
  const gchar *three[] = { "a", "b", "c", NULL };
  const gchar *empty[] = { "a", "", "c", NULL };
  const gchar *newline[] = { "a", "b\nc", "d", NULL };
  g_autoptr (GError) e1 = NULL;
  g_autoptr (GError) e2 = NULL;
  g_autoptr (GError) e3 = NULL;

  g_assert_false (lstm_model_set_labels (m, two, &e1));
  g_assert_error (e1, LSTM_ERROR, LSTM_ERROR_INVALID);
  g_assert_nonnull (strstr (e1->message, "2 labels"));
  g_assert_false (lstm_model_set_labels (m, empty, &e2));
  g_assert_error (e2, LSTM_ERROR, LSTM_ERROR_INVALID);
  /* a label is one line of text (the text output writes one a line) */
  g_assert_false (lstm_model_set_labels (m, newline, &e3));
  g_assert_error (e3, LSTM_ERROR, LSTM_ERROR_INVALID);
  g_assert_nonnull (strstr (e3->message, "\\n"));
  g_assert_nonnull (strstr (e3->message, "control character"));
  g_assert_null (m->labels);
  g_assert_true (lstm_model_set_labels (m, three, NULL));
  g_assert_cmpstrv (m->labels, three);
}

static void
test_normalization (void)
{
  g_autoptr (LstmModel) m = lstm_model_new (2, 4, 1, 0, LSTM_OUTPUT_IDENTITY,
      NULL);
  const float mean[] = { 1, 2 }, std[] = { 0.5f, 2 }, bad_std[] = { 1, 0 };
  const float nan_mean[] = { NAN, 0 };
  g_autoptr (GError) e1 = NULL;
  g_autoptr (GError) e2 = NULL;

  g_assert_false (lstm_model_set_normalization (m, mean, bad_std, &e1));
  g_assert_error (e1, LSTM_ERROR, LSTM_ERROR_INVALID);
  g_assert_nonnull (strstr (e1->message, "input_std[1]"));
  g_assert_false (lstm_model_set_normalization (m, nan_mean, std, &e2));
  g_assert_nonnull (strstr (e2->message, "input_mean[0]"));
  g_assert_null (m->input_mean);
  g_assert_true (lstm_model_set_normalization (m, mean, std, NULL));
  g_assert_cmpmem (m->input_std, 8, std, 8);
  g_assert_true (lstm_model_set_normalization (m, NULL, NULL, NULL));
  g_assert_null (m->input_mean);
}

static void
test_copy_and_finite (void)
{
  g_autoptr (LstmModel) m = lstm_model_new (3, 5, 2, 2, LSTM_OUTPUT_SIGMOID,
      NULL);
  g_autoptr (LstmModel) c = NULL;
  g_autoptr (GError) error = NULL;
  const gchar *labels[] = { "x", "y", NULL };

  lstm_model_init_random (m, 1);
  lstm_model_set_labels (m, labels, NULL);
  lstm_model_set_metadata (m, "note", "hello");
  c = lstm_model_copy (m);
  g_assert_cmpmem (c->params, c->n_params * 4, m->params, m->n_params * 4);
  g_assert_cmpstrv (c->labels, m->labels);
  g_assert_cmpstr (lstm_model_get_metadata (c, "note"), ==, "hello");
  g_assert_true (lstm_model_check_finite (c, NULL));
  c->layers[1].bias_hh[7] = INFINITY;
  g_assert_false (lstm_model_check_finite (c, &error));
  g_assert_nonnull (strstr (error->message, "bias_hh (layer 1)"));
  g_assert_true (lstm_model_check_finite (m, NULL));
}

static void
test_output_names (void)
{
  LstmOutput o;
  g_assert_true (lstm_output_from_string ("softmax", &o));
  g_assert_cmpint (o, ==, LSTM_OUTPUT_SOFTMAX);
  g_assert_cmpstr (lstm_output_to_string (LSTM_OUTPUT_SIGMOID), ==, "sigmoid");
  g_assert_false (lstm_output_from_string ("relu", &o));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/lstm/model/new-sizes", test_new_sizes);
  g_test_add_func ("/lstm/model/new-limits", test_new_limits);
  g_test_add_func ("/lstm/model/new-too-big", test_new_too_big);
  g_test_add_func ("/lstm/model/init-random", test_init_random);
  g_test_add_func ("/lstm/model/labels", test_labels);
  g_test_add_func ("/lstm/model/normalization", test_normalization);
  g_test_add_func ("/lstm/model/copy-and-finite", test_copy_and_finite);
  g_test_add_func ("/lstm/model/output-names", test_output_names);
  return g_test_run ();
}
