/* Soak: many frames through one `lstm` element (GstHarness), with the
 * things a long-lived pipeline sees every so often, and its memory watched.
 *
 *   soak [--frames N] [--max-growth-kib K]
 *
 * Every 100 000 frames the reset signal, every 130 000 an `lstm-reset`
 * event, every 250 000 a flush, every 300 000 a caps change (rate 100 <->
 * 200, F32LE <-> S16LE), every 500 000 a model hot swap between two models
 * of different sizes (so the output caps change too), every 1 000 000 a
 * switch between vector and text output for 100 000 frames. Buffers hold
 * 1 to 200 frames; some are DISCONT, some have no PTS, some hold a NaN.
 *
 * Every output buffer is checked (whole frames, finite values). VmRSS and
 * VmHWM are sampled every 1% of the run; at the end the program prints the
 * figures at 10% and at 100% and fails when the peak grew by more than
 * --max-growth-kib (default 2048) between the two (not under ASan, whose
 * quarantine holds freed memory). Leaks: run it in the ASan build (LSan
 * checks at exit). Exit status 0 on success.
 */
#include "rel-util.h"

#include <gst/check/gstharness.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHANNELS 8
#define POOL_FRAMES 4096        /* distinct input frames, reused */

typedef struct
{
  GstHarness *h;
  gchar *models[2];
  guint model;                  /* index of the model set last */
  gboolean s16;
  gint rate;
  guint64 frames_out;
  guint64 text_lines;
  GstClockTime pts;
} Soak;

static GstCaps *
frame_caps (gboolean s16, gint rate)
{
  return gst_caps_new_simple ("audio/x-raw", "format", G_TYPE_STRING,
      s16 ? "S16LE" : "F32LE", "layout", G_TYPE_STRING, "interleaved",
      "channels", G_TYPE_INT, CHANNELS, "rate", G_TYPE_INT, rate, NULL);
}

/* One buffer of n frames from the pool, in the current format. */
static GstBuffer *
make_buffer (Soak * s, const float *pool, guint64 at, guint n)
{
  const float *x = pool + (gsize) (at % (POOL_FRAMES - 200)) * CHANNELS;
  GstBuffer *b;

  if (s->s16) {
    gint16 *v = g_new (gint16, (gsize) n * CHANNELS);
    guint i;
    for (i = 0; i < n * CHANNELS; i++)
      v[i] = isfinite (x[i]) ? (gint16) (x[i] * 32000) : 0;     /* S16 has no NaN */
    b = gst_buffer_new_wrapped (v, (gsize) n * CHANNELS * 2);
  } else {
    b = gst_buffer_new_memdup (x, (gsize) n * CHANNELS * 4);
  }
  if (at % 7 == 3) {
    GST_BUFFER_FLAG_SET (b, GST_BUFFER_FLAG_DISCONT);
  }
  if (at % 11 != 5) {
    GST_BUFFER_PTS (b) = s->pts;
  }
  s->pts += gst_util_uint64_scale_int (n, GST_SECOND, s->rate);
  return b;
}

/* Pulls and checks whatever came out. */
static void
drain (Soak * s)
{
  GstBuffer *b;
  GstEvent *e;

  while ((e = gst_harness_try_pull_event (s->h)) != NULL)
    gst_event_unref (e);
  while ((b = gst_harness_try_pull (s->h)) != NULL) {
    g_autoptr (GstCaps) caps = gst_pad_get_current_caps (s->h->sinkpad);
    gint channels = rel_caps_channels (caps);
    GstMapInfo map;

    gst_buffer_map (b, &map, GST_MAP_READ);
    if (channels == 0) {
      if (map.size == 0 || map.data[map.size - 1] != '\n')
        g_error ("a text buffer that is not a line");
      s->text_lines++;
    } else {
      s->frames_out += rel_check_vectors ((const float *) map.data,
          map.size, channels, "soak");
    }
    gst_buffer_unmap (b, &map);
    gst_buffer_unref (b);
  }
}

static void
flush (Soak * s)
{
  GstSegment seg;

  gst_harness_push_event (s->h, gst_event_new_flush_start ());
  gst_harness_push_event (s->h, gst_event_new_flush_stop (TRUE));
  gst_segment_init (&seg, GST_FORMAT_TIME);
  gst_harness_push_event (s->h, gst_event_new_segment (&seg));
  s->pts = 0;
}

static void
want_output (Soak * s, const gchar * caps)
{
  gst_harness_set_sink_caps_str (s->h, caps);
  gst_harness_push_upstream_event (s->h, gst_event_new_reconfigure ());
}

/* What happens before the buffer starting at frame `done`: every event
 * whose period boundary lies in (prev, done]. */
static void
perturb (Soak * s, guint64 prev, guint64 done)
{
#define CROSSED(period) (prev / (period) != done / (period))
  if (CROSSED (100000))
    g_signal_emit_by_name (s->h->element, "reset");
  if (CROSSED (130000))
    gst_harness_push_event (s->h,
        gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM,
            gst_structure_new_empty ("lstm-reset")));
  if (CROSSED (250000))
    flush (s);
  if (CROSSED (300000)) {
    s->rate = s->rate == 100 ? 200 : 100;
    s->s16 = !s->s16;
    gst_harness_set_src_caps (s->h, frame_caps (s->s16, s->rate));
  }
  if (CROSSED (500000)) {
    s->model = 1 - s->model;
    g_object_set (s->h->element, "model", s->models[s->model], NULL);
  }
  if (CROSSED (1000000))
    want_output (s, "text/x-raw");
  if (done % 1000000 >= 100000 && prev % 1000000 < 100000)
    want_output (s, "audio/x-raw");
#undef CROSSED
}

static void
run (Soak * s, guint64 total, guint64 * rss, guint64 * hwm)
{
  g_autofree float *pool = g_new (float, (gsize) POOL_FRAMES * CHANNELS);
  guint64 done = 0, k = 0;
  guint percent = 0;

  rel_fill_frames (pool, 0, POOL_FRAMES, CHANNELS, 1);
  /* one frame in 997 holds a NaN: skipped, the state kept */
  for (k = 0; k < POOL_FRAMES; k += 997)
    pool[k * CHANNELS + 2] = NAN;
  for (k = 0; done < total; k++) {
    guint n = MIN (1 + (k * 37) % 200, total - done);
    guint64 prev = done;
    gst_harness_push (s->h, make_buffer (s, pool, k, n));
    done += n;
    perturb (s, prev, done);
    drain (s);
    while (percent < 100 && done >= (percent + 1) * total / 100) {
      rel_memory (&rss[percent], &hwm[percent]);
      percent++;
    }
  }
}

int
main (int argc, char **argv)
{
  gint64 frames = 10000000, max_growth = 2048;
  GOptionEntry entries[] = {
    {"frames", 0, 0, G_OPTION_ARG_INT64, &frames, "Frames to push", "N"},
    {"max-growth-kib", 0, 0, G_OPTION_ARG_INT64, &max_growth,
        "Largest allowed growth of the peak RSS from 10% to 100%", "K"},
    {NULL}
  };
  g_autofree gchar *dir = g_dir_make_tmp ("lstm-soak-XXXXXX", NULL);
  guint64 rss[100] = { 0 }, hwm[100] = { 0 };
  GstElement *e;
  Soak s = { 0 };
  gint64 t0;
  double secs;
  gboolean flat;

  rel_parse_options (&argc, &argv, entries, "- lstm soak");
  if (frames < 100)
    g_error ("--frames must be >= 100");

  s.models[0] = rel_write_model (dir, "a.safetensors", CHANNELS, 32, 1, 4, 1);
  s.models[1] = rel_write_model (dir, "b.safetensors", CHANNELS, 24, 2, 3, 2);
  e = gst_element_factory_make ("lstm", NULL);
  if (e == NULL)
    g_error ("no lstm element (GST_PLUGIN_PATH?)");
  g_object_set (e, "model", s.models[0], NULL);
  s.h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  s.rate = 100;
  gst_harness_set_sink_caps_str (s.h, "audio/x-raw");
  gst_harness_set_src_caps (s.h, frame_caps (FALSE, s.rate));

  t0 = g_get_monotonic_time ();
  run (&s, frames, rss, hwm);
  secs = (g_get_monotonic_time () - t0) / 1e6;
  gst_harness_teardown (s.h);

  flat = hwm[99] <= hwm[9] + max_growth;
  g_print ("soak: %" G_GINT64_FORMAT " frames in %.1f s (%.0f frames/s); "
      "%" G_GUINT64_FORMAT " vector frames and %" G_GUINT64_FORMAT
      " text lines out\n", frames, secs, frames / secs, s.frames_out,
      s.text_lines);
  g_print ("soak: VmRSS at 10%% %" G_GUINT64_FORMAT " KiB, at 100%% %"
      G_GUINT64_FORMAT " KiB; peak (VmHWM) at 10%% %" G_GUINT64_FORMAT
      " KiB, at 100%% %" G_GUINT64_FORMAT " KiB: grew %" G_GINT64_FORMAT
      " KiB (allowed %" G_GINT64_FORMAT ")%s\n", rss[9], rss[99], hwm[9],
      hwm[99], (gint64) (hwm[99] - hwm[9]), max_growth,
      rel_under_asan ()? " [ASan build: RSS not checked]" : "");

  g_unlink (s.models[0]);
  g_unlink (s.models[1]);
  g_rmdir (dir);
  g_free (s.models[0]);
  g_free (s.models[1]);
  if (!flat && !rel_under_asan ()) {
    g_printerr ("soak: FAIL: peak RSS grew by more than %" G_GINT64_FORMAT
        " KiB\n", max_growth);
    return 1;
  }
  return 0;
}
