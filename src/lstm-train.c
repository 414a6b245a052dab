/* LstmTrainer: lifecycle, batch checks and packing, the step entry points.
 * The maths lives in lstm-bptt.c (forward and backward), lstm-loss.c and
 * lstm-optim.c; the packed layout is described in lstm-train-private.h.
 */
#include "lstm-variant-private.h"

#include <math.h>
#include <string.h>

/* Caches above this many floats (8 GiB) are refused: they would not fit a
 * machine that trains in a pipeline, and it keeps every size product and
 * every row count far below G_MAXUINT. */
#define MAX_CACHE_FLOATS (G_GUINT64_CONSTANT (1) << 31)

void
lstm_train_config_init (LstmTrainConfig * config, LstmOptimizer optimizer)
{
  g_return_if_fail (config != NULL);
  g_return_if_fail (optimizer <= LSTM_OPTIMIZER_RMSPROP);

  memset (config, 0, sizeof (*config));
  config->loss = LSTM_LOSS_CROSS_ENTROPY;
  config->optimizer = optimizer;
  config->beta1 = 0.9;
  config->beta2 = 0.999;
  config->eps = 1e-8;
  config->alpha = 0.99;
  switch (optimizer) {
    case LSTM_OPTIMIZER_SGD:
      config->learning_rate = 1e-3;
      break;
    case LSTM_OPTIMIZER_ADAM:
      config->learning_rate = 1e-3;
      break;
    case LSTM_OPTIMIZER_ADAMW:
      config->learning_rate = 1e-3;
      config->weight_decay = 1e-2;
      break;
    case LSTM_OPTIMIZER_RMSPROP:
      config->learning_rate = 1e-2;
      break;
  }
}

static float *
alloc_floats (gsize n)
{
  return g_aligned_alloc0 (MAX (n, 1), sizeof (float), 64);
}

/* Floats of cache per packed row (see the struct in lstm-train-private.h). */
static gsize
floats_per_row (const LstmModel * m, const LstmTrainConfig * c)
{
  gsize H = m->hidden_size, I = m->input_size, L = m->num_layers;
  gsize O = lstm_model_get_output_size (m);
  gsize n = I + L * 7 * H;      /* x0; gates, c, tc, h_{t-1} in zin */

  n += I + (L - 1) * H;         /* x in zin (h of the layer below) */
  n += H;                       /* y of the top layer */
  if (c->dropout > 0.0)
    n += 2 * (L - 1) * H;       /* mask, and y below the top (x = y m) */
  n += 2 * O + H;               /* z, dz, dy */
  return n;
}

LstmTrainer *
lstm_trainer_new (LstmModel * model, const LstmTrainConfig * config,
    guint max_batch, guint max_frames, GError ** error)
{
  LstmTrainer *t;
  gsize H, I, O, N, G4, W, Z0, Zmax, per_row, n;
  guint64 need;
  guint k, L;

  g_return_val_if_fail (model != NULL, NULL);
  g_return_val_if_fail (config != NULL, NULL);

  if (!lstm_optim_check_config (config, error))
    return NULL;
  if (max_batch == 0 || max_frames == 0) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "a trainer needs max_batch >= 1 and max_frames >= 1 (got %u and %u)",
        max_batch, max_frames);
    return NULL;
  }
  per_row = floats_per_row (model, config);
  if (lstm_model_is_plain (model)
      && (guint64) max_batch * max_frames > MAX_CACHE_FLOATS / per_row) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "batches of %u sequences of %u frames need %" G_GUINT64_FORMAT
        " floats of cache for this model (%" G_GSIZE_FORMAT " per frame); "
        "at most %" G_GUINT64_FORMAT " are allowed", max_batch, max_frames,
        (guint64) max_batch * max_frames * per_row, per_row, MAX_CACHE_FLOATS);
    return NULL;
  }
  /* the caches, and about six floats per parameter (the model, its
   * gradient, up to three optimizer states, the packed weights): refused
   * here with the sizes rather than aborted on while allocating */
  need = (lstm_model_is_plain (model) ? (guint64) max_batch * max_frames
      * per_row : 0) + (guint64) model->n_params * 6;
  if (need > lstm_memory_floats ()) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "training this model (%" G_GSIZE_FORMAT " parameters) in batches "
        "of %u sequences of %u frames needs about %.1f GiB, more than this "
        "machine's memory (%.1f GiB)", model->n_params, max_batch,
        max_frames, need * 4.0 / (1 << 30),
        lstm_memory_floats () * 4.0 / (1 << 30));
    return NULL;
  }

  t = g_new0 (LstmTrainer, 1);
  if (!lstm_model_is_plain (model)) {
    t->var = lstm_variant_bptt_new (model, config, max_batch, max_frames,
        MAX_CACHE_FLOATS, error);
    if (t->var == NULL) {
      g_free (t);
      return NULL;
    }
  }
  t->model = lstm_model_ref (model);
  t->config = *config;
  t->max_batch = max_batch;
  t->max_frames = max_frames;
  t->max_rows = N = (gsize) max_batch *max_frames;
  t->rng = config->seed;

  H = model->hidden_size;
  I = model->input_size;
  L = t->var == NULL ? model->num_layers : 0;   /* the plain caches */
  O = lstm_model_get_output_size (model);
  G4 = 4 * H;
  W = model->layer_output_size;
  Z0 = I + H;                   /* in + H of layer 0; 2H above it */
  Zmax = MAX (Z0, 2 * H);

  t->order = g_new0 (guint, max_batch);
  t->sorted_len = g_new0 (guint, max_batch);
  t->step_rows = g_new0 (guint, max_frames);
  t->step_off = g_new0 (gsize, (gsize) max_frames + 1);
  t->row_seq = g_new0 (guint, N);
  t->row_frame = g_new0 (guint, N);
  t->loss_row = g_new0 (gsize, max_batch);

  t->x0 = alloc_floats (N * I);
  t->layers = g_new0 (TrainLayer, model->num_layers);
  for (k = 0; k < L; k++) {
    TrainLayer *tl = &t->layers[k];
    gsize zk = k == 0 ? Z0 : 2 * H;     /* in + H */
    tl->gates = alloc_floats (N * G4);
    tl->c = alloc_floats (N * H);
    tl->tc = alloc_floats (N * H);
    tl->zin = alloc_floats (N * zk);
    tl->h0 = alloc_floats ((gsize) max_batch * H);
    tl->c0 = alloc_floats ((gsize) max_batch * H);
    tl->w = alloc_floats (G4 * zk);
    tl->wp_f = alloc_floats (lstm_train_packed_size (zk, G4));
    tl->wp_b = alloc_floats (lstm_train_packed_size (G4, zk));
    if (config->dropout > 0.0 && k + 1 < L)
      tl->mask = alloc_floats (N * H);
  }
  for (k = 0; k < L; k++) {
    /* h^k is x of layer k + 1 as it is, unless dropout scales it */
    TrainLayer *tl = &t->layers[k];
    if (k + 1 < L && tl->mask == NULL) {
      tl->y = t->layers[k + 1].zin;
      tl->ldy = 2 * H;
    } else {
      tl->y = tl->y_buf = alloc_floats (N * H);
      tl->ldy = H;
    }
  }
  t->y_last = alloc_floats ((gsize) max_batch * W);
  t->z = alloc_floats (N * O);
  t->dz = alloc_floats (N * O);
  t->p_row = alloc_floats (O);
  t->dy = alloc_floats (N * MAX (H, W));
  t->da = alloc_floats (t->var == NULL ? (gsize) max_batch * G4 : 0);
  t->da_block = alloc_floats (t->var == NULL ? lstm_train_block_size (MAX
          (lstm_train_block_rows (), max_batch), G4) : 0);
  t->dh = alloc_floats ((gsize) max_batch * MAX (H, W));
  t->dzin = alloc_floats (L > 0 ? (gsize) max_batch * Zmax : 0);
  t->dw = alloc_floats (L > 0 ? G4 * Zmax : 0);
  t->dc = alloc_floats ((gsize) max_batch * H);
  t->head_w_t = alloc_floats (O * W);
  t->bias_sum = alloc_floats (G4);

  n = model->n_params;
  t->grad = alloc_floats (n);
  switch (config->optimizer) {
    case LSTM_OPTIMIZER_SGD:
      if (config->momentum != 0.0)
        t->opt_a = alloc_floats (n);
      break;
    case LSTM_OPTIMIZER_ADAM:
    case LSTM_OPTIMIZER_ADAMW:
      t->opt_a = alloc_floats (n);
      t->opt_b = alloc_floats (n);
      break;
    case LSTM_OPTIMIZER_RMSPROP:
      t->opt_b = alloc_floats (n);
      if (config->momentum > 0.0)
        t->opt_a = alloc_floats (n);
      if (config->centered)
        t->opt_c = alloc_floats (n);
      break;
  }
  return t;
}

void
lstm_trainer_free (LstmTrainer * t)
{
  guint k;

  if (t == NULL)
    return;
  lstm_variant_bptt_free (t->var);
  for (k = 0; k < t->model->num_layers; k++) {
    TrainLayer *tl = &t->layers[k];
    g_aligned_free (tl->gates);
    g_aligned_free (tl->c);
    g_aligned_free (tl->tc);
    g_aligned_free (tl->y_buf);
    g_aligned_free (tl->zin);
    g_aligned_free (tl->h0);
    g_aligned_free (tl->c0);
    g_aligned_free (tl->mask);
    g_aligned_free (tl->w);
    g_aligned_free (tl->wp_f);
    g_aligned_free (tl->wp_b);
  }
  g_free (t->layers);
  g_free (t->order);
  g_free (t->sorted_len);
  g_free (t->step_rows);
  g_free (t->step_off);
  g_free (t->row_seq);
  g_free (t->row_frame);
  g_free (t->loss_row);
  g_aligned_free (t->x0);
  g_aligned_free (t->y_last);
  g_aligned_free (t->z);
  g_aligned_free (t->dz);
  g_aligned_free (t->p_row);
  g_aligned_free (t->dy);
  g_aligned_free (t->da);
  g_aligned_free (t->da_block);
  g_aligned_free (t->dh);
  g_aligned_free (t->dzin);
  g_aligned_free (t->dw);
  g_aligned_free (t->dc);
  g_aligned_free (t->head_w_t);
  g_aligned_free (t->bias_sum);
  g_aligned_free (t->grad);
  g_aligned_free (t->opt_a);
  g_aligned_free (t->opt_b);
  g_aligned_free (t->opt_c);
  lstm_model_unref (t->model);
  g_free (t);
}

/* ------------------------------------------------------------ the batch */

static gboolean
all_finite (const float *x, gsize n, gsize * at)
{
  gsize i;
  for (i = 0; i < n; i++) {
    if (!isfinite (x[i])) {
      *at = i;
      return FALSE;
    }
  }
  return TRUE;
}

/* Everything about the batch that can be wrong, before anything changes. */
static gboolean
check_batch (const LstmTrainer * t, const LstmBatch * b, GError ** error)
{
  const LstmModel *m = t->model;
  guint O = lstm_model_get_output_size (m), I = m->input_size, s, f;
  gboolean ce = t->config.loss == LSTM_LOSS_CROSS_ENTROPY;
  gboolean last = t->config.last_frame_only;
  gsize at, counted = 0;

#define REFUSE(...) G_STMT_START { \
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID, __VA_ARGS__); \
    return FALSE; } G_STMT_END

  if (b->n_sequences == 0 || b->n_sequences > t->max_batch)
    REFUSE ("a batch of %u sequences; this trainer takes 1 to %u",
        b->n_sequences, t->max_batch);
  if (ce && b->class_ids == NULL)
    REFUSE ("the cross-entropy loss needs class ids (class_ids is NULL)");
  if (!ce && b->targets == NULL)
    REFUSE ("the MSE loss needs target vectors (targets is NULL)");

  for (s = 0; s < b->n_sequences; s++) {
    guint len = b->lengths[s], n_targets = last ? 1 : len;
    if (len == 0 || len > t->max_frames)
      REFUSE ("sequence %u has %u frames; this trainer takes 1 to %u", s, len,
          t->max_frames);
    if (b->inputs[s] == NULL)
      REFUSE ("sequence %u has no input frames (NULL)", s);
    if (!all_finite (b->inputs[s], (gsize) len * I, &at))
      REFUSE ("sequence %u: input frame %" G_GSIZE_FORMAT " holds a "
          "non-finite value (%g) in feature %" G_GSIZE_FORMAT, s, at / I,
          b->inputs[s][at], at % I);
    if (b->states != NULL && (b->states[s] == NULL
            || !lstm_state_fits (b->states[s], m)))
      REFUSE ("sequence %u: its state is %s", s,
          b->states[s] == NULL ? "NULL" : "not of this model's sizes");
    if (ce) {
      if (b->class_ids[s] == NULL)
        REFUSE ("sequence %u has no class ids (NULL)", s);
      for (f = 0; f < n_targets; f++) {
        gint32 y = b->class_ids[s][f];
        if (y == LSTM_IGNORE_INDEX)
          continue;
        if (y < 0 || (guint) y >= O)
          REFUSE ("sequence %u, %s %u: class id %d is out of range "
              "(0 .. %u, or %d to ignore)", s, last ? "target" : "frame", f,
              y, O - 1, LSTM_IGNORE_INDEX);
        counted++;
      }
    } else {
      if (b->targets[s] == NULL)
        REFUSE ("sequence %u has no targets (NULL)", s);
      if (!all_finite (b->targets[s], (gsize) n_targets * O, &at))
        REFUSE ("sequence %u: the target of %s %" G_GSIZE_FORMAT " holds a "
            "non-finite value (%g) at %" G_GSIZE_FORMAT, s,
            last ? "target" : "frame", at / O, b->targets[s][at], at % O);
      counted += n_targets;
    }
  }
  if (counted == 0)
    REFUSE ("no frame of the batch has a class id to learn (all %d)",
        LSTM_IGNORE_INDEX);
  return TRUE;
#undef REFUSE
}

/* Sorts by length, longest first, ties in batch order (insertion sort:
 * stable, allocates nothing, and batches are small), then lays out the
 * packed rows, the inputs and the initial states. */
static void
pack_batch (LstmTrainer * t, const LstmBatch * b)
{
  const LstmModel *m = t->model;
  guint B = b->n_sequences, I = m->input_size, H = m->hidden_size;
  guint i, j, s, k;
  gsize r;

  for (i = 0; i < B; i++) {
    guint len = b->lengths[i];
    for (j = i; j > 0 && t->sorted_len[j - 1] < len; j--) {
      t->order[j] = t->order[j - 1];
      t->sorted_len[j] = t->sorted_len[j - 1];
    }
    t->order[j] = i;
    t->sorted_len[j] = len;
  }
  t->n_seq = B;
  t->n_steps = t->sorted_len[0];

  /* B_t = how many sequences are longer than t */
  t->step_off[0] = 0;
  j = B;
  for (s = 0; s < t->n_steps; s++) {
    while (t->sorted_len[j - 1] <= s)
      j--;
    t->step_rows[s] = j;
    t->step_off[s + 1] = t->step_off[s] + j;
  }
  t->n_rows = t->step_off[t->n_steps];

  for (s = 0; s < t->n_steps; s++) {
    for (j = 0; j < t->step_rows[s]; j++) {
      const float *x = b->inputs[t->order[j]] + (gsize) s * I;
      float *x0 = t->x0 + (t->step_off[s] + j) * I;
      r = t->step_off[s] + j;
      t->row_seq[r] = t->order[j];
      t->row_frame[r] = s;
      if (m->input_mean == NULL) {
        memcpy (x0, x, I * sizeof (float));
      } else {
        /* x' = (x - mean) / std, as lstm_forward normalizes */
        for (i = 0; i < I; i++)
          x0[i] = (x[i] - m->input_mean[i]) / m->input_std[i];
      }
    }
  }

  for (j = 0; j < B; j++)
    t->loss_row[j] = t->step_off[t->sorted_len[j] - 1] + j;
  t->n_loss_rows = t->config.last_frame_only ? B : t->n_rows;

  if (t->var != NULL) {
    lstm_variant_bptt_pack (t, b);
    return;
  }
  for (k = 0; k < m->num_layers; k++) {
    TrainLayer *tl = &t->layers[k];
    gsize bytes = (gsize) H * sizeof (float);
    for (j = 0; j < B; j++) {
      const LstmState *st = b->states ? b->states[t->order[j]] : NULL;
      if (st == NULL) {
        memset (tl->h0 + (gsize) j * H, 0, bytes);
        memset (tl->c0 + (gsize) j * H, 0, bytes);
      } else {
        memcpy (tl->h0 + (gsize) j * H, lstm_state_get_h (st, k), bytes);
        memcpy (tl->c0 + (gsize) j * H, lstm_state_get_c (st, k), bytes);
      }
    }
  }
}

/* The state after each sequence's last frame, back into its LstmState. */
static void
store_states (LstmTrainer * t, const LstmBatch * b)
{
  guint H = t->model->hidden_size, j, k;

  if (t->var != NULL) {
    lstm_variant_bptt_store_states (t, b);
    return;
  }
  for (j = 0; j < t->n_seq; j++) {
    LstmState *st = b->states[t->order[j]];
    for (k = 0; k < t->model->num_layers; k++) {
      const TrainLayer *tl = &t->layers[k];
      gsize r = t->loss_row[j];
      memcpy (st->h + (gsize) k * H, tl->y + r * tl->ldy,
          H * sizeof (float));
      memcpy (st->c + (gsize) k * H, tl->c + r * H, H * sizeof (float));
    }
  }
}

/* Checks, packs, runs forward and the loss; backward when training. */
static gboolean
run_batch (LstmTrainer * t, const LstmBatch * batch, gboolean training,
    float *loss_out, LstmTrainStats * stats, GError ** error)
{
  float loss;

  if (!check_batch (t, batch, error))
    return FALSE;
  pack_batch (t, batch);
  t->training = training;
  lstm_bptt_forward (t);
  if (batch->states != NULL)
    store_states (t, batch);
  loss = lstm_loss_compute (t, batch, training, stats);
  if (training)
    lstm_bptt_backward (t);
  if (loss_out != NULL)
    *loss_out = loss;
  return TRUE;
}

/* ------------------------------------------------------------------ API */

gboolean
lstm_trainer_compute_gradients (LstmTrainer * trainer,
    const LstmBatch * batch, float *loss_out, LstmTrainStats * stats,
    GError ** error)
{
  g_return_val_if_fail (trainer != NULL && batch != NULL, FALSE);
  g_return_val_if_fail (batch->lengths != NULL && batch->inputs != NULL, FALSE);
  return run_batch (trainer, batch, TRUE, loss_out, stats, error);
}

gboolean
lstm_trainer_apply_gradients (LstmTrainer * trainer, GError ** error)
{
  g_return_val_if_fail (trainer != NULL, FALSE);
  return lstm_optim_apply (trainer, error);
}

gboolean
lstm_trainer_step (LstmTrainer * trainer, const LstmBatch * batch,
    float *loss_out, LstmTrainStats * stats, GError ** error)
{
  g_return_val_if_fail (trainer != NULL && batch != NULL, FALSE);
  g_return_val_if_fail (batch->lengths != NULL && batch->inputs != NULL, FALSE);
  if (!run_batch (trainer, batch, TRUE, loss_out, stats, error))
    return FALSE;
  return lstm_optim_apply (trainer, error);
}

gboolean
lstm_trainer_evaluate (LstmTrainer * trainer, const LstmBatch * batch,
    float *loss_out, LstmTrainStats * stats, GError ** error)
{
  g_return_val_if_fail (trainer != NULL && batch != NULL, FALSE);
  g_return_val_if_fail (batch->lengths != NULL && batch->inputs != NULL, FALSE);
  return run_batch (trainer, batch, FALSE, loss_out, stats, error);
}

LstmModel *
lstm_trainer_get_model (LstmTrainer * trainer)
{
  g_return_val_if_fail (trainer != NULL, NULL);
  return trainer->model;
}

const LstmTrainConfig *
lstm_trainer_get_config (LstmTrainer * trainer)
{
  g_return_val_if_fail (trainer != NULL, NULL);
  return &trainer->config;
}

float *
lstm_trainer_get_gradients (LstmTrainer * trainer, gsize * n_params)
{
  g_return_val_if_fail (trainer != NULL, NULL);
  if (n_params != NULL)
    *n_params = trainer->model->n_params;
  return trainer->grad;
}

double
lstm_trainer_get_gradient_norm (const LstmTrainer * trainer)
{
  g_return_val_if_fail (trainer != NULL, 0.0);
  return trainer->grad_norm;
}

guint64
lstm_trainer_get_step_count (const LstmTrainer * trainer)
{
  g_return_val_if_fail (trainer != NULL, 0);
  return trainer->step_count;
}

void
lstm_trainer_set_learning_rate (LstmTrainer * trainer, double learning_rate)
{
  g_return_if_fail (trainer != NULL);
  g_return_if_fail (isfinite (learning_rate) && learning_rate >= 0.0);
  trainer->config.learning_rate = learning_rate;
}

void
lstm_trainer_reset_optimizer (LstmTrainer * trainer)
{
  gsize bytes;

  g_return_if_fail (trainer != NULL);
  bytes = trainer->model->n_params * sizeof (float);
  if (trainer->opt_a != NULL)
    memset (trainer->opt_a, 0, bytes);
  if (trainer->opt_b != NULL)
    memset (trainer->opt_b, 0, bytes);
  if (trainer->opt_c != NULL)
    memset (trainer->opt_c, 0, bytes);
  trainer->opt_started = FALSE;
  trainer->step_count = 0;
}

void
lstm_trainer_reseed (LstmTrainer * trainer, guint64 seed)
{
  g_return_if_fail (trainer != NULL);
  trainer->rng = seed;
}

const float *
lstm_trainer_get_dropout_row (LstmTrainer * t, guint layer, guint seq,
    guint frame)
{
  guint j;

  g_return_val_if_fail (t != NULL && layer < t->model->num_layers, NULL);
  if (t->layers[layer].mask == NULL)
    return NULL;
  for (j = 0; j < t->n_seq && t->order[j] != seq; j++);
  g_return_val_if_fail (j < t->n_seq && frame < t->sorted_len[j], NULL);
  return t->layers[layer].mask + (t->step_off[frame] + j) *
      t->model->hidden_size;
}
