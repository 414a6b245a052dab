/* The LSTM variants: model files round trip, state, forward against the
 * references of tests/reference/generate_variants.py. */
#include "test-util.h"

#include <math.h>
#include <string.h>

/* One model of each variant the README lists (I = 3, H = 5, 2 layers,
 * a head of 2). */
typedef struct
{
  const gchar *name;
  LstmCell cell;
  guint proj_size;
  gboolean bidirectional, peephole, coupled_gates, layer_norm;
  double cell_clip;
} Variant;

static const Variant variants[] = {
  {"gru", LSTM_CELL_GRU, 0, FALSE, FALSE, FALSE, FALSE, 0.0},
  {"proj", LSTM_CELL_LSTM, 3, FALSE, FALSE, FALSE, FALSE, 0.0},
  {"bidir", LSTM_CELL_LSTM, 0, TRUE, FALSE, FALSE, FALSE, 0.0},
  {"bidir-gru", LSTM_CELL_GRU, 0, TRUE, FALSE, FALSE, FALSE, 0.0},
  {"bidir-proj", LSTM_CELL_LSTM, 2, TRUE, FALSE, FALSE, FALSE, 0.0},
  {"peephole", LSTM_CELL_LSTM, 0, FALSE, TRUE, FALSE, FALSE, 0.0},
  {"cifg", LSTM_CELL_LSTM, 0, FALSE, FALSE, TRUE, FALSE, 0.0},
  {"clip", LSTM_CELL_LSTM, 0, FALSE, FALSE, FALSE, FALSE, 0.25},
  {"layer-norm", LSTM_CELL_LSTM, 0, FALSE, FALSE, FALSE, TRUE, 0.0},
  {"all", LSTM_CELL_LSTM, 4, TRUE, TRUE, TRUE, TRUE, 1.5},
};

static LstmModel *
variant_model (const Variant * v, guint64 seed)
{
  LstmModelConfig c;
  g_autoptr (GError) error = NULL;
  LstmModel *m;

  lstm_model_config_init (&c, 3, 5, 2, 2, LSTM_OUTPUT_SOFTMAX);
  c.cell = v->cell;
  c.proj_size = v->proj_size;
  c.bidirectional = v->bidirectional;
  c.peephole = v->peephole;
  c.coupled_gates = v->coupled_gates;
  c.layer_norm = v->layer_norm;
  c.cell_clip = v->cell_clip;
  m = lstm_model_new_full (&c, &error);
  g_assert_no_error (error);
  lstm_model_init_random (m, seed);
  return m;
}

/* Saved and loaded back: the same variant, the same floats, the same
 * outputs (bit for bit), for every variant. */
static void
test_roundtrip (void)
{
  float in[7 * 3];
  guint i, v;

  for (i = 0; i < G_N_ELEMENTS (in); i++)
    in[i] = sinf (0.7f * i);
  for (v = 0; v < G_N_ELEMENTS (variants); v++) {
    g_autoptr (LstmModel) a = variant_model (&variants[v], 10 + v);
    g_autoptr (GBytes) bytes = lstm_model_save_to_bytes (a);
    g_autoptr (GError) error = NULL;
    g_autoptr (LstmModel) b = NULL;
    g_autoptr (LstmState) sa = NULL;
    g_autoptr (LstmState) sb = NULL;
    LstmModelConfig ca, cb;
    float ya[7 * 2], yb[7 * 2];
    gsize size;
    const guint8 *data = g_bytes_get_data (bytes, &size);

    g_test_message ("variant %s", variants[v].name);
    b = lstm_model_load_from_data (data, size, variants[v].name, &error);
    g_assert_no_error (error);
    lstm_model_get_config (a, &ca);
    lstm_model_get_config (b, &cb);
    g_assert_cmpmem (&ca, sizeof (ca), &cb, sizeof (cb));
    g_assert_cmpuint (a->n_params, ==, b->n_params);
    g_assert_cmpmem (a->params, a->n_params * 4, b->params, b->n_params * 4);
    g_assert_false (lstm_model_is_plain (b));

    sa = lstm_state_new (a, 4);
    sb = lstm_state_new (b, 0);
    lstm_forward (a, sa, in, 7, ya);
    lstm_forward (b, sb, in, 7, yb);
    g_assert_cmpmem (ya, sizeof (ya), yb, sizeof (yb));
    for (i = 0; i < 7; i++)
      g_assert_cmpfloat_with_epsilon (ya[2 * i] + ya[2 * i + 1], 1.0, 1e-5);
  }
}

/* Variants that are not defined are refused with a message naming them. */
static void
test_bad_config (void)
{
  LstmModelConfig c;
  g_autoptr (GError) error = NULL;

  lstm_model_config_init (&c, 3, 5, 1, 0, LSTM_OUTPUT_IDENTITY);
  c.cell = LSTM_CELL_GRU;
  c.layer_norm = TRUE;
  g_assert_null (lstm_model_new_full (&c, &error));
  g_assert_error (error, LSTM_ERROR, LSTM_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "layer norm"));
  g_clear_error (&error);

  lstm_model_config_init (&c, 3, 5, 1, 0, LSTM_OUTPUT_IDENTITY);
  c.proj_size = 5;
  g_assert_null (lstm_model_new_full (&c, &error));
  g_assert_nonnull (strstr (error->message, "projection size 5"));
  g_clear_error (&error);

  lstm_model_config_init (&c, 3, 5, 1, 0, LSTM_OUTPUT_IDENTITY);
  c.cell_clip = -1.0;
  g_assert_null (lstm_model_new_full (&c, &error));
  g_assert_nonnull (strstr (error->message, "cell clip"));
}

/* Unidirectional variants carry the state: pieces equal the whole; the
 * state snapshot (version 2) restores it. */
static void
test_chunked_and_state (void)
{
  float in[9 * 3], whole[9 * 2], parts[9 * 2];
  guint i, v;

  for (i = 0; i < G_N_ELEMENTS (in); i++)
    in[i] = cosf (0.3f * i);
  for (v = 0; v < G_N_ELEMENTS (variants); v++) {
    g_autoptr (LstmModel) m = variant_model (&variants[v], 30 + v);
    g_autoptr (LstmState) s = lstm_state_new (m, 2);
    g_autoptr (LstmState) s2 = NULL;
    g_autoptr (GBytes) snap = NULL;
    g_autoptr (GError) error = NULL;

    if (variants[v].bidirectional)
      continue;
    lstm_forward (m, s, in, 9, whole);
    lstm_state_reset (s);
    lstm_forward (m, s, in, 4, parts);
    snap = lstm_state_serialize (s);
    s2 = lstm_state_new (m, 0);
    g_assert_true (lstm_state_deserialize (s2, snap, &error));
    g_assert_no_error (error);
    lstm_forward (m, s2, in + 4 * 3, 5, parts + 4 * 2);
    assert_same_cut (parts, whole, G_N_ELEMENTS (whole));
  }
}

/* ------------------------------------------------ the PyTorch references */

static const gchar *const ref_names[] = {
  "gru", "proj", "bidir", "bidir_gru", "bidir_proj", "peephole", "cifg",
  "clip", "layer_norm", "all"
};

/* A case of tests/reference/variants (generate_variants.py). */
typedef struct
{
  LstmModel *model;
  LstmModel *grad;              /* the gradients, laid out as the model */
  LstmTensorFile *data;
  GBytes *data_bytes;
  guint T[2];
  float *input[2];
  gint32 *classes[2];
  float loss;
} VarRef;

static gchar *
variant_path (const gchar * name, const gchar * suffix)
{
  g_autofree gchar *file = g_strdup_printf ("../variants/%s%s", name, suffix);
  return ref_path (file);
}

static void
var_ref_free (VarRef * r)
{
  guint b;

  for (b = 0; b < 2; b++) {
    g_free (r->input[b]);
    g_free (r->classes[b]);
  }
  lstm_model_unref (r->model);
  lstm_model_unref (r->grad);
  lstm_tensor_file_free (r->data);
  g_bytes_unref (r->data_bytes);
  g_free (r);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VarRef, var_ref_free);

static VarRef *
var_ref_load (const gchar * name)
{
  g_autofree gchar *model = variant_path (name, ".safetensors");
  g_autofree gchar *grad = variant_path (name, ".grad.safetensors");
  g_autofree gchar *data = variant_path (name, ".data.safetensors");
  g_autoptr (GError) error = NULL;
  VarRef *r = g_new0 (VarRef, 1);
  const guint8 *p;
  gsize size;
  guint b, t;

  r->model = lstm_model_load (model, &error);
  g_assert_no_error (error);
  r->grad = lstm_model_load (grad, &error);
  g_assert_no_error (error);
  r->data_bytes = read_file_or_fail (data);
  p = g_bytes_get_data (r->data_bytes, &size);
  r->data = lstm_safetensors_parse (p, size, data, &error);
  g_assert_no_error (error);
  for (b = 0; b < 2; b++) {
    g_autofree gchar *in = g_strdup_printf ("input%u", b);
    g_autofree gchar *cls = g_strdup_printf ("class%u", b);
    LstmTensor *ti = g_hash_table_lookup (r->data->by_name, in);
    g_autofree float *c = NULL;

    g_assert_nonnull (ti);
    r->T[b] = ti->shape[0];
    r->input[b] = ref_take_tensor (r->data, in, 2, r->T[b],
        r->model->input_size);
    c = ref_take_tensor (r->data, cls, 1, r->T[b], 0);
    r->classes[b] = g_new (gint32, r->T[b]);
    for (t = 0; t < r->T[b]; t++)
      r->classes[b][t] = (gint32) c[t];
  }
  {
    g_autofree float *loss = ref_take_tensor (r->data, "loss", 1, 1, 0);
    r->loss = loss[0];
  }
  return r;
}

/* Sequence 0 from a zero state: the outputs, then h_n and c_n of every
 * layer and direction, against the reference. Tolerance: 1e-5 of each
 * tensor's largest value (float32 against float64). */
static void
test_reference_forward (void)
{
  guint v;

  for (v = 0; v < G_N_ELEMENTS (ref_names); v++) {
    g_autoptr (VarRef) r = var_ref_load (ref_names[v]);
    LstmModel *m = r->model;
    g_autoptr (LstmState) s = lstm_state_new (m, 4);
    guint O = lstm_model_get_output_size (m), T = r->T[0];
    guint slots = m->num_layers * m->num_directions, k;
    guint hw = m->proj_size > 0 ? m->proj_size : m->hidden_size;
    g_autofree float *out = g_new (float, T * O);
    g_autofree float *ref = ref_take_tensor (r->data, "output0", 2, T, O);
    g_autofree float *h_n = ref_take_tensor (r->data, "h_n", 2, slots, hw);
    g_autofree float *c_n = NULL;
    g_autofree float *h = g_new (float, slots * hw);
    double e_out, e_h, e_c = 0.0;

    lstm_forward (m, s, r->input[0], T, out);
    for (k = 0; k < slots; k++)
      memcpy (h + k * hw, lstm_state_get_h (s, k), hw * sizeof (float));
    e_out = rel_error (out, ref, T * O);
    e_h = rel_error (h, h_n, slots * hw);
    if (m->cell == LSTM_CELL_LSTM) {
      g_autofree float *c = g_new (float, slots * m->hidden_size);
      c_n = ref_take_tensor (r->data, "c_n", 2, slots, m->hidden_size);
      for (k = 0; k < slots; k++)
        memcpy (c + k * m->hidden_size, lstm_state_get_c (s, k),
            m->hidden_size * sizeof (float));
      e_c = rel_error (c, c_n, slots * m->hidden_size);
    }
    g_test_message ("%-11s output %.2e  h_n %.2e  c_n %.2e", ref_names[v],
        e_out, e_h, e_c);
    g_assert_cmpfloat (e_out, <=, 1e-5);
    g_assert_cmpfloat (e_h, <=, 1e-5);
    g_assert_cmpfloat (e_c, <=, 1e-5);
  }
}

/* Worst error of the trainer's gradient against the reference's, tensor
 * by tensor, relative to each tensor's largest reference value. */
static double
gradient_error (const LstmModel * m, const float *grad, const LstmModel * ref,
    const gchar * name)
{
  double worst = 0.0;
  guint k, i;

  for (k = 0; k < m->num_layers * m->num_directions; k++) {
    for (i = 0; i < LSTM_N_LAYER_TENSORS; i++) {
      const float *p = lstm_layer_tensor (&m->layers[k], i);
      const float *want = lstm_layer_tensor (&ref->layers[k], i);
      guint64 shape[2];
      LstmModelConfig c;
      gsize n;
      double e;

      if (p == NULL)
        continue;
      lstm_model_get_config (m, &c);
      n = lstm_layer_tensor_shape (&c, k / m->num_directions, i, shape) == 2
          ? shape[0] * shape[1] : shape[0];
      e = rel_error (grad + (p - m->params), want, n);
      if (e > 1e-4)
        g_test_message ("%s: layer %u %s%s gradient error %.2e", name,
            k / m->num_directions, lstm_layer_tensor_names[i],
            m->layers[k].direction ? "_reverse" : "", e);
      worst = MAX (worst, e);
    }
  }
  worst = MAX (worst, rel_error (grad + (m->head_weight - m->params),
          ref->head_weight, m->head_size * m->layer_output_size));
  return MAX (worst, rel_error (grad + (m->head_bias - m->params),
          ref->head_bias, m->head_size));
}

/* Cross-entropy on every frame of two sequences (9 and 6 frames): the
 * loss to 1e-5 and every gradient to 1e-4 of its tensor's largest value
 * (float32 against float64 autograd). */
static void
test_reference_gradients (void)
{
  guint v;

  for (v = 0; v < G_N_ELEMENTS (ref_names); v++) {
    g_autoptr (VarRef) r = var_ref_load (ref_names[v]);
    g_autoptr (LstmTrainer) tr = NULL;
    g_autoptr (GError) error = NULL;
    LstmTrainConfig config;
    const float *inputs[2] = { r->input[0], r->input[1] };
    const gint32 *classes[2] = { r->classes[0], r->classes[1] };
    LstmBatch batch = { 2, r->T, inputs, classes, NULL, NULL };
    float loss;
    double e;

    lstm_train_config_init (&config, LSTM_OPTIMIZER_SGD);
    tr = lstm_trainer_new (r->model, &config, 2, 16, &error);
    g_assert_no_error (error);
    g_assert_true (lstm_trainer_compute_gradients (tr, &batch, &loss, NULL,
            &error));
    g_assert_no_error (error);
    e = gradient_error (r->model, lstm_trainer_get_gradients (tr, NULL),
        r->grad, ref_names[v]);
    g_test_message ("%-11s loss %.6f (reference %.6f)  gradient %.2e",
        ref_names[v], loss, r->loss, e);
    g_assert_cmpfloat (fabs (loss - r->loss), <=, 1e-5 * r->loss);
    g_assert_cmpfloat (e, <=, 1e-4);
  }
}

/* Windows with carried states (truncated BPTT): evaluate leaves each
 * sequence's state where lstm_forward over the same frames does (to
 * float32 rounding: 1e-6 of the largest value), for every variant. */
static void
test_trainer_states (void)
{
  float x[2][11 * 3];
  guint i, v, b, k;

  for (i = 0; i < 11 * 3; i++) {
    x[0][i] = sinf (0.37f * i);
    x[1][i] = cosf (0.21f * i);
  }
  for (v = 0; v < G_N_ELEMENTS (variants); v++) {
    g_autoptr (LstmModel) m = variant_model (&variants[v], 50 + v);
    g_autoptr (LstmTrainer) tr = NULL;
    g_autoptr (GError) error = NULL;
    LstmTrainConfig config;
    LstmState *states[2], *ref[2];
    const guint lengths[2] = { 11, 7 };
    const float *inputs[2] = { x[0], x[1] };
    gint32 ids0[11] = { 0 }, ids1[11] = { 1 };
    const gint32 *ids[2] = { ids0, ids1 };
    LstmBatch batch = { 2, lengths, inputs, ids, NULL, states };
    guint slots = m->num_layers * m->num_directions;
    guint hw = m->proj_size > 0 ? m->proj_size : m->hidden_size;

    lstm_train_config_init (&config, LSTM_OPTIMIZER_ADAM);
    tr = lstm_trainer_new (m, &config, 2, 11, &error);
    g_assert_no_error (error);
    for (b = 0; b < 2; b++) {
      states[b] = lstm_state_new (m, 0);
      ref[b] = lstm_state_new (m, 0);
      /* a window that does not start from zero */
      lstm_forward (m, states[b], x[1 - b], 3, NULL);
      lstm_state_copy (ref[b], states[b]);
      lstm_forward (m, ref[b], x[b], lengths[b], NULL);
    }
    g_assert_true (lstm_trainer_evaluate (tr, &batch, NULL, NULL, &error));
    g_assert_no_error (error);
    for (b = 0; b < 2; b++) {
      for (k = 0; k < slots; k++) {
        g_assert_cmpfloat (rel_error (lstm_state_get_h (states[b], k),
                lstm_state_get_h (ref[b], k), hw), <=, 1e-6);
        if (m->cell == LSTM_CELL_LSTM)
          g_assert_cmpfloat (rel_error (lstm_state_get_c (states[b], k),
                  lstm_state_get_c (ref[b], k), m->hidden_size), <=, 1e-6);
      }
      lstm_state_free (states[b]);
      lstm_state_free (ref[b]);
    }
  }
}

/* Dropout between the layers of a variant: the same seed gives the same
 * gradients, another seed other ones, both unlike those without it. */
static void
test_trainer_dropout (void)
{
  g_autoptr (VarRef) r = var_ref_load ("all");
  const float *inputs[2] = { r->input[0], r->input[1] };
  const gint32 *classes[2] = { r->classes[0], r->classes[1] };
  LstmBatch batch = { 2, r->T, inputs, classes, NULL, NULL };
  float *g[3];
  gsize n = 0;
  guint i;

  for (i = 0; i < 3; i++) {
    g_autoptr (LstmTrainer) tr = NULL;
    g_autoptr (GError) error = NULL;
    LstmTrainConfig config;

    lstm_train_config_init (&config, LSTM_OPTIMIZER_SGD);
    config.dropout = 0.5;
    config.seed = i == 2 ? 8 : 7;
    tr = lstm_trainer_new (r->model, &config, 2, 16, &error);
    g_assert_no_error (error);
    g_assert_true (lstm_trainer_compute_gradients (tr, &batch, NULL, NULL,
            &error));
    g[i] = lstm_trainer_get_gradients (tr, &n);
    g[i] = g_memdup2 (g[i], n * 4);
  }
  g_assert_cmpmem (g[0], n * 4, g[1], n * 4);
  g_assert_cmpfloat (rel_error (g[0], g[2], n), >, 1e-3);
  /* without dropout: the reference's (test_reference_gradients) */
  g_assert_cmpfloat (rel_error (g[0], r->grad->params, n), >, 1e-3);
  for (i = 0; i < 3; i++)
    g_free (g[i]);
}

/* Our own backward against central differences of our own forward, on
 * every variant (synthetic weights): 24 parameters each, perturbed by
 * eps = 1e-3; float32 losses make the difference good to about 1e-4, so
 * |fd - g| <= 5e-4 + 2e-2 |g| is asked. */
static void
test_central_differences (void)
{
  float x[2][9 * 3];
  gint32 ids[2][9];
  guint i, v;

  for (i = 0; i < 9 * 3; i++) {
    x[0][i] = sinf (0.9f * i);
    x[1][i] = cosf (0.4f * i);
  }
  for (i = 0; i < 9; i++) {
    ids[0][i] = i % 2;
    ids[1][i] = (i / 3) % 2;
  }
  for (v = 0; v < G_N_ELEMENTS (variants); v++) {
    g_autoptr (LstmModel) m = variant_model (&variants[v], 70 + v);
    g_autoptr (LstmTrainer) tr = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (GRand) rand = g_rand_new_with_seed (v);
    LstmTrainConfig config;
    const guint lengths[2] = { 9, 6 };
    const float *inputs[2] = { x[0], x[1] };
    const gint32 *classes[2] = { ids[0], ids[1] };
    LstmBatch batch = { 2, lengths, inputs, classes, NULL, NULL };
    g_autofree float *g = NULL;
    double worst = 0.0;
    gsize n;
    guint j;

    lstm_train_config_init (&config, LSTM_OPTIMIZER_SGD);
    tr = lstm_trainer_new (m, &config, 2, 9, &error);
    g_assert_no_error (error);
    g_assert_true (lstm_trainer_compute_gradients (tr, &batch, NULL, NULL,
            &error));
    g = lstm_trainer_get_gradients (tr, &n);
    g = g_memdup2 (g, n * sizeof (float));
    for (j = 0; j < 24; j++) {
      gsize at;
      float keep, up, down;
      double fd;

      /* a parameter, not padding (padding keeps a zero gradient) */
      do
        at = g_rand_int_range (rand, 0, n);
      while (g[at] == 0.0f && g_rand_int_range (rand, 0, 8) != 0);
      keep = m->params[at];
      m->params[at] = keep + 1e-3f;
      lstm_trainer_evaluate (tr, &batch, &up, NULL, &error);
      m->params[at] = keep - 1e-3f;
      lstm_trainer_evaluate (tr, &batch, &down, NULL, &error);
      m->params[at] = keep;
      fd = ((double) up - down) / 2e-3;
      worst = MAX (worst, fabs (fd - g[at]) / (5e-4 + 2e-2 * fabs (g[at])));
    }
    g_test_message ("%-10s central differences: worst error %.2f of the "
        "tolerance", variants[v].name, worst);
    g_assert_cmpfloat (worst, <=, 1.0);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  lstm_blas_set_threads (1);
  g_test_add_func ("/lstm/variants/roundtrip", test_roundtrip);
  g_test_add_func ("/lstm/variants/bad-config", test_bad_config);
  g_test_add_func ("/lstm/variants/chunked-and-state", test_chunked_and_state);
  g_test_add_func ("/lstm/variants/reference-forward", test_reference_forward);
  g_test_add_func ("/lstm/variants/reference-gradients",
      test_reference_gradients);
  g_test_add_func ("/lstm/variants/trainer-states", test_trainer_states);
  g_test_add_func ("/lstm/variants/trainer-dropout", test_trainer_dropout);
  g_test_add_func ("/lstm/variants/central-differences",
      test_central_differences);
  return g_test_run ();
}
