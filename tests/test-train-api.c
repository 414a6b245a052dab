/* The trainer's behaviour beyond the reference numbers: errors that change
 * nothing, determinism, dropout, evaluation, truncated BPTT, masking,
 * clipping, normalization statistics, and that training learns. */
#include "test-util.h"
#include "lstm-train-private.h"

#include <math.h>
#include <string.h>

/* A random batch owned by the test: B sequences of the given lengths,
 * inputs uniform in [-1, 1], class ids or target vectors. */
typedef struct
{
  guint B;
  guint *lengths;
  float **in;
  gint32 **ids;
  float **tg;
  LstmState **states;
  LstmBatch batch;
} Batch;

static Batch *
batch_new (const LstmModel * m, guint B, const guint * lengths,
    gboolean last_only, guint32 seed)
{
  Batch *b = g_new0 (Batch, 1);
  GRand *rand = g_rand_new_with_seed (seed);
  guint O = lstm_model_get_output_size (m), s;

  b->B = B;
  b->lengths = g_memdup2 (lengths, B * sizeof (guint));
  b->in = g_new0 (float *, B);
  b->ids = g_new0 (gint32 *, B);
  b->tg = g_new0 (float *, B);
  for (s = 0; s < B; s++) {
    guint n = last_only ? 1 : lengths[s];
    b->in[s] = g_new (float, (gsize) lengths[s] * m->input_size);
    for (gsize i = 0; i < (gsize) lengths[s] * m->input_size; i++)
      b->in[s][i] = (float) g_rand_double_range (rand, -1.0, 1.0);
    b->ids[s] = g_new (gint32, n);
    b->tg[s] = g_new (float, (gsize) n * O);
    for (guint i = 0; i < n; i++)
      b->ids[s][i] = g_rand_int_range (rand, 0, O);
    for (gsize i = 0; i < (gsize) n * O; i++)
      b->tg[s][i] = (float) g_rand_double_range (rand, -1.0, 1.0);
  }
  g_rand_free (rand);
  b->batch.n_sequences = B;
  b->batch.lengths = b->lengths;
  b->batch.inputs = (const float *const *) b->in;
  b->batch.class_ids = (const gint32 * const *) b->ids;
  b->batch.targets = (const float *const *) b->tg;
  return b;
}

/* Gives the batch a state per sequence (zeros). */
static void
batch_add_states (Batch * b, const LstmModel * m)
{
  b->states = g_new0 (LstmState *, b->B);
  for (guint s = 0; s < b->B; s++)
    b->states[s] = lstm_state_new (m, 0);
  b->batch.states = b->states;
}

static void
batch_free (Batch * b)
{
  for (guint s = 0; s < b->B; s++) {
    g_free (b->in[s]);
    g_free (b->ids[s]);
    g_free (b->tg[s]);
    if (b->states != NULL)
      lstm_state_free (b->states[s]);
  }
  g_free (b->in);
  g_free (b->ids);
  g_free (b->tg);
  g_free (b->states);
  g_free (b->lengths);
  g_free (b);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Batch, batch_free);

static LstmModel *
model_new (guint I, guint H, guint L, guint O, LstmOutput out, guint64 seed)
{
  g_autoptr (GError) error = NULL;
  LstmModel *m = lstm_model_new (I, H, L, O, out, &error);
  g_assert_no_error (error);
  lstm_model_init_random (m, seed);
  return m;
}

static LstmTrainer *
trainer_new (LstmModel * m, const LstmTrainConfig * cfg, guint max_batch,
    guint max_frames)
{
  g_autoptr (GError) error = NULL;
  LstmTrainer *t = lstm_trainer_new (m, cfg, max_batch, max_frames, &error);
  g_assert_no_error (error);
  return t;
}

/* ------------------------------------------------------------- config */

static void
test_config_defaults (void)
{
  LstmTrainConfig c;

  /* PyTorch 1.13's defaults (the signatures in torch.optim) */
  lstm_train_config_init (&c, LSTM_OPTIMIZER_ADAM);
  g_assert_cmpfloat (c.learning_rate, ==, 1e-3);
  g_assert_cmpfloat (c.beta1, ==, 0.9);
  g_assert_cmpfloat (c.beta2, ==, 0.999);
  g_assert_cmpfloat (c.eps, ==, 1e-8);
  g_assert_cmpfloat (c.weight_decay, ==, 0.0);
  lstm_train_config_init (&c, LSTM_OPTIMIZER_ADAMW);
  g_assert_cmpfloat (c.learning_rate, ==, 1e-3);
  g_assert_cmpfloat (c.weight_decay, ==, 1e-2);
  lstm_train_config_init (&c, LSTM_OPTIMIZER_RMSPROP);
  g_assert_cmpfloat (c.learning_rate, ==, 1e-2);
  g_assert_cmpfloat (c.alpha, ==, 0.99);
  g_assert_cmpfloat (c.eps, ==, 1e-8);
  g_assert_cmpfloat (c.momentum, ==, 0.0);
  g_assert_false (c.centered);
  lstm_train_config_init (&c, LSTM_OPTIMIZER_SGD);
  g_assert_cmpfloat (c.momentum, ==, 0.0);
  g_assert_cmpfloat (c.dampening, ==, 0.0);
  g_assert_false (c.nesterov);
  g_assert_cmpint (c.loss, ==, LSTM_LOSS_CROSS_ENTROPY);
  g_assert_false (c.last_frame_only);
  g_assert_cmpfloat (c.clip_norm, ==, 0.0);
  g_assert_cmpfloat (c.dropout, ==, 0.0);
}

static void
test_config_invalid (void)
{
  g_autoptr (LstmModel) m = model_new (2, 3, 1, 2, LSTM_OUTPUT_SOFTMAX, 1);
  struct
  {
    const gchar *field;
    double value;
    const gchar *in_message;
  } bad[] = {
    {"learning_rate", -0.1, "learning rate -0.1"},
    {"learning_rate", NAN, "learning rate nan"},
    {"weight_decay", -1.0, "weight decay -1"},
    {"momentum", -0.5, "momentum -0.5"},
    {"beta1", 1.0, "beta1 1"},
    {"beta2", -0.1, "beta2 -0.1"},
    {"eps", -1e-8, "eps -1e-08"},
    {"alpha", -0.5, "alpha -0.5"},
    {"clip_norm", -1.0, "clip norm -1"},
    {"dropout", 1.0, "dropout 1"},
    {"dropout", -0.2, "dropout -0.2"},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    LstmTrainConfig c;
    LstmTrainer *t;
    double *f;
    lstm_train_config_init (&c, LSTM_OPTIMIZER_ADAM);
    f = g_str_equal (bad[i].field, "learning_rate") ? &c.learning_rate :
        g_str_equal (bad[i].field, "weight_decay") ? &c.weight_decay :
        g_str_equal (bad[i].field, "momentum") ? &c.momentum :
        g_str_equal (bad[i].field, "beta1") ? &c.beta1 :
        g_str_equal (bad[i].field, "beta2") ? &c.beta2 :
        g_str_equal (bad[i].field, "eps") ? &c.eps :
        g_str_equal (bad[i].field, "alpha") ? &c.alpha :
        g_str_equal (bad[i].field, "clip_norm") ? &c.clip_norm : &c.dropout;
    *f = bad[i].value;
    t = lstm_trainer_new (m, &c, 1, 1, &error);
    g_assert_null (t);
    g_assert_error (error, LSTM_ERROR, LSTM_ERROR_INVALID);
    g_test_message ("%s = %g: %s", bad[i].field, bad[i].value, error->message);
    g_assert_nonnull (strstr (error->message, bad[i].in_message));
  }

  /* nesterov needs momentum, as torch.optim.SGD says */
  {
    g_autoptr (GError) error = NULL;
    LstmTrainConfig c;
    lstm_train_config_init (&c, LSTM_OPTIMIZER_SGD);
    c.nesterov = TRUE;
    g_assert_null (lstm_trainer_new (m, &c, 1, 1, &error));
    g_assert_error (error, LSTM_ERROR, LSTM_ERROR_INVALID);
  }
  /* sizes */
  {
    g_autoptr (GError) error = NULL;
    LstmTrainConfig c;
    lstm_train_config_init (&c, LSTM_OPTIMIZER_SGD);
    g_assert_null (lstm_trainer_new (m, &c, 0, 10, &error));
    g_assert_error (error, LSTM_ERROR, LSTM_ERROR_INVALID);
    g_clear_error (&error);
    g_assert_null (lstm_trainer_new (m, &c, 1u << 20, 1u << 20, &error));
    g_assert_error (error, LSTM_ERROR, LSTM_ERROR_INVALID);
    g_test_message ("huge: %s", error->message);
  }
}

/* ------------------------------------------------------ invalid batches */

static void
test_batch_invalid (void)
{
  g_autoptr (LstmModel) m = model_new (3, 4, 2, 3, LSTM_OUTPUT_SOFTMAX, 2);
  g_autoptr (LstmModel) other = model_new (3, 5, 2, 3, LSTM_OUTPUT_SOFTMAX, 2);
  guint lengths[] = { 4, 2, 3 }, too_long[] = { 4, 9, 3 }, zero[] = { 4, 0, 3 };
  g_autoptr (Batch) b = batch_new (m, 3, lengths, FALSE, 3);
  g_autoptr (LstmTrainer) t = NULL;
  g_autofree float *params = NULL, *grads = NULL;
  g_autoptr (LstmState) wrong = lstm_state_new (other, 0);
  LstmState *states[3];
  LstmTrainConfig c;
  LstmBatch bad;
  gsize n;
  guint i;

  lstm_train_config_init (&c, LSTM_OPTIMIZER_ADAM);
  t = trainer_new (m, &c, 3, 8);
  /* one good step, so that the buffers hold something to keep */
  {
    g_autoptr (GError) error = NULL;
    lstm_trainer_step (t, &b->batch, NULL, NULL, &error);
    g_assert_no_error (error);
  }
  params = g_memdup2 (m->params, m->n_params * sizeof (float));
  lstm_trainer_get_gradients (t, &n);
  grads = g_memdup2 (lstm_trainer_get_gradients (t, NULL), n * sizeof (float));

  for (i = 0; i < 9; i++) {
    g_autoptr (GError) error = NULL;
    float keep_in = b->in[1][2], keep_tg = b->tg[0][1];
    gint32 keep_id = b->ids[2][1];
    bad = b->batch;
    switch (i) {
      case 0:
        bad.n_sequences = 0;
        break;
      case 1:
        bad.n_sequences = 4;    /* max_batch is 3 */
        break;
      case 2:
        bad.lengths = too_long;
        break;
      case 3:
        bad.lengths = zero;
        break;
      case 4:
        b->in[1][2] = NAN;
        break;
      case 5:
        b->ids[2][1] = 3;       /* O is 3 */
        break;
      case 6:
        b->ids[2][1] = -1;
        break;
      case 7:
        bad.class_ids = NULL;
        break;
      case 8:
        states[0] = states[1] = states[2] = wrong;
        bad.states = states;
        break;
    }
    g_assert_false (lstm_trainer_step (t, &bad, NULL, NULL, &error));
    g_assert_error (error, LSTM_ERROR, LSTM_ERROR_INVALID);
    g_test_message ("invalid batch %u: %s", i, error->message);
    b->in[1][2] = keep_in;
    b->tg[0][1] = keep_tg;
    b->ids[2][1] = keep_id;
  }
  /* all ignored: nothing to learn */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (Batch) ign = batch_new (m, 1, lengths, FALSE, 4);
    for (i = 0; i < lengths[0]; i++)
      ign->ids[0][i] = LSTM_IGNORE_INDEX;
    g_assert_false (lstm_trainer_step (t, &ign->batch, NULL, NULL, &error));
    g_assert_error (error, LSTM_ERROR, LSTM_ERROR_INVALID);
  }
  /* nothing changed: weights, gradients, optimizer steps */
  g_assert_cmpmem (m->params, m->n_params * sizeof (float), params,
      m->n_params * sizeof (float));
  g_assert_cmpmem (lstm_trainer_get_gradients (t, NULL), n * sizeof (float),
      grads, n * sizeof (float));
  g_assert_cmpuint (lstm_trainer_get_step_count (t), ==, 1);

  /* MSE without targets, and with a NaN target */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (LstmTrainer) tm = NULL;
    c.loss = LSTM_LOSS_MSE;
    tm = trainer_new (m, &c, 3, 8);
    bad = b->batch;
    bad.targets = NULL;
    g_assert_false (lstm_trainer_step (tm, &bad, NULL, NULL, &error));
    g_assert_error (error, LSTM_ERROR, LSTM_ERROR_INVALID);
    g_clear_error (&error);
    b->tg[0][1] = INFINITY;
    g_assert_false (lstm_trainer_step (tm, &b->batch, NULL, NULL, &error));
    g_assert_error (error, LSTM_ERROR, LSTM_ERROR_INVALID);
    g_test_message ("%s", error->message);
    b->tg[0][1] = 0.5f;
  }
}

/* A gradient that is not finite is refused and changes nothing. */
static void
test_nonfinite_gradient (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LstmModel) m = model_new (2, 3, 1, 2, LSTM_OUTPUT_SOFTMAX, 5);
  g_autoptr (LstmTrainer) t = NULL;
  g_autofree float *params = NULL;
  LstmTrainConfig c;
  float *g;

  lstm_train_config_init (&c, LSTM_OPTIMIZER_SGD);
  t = trainer_new (m, &c, 1, 1);
  params = g_memdup2 (m->params, m->n_params * sizeof (float));
  g = lstm_trainer_get_gradients (t, NULL);
  g[m->layers[0].weight_hh - m->params] = NAN;
  g_assert_false (lstm_trainer_apply_gradients (t, &error));
  g_assert_error (error, LSTM_ERROR, LSTM_ERROR_INVALID);
  g_assert_cmpmem (m->params, m->n_params * sizeof (float), params,
      m->n_params * sizeof (float));
  g_assert_cmpuint (lstm_trainer_get_step_count (t), ==, 0);
}

/* ------------------------------------------------------ determinism */

static void
test_deterministic (void)
{
  g_autoptr (LstmModel) base = model_new (3, 8, 3, 4, LSTM_OUTPUT_SOFTMAX, 6);
  g_autoptr (LstmModel) a = lstm_model_copy (base);
  g_autoptr (LstmModel) b = lstm_model_copy (base);
  g_autoptr (LstmModel) c = lstm_model_copy (base);
  guint lengths[] = { 7, 3, 5, 5 };
  g_autoptr (Batch) batch = batch_new (base, 4, lengths, FALSE, 7);
  g_autoptr (LstmTrainer) ta = NULL, tb = NULL, tc = NULL;
  LstmTrainConfig cfg;
  guint s;

  lstm_train_config_init (&cfg, LSTM_OPTIMIZER_ADAM);
  cfg.dropout = 0.3;
  cfg.clip_norm = 0.5;
  cfg.seed = 42;
  ta = trainer_new (a, &cfg, 4, 7);
  tb = trainer_new (b, &cfg, 4, 7);
  cfg.seed = 43;
  tc = trainer_new (c, &cfg, 4, 7);
  for (s = 0; s < 5; s++) {
    g_autoptr (GError) error = NULL;
    lstm_trainer_step (ta, &batch->batch, NULL, NULL, &error);
    g_assert_no_error (error);
    lstm_trainer_step (tb, &batch->batch, NULL, NULL, &error);
    g_assert_no_error (error);
    lstm_trainer_step (tc, &batch->batch, NULL, NULL, &error);
    g_assert_no_error (error);
  }
  /* the same seed: the same weights, bit for bit */
  g_assert_cmpmem (a->params, a->n_params * sizeof (float), b->params,
      b->n_params * sizeof (float));
  /* another seed drops other units */
  g_assert_true (memcmp (a->params, c->params,
          a->n_params * sizeof (float)) != 0);

  /* reseeding repeats the masks */
  {
    g_autoptr (GError) error = NULL;
    gsize n;
    g_autofree float *g1 = NULL;
    lstm_trainer_reseed (ta, 9);
    lstm_trainer_compute_gradients (ta, &batch->batch, NULL, NULL, &error);
    g_assert_no_error (error);
    lstm_trainer_get_gradients (ta, &n);
    g1 = g_memdup2 (lstm_trainer_get_gradients (ta, NULL), n * sizeof (float));
    lstm_trainer_reseed (ta, 9);
    lstm_trainer_compute_gradients (ta, &batch->batch, NULL, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpmem (lstm_trainer_get_gradients (ta, NULL),
        n * sizeof (float), g1, n * sizeof (float));
  }
}

/* -------------------------------------------------------------- dropout */

static void
test_dropout_statistics (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LstmModel) m = model_new (4, 64, 3, 5, LSTM_OUTPUT_SOFTMAX, 8);
  guint lengths[] = { 50, 40, 30, 20 }, s, f, k, j;
  g_autoptr (Batch) b = batch_new (m, 4, lengths, FALSE, 9);
  g_autoptr (LstmTrainer) t = NULL;
  LstmTrainConfig c;
  guint64 zeros = 0, total = 0;
  double p = 0.25, frac, sigma;

  lstm_train_config_init (&c, LSTM_OPTIMIZER_SGD);
  c.dropout = p;
  t = trainer_new (m, &c, 4, 50);
  lstm_trainer_compute_gradients (t, &b->batch, NULL, NULL, &error);
  g_assert_no_error (error);
  for (k = 0; k < 3; k++) {
    for (s = 0; s < 4; s++) {
      for (f = 0; f < lengths[s]; f++) {
        const float *row = lstm_trainer_get_dropout_row (t, k, s, f);
        if (k == 2) {
          g_assert_null (row);  /* never after the last layer */
          continue;
        }
        for (j = 0; j < 64; j++) {
          /* inverted dropout: 0, or 1 / (1 - p) */
          g_assert_true (row[j] == 0.0f || row[j] == 1.0f / (1.0f - (float) p));
          zeros += row[j] == 0.0f;
          total++;
        }
      }
    }
  }
  frac = (double) zeros / total;
  sigma = sqrt (p * (1 - p) / total);
  g_test_message ("dropout %.2f: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
      " zeroed (%.4f; 5 sigma = %.4f)", p, zeros, total, frac, 5 * sigma);
  g_assert_cmpfloat (fabs (frac - p), <=, 5 * sigma);
}

/* ----------------------------------------------------------- evaluate */

/* -log softmax (z)[y] from lstm_forward's probabilities. */
static void
test_evaluate_matches_inference (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LstmModel) m = model_new (3, 10, 2, 4, LSTM_OUTPUT_SOFTMAX, 10);
  guint lengths[] = { 9, 4, 6 }, s, f, k;
  g_autoptr (Batch) b = batch_new (m, 3, lengths, FALSE, 11);
  g_autoptr (LstmTrainer) t = NULL, td = NULL;
  LstmTrainConfig c;
  LstmTrainStats st = { 0 }, st2 = { 0 };
  float mean[3] = { 0.1f, -0.2f, 0.3f }, sd[3] = { 0.5f, 2.0f, 1.5f };
  float loss, loss_grad, loss_drop;
  double ref = 0.0, err_state = 0.0;
  guint64 n = 0, correct = 0;
  gsize np;
  g_autofree float *params = NULL, *grads = NULL;

  lstm_model_set_normalization (m, mean, sd, &error);
  g_assert_no_error (error);
  batch_add_states (b, m);
  lstm_train_config_init (&c, LSTM_OPTIMIZER_ADAM);
  t = trainer_new (m, &c, 3, 9);
  params = g_memdup2 (m->params, m->n_params * sizeof (float));
  lstm_trainer_get_gradients (t, &np);
  grads = g_memdup2 (lstm_trainer_get_gradients (t, NULL), np * sizeof (float));
  lstm_trainer_evaluate (t, &b->batch, &loss, &st, &error);
  g_assert_no_error (error);
  /* evaluation trains nothing */
  g_assert_cmpmem (m->params, m->n_params * sizeof (float), params,
      m->n_params * sizeof (float));
  g_assert_cmpmem (lstm_trainer_get_gradients (t, NULL), np * sizeof (float),
      grads, np * sizeof (float));
  g_assert_cmpuint (lstm_trainer_get_step_count (t), ==, 0);

  for (s = 0; s < 3; s++) {
    g_autoptr (LstmState) st_inf = lstm_state_new (m, 0);
    g_autofree float *out = g_new (float, lengths[s] * 4);
    lstm_forward (m, st_inf, b->in[s], lengths[s], out);
    for (f = 0; f < lengths[s]; f++) {
      ref -= log (out[f * 4 + b->ids[s][f]]);
      correct += lstm_argmax (out + f * 4, 4) == (guint) b->ids[s][f];
      n++;
    }
    for (k = 0; k < 2; k++) {
      err_state = MAX (err_state, rel_error (lstm_state_get_h (b->states[s],
                  k), lstm_state_get_h (st_inf, k), 10));
      err_state = MAX (err_state, rel_error (lstm_state_get_c (b->states[s],
                  k), lstm_state_get_c (st_inf, k), 10));
    }
  }
  ref /= n;
  g_test_message ("evaluate: loss %.7g, from lstm_forward %.7g; states "
      "max rel error %.3g (tolerance 1e-6); accuracy %" G_GUINT64_FORMAT
      "/%" G_GUINT64_FORMAT, loss, ref, err_state, st.n_correct, st.n_targets);
  g_assert_cmpfloat (fabs (loss - ref), <=, 1e-5 * ref);
  g_assert_cmpfloat (err_state, <=, 1e-6);
  g_assert_cmpuint (st.n_targets, ==, n);
  g_assert_cmpuint (st.n_correct, ==, correct);

  /* the training forward gives the same loss; evaluation with a dropout
   * configuration drops nothing */
  b->batch.states = NULL;
  lstm_trainer_compute_gradients (t, &b->batch, &loss_grad, &st2, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (loss_grad, ==, loss);
  c.dropout = 0.5;
  td = trainer_new (m, &c, 3, 9);
  lstm_trainer_evaluate (td, &b->batch, &loss_drop, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (loss_drop, ==, loss);
  b->batch.states = b->states;
}

/* ------------------------------------------------------- masking */

/* The gradient of a batch of every-frame cross-entropy is the mean over
 * its frames, so it is sum_b (T_b / N) grad (sequence b alone). */
static void
test_masking_equals_sequences (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LstmModel) m = model_new (3, 6, 2, 4, LSTM_OUTPUT_SOFTMAX, 12);
  guint lengths[] = { 2, 7, 7, 4, 1 }, s, total = 21;
  g_autoptr (Batch) b = batch_new (m, 5, lengths, FALSE, 13);
  g_autoptr (LstmTrainer) t = NULL;
  LstmTrainConfig c;
  gsize n, i;
  g_autofree float *batch_grad = NULL;
  g_autofree float *sum = NULL;
  double err;

  lstm_train_config_init (&c, LSTM_OPTIMIZER_SGD);
  t = trainer_new (m, &c, 5, 7);
  lstm_trainer_compute_gradients (t, &b->batch, NULL, NULL, &error);
  g_assert_no_error (error);
  lstm_trainer_get_gradients (t, &n);
  batch_grad = g_memdup2 (lstm_trainer_get_gradients (t, NULL),
      n * sizeof (float));
  sum = g_new0 (float, n);
  for (s = 0; s < 5; s++) {
    LstmBatch one = { 1, &lengths[s], (const float *const *) &b->in[s],
      (const gint32 * const *) &b->ids[s], NULL, NULL
    };
    const float *g;
    lstm_trainer_compute_gradients (t, &one, NULL, NULL, &error);
    g_assert_no_error (error);
    g = lstm_trainer_get_gradients (t, NULL);
    for (i = 0; i < n; i++)
      sum[i] += g[i] * lengths[s] / total;
  }
  err = rel_error (batch_grad, sum, n);
  g_test_message ("batch of lengths 2,7,7,4,1 against its sequences alone: "
      "gradient max rel error %.3g (tolerance 1e-5)", err);
  g_assert_cmpfloat (err, <=, 1e-5);
}

/* ------------------------------------------------- truncated BPTT */

/* Windows with carried states give the frames the losses of the whole
 * sequences; the state out is the forward state, with the weights before
 * the update. */
static void
test_tbptt_windows (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LstmModel) m = model_new (2, 7, 2, 3, LSTM_OUTPUT_SOFTMAX, 14);
  guint whole[] = { 10, 10 }, w1[] = { 6, 6 }, w2[] = { 4, 4 }, s;
  g_autoptr (Batch) b = batch_new (m, 2, whole, FALSE, 15);
  g_autoptr (LstmTrainer) t = NULL;
  LstmTrainConfig c;
  LstmTrainStats all = { 0 }, win = { 0 };
  LstmState *states[2];
  const float *in1[2], *in2[2];
  const gint32 *id1[2], *id2[2];
  LstmBatch b1, b2;
  g_autoptr (LstmState) before0 = NULL;

  lstm_train_config_init (&c, LSTM_OPTIMIZER_SGD);
  c.learning_rate = 0.5;
  t = trainer_new (m, &c, 2, 10);
  lstm_trainer_evaluate (t, &b->batch, NULL, &all, &error);
  g_assert_no_error (error);

  for (s = 0; s < 2; s++) {
    states[s] = lstm_state_new (m, 0);
    in1[s] = b->in[s];
    in2[s] = b->in[s] + 6 * 2;
    id1[s] = b->ids[s];
    id2[s] = b->ids[s] + 6;
  }
  memset (&b1, 0, sizeof (b1));
  b1.n_sequences = 2;
  b1.lengths = w1;
  b1.inputs = in1;
  b1.class_ids = id1;
  b1.states = states;
  b2 = b1;
  b2.lengths = w2;
  b2.inputs = in2;
  b2.class_ids = id2;
  lstm_trainer_evaluate (t, &b1, NULL, &win, &error);
  g_assert_no_error (error);
  lstm_trainer_evaluate (t, &b2, NULL, &win, &error);
  g_assert_no_error (error);
  g_test_message ("whole sequences: loss sum %.7g over %" G_GUINT64_FORMAT
      "; two windows with carried states: %.7g over %" G_GUINT64_FORMAT,
      all.loss_sum, all.n_targets, win.loss_sum, win.n_targets);
  g_assert_cmpuint (win.n_targets, ==, all.n_targets);
  g_assert_cmpfloat (fabs (win.loss_sum - all.loss_sum), <=,
      1e-5 * all.loss_sum);

  /* a training step on a window: the states come out of the forward pass
   * with the old weights (as an evaluation would give), then the weights
   * change */
  for (s = 0; s < 2; s++)
    lstm_state_reset (states[s]);
  before0 = lstm_state_dup (states[0]);
  {
    g_autoptr (LstmState) ref = lstm_state_new (m, 0);
    g_autofree float *params = g_memdup2 (m->params, m->n_params *
        sizeof (float));
    lstm_forward (m, ref, in1[0], 6, NULL);
    lstm_trainer_step (t, &b1, NULL, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpfloat (rel_error (lstm_state_get_h (states[0], 1),
            lstm_state_get_h (ref, 1), 7), <=, 1e-6);
    g_assert_true (memcmp (params, m->params, m->n_params *
            sizeof (float)) != 0);
  }
  for (s = 0; s < 2; s++)
    lstm_state_free (states[s]);
}

/* ------------------------------------------------------------ clipping */

/* SGD with lr 1: the update is minus the clipped gradient. */
static void
test_clipping (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LstmModel) m = model_new (3, 5, 2, 3, LSTM_OUTPUT_SOFTMAX, 16);
  guint lengths[] = { 5, 3 };
  g_autoptr (Batch) b = batch_new (m, 2, lengths, FALSE, 17);
  LstmTrainConfig c;
  double norm, clip[] = { 0.0, 1e6, 0.01 };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (clip); i++) {
    g_autoptr (LstmModel) copy = lstm_model_copy (m);
    g_autoptr (LstmTrainer) t = NULL;
    g_autofree float *grad = NULL;
    double dn = 0.0, want;
    gsize n, j;
    lstm_train_config_init (&c, LSTM_OPTIMIZER_SGD);
    c.learning_rate = 1.0;
    c.clip_norm = clip[i];
    t = trainer_new (copy, &c, 2, 5);
    lstm_trainer_compute_gradients (t, &b->batch, NULL, NULL, &error);
    g_assert_no_error (error);
    lstm_trainer_get_gradients (t, &n);
    grad = g_memdup2 (lstm_trainer_get_gradients (t, NULL), n * sizeof (float));
    lstm_trainer_apply_gradients (t, &error);
    g_assert_no_error (error);
    norm = lstm_trainer_get_gradient_norm (t);
    for (j = 0; j < n; j++) {
      double d = (double) m->params[j] - copy->params[j];
      dn += d * d;
    }
    dn = sqrt (dn);
    /* clip_grad_norm_: scale max_norm / (norm + 1e-6) when below 1 */
    want = clip[i] > 0.0 && clip[i] / (norm + 1e-6) < 1.0 ?
        clip[i] / (norm + 1e-6) * norm : norm;
    g_test_message ("clip %g: gradient norm %.6g, update norm %.6g (want "
        "%.6g, tolerance 1e-5 relative)", clip[i], norm, dn, want);
    g_assert_cmpfloat (fabs (dn - want), <=, 1e-5 * want);
    g_assert_cmpfloat (norm, >, 0.0);
  }
}

/* The optimizer's state can restart; the learning rate can change. */
static void
test_reset_and_learning_rate (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LstmModel) m = model_new (3, 5, 1, 3, LSTM_OUTPUT_SOFTMAX, 18);
  g_autoptr (LstmModel) a = lstm_model_copy (m);
  g_autoptr (LstmModel) b = lstm_model_copy (m);
  guint lengths[] = { 4, 4 };
  g_autoptr (Batch) batch = batch_new (m, 2, lengths, FALSE, 19);
  g_autoptr (LstmTrainer) ta = NULL, tb = NULL;
  LstmTrainConfig c;

  lstm_train_config_init (&c, LSTM_OPTIMIZER_ADAM);
  ta = trainer_new (a, &c, 2, 4);
  c.learning_rate = 0.02;
  tb = trainer_new (b, &c, 2, 4);
  /* ta: a step, then back to the start with a fresh optimizer and tb's
   * learning rate; then both take the same step */
  lstm_trainer_step (ta, &batch->batch, NULL, NULL, &error);
  g_assert_no_error (error);
  memcpy (a->params, m->params, m->n_params * sizeof (float));
  lstm_trainer_reset_optimizer (ta);
  g_assert_cmpuint (lstm_trainer_get_step_count (ta), ==, 0);
  lstm_trainer_set_learning_rate (ta, 0.02);
  lstm_trainer_step (ta, &batch->batch, NULL, NULL, &error);
  g_assert_no_error (error);
  lstm_trainer_step (tb, &batch->batch, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (a->params, a->n_params * sizeof (float), b->params,
      b->n_params * sizeof (float));
}

/* ------------------------------------------------------------- learning */

/* Every frame's class is whether the input two frames before was
 * positive: it needs the memory of the cell. Adam learns it. */
static void
test_learns_delayed_sign (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LstmModel) m = model_new (1, 12, 1, 2, LSTM_OUTPUT_SOFTMAX, 20);
  guint lengths[16], s, f, step;
  g_autoptr (LstmTrainer) t = NULL;
  LstmTrainConfig c;
  LstmTrainStats st = { 0 };
  float first = 0.0f, last = 0.0f;
  double acc;

  for (s = 0; s < 16; s++)
    lengths[s] = 20;
  lstm_train_config_init (&c, LSTM_OPTIMIZER_ADAM);
  c.learning_rate = 0.02;
  c.clip_norm = 1.0;
  t = trainer_new (m, &c, 16, 20);
  for (step = 0; step <= 150; step++) {
    g_autoptr (Batch) b = batch_new (m, 16, lengths, FALSE, 100 + step);
    for (s = 0; s < 16; s++)
      for (f = 0; f < 20; f++)
        b->ids[s][f] = f < 2 ? LSTM_IGNORE_INDEX : b->in[s][f - 2] > 0.0f;
    if (step < 150) {
      lstm_trainer_step (t, &b->batch, step == 0 ? &first : NULL, NULL, &error);
    } else {
      lstm_trainer_evaluate (t, &b->batch, &last, &st, &error);
    }
    g_assert_no_error (error);
  }
  acc = (double) st.n_correct / st.n_targets;
  g_test_message ("delayed sign: loss %.4f -> %.4f after 150 Adam steps, "
      "held-out accuracy %.3f (must be >= 0.95)", first, last, acc);
  g_assert_cmpfloat (last, <, 0.5 * first);
  g_assert_cmpfloat (acc, >=, 0.95);
}

/* MSE: the last frame's output learns the mean of the sequence's input. */
static void
test_learns_mean_mse (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LstmModel) m = model_new (1, 8, 1, 1, LSTM_OUTPUT_IDENTITY, 21);
  guint lengths[16], s, f, step;
  g_autoptr (LstmTrainer) t = NULL;
  LstmTrainConfig c;
  float first = 0.0f, last = 0.0f;

  for (s = 0; s < 16; s++)
    lengths[s] = 3 + s % 8;
  lstm_train_config_init (&c, LSTM_OPTIMIZER_RMSPROP);
  c.loss = LSTM_LOSS_MSE;
  c.last_frame_only = TRUE;
  c.learning_rate = 0.005;
  t = trainer_new (m, &c, 16, 10);
  for (step = 0; step <= 200; step++) {
    g_autoptr (Batch) b = batch_new (m, 16, lengths, TRUE, 1000 + step);
    for (s = 0; s < 16; s++) {
      float sum = 0.0f;
      for (f = 0; f < lengths[s]; f++)
        sum += b->in[s][f];
      b->tg[s][0] = sum / lengths[s];
    }
    if (step < 200)
      lstm_trainer_step (t, &b->batch, step == 0 ? &first : NULL, NULL, &error);
    else
      lstm_trainer_evaluate (t, &b->batch, &last, NULL, &error);
    g_assert_no_error (error);
  }
  g_test_message ("mean by MSE on the last frame: loss %.4f -> %.4f after "
      "200 RMSprop steps (must fall 5x)", first, last);
  g_assert_cmpfloat (last, <, 0.2 * first);
}

/* -------------------------------------------------- normalization */

static void
test_norm_stats (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LstmNormStats) a = lstm_norm_stats_new (3);
  g_autoptr (LstmNormStats) b = lstm_norm_stats_new (3);
  g_autoptr (LstmModel) m = model_new (3, 4, 1, 2, LSTM_OUTPUT_SOFTMAX, 22);
  g_autoptr (LstmModel) m4 = model_new (4, 4, 1, 2, LSTM_OUTPUT_SOFTMAX, 22);
  const guint N = 1000;
  g_autofree float *x = g_new (float, N * 3);
  float mean_a[3], std_a[3], mean_b[3], std_b[3], nan_frame[3] = { 1, NAN, 2 };
  double mean[3] = { 0 }, var[3] = { 0 };
  GRand *rand = g_rand_new_with_seed (23);
  guint i, j, done = 0;

  /* a large offset (1000) on feature 0, a constant feature 2 */
  for (i = 0; i < N; i++) {
    x[i * 3] = 1000.0f + (float) g_rand_double_range (rand, -1.0, 1.0);
    x[i * 3 + 1] = (float) g_rand_double_range (rand, -3.0, 5.0);
    x[i * 3 + 2] = 7.0f;
  }
  g_rand_free (rand);
  for (i = 0; i < N; i++)
    for (j = 0; j < 3; j++)
      mean[j] += x[i * 3 + j];
  for (j = 0; j < 3; j++)
    mean[j] /= N;
  for (i = 0; i < N; i++)
    for (j = 0; j < 3; j++)
      var[j] += (x[i * 3 + j] - mean[j]) * (x[i * 3 + j] - mean[j]);

  g_assert_false (lstm_norm_stats_get (a, mean_a, std_a, &error));
  g_assert_error (error, LSTM_ERROR, LSTM_ERROR_INVALID);
  g_clear_error (&error);

  g_assert_cmpuint (lstm_norm_stats_add (a, x, N), ==, N);
  /* in uneven pieces, with a non-finite frame that is skipped */
  while (done < N) {
    guint n = MIN (N - done, 1 + done % 97);
    g_assert_cmpuint (lstm_norm_stats_add (b, x + done * 3, n), ==, n);
    done += n;
  }
  g_assert_cmpuint (lstm_norm_stats_add (b, nan_frame, 1), ==, 0);
  g_assert_cmpuint (lstm_norm_stats_get_count (b), ==, N);
  lstm_norm_stats_get (a, mean_a, std_a, &error);
  g_assert_no_error (error);
  lstm_norm_stats_get (b, mean_b, std_b, &error);
  g_assert_no_error (error);
  for (j = 0; j < 2; j++) {
    double sd = sqrt (var[j] / N);      /* unbiased=False */
    g_test_message ("feature %u: mean %.7g (two-pass double %.7g), std %.7g "
        "(%.7g); in pieces %.7g, %.7g", j, mean_a[j], mean[j], std_a[j], sd,
        mean_b[j], std_b[j]);
    g_assert_cmpfloat (fabs (mean_a[j] - mean[j]), <=, 1e-6 * fabs (mean[j]));
    g_assert_cmpfloat (fabs (std_a[j] - sd), <=, 1e-6 * sd);
    g_assert_cmpfloat (fabs (mean_b[j] - mean[j]), <=, 1e-6 * fabs (mean[j]));
    g_assert_cmpfloat (fabs (std_b[j] - sd), <=, 1e-6 * sd);
  }
  /* the constant feature is only centred */
  g_assert_cmpfloat (mean_a[2], ==, 7.0f);
  g_assert_cmpfloat (std_a[2], ==, 1.0f);

  lstm_norm_stats_apply (a, m, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (m->input_mean, 3 * sizeof (float), mean_a,
      3 * sizeof (float));
  g_assert_cmpmem (m->input_std, 3 * sizeof (float), std_a, 3 * sizeof (float));
  g_assert_false (lstm_norm_stats_apply (a, m4, &error));
  g_assert_error (error, LSTM_ERROR, LSTM_ERROR_INVALID);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/lstm/train/config/defaults", test_config_defaults);
  g_test_add_func ("/lstm/train/config/invalid", test_config_invalid);
  g_test_add_func ("/lstm/train/batch/invalid-changes-nothing",
      test_batch_invalid);
  g_test_add_func ("/lstm/train/nonfinite-gradient-changes-nothing",
      test_nonfinite_gradient);
  g_test_add_func ("/lstm/train/deterministic", test_deterministic);
  g_test_add_func ("/lstm/train/dropout/statistics", test_dropout_statistics);
  g_test_add_func ("/lstm/train/evaluate/matches-inference",
      test_evaluate_matches_inference);
  g_test_add_func ("/lstm/train/masking/equals-sequences-alone",
      test_masking_equals_sequences);
  g_test_add_func ("/lstm/train/tbptt/windows", test_tbptt_windows);
  g_test_add_func ("/lstm/train/clipping", test_clipping);
  g_test_add_func ("/lstm/train/optimizer/reset-and-learning-rate",
      test_reset_and_learning_rate);
  g_test_add_func ("/lstm/train/learns/delayed-sign", test_learns_delayed_sign);
  g_test_add_func ("/lstm/train/learns/mean-mse", test_learns_mean_mse);
  g_test_add_func ("/lstm/train/norm-stats", test_norm_stats);
  return g_test_run ();
}
