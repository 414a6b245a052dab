/* lstmtrain: the training loops, offline (epochs at the end of the
 * stream) and online (steps as the stream flows). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstlstmtrain-private.h"

#include <math.h>
#include <string.h>

#define GST_CAT_DEFAULT gst_lstm_train_debug

/* --------------------------------------------------------------- training */

/* The settings of one run, read once under the object lock. */
typedef struct
{
  gchar *model_path;
  gchar *init_model;
  guint hidden_size, num_layers, epochs, batch_size, patience, bptt, horizon;
  GstLstmTrainTask task;
  GstLstmTrainLoss loss;
  GstLstmTrainOptimizer optimizer;
  gdouble learning_rate, momentum, weight_decay, clip, dropout, val_fraction;
  gboolean shuffle;
  guint64 seed;
  LstmModelConfig variant;
  GstLstmTrainMode mode;
} Settings;

static void
read_settings (GstLstmTrain * self, Settings * s)
{
  GST_OBJECT_LOCK (self);
  s->model_path = g_strdup (self->model_path);
  s->init_model = g_strdup (self->init_model);
  s->hidden_size = self->hidden_size;
  s->num_layers = self->num_layers;
  s->epochs = self->epochs;
  s->batch_size = self->batch_size;
  s->patience = self->patience;
  s->bptt = self->bptt;
  s->horizon = self->horizon;
  s->task = self->task;
  s->loss = self->loss;
  s->optimizer = self->optimizer;
  s->learning_rate = self->learning_rate;
  s->momentum = self->momentum;
  s->weight_decay = self->weight_decay;
  s->clip = self->clip_grad_norm;
  s->dropout = self->dropout;
  s->val_fraction = self->validation_fraction;
  s->shuffle = self->shuffle;
  s->seed = self->seed;
  s->variant = self->variant;
  s->mode = self->mode;
  GST_OBJECT_UNLOCK (self);
}

static void
clear_settings (Settings * s)
{
  g_free (s->model_path);
  g_free (s->init_model);
}

/* The model to train: a copy of init-model, or a new one from the seed. */
static LstmModel *
make_model (GstLstmTrain * self, const Settings * s, const Dataset * d,
    GError ** error)
{
  LstmOutput output = d->labels ? LSTM_OUTPUT_SOFTMAX : LSTM_OUTPUT_IDENTITY;
  LstmModelConfig config;
  LstmModel *m;

  if (s->init_model != NULL) {
    g_autoptr (LstmModel) init = lstm_model_load (s->init_model, error);
    if (init == NULL)
      return NULL;
    if (init->input_size != self->channels
        || lstm_model_get_output_size (init) != d->out_size
        || init->head_size == 0) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
          "init-model %s takes %u features and has %u outputs%s; the "
          "stream has %u features and the task %u outputs", s->init_model,
          init->input_size, lstm_model_get_output_size (init),
          init->head_size ? "" : " (no head)", self->channels, d->out_size);
      return NULL;
    }
    m = lstm_model_copy (init);
    m->output = output;
  } else {
    config = s->variant;
    config.input_size = self->channels;
    config.hidden_size = s->hidden_size;
    config.num_layers = s->num_layers;
    config.head_size = d->out_size;
    config.output = output;
    m = lstm_model_new_full (&config, error);
    if (m == NULL)
      return NULL;
    lstm_model_init_random (m, s->seed);
  }
  if (!gst_lstm_train_check_directions (m->num_directions, s->mode, error)) {
    lstm_model_unref (m);
    return NULL;
  }
  return m;
}

/* Carrying the state forward in time does not fit the backward
 * direction: it sees each window as a whole sequence. */
gboolean
gst_lstm_train_check_directions (guint directions, GstLstmTrainMode mode,
    GError ** error)
{
  if (directions == 2 && mode == GST_LSTM_TRAIN_MODE_ONLINE) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "a bidirectional model trains in mode=offline only (mode=online "
        "carries the state from one window to the next)");
    return FALSE;
  }
  return TRUE;
}

static gboolean
loss_last_frame (const Settings * s, const Dataset * d)
{
  switch (s->loss) {
    case GST_LSTM_TRAIN_LOSS_CROSS_ENTROPY_LAST:
      return TRUE;
    default:
      /* auto included: the class of a sequence is every frame's target.
       * The network then learns to recognise early and to hold the answer,
       * which trains memory far more reliably than the last frame alone
       * (measured on the memory task: every seed learns it, against one
       * in two with the last frame; PyTorch behaves the same), and
       * output-mode=last still reads the last frame. */
      return FALSE;
  }
}

/* A trainer for batches of up to max_batch sequences of up to max_len
 * frames (its caches are sized by both). */
static LstmTrainer *
make_trainer (GstLstmTrain * self, const Settings * s, const Dataset * d,
    LstmModel * m, guint max_batch, guint max_len, GError ** error)
{
  static const LstmOptimizer optimizers[] = {
    LSTM_OPTIMIZER_SGD, LSTM_OPTIMIZER_ADAM, LSTM_OPTIMIZER_ADAMW,
    LSTM_OPTIMIZER_RMSPROP
  };
  LstmTrainConfig cfg;
  gboolean classify = d->labels != NULL;

  if (s->loss == GST_LSTM_TRAIN_LOSS_MSE && classify) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "loss=mse does not train a classifier; use cross-entropy");
    return NULL;
  }
  if ((s->loss == GST_LSTM_TRAIN_LOSS_CROSS_ENTROPY
          || s->loss == GST_LSTM_TRAIN_LOSS_CROSS_ENTROPY_LAST) && !classify) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "cross-entropy needs classes; task=%s trains with mse",
        s->task == GST_LSTM_TRAIN_TASK_FORECAST ? "forecast" : "regress");
    return NULL;
  }
  lstm_train_config_init (&cfg, optimizers[s->optimizer]);
  cfg.loss = classify ? LSTM_LOSS_CROSS_ENTROPY : LSTM_LOSS_MSE;
  cfg.last_frame_only = loss_last_frame (s, d);
  cfg.learning_rate = s->learning_rate;
  cfg.momentum = s->momentum;
  cfg.weight_decay = s->weight_decay;
  cfg.clip_norm = s->clip;
  cfg.dropout = s->dropout;
  cfg.seed = s->seed;
  return lstm_trainer_new (m, &cfg, max_batch, max_len, error);
}

/* Scratch for one batch's pointers and per-frame class ids. */
typedef struct
{
  guint *lengths;
  const float **inputs;
  const gint32 **ids;
  const float **targets;
  gint32 *id_store;             /* [batch_size * max_len] */
} BatchScratch;

static void
fill_batch (GstLstmTrain * self, const Dataset * d, gboolean last_only,
    const guint * order, guint n, BatchScratch * b, guint max_len,
    LstmBatch * batch)
{
  guint k, t;

  for (k = 0; k < n; k++) {
    const Seq *s = &g_array_index (d->seqs, Seq, order[k]);
    gint32 *ids = b->id_store + (gsize) k * max_len;
    b->lengths[k] = s->len;
    b->inputs[k] = &g_array_index (self->frames, float,
        (gsize) s->first * self->channels);
    if (d->labels != NULL) {
      if (s->label >= 0) {      /* a class per sequence */
        for (t = 0; t < (last_only ? 1 : s->len); t++)
          ids[t] = s->label;
      } else {                  /* a class per frame */
        for (t = 0; t < s->len; t++)
          ids[t] = d->ids[s->first + t];
        if (last_only)
          ids[0] = ids[s->len - 1];
      }
      b->ids[k] = ids;
    } else {
      b->targets[k] = d->targets + (gsize) (s->first +
          (last_only ? s->len - 1 : 0)) * d->out_size;
    }
  }
  batch->n_sequences = n;
  batch->lengths = b->lengths;
  batch->inputs = b->inputs;
  batch->class_ids = d->labels ? (const gint32 * const *) b->ids : NULL;
  batch->targets = d->labels ? NULL : (const float *const *) b->targets;
  batch->states = NULL;
}

/* One optimizer step. A gradient that is not finite (the update is then
 * skipped) or weights that are not after the update mean the run has
 * diverged: an error that says so, and nothing of it is saved. */
static gboolean
train_step (LstmTrainer * tr, const LstmBatch * batch, LstmTrainStats * stats,
    GError ** error)
{
  guint64 step = lstm_trainer_get_step_count (tr) + 1;
  g_autoptr (GError) why = NULL;
  gboolean applied;

  if (!lstm_trainer_compute_gradients (tr, batch, NULL, stats, error))
    return FALSE;
  applied = lstm_trainer_apply_gradients (tr, &why);
  if (applied && lstm_model_check_finite (lstm_trainer_get_model (tr), &why))
    return TRUE;
  /* the first gradient comes from the initial weights: no learning rate
   * made it overflow, the data did (finite but huge values) */
  if (step == 1 && !applied) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID, "training cannot "
        "start: at the first step %s; the learning rate plays no part in "
        "it: the frames or targets hold values too large for float "
        "arithmetic (the largest float is 3.4e38; scale the data)",
        why->message);
    return FALSE;
  }
  g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
      "training diverged at step %" G_GUINT64_FORMAT ": %s; lower "
      "learning-rate (now %g) or set clip-grad-norm", step, why->message,
      lstm_trainer_get_config (tr)->learning_rate);
  return FALSE;
}

/* One pass over `order` in batches: training steps, or evaluation. */
static gboolean
run_pass (GstLstmTrain * self, LstmTrainer * tr, const Dataset * d,
    gboolean last_only, const guint * order, guint n, guint batch_size,
    BatchScratch * b, guint max_len, gboolean train, LstmTrainStats * stats,
    guint64 * frames, GError ** error)
{
  guint i;

  for (i = 0; i < n; i += batch_size) {
    LstmBatch batch;
    guint k, m = MIN (batch_size, n - i);
    gboolean ok;

    if (g_atomic_int_get (&self->cancel)) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID, "cancelled");
      return FALSE;
    }
    fill_batch (self, d, last_only, order + i, m, b, max_len, &batch);
    ok = train ? train_step (tr, &batch, stats, error) :
        lstm_trainer_evaluate (tr, &batch, NULL, stats, error);
    if (!ok)
      return FALSE;
    for (k = 0; k < m; k++)
      *frames += b->lengths[k];
  }
  return TRUE;
}

static void
shuffle (GRand * rand, guint * v, guint n)
{
  guint i;
  for (i = n; i > 1; i--) {
    guint j = g_rand_int_range (rand, 0, i), tmp = v[i - 1];
    v[i - 1] = v[j];
    v[j] = tmp;
  }
}

/* "epoch 3/10: train loss 0.1234, val loss 0.2345" ("(no validation)"
 * with validation-fraction=0); epochs 0: mode=online, whose "epochs" are
 * checkpoints. */
static gchar *
epoch_text (guint epoch, guint epochs, const gdouble v[4])
{
  if (epochs == 0)
    return g_strdup_printf ("checkpoint %u: train loss %.4f", epoch, v[0]);
  if (isnan (v[2]))
    return g_strdup_printf ("epoch %u/%u: train loss %.4f (no validation)",
        epoch, epochs, v[0]);
  return g_strdup_printf ("epoch %u/%u: train loss %.4f, val loss %.4f",
      epoch, epochs, v[0], v[2]);
}

static void
post_epoch (GstLstmTrain * self, guint epoch, guint epochs,
    const LstmTrainStats * tr, const LstmTrainStats * va, gboolean classify,
    gdouble fps, gdouble out[4])
{
  GstStructure *s;
  g_autofree gchar *text = NULL;

  out[0] = tr->n_targets ? tr->loss_sum / tr->n_targets : NAN;
  out[1] = classify && tr->n_targets ?
      (gdouble) tr->n_correct / tr->n_targets : NAN;
  out[2] = va->n_targets ? va->loss_sum / va->n_targets : NAN;
  out[3] = classify && va->n_targets ?
      (gdouble) va->n_correct / va->n_targets : NAN;
  s = gst_structure_new ("lstmtrain",
      "epoch", G_TYPE_UINT, epoch,
      "train-loss", G_TYPE_DOUBLE, out[0],
      "train-accuracy", G_TYPE_DOUBLE, out[1],
      "val-loss", G_TYPE_DOUBLE, out[2],
      "val-accuracy", G_TYPE_DOUBLE, out[3],
      "frames-per-second", G_TYPE_DOUBLE, fps, NULL);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
  text = epoch_text (epoch, epochs, out);
  GST_INFO_OBJECT (self, "%s", text);
}

/* Progress messages start only once the first statistics buffer has gone
 * downstream: that buffer prerolls the sinks, and gst-launch-1.0 does not
 * go to PLAYING while a progress is pending, which with the buffer blocked
 * in preroll would wait forever. */
static void
post_progress (GstLstmTrain * self, guint epoch, guint epochs,
    const gdouble v[4])
{
  g_autofree gchar *text = epoch_text (epoch, epochs, v);

  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_progress (GST_OBJECT (self), epoch == 1 ?
          GST_PROGRESS_TYPE_START : GST_PROGRESS_TYPE_CONTINUE, "train", text));
}

static GstFlowReturn
push_stats (GstLstmTrain * self, guint epoch, const gdouble v[4])
{
  float f[4] = { v[0], v[1], v[2], v[3] };
  GstBuffer *buf = gst_buffer_new_memdup (f, sizeof (f));

  GST_BUFFER_PTS (buf) = (epoch - 1) * GST_SECOND;
  GST_BUFFER_DURATION (buf) = GST_SECOND;
  return gst_aggregator_finish_buffer (GST_AGGREGATOR (self), buf);
}

static gint
compare_index (gconstpointer a, gconstpointer b, gpointer unused)
{
  guint x = *(const guint *) a, y = *(const guint *) b;

  return x < y ? -1 : x > y;
}

/* Labels, the task and the settings that shaped the weights go into the
 * file's metadata (the loss as trained: auto resolved); online,
 * train-sequences counts the windows (or cues) stepped. */
static void
describe_model (LstmModel * m, const Settings * s, const Dataset * d,
    guint n_train, guint n_val, guint epochs_run, gdouble best)
{
  static const gchar *tasks[] = { "classify", "regress", "forecast" };
  static const gchar *opts[] = { "sgd", "adam", "adamw", "rmsprop" };
  const gchar *loss = d->labels == NULL ? "mse" :
      loss_last_frame (s, d) ? "cross-entropy-last" : "cross-entropy";
  g_autofree gchar *v = NULL;

  if (d->labels != NULL) {
    g_ptr_array_add (d->labels, NULL);
    lstm_model_set_labels (m, (const gchar * const *) d->labels->pdata, NULL);
    g_ptr_array_remove_index (d->labels, d->labels->len - 1);
  }
  lstm_model_set_metadata (m, "trained-by", "gst-lstm lstmtrain");
  lstm_model_set_metadata (m, "task", tasks[s->task]);
  lstm_model_set_metadata (m, "optimizer", opts[s->optimizer]);
  lstm_model_set_metadata (m, "loss", loss);
  lstm_model_set_metadata (m, "mode",
      s->mode == GST_LSTM_TRAIN_MODE_ONLINE ? "online" : "offline");
#define SET_META(key, fmt, val) \
  v = g_strdup_printf (fmt, val); lstm_model_set_metadata (m, key, v); \
  g_clear_pointer (&v, g_free)
  if (s->task == GST_LSTM_TRAIN_TASK_FORECAST) {
    SET_META ("horizon", "%u", s->horizon);
  }
  SET_META ("bptt", "%u", s->bptt);
  SET_META ("learning-rate", "%g", s->learning_rate);
  if (s->optimizer == GST_LSTM_TRAIN_OPTIMIZER_SGD
      || s->optimizer == GST_LSTM_TRAIN_OPTIMIZER_RMSPROP) {
    SET_META ("momentum", "%g", s->momentum);
  }
  SET_META ("weight-decay", "%g", s->weight_decay);
  SET_META ("dropout", "%g", s->dropout);
  SET_META ("clip-grad-norm", "%g", s->clip);
  SET_META ("batch-size", "%u", s->batch_size);
  SET_META ("epochs", "%u", epochs_run);
  SET_META ("seed", "%" G_GUINT64_FORMAT, s->seed);
  SET_META ("train-sequences", "%u", n_train);
  SET_META ("val-sequences", "%u", n_val);
  /* without validation, the training loss measured during the last
   * epoch (no loss rates the final weights) */
  SET_META (n_val > 0 ? "best-loss" : "train-loss", "%.6g", best);
#undef SET_META
}

static gboolean
train (GstLstmTrain * self, const Settings * s, Dataset * d, GError ** error)
{
  g_autoptr (LstmModel) m = NULL;
  g_autoptr (LstmTrainer) tr = NULL;
  g_autoptr (LstmNormStats) norm = NULL;
  g_autofree guint *order = NULL;
  g_autofree float *best = NULL;
  BatchScratch b = { 0 };
  GRand *rand = NULL;
  guint n = d->seqs->len, n_val, n_train, max_len = 1, i, epoch, since = 0;
  guint best_epoch = 0;
  gboolean last_only = loss_last_frame (s, d), ok = FALSE, stopped = FALSE;
  g_autofree gchar *done_text = NULL;
  gdouble best_loss = INFINITY, lowest = INFINITY;

  for (i = 0; i < n; i++)
    max_len = MAX (max_len, g_array_index (d->seqs, Seq, i).len);
  /* the split: a seeded shuffle, the tail held out */
  rand = g_rand_new_with_seed ((guint32) (s->seed ^ (s->seed >> 32)));
  order = g_new (guint, n);
  for (i = 0; i < n; i++)
    order[i] = i;
  shuffle (rand, order, n);
  n_val = (guint) floor (s->val_fraction * n);
  if (n_val >= n)
    n_val = n - 1;
  n_train = n - n_val;
  /* shuffle=false: each part in stream order (the split stays random) */
  if (!s->shuffle) {
    g_qsort_with_data (order, n_train, sizeof (guint), compare_index, NULL);
    g_qsort_with_data (order + n_train, n_val, sizeof (guint),
        compare_index, NULL);
  }

  m = make_model (self, s, d, error);
  if (m == NULL)
    goto done;
  if (s->init_model == NULL || m->input_mean == NULL) {
    /* normalization measured on the training sequences only */
    norm = lstm_norm_stats_new (self->channels);
    for (i = 0; i < n_train; i++) {
      const Seq *q = &g_array_index (d->seqs, Seq, order[i]);
      lstm_norm_stats_add (norm, &g_array_index (self->frames, float,
              (gsize) q->first * self->channels), q->len);
    }
    if (!lstm_norm_stats_apply (norm, m, error))
      goto done;
  }
  /* a batch never holds more sequences than a pass has: a batch-size
   * beyond that would only size the caches (65536 x 100 frames: GiBs) */
  tr = make_trainer (self, s, d, m, MIN (s->batch_size, MAX (n_train,
              n_val)), max_len, error);
  if (tr == NULL)
    goto done;

  b.lengths = g_new (guint, s->batch_size);
  b.inputs = g_new (const float *, s->batch_size);
  b.ids = g_new (const gint32 *, s->batch_size);
  b.targets = g_new (const float *, s->batch_size);
  b.id_store = g_new (gint32, (gsize) s->batch_size * max_len);
  best = g_new (float, m->n_params);
  memcpy (best, m->params, m->n_params * sizeof (float));

  for (epoch = 1; epoch <= s->epochs; epoch++) {
    LstmTrainStats st = { 0 }, sv = { 0 };
    guint64 frames = 0;
    gint64 t0 = g_get_monotonic_time ();
    gdouble v[4], loss;

    if (s->shuffle)
      shuffle (rand, order, n_train);
    if (!run_pass (self, tr, d, last_only, order, n_train, s->batch_size, &b,
            max_len, TRUE, &st, &frames, error)
        || !run_pass (self, tr, d, last_only, order + n_train, n_val,
            s->batch_size, &b, max_len, FALSE, &sv, &frames, error))
      goto done;
    post_epoch (self, epoch, s->epochs, &st, &sv, d->labels != NULL,
        frames / MAX ((g_get_monotonic_time () - t0) / 1e6, 1e-9), v);
    if (push_stats (self, epoch, v) < GST_FLOW_EOS) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
          "downstream refused the statistics");
      goto done;
    }
    post_progress (self, epoch, s->epochs, v);
    if (!isfinite (v[0])) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
          "training diverged: the training loss of epoch %u is %g; lower "
          "learning-rate (now %g) or set clip-grad-norm", epoch, v[0],
          s->learning_rate);
      goto done;
    }
    /* the best model by validation loss; without one the last model
     * (an epoch's training loss is measured while its updates are made,
     * so it rates no one set of weights: taking the "best" by it kept the
     * weights one epoch past the loss it was chosen by), with patience
     * then on the training loss */
    loss = n_val > 0 ? v[2] : v[0];
    if (n_val == 0) {
      best_loss = loss;
      best_epoch = epoch;
      memcpy (best, m->params, m->n_params * sizeof (float));
    }
    if (loss < lowest) {
      lowest = loss;
      since = 0;
      if (n_val > 0) {
        best_loss = loss;
        best_epoch = epoch;
        memcpy (best, m->params, m->n_params * sizeof (float));
      }
    } else if (s->patience > 0 && ++since >= s->patience) {
      GST_INFO_OBJECT (self, "early stop after epoch %u", epoch);
      stopped = TRUE;
      epoch++;
      break;
    }
  }
  if (!isfinite (best_loss)) {
    /* no epoch was better than nothing: the "best" model would be the
     * untrained initial one */
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "training diverged: the validation loss was not finite after any "
        "epoch (%u run), so the best model would be the untrained one; "
        "lower learning-rate (now %g) or set clip-grad-norm", epoch - 1,
        s->learning_rate);
    goto done;
  }
  memcpy (m->params, best, m->n_params * sizeof (float));
  lstm_model_weights_changed (m);
  describe_model (m, s, d, n_train, n_val, epoch - 1, best_loss);
  ok = lstm_model_save (m, s->model_path, error);
  /* which epoch's weights were kept, and why training ended there */
  done_text = !ok ? g_strdup ("training failed") : stopped ?
      g_strdup_printf ("model saved: epoch %u, the %s; stopped after "
      "epoch %u, %u without a better %s loss (patience)", best_epoch,
      n_val > 0 ? "best" : "last", epoch - 1, s->patience,
      n_val > 0 ? "validation" : "training") : n_val > 0 ?
      g_strdup_printf ("model saved: epoch %u of %u, the best by "
      "validation loss", best_epoch, epoch - 1) :
      g_strdup_printf ("model saved: epoch %u, the last (no validation)",
      best_epoch);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_progress (GST_OBJECT (self), ok ?
          GST_PROGRESS_TYPE_COMPLETE : GST_PROGRESS_TYPE_ERROR, "train",
          done_text));

done:
  g_free (b.lengths);
  g_free (b.inputs);
  g_free (b.ids);
  g_free (b.targets);
  g_free (b.id_store);
  if (rand)
    g_rand_free (rand);
  return ok;
}

GstFlowReturn
gst_lstm_train_train_offline (GstLstmTrain * self)
{
  g_autoptr (GError) error = NULL;
  Settings s = { 0 };
  Dataset d = { 0 };
  gboolean ok;

  read_settings (self, &s);
  ok = gst_lstm_train_build_dataset (self, &d, &error)
      && train (self, &s, &d, &error);
  if (!ok && g_atomic_int_get (&self->cancel)) {
    ok = TRUE;                  /* stopping: not an error */
  } else if (!ok) {
    GST_ELEMENT_ERROR (self, LIBRARY, FAILED, ("Training failed."),
        ("%s", error->message));
  }
  gst_lstm_train_dataset_clear (&d);
  clear_settings (&s);
  return ok ? GST_FLOW_EOS : GST_FLOW_ERROR;
}

/* ----------------------------------------------------------------- online */

/* mode=online: a batch of one, trained as the stream goes. Forecasts and
 * fixed labels run truncated BPTT over consecutive bptt-frame windows,
 * the state carried from one window to the next (reset at a break); a
 * label track trains each cue once the frames past its end have come.
 * Checkpoints are atomic saves every checkpoint-interval of stream time
 * and at the end. */
typedef struct
{
  Settings s;
  Dataset d;                    /* labels and out_size; no sequences */
  LstmModel *model;
  LstmTrainer *trainer;
  LstmState *state;             /* carried across windows */
  gint label;                   /* the fixed label's id, or -1 */
  guint max_len;                /* frames per step at most */
  gint32 *ids;                  /* [max_len] class ids of a step */
  guint consumed;               /* frames before this index are done */
  guint next_cue;
  GstClockTime last_checkpoint; /* PTS of the last save */
  LstmTrainStats stats;         /* since the last checkpoint */
  guint64 frames;               /* trained since the last checkpoint */
  gint64 t0;                    /* monotonic time of the last checkpoint */
  guint checkpoints;
  guint steps;                  /* windows (or cues) stepped in all */
} Online;

void
gst_lstm_train_online_free (gpointer data)
{
  Online *o = data;

  if (o->trainer)
    lstm_trainer_free (o->trainer);
  if (o->state)
    lstm_state_free (o->state);
  if (o->model)
    lstm_model_unref (o->model);
  g_free (o->ids);
  gst_lstm_train_dataset_clear (&o->d);
  clear_settings (&o->s);
  g_free (o);
}

void
gst_lstm_train_online_flush (gpointer data)
{
  Online *o = data;

  lstm_state_reset (o->state);
  o->consumed = 0;
  o->next_cue = 0;
  /* stream time restarts wherever the seek went */
  o->last_checkpoint = GST_CLOCK_TIME_NONE;
}

static Online *
online_new (GstLstmTrain * self, GError ** error)
{
  Online *o = g_new0 (Online, 1);
  g_autoptr (GPtrArray) fixed = NULL;
  g_autofree gchar *label = NULL;
  gboolean text = self->targetpad != NULL && self->target_text;

  read_settings (self, &o->s);
  GST_OBJECT_LOCK (self);
  label = g_strdup (self->label);
  GST_OBJECT_UNLOCK (self);
  fixed = gst_lstm_train_fixed_labels (self, &o->d.labels_from, error);
  if (fixed == NULL && error != NULL && *error != NULL)
    goto fail;
  o->label = -1;
  o->last_checkpoint = GST_CLOCK_TIME_NONE;
  o->t0 = g_get_monotonic_time ();

  if (self->targetpad != NULL && !text) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "mode=online trains forecasts, fixed labels and label tracks; "
        "numeric target streams need mode=offline");
    goto fail;
  }
  if (o->s.task == GST_LSTM_TRAIN_TASK_FORECAST && self->targetpad == NULL) {
    o->d.out_size = self->channels;
  } else if (o->s.task == GST_LSTM_TRAIN_TASK_CLASSIFY
      && (text || label != NULL)) {
    if (fixed == NULL) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
          "mode=online needs the labels property (or an init-model with "
          "labels): the head's size must be known before the first step");
      goto fail;
    }
    o->d.labels = g_ptr_array_ref (fixed);
    o->d.out_size = fixed->len;
    if (label != NULL
        && (o->label = gst_lstm_train_find_label (fixed, label)) < 0) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
          "label '%s' is not one of %s", label, o->d.labels_from);
      goto fail;
    }
  } else {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "nothing to learn online: set task=forecast, a fixed label, or link "
        "a label track to the target pad");
    goto fail;
  }

  o->model = make_model (self, &o->s, &o->d, error);
  if (o->model == NULL)
    goto fail;
  if (o->s.init_model == NULL || o->model->input_mean == NULL) {
    /* online, the statistics are those of the first window (bptt +
     * horizon frames) or of the frames up to the first cue's end: a fixed
     * span, so the same stream and seed train the same model whatever the
     * buffering */
    g_autoptr (LstmNormStats) norm = lstm_norm_stats_new (self->channels);
    guint n = self->frame_pts->len, span = text && self->cues->len > 0 ?
        gst_lstm_train_lower_bound (self->frame_pts, g_array_index (self->cues,
            GstLstmTrainCue, 0).end) : o->s.bptt + self->horizon;
    if (span == 0 || span > n)
      span = n;
    lstm_norm_stats_add (norm, (const float *) self->frames->data, span);
    if (!lstm_norm_stats_apply (norm, o->model, error))
      goto fail;
  }
  /* a cue longer than this trains on its last max_len frames */
  o->max_len = text ? MAX (o->s.bptt, 1000) : o->s.bptt;
  o->s.batch_size = 1;
  o->trainer = make_trainer (self, &o->s, &o->d, o->model, 1, o->max_len,
      error);
  if (o->trainer == NULL)
    goto fail;
  o->state = lstm_state_new (o->model, 0);
  o->ids = g_new (gint32, o->max_len);
  return o;

fail:
  gst_lstm_train_online_free (o);
  return NULL;
}

static gboolean
span_is_finite (GstLstmTrain * self, guint a, guint b)
{
  guint i;
  for (i = a; i < b; i++)
    if (!gst_lstm_train_frame_ok (self, i))
      return FALSE;
  return TRUE;
}

/* One step on frames [first, first + len): a forecast (targets: the same
 * frames `horizon` later), or a class for every frame. */
static gboolean
online_step (GstLstmTrain * self, Online * o, guint first, guint len,
    gint label, gboolean carry, GError ** error)
{
  const float *frames = (const float *) self->frames->data;
  const float *x = frames + (gsize) first * self->channels;
  const float *y = frames + (gsize) (first + self->horizon) * self->channels;
  const gint32 *ids = o->ids;
  LstmState *state = o->state;
  LstmBatch batch = { 1, &len, &x, NULL, NULL, NULL };
  guint t;

  if (label >= 0) {
    for (t = 0; t < len; t++)
      o->ids[t] = label;
    batch.class_ids = &ids;
  } else {
    batch.targets = &y;
  }
  if (carry)
    batch.states = &state;
  o->frames += len;
  o->steps++;
  return train_step (o->trainer, &batch, &o->stats, error);
}

static gboolean online_checkpoint (GstLstmTrain * self, Online * o,
    GError ** error);

/* After a step that ended at frame `last`: a checkpoint when the stream
 * has moved checkpoint-interval past the previous one. */
static gboolean
online_maybe_checkpoint (GstLstmTrain * self, Online * o, guint last,
    GError ** error)
{
  GstClockTime t = g_array_index (self->frame_pts, GstClockTime, last);

  if (!GST_CLOCK_TIME_IS_VALID (o->last_checkpoint))
    o->last_checkpoint = t;
  /* as a difference: last + interval overflows for a huge interval */
  if (self->checkpoint_interval == 0 || t < o->last_checkpoint
      || t - o->last_checkpoint < self->checkpoint_interval)
    return TRUE;
  o->last_checkpoint = t;
  return online_checkpoint (self, o, error);
}

/* Saves the model as it is now and then reports the steps since the last
 * checkpoint as one "epoch" (a checkpoint announced is one saved: a save
 * that fails is an error, with no report before it). */
static gboolean
online_checkpoint (GstLstmTrain * self, Online * o, GError ** error)
{
  LstmTrainStats none = { 0 };
  gdouble v[4];
  gint64 now = g_get_monotonic_time ();
  gdouble loss = o->stats.n_targets ?
      o->stats.loss_sum / o->stats.n_targets : NAN;

  describe_model (o->model, &o->s, &o->d, o->steps, 0, o->checkpoints + 1,
      loss);
  if (!lstm_model_save (o->model, o->s.model_path, error))
    return FALSE;
  o->checkpoints++;
  post_epoch (self, o->checkpoints, 0, &o->stats, &none, o->d.labels != NULL,
      o->frames / MAX ((now - o->t0) / 1e6, 1e-9), v);
  memset (&o->stats, 0, sizeof (o->stats));
  o->frames = 0;
  o->t0 = now;
  if (push_stats (self, o->checkpoints, v) < GST_FLOW_EOS) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "downstream refused the statistics");
    return FALSE;
  }
  post_progress (self, o->checkpoints, 0, v);
  return TRUE;
}

/* At the end of the stream: the last checkpoint, unless no step came
 * since the previous one (the file already holds this model, and an
 * empty interval has no loss to report); no step at all is an error, as
 * offline, rather than an untrained model. */
static gboolean
online_finish (GstLstmTrain * self, Online * o, GError ** error)
{
  if (lstm_trainer_get_step_count (o->trainer) == 0) {
    if (!self->target_text && o->label < 0)
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
          "the stream is too short to forecast %u frame%s ahead (%u "
          "frame%s)", self->horizon, self->horizon == 1 ? "" : "s",
          self->frame_pts->len, self->frame_pts->len == 1 ? "" : "s");
    else
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
          "no usable training sequence (%u frames, %u cues)",
          self->frame_pts->len, self->cues->len);
    return FALSE;
  }
  if ((o->stats.n_targets > 0 || o->checkpoints == 0)
      && !online_checkpoint (self, o, error))
    return FALSE;
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_progress (GST_OBJECT (self),
          GST_PROGRESS_TYPE_COMPLETE, "train", "model saved"));
  return TRUE;
}

/* Windows of a forecast or fixed-label stream that are complete. */
static gboolean
online_windows (GstLstmTrain * self, Online * o, gboolean eos, GError ** error)
{
  guint n = self->frame_pts->len, h = o->label >= 0 ? 0 : self->horizon;

  while (o->consumed < n) {
    guint start = o->consumed, end = n, k, len;
    gboolean cut = eos;

    for (k = 0; k < self->breaks->len; k++) {
      guint b = g_array_index (self->breaks, guint, k);
      if (b > start) {
        end = b;
        cut = TRUE;
        break;
      }
    }
    /* a whole window with its targets, or what a stretch has left */
    if (start + o->s.bptt + h <= end)
      len = o->s.bptt;
    else if (cut)
      len = end > start + h ? end - start - h : 0;
    else
      break;                    /* wait for more frames */
    if (len > 0 && span_is_finite (self, start, start + len + h)) {
      if (!online_step (self, o, start, len, o->label, TRUE, error)
          || !online_maybe_checkpoint (self, o, start + len - 1, error))
        return FALSE;
    } else {
      lstm_state_reset (o->state);      /* a gap: the sequence restarts */
    }
    o->consumed = len == o->s.bptt ? start + len : end;
    if (o->consumed == end && cut)
      lstm_state_reset (o->state);
  }
  return TRUE;
}

/* Cues whose frames have all come. */
static gboolean
online_cues (GstLstmTrain * self, Online * o, gboolean eos, GError ** error)
{
  guint n = self->frame_pts->len;

  while (o->next_cue < self->cues->len) {
    GstLstmTrainCue *cue = &g_array_index (self->cues, GstLstmTrainCue,
        o->next_cue);
    guint a = gst_lstm_train_lower_bound (self->frame_pts, cue->start);
    guint b = gst_lstm_train_lower_bound (self->frame_pts, cue->end);
    gint id;

    if (b >= n && !eos)
      break;                    /* frames of this cue may still come */
    o->next_cue++;
    id = gst_lstm_train_find_label (o->d.labels, cue->label);
    if (id < 0) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
          "the cue at %" GST_TIME_FORMAT " has the label '%s', which is not "
          "one of %s", GST_TIME_ARGS (cue->start), cue->label,
          o->d.labels_from);
      return FALSE;
    }
    if (a >= b || !span_is_finite (self, a, b))
      continue;
    if (b - a > o->max_len)
      a = b - o->max_len;
    if (!online_step (self, o, a, b - a, id, FALSE, error)
        || !online_maybe_checkpoint (self, o, b - 1, error))
      return FALSE;
    o->consumed = b;
  }
  return TRUE;
}

/* Drops frames no later step needs, so a long stream stays bounded. */
static void
online_trim (GstLstmTrain * self, Online * o)
{
  guint drop = o->consumed, k;

  if (self->target_text || drop < 65536)
    return;
  g_array_remove_range (self->frames, 0, (gsize) drop * self->channels);
  g_array_remove_range (self->frame_pts, 0, drop);
  for (k = 0; k < self->breaks->len;) {
    guint *b = &g_array_index (self->breaks, guint, k);
    if (*b <= drop) {
      g_array_remove_index (self->breaks, k);
    } else {
      *b -= drop;
      k++;
    }
  }
  o->consumed = 0;
}

GstFlowReturn
gst_lstm_train_train_online (GstLstmTrain * self, gboolean eos)
{
  g_autoptr (GError) error = NULL;
  Online *o = self->online;
  guint n = self->frame_pts->len;
  gboolean ok = TRUE;

  if (o == NULL) {
    gboolean text = self->targetpad != NULL && self->target_text;
    /* enough to start: a window (and its horizon), a cue, or the end */
    if (!eos && (text ? self->cues->len == 0 : n < self->bptt + self->horizon))
      return GST_FLOW_OK;
    if (n == 0) {
      GST_ELEMENT_ERROR (self, LIBRARY, FAILED, ("Training failed."),
          ("no frames arrived on the sink pad: nothing to train on"));
      return GST_FLOW_ERROR;
    }
    o = self->online = online_new (self, &error);
    ok = o != NULL;
  }
  if (ok)
    ok = self->target_text ? online_cues (self, o, eos, &error) :
        online_windows (self, o, eos, &error);
  if (ok && eos)
    ok = online_finish (self, o, &error);
  if (ok && !eos)
    online_trim (self, o);
  if (!ok) {
    if (g_atomic_int_get (&self->cancel))
      return GST_FLOW_FLUSHING;
    GST_ELEMENT_ERROR (self, LIBRARY, FAILED, ("Training failed."),
        ("%s", error->message));
    return GST_FLOW_ERROR;
  }
  return eos ? GST_FLOW_EOS : GST_FLOW_OK;
}
