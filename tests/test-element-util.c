/* Helpers of the element tests (test-element-util.h). */
#include "test-element-util.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

gboolean
element_wait_pending_model (GstLstm * self)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  gboolean loaded = FALSE;

  while (!loaded && g_get_monotonic_time () < deadline) {
    GST_OBJECT_LOCK (self);
    loaded = self->pending_model != NULL;
    GST_OBJECT_UNLOCK (self);
    if (!loaded)
      g_usleep (1000);
  }
  return loaded;
}

/* ------------------------------------------------- lstmtrain's tests */

/* A 32-bit float WAV (format 3; wavparse gives F32LE, so NaN gets
 * through) of n frames of `channels` values. */
void
train_write_f32_wav (const gchar * path, const float *x, guint n,
    guint channels)
{
  gsize data_bytes = (gsize) n * channels * 4;
  guint8 *buf = g_malloc0 (44 + data_bytes);
  guint i;

  memcpy (buf, "RIFF", 4);
  GST_WRITE_UINT32_LE (buf + 4, 36 + data_bytes);
  memcpy (buf + 8, "WAVEfmt ", 8);
  GST_WRITE_UINT32_LE (buf + 16, 16);
  GST_WRITE_UINT16_LE (buf + 20, 3);    /* IEEE float */
  GST_WRITE_UINT16_LE (buf + 22, channels);
  GST_WRITE_UINT32_LE (buf + 24, TRAIN_RATE);
  GST_WRITE_UINT32_LE (buf + 28, TRAIN_RATE * channels * 4);
  GST_WRITE_UINT16_LE (buf + 32, channels * 4);
  GST_WRITE_UINT16_LE (buf + 34, 32);
  memcpy (buf + 36, "data", 4);
  GST_WRITE_UINT32_LE (buf + 40, data_bytes);
  for (i = 0; i < n * channels; i++)
    GST_WRITE_FLOAT_LE (buf + 44 + (gsize) i * 4, x[i]);
  g_assert_true (g_file_set_contents (path, (gchar *) buf, 44 + data_bytes,
          NULL));
  g_free (buf);
}

void
train_write_srt (const gchar * path, const TrainCue * cues, guint n)
{
  GString *s = g_string_new (NULL);
  guint i;

  for (i = 0; i < n; i++) {
    guint a = cues[i].start_ms, b = cues[i].end_ms;
    g_string_append_printf (s, "%u\n%02u:%02u:%02u,%03u --> "
        "%02u:%02u:%02u,%03u\n%s\n\n", i + 1, a / 3600000, a / 60000 % 60,
        a / 1000 % 60, a % 1000, b / 3600000, b / 60000 % 60, b / 1000 % 60,
        b % 1000, cues[i].label);
  }
  g_assert_true (g_file_set_contents (path, s->str, s->len, NULL));
  g_string_free (s, TRUE);
}

/* n frames of `channels` values: sines of their own frequency per channel
 * and a little noise, from frame `first` on. */
void
train_make_frames (float *x, guint n, guint channels, guint first,
    guint32 seed)
{
  GRand *rand = g_rand_new_with_seed (seed);
  guint t, c;

  for (t = 0; t < n; t++)
    for (c = 0; c < channels; c++)
      x[(gsize) t * channels + c] = (float) (sin (2 * G_PI * (0.7 + 0.4 * c)
              * (first + t) / TRAIN_RATE) + g_rand_double_range (rand, -0.05,
              0.05));
  g_rand_free (rand);
}

void
train_seen_init (TrainSeen * seen)
{
  seen->warnings = g_ptr_array_new_with_free_func (g_free);
  seen->losses = g_array_new (FALSE, FALSE, sizeof (gdouble));
}

void
train_seen_clear (TrainSeen * seen)
{
  g_ptr_array_unref (seen->warnings);
  g_array_unref (seen->losses);
}

/* Pops the bus until EOS or an error, which it returns; collects the
 * warnings and epoch messages on the way. */
GstMessage *
train_wait_end (GstBus * bus, TrainSeen * seen)
{
  while (TRUE) {
    GstMessage *msg = gst_bus_timed_pop (bus, 60 * GST_SECOND);

    g_assert_nonnull (msg);
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS
        || GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
      return msg;
    if (seen != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING) {
      g_autoptr (GError) err = NULL;
      g_autofree gchar *dbg = NULL;
      gst_message_parse_warning (msg, &err, &dbg);
      g_test_message ("warning from %s: %s (%s)",
          GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), err->message, dbg);
      g_ptr_array_add (seen->warnings, g_strdup_printf ("%s\n%s",
              err->message, dbg ? dbg : ""));
    }
    if (seen != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
        && gst_message_has_name (msg, "lstmtrain")) {
      gdouble loss;
      g_assert_true (gst_structure_get_double (gst_message_get_structure
              (msg), "train-loss", &loss));
      g_array_append_val (seen->losses, loss);
    }
    gst_message_unref (msg);
  }
}

GstMessage *
train_run_pipeline (const gchar * desc, TrainSeen * seen)
{
  g_autoptr (GError) error = NULL;
  GstElement *p = gst_parse_launch (desc, &error);
  GstBus *bus;
  GstMessage *msg;

  g_assert_no_error (error);
  bus = gst_element_get_bus (p);
  gst_element_set_state (p, GST_STATE_PLAYING);
  msg = train_wait_end (bus, seen);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (p);
  return msg;
}

/* The run ended with EOS; an error fails the test with its text. */
void
train_assert_eos (GstMessage * msg)
{
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    g_autoptr (GError) err = NULL;
    g_autofree gchar *dbg = NULL;
    gst_message_parse_error (msg, &err, &dbg);
    g_error ("training failed: %s (%s)", err->message, dbg);
  }
  g_assert_cmpint (GST_MESSAGE_TYPE (msg), ==, GST_MESSAGE_EOS);
  gst_message_unref (msg);
}

/* The run ended with an error of lstmtrain (named t) whose message is
 * `text` and whose debug string holds `detail`; returns the debug string. */
gchar *
train_assert_error (GstMessage * msg, const gchar * text, const gchar * detail)
{
  g_autoptr (GError) err = NULL;
  gchar *dbg = NULL;

  g_assert_cmpint (GST_MESSAGE_TYPE (msg), ==, GST_MESSAGE_ERROR);
  gst_message_parse_error (msg, &err, &dbg);
  g_test_message ("error from %s: %s (%s)",
      GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), err->message, dbg);
  g_assert_cmpstr (GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), ==, "t");
  g_assert_cmpstr (err->message, ==, text);
  g_assert_nonnull (dbg);
  g_assert_nonnull (strstr (dbg, detail));
  gst_message_unref (msg);
  return dbg;
}

/* How many warnings have the message `text`; the debug string of the last
 * in *debug. */
guint
train_count_warnings (const TrainSeen * seen, const gchar * text,
    const gchar ** debug)
{
  guint i, n = 0;
  gsize len = strlen (text);

  for (i = 0; i < seen->warnings->len; i++) {
    const gchar *w = seen->warnings->pdata[i];
    if (strncmp (w, text, len) == 0 && w[len] == '\n') {
      n++;
      if (debug != NULL)
        *debug = w + len + 1;
    }
  }
  return n;
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar * const *) a, *(const gchar * const *) b);
}

/* The names in a folder, sorted, joined by spaces ("" when empty). */
gchar *
train_dir_listing (const gchar * dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const gchar *name;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (gchar **) names->pdata);
}

/* Removes a test folder and the files in it. */
void
train_remove_dir (const gchar * dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d)) != NULL) {
    g_autofree gchar *path = g_build_filename (dir, name, NULL);
    g_unlink (path);
  }
  g_rmdir (dir);
}

void
train_push (GstElement * src, const float *x, guint n, guint channels,
    guint first, gboolean check)
{
  guint t;

  for (t = 0; t < n; t += 50) {
    guint m = MIN (50, n - t);
    GstBuffer *b = gst_buffer_new_memdup (x + (gsize) t * channels,
        (gsize) m * channels * sizeof (float));
    GstFlowReturn ret;

    GST_BUFFER_PTS (b) = gst_util_uint64_scale_int (first + t, GST_SECOND,
        TRAIN_RATE);
    GST_BUFFER_DURATION (b) = gst_util_uint64_scale_int (m, GST_SECOND,
        TRAIN_RATE);
    g_signal_emit_by_name (src, "push-buffer", b, &ret);
    gst_buffer_unref (b);
    if (check)
      g_assert_cmpint (ret, ==, GST_FLOW_OK);
  }
}

void
train_end_of_stream (GstElement * src)
{
  GstFlowReturn ret;

  g_signal_emit_by_name (src, "end-of-stream", &ret);
  g_assert_cmpint (ret, ==, GST_FLOW_OK);
}

GstElement *
train_get (GstElement * p, const gchar * name)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (p), name);

  g_assert_nonnull (e);
  return e;
}
