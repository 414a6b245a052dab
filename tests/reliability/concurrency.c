/* Concurrency: `appsrc ! lstm ! appsink` streaming while other threads
 * change everything they can reach, as fast as they can.
 *
 *   concurrency [--seconds S] [--threads T]
 *
 * T threads (default 3) pick at random, over and over: output-mode,
 * stride, text-format, post-messages, message-interval, reset-on-discont,
 * a model hot swap between two models of different sizes (the output caps
 * change), the reset signal, the `state` property read and written back
 * (after a swap it no longer fits: a warning), downstream switching between
 * text and vectors (a capsfilter's caps), skipped-frames read. The main
 * thread streams buffers of 1 to 64 frames (one frame in 50 a NaN), and
 * the bus is drained. Every output is checked against the caps it came
 * with (whole frames, finite; or one text line). A watchdog aborts when no
 * output arrives for 20 s (a deadlock). Exit status 0 when the stream got
 * to EOS with no error message.
 */
#include "rel-util.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#define CHANNELS 6

typedef struct
{
  GstElement *lstm;
  GstElement *filter;           /* what downstream accepts */
  GstBus *bus;
  gchar *models[2];
  gint stop;
  gint outputs;                 /* output buffers so far */
  gint text_outputs;            /* of which text lines */
  gint ops;                     /* changes made by the other threads */
  gint seed;
} Shared;

static GstFlowReturn
on_sample (GstAppSink * sink, gpointer data)
{
  Shared *sh = data;
  GstSample *sample = gst_app_sink_pull_sample (sink);
  GstBuffer *b = gst_sample_get_buffer (sample);
  gint channels = rel_caps_channels (gst_sample_get_caps (sample));
  GstMapInfo map;

  gst_buffer_map (b, &map, GST_MAP_READ);
  if (channels == 0) {
    if (map.size == 0 || memchr (map.data, '\n', map.size) !=
        (void *) (map.data + map.size - 1))
      g_error ("concurrency: a text buffer that is not one line");
    g_atomic_int_inc (&sh->text_outputs);
  } else {
    rel_check_vectors ((const float *) map.data, map.size, channels,
        "concurrency");
  }
  gst_buffer_unmap (b, &map);
  gst_sample_unref (sample);
  g_atomic_int_inc (&sh->outputs);
  return GST_FLOW_OK;
}

/* One random change to the element. */
static void
change_something (Shared * sh, GRand * r)
{
  GstElement *e = sh->lstm;

  switch (g_rand_int_range (r, 0, 11)) {
    case 0:
      g_object_set (e, "output-mode", g_rand_int_range (r, 0, 3), NULL);
      break;
    case 1:
      g_object_set (e, "stride", g_rand_int_range (r, 1, 9), NULL);
      break;
    case 2:
      g_object_set (e, "text-format", g_rand_int_range (r, 0, 2), NULL);
      break;
    case 3:
      g_object_set (e, "post-messages", g_rand_boolean (r),
          "message-interval", (guint64) g_rand_int_range (r, 0, 3) *
          GST_MSECOND, NULL);
      break;
    case 4:
      g_object_set (e, "reset-on-discont", g_rand_boolean (r), NULL);
      break;
    case 5:
      g_object_set (e, "model", sh->models[g_rand_int_range (r, 0, 2)], NULL);
      break;
    case 6:
      g_signal_emit_by_name (e, "reset");
      break;
    case 7:{
      GBytes *state = NULL;
      g_object_get (e, "state", &state, NULL);
      g_usleep (g_rand_int_range (r, 0, 2000));
      if (state != NULL) {
        g_object_set (e, "state", state, NULL);
        g_bytes_unref (state);
      }
      break;
    }
    case 8:{
      /* downstream now wants text, vectors or either: a capsfilter with
       * caps-change-mode=delayed, which keeps taking the old caps until
       * the new ones are negotiated (changing an appsink's caps instead
       * races with caps already on their way: not-negotiated) */
      static const gchar *wants[] = { "text/x-raw", "audio/x-raw",
        "audio/x-raw; text/x-raw"
      };
      g_autoptr (GstCaps) caps =
          gst_caps_from_string (wants[g_rand_int_range (r, 0, 3)]);
      g_object_set (sh->filter, "caps", caps, NULL);
      break;
    }
    default:{
      guint64 skipped;
      g_object_get (e, "skipped-frames", &skipped, NULL);
      break;
    }
  }
}

static gpointer
hammer (gpointer data)
{
  Shared *sh = data;
  g_autoptr (GRand) r = g_rand_new_with_seed (g_atomic_int_add (&sh->seed, 1));

  while (!g_atomic_int_get (&sh->stop)) {
    change_something (sh, r);
    g_atomic_int_inc (&sh->ops);
    g_usleep (g_rand_int_range (r, 0, 500));
  }
  return NULL;
}

/* Aborts when the outputs stop coming for 20 s while streaming. */
static gpointer
watchdog (gpointer data)
{
  Shared *sh = data;
  gint last = -1;

  while (g_atomic_int_get (&sh->stop) < 2) {
    gint now = g_atomic_int_get (&sh->outputs);
    if (now == last) {
      /* a stream that stopped on an error is not a deadlock: say which */
      GstMessage *msg = gst_bus_pop_filtered (sh->bus, GST_MESSAGE_ERROR);
      if (msg != NULL) {
        g_autoptr (GError) error = NULL;
        g_autofree gchar *debug = NULL;
        gst_message_parse_error (msg, &error, &debug);
        g_error ("concurrency: the stream stopped: %s (%s)", error->message,
            debug);
      }
      g_error ("concurrency: no output for 20 s: a deadlock?");
    }
    last = now;
    for (gint i = 0; i < 200 && g_atomic_int_get (&sh->stop) < 2; i++)
      g_usleep (100 * 1000);
  }
  return NULL;
}

/* Pushes buffers for `seconds`; returns the number of frames pushed. */
static guint64
stream (GstElement * src, gint seconds)
{
  gint64 end = g_get_monotonic_time () + (gint64) seconds * G_USEC_PER_SEC;
  float x[64 * CHANNELS];
  guint64 pushed = 0;
  guint k;

  for (k = 0; g_get_monotonic_time () < end; k++) {
    guint n = 1 + (k * 13) % 64;
    GstBuffer *b;
    rel_fill_frames (x, pushed, n, CHANNELS, 2);
    if (k % 50 == 7)
      x[CHANNELS + 1 < n * CHANNELS ? CHANNELS + 1 : 0] = NAN;
    b = gst_buffer_new_memdup (x, (gsize) n * CHANNELS * sizeof (float));
    GST_BUFFER_PTS (b) = gst_util_uint64_scale_int (pushed, GST_SECOND, 100);
    if (k % 97 == 3)
      GST_BUFFER_FLAG_SET (b, GST_BUFFER_FLAG_DISCONT);
    if (gst_app_src_push_buffer (GST_APP_SRC (src), b) != GST_FLOW_OK)
      g_error ("concurrency: push failed");
    pushed += n;
  }
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  return pushed;
}

/* Waits for EOS, counting warnings; aborts on an error. */
static guint
wait_eos (GstBus * bus)
{
  guint warnings = 0;
  GstMessage *msg;

  while ((msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
              GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_WARNING))) {
    GstMessageType type = GST_MESSAGE_TYPE (msg);
    if (type == GST_MESSAGE_ERROR) {
      g_autoptr (GError) error = NULL;
      g_autofree gchar *debug = NULL;
      gst_message_parse_error (msg, &error, &debug);
      g_error ("concurrency: error: %s (%s)", error->message, debug);
    }
    gst_message_unref (msg);
    if (type == GST_MESSAGE_EOS)
      return warnings;
    warnings++;
  }
  g_error ("concurrency: no EOS within 60 s");
  return warnings;
}

int
main (int argc, char **argv)
{
  gint seconds = 10, threads = 3, i;
  GOptionEntry entries[] = {
    {"seconds", 0, 0, G_OPTION_ARG_INT, &seconds, "Seconds to run", "S"},
    {"threads", 0, 0, G_OPTION_ARG_INT, &threads, "Changing threads", "T"},
    {NULL}
  };
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("lstm-conc-XXXXXX", NULL);
  g_autofree gchar *desc = NULL;
  g_autofree GThread **workers = NULL;
  Shared sh = { 0 };
  GstElement *pipeline, *src, *sink;
  GstAppSinkCallbacks cb = { 0 };
  GThread *dog;
  GstBus *bus;
  guint64 pushed;
  guint warnings;

  rel_parse_options (&argc, &argv, entries, "- concurrency");
  sh.models[0] = rel_write_model (dir, "a.safetensors", CHANNELS, 16, 1, 4, 1);
  sh.models[1] = rel_write_model (dir, "b.safetensors", CHANNELS, 12, 2, 0, 2);
  desc = g_strdup_printf ("appsrc name=src format=time block=true "
      "max-bytes=65536 caps=audio/x-raw,format=F32LE,layout=interleaved,"
      "channels=%d,rate=100 ! lstm name=l model=%s ! capsfilter name=f "
      "caps-change-mode=delayed ! appsink name=sink sync=false", CHANNELS,
      sh.models[0]);
  pipeline = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  sh.lstm = gst_bin_get_by_name (GST_BIN (pipeline), "l");
  sh.filter = gst_bin_get_by_name (GST_BIN (pipeline), "f");
  cb.new_sample = on_sample;
  gst_app_sink_set_callbacks (GST_APP_SINK (sink), &cb, &sh, NULL);
  bus = gst_element_get_bus (pipeline);
  sh.bus = bus;
  gst_element_set_state (pipeline, GST_STATE_PLAYING);

  workers = g_new0 (GThread *, threads);
  for (i = 0; i < threads; i++)
    workers[i] = g_thread_new ("hammer", hammer, &sh);
  dog = g_thread_new ("watchdog", watchdog, &sh);
  pushed = stream (src, seconds);
  g_atomic_int_set (&sh.stop, 1);
  for (i = 0; i < threads; i++)
    g_thread_join (workers[i]);
  warnings = wait_eos (bus);
  g_atomic_int_set (&sh.stop, 2);
  g_thread_join (dog);
  gst_element_set_state (pipeline, GST_STATE_NULL);

  g_print ("concurrency: %" G_GUINT64_FORMAT " frames in %d s with %d "
      "threads making %d changes; %d output buffers (%d text lines), all "
      "valid; %u warnings; EOS reached, no error, no deadlock\n", pushed,
      seconds, threads, sh.ops, sh.outputs, sh.text_outputs, warnings);
  gst_object_unref (bus);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (sh.lstm);
  gst_object_unref (sh.filter);
  gst_object_unref (pipeline);
  for (i = 0; i < 2; i++) {
    g_unlink (sh.models[i]);
    g_free (sh.models[i]);
  }
  g_rmdir (dir);
  return 0;
}
