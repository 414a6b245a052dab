/* Load: many `appsrc ! lstm ! appsink` pipelines in one process at once,
 * each fed its own input, and the outputs of each compared bit for bit
 * with running that input alone.
 *
 *   load [--pipelines N] [--seconds S] [--hidden H]
 *
 * Phase 1: N pipelines (default 64) stream together for S seconds (default
 * 60), one feeder thread each pushing buffers of 32 frames of its own
 * input stream (rel_fill_frames with the pipeline's index). Every output
 * buffer goes into a SHA-256 of that pipeline's output. Phase 2: for each
 * pipeline, a fresh pipeline alone gets the same buffers; its SHA-256 and
 * frame count must be the same. The model: 40 inputs (an MFCC-sized
 * frame), two layers of H (default 128) hidden units, 12 classes.
 * Prints the aggregate frames/s of phase 1 and the peak RSS; exit status 0
 * when every output matched.
 */
#include "rel-util.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <glib/gstdio.h>
#include <string.h>

#define CHANNELS 40
#define FRAMES_PER_BUFFER 32

typedef struct
{
  guint index;
  GstElement *pipeline;
  GstElement *src;
  GThread *feeder;
  guint64 buffers_to_push;      /* G_MAXUINT64: until told to stop */
  guint64 buffers_pushed;
  GChecksum *sum;               /* of every output byte, in order */
  guint64 frames_out;
} Stream;

static volatile gint stop_feeding;

static GstFlowReturn
on_sample (GstAppSink * sink, gpointer data)
{
  Stream *s = data;
  GstSample *sample = gst_app_sink_pull_sample (sink);
  GstBuffer *b = gst_sample_get_buffer (sample);
  GstMapInfo map;

  gst_buffer_map (b, &map, GST_MAP_READ);
  s->frames_out += rel_check_vectors ((const float *) map.data, map.size, 12,
      "load");
  g_checksum_update (s->sum, map.data, map.size);
  gst_buffer_unmap (b, &map);
  gst_sample_unref (sample);
  return GST_FLOW_OK;
}

static void
stream_start (Stream * s, const gchar * model, guint64 buffers)
{
  g_autofree gchar *desc = g_strdup_printf ("appsrc name=src format=time "
      "block=true max-bytes=%u caps=audio/x-raw,format=F32LE,"
      "layout=interleaved,channels=%d,rate=100 ! lstm model=%s ! "
      "appsink name=sink sync=false", 4 * FRAMES_PER_BUFFER * CHANNELS * 4,
      CHANNELS, model);
  g_autoptr (GError) error = NULL;
  GstAppSinkCallbacks cb = { 0 };
  GstElement *sink;

  s->pipeline = gst_parse_launch (desc, &error);
  if (s->pipeline == NULL)
    g_error ("%s", error->message);
  s->src = gst_bin_get_by_name (GST_BIN (s->pipeline), "src");
  sink = gst_bin_get_by_name (GST_BIN (s->pipeline), "sink");
  cb.new_sample = on_sample;
  gst_app_sink_set_callbacks (GST_APP_SINK (sink), &cb, s, NULL);
  gst_object_unref (sink);
  s->sum = g_checksum_new (G_CHECKSUM_SHA256);
  s->frames_out = 0;
  s->buffers_pushed = 0;
  s->buffers_to_push = buffers;
  if (gst_element_set_state (s->pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE)
    g_error ("pipeline %u does not start", s->index);
}

static gpointer
feed (gpointer data)
{
  Stream *s = data;
  float x[FRAMES_PER_BUFFER * CHANNELS];

  while (s->buffers_pushed < s->buffers_to_push
      && !g_atomic_int_get (&stop_feeding)) {
    guint64 first = s->buffers_pushed * FRAMES_PER_BUFFER;
    GstBuffer *b;
    rel_fill_frames (x, first, FRAMES_PER_BUFFER, CHANNELS, s->index);
    b = gst_buffer_new_memdup (x, sizeof (x));
    GST_BUFFER_PTS (b) = gst_util_uint64_scale_int (first, GST_SECOND, 100);
    if (gst_app_src_push_buffer (GST_APP_SRC (s->src), b) != GST_FLOW_OK)
      g_error ("pipeline %u: push failed", s->index);
    s->buffers_pushed++;
  }
  gst_app_src_end_of_stream (GST_APP_SRC (s->src));
  return NULL;
}

/* Waits for EOS; returns the SHA-256 of the outputs (free it). */
static gchar *
stream_finish (Stream * s)
{
  GstBus *bus = gst_element_get_bus (s->pipeline);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 600 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  gchar *digest;

  if (msg == NULL || GST_MESSAGE_TYPE (msg) != GST_MESSAGE_EOS)
    g_error ("pipeline %u did not reach EOS", s->index);
  gst_message_unref (msg);
  gst_object_unref (bus);
  gst_element_set_state (s->pipeline, GST_STATE_NULL);
  gst_object_unref (s->src);
  gst_object_unref (s->pipeline);
  digest = g_strdup (g_checksum_get_string (s->sum));
  g_checksum_free (s->sum);
  return digest;
}

int
main (int argc, char **argv)
{
  gint n = 64, seconds = 60, hidden = 128, i, mismatches = 0;
  GOptionEntry entries[] = {
    {"pipelines", 0, 0, G_OPTION_ARG_INT, &n, "Pipelines at once", "N"},
    {"seconds", 0, 0, G_OPTION_ARG_INT, &seconds, "Seconds of load", "S"},
    {"hidden", 0, 0, G_OPTION_ARG_INT, &hidden, "Hidden units", "H"},
    {NULL}
  };
  g_autofree gchar *dir = g_dir_make_tmp ("lstm-load-XXXXXX", NULL);
  g_autofree gchar *model = NULL;
  g_autofree Stream *streams = NULL;
  g_auto (GStrv) digests = NULL;
  guint64 frames = 0, rss, hwm;
  gint64 t0;
  double secs, alone_secs;

  rel_parse_options (&argc, &argv, entries, "- lstm load");
  if (n < 1)
    g_error ("--pipelines must be >= 1");
  model = rel_write_model (dir, "m.safetensors", CHANNELS, hidden, 2, 12, 5);
  streams = g_new0 (Stream, n);
  digests = g_new0 (gchar *, n + 1);

  /* phase 1: all together */
  t0 = g_get_monotonic_time ();
  for (i = 0; i < n; i++) {
    streams[i].index = i;
    stream_start (&streams[i], model, G_MAXUINT64);
    streams[i].feeder = g_thread_new ("feeder", feed, &streams[i]);
  }
  g_usleep ((gulong) seconds * G_USEC_PER_SEC);
  g_atomic_int_set (&stop_feeding, 1);
  for (i = 0; i < n; i++) {
    g_thread_join (streams[i].feeder);
    digests[i] = stream_finish (&streams[i]);
    frames += streams[i].frames_out;
  }
  secs = (g_get_monotonic_time () - t0) / 1e6;
  rel_memory (&rss, &hwm);

  /* phase 2: each alone, the same buffers */
  g_atomic_int_set (&stop_feeding, 0);
  t0 = g_get_monotonic_time ();
  for (i = 0; i < n; i++) {
    Stream alone = { 0 };
    guint64 together = streams[i].frames_out;
    g_autofree gchar *digest = NULL;
    alone.index = i;
    stream_start (&alone, model, streams[i].buffers_pushed);
    feed (&alone);
    digest = stream_finish (&alone);
    if (alone.frames_out != together || strcmp (digest, digests[i]) != 0) {
      g_printerr ("load: pipeline %d: %" G_GUINT64_FORMAT " frames, sha256 "
          "%s together; %" G_GUINT64_FORMAT " frames, sha256 %s alone\n", i,
          together, digests[i], alone.frames_out, digest);
      mismatches++;
    }
  }
  alone_secs = (g_get_monotonic_time () - t0) / 1e6;

  g_print ("load: %d pipelines together for %.1f s: %" G_GUINT64_FORMAT
      " frames, %.0f frames/s aggregate (model %d-%dx2-12); peak RSS "
      "(VmHWM) %" G_GUINT64_FORMAT " KiB\n", n, secs, frames, frames / secs,
      CHANNELS, hidden, hwm);
  g_print ("load: each alone again (%.1f s): %d of %d outputs bit-exact\n",
      alone_secs, n - mismatches, n);
  g_unlink (model);
  g_rmdir (dir);
  return mismatches == 0 ? 0 : 1;
}
