/* The lstmtrain element guarding what it writes: a run that diverges,
 * fine-tuning's class ids, flushes, odd model paths, checkpoints. Small
 * data: the whole program runs in a few seconds. */
#include "test-util.h"
#include "test-element-util.h"

#include <gst/gst.h>
#include <gst/check/gstharness.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

/* ------------------------------------------------------------- helpers */

/* A small trained-looking model of 3 inputs and `outputs` outputs saved at
 * path; its bytes. */
static GBytes *
save_old_model (const gchar * path, guint outputs)
{
  g_autoptr (LstmModel) old = lstm_model_new (3, 4, 1, outputs,
      LSTM_OUTPUT_IDENTITY, NULL);

  lstm_model_init_random (old, 9);
  g_assert_true (lstm_model_save (old, path, NULL));
  return read_file_or_fail (path);
}

/* Progress messages "complete" of the last run_appsrc, and the texts of
 * its last progress message of each kind (under progress_lock). */
static gint completed;
static GMutex progress_lock;
static gchar *last_epoch_text, *complete_text;

static GstBusSyncReply
count_completed (GstBus * bus, GstMessage * msg, gpointer data)
{
  GstProgressType type;
  gchar *text = NULL;

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_PROGRESS) {
    gst_message_parse_progress (msg, &type, NULL, &text);
    g_mutex_lock (&progress_lock);
    if (type == GST_PROGRESS_TYPE_COMPLETE) {
      g_atomic_int_inc (&completed);
      g_free (complete_text);
      complete_text = g_steal_pointer (&text);
    } else {
      g_free (last_epoch_text);
      last_epoch_text = g_steal_pointer (&text);
    }
    g_mutex_unlock (&progress_lock);
    g_free (text);
  }
  return GST_BUS_PASS;
}

/* Runs `appsrc ! lstmtrain name=t <props> ! fakesink` on n frames of 3
 * channels (x), with a target appsrc of `tc` channels (y) when y is not
 * NULL; the message that ended it. */
static GstMessage *
run_appsrc (const gchar * props, const float *x, guint n, const float *y,
    guint tc, TrainSeen * seen)
{
  g_autofree gchar *target = y ? g_strdup_printf (" appsrc name=y "
      "format=time caps=audio/x-raw,format=F32LE,layout=interleaved,"
      "channels=%u,rate=100 ! t.target", tc) : g_strdup ("");
  g_autofree gchar *desc = g_strdup_printf ("lstmtrain name=t %s ! fakesink "
      "appsrc name=x format=time caps=audio/x-raw,format=F32LE,"
      "layout=interleaved,channels=3,rate=100 ! t.sink%s", props, target);
  g_autoptr (GError) error = NULL;
  GstElement *p, *xs, *ys = NULL;
  GstBus *bus;
  GstMessage *msg;

  p = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  xs = train_get (p, "x");
  if (y != NULL)
    ys = train_get (p, "y");
  bus = gst_element_get_bus (p);
  completed = 0;
  gst_bus_set_sync_handler (bus, count_completed, NULL, NULL);
  gst_element_set_state (p, GST_STATE_PLAYING);
  train_push (xs, x, n, 3, 0, FALSE);
  if (y != NULL)
    train_push (ys, y, n, tc, 0, FALSE);
  g_signal_emit_by_name (xs, "end-of-stream", &(GstFlowReturn) {
      0}
  );
  if (ys != NULL)
    g_signal_emit_by_name (ys, "end-of-stream", &(GstFlowReturn) {
        0}
    );
  msg = train_wait_end (bus, seen);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (xs);
  if (ys != NULL)
    gst_object_unref (ys);
  gst_object_unref (p);
  return msg;
}

/* ------------------------------------------------------------ progress */

/* The progress texts say what happened: with validation-fraction=0 an
 * epoch has no validation loss (it read 'val loss nan'), and the end says
 * which epoch's weights were saved, and with patience that training
 * stopped early (it said only 'model saved'). learning-rate=0: the loss
 * never improves after epoch 1. */
static void
test_progress_texts (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-guard-XXXXXX", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree gchar *no_val = g_strdup_printf ("task=forecast model=%s "
      "epochs=3 bptt=20 validation-fraction=0 seed=1", model);
  g_autofree gchar *patient = g_strdup_printf ("task=forecast model=%s "
      "epochs=200 patience=2 learning-rate=0 bptt=20 seed=1", model);
  g_autofree float *x = g_new (float, 300 * 3);

  train_make_frames (x, 300, 3, 0, 11);
  train_assert_eos (run_appsrc (no_val, x, 300, NULL, 0, NULL));
  g_test_message ("%s / %s", last_epoch_text, complete_text);
  g_assert_nonnull (strstr (last_epoch_text, "epoch 3/3: train loss "));
  g_assert_nonnull (strstr (last_epoch_text, "(no validation)"));
  g_assert_null (strstr (last_epoch_text, "nan"));
  g_assert_cmpstr (complete_text, ==, "model saved: epoch 3, the last (no "
      "validation)");

  train_assert_eos (run_appsrc (patient, x, 300, NULL, 0, NULL));
  g_test_message ("%s / %s", last_epoch_text, complete_text);
  g_assert_cmpstr (complete_text, ==, "model saved: epoch 1, the best; "
      "stopped after epoch 3, 2 without a better validation loss "
      "(patience)");
  g_clear_pointer (&last_epoch_text, g_free);
  g_clear_pointer (&complete_text, g_free);
  train_remove_dir (dir);
}

/* ---------------------------------------------------- the model kept */

/* validation-fraction=0: the model saved is the last one. Plain SGD
 * (stateless) with shuffle=false (stream order): two epochs equal one
 * epoch, then one more from that model as init-model (which keeps its
 * normalization), bit for bit. The step is large (learning-rate 100,
 * clipped to norm 1), so the training loss of epoch 2 is above epoch 1's:
 * picking the "best" by training loss kept the weights after epoch 1
 * (one epoch past the loss it was chosen by), which this tells apart. */
static void
test_no_validation_keeps_last (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-guard-XXXXXX", NULL);
  g_autofree gchar *two = g_build_filename (dir, "two.safetensors", NULL);
  g_autofree gchar *one = g_build_filename (dir, "one.safetensors", NULL);
  g_autofree gchar *more = g_build_filename (dir, "more.safetensors", NULL);
  const gchar *common = "task=forecast optimizer=sgd learning-rate=100 "
      "clip-grad-norm=1 shuffle=false validation-fraction=0 bptt=20 seed=3 "
      "batch-size=4";
  g_autofree gchar *p_two = g_strdup_printf ("%s epochs=2 model=%s", common,
      two);
  g_autofree gchar *p_one = g_strdup_printf ("%s epochs=1 model=%s", common,
      one);
  g_autofree gchar *p_more = g_strdup_printf ("%s epochs=1 init-model=%s "
      "model=%s", common, one, more);
  g_autofree float *x = g_new (float, 300 * 3);
  g_autoptr (LstmModel) m_two = NULL;
  g_autoptr (LstmModel) m_one = NULL;
  g_autoptr (LstmModel) m_more = NULL;

  train_make_frames (x, 300, 3, 0, 11);
  train_assert_eos (run_appsrc (p_two, x, 300, NULL, 0, NULL));
  train_assert_eos (run_appsrc (p_one, x, 300, NULL, 0, NULL));
  train_assert_eos (run_appsrc (p_more, x, 300, NULL, 0, NULL));
  m_two = lstm_model_load (two, NULL);
  m_one = lstm_model_load (one, NULL);
  m_more = lstm_model_load (more, NULL);
  g_assert_nonnull (m_two);
  g_assert_nonnull (m_one);
  g_assert_nonnull (m_more);
  g_assert_cmpuint (m_two->n_params, ==, m_more->n_params);
  g_assert_cmpmem (m_two->params, m_two->n_params * 4, m_more->params,
      m_more->n_params * 4);
  g_assert_true (memcmp (m_two->params, m_one->params,
          m_one->n_params * 4) != 0);
  /* no loss rates the last weights: the metadata gives the last epoch's
   * training loss under its own name */
  g_assert_null (lstm_model_get_metadata (m_two, "best-loss"));
  g_assert_nonnull (lstm_model_get_metadata (m_two, "train-loss"));
  train_remove_dir (dir);
}

/* shuffle=false trains in stream order: from the same init-model, with
 * one sequence a step (so the order shows), the seed changes nothing. A
 * seeded order was applied even then (it also drew the validation
 * split), so another seed gave another model. */
static void
test_no_shuffle_stream_order (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-guard-XXXXXX", NULL);
  g_autofree gchar *init = g_build_filename (dir, "init.safetensors", NULL);
  g_autofree gchar *a = g_build_filename (dir, "a.safetensors", NULL);
  g_autofree gchar *b = g_build_filename (dir, "b.safetensors", NULL);
  const gchar *common = "task=forecast optimizer=sgd learning-rate=0.1 "
      "shuffle=false validation-fraction=0 bptt=20 batch-size=1 epochs=1";
  g_autofree gchar *p_a = NULL;
  g_autofree gchar *p_b = NULL;
  g_autofree float *x = g_new (float, 300 * 3);
  g_autoptr (LstmModel) m_a = NULL;
  g_autoptr (LstmModel) m_b = NULL;

  g_bytes_unref (save_old_model (init, 3));
  p_a = g_strdup_printf ("%s seed=1 init-model=%s model=%s", common, init, a);
  p_b = g_strdup_printf ("%s seed=2 init-model=%s model=%s", common, init, b);
  train_make_frames (x, 300, 3, 0, 11);
  train_assert_eos (run_appsrc (p_a, x, 300, NULL, 0, NULL));
  train_assert_eos (run_appsrc (p_b, x, 300, NULL, 0, NULL));
  m_a = lstm_model_load (a, NULL);
  m_b = lstm_model_load (b, NULL);
  g_assert_nonnull (m_a);
  g_assert_nonnull (m_b);
  g_assert_cmpmem (m_a->params, m_a->n_params * 4, m_b->params,
      m_b->n_params * 4);
  train_remove_dir (dir);
}

/* dropout with one layer does nothing (nn.LSTM applies it between
 * stacked layers): a warning says so, as PyTorch's does; the run goes on. */
static void
test_dropout_one_layer_warns (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-guard-XXXXXX", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree gchar *props = g_strdup_printf ("task=forecast dropout=0.5 "
      "epochs=1 bptt=20 model=%s", model);
  g_autofree float *x = g_new (float, 300 * 3);
  TrainSeen seen;
  guint i, said = 0;

  train_seen_init (&seen);
  train_make_frames (x, 300, 3, 0, 11);
  train_assert_eos (run_appsrc (props, x, 300, NULL, 0, &seen));
  for (i = 0; i < seen.warnings->len; i++)
    said += strstr (seen.warnings->pdata[i], "dropout=0.5 does nothing with "
        "num-layers=1") != NULL;
  g_assert_cmpuint (said, ==, 1);
  train_seen_clear (&seen);
  train_remove_dir (dir);
}

/* A forecast over 130 frames at 100 frames/s and then, after a caps
 * change to 50 frames/s (another recording), 130 more: no window spans
 * the change, as none spans a new stream; the windows are those of the
 * two parts trained apart (they were cut as one stream's). Returns the
 * model's train-sequences. */
static guint64
forecast_windows (gboolean first, gboolean second)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-guard-XXXXXX", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree gchar *desc = g_strdup_printf ("appsrc name=x format=time "
      "caps=audio/x-raw,format=F32LE,layout=interleaved,channels=3,rate=%u "
      "! lstmtrain task=forecast epochs=1 bptt=40 validation-fraction=0 "
      "model=%s ! fakesink", first ? 100 : 50, model);
  g_autofree float *x = g_new (float, 260 * 3);
  g_autoptr (LstmModel) m = NULL;
  GstElement *p = gst_parse_launch (desc, NULL);
  GstElement *xs = train_get (p, "x");
  GstBus *bus = gst_element_get_bus (p);
  guint64 windows;

  train_make_frames (x, 260, 3, 0, 11);
  gst_element_set_state (p, GST_STATE_PLAYING);
  if (first)
    train_push (xs, x, 130, 3, 0, TRUE);
  if (second) {
    GstCaps *caps = gst_caps_from_string ("audio/x-raw,format=F32LE,"
        "layout=interleaved,channels=3,rate=50");
    g_object_set (xs, "caps", caps, NULL);
    gst_caps_unref (caps);
    train_push (xs, x + 130 * 3, 130, 3, 130, TRUE);
  }
  train_end_of_stream (xs);
  train_assert_eos (train_wait_end (bus, NULL));
  gst_element_set_state (p, GST_STATE_NULL);
  m = lstm_model_load (model, NULL);
  g_assert_nonnull (m);
  windows = g_ascii_strtoull (lstm_model_get_metadata (m, "train-sequences"),
      NULL, 10);
  gst_object_unref (bus);
  gst_object_unref (xs);
  gst_object_unref (p);
  train_remove_dir (dir);
  return windows;
}

static void
test_rate_change_breaks (void)
{
  guint64 a = forecast_windows (TRUE, FALSE), b = forecast_windows (FALSE,
      TRUE), both = forecast_windows (TRUE, TRUE);

  g_test_message ("windows: %" G_GUINT64_FORMAT " + %" G_GUINT64_FORMAT
      " apart, %" G_GUINT64_FORMAT " together", a, b, both);
  g_assert_cmpuint (both, ==, a + b);
}

/* set_state (NULL) while an offline training runs (100000 epochs, from
 * the end of stream) stops it at its next batch: the call returns at once
 * and nothing is written. It waited for the whole training (forever here)
 * and then saved, since the cancel came only in stop (), after the wait
 * for the streaming thread. */
static gint stop_returned;

static gpointer
set_null (gpointer p)
{
  gst_element_set_state (p, GST_STATE_NULL);
  g_atomic_int_set (&stop_returned, 1);
  return NULL;
}

static void
test_stop_during_training (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-guard-XXXXXX", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree gchar *desc = g_strdup_printf ("appsrc name=x format=time "
      "caps=audio/x-raw,format=F32LE,layout=interleaved,channels=3,rate=100 "
      "! lstmtrain task=forecast epochs=100000 bptt=20 model=%s ! fakesink",
      model);
  g_autofree float *x = g_new (float, 300 * 3);
  GstElement *p = gst_parse_launch (desc, NULL);
  GstElement *xs = train_get (p, "x");
  GstBus *bus = gst_element_get_bus (p);
  GstMessage *msg;
  GThread *t;
  gint64 deadline;

  train_make_frames (x, 300, 3, 0, 11);
  gst_element_set_state (p, GST_STATE_PLAYING);
  train_push (xs, x, 300, 3, 0, TRUE);
  train_end_of_stream (xs);
  /* training is under way once an epoch has been reported */
  msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
      GST_MESSAGE_ELEMENT | GST_MESSAGE_ERROR);
  g_assert_nonnull (msg);
  g_assert_cmpint (GST_MESSAGE_TYPE (msg), ==, GST_MESSAGE_ELEMENT);
  gst_message_unref (msg);
  g_atomic_int_set (&stop_returned, 0);
  t = g_thread_new ("stop", set_null, p);
  deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while (!g_atomic_int_get (&stop_returned)
      && g_get_monotonic_time () < deadline)
    g_usleep (10000);
  g_assert_true (g_atomic_int_get (&stop_returned));
  g_thread_join (t);
  g_assert_false (g_file_test (model, G_FILE_TEST_EXISTS));
  gst_object_unref (bus);
  gst_object_unref (xs);
  gst_object_unref (p);
  train_remove_dir (dir);
}

/* ---------------------------------------------------------- divergence */

/* One frame of 3e38 (finite, but its square overflows): the first step's
 * gradient is not finite before any learning rate acted, and the error
 * says the data is the cause (it advised lowering learning-rate, even at
 * learning-rate=0). */
static void
test_huge_value_first_step (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-guard-XXXXXX", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree gchar *props = g_strdup_printf ("task=forecast learning-rate=0 "
      "epochs=1 bptt=20 model=%s", model);
  g_autofree float *x = g_new (float, 300 * 3);
  g_autofree gchar *dbg = NULL;

  train_make_frames (x, 300, 3, 0, 11);
  x[50 * 3 + 1] = 3e38f;
  dbg = train_assert_error (run_appsrc (props, x, 300, NULL, 0, NULL),
      "Training failed.", "training cannot start: at the first step the "
      "gradient is not finite");
  g_assert_nonnull (strstr (dbg, "scale the data"));
  g_assert_null (strstr (dbg, "lower learning-rate"));
  g_assert_false (g_file_test (model, G_FILE_TEST_EXISTS));
  train_remove_dir (dir);
}

/* (1) Plain SGD at learning-rate 1e30 on a forecast: the first step
 * makes the weights huge, the second step's gradient overflows. An error
 * that says the run diverged and what to change; the good model that was
 * there is byte for byte what it was, and no other file is left. */
static void
test_diverged_keeps_model (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-guard-XXXXXX", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree gchar *props = g_strdup_printf ("task=forecast model=%s "
      "optimizer=sgd learning-rate=1e30 epochs=3 bptt=20 seed=1", model);
  g_autofree float *x = g_new (float, 300 * 3);
  g_autoptr (GBytes) before = save_old_model (model, 3);
  g_autoptr (GBytes) after = NULL;
  g_autofree gchar *dbg = NULL;
  g_autofree gchar *left = NULL;

  train_make_frames (x, 300, 3, 0, 11);
  dbg = train_assert_error (run_appsrc (props, x, 300, NULL, 0, NULL),
      "Training failed.", "training diverged at step 2: ");
  g_assert_nonnull (strstr (dbg, "lower learning-rate (now 1e+30) or set "
          "clip-grad-norm"));
  after = read_file_or_fail (model);
  g_assert_true (g_bytes_equal (before, after));
  left = train_dir_listing (dir);
  g_assert_cmpstr (left, ==, "m.safetensors");
  train_remove_dir (dir);
}

/* (2) One epoch of SGD at 1e35 on a regression onto targets in the
 * thousands: the step leaves the weights finite but so large that the
 * head's output overflows on the validation window, whose loss is then
 * infinite; the best model would be the untrained initial one. An error
 * that says so, and the old model kept. (Measured: 1e34 leaves the
 * validation loss finite, 3e35 overflows the weights in the step itself,
 * which test (1) covers. The split is fixed by the seed: GRand is the
 * same on every platform.) */
static void
test_val_loss_never_finite (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-guard-XXXXXX", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree gchar *props = g_strdup_printf ("task=regress model=%s "
      "optimizer=sgd learning-rate=1e35 validation-fraction=0.5 bptt=100 "
      "epochs=1 seed=1", model);
  const guint N = 200;
  g_autofree float *x = g_new (float, N * 3);
  g_autofree float *y = g_new (float, N);
  g_autoptr (GBytes) before = save_old_model (model, 1);
  g_autoptr (GBytes) after = NULL;
  g_autofree gchar *dbg = NULL;
  TrainSeen seen;
  guint t;

  train_seen_init (&seen);
  train_make_frames (x, N, 3, 0, 12);
  for (t = 0; t < N; t++)
    y[t] = 3000 * x[t * 3];
  dbg = train_assert_error (run_appsrc (props, x, N, y, 1, &seen),
      "Training failed.", "training diverged: the validation loss was not "
      "finite after any epoch (1 run), so the best model would be the "
      "untrained one; lower learning-rate (now 1e+35)");
  /* the training step itself had a finite loss */
  g_assert_cmpuint (seen.losses->len, ==, 1);
  g_assert_true (isfinite (g_array_index (seen.losses, gdouble, 0)));
  after = read_file_or_fail (model);
  g_assert_true (g_bytes_equal (before, after));
  train_seen_clear (&seen);
  train_remove_dir (dir);
}

/* (3) learning-rate stops at the largest float: the optimizer computes in
 * floats, and 1e39 became an infinite step. */
static void
test_learning_rate_range (void)
{
  GstElement *e = gst_element_factory_make ("lstmtrain", NULL);
  GParamSpecDouble *ps = G_PARAM_SPEC_DOUBLE (g_object_class_find_property
      (G_OBJECT_GET_CLASS (e), "learning-rate"));

  g_assert_cmpfloat (ps->maximum, ==, G_MAXFLOAT);
  gst_object_unref (e);
}

/* ---------------------------------------------------------- fine-tuning */

/* Label cues whose first is 'b': by first appearance b would be class 0. */
static const TrainCue bca_cues[] = {
  {0, 500, "b"}, {500, 1000, "c"}, {1000, 1500, "a"},
  {1500, 2000, "b"}, {2000, 2500, "c"}, {2500, 3000, "a"},
};

/* A 4-input, 3-class model labelled a, b, c at `path`. */
static LstmModel *
save_abc_model (const gchar * path)
{
  const gchar *abc[] = { "a", "b", "c", NULL };
  LstmModel *m = lstm_model_new (4, 5, 1, 3, LSTM_OUTPUT_SOFTMAX, NULL);

  lstm_model_init_random (m, 3);
  g_assert_true (lstm_model_set_labels (m, abc, NULL));
  g_assert_true (lstm_model_save (m, path, NULL));
  return m;
}

/* ... and one with a label 'd' that init-model has no head row for. */
static const TrainCue bcd_cues[] = {
  {0, 500, "b"}, {500, 1000, "c"}, {1000, 1500, "d"},
};

/* Fine-tunes base.safetensors into m.safetensors on a track of cues with
 * extra properties; the message that ended the run. */
static GstMessage *
run_finetune (const gchar * dir, const gchar * props, const TrainCue * cues,
    guint n_cues)
{
  g_autofree gchar *wav = g_build_filename (dir, "x.wav", NULL);
  g_autofree gchar *srt = g_build_filename (dir, "x.srt", NULL);
  g_autofree gchar *base = g_build_filename (dir, "base.safetensors", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree float *x = g_new (float, 300 * 4);
  g_autofree gchar *desc = NULL;

  train_make_frames (x, 300, 4, 0, 21);
  train_write_f32_wav (wav, x, 300, 4);
  train_write_srt (srt, cues, n_cues);
  desc = g_strdup_printf ("lstmtrain name=t model=%s init-model=%s "
      "epochs=1 validation-fraction=0 %s ! fakesink "
      "filesrc location=%s ! wavparse ! t.sink "
      "filesrc location=%s ! subparse ! t.target", model, base, props, wav,
      srt);
  return train_run_pipeline (desc, NULL);
}

/* (4) init-model labelled a, b, c, a track starting with 'b', learning
 * rate 0: the saved model's labels are still a, b, c, on head rows that
 * are init-model's, unchanged. (Classes by first appearance gave b, c, a
 * on the rows trained as a, b, c.) Offline and online. */
static void
check_finetune_keeps_ids (const gchar * mode)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-guard-XXXXXX", NULL);
  g_autofree gchar *base = g_build_filename (dir, "base.safetensors", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree gchar *props = g_strdup_printf ("learning-rate=0 mode=%s",
      mode);
  g_autoptr (LstmModel) init = save_abc_model (base);
  g_autoptr (LstmModel) m = NULL;
  g_autoptr (GError) error = NULL;

  train_assert_eos (run_finetune (dir, props, bca_cues,
          G_N_ELEMENTS (bca_cues)));
  m = lstm_model_load (model, &error);
  g_assert_no_error (error);
  g_assert_cmpstrv (m->labels, ((const gchar *[]) {
            "a", "b", "c", NULL
          }));
  g_assert_cmpmem (m->head_weight, 3 * 5 * sizeof (float), init->head_weight,
      3 * 5 * sizeof (float));
  g_assert_cmpmem (m->head_bias, 3 * sizeof (float), init->head_bias,
      3 * sizeof (float));
  train_remove_dir (dir);
}

static void
test_finetune_keeps_ids (void)
{
  check_finetune_keeps_ids ("offline");
}

static void
test_finetune_keeps_ids_online (void)
{
  check_finetune_keeps_ids ("online");
}

/* (5) The labels property in another order than init-model's labels, or
 * more labels than its head has rows, or a cue label it has no row for:
 * clear errors, nothing written. */
static void
check_finetune_refused (const gchar * props, const TrainCue * cues,
    guint n_cues, const gchar * detail)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-guard-XXXXXX", NULL);
  g_autofree gchar *base = g_build_filename (dir, "base.safetensors", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree gchar *dbg = NULL;

  lstm_model_unref (save_abc_model (base));
  dbg = train_assert_error (run_finetune (dir, props, cues, n_cues),
      "Training failed.", detail);
  g_assert_false (g_file_test (model, G_FILE_TEST_EXISTS));
  train_remove_dir (dir);
}

static void
test_finetune_labels_differ (void)
{
  check_finetune_refused ("labels=b,c,a", bca_cues, 6, "the labels property "
      "(b,c,a) is not init-model's labels in their order (a,b,c, in ");
}

static void
test_finetune_more_labels (void)
{
  check_finetune_refused ("labels=a,b,c,d", bca_cues, 6, "the labels "
      "property (a,b,c,d) is not init-model's labels in their order");
}

static void
test_finetune_unknown_label (void)
{
  check_finetune_refused ("", bcd_cues, 3, "the cue at 0:00:01.000000000 "
      "has the label 'd', which is not one of init-model's labels (a,b,c)");
}

/* ---------------------------------------------------------------- flush */

/* Pushes n frames of 3 channels from stream time `first` (frames) on
 * through a harness, 50 a buffer. */
static void
harness_push (GstHarness * h, const float *x, guint n, guint first)
{
  guint t;

  for (t = 0; t < n; t += 50) {
    guint m = MIN (50, n - t);
    GstBuffer *b = gst_buffer_new_memdup (x + (gsize) t * 3,
        (gsize) m * 3 * sizeof (float));
    GST_BUFFER_PTS (b) = gst_util_uint64_scale_int (first + t, GST_SECOND,
        TRAIN_RATE);
    GST_BUFFER_DURATION (b) = gst_util_uint64_scale_int (m, GST_SECOND,
        TRAIN_RATE);
    g_assert_cmpint (gst_harness_push (h, b), ==, GST_FLOW_OK);
  }
}

/* A flushing seek on the README's pipeline (a WAV, and an .srt through
 * subparse on the target pad) while it streams: training goes on and
 * the run ends (subparse flushes with a seqnum of its own, and the
 * aggregator waited for ever for the seek's), offline and online. */
static void
check_seek_label_track (const gchar * mode)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-guard-XXXXXX", NULL);
  g_autofree gchar *wav = g_build_filename (dir, "x.wav", NULL);
  g_autofree gchar *srt = g_build_filename (dir, "x.srt", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree gchar *desc = NULL;
  const guint N = 20000;        /* 200 s */
  g_autofree float *x = g_new (float, N * 3);
  g_autofree TrainCue *cues = g_new (TrainCue, 200);
  g_autoptr (GError) error = NULL;
  GstElement *p;
  GstBus *bus;
  GstMessage *msg;
  guint i;

  for (i = 0; i < 200; i++) {
    cues[i].start_ms = i * 1000;
    cues[i].end_ms = i * 1000 + 900;
    cues[i].label = i % 2 ? "b" : "a";
  }
  train_make_frames (x, N, 3, 0, 4);
  train_write_f32_wav (wav, x, N, 3);
  train_write_srt (srt, cues, 200);
  desc = g_strdup_printf ("lstmtrain name=t model=%s epochs=1 mode=%s "
      "labels=a,b hidden-size=8 ! fakesink async=false "
      "filesrc location=%s ! wavparse ! identity sleep-time=50000 ! t.sink "
      "filesrc location=%s ! subparse ! t.target", model, mode, wav, srt);
  p = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  bus = gst_element_get_bus (p);
  gst_element_set_state (p, GST_STATE_PLAYING);
  g_usleep (G_USEC_PER_SEC);
  g_assert_true (gst_element_seek_simple (p, GST_FORMAT_TIME,
          GST_SEEK_FLAG_FLUSH, 150 * GST_SECOND));
  msg = gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  if (msg == NULL)
    g_error ("%s: no EOS nor error 30 s after the seek", mode);
  train_assert_eos (msg);
  gst_element_set_state (p, GST_STATE_NULL);
  g_assert_true (g_file_test (model, G_FILE_TEST_EXISTS));
  gst_object_unref (bus);
  gst_object_unref (p);
  train_remove_dir (dir);
}

static void
test_seek_label_track (void)
{
  check_seek_label_track ("offline");
}

static void
test_seek_label_track_online (void)
{
  check_seek_label_track ("online");
}

/* VmHWM of this process in KiB. */
static guint64
peak_rss_kib (void)
{
  g_autofree gchar *status = NULL;
  const gchar *at;

  g_assert_true (g_file_get_contents ("/proc/self/status", &status, NULL,
          NULL));
  at = strstr (status, "VmHWM:");
  g_assert_nonnull (at);
  return g_ascii_strtoull (at + strlen ("VmHWM:"), NULL, 10);
}

/* A batch-size far beyond the sequences there are sizes nothing: three
 * 100-frame windows with batch-size=65536 train in well under 1 GiB (the
 * trainer's caches were sized by batch-size: 2 GiB for this tiny model). */
static void
test_batch_size_beyond_sequences (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-guard-XXXXXX", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree gchar *desc = g_strdup_printf ("lstmtrain name=t "
      "task=forecast epochs=1 bptt=100 hidden-size=8 batch-size=65536 "
      "validation-fraction=0 model=%s ! fakesink "
      "appsrc name=x format=time caps=audio/x-raw,format=F32LE,"
      "layout=interleaved,channels=3,rate=100 ! t.sink", model);
  g_autoptr (GError) error = NULL;
  GstElement *p = gst_parse_launch (desc, &error);
  GstElement *xs;
  GstBus *bus;
  const guint N = 301;
  g_autofree float *x = g_new (float, N * 3);
  TrainSeen seen;

  g_assert_no_error (error);
  train_seen_init (&seen);
  xs = train_get (p, "x");
  train_make_frames (x, N, 3, 0, 9);
  gst_element_set_state (p, GST_STATE_PLAYING);
  train_push (xs, x, N, 3, 0, TRUE);
  train_end_of_stream (xs);
  bus = gst_element_get_bus (p);
  train_assert_eos (train_wait_end (bus, &seen));
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (xs);
  gst_object_unref (p);
  g_assert_true (g_file_test (model, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (peak_rss_kib (), <, 1024 * 1024);
  train_seen_clear (&seen);
  train_remove_dir (dir);
}

/* S16 class ids on the target pad are the integers sent (0, 1, 2), not
 * audio scaled to [-1, 1), which rounded them all to class 0: three
 * classes, named by their ids. */
static void
test_s16_class_ids (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-guard-XXXXXX", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree gchar *desc = g_strdup_printf ("lstmtrain name=t "
      "task=classify epochs=1 bptt=50 seed=2 validation-fraction=0 "
      "model=%s ! fakesink "
      "appsrc name=x format=time caps=audio/x-raw,format=F32LE,"
      "layout=interleaved,channels=3,rate=100 ! t.sink "
      "appsrc name=y format=time caps=audio/x-raw,format=S16LE,"
      "layout=interleaved,channels=1,rate=100 ! t.target", model);
  g_autoptr (GError) error = NULL;
  g_autoptr (LstmModel) m = NULL;
  GstElement *p = gst_parse_launch (desc, &error);
  GstElement *xs, *ys;
  const guint N = 300;
  g_autofree float *x = g_new (float, N * 3);
  g_autofree gint16 *y = g_new (gint16, N);
  GstFlowReturn ret;
  GstBuffer *b;
  GstBus *bus;
  TrainSeen seen;
  guint t;

  g_assert_no_error (error);
  train_seen_init (&seen);
  xs = train_get (p, "x");
  ys = train_get (p, "y");
  train_make_frames (x, N, 3, 0, 5);
  for (t = 0; t < N; t++)
    y[t] = (gint16) ((t / 7) % 3);
  gst_element_set_state (p, GST_STATE_PLAYING);
  train_push (xs, x, N, 3, 0, TRUE);
  b = gst_buffer_new_memdup (y, N * sizeof (gint16));
  GST_BUFFER_PTS (b) = 0;
  g_signal_emit_by_name (ys, "push-buffer", b, &ret);
  gst_buffer_unref (b);
  train_end_of_stream (xs);
  train_end_of_stream (ys);
  bus = gst_element_get_bus (p);
  train_assert_eos (train_wait_end (bus, &seen));
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (xs);
  gst_object_unref (ys);
  gst_object_unref (p);

  m = lstm_model_load (model, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (m->head_size, ==, 3);
  g_assert_nonnull (m->labels);
  g_assert_cmpstr (m->labels[0], ==, "0");
  g_assert_cmpstr (m->labels[2], ==, "2");
  train_seen_clear (&seen);
  train_remove_dir (dir);
}

/* (6) A flushing seek while collecting: the frames before it are dropped
 * and training goes on with those after it (the caps are not sent again
 * after a flush), with no warning. 300 frames, a flush, 200 frames from 10 s on: the model
 * trains on the two 100-frame windows of the second part only. Offline
 * (windows counted in the metadata) and online (the model written). */
static void
check_flush_continues (const gchar * mode)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-guard-XXXXXX", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  GstElement *e = gst_element_factory_make ("lstmtrain", "t");
  GstBus *bus = gst_bus_new ();
  g_autofree float *x = g_new (float, 300 * 3);
  g_autoptr (LstmModel) m = NULL;
  g_autoptr (GError) error = NULL;
  GstMessage *msg;
  GstHarness *h;
  GstSegment seg;

  gst_util_set_object_arg (G_OBJECT (e), "task", "forecast");
  gst_util_set_object_arg (G_OBJECT (e), "mode", mode);
  g_object_set (e, "model", model, "epochs", 1, "bptt", 100,
      "validation-fraction", 0.0, NULL);
  gst_element_set_bus (e, bus);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_harness_set_src_caps_str (h, "audio/x-raw,format=F32LE,"
      "layout=interleaved,channels=3,rate=100");
  train_make_frames (x, 300, 3, 0, 31);
  harness_push (h, x, 300, 0);

  g_assert_true (gst_harness_push_event (h, gst_event_new_flush_start ()));
  g_assert_true (gst_harness_push_event (h,
          gst_event_new_flush_stop (TRUE)));
  gst_segment_init (&seg, GST_FORMAT_TIME);
  seg.start = seg.time = 10 * GST_SECOND;
  g_assert_true (gst_harness_push_event (h, gst_event_new_segment (&seg)));
  harness_push (h, x, 200, 1000);
  g_assert_true (gst_harness_push_event (h, gst_event_new_eos ()));
  /* the statistics buffer: training ran to its end */
  gst_buffer_unref (gst_harness_pull (h));

  /* no error, and a clean stream has nothing to warn about (the last
   * frames, which have no future to forecast, are not "left out") */
  while ((msg = gst_bus_pop_filtered (bus,
              GST_MESSAGE_ERROR | GST_MESSAGE_WARNING)) != NULL) {
    g_autoptr (GError) err = NULL;
    g_autofree gchar *dbg = NULL;
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
      gst_message_parse_error (msg, &err, &dbg);
    else
      gst_message_parse_warning (msg, &err, &dbg);
    g_error ("%s: %s (%s)", GST_MESSAGE_TYPE_NAME (msg), err->message, dbg);
  }
  gst_harness_teardown (h);
  gst_object_unref (bus);
  gst_object_unref (e);

  m = lstm_model_load (model, &error);
  g_assert_no_error (error);
  if (g_str_equal (mode, "offline"))
    g_assert_cmpstr (lstm_model_get_metadata (m, "train-sequences"), ==,
        "2");
  train_remove_dir (dir);
}

static void
test_flush_continues (void)
{
  check_flush_continues ("offline");
}

static void
test_flush_continues_online (void)
{
  check_flush_continues ("online");
}

/* ------------------------------------------------------------- online */

/* (7) mode=online with too few frames for one step (5 frames, horizon
 * 10): the same error as offline, and no file (it wrote an untrained
 * model with best-loss nan). */
static void
test_online_too_short (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-guard-XXXXXX", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree gchar *props = g_strdup_printf ("task=forecast horizon=10 "
      "mode=online model=%s", model);
  g_autofree float *x = g_new (float, 5 * 3);
  g_autofree gchar *dbg = NULL;
  g_autofree gchar *left = NULL;

  train_make_frames (x, 5, 3, 0, 41);
  dbg = train_assert_error (run_appsrc (props, x, 5, NULL, 0, NULL),
      "Training failed.", "the stream is too short to forecast 10 frames "
      "ahead (5 frames)");
  left = train_dir_listing (dir);
  g_assert_cmpstr (left, ==, "");
  train_remove_dir (dir);
}

/* (8) Checkpoints: 301 frames, bptt 100, one every second of stream. Steps
 * end at 0.99 s, 1.99 s (a checkpoint) and 2.99 s (another); the frame
 * left at the end trains nothing, so the end adds no checkpoint with a
 * NaN loss. The largest checkpoint-interval (its sum with the last
 * checkpoint overflowed, and every step saved) gives the end's only. Each
 * run ends with the progress message "complete" (online never posted it).
 */
static void
check_checkpoints (const gchar * interval, guint expected)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-guard-XXXXXX", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree gchar *props = g_strdup_printf ("task=forecast mode=online "
      "bptt=100 checkpoint-interval=%s model=%s", interval, model);
  g_autofree float *x = g_new (float, 301 * 3);
  TrainSeen seen;
  guint i;

  train_seen_init (&seen);
  train_make_frames (x, 301, 3, 0, 42);
  train_assert_eos (run_appsrc (props, x, 301, NULL, 0, &seen));
  g_assert_cmpuint (seen.losses->len, ==, expected);
  for (i = 0; i < seen.losses->len; i++)
    g_assert_true (isfinite (g_array_index (seen.losses, gdouble, i)));
  g_assert_cmpint (completed, ==, 1);
  train_seen_clear (&seen);
  train_remove_dir (dir);
}

static void
test_checkpoint_empty_interval (void)
{
  check_checkpoints ("1000000000", 2);
}

static void
test_checkpoint_interval_max (void)
{
  check_checkpoints ("18446744073709551615", 1);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/lstm/train-element/guard/progress-texts",
      test_progress_texts);
  g_test_add_func ("/lstm/train-element/guard/no-validation-keeps-last",
      test_no_validation_keeps_last);
  g_test_add_func ("/lstm/train-element/guard/no-shuffle-stream-order",
      test_no_shuffle_stream_order);
  g_test_add_func ("/lstm/train-element/guard/dropout-one-layer-warns",
      test_dropout_one_layer_warns);
  g_test_add_func ("/lstm/train-element/guard/huge-value-first-step",
      test_huge_value_first_step);
  g_test_add_func ("/lstm/train-element/guard/rate-change-breaks",
      test_rate_change_breaks);
  g_test_add_func ("/lstm/train-element/guard/stop-during-training",
      test_stop_during_training);
  g_test_add_func ("/lstm/train-element/guard/diverged-keeps-model",
      test_diverged_keeps_model);
  g_test_add_func ("/lstm/train-element/guard/val-loss-never-finite",
      test_val_loss_never_finite);
  g_test_add_func ("/lstm/train-element/guard/learning-rate-range",
      test_learning_rate_range);
  g_test_add_func ("/lstm/train-element/guard/seek-label-track",
      test_seek_label_track);
  g_test_add_func ("/lstm/train-element/guard/seek-label-track-online",
      test_seek_label_track_online);
  g_test_add_func ("/lstm/train-element/guard/batch-size-beyond-sequences",
      test_batch_size_beyond_sequences);
  g_test_add_func ("/lstm/train-element/guard/s16-class-ids",
      test_s16_class_ids);
  g_test_add_func ("/lstm/train-element/guard/finetune-keeps-ids",
      test_finetune_keeps_ids);
  g_test_add_func ("/lstm/train-element/guard/finetune-keeps-ids-online",
      test_finetune_keeps_ids_online);
  g_test_add_func ("/lstm/train-element/guard/finetune-labels-differ",
      test_finetune_labels_differ);
  g_test_add_func ("/lstm/train-element/guard/finetune-more-labels",
      test_finetune_more_labels);
  g_test_add_func ("/lstm/train-element/guard/finetune-unknown-label",
      test_finetune_unknown_label);
  g_test_add_func ("/lstm/train-element/guard/flush-continues",
      test_flush_continues);
  g_test_add_func ("/lstm/train-element/guard/flush-continues-online",
      test_flush_continues_online);
  g_test_add_func ("/lstm/train-element/guard/online-too-short",
      test_online_too_short);
  g_test_add_func ("/lstm/train-element/guard/checkpoint-empty-interval",
      test_checkpoint_empty_interval);
  g_test_add_func ("/lstm/train-element/guard/checkpoint-interval-max",
      test_checkpoint_interval_max);
  return g_test_run ();
}
