/* The lstmtrain element on bad input (issue 5): what is left out with a
 * warning, what is an error, and that an error loses nothing. Small data,
 * epochs=1: the whole program runs in a few seconds. */
#include "test-util.h"
#include "test-element-util.h"

#include <gst/gst.h>
#include <glib/gstdio.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>


/* Loads the model, checks every weight and statistic is finite and that
 * the model's output on the frames is finite too. */
static LstmModel *
load_finite (const gchar * path, const float *x, guint n)
{
  g_autoptr (GError) error = NULL;
  LstmModel *m = lstm_model_load (path, &error);
  g_autoptr (LstmState) st = NULL;
  g_autofree float *y = NULL;
  guint out;

  g_assert_no_error (error);
  g_assert_true (lstm_model_check_finite (m, &error));
  g_assert_no_error (error);
  g_assert_nonnull (m->input_mean);
  g_assert_nonnull (m->input_std);
  if (x != NULL) {
    out = lstm_model_get_output_size (m);
    y = g_new (float, (gsize) n * out);
    st = lstm_state_new (m, 0);
    lstm_forward (m, st, x, n, y);
    g_assert_true (lstm_frame_is_finite (y, n * out));
  }
  return m;
}

/* A 4-channel float WAV of 300 frames (3 s) and six 0.5 s cues a, b, a,
 * b, a, b over it; `nan_frame` (or -1) gets a NaN. */
#define WAV_FRAMES 300
#define WAV_CHANNELS 4
static const TrainCue six_cues[] = {
  {0, 500, "a"}, {500, 1000, "b"}, {1000, 1500, "a"},
  {1500, 2000, "b"}, {2000, 2500, "a"}, {2500, 3000, "b"},
  {5000, 5500, "late"}
};

static void
write_labelled (const gchar * wav, const gchar * srt, guint n_cues,
    gint nan_frame, float *x)
{
  train_make_frames (x, WAV_FRAMES, WAV_CHANNELS, 0, 1);
  if (nan_frame >= 0)
    x[(gsize) nan_frame * WAV_CHANNELS + 2] = NAN;
  train_write_f32_wav (wav, x, WAV_FRAMES, WAV_CHANNELS);
  train_write_srt (srt, six_cues, n_cues);
}

/* ---------------------------------------------------------------- tests */

/* (1) A cue after the last frame holds no frames: a warning naming its
 * label, its times and the frames' span; the six other cues train, and
 * the model loads with their two classes only. */
static void
test_cue_outside_stream (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-bad-XXXXXX", NULL);
  g_autofree gchar *wav = g_build_filename (dir, "x.wav", NULL);
  g_autofree gchar *srt = g_build_filename (dir, "x.srt", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree gchar *desc = NULL;
  g_autofree float *x = g_new (float, WAV_FRAMES * WAV_CHANNELS);
  g_autoptr (LstmModel) m = NULL;
  const gchar *dbg = NULL;
  TrainSeen seen;

  train_seen_init (&seen);
  write_labelled (wav, srt, 7, -1, x);
  desc = g_strdup_printf ("lstmtrain name=t model=%s epochs=1 seed=1 "
      "validation-fraction=0 ! fakesink "
      "filesrc location=%s ! wavparse ! t.sink "
      "filesrc location=%s ! subparse ! t.target", model, wav, srt);
  train_assert_eos (train_run_pipeline (desc, &seen));

  g_assert_cmpuint (train_count_warnings (&seen,
          "A label cue holds no frames and was left out.", &dbg), ==, 1);
  g_assert_nonnull (strstr (dbg, "the cue 'late' at 0:00:05.000000000 - "
          "0:00:05.500000000 is outside the frames' stream "
          "(0:00:00.000000000 - 0:00:03.000000000)"));
  /* nothing else was left out */
  g_assert_cmpuint (seen.warnings->len, ==, 1);
  g_assert_cmpuint (seen.losses->len, ==, 1);
  g_assert_true (isfinite (g_array_index (seen.losses, gdouble, 0)));

  m = load_finite (model, x, WAV_FRAMES);
  g_assert_cmpstrv (m->labels, ((const gchar *[]) {
            "a", "b", NULL
          }));
  g_assert_cmpstr (lstm_model_get_metadata (m, "train-sequences"), ==, "6");
  g_assert_cmpstr (lstm_model_get_metadata (m, "val-sequences"), ==, "0");
  train_seen_clear (&seen);
  train_remove_dir (dir);
}

/* (1b) A cue inside the stream but shorter than a frame period, between
 * two frames' times (1.001 - 1.009 s; frames every 10 ms): the warning
 * says so, rather than that it is outside the stream whose span it
 * prints. */
static void
test_cue_between_frames (void)
{
  static const TrainCue cues[] = {
    {0, 1000, "a"}, {1001, 1009, "tiny"}, {1010, 2000, "b"}
  };
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-bad-XXXXXX", NULL);
  g_autofree gchar *wav = g_build_filename (dir, "x.wav", NULL);
  g_autofree gchar *srt = g_build_filename (dir, "x.srt", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree gchar *desc = NULL;
  g_autofree float *x = g_new (float, WAV_FRAMES * WAV_CHANNELS);
  const gchar *dbg = NULL;
  TrainSeen seen;

  train_seen_init (&seen);
  train_make_frames (x, WAV_FRAMES, WAV_CHANNELS, 0, 1);
  train_write_f32_wav (wav, x, WAV_FRAMES, WAV_CHANNELS);
  train_write_srt (srt, cues, G_N_ELEMENTS (cues));
  desc = g_strdup_printf ("lstmtrain name=t model=%s epochs=1 seed=1 "
      "validation-fraction=0 ! fakesink "
      "filesrc location=%s ! wavparse ! t.sink "
      "filesrc location=%s ! subparse ! t.target", model, wav, srt);
  train_assert_eos (train_run_pipeline (desc, &seen));
  g_assert_cmpuint (train_count_warnings (&seen,
          "A label cue holds no frames and was left out.", &dbg), ==, 1);
  g_assert_nonnull (strstr (dbg, "the cue 'tiny' at 0:00:01.001000000 - "
          "0:00:01.009000000 holds no frame's time: it lies between two "
          "frames of the stream"));
  train_seen_clear (&seen);
  train_remove_dir (dir);
}

/* (2) task=regress with numeric target frames, ten of them NaN: those ten
 * frames are left out with a warning that counts them, the rest trains in
 * three windows (the NaN run cuts one), and the model and its outputs are
 * finite. */
static void
test_nan_target (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-bad-XXXXXX", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree gchar *desc = g_strdup_printf ("lstmtrain name=t task=regress "
      "model=%s epochs=1 seed=1 validation-fraction=0 bptt=100 ! fakesink "
      "appsrc name=x format=time caps=audio/x-raw,format=F32LE,"
      "layout=interleaved,channels=3,rate=100 ! t.sink "
      "appsrc name=y format=time caps=audio/x-raw,format=F32LE,"
      "layout=interleaved,channels=1,rate=100 ! t.target", model);
  g_autoptr (GError) error = NULL;
  GstElement *p = gst_parse_launch (desc, &error);
  GstElement *xs, *ys;
  GstBus *bus;
  const guint N = 300;
  g_autofree float *x = g_new (float, N * 3);
  g_autofree float *y = g_new (float, N);
  g_autoptr (LstmModel) m = NULL;
  const gchar *dbg = NULL;
  guint t;
  TrainSeen seen;

  g_assert_no_error (error);
  train_seen_init (&seen);
  xs = train_get (p, "x");
  ys = train_get (p, "y");
  bus = gst_element_get_bus (p);
  train_make_frames (x, N, 3, 0, 2);
  for (t = 0; t < N; t++)       /* the target: the sum of the frame */
    y[t] = (t >= 100 && t < 110) ? NAN : x[t * 3] + x[t * 3 + 1]
        + x[t * 3 + 2];
  gst_element_set_state (p, GST_STATE_PLAYING);
  train_push (xs, x, N, 3, 0, TRUE);
  train_push (ys, y, N, 1, 0, TRUE);
  train_end_of_stream (xs);
  train_end_of_stream (ys);
  train_assert_eos (train_wait_end (bus, &seen));
  gst_element_set_state (p, GST_STATE_NULL);

  g_assert_cmpuint (train_count_warnings (&seen,
          "Some frames were left out of training.", &dbg), ==, 1);
  g_assert_nonnull (strstr (dbg, "10 frames held NaN or infinity, or had "
          "no target"));
  g_assert_cmpuint (seen.warnings->len, ==, 1);
  g_assert_cmpuint (seen.losses->len, ==, 1);
  g_assert_true (isfinite (g_array_index (seen.losses, gdouble, 0)));

  m = load_finite (model, x, N);
  g_assert_cmpuint (lstm_model_get_output_size (m), ==, 1);
  g_assert_cmpint (m->output, ==, LSTM_OUTPUT_IDENTITY);
  g_assert_null (m->labels);
  g_assert_cmpstr (lstm_model_get_metadata (m, "task"), ==, "regress");
  /* [0, 100), [110, 210), [210, 300) */
  g_assert_cmpstr (lstm_model_get_metadata (m, "train-sequences"), ==, "3");

  train_seen_clear (&seen);
  gst_object_unref (bus);
  gst_object_unref (xs);
  gst_object_unref (ys);
  gst_object_unref (p);
  train_remove_dir (dir);
}

/* (3) A NaN in one input frame of a label track's second cue: that cue
 * (50 frames) is left out whole with a warning, the five others train, the
 * model's statistics did not see the NaN. */
static void
test_nan_frame_in_cue (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-bad-XXXXXX", NULL);
  g_autofree gchar *wav = g_build_filename (dir, "x.wav", NULL);
  g_autofree gchar *srt = g_build_filename (dir, "x.srt", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree gchar *desc = NULL;
  g_autofree float *x = g_new (float, WAV_FRAMES * WAV_CHANNELS);
  g_autoptr (LstmModel) m = NULL;
  const gchar *dbg = NULL;
  TrainSeen seen;

  train_seen_init (&seen);
  write_labelled (wav, srt, 6, 75, x);
  desc = g_strdup_printf ("lstmtrain name=t model=%s epochs=1 seed=1 "
      "validation-fraction=0 ! fakesink "
      "filesrc location=%s ! wavparse ! t.sink "
      "filesrc location=%s ! subparse ! t.target", model, wav, srt);
  train_assert_eos (train_run_pipeline (desc, &seen));

  g_assert_cmpuint (train_count_warnings (&seen,
          "Some frames were left out of training.", &dbg), ==, 1);
  g_assert_nonnull (strstr (dbg, "50 frames held NaN or infinity, or had "
          "no target"));
  g_assert_cmpuint (seen.warnings->len, ==, 1);
  g_assert_cmpuint (seen.losses->len, ==, 1);
  g_assert_true (isfinite (g_array_index (seen.losses, gdouble, 0)));

  /* the model's own run over the frames after the NaN cue */
  m = load_finite (model, x + 100 * WAV_CHANNELS, WAV_FRAMES - 100);
  g_assert_cmpstrv (m->labels, ((const gchar *[]) {
            "a", "b", NULL
          }));
  g_assert_cmpstr (lstm_model_get_metadata (m, "train-sequences"), ==, "5");
  train_seen_clear (&seen);
  train_remove_dir (dir);
}

/* (4) The sink caps change from 3 to 4 channels between two buffers: an
 * error with both sizes, and no model file. */
static void
test_frame_size_change (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-bad-XXXXXX", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree gchar *desc = g_strdup_printf ("appsrc name=x format=time "
      "caps=audio/x-raw,format=F32LE,layout=interleaved,channels=3,rate=100 "
      "! lstmtrain name=t task=forecast model=%s epochs=1 ! fakesink", model);
  g_autoptr (GError) error = NULL;
  GstElement *p = gst_parse_launch (desc, &error);
  GstElement *xs;
  GstBus *bus;
  g_autoptr (GstCaps) caps4 = NULL;
  g_autofree float *x3 = g_new (float, 200 * 3);
  g_autofree float *x4 = g_new (float, 200 * 4);
  g_autofree gchar *dbg = NULL;
  g_autofree gchar *left = NULL;

  g_assert_no_error (error);
  xs = train_get (p, "x");
  bus = gst_element_get_bus (p);
  train_make_frames (x3, 200, 3, 0, 3);
  train_make_frames (x4, 200, 4, 200, 3);
  caps4 = gst_caps_from_string ("audio/x-raw,format=F32LE,"
      "layout=interleaved,channels=4,rate=100");
  gst_element_set_state (p, GST_STATE_PLAYING);
  train_push (xs, x3, 200, 3, 0, TRUE);
  g_object_set (xs, "caps", caps4, NULL);
  /* the stream fails on these: their return is not what is tested */
  train_push (xs, x4, 200, 4, 200, FALSE);
  g_signal_emit_by_name (xs, "end-of-stream", &(GstFlowReturn) {
      0}
  );
  dbg = train_assert_error (train_wait_end (bus, NULL),
      "The frame size changed in the middle of the stream.",
      "frames had 3 values and now have 4");
  gst_element_set_state (p, GST_STATE_NULL);

  left = train_dir_listing (dir);
  g_assert_cmpstr (left, ==, "");
  gst_object_unref (bus);
  gst_object_unref (xs);
  gst_object_unref (p);
  train_remove_dir (dir);
}

/* A forecast pipeline on appsrc writing `model`; 300 frames pushed. */
static GstElement *
start_forecast (const gchar * model, GstElement ** xs, float *x,
    const gchar * props)
{
  g_autofree gchar *desc = g_strdup_printf ("appsrc name=x format=time "
      "caps=audio/x-raw,format=F32LE,layout=interleaved,channels=3,rate=100 "
      "! lstmtrain name=t task=forecast model=%s epochs=1 seed=1 %s ! "
      "fakesink", model, props);
  g_autoptr (GError) error = NULL;
  GstElement *p = gst_parse_launch (desc, &error);

  g_assert_no_error (error);
  *xs = train_get (p, "x");
  train_make_frames (x, 300, 3, 0, 4);
  /* start () runs in READY -> PAUSED, within this call */
  g_assert_cmpint (gst_element_set_state (p, GST_STATE_PLAYING), !=,
      GST_STATE_CHANGE_FAILURE);
  train_push (*xs, x, 300, 3, 0, TRUE);
  return p;
}

/* (5a) The model's folder disappears between start (which checked it) and
 * the save at end of stream: an error naming the path. */
static void
test_save_dir_removed (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-bad-XXXXXX", NULL);
  g_autofree gchar *out = g_build_filename (dir, "out", NULL);
  g_autofree gchar *model = g_build_filename (out, "m.safetensors", NULL);
  g_autofree float *x = g_new (float, 300 * 3);
  g_autofree gchar *dbg = NULL;
  GstElement *p, *xs;
  GstBus *bus;

  g_assert_cmpint (g_mkdir (out, 0755), ==, 0);
  p = start_forecast (model, &xs, x, "");
  bus = gst_element_get_bus (p);
  g_assert_cmpint (g_rmdir (out), ==, 0);
  train_end_of_stream (xs);
  dbg = train_assert_error (train_wait_end (bus, NULL), "Training failed.",
      model);
  gst_element_set_state (p, GST_STATE_NULL);
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));

  gst_object_unref (bus);
  gst_object_unref (xs);
  gst_object_unref (p);
  train_remove_dir (dir);
}

/* (5a') Online, the same at the final checkpoint: the error, and no
 * report of a checkpoint that was not saved (the checkpoint's epoch
 * message and progress came before its save, so a failed one was
 * announced first). */
static void
test_save_dir_removed_online (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-bad-XXXXXX", NULL);
  g_autofree gchar *out = g_build_filename (dir, "out", NULL);
  g_autofree gchar *model = g_build_filename (out, "m.safetensors", NULL);
  g_autofree float *x = g_new (float, 300 * 3);
  g_autofree gchar *dbg = NULL;
  GstElement *p, *xs;
  GstBus *bus;
  TrainSeen seen;

  train_seen_init (&seen);
  g_assert_cmpint (g_mkdir (out, 0755), ==, 0);
  p = start_forecast (model, &xs, x, "mode=online checkpoint-interval=0");
  bus = gst_element_get_bus (p);
  g_assert_cmpint (g_rmdir (out), ==, 0);
  train_end_of_stream (xs);
  dbg = train_assert_error (train_wait_end (bus, &seen), "Training failed.",
      model);
  g_assert_cmpuint (seen.losses->len, ==, 0);
  gst_element_set_state (p, GST_STATE_NULL);
  train_seen_clear (&seen);
  gst_object_unref (bus);
  gst_object_unref (xs);
  gst_object_unref (p);
  train_remove_dir (dir);
}

/* (5b) A full disk, emulated with RLIMIT_FSIZE (which binds root too,
 * where a read-only folder would not): every write past 64 bytes fails as
 * on a full disk. The save fails with an error naming the path; the
 * previous model is byte for byte what it was and no temporary file is
 * left. */
static void
test_save_write_fails (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-bad-XXXXXX", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree float *x = g_new (float, 300 * 3);
  g_autofree gchar *dbg = NULL;
  g_autofree gchar *left = NULL;
  g_autoptr (LstmModel) old = lstm_model_new (3, 4, 1, 3,
      LSTM_OUTPUT_IDENTITY, NULL);
  g_autoptr (LstmModel) back = NULL;
  g_autoptr (GBytes) before = NULL;
  g_autoptr (GBytes) after = NULL;
  g_autoptr (GError) error = NULL;
  struct rlimit saved, small;
  void (*saved_handler) (int);
  GstElement *p, *xs;
  GstBus *bus;
  GstMessage *end;

  lstm_model_init_random (old, 9);
  g_assert_true (lstm_model_save (old, model, NULL));
  before = read_file_or_fail (model);
  g_assert_cmpuint (g_bytes_get_size (before), >, 64);

  p = start_forecast (model, &xs, x, "");
  bus = gst_element_get_bus (p);
  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  small = saved;
  small.rlim_cur = 64;
  /* write () past the limit then fails with EFBIG instead of the signal */
  saved_handler = signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &small), ==, 0);
  train_end_of_stream (xs);
  end = train_wait_end (bus, NULL);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  signal (SIGXFSZ, saved_handler);
  dbg = train_assert_error (end, "Training failed.", model);
  gst_element_set_state (p, GST_STATE_NULL);

  after = read_file_or_fail (model);
  g_assert_true (g_bytes_equal (before, after));
  back = lstm_model_load (model, &error);
  g_assert_no_error (error);
  left = train_dir_listing (dir);
  g_assert_cmpstr (left, ==, "m.safetensors");

  gst_object_unref (bus);
  gst_object_unref (xs);
  gst_object_unref (p);
  train_remove_dir (dir);
}

/* A forecast stream whose every frame holds NaN: the error says so, not
 * that the stream is too short (it said "too short to forecast 1 frames
 * ahead (50 frames)"); nothing is written. */
static void
test_all_frames_nan (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-bad-XXXXXX", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree gchar *desc = g_strdup_printf ("appsrc name=x format=time "
      "caps=audio/x-raw,format=F32LE,layout=interleaved,channels=3,rate=100 "
      "! lstmtrain name=t task=forecast model=%s epochs=1 ! fakesink", model);
  g_autoptr (GError) error = NULL;
  GstElement *p = gst_parse_launch (desc, &error);
  g_autofree float *x = g_new (float, 50 * 3);
  GstElement *xs;
  GstBus *bus;
  g_autofree gchar *dbg = NULL;
  g_autofree gchar *left = NULL;
  guint i;

  g_assert_no_error (error);
  for (i = 0; i < 50 * 3; i++)
    x[i] = NAN;
  xs = train_get (p, "x");
  bus = gst_element_get_bus (p);
  gst_element_set_state (p, GST_STATE_PLAYING);
  train_push (xs, x, 50, 3, 0, TRUE);
  train_end_of_stream (xs);
  dbg = train_assert_error (train_wait_end (bus, NULL), "Training failed.",
      "(50 frames, 50 of them holding NaN or infinity)");
  gst_element_set_state (p, GST_STATE_NULL);
  left = train_dir_listing (dir);
  g_assert_cmpstr (left, ==, "");
  gst_object_unref (bus);
  gst_object_unref (xs);
  gst_object_unref (p);
  train_remove_dir (dir);
}

/* (6) End of stream before any frame: an error, no model file. */
static void
test_empty_stream (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-bad-XXXXXX", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree gchar *desc = g_strdup_printf ("appsrc name=x format=time "
      "caps=audio/x-raw,format=F32LE,layout=interleaved,channels=3,rate=100 "
      "! lstmtrain name=t task=forecast model=%s epochs=1 ! fakesink", model);
  g_autoptr (GError) error = NULL;
  GstElement *p = gst_parse_launch (desc, &error);
  GstElement *xs;
  GstBus *bus;
  g_autofree gchar *dbg = NULL;
  g_autofree gchar *left = NULL;

  g_assert_no_error (error);
  xs = train_get (p, "x");
  bus = gst_element_get_bus (p);
  gst_element_set_state (p, GST_STATE_PLAYING);
  train_end_of_stream (xs);
  dbg = train_assert_error (train_wait_end (bus, NULL), "Training failed.",
      "no frames arrived on the sink pad: nothing to train on");
  gst_element_set_state (p, GST_STATE_NULL);
  left = train_dir_listing (dir);
  g_assert_cmpstr (left, ==, "");
  gst_object_unref (bus);
  gst_object_unref (xs);
  gst_object_unref (p);
  train_remove_dir (dir);
}

/* (7) Targets that do not fit the task: an error naming the conflict, no
 * model file. */
static void
check_label_track_task (const gchar * task, const gchar * detail)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-bad-XXXXXX", NULL);
  g_autofree gchar *wav = g_build_filename (dir, "x.wav", NULL);
  g_autofree gchar *srt = g_build_filename (dir, "x.srt", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree gchar *desc = NULL;
  g_autofree float *x = g_new (float, WAV_FRAMES * WAV_CHANNELS);
  g_autofree gchar *dbg = NULL;
  g_autofree gchar *left = NULL;

  write_labelled (wav, srt, 6, -1, x);
  desc = g_strdup_printf ("lstmtrain name=t task=%s model=%s epochs=1 ! "
      "fakesink filesrc location=%s ! wavparse ! t.sink "
      "filesrc location=%s ! subparse ! t.target", task, model, wav, srt);
  dbg = train_assert_error (train_run_pipeline (desc, NULL),
      "Training failed.", detail);
  left = train_dir_listing (dir);
  g_assert_cmpstr (left, ==, "x.srt x.wav");
  train_remove_dir (dir);
}

static void
test_regress_with_label_track (void)
{
  check_label_track_task ("regress",
      "a label track trains task=classify, not regress");
}

static void
test_forecast_with_label_track (void)
{
  check_label_track_task ("forecast",
      "a label track trains task=classify, not forecast");
}

static void
test_forecast_with_target_frames (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-bad-XXXXXX", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree gchar *desc = g_strdup_printf ("lstmtrain name=t task=forecast "
      "model=%s epochs=1 ! fakesink "
      "appsrc name=x format=time caps=audio/x-raw,format=F32LE,"
      "layout=interleaved,channels=3,rate=100 ! t.sink "
      "appsrc name=y format=time caps=audio/x-raw,format=F32LE,"
      "layout=interleaved,channels=3,rate=100 ! t.target", model);
  g_autoptr (GError) error = NULL;
  GstElement *p = gst_parse_launch (desc, &error);
  GstElement *xs, *ys;
  GstBus *bus;
  g_autofree float *x = g_new (float, 200 * 3);
  g_autofree gchar *dbg = NULL;
  g_autofree gchar *left = NULL;

  g_assert_no_error (error);
  xs = train_get (p, "x");
  ys = train_get (p, "y");
  bus = gst_element_get_bus (p);
  train_make_frames (x, 200, 3, 0, 5);
  gst_element_set_state (p, GST_STATE_PLAYING);
  train_push (xs, x, 200, 3, 0, TRUE);
  train_push (ys, x, 200, 3, 0, TRUE);
  train_end_of_stream (xs);
  train_end_of_stream (ys);
  dbg = train_assert_error (train_wait_end (bus, NULL), "Training failed.",
      "task=forecast predicts the frames themselves: remove the target pad");
  gst_element_set_state (p, GST_STATE_NULL);
  left = train_dir_listing (dir);
  g_assert_cmpstr (left, ==, "");
  gst_object_unref (bus);
  gst_object_unref (xs);
  gst_object_unref (ys);
  gst_object_unref (p);
  train_remove_dir (dir);
}

static void
test_nothing_to_learn (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-bad-XXXXXX", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree float *x = g_new (float, 200 * 3);
  g_autofree gchar *desc = g_strdup_printf ("appsrc name=x format=time "
      "caps=audio/x-raw,format=F32LE,layout=interleaved,channels=3,rate=100 "
      "! lstmtrain name=t task=classify model=%s epochs=1 ! fakesink", model);
  g_autoptr (GError) error = NULL;
  GstElement *p = gst_parse_launch (desc, &error);
  GstElement *xs;
  GstBus *bus;
  g_autofree gchar *dbg = NULL;
  g_autofree gchar *left = NULL;

  g_assert_no_error (error);
  xs = train_get (p, "x");
  bus = gst_element_get_bus (p);
  train_make_frames (x, 200, 3, 0, 6);
  gst_element_set_state (p, GST_STATE_PLAYING);
  train_push (xs, x, 200, 3, 0, TRUE);
  train_end_of_stream (xs);
  dbg = train_assert_error (train_wait_end (bus, NULL), "Training failed.",
      "nothing to learn: link a target pad");
  gst_element_set_state (p, GST_STATE_NULL);
  left = train_dir_listing (dir);
  g_assert_cmpstr (left, ==, "");
  gst_object_unref (bus);
  gst_object_unref (xs);
  gst_object_unref (p);
  train_remove_dir (dir);
}

/* (8) mode=online must know the head's size before its first step: a
 * fixed label without the labels property is refused, naming it, and
 * nothing is written. */
static void
test_online_needs_labels (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-bad-XXXXXX", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree float *x = g_new (float, 200 * 3);
  g_autofree gchar *desc = g_strdup_printf ("appsrc name=x format=time "
      "caps=audio/x-raw,format=F32LE,layout=interleaved,channels=3,rate=100 "
      "! lstmtrain name=t mode=online task=classify label=walk bptt=50 "
      "model=%s ! fakesink", model);
  g_autoptr (GError) error = NULL;
  GstElement *p = gst_parse_launch (desc, &error);
  GstElement *xs;
  GstBus *bus;
  g_autofree gchar *dbg = NULL;
  g_autofree gchar *left = NULL;

  g_assert_no_error (error);
  xs = train_get (p, "x");
  bus = gst_element_get_bus (p);
  train_make_frames (x, 200, 3, 0, 8);
  gst_element_set_state (p, GST_STATE_PLAYING);
  train_push (xs, x, 200, 3, 0, TRUE);
  train_end_of_stream (xs);
  dbg = train_assert_error (train_wait_end (bus, NULL), "Training failed.",
      "mode=online needs the labels property");
  gst_element_set_state (p, GST_STATE_NULL);
  left = train_dir_listing (dir);
  g_assert_cmpstr (left, ==, "");
  gst_object_unref (bus);
  gst_object_unref (xs);
  gst_object_unref (p);
  train_remove_dir (dir);
}

/* (9) One target pad: a second request fails with a warning; once the
 * first is released, the pad can be requested again. */
static void
test_second_target_pad (void)
{
  GstElement *e = gst_element_factory_make ("lstmtrain", "t");
  GstPadTemplate *templ;
  GstBus *bus = gst_bus_new ();
  GstPad *first, *second, *again;
  GstMessage *msg;
  g_autoptr (GError) err = NULL;
  g_autofree gchar *dbg = NULL;

  g_assert_nonnull (e);
  gst_element_set_bus (e, bus);
  first = gst_element_request_pad_simple (e, "target");
  g_assert_nonnull (first);
  g_assert_cmpstr (GST_PAD_NAME (first), ==, "target");

  /* GStreamer itself warns when a request names a pad that exists */
  g_test_expect_message ("GStreamer", G_LOG_LEVEL_CRITICAL,
      "*already has a pad named target*");
  second = gst_element_request_pad_simple (e, "target");
  g_test_assert_expected_messages ();
  g_assert_null (second);
  /* without a name (no GStreamer warning): refused by lstmtrain itself */
  templ = gst_element_get_pad_template (e, "target");
  second = gst_element_request_pad (e, templ, NULL, NULL);
  g_assert_null (second);

  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING);
  g_assert_nonnull (msg);
  gst_message_parse_warning (msg, &err, &dbg);
  g_test_message ("warning: %s (%s)", err->message, dbg);
  g_assert_nonnull (strstr (dbg, "lstmtrain has one target pad; it is "
          "already requested"));
  gst_message_unref (msg);
  g_assert_cmpuint (e->numsinkpads, ==, 2);     /* sink and target */

  gst_element_release_request_pad (e, first);
  gst_object_unref (first);
  again = gst_element_request_pad_simple (e, "target");
  g_assert_nonnull (again);
  gst_element_release_request_pad (e, again);
  gst_object_unref (again);

  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_object_unref (e);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/lstm/train-element/bad/cue-outside-stream",
      test_cue_outside_stream);
  g_test_add_func ("/lstm/train-element/bad/nan-target", test_nan_target);
  g_test_add_func ("/lstm/train-element/bad/nan-frame-in-cue",
      test_nan_frame_in_cue);
  g_test_add_func ("/lstm/train-element/bad/frame-size-change",
      test_frame_size_change);
  g_test_add_func ("/lstm/train-element/bad/cue-between-frames",
      test_cue_between_frames);
  g_test_add_func ("/lstm/train-element/bad/save-dir-removed-online",
      test_save_dir_removed_online);
  g_test_add_func ("/lstm/train-element/bad/save-dir-removed",
      test_save_dir_removed);
  g_test_add_func ("/lstm/train-element/bad/save-write-fails",
      test_save_write_fails);
  g_test_add_func ("/lstm/train-element/bad/empty-stream", test_empty_stream);
  g_test_add_func ("/lstm/train-element/bad/all-frames-nan",
      test_all_frames_nan);
  g_test_add_func ("/lstm/train-element/bad/regress-with-label-track",
      test_regress_with_label_track);
  g_test_add_func ("/lstm/train-element/bad/forecast-with-label-track",
      test_forecast_with_label_track);
  g_test_add_func ("/lstm/train-element/bad/forecast-with-target-frames",
      test_forecast_with_target_frames);
  g_test_add_func ("/lstm/train-element/bad/nothing-to-learn",
      test_nothing_to_learn);
  g_test_add_func ("/lstm/train-element/bad/online-needs-labels",
      test_online_needs_labels);
  g_test_add_func ("/lstm/train-element/bad/second-target-pad",
      test_second_target_pad);
  return g_test_run ();
}
