/* The lstmtrain element: training inside pipelines. */
#include "test-util.h"
#include "test-memory-task.h"

#include <gst/gst.h>
#include <gst/check/gstharness.h>
#include <glib/gstdio.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* (1) + (2): a gst-launch pipeline with a label track through subparse
 * learns the memory task; checked on held-out sequences through lstm. */
static void
test_memory_task (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-XXXXXX", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autoptr (GPtrArray) msgs =
      g_ptr_array_new_with_free_func ((GDestroyNotify) gst_message_unref);
  g_autoptr (LstmModel) m = NULL;
  g_autoptr (GError) error = NULL;
  const gchar *labels[3] = { "low", "mid", "high" };
  gdouble acc;
  const GstStructure *s;
  gdouble val_acc;

  memory_task_train (dir, model, "", msgs);
  g_assert_cmpuint (msgs->len, >=, 1);
  s = gst_message_get_structure (msgs->pdata[msgs->len - 1]);
  g_assert_true (gst_structure_get_double (s, "val-accuracy", &val_acc));
  g_test_message ("%u epochs, last validation accuracy %.3f", msgs->len,
      val_acc);
  for (guint i = 0; i < msgs->len; i += msgs->len - 1) {
    g_autofree gchar *str = gst_structure_to_string (gst_message_get_structure
        (msgs->pdata[i]));
    g_test_message ("%s", str);
    if (msgs->len == 1)
      break;
  }

  m = lstm_model_load (model, &error);
  g_assert_no_error (error);
  g_assert_cmpstrv (m->labels, ((const gchar *[]) {
            "low", "mid", "high", NULL
          }));
  g_assert_cmpint (m->output, ==, LSTM_OUTPUT_SOFTMAX);
  g_assert_nonnull (m->input_mean);
  acc = memory_task_accuracy (model, labels, 200, 12345);
  g_test_message ("held-out accuracy through lstm: %.3f (bar 0.95)", acc);
  g_assert_cmpfloat (acc, >=, 0.95);

  g_unlink (model);
  g_rmdir (dir);
}

/* A label outside the labels property is a clear error. */
static void
test_unknown_label (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-XXXXXX", NULL);
  g_autofree gchar *wav = g_build_filename (dir, "train.wav", NULL);
  g_autofree gchar *srt = g_build_filename (dir, "train.srt", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree gchar *desc = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree gchar *dbg = NULL;
  gint tones[20];
  GstMessage *end;

  memory_task_write (wav, srt, 20, 5, tones);
  desc = g_strdup_printf ("lstmtrain name=t model=%s epochs=1 "
      "labels=low,high ! fakesink filesrc location=%s ! wavparse ! t.sink "
      "filesrc location=%s ! subparse ! t.target", model, wav, srt);
  end = memory_task_run_pipeline (desc, NULL);
  g_assert_cmpint (GST_MESSAGE_TYPE (end), ==, GST_MESSAGE_ERROR);
  gst_message_parse_error (end, &err, &dbg);
  g_test_message ("%s", dbg);
  g_assert_nonnull (strstr (dbg, "'mid', which is not one of the labels"));
  gst_message_unref (end);
  g_assert_false (g_file_test (model, G_FILE_TEST_EXISTS));
  g_unlink (wav);
  g_unlink (srt);
  g_rmdir (dir);
}

/* An unwritable model path fails before any frame is read. */
static void
test_unwritable_path (void)
{
  g_autoptr (GError) err = NULL;
  g_autofree gchar *dbg = NULL;
  GstMessage *end = memory_task_run_pipeline ("audiotestsrc num-buffers=5 ! "
      "audio/x-raw,format=F32LE,channels=2,rate=100 ! "
      "lstmtrain task=forecast model=/nonexistent-dir/m.safetensors ! "
      "fakesink", NULL);

  g_assert_cmpint (GST_MESSAGE_TYPE (end), ==, GST_MESSAGE_ERROR);
  gst_message_parse_error (end, &err, &dbg);
  g_assert_nonnull (strstr (dbg, "/nonexistent-dir/m.safetensors"));
  gst_message_unref (end);
}

/* A model path that a save would replace by a regular file (here a pipe;
 * /dev/null as root would be the same) fails at start, and stays. */
static void
test_model_path_not_a_file (void)
{
  g_autoptr (GError) err = NULL;
  g_autofree gchar *dbg = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-XXXXXX", NULL);
  g_autofree gchar *fifo = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree gchar *desc = NULL;
  GstMessage *end;
  GStatBuf st;

  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  desc = g_strdup_printf ("audiotestsrc num-buffers=5 ! "
      "audio/x-raw,format=F32LE,channels=2,rate=100 ! "
      "lstmtrain task=forecast model=%s ! fakesink", fifo);
  end = memory_task_run_pipeline (desc, NULL);
  g_assert_cmpint (GST_MESSAGE_TYPE (end), ==, GST_MESSAGE_ERROR);
  gst_message_parse_error (end, &err, &dbg);
  g_assert_true (g_error_matches (err, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_OPEN_WRITE));
  g_assert_nonnull (strstr (dbg, "is a pipe"));
  gst_message_unref (end);
  g_assert_cmpint (g_lstat (fifo, &st), ==, 0);
  g_assert_true (S_ISFIFO (st.st_mode));
  g_unlink (fifo);
  g_rmdir (dir);
}

/* Settings that cannot make a model (a GRU with a peephole or a
 * projection, proj-size >= hidden-size, a bidirectional model online)
 * fail at the start, naming the setting, before any frame: on a live
 * source of 50 s the error comes at once (it came at EOS, after the whole
 * stream was collected, and the data was lost). */
static void
test_bad_settings_at_start (void)
{
  static const struct
  {
    const gchar *props, *says;
  } cases[] = {
    {"cell=gru peephole=true", "no peephole"},
    {"cell=gru proj-size=4", "GRU"},
    {"proj-size=17", "projection size 17 must be smaller than the hidden "
          "size 17"},
    {"bidirectional=true mode=online", "mode=offline only"},
  };
  guint k;

  for (k = 0; k < G_N_ELEMENTS (cases); k++) {
    g_autoptr (GError) err = NULL;
    g_autofree gchar *dbg = NULL;
    g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-XXXXXX", NULL);
    g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
    g_autofree gchar *desc = g_strdup_printf ("audiotestsrc is-live=true "
        "num-buffers=500 samplesperbuffer=10 ! "
        "audio/x-raw,format=F32LE,channels=2,rate=100 ! "
        "lstmtrain task=forecast %s model=%s ! fakesink", cases[k].props,
        model);
    gint64 start = g_get_monotonic_time ();
    GstMessage *end = memory_task_run_pipeline (desc, NULL);

    g_assert_cmpint (GST_MESSAGE_TYPE (end), ==, GST_MESSAGE_ERROR);
    gst_message_parse_error (end, &err, &dbg);
    g_test_message ("%s: %s", cases[k].props, dbg);
    g_assert_true (g_error_matches (err, GST_LIBRARY_ERROR,
            GST_LIBRARY_ERROR_SETTINGS));
    g_assert_nonnull (strstr (dbg, cases[k].says));
    g_assert_cmpint (g_get_monotonic_time () - start, <, 20 * G_USEC_PER_SEC);
    g_assert_false (g_file_test (model, G_FILE_TEST_EXISTS));
    gst_message_unref (end);
    g_rmdir (dir);
  }
}

/* A noisy multi-sine sensor stream: 3 channels at 100 frames/s, each the
 * sum of two sines of its own frequencies (0.7 to 2.9 Hz) and uniform
 * noise of +-0.05. */
static void
sensor_stream (float *x, guint n, guint64 first, GRand * rand)
{
  static const double f1[3] = { 0.7, 1.1, 1.9 }, f2[3] = { 2.3, 2.9, 1.3 };
  guint t, c;

  for (t = 0; t < n; t++) {
    double sec = (first + t) / 100.0;
    for (c = 0; c < 3; c++)
      x[t * 3 + c] = (float) (sin (2 * G_PI * f1[c] * sec)
          + 0.5 * sin (2 * G_PI * f2[c] * sec + c)
          + g_rand_double_range (rand, -0.05, 0.05));
  }
}

/* (3) task=forecast learns to predict 10 frames (0.1 s) ahead, and beats
 * the naive forecast (the last value) by at least 5x in MSE on a later
 * stretch of the stream it did not train on. */
static void
test_forecast (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-XXXXXX", NULL);
  g_autofree gchar *model = g_build_filename (dir, "f.safetensors", NULL);
  g_autofree gchar *desc = g_strdup_printf ("appsrc name=src format=time "
      "caps=audio/x-raw,format=F32LE,layout=interleaved,channels=3,rate=100 "
      "! lstmtrain task=forecast horizon=10 bptt=100 hidden-size=32 "
      "epochs=40 batch-size=16 learning-rate=0.01 clip-grad-norm=1 seed=1 "
      "model=%s ! fakesink", model);
  g_autoptr (GError) error = NULL;
  GstElement *p = gst_parse_launch (desc, &error);
  GstElement *src = gst_bin_get_by_name (GST_BIN (p), "src");
  GstBus *bus = gst_element_get_bus (p);
  GRand *rand = g_rand_new_with_seed (7);
  const guint N = 20000, TEST = 3000, H = 10;
  g_autofree float *x = g_new (float, (gsize) (N + TEST) * 3);
  g_autofree float *y = g_new (float, (gsize) TEST * 3);
  g_autoptr (LstmModel) m = NULL;
  g_autoptr (LstmState) st = NULL;
  GstMessage *msg;
  double mse = 0, naive = 0;
  guint t;

  g_assert_no_error (error);
  sensor_stream (x, N + TEST, 0, rand);
  gst_element_set_state (p, GST_STATE_PLAYING);
  for (t = 0; t < N; t += 100) {
    GstFlowReturn ret;
    GstBuffer *b = gst_buffer_new_memdup (x + (gsize) t * 3, 100 * 3 * 4);
    GST_BUFFER_PTS (b) = t * 10 * GST_MSECOND;
    g_signal_emit_by_name (src, "push-buffer", b, &ret);
    gst_buffer_unref (b);
    g_assert_cmpint (ret, ==, GST_FLOW_OK);
  }
  g_signal_emit_by_name (src, "end-of-stream", &(GstFlowReturn) {
      0}
  );
  msg = gst_bus_timed_pop_filtered (bus, 300 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  g_assert_nonnull (msg);
  g_assert_cmpint (GST_MESSAGE_TYPE (msg), ==, GST_MESSAGE_EOS);
  gst_message_unref (msg);
  gst_element_set_state (p, GST_STATE_NULL);

  /* the later, unseen stretch: warm up on its first 200 frames */
  m = lstm_model_load (model, &error);
  g_assert_no_error (error);
  /* the settings that shaped it, for whoever runs it later */
  g_assert_cmpstr (lstm_model_get_metadata (m, "horizon"), ==, "10");
  g_assert_cmpstr (lstm_model_get_metadata (m, "loss"), ==, "mse");
  g_assert_cmpstr (lstm_model_get_metadata (m, "mode"), ==, "offline");
  g_assert_cmpstr (lstm_model_get_metadata (m, "bptt"), ==, "100");
  g_assert_cmpstr (lstm_model_get_metadata (m, "clip-grad-norm"), ==, "1");
  st = lstm_state_new (m, 0);
  lstm_forward (m, st, x + (gsize) N * 3, TEST, y);
  for (t = 200; t + H < TEST; t++) {
    const float *now = x + (gsize) (N + t) * 3;
    const float *later = x + (gsize) (N + t + H) * 3;
    for (guint c = 0; c < 3; c++) {
      mse += (y[t * 3 + c] - later[c]) * (y[t * 3 + c] - later[c]);
      naive += (now[c] - later[c]) * (now[c] - later[c]);
    }
  }
  g_test_message ("forecast 10 frames ahead: MSE %.5f, last value's %.5f "
      "(%.1fx better; bar 5x)", mse / ((TEST - 200 - H) * 3),
      naive / ((TEST - 200 - H) * 3), naive / mse);
  g_assert_cmpfloat (naive / mse, >=, 5.0);

  g_rand_free (rand);
  gst_object_unref (bus);
  gst_object_unref (src);
  gst_object_unref (p);
  g_unlink (model);
  g_rmdir (dir);
}

/* (6) One SGD step from init-model on one sequence (batch-size=1,
 * shuffle=false, epochs=1, no validation) gives PyTorch's weights
 * (tests/reference/generate_train_element.py). */
static void
test_one_sgd_step (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-XXXXXX", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree gchar *init = g_build_filename (LSTM_REFERENCE_DIR_DEFAULT,
      "..", "train-element", "sgd_init.safetensors", NULL);
  g_autofree gchar *after = g_build_filename (LSTM_REFERENCE_DIR_DEFAULT,
      "..", "train-element", "sgd_after.safetensors", NULL);
  g_autofree gchar *data = g_build_filename (LSTM_REFERENCE_DIR_DEFAULT,
      "..", "train-element", "sgd_data.safetensors", NULL);
  g_autofree gchar *desc = g_strdup_printf ("appsrc name=src format=time "
      "caps=audio/x-raw,format=F32LE,layout=interleaved,channels=3,rate=100 "
      "! lstmtrain init-model=%s labels=no,yes label=yes optimizer=sgd "
      "learning-rate=0.1 momentum=0.9 batch-size=1 shuffle=false epochs=1 "
      "validation-fraction=0 model=%s ! fakesink", init, model);
  g_autoptr (GBytes) bytes = read_file_or_fail (data);
  g_autoptr (LstmTensorFile) f = NULL;
  g_autoptr (LstmModel) got = NULL;
  g_autoptr (LstmModel) want = NULL;
  g_autoptr (GError) error = NULL;
  GstElement *p = gst_parse_launch (desc, &error);
  GstElement *src = gst_bin_get_by_name (GST_BIN (p), "src");
  GstBus *bus = gst_element_get_bus (p);
  GstMessage *msg;
  LstmTensor *x;
  GstBuffer *b;
  GstFlowReturn ret;
  gsize size;
  const guint8 *raw = g_bytes_get_data (bytes, &size);
  double err;

  g_assert_no_error (error);
  f = lstm_safetensors_parse (raw, size, data, &error);
  g_assert_no_error (error);
  x = g_hash_table_lookup (f->by_name, "input");
  gst_element_set_state (p, GST_STATE_PLAYING);
  b = gst_buffer_new_memdup (x->data, x->size);
  GST_BUFFER_PTS (b) = 0;
  g_signal_emit_by_name (src, "push-buffer", b, &ret);
  gst_buffer_unref (b);
  g_signal_emit_by_name (src, "end-of-stream", &ret);
  msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  g_assert_cmpint (GST_MESSAGE_TYPE (msg), ==, GST_MESSAGE_EOS);
  gst_message_unref (msg);
  gst_element_set_state (p, GST_STATE_NULL);

  got = lstm_model_load (model, &error);
  g_assert_no_error (error);
  want = lstm_model_load (after, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (got->n_params, ==, want->n_params);
  /* float32 on both sides, different summation orders: PyTorch's
   * optimizer-step tolerance of the core tests */
  err = rel_error (got->params, want->params, got->n_params);
  g_test_message ("one SGD step vs PyTorch: max relative error %.3g "
      "(tolerance 1e-5)", err);
  g_assert_cmpfloat (err, <=, 1e-5);
  /* and the step did move the weights */
  {
    g_autoptr (LstmModel) before = lstm_model_load (init, NULL);
    g_assert_cmpfloat (rel_error (before->params, want->params,
            want->n_params), >, 1e-3);
  }
  gst_object_unref (bus);
  gst_object_unref (src);
  gst_object_unref (p);
  g_unlink (model);
  g_rmdir (dir);
}

/* (5) SIGKILL while training: the previous model file is still whole and
 * loads, byte for byte as before. */
static void
test_sigkill (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-XXXXXX", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree gchar *launch = g_find_program_in_path ("gst-launch-1.0");
  g_autofree gchar *loc = g_strdup_printf ("model=%s", model);
  const gchar *argv[] = { launch, "-q", "audiotestsrc", "num-buffers=200",
    "samplesperbuffer=100", "!",
    "audio/x-raw,format=F32LE,channels=8,rate=100", "!", "lstmtrain",
    "task=forecast", "hidden-size=64", "epochs=100000", loc, "!", "fakesink",
    NULL
  };
  g_autoptr (LstmModel) old = lstm_model_new (8, 4, 1, 8,
      LSTM_OUTPUT_IDENTITY, NULL);
  g_autoptr (GBytes) before = NULL;
  g_autoptr (GBytes) after = NULL;
  g_autoptr (LstmModel) back = NULL;
  g_autoptr (GError) error = NULL;
  GPid pid;
  gint status;

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
  /* gst-launch-1.0 is not instrumented: it cannot load an ASan plugin (the
   * normal build runs this test) */
  g_test_skip ("gst-launch-1.0 cannot load an AddressSanitizer plugin");
  g_rmdir (dir);
  return;
#endif
#endif
  g_assert_nonnull (launch);
  lstm_model_init_random (old, 4);
  g_assert_true (lstm_model_save (old, model, NULL));
  before = read_file_or_fail (model);
  g_assert_true (g_spawn_async (NULL, (gchar **) argv, NULL,
          G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
          &pid, &error));
  g_usleep (1500 * 1000);       /* collecting, then training */
  g_assert_cmpint (waitpid (pid, &status, WNOHANG), ==, 0);     /* running */
  kill (pid, SIGKILL);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFSIGNALED (status));

  after = read_file_or_fail (model);
  g_assert_true (g_bytes_equal (before, after));
  back = lstm_model_load (model, &error);
  g_assert_no_error (error);
  g_spawn_close_pid (pid);
  {
    /* a temporary file of an interrupted save may stay; nothing else */
    g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
    const gchar *name;
    while ((name = g_dir_read_name (d)) != NULL) {
      g_autofree gchar *path = g_build_filename (dir, name, NULL);
      g_unlink (path);
    }
  }
  g_rmdir (dir);
}

/* mode=online: one pass over the stream, truncated BPTT with the state
 * carried between windows, a checkpoint every 50 s of stream (written
 * while the stream still flows), and a final save that forecasts better
 * than the last value. */
static void
test_online_forecast (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-XXXXXX", NULL);
  g_autofree gchar *model = g_build_filename (dir, "o.safetensors", NULL);
  g_autofree gchar *desc = g_strdup_printf ("appsrc name=src format=time "
      "block=true caps=audio/x-raw,format=F32LE,layout=interleaved,"
      "channels=3,rate=100 ! lstmtrain mode=online task=forecast horizon=10 "
      "bptt=50 hidden-size=32 learning-rate=0.01 clip-grad-norm=1 seed=1 "
      "checkpoint-interval=50000000000 model=%s ! fakesink", model);
  g_autoptr (GError) error = NULL;
  GstElement *p = gst_parse_launch (desc, &error);
  GstElement *src = gst_bin_get_by_name (GST_BIN (p), "src");
  GstBus *bus = gst_element_get_bus (p);
  GRand *rand = g_rand_new_with_seed (7);
  const guint N = 60000, TEST = 3000, H = 10;
  g_autofree float *x = g_new (float, (gsize) (N + TEST) * 3);
  g_autofree float *y = g_new (float, (gsize) TEST * 3);
  g_autoptr (LstmModel) m = NULL;
  g_autoptr (LstmState) st = NULL;
  GstMessage *msg;
  GstFlowReturn ret;
  gboolean saved_midway = FALSE;
  guint t, checkpoints = 0;
  double mse = 0, naive = 0;

  g_assert_no_error (error);
  sensor_stream (x, N + TEST, 0, rand);
  gst_element_set_state (p, GST_STATE_PLAYING);
  for (t = 0; t < N; t += 100) {
    GstBuffer *b = gst_buffer_new_memdup (x + (gsize) t * 3, 100 * 3 * 4);
    GST_BUFFER_PTS (b) = t * 10 * GST_MSECOND;
    g_signal_emit_by_name (src, "push-buffer", b, &ret);
    gst_buffer_unref (b);
    g_assert_cmpint (ret, ==, GST_FLOW_OK);
    if (t == N / 2) {
      /* 300 s of stream in: checkpoints at 50 s, 100 s, ... exist */
      g_usleep (200000);
      saved_midway = g_file_test (model, G_FILE_TEST_EXISTS);
    }
  }
  g_signal_emit_by_name (src, "end-of-stream", &ret);
  while ((msg = gst_bus_timed_pop_filtered (bus, 300 * GST_SECOND,
              GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT))) {
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT) {
      checkpoints += gst_message_has_name (msg, "lstmtrain");
      gst_message_unref (msg);
      continue;
    }
    g_assert_cmpint (GST_MESSAGE_TYPE (msg), ==, GST_MESSAGE_EOS);
    gst_message_unref (msg);
    break;
  }
  gst_element_set_state (p, GST_STATE_NULL);
  g_assert_true (saved_midway);
  /* 600 s of stream: a checkpoint every 50 s, and the final one */
  g_test_message ("%u checkpoints", checkpoints);
  g_assert_cmpuint (checkpoints, >=, 11);

  m = lstm_model_load (model, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (lstm_model_get_metadata (m, "mode"), ==, "online");
  g_assert_cmpstr (lstm_model_get_metadata (m, "horizon"), ==, "10");
  /* windows stepped, not 0 */
  g_assert_cmpuint (g_ascii_strtoull (lstm_model_get_metadata (m,
              "train-sequences"), NULL, 10), >=, 500);
  st = lstm_state_new (m, 0);
  lstm_forward (m, st, x + (gsize) N * 3, TEST, y);
  for (t = 200; t + H < TEST; t++) {
    const float *now = x + (gsize) (N + t) * 3;
    const float *later = x + (gsize) (N + t + H) * 3;
    for (guint c = 0; c < 3; c++) {
      mse += (y[t * 3 + c] - later[c]) * (y[t * 3 + c] - later[c]);
      naive += (now[c] - later[c]) * (now[c] - later[c]);
    }
  }
  g_test_message ("online, one pass: MSE %.5f, last value's %.5f (%.1fx "
      "better; bar 5x)", mse / ((TEST - 200 - H) * 3),
      naive / ((TEST - 200 - H) * 3), naive / mse);
  g_assert_cmpfloat (naive / mse, >=, 5.0);

  g_rand_free (rand);
  gst_object_unref (bus);
  gst_object_unref (src);
  gst_object_unref (p);
  g_unlink (model);
  g_rmdir (dir);
}

/* A numeric class-id stream on the target pad (task=classify): each
 * frame's class is the channel that is up; the classes are 0..2 in order,
 * named by their ids. The statistics on src equal the bus messages. */
static void
test_class_id_stream_and_stats (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-XXXXXX", NULL);
  g_autofree gchar *model = g_build_filename (dir, "c.safetensors", NULL);
  g_autofree gchar *desc = g_strdup_printf ("lstmtrain name=t "
      "task=classify epochs=8 bptt=50 learning-rate=0.01 seed=2 model=%s ! "
      "appsink name=stats sync=false wait-on-eos=false "
      "appsrc name=x format=time caps=audio/x-raw,format=F32LE,"
      "layout=interleaved,channels=3,rate=100 ! t.sink "
      "appsrc name=y format=time caps=audio/x-raw,format=F32LE,"
      "layout=interleaved,channels=1,rate=100 ! t.target", model);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) msgs =
      g_ptr_array_new_with_free_func ((GDestroyNotify) gst_message_unref);
  GstElement *p = gst_parse_launch (desc, &error);
  GstElement *xs = gst_bin_get_by_name (GST_BIN (p), "x");
  GstElement *ys = gst_bin_get_by_name (GST_BIN (p), "y");
  GstElement *sink = gst_bin_get_by_name (GST_BIN (p), "stats");
  GstBus *bus = gst_element_get_bus (p);
  GRand *rand = g_rand_new_with_seed (3);
  const guint N = 3000;
  g_autofree float *x = g_new (float, N * 3);
  g_autofree float *y = g_new (float, N);
  g_autoptr (LstmModel) m = NULL;
  GstFlowReturn ret;
  GstMessage *msg;
  GstBuffer *b;
  guint t, n_stats = 0;
  gdouble acc;

  g_assert_no_error (error);
  for (t = 0; t < N; t++) {
    gint k = (t / 7) % 3;       /* runs of 7 frames of one class */
    for (guint c = 0; c < 3; c++)
      x[t * 3 + c] = (c == (guint) k) + g_rand_double_range (rand, -0.2, 0.2);
    y[t] = k;
  }
  gst_element_set_state (p, GST_STATE_PLAYING);
  b = gst_buffer_new_memdup (x, N * 3 * 4);
  GST_BUFFER_PTS (b) = 0;
  g_signal_emit_by_name (xs, "push-buffer", b, &ret);
  gst_buffer_unref (b);
  b = gst_buffer_new_memdup (y, N * 4);
  GST_BUFFER_PTS (b) = 0;
  g_signal_emit_by_name (ys, "push-buffer", b, &ret);
  gst_buffer_unref (b);
  g_signal_emit_by_name (xs, "end-of-stream", &ret);
  g_signal_emit_by_name (ys, "end-of-stream", &ret);
  while ((msg = gst_bus_timed_pop_filtered (bus, 120 * GST_SECOND,
              GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT))) {
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT) {
      if (gst_message_has_name (msg, "lstmtrain"))
        g_ptr_array_add (msgs, msg);
      else
        gst_message_unref (msg);
      continue;
    }
    g_assert_cmpint (GST_MESSAGE_TYPE (msg), ==, GST_MESSAGE_EOS);
    gst_message_unref (msg);
    break;
  }
  /* one 4-float frame per epoch, the message's figures */
  while (TRUE) {
    GstSample *sample = NULL;
    const GstStructure *st;
    gdouble v[4];
    float f[4];
    g_signal_emit_by_name (sink, "try-pull-sample", (GstClockTime) 0, &sample);
    if (sample == NULL)
      break;
    g_assert_cmpuint (n_stats, <, msgs->len);
    st = gst_message_get_structure (msgs->pdata[n_stats]);
    gst_structure_get (st, "train-loss", G_TYPE_DOUBLE, &v[0],
        "train-accuracy", G_TYPE_DOUBLE, &v[1], "val-loss", G_TYPE_DOUBLE,
        &v[2], "val-accuracy", G_TYPE_DOUBLE, &v[3], NULL);
    g_assert_cmpuint (gst_buffer_extract (gst_sample_get_buffer (sample), 0,
            f, 16), ==, 16);
    for (guint i = 0; i < 4; i++)
      g_assert_cmpfloat (f[i], ==, (float) v[i]);
    gst_sample_unref (sample);
    n_stats++;
  }
  gst_element_set_state (p, GST_STATE_NULL);
  g_assert_cmpuint (n_stats, ==, 8);
  g_assert_cmpuint (msgs->len, ==, 8);
  g_assert_true (gst_structure_get_double (gst_message_get_structure
          (msgs->pdata[7]), "val-accuracy", &acc));
  g_test_message ("class-id stream: validation accuracy per frame %.3f "
      "(bar 0.95)", acc);
  g_assert_cmpfloat (acc, >=, 0.95);
  m = lstm_model_load (model, &error);
  g_assert_no_error (error);
  g_assert_cmpstrv (m->labels, ((const gchar *[]) { "0", "1", "2", NULL }));

  g_rand_free (rand);
  gst_object_unref (bus);
  gst_object_unref (sink);
  gst_object_unref (xs);
  gst_object_unref (ys);
  gst_object_unref (p);
  g_unlink (model);
  g_rmdir (dir);
}

/* mode=online with a label track: one step per cue as the stream flows;
 * one pass over the memory task already classifies held-out sequences. */
static void
test_online_label_track (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-XXXXXX", NULL);
  g_autofree gchar *wav = g_build_filename (dir, "train.wav", NULL);
  g_autofree gchar *srt = g_build_filename (dir, "train.srt", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree gchar *desc = NULL;
  const gchar *labels[3] = { "low", "mid", "high" };
  gint tones[600];
  GstMessage *end;
  gdouble acc;

  memory_task_write (wav, srt, 600, 21, tones);
  desc = g_strdup_printf ("lstmtrain name=t mode=online model=%s "
      "hidden-size=24 learning-rate=0.01 seed=3 labels=low,mid,high "
      "checkpoint-interval=0 ! fakesink "
      "filesrc location=%s ! wavparse ! t.sink "
      "filesrc location=%s ! subparse ! t.target", model, wav, srt);
  end = memory_task_run_pipeline (desc, NULL);
  g_assert_cmpint (GST_MESSAGE_TYPE (end), ==, GST_MESSAGE_EOS);
  gst_message_unref (end);
  acc = memory_task_accuracy (model, labels, 200, 777);
  g_test_message ("online, one pass over 600 cues: held-out accuracy %.3f "
      "(bar 0.9)", acc);
  g_assert_cmpfloat (acc, >=, 0.9);
  g_unlink (wav);
  g_unlink (srt);
  g_unlink (model);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/lstm/train-element/memory-task", test_memory_task);
  g_test_add_func ("/lstm/train-element/forecast", test_forecast);
  g_test_add_func ("/lstm/train-element/class-id-stream-and-stats",
      test_class_id_stream_and_stats);
  g_test_add_func ("/lstm/train-element/online-label-track",
      test_online_label_track);
  g_test_add_func ("/lstm/train-element/online-forecast", test_online_forecast);
  g_test_add_func ("/lstm/train-element/one-sgd-step", test_one_sgd_step);
  g_test_add_func ("/lstm/train-element/sigkill", test_sigkill);
  g_test_add_func ("/lstm/train-element/unknown-label", test_unknown_label);
  g_test_add_func ("/lstm/train-element/unwritable-path", test_unwritable_path);
  g_test_add_func ("/lstm/train-element/bad-settings-at-start",
      test_bad_settings_at_start);
  g_test_add_func ("/lstm/train-element/model-path-not-a-file",
      test_model_path_not_a_file);
  return g_test_run ();
}
