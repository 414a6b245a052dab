/* lstmtrain with the variant properties: each variant learns the memory
 * task (test-memory-task.h) to the bar of test-element-train.c (0.95 of
 * held-out sequences right through the lstm element), and the file it
 * writes carries the variant. */
#include "test-util.h"
#include "test-memory-task.h"

#include <glib/gstdio.h>

typedef struct
{
  const gchar *name;
  const gchar *props;           /* lstmtrain properties of the variant */
  LstmCell cell;
  guint proj_size;
  gboolean bidirectional, peephole, coupled_gates, layer_norm;
  double cell_clip;
} TrainVariant;

static const TrainVariant variants[] = {
  {"gru", "cell=gru", LSTM_CELL_GRU, 0, FALSE, FALSE, FALSE, FALSE, 0.0},
  {"peephole", "peephole=true", LSTM_CELL_LSTM, 0, FALSE, TRUE, FALSE, FALSE,
      0.0},
  {"coupled-gates", "coupled-gates=true", LSTM_CELL_LSTM, 0, FALSE, FALSE,
      TRUE, FALSE, 0.0},
  {"proj-size", "proj-size=12", LSTM_CELL_LSTM, 12, FALSE, FALSE, FALSE,
      FALSE, 0.0},
  {"layer-norm", "layer-norm=true", LSTM_CELL_LSTM, 0, FALSE, FALSE, FALSE,
      TRUE, 0.0},
  {"cell-clip", "cell-clip=3", LSTM_CELL_LSTM, 0, FALSE, FALSE, FALSE, FALSE,
      3.0},
  {"bidirectional", "bidirectional=true", LSTM_CELL_LSTM, 0, TRUE, FALSE,
      FALSE, FALSE, 0.0},
};

static void
test_memory_task (gconstpointer data)
{
  const TrainVariant *v = data;
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-var-XXXXXX", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autoptr (LstmModel) m = NULL;
  g_autoptr (GError) error = NULL;
  const gchar *labels[3] = { "low", "mid", "high" };
  LstmModelConfig c;
  gdouble acc;

  /* the settings of test-element-train.c's memory task */
  memory_task_train (dir, model, v->props, NULL);

  m = lstm_model_load (model, &error);
  g_assert_no_error (error);
  lstm_model_get_config (m, &c);
  g_assert_cmpint (c.cell, ==, v->cell);
  g_assert_cmpuint (c.proj_size, ==, v->proj_size);
  g_assert_cmpint (c.bidirectional, ==, v->bidirectional);
  g_assert_cmpint (c.peephole, ==, v->peephole);
  g_assert_cmpint (c.coupled_gates, ==, v->coupled_gates);
  g_assert_cmpint (c.layer_norm, ==, v->layer_norm);
  g_assert_cmpfloat (c.cell_clip, ==, v->cell_clip);

  acc = memory_task_accuracy (model, labels, 200, 12345);
  g_test_message ("%s: held-out accuracy through lstm %.3f (bar 0.95)",
      v->name, acc);
  g_assert_cmpfloat (acc, >=, 0.95);

  g_unlink (model);
  g_rmdir (dir);
}

/* Variants that are not defined fail with a message naming them. */
static void
test_bad_variant (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lstmtrain-var-XXXXXX", NULL);
  g_autofree gchar *wav = g_build_filename (dir, "train.wav", NULL);
  g_autofree gchar *srt = g_build_filename (dir, "train.srt", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  static const gchar *const bad[][2] = {
    {"cell=gru peephole=true", "peephole"},
    {"proj-size=24", "projection size 24"},
    {"bidirectional=true mode=online", "offline"},
  };
  gint tones[20];
  guint i;

  memory_task_write (wav, srt, 20, 5, tones);
  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autofree gchar *desc = g_strdup_printf ("lstmtrain name=t model=%s "
        "hidden-size=24 epochs=1 %s labels=low,mid,high ! fakesink "
        "filesrc location=%s ! wavparse ! t.sink "
        "filesrc location=%s ! subparse ! t.target", model, bad[i][0], wav,
        srt);
    GstMessage *end = memory_task_run_pipeline (desc, NULL);
    g_autoptr (GError) err = NULL;
    g_autofree gchar *dbg = NULL;

    g_assert_cmpint (GST_MESSAGE_TYPE (end), ==, GST_MESSAGE_ERROR);
    gst_message_parse_error (end, &err, &dbg);
    g_test_message ("%s: %s (%s)", bad[i][0], err->message, dbg);
    g_assert_true (strstr (err->message, bad[i][1]) != NULL
        || (dbg != NULL && strstr (dbg, bad[i][1]) != NULL));
    gst_message_unref (end);
  }
  g_unlink (wav);
  g_unlink (srt);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  guint i;

  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  for (i = 0; i < G_N_ELEMENTS (variants); i++) {
    g_autofree gchar *path = g_strdup_printf ("/lstm/variants/train/%s",
        variants[i].name);
    g_test_add_data_func (path, &variants[i], test_memory_task);
  }
  g_test_add_func ("/lstm/variants/train/bad-variant", test_bad_variant);
  return g_test_run ();
}
