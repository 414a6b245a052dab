/* The memory task of lstmtrain's tests (test-element-train.c,
 * test-variants-train.c): data, a pipeline runner, and the accuracy of a
 * trained model through the lstm element. */
#include "test-memory-task.h"

#include <gst/check/gstharness.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

/* The memory task: three "tones" (one-hot on channels 0..2 for 3 frames),
 * then DELAY frames of noise, then a marker on channel 3. The class is the
 * tone, and only the sequence's last frame is judged, so the network must
 * carry it DELAY frames. */
#define CHANNELS 4
#define DELAY 30
#define SEQ_LEN (3 + DELAY + 1)
#define RATE 100

void
memory_task_sequence (GRand * rand, gint tone, float *x)
{
  guint t, c;

  for (t = 0; t < SEQ_LEN; t++)
    for (c = 0; c < CHANNELS; c++)
      x[t * CHANNELS + c] = (float) g_rand_double_range (rand, -0.2, 0.2);
  for (t = 0; t < 3; t++)
    x[t * CHANNELS + tone] += 1.0f;
  x[(SEQ_LEN - 1) * CHANNELS + 3] += 1.0f;
}

/* A 16-bit PCM WAV of n sequences back to back (S16 is what wavparse
 * gives; lstmtrain and lstm scale it by 1/32768, hence the 0.5 factor to
 * keep the values inside [-1, 1)), and an .srt with one cue per sequence. */
void
memory_task_write (const gchar * wav, const gchar * srt, guint n, guint32 seed,
    gint * tones)
{
  GRand *rand = g_rand_new_with_seed (seed);
  guint frames = n * SEQ_LEN, i, t;
  gsize data_bytes = (gsize) frames * CHANNELS * 2;
  guint8 *buf = g_malloc0 (44 + data_bytes);
  GString *subs = g_string_new (NULL);
  float x[SEQ_LEN * CHANNELS];
  gint16 *pcm = (gint16 *) (buf + 44);

  memcpy (buf, "RIFF", 4);
  GST_WRITE_UINT32_LE (buf + 4, 36 + data_bytes);
  memcpy (buf + 8, "WAVEfmt ", 8);
  GST_WRITE_UINT32_LE (buf + 16, 16);
  GST_WRITE_UINT16_LE (buf + 20, 1);    /* PCM */
  GST_WRITE_UINT16_LE (buf + 22, CHANNELS);
  GST_WRITE_UINT32_LE (buf + 24, RATE);
  GST_WRITE_UINT32_LE (buf + 28, RATE * CHANNELS * 2);
  GST_WRITE_UINT16_LE (buf + 32, CHANNELS * 2);
  GST_WRITE_UINT16_LE (buf + 34, 16);
  memcpy (buf + 36, "data", 4);
  GST_WRITE_UINT32_LE (buf + 40, data_bytes);

  for (i = 0; i < n; i++) {
    /* cues in milliseconds: frame k starts at 10 k ms */
    guint s_ms = i * SEQ_LEN * 10, e_ms = (i + 1) * SEQ_LEN * 10;
    tones[i] = g_rand_int_range (rand, 0, 3);
    memory_task_sequence (rand, tones[i], x);
    for (t = 0; t < SEQ_LEN * CHANNELS; t++)
      pcm[(gsize) i * SEQ_LEN * CHANNELS + t] =
          GINT16_TO_LE ((gint16) lrintf (CLAMP (x[t] * 0.5f, -1.0f, 0.99f)
              * 32767.0f));
    g_string_append_printf (subs, "%u\n%02u:%02u:%02u,%03u --> "
        "%02u:%02u:%02u,%03u\n%s\n\n", i + 1, s_ms / 3600000,
        s_ms / 60000 % 60, s_ms / 1000 % 60, s_ms % 1000, e_ms / 3600000,
        e_ms / 60000 % 60, e_ms / 1000 % 60, e_ms % 1000,
        tones[i] == 0 ? "low" : tones[i] == 1 ? "<i>mid</i>" : "high");
  }
  g_assert_true (g_file_set_contents (wav, (gchar *) buf, 44 + data_bytes,
          NULL));
  g_assert_true (g_file_set_contents (srt, subs->str, subs->len, NULL));
  g_string_free (subs, TRUE);
  g_free (buf);
  g_rand_free (rand);
}

GstMessage *
memory_task_run_pipeline (const gchar * desc, GPtrArray * messages)
{
  g_autoptr (GError) error = NULL;
  GstElement *p = gst_parse_launch (desc, &error);
  GstBus *bus;
  GstMessage *msg;

  g_assert_no_error (error);
  bus = gst_element_get_bus (p);
  gst_element_set_state (p, GST_STATE_PLAYING);
  while (TRUE) {
    msg = gst_bus_timed_pop (bus, 300 * GST_SECOND);
    g_assert_nonnull (msg);
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS
        || GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
      break;
    if (messages != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
        && gst_message_has_name (msg, "lstmtrain"))
      g_ptr_array_add (messages, gst_message_ref (msg));
    gst_message_unref (msg);
  }
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (p);
  return msg;
}

/* Held-out sequences through the lstm element, output-mode=last, one
 * DISCONT buffer per sequence: the fraction classified right. */
gdouble
memory_task_accuracy (const gchar * model, const gchar * labels[3],
    guint n, guint32 seed)
{
  GstElement *e = gst_element_factory_make ("lstm", NULL);
  GstHarness *h;
  GRand *rand = g_rand_new_with_seed (seed);
  float x[SEQ_LEN * CHANNELS];
  guint i, right = 0;
  gint tones[512];

  g_assert_cmpuint (n, <=, 512);
  g_object_set (e, "model", model, "output-mode", 2 /* last */ , NULL);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_sink_caps_str (h, "text/x-raw,format=utf8");
  gst_harness_set_src_caps_str (h, "audio/x-raw,format=F32LE,"
      "layout=interleaved,channels=4,rate=100");
  for (i = 0; i <= n; i++) {
    GstBuffer *b;
    if (i < n) {
      tones[i] = g_rand_int_range (rand, 0, 3);
      memory_task_sequence (rand, tones[i], x);
      /* what the WAV path gives: x * 0.5 through S16 */
      for (guint k = 0; k < SEQ_LEN * CHANNELS; k++)
        x[k] = lrintf (CLAMP (x[k] * 0.5f, -1.0f, 0.99f) * 32767.0f)
            / 32768.0f;
      b = gst_buffer_new_memdup (x, sizeof (x));
      GST_BUFFER_PTS (b) = i * SEQ_LEN * 10 * GST_MSECOND;
      GST_BUFFER_FLAG_SET (b, GST_BUFFER_FLAG_DISCONT);
      gst_harness_push (h, b);
    } else {
      gst_harness_push_event (h, gst_event_new_eos ());
    }
    if (i > 0) {                /* the previous sequence's prediction */
      GstMapInfo map;
      g_autofree gchar *line = NULL;
      b = gst_harness_pull (h);
      gst_buffer_map (b, &map, GST_MAP_READ);
      line = g_strndup ((gchar *) map.data, map.size);
      gst_buffer_unmap (b, &map);
      gst_buffer_unref (b);
      if (g_str_has_prefix (line, labels[tones[i - 1]])
          && line[strlen (labels[tones[i - 1]])] == ' ')
        right++;
    }
  }
  gst_harness_teardown (h);
  g_rand_free (rand);
  return (gdouble) right / n;
}

void
memory_task_train (const gchar * dir, const gchar * model,
    const gchar * props, GPtrArray * messages)
{
  g_autofree gchar *wav = g_build_filename (dir, "train.wav", NULL);
  g_autofree gchar *srt = g_build_filename (dir, "train.srt", NULL);
  g_autofree gchar *desc = NULL;
  GstMessage *end;
  gint tones[400];

  memory_task_write (wav, srt, 400, 11, tones);
  desc = g_strdup_printf ("lstmtrain name=t model=%s hidden-size=24 %s "
      "epochs=30 batch-size=16 learning-rate=0.01 seed=3 "
      "validation-fraction=0.1 labels=low,mid,high ! fakesink "
      "filesrc location=%s ! wavparse ! t.sink "
      "filesrc location=%s ! subparse ! t.target", model, props, wav, srt);
  end = memory_task_run_pipeline (desc, messages);
  if (GST_MESSAGE_TYPE (end) == GST_MESSAGE_ERROR) {
    g_autoptr (GError) err = NULL;
    g_autofree gchar *dbg = NULL;
    gst_message_parse_error (end, &err, &dbg);
    g_error ("training failed: %s (%s)", err->message, dbg);
  }
  gst_message_unref (end);
  g_unlink (wav);
  g_unlink (srt);
}
