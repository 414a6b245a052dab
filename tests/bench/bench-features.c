/* Real-time factor of the feature extractor (lstm_features_*, and the
 * lstmfeatures element in appsrc ! lstmfeatures ! fakesink) on a long
 * 16 kHz S16 signal, single thread. The counterpart of
 * bench_features.py (torchaudio.compliance.kaldi); tests/bench/
 * run-features.sh runs both on the same signal file and writes the table.
 *
 *   bench-features --make-signal FILE [--seconds S]   writes S seconds (3600)
 *   GST_PLUGIN_PATH=build/plugin bench-features FILE  measures; prints TSV:
 *       result  <impl>  <features>  <audio s>  <frames>  <best s>  <RTF>
 *
 * The signal: a tone sweep, a 4 Hz syllable-like envelope and white
 * noise, so every mel bin and the log see realistic values (the cost does
 * not depend on the content: no branch does). Pushed 100 ms per call (the
 * core) or per buffer (the element), as a stream would arrive.
 */
#include "lstm.h"

#include <gst/gst.h>
#include <gst/app/gstappsrc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RATE 16000
#define CHUNK (RATE / 10)       /* samples per push or buffer: 100 ms */
#define REPS 5                  /* measurements per case, the fastest reported
                                 * (other jobs on a shared machine only ever
                                 * slow a run down) */

typedef struct
{
  const gchar *name;
  LstmFeaturesType type;
  guint num_mel_bins;
  const gchar *props;           /* the element's properties for the same */
} Case;

static const Case cases[] = {
  {"fbank 40", LSTM_FEATURES_FBANK, 40, "num-mel-bins=40"},
  {"mfcc 13", LSTM_FEATURES_MFCC, 23, "type=mfcc"},
};

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static void
make_signal (const gchar * path, guint seconds)
{
  gsize n = (gsize) seconds * RATE, i;
  gint16 *s = g_new (gint16, n);
  guint32 lcg = 12345;
  FILE *f;

  for (i = 0; i < n; i++) {
    double t = (double) i / RATE;
    double sweep = sin (2 * G_PI * (200 + 150 * sin (0.3 * t)) * t);
    double env = 0.5 + 0.5 * sin (2 * G_PI * 4 * t);
    double noise;
    lcg = lcg * 1664525u + 1013904223u;
    noise = ((double) (lcg >> 8) / (1 << 24)) - 0.5;
    s[i] = (gint16) lrint (8000 * env * sweep + 2000 * noise);
  }
  f = fopen (path, "wb");
  if (f == NULL || fwrite (s, sizeof (gint16), n, f) != n || fclose (f) != 0) {
    g_printerr ("cannot write %s\n", path);
    exit (1);
  }
  g_free (s);
}

static double
now (void)
{
  return g_get_monotonic_time () / 1e6;
}

/* The core fed CHUNK samples per call; returns seconds, sets frames. */
static double
run_core (const Case * c, const gint16 * s, gsize n, guint64 * frames)
{
  LstmFeaturesConfig cfg;
  g_autoptr (GError) error = NULL;
  g_autoptr (LstmFeatures) f = NULL;
  g_autofree float *out = NULL;
  gsize done;
  double t;

  lstm_features_config_init (&cfg);
  cfg.type = c->type;
  cfg.num_mel_bins = c->num_mel_bins;
  f = lstm_features_new (&cfg, RATE, &error);
  g_assert_no_error (error);
  out = g_new (float, (gsize) (CHUNK / 160 + 2) * 40);
  *frames = 0;
  t = now ();
  for (done = 0; done < n; done += CHUNK)
    *frames += lstm_features_push_interleaved (f, s + done, LSTM_SAMPLE_S16,
        1, -1, MIN (CHUNK, n - done), out);
  *frames += lstm_features_finish (f, out);
  return now () - t;
}

static void
count_frames (GstElement * sink, GstBuffer * buf, GstPad * pad, guint64 * bytes)
{
  *bytes += gst_buffer_get_size (buf);
}

/* appsrc ! lstmfeatures ! fakesink, CHUNK samples per buffer (wrapping
 * the signal, no copy); from PLAYING to EOS. */
static double
run_element (const Case * c, const gint16 * s, gsize n, guint64 * frames)
{
  g_autofree gchar *desc = g_strdup_printf ("appsrc name=src format=time "
      "block=true max-bytes=64000 caps=audio/x-raw,format=S16LE,"
      "layout=interleaved,channels=1,rate=%d ! lstmfeatures %s ! "
      "fakesink name=sink sync=false signal-handoffs=true", RATE, c->props);
  g_autoptr (GError) error = NULL;
  GstElement *p = gst_parse_launch (desc, &error);
  GstElement *src, *sink;
  GstBus *bus;
  GstMessage *msg;
  guint64 bytes = 0;
  gsize done;
  double t;

  g_assert_no_error (error);
  src = gst_bin_get_by_name (GST_BIN (p), "src");
  sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  g_signal_connect (sink, "handoff", G_CALLBACK (count_frames), &bytes);
  bus = gst_element_get_bus (p);
  t = now ();
  gst_element_set_state (p, GST_STATE_PLAYING);
  for (done = 0; done < n; done += CHUNK) {
    gsize k = MIN (CHUNK, n - done);
    GstBuffer *b = gst_buffer_new_wrapped_full (GST_MEMORY_FLAG_READONLY,
        (gpointer) (s + done), k * 2, 0, k * 2, NULL, NULL);
    GST_BUFFER_PTS (b) = gst_util_uint64_scale_int (done, GST_SECOND, RATE);
    GST_BUFFER_DURATION (b) = gst_util_uint64_scale_int (k, GST_SECOND, RATE);
    gst_app_src_push_buffer (GST_APP_SRC (src), b);
  }
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  t = now () - t;
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    g_printerr ("pipeline error\n");
    exit (1);
  }
  gst_message_unref (msg);
  gst_element_set_state (p, GST_STATE_NULL);
  *frames = bytes / 4 / (c->type == LSTM_FEATURES_MFCC ? 13 : 40);
  gst_object_unref (bus);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (p);
  return t;
}

int
main (int argc, char **argv)
{
  guint seconds = 3600, i, r;
  const gchar *make = NULL, *path = NULL;
  g_autofree gint16 *s = NULL;
  gsize size;
  gchar *contents;

  gst_init (&argc, &argv);
  for (i = 1; i < (guint) argc; i++) {
    if (g_str_equal (argv[i], "--make-signal") && i + 1 < (guint) argc)
      make = argv[++i];
    else if (g_str_equal (argv[i], "--seconds") && i + 1 < (guint) argc)
      seconds = atoi (argv[++i]);
    else
      path = argv[i];
  }
  if (make != NULL) {
    make_signal (make, seconds);
    return 0;
  }
  if (path == NULL || !g_file_get_contents (path, &contents, &size, NULL)) {
    g_printerr ("usage: bench-features --make-signal FILE [--seconds S] | "
        "bench-features FILE\n");
    return 2;
  }
  s = (gint16 *) contents;
  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    for (guint impl = 0; impl < 2; impl++) {
      double t[REPS];
      guint64 frames = 0;
      for (r = 0; r < REPS; r++)
        t[r] = impl == 0 ? run_core (&cases[i], s, size / 2, &frames) :
            run_element (&cases[i], s, size / 2, &frames);
      qsort (t, REPS, sizeof (double), cmp_double);
      printf ("result\t%s\t%s\t%.1f\t%" G_GUINT64_FORMAT "\t%.3f\t%.6f\n",
          impl == 0 ? "gst-lstm core" : "lstmfeatures element",
          cases[i].name, size / 2.0 / RATE, frames, t[0],
          t[0] / (size / 2.0 / RATE));
      fflush (stdout);
    }
  }
  return 0;
}
