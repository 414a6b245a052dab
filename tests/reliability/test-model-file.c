/* The model file of a PLAYING `lstm` replaced or deleted under it.
 *
 * The element under test streams from dir/m.safetensors; a reference
 * element streams the same frames from copies nobody touches. After each
 * step the two must give the same outputs, bit for bit:
 *  1. the file replaced (rename over it) by another model: the loaded
 *     model keeps running, the file is not read again;
 *  2. `model` set again to the same path: the new file swaps in (the
 *     reference swaps to its copy of it); the outputs change;
 *  3. the file deleted and `model` set again: a warning on the bus, and
 *     the model loaded in step 2 keeps running.
 * And, in the model cache under it: a file replaced by rename (as every
 * save does) with a model of the same size and the same modification time
 * (file times tick every few milliseconds) is loaded anew, not taken from
 * the cache.
 */
#include "rel-util.h"
#include "gstlstm.h"
#include "test-util.h"

#include <gst/check/gstharness.h>
#include <glib/gstdio.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#define CHANNELS 4
#define FRAMES 20               /* per step */

typedef struct
{
  gchar *dir;
  gchar *path;                  /* the file under test */
  gchar *a, *b;                 /* untouched copies of the two models */
  GstHarness *h, *ref;
  GstBus *bus;
  guint64 pushed;
} Fixture;

static GstHarness *
new_harness (const gchar * model)
{
  GstElement *e = gst_element_factory_make ("lstm", NULL);
  GstHarness *h;

  g_assert_nonnull (e);
  g_object_set (e, "model", model, NULL);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_src_caps_str (h, "audio/x-raw,format=F32LE,"
      "layout=interleaved,channels=4,rate=100");
  return h;
}

/* Sets `model` and waits until the background load has handed it over. */
static void
swap_to (GstHarness * h, const gchar * model)
{
  /* (the plugin is loaded at run time: no GST_LSTM () type check) */
  GstLstm *self = (GstLstm *) h->element;
  gint64 end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  gboolean ready = FALSE;

  g_object_set (self, "model", model, NULL);
  while (!ready && g_get_monotonic_time () < end) {
    GST_OBJECT_LOCK (self);
    ready = self->pending_model != NULL;
    GST_OBJECT_UNLOCK (self);
    g_usleep (1000);
  }
  g_assert_true (ready);
}

/* Pushes the next FRAMES frames into h; returns the output floats. */
static GBytes *
push_step (GstHarness * h, guint64 first)
{
  float x[FRAMES * CHANNELS];
  GstBuffer *b;
  g_autoptr (GstBuffer) out = NULL;
  GstMapInfo map;
  GBytes *bytes;

  rel_fill_frames (x, first, FRAMES, CHANNELS, 3);
  b = gst_buffer_new_memdup (x, sizeof (x));
  g_assert_cmpint (gst_harness_push (h, b), ==, GST_FLOW_OK);
  out = gst_harness_pull (h);
  gst_buffer_map (out, &map, GST_MAP_READ);
  rel_check_vectors ((const float *) map.data, map.size, 3, "model-file");
  bytes = g_bytes_new (map.data, map.size);
  gst_buffer_unmap (out, &map);
  return bytes;
}

/* One step through both elements: TRUE when their outputs are equal. */
static gboolean
step (Fixture * f)
{
  g_autoptr (GBytes) got = push_step (f->h, f->pushed);
  g_autoptr (GBytes) want = push_step (f->ref, f->pushed);

  f->pushed += FRAMES;
  return g_bytes_equal (got, want);
}

static void
setup (Fixture * f, gconstpointer data)
{
  f->dir = g_dir_make_tmp ("lstm-model-file-XXXXXX", NULL);
  f->a = rel_write_model (f->dir, "a", CHANNELS, 6, 1, 3, 1);
  f->b = rel_write_model (f->dir, "b", CHANNELS, 6, 1, 3, 2);
  f->path = rel_write_model (f->dir, "m.safetensors", CHANNELS, 6, 1, 3, 1);
  f->h = new_harness (f->path);
  f->ref = new_harness (f->a);
  f->bus = gst_bus_new ();
  gst_element_set_bus (f->h->element, f->bus);
}

static void
teardown (Fixture * f, gconstpointer data)
{
  gst_harness_teardown (f->h);
  gst_harness_teardown (f->ref);
  gst_object_unref (f->bus);
  g_unlink (f->a);
  g_unlink (f->b);
  g_unlink (f->path);
  g_rmdir (f->dir);
  g_free (f->a);
  g_free (f->b);
  g_free (f->path);
  g_free (f->dir);
}

static void
test_replace_then_delete (Fixture * f, gconstpointer data)
{
  g_autofree gchar *tmp = g_build_filename (f->dir, "new.tmp", NULL);
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GBytes) continuing = NULL;
  GstMessage *msg;

  g_assert_true (step (f));

  /* 1. replaced: the loaded model runs on */
  bytes = read_file_or_fail (f->b);
  g_assert_true (g_file_set_contents (tmp, g_bytes_get_data (bytes, NULL),
          g_bytes_get_size (bytes), NULL));
  g_assert_cmpint (g_rename (tmp, f->path), ==, 0);
  g_assert_true (step (f));

  /* 2. set again: the new file swaps in, the outputs change */
  swap_to (f->h, f->path);
  continuing = push_step (f->ref, f->pushed);   /* the old model, once more */
  gst_harness_teardown (f->ref);
  f->ref = new_harness (f->a);
  {
    /* the reference: the first steps with a, then b */
    guint64 k, n = f->pushed;
    for (k = 0, f->pushed = 0; k < n; k += FRAMES, f->pushed += FRAMES)
      g_bytes_unref (push_step (f->ref, k));
  }
  swap_to (f->ref, f->b);
  {
    g_autoptr (GBytes) got = push_step (f->h, f->pushed);
    g_autoptr (GBytes) want = push_step (f->ref, f->pushed);
    g_assert_true (g_bytes_equal (got, want));
    g_assert_false (g_bytes_equal (got, continuing));
    f->pushed += FRAMES;
  }

  /* 3. deleted and set again: a warning, the model of step 2 runs on */
  g_assert_cmpint (g_unlink (f->path), ==, 0);
  g_object_set (f->h->element, "model", f->path, NULL);
  msg = gst_bus_timed_pop_filtered (f->bus, 10 * GST_SECOND,
      GST_MESSAGE_WARNING);
  g_assert_nonnull (msg);
  {
    g_autoptr (GError) error = NULL;
    g_autofree gchar *debug = NULL;
    gst_message_parse_warning (msg, &error, &debug);
    g_test_message ("warning: %s (%s)", error->message, debug);
    g_assert_nonnull (strstr (error->message, "previous one keeps running"));
    g_assert_nonnull (strstr (debug, "m.safetensors"));
  }
  gst_message_unref (msg);
  g_assert_true (step (f));
  g_assert_true (step (f));
}

/* Two saves within one tick of the file clock: same size, same mtime. */
static void
test_cache_same_stamp (Fixture * f, gconstpointer data)
{
  g_autofree gchar *tmp = g_build_filename (f->dir, "new.tmp", NULL);
  g_autoptr (GBytes) b = read_file_or_fail (f->b);
  g_autoptr (LstmModel) first = lstm_model_load_shared (f->path, NULL);
  g_autoptr (LstmModel) second = NULL;
  g_autoptr (LstmModel) want = lstm_model_load (f->b, NULL);
  GStatBuf st;
  struct timespec times[2];

  g_assert_nonnull (first);
  g_assert_cmpint (g_stat (f->path, &st), ==, 0);
  g_assert_true (g_file_set_contents (tmp, g_bytes_get_data (b, NULL),
          g_bytes_get_size (b), NULL));
  times[0] = st.st_atim;
  times[1] = st.st_mtim;
  g_assert_cmpint (utimensat (AT_FDCWD, tmp, times, 0), ==, 0);
  g_assert_cmpint (g_rename (tmp, f->path), ==, 0);

  second = lstm_model_load_shared (f->path, NULL);
  g_assert_nonnull (second);
  g_assert_true (second != first);
  g_assert_cmpmem (second->params, second->n_params * sizeof (float),
      want->params, want->n_params * sizeof (float));
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/lstm/reliability/model-file/replace-then-delete", Fixture,
      NULL, setup, test_replace_then_delete, teardown);
  g_test_add ("/lstm/reliability/model-file/cache-same-size-and-mtime",
      Fixture, NULL, setup, test_cache_same_stamp, teardown);
  return g_test_run ();
}
