/* The lstmfeatures element, driven with GstHarness and in pipelines. */
#include "test-features-ref.h"

#include "gstlstmfeatures.h"

#include <gst/gst.h>
#include <gst/check/gstharness.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

/* ------------------------------------------------------------- helpers */

/* Sets the properties named like torchaudio's options (underscores as
 * dashes), from a JSON object of options. */
static void
set_options (GstElement * e, JsonObject * options)
{
  g_autoptr (GList) members = json_object_get_members (options);
  GList *l;

  for (l = members; l != NULL; l = l->next) {
    JsonNode *v = json_object_get_member (options, l->data);
    g_autofree gchar *prop = g_strdelimit (g_strdup (l->data), "_", '-');
    g_autofree gchar *val = NULL;
    GType t = json_node_get_value_type (v);

    if (t == G_TYPE_BOOLEAN)
      val = g_strdup (json_node_get_boolean (v) ? "true" : "false");
    else if (t == G_TYPE_STRING)
      val = g_strdup (json_node_get_string (v));
    else if (t == G_TYPE_INT64)
      val = g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (v));
    else
      val = g_strdup_printf ("%.17g", json_node_get_double (v));
    g_assert_nonnull (g_object_class_find_property (G_OBJECT_GET_CLASS (e),
            prop));
    gst_util_set_object_arg (G_OBJECT (e), prop, val);
  }
}

/* A harness around `e` (its reference is taken over), fed `caps`. */
static GstHarness *
harness_for (GstElement * e, const gchar * caps)
{
  GstHarness *h = gst_harness_new_with_element (e, "sink", "src");

  gst_object_unref (e);
  if (caps != NULL)
    gst_harness_set_src_caps_str (h, caps);
  return h;
}

/* props: "name=value name=value" */
static GstHarness *
new_harness (const gchar * props, const gchar * caps)
{
  GstElement *e = gst_element_factory_make ("lstmfeatures", NULL);

  g_assert_nonnull (e);
  if (props != NULL) {
    g_auto (GStrv) kv = g_strsplit (props, " ", -1);
    for (guint i = 0; kv[i] != NULL; i++) {
      g_auto (GStrv) p = g_strsplit (kv[i], "=", 2);
      gst_util_set_object_arg (G_OBJECT (e), p[0], p[1]);
    }
  }
  return harness_for (e, caps);
}

static gchar *
s16_caps (guint rate, guint channels)
{
  return g_strdup_printf ("audio/x-raw,format=S16LE,layout=interleaved,"
      "channels=%u,rate=%u", channels, rate);
}

/* A buffer of n samples (of `bps` bytes, all channels) at sample `first`. */
static GstBuffer *
samples_buffer (gconstpointer data, gsize first, gsize n, gsize bps, guint rate)
{
  GstBuffer *b = n > 0 ? gst_buffer_new_memdup ((const guint8 *) data +
      first * bps, n * bps) : gst_buffer_new ();
  GST_BUFFER_PTS (b) = gst_util_uint64_scale_int (first, GST_SECOND, rate);
  GST_BUFFER_DURATION (b) = gst_util_uint64_scale_int (first + n, GST_SECOND,
      rate) - GST_BUFFER_PTS (b);
  return b;
}

/* What the output of one framing must look like. */
typedef struct
{
  guint frame_size;
  guint shift;                  /* samples */
  guint rate;                   /* input Hz */
  GstClockTime t0;              /* time of the framing's first sample */
  guint64 next;                 /* the next frame's index */
} Framing;

/* Pulls every buffer the harness holds and appends its frames to `out`,
 * checking that the buffers are whole frames stamped t0 + i * shift,
 * lasting their frames, with offsets counting frames. */
static void
collect_some (GstHarness * h, Framing * fr, GArray * out, guint max_buffers)
{
  GstBuffer *b;

  while (max_buffers-- > 0 && (b = gst_harness_try_pull (h)) != NULL) {
    gsize size = gst_buffer_get_size (b);
    guint64 n = size / (fr->frame_size * 4);
    GstClockTime pts = fr->t0 + gst_util_uint64_scale_round (fr->next *
        fr->shift, GST_SECOND, fr->rate);
    GstClockTime end = fr->t0 + gst_util_uint64_scale_round ((fr->next + n)
        * fr->shift, GST_SECOND, fr->rate);
    GstMapInfo map;

    g_assert_cmpuint (size, ==, n * fr->frame_size * 4);
    g_assert_cmpuint (n, >, 0);
    g_assert_cmpuint (GST_BUFFER_OFFSET (b), ==, fr->next);
    g_assert_cmpuint (GST_BUFFER_OFFSET_END (b), ==, fr->next + n);
    g_assert_cmpuint (GST_BUFFER_PTS (b), ==, pts);
    g_assert_cmpuint (GST_BUFFER_DURATION (b), ==, end - pts);
    gst_buffer_map (b, &map, GST_MAP_READ);
    g_array_append_vals (out, map.data, size / 4);
    gst_buffer_unmap (b, &map);
    gst_buffer_unref (b);
    fr->next += n;
  }
}

static void
collect (GstHarness * h, Framing * fr, GArray * out)
{
  collect_some (h, fr, out, G_MAXUINT);
}

/* The core's frames for the whole signal: what the element must equal. */
static GArray *
core_frames (const LstmFeaturesConfig * cfg, guint rate, gconstpointer s,
    LstmSampleFormat format, guint channels, gint channel, gsize n,
    gboolean finish)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LstmFeatures) f = lstm_features_new (cfg, rate, &error);
  GArray *out = g_array_new (FALSE, FALSE, sizeof (float));
  guint fs;
  guint64 k;

  g_assert_no_error (error);
  fs = lstm_features_get_frame_size (f);
  g_array_set_size (out, (lstm_features_frames_after (f, n) +
          (finish ? n / lstm_features_get_frame_shift (f) + 1 : 0)) * fs);
  k = lstm_features_push_interleaved (f, s, format, channels, channel, n,
      (float *) out->data);
  if (finish)
    k += lstm_features_finish (f, (float *) out->data + k * fs);
  g_array_set_size (out, k * fs);
  return out;
}

static void
framing_for (Framing * fr, const LstmFeaturesConfig * cfg, guint rate,
    GstClockTime t0)
{
  g_autoptr (LstmFeatures) f = lstm_features_new (cfg, rate, NULL);

  g_assert_nonnull (f);
  fr->frame_size = lstm_features_get_frame_size (f);
  fr->shift = lstm_features_get_frame_shift (f);
  fr->rate = rate;
  fr->t0 = t0;
  fr->next = 0;
}

static gchar *
expect_message (GstBus * bus, GstMessageType type)
{
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 5 * GST_SECOND, type);
  g_autoptr (GError) err = NULL;
  gchar *dbg = NULL, *text;

  g_assert_nonnull (msg);
  if (type == GST_MESSAGE_ERROR)
    gst_message_parse_error (msg, &err, &dbg);
  else
    gst_message_parse_warning (msg, &err, &dbg);
  text = g_strdup_printf ("%s | %s", err->message, dbg);
  g_test_message ("%s: %s", type == GST_MESSAGE_ERROR ? "error" : "warning",
      text);
  gst_message_unref (msg);
  g_free (dbg);
  return text;
}

/* ------------------------------------------------------ torchaudio cases */

/* Every reference case through the element, in random buffers (some
 * empty): torchaudio's features to the stated tolerance, bit-identical to
 * the core on the whole file, and stamped frame by frame. */
static void
test_reference (gconstpointer data)
{
  g_autoptr (FeatRef) r = feat_ref_load (data);
  g_autofree gchar *caps = s16_caps (r->rate, 1);
  GstElement *e = gst_element_factory_make ("lstmfeatures", NULL);
  GstHarness *h;
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr (GArray) core = NULL;
  LstmFeaturesConfig cfg;
  Framing fr;
  gsize done = 0;
  gboolean relative;
  double err;

  g_object_set (e, "type", r->type, NULL);
  set_options (e, r->options);
  h = harness_for (e, caps);
  feat_ref_config (r, &cfg);
  framing_for (&fr, &cfg, r->rate, 0);
  while (done < r->n_samples) {
    gsize n = g_test_rand_int_range (1, 3000);
    if (g_test_rand_int_range (0, 5) == 0)
      n = 0;
    n = MIN (n, r->n_samples - done);
    g_assert_cmpint (gst_harness_push (h, samples_buffer (r->audio, done, n,
                2, r->rate)), ==, GST_FLOW_OK);
    collect (h, &fr, out);
    done += n;
  }
  g_assert_true (gst_harness_push_event (h, gst_event_new_eos ()));
  collect (h, &fr, out);

  g_assert_cmpuint (out->len, ==, (gsize) r->frames * r->dims);
  core = core_frames (&cfg, r->rate, r->audio, LSTM_SAMPLE_S16, 1, -1,
      r->n_samples, TRUE);
  g_assert_cmpmem (out->data, out->len * 4, core->data, core->len * 4);
  err = feat_ref_error (r, (float *) out->data, &relative);
  g_test_message ("%s through the element: max %s error vs torchaudio %.3g "
      "(tolerance %g)", r->name, relative ? "relative" : "absolute", err,
      feat_ref_tolerance (relative));
  g_assert_cmpfloat (err, <=, feat_ref_tolerance (relative));
  gst_harness_teardown (h);
}

/* F32LE input (x / 32768) gives the frames of S16LE, and the src caps
 * describe them: 23 values at 100 frames per second. */
static void
test_f32_input (void)
{
  g_autoptr (FeatRef) r = feat_ref_load ("fbank-speech16k");
  GstHarness *h = new_harness (NULL, "audio/x-raw,format=F32LE,"
      "layout=interleaved,channels=1,rate=16000");
  g_autofree float *x = g_new (float, r->n_samples);
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (float));
  LstmFeaturesConfig cfg;
  Framing fr;
  GstCaps *caps;
  GstStructure *s;
  gint channels, rate;
  guint64 mask;

  for (gsize i = 0; i < r->n_samples; i++)
    x[i] = r->audio[i] / 32768.0f;
  feat_ref_config (r, &cfg);
  framing_for (&fr, &cfg, 16000, 0);
  gst_harness_push (h, samples_buffer (x, 0, r->n_samples, 4, 16000));
  gst_harness_push_event (h, gst_event_new_eos ());
  collect (h, &fr, out);
  g_assert_cmpuint (out->len, ==, (gsize) r->frames * r->dims);
  g_assert_cmpfloat (max_abs_error ((float *) out->data, r->expect, out->len),
      <=, FEAT_ABS_TOL);

  caps = gst_pad_get_current_caps (h->sinkpad);
  s = gst_caps_get_structure (caps, 0);
  g_assert_cmpstr (gst_structure_get_string (s, "format"), ==, "F32LE");
  g_assert_true (gst_structure_get_int (s, "channels", &channels));
  g_assert_true (gst_structure_get_int (s, "rate", &rate));
  g_assert_true (gst_structure_get (s, "channel-mask", GST_TYPE_BITMASK,
          &mask, NULL));
  g_assert_cmpint (channels, ==, 23);
  g_assert_cmpint (rate, ==, 100);
  g_assert_cmpuint (mask, ==, 0);
  gst_caps_unref (caps);
  gst_harness_teardown (h);
}

/* The src caps rate is round (1000 / frame-shift), at least 1 (caps
 * cannot say 0.33 frames per second). */
static void
test_caps_rate (void)
{
  static const struct
  {
    const gchar *props;
    gint rate;
  } cases[] = {
    {"frame-shift=15", 67}, {"frame-shift=3000", 1}, {NULL, 100},
  };
  g_autofree gchar *in_caps = s16_caps (16000, 1);
  g_autofree gint16 *s = g_new0 (gint16, 16000);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    GstHarness *h = new_harness (cases[i].props, in_caps);
    GstCaps *caps;
    gint rate;

    gst_harness_push (h, samples_buffer (s, 0, 16000, 2, 16000));
    caps = gst_pad_get_current_caps (h->sinkpad);
    g_assert_true (gst_structure_get_int (gst_caps_get_structure (caps, 0),
            "rate", &rate));
    g_assert_cmpint (rate, ==, cases[i].rate);
    gst_caps_unref (caps);
    gst_harness_teardown (h);
  }
}

/* ------------------------------------------------------------- pipeline */

static void
on_handoff (GstElement * sink, GstBuffer * buf, GstPad * pad, GArray * out)
{
  GstMapInfo map;
  gst_buffer_map (buf, &map, GST_MAP_READ);
  g_array_append_vals (out, map.data, map.size / 4);
  gst_buffer_unmap (buf, &map);
}

/* Runs a pipeline to EOS; fails on an error. */
static void
run_to_eos (GstElement * p)
{
  GstBus *bus = gst_element_get_bus (p);
  GstMessage *msg;

  g_assert_cmpint (gst_element_set_state (p, GST_STATE_PLAYING), !=,
      GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  g_assert_nonnull (msg);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    g_autoptr (GError) err = NULL;
    g_autofree gchar *dbg = NULL;
    gst_message_parse_error (msg, &err, &dbg);
    g_error ("pipeline error: %s (%s)", err->message, dbg);
  }
  gst_message_unref (msg);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (bus);
}

/* filesrc ! wavparse ! lstmfeatures ! lstm equals the core's features run
 * through lstm_forward in one call: the features bit for bit (same code),
 * the network to a relative 1e-5 (the element feeds it buffer by buffer;
 * chunked and whole forward passes differ by rounding only). */
static void
test_pipeline_lstm (void)
{
  g_autoptr (FeatRef) r = feat_ref_load ("fbank40-speech16k-nosnip");
  g_autofree gchar *wav = feat_ref_path ("speech16k.wav");
  g_autofree gchar *model_path = g_build_filename (g_get_tmp_dir (),
      "lstm-features-pipeline.safetensors", NULL);
  g_autoptr (LstmModel) m = lstm_model_new (40, 32, 2, 5,
      LSTM_OUTPUT_SOFTMAX, NULL);
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr (GArray) feats = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (LstmState) state = NULL;
  g_autofree gchar *desc = NULL;
  g_autofree float *want = NULL;
  LstmFeaturesConfig cfg;
  GstElement *p, *sink;
  double err;

  lstm_model_init_random (m, 4);
  g_assert_true (lstm_model_save (m, model_path, &error));
  desc = g_strdup_printf ("filesrc location=%s ! wavparse ! lstmfeatures "
      "num-mel-bins=40 snip-edges=false ! lstm model=%s ! "
      "fakesink name=sink signal-handoffs=true sync=false", wav, model_path);
  p = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  g_signal_connect (sink, "handoff", G_CALLBACK (on_handoff), out);
  run_to_eos (p);
  gst_object_unref (sink);
  gst_object_unref (p);

  feat_ref_config (r, &cfg);
  feats = core_frames (&cfg, r->rate, r->audio, LSTM_SAMPLE_S16, 1, -1,
      r->n_samples, TRUE);
  g_assert_cmpuint (feats->len, ==, r->frames * 40);
  state = lstm_state_new (m, 0);
  want = g_new (float, r->frames * 5);
  lstm_forward (m, state, (float *) feats->data, r->frames, want);
  g_assert_cmpuint (out->len, ==, r->frames * 5);
  err = rel_error ((float *) out->data, want, out->len);
  g_test_message ("lstmfeatures ! lstm vs core features + lstm_forward: "
      "max relative error %.3g (tolerance 1e-5)", err);
  g_assert_cmpfloat (err, <=, 1e-5);
  g_unlink (model_path);
}

/* The launch lines of the element's documentation run (their files made
 * here; fdsink replaced by fakesink to keep the TAP output clean). */
static void
test_doc_launch_lines (void)
{
  g_autofree gchar *src = ref_path ("../../../plugin/gstlstmfeatures.c");
  g_autofree gchar *text = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("lstmfeatures-XXXXXX", NULL);
  g_autofree gchar *wav = feat_ref_path ("speech16k.wav");
  g_autofree gchar *cwd = g_get_current_dir ();
  g_autoptr (LstmModel) m = lstm_model_new (40, 16, 1, 3,
      LSTM_OUTPUT_SOFTMAX, NULL);
  g_auto (GStrv) lines = NULL;
  g_autofree gchar *wav_copy = NULL, *model = NULL;
  guint i, ran = 0;

  g_assert_true (g_file_get_contents (src, &text, NULL, NULL));
  wav_copy = g_build_filename (dir, "speech.wav", NULL);
  model = g_build_filename (dir, "model.safetensors", NULL);
  {
    g_autofree gchar *data = NULL;
    gsize len;
    g_assert_true (g_file_get_contents (wav, &data, &len, NULL));
    g_assert_true (g_file_set_contents (wav_copy, data, len, NULL));
  }
  lstm_model_init_random (m, 1);
  g_assert_true (lstm_model_save (m, model, NULL));
  g_assert_cmpint (g_chdir (dir), ==, 0);

  lines = g_strsplit (text, "\n", -1);
  for (i = 0; lines[i] != NULL; i++) {
    const gchar *prefix = " * gst-launch-1.0 -q ";
    g_autoptr (GError) error = NULL;
    g_autofree gchar *desc = NULL;
    GstElement *p;
    gchar *fd;

    if (!g_str_has_prefix (lines[i], prefix))
      continue;
    desc = g_strdup (lines[i] + strlen (prefix));
    fd = strstr (desc, "fdsink fd=1");
    if (fd != NULL)
      memcpy (fd, "fakesink   ", 11);
    g_test_message ("doc line: %s", desc);
    p = gst_parse_launch (desc, &error);
    g_assert_no_error (error);
    run_to_eos (p);
    gst_object_unref (p);
    ran++;
  }
  g_assert_cmpint (g_chdir (cwd), ==, 0);
  g_assert_cmpuint (ran, >=, 2);
  g_unlink (wav_copy);
  g_unlink (model);
  g_rmdir (dir);
}

/* ------------------------------------------------------- stream changes */

typedef enum
{ CHANGE_RATE, CHANGE_DISCONT, CHANGE_FLUSH, CHANGE_JUMP, CHANGE_GAP }
ChangeKind;

/* Half a second of speech, then a stream change, then half a second more
 * (at 8 kHz for a rate change). Without snip-edges, so the tail frames
 * show: a rate change and a DISCONT flush the first half's tail (Kaldi's
 * reflected end frames) and start a fresh framing stamped from the next
 * buffer; so do a PTS that jumps to 10 s without DISCONT and a GAP event
 * up to 10 s; a flush drops the tail. With the jump, every other buffer
 * of the first half is 30 ms late, under the 40 ms tolerance: no
 * restart. */
static void
test_stream_change (gconstpointer data)
{
  ChangeKind kind = GPOINTER_TO_INT (data);
  g_autoptr (FeatRef) a = feat_ref_load ("fbank-speech16k");
  g_autoptr (FeatRef) b = feat_ref_load (kind == CHANGE_RATE ?
      "fbank-speech8k" : "fbank-speech16k");
  g_autofree gchar *caps_a = s16_caps (16000, 1);
  g_autofree gchar *caps_b = s16_caps (b->rate, 1);
  GstHarness *h = new_harness ("snip-edges=false", caps_a);
  g_autoptr (GArray) first = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr (GArray) second = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr (GArray) want_a = NULL;
  g_autoptr (GArray) want_b = NULL;
  GstClockTime half = GST_SECOND / 2;
  GstClockTime t_b = kind == CHANGE_FLUSH ? 0 : kind == CHANGE_JUMP
      || kind == CHANGE_GAP ? 10 * GST_SECOND : half;
  LstmFeaturesConfig cfg;
  Framing fa, fb;
  gsize na = 8000, nb = b->rate / 2, done;
  GstBuffer *buf;

  lstm_features_config_init (&cfg);
  cfg.snip_edges = FALSE;
  framing_for (&fa, &cfg, 16000, 0);
  framing_for (&fb, &cfg, b->rate, t_b);
  for (done = 0; done < na; done += 1000) {
    buf = samples_buffer (a->audio, done, 1000, 2, 16000);
    if (kind == CHANGE_JUMP && done % 2000 == 1000)
      GST_BUFFER_PTS (buf) += 30 * GST_MSECOND;
    gst_harness_push (h, buf);
    collect (h, &fa, first);
  }
  switch (kind) {
    case CHANGE_RATE:
      gst_harness_set_src_caps_str (h, caps_b);
      break;
    case CHANGE_GAP:
      g_assert_true (gst_harness_push_event (h, gst_event_new_gap (half,
                  t_b - half)));
      break;
    case CHANGE_FLUSH:{
      GstSegment seg;
      g_assert_true (gst_harness_push_event (h, gst_event_new_flush_start ()));
      g_assert_true (gst_harness_push_event (h,
              gst_event_new_flush_stop (TRUE)));
      gst_segment_init (&seg, GST_FORMAT_TIME);
      g_assert_true (gst_harness_push_event (h, gst_event_new_segment (&seg)));
      break;
    }
    default:
      break;
  }
  collect (h, &fa, first);
  for (done = 0; done < nb; done += 700) {
    gsize n = MIN (700, nb - done);
    buf = samples_buffer (b->audio + nb, done, n, 2, b->rate);
    GST_BUFFER_PTS (buf) += t_b;
    if (done == 0 && kind == CHANGE_DISCONT)
      GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
    g_assert_cmpint (gst_harness_push (h, buf), ==, GST_FLOW_OK);
    if (done == 0 && (kind == CHANGE_DISCONT || kind == CHANGE_JUMP))
      collect_some (h, &fa, first, 1);  /* the tail, drained first */
    collect (h, &fb, second);
  }
  gst_harness_push_event (h, gst_event_new_eos ());
  collect (h, &fb, second);

  want_a = core_frames (&cfg, 16000, a->audio, LSTM_SAMPLE_S16, 1, -1, na,
      kind != CHANGE_FLUSH);
  want_b = core_frames (&cfg, b->rate, b->audio + nb, LSTM_SAMPLE_S16, 1, -1,
      nb, TRUE);
  g_assert_cmpuint (first->len, ==, want_a->len);
  g_assert_cmpmem (first->data, first->len * 4, want_a->data, want_a->len * 4);
  g_assert_cmpuint (second->len, ==, want_b->len);
  g_assert_cmpmem (second->data, second->len * 4, want_b->data,
      want_b->len * 4);
  /* 8000 samples without snip-edges: round (8000 / 160) = 50 frames, of
   * which 49 ((8000 - 280) / 160 + 1) are complete before the end */
  g_assert_cmpuint (first->len / 23, ==, kind == CHANGE_FLUSH ? 49 : 50);
  gst_harness_teardown (h);
}

/* Caps that change neither the rate, the format nor the channel count
 * (here a channel-mask added) do not restart the framing: the frames are
 * those of the whole signal, stamped on. */
static void
test_caps_same_stream (void)
{
  g_autoptr (FeatRef) r = feat_ref_load ("fbank-speech16k");
  g_autofree gchar *caps = s16_caps (16000, 1);
  g_autofree gchar *caps_mask = g_strdup_printf ("%s,channel-mask="
      "(bitmask)0x4", caps);
  GstHarness *h = new_harness (NULL, caps);
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr (GArray) want = NULL;
  LstmFeaturesConfig cfg;
  Framing fr;

  lstm_features_config_init (&cfg);
  framing_for (&fr, &cfg, 16000, 0);
  gst_harness_push (h, samples_buffer (r->audio, 0, 4000, 2, 16000));
  gst_harness_set_src_caps_str (h, caps_mask);
  gst_harness_push (h, samples_buffer (r->audio, 4000, 4000, 2, 16000));
  gst_harness_push_event (h, gst_event_new_eos ());
  collect (h, &fr, out);
  want = core_frames (&cfg, 16000, r->audio, LSTM_SAMPLE_S16, 1, -1, 8000,
      TRUE);
  /* (8000 - 400) / 160 + 1 = 48 frames; 47 if the framing restarted */
  g_assert_cmpuint (out->len, ==, 48 * 23);
  g_assert_cmpmem (out->data, out->len * 4, want->data, want->len * 4);
  gst_harness_teardown (h);
}

/* ---------------------------------------------------------------- cmn */

/* lstm_cmn over a whole stream of frames (tested against torchaudio in
 * test-cmn.c): what the element's cmn-window must give. */
static GArray *
core_cmn (GArray * frames, guint fs, guint window)
{
  g_autoptr (LstmCmn) cmn = lstm_cmn_new (fs, window, LSTM_CMN_MIN_WINDOW);
  GArray *out = g_array_new (FALSE, FALSE, sizeof (float));
  guint64 n = frames->len / fs, k;

  g_array_set_size (out, frames->len);
  k = lstm_cmn_push (cmn, (float *) frames->data, n, (float *) out->data);
  k += lstm_cmn_finish (cmn, (float *) out->data + k * fs);
  g_assert_cmpuint (k, ==, n);
  return out;
}

/* cmn-window=30 on 3 s of speech in 1000-sample buffers, then a DISCONT
 * and 0.5 s more (48 frames): the frames equal the core's extractor then lstm_cmn on
 * each stretch, stamped frame by frame although the first 100 of a
 * stretch come late, and the second stretch (fewer than 100 frames)
 * comes out whole at EOS with its own mean. */
static void
test_cmn (void)
{
  g_autoptr (FeatRef) r = feat_ref_load ("fbank-speech16k");
  g_autofree gchar *caps = s16_caps (16000, 1);
  GstHarness *h = new_harness ("cmn-window=30", caps);
  g_autofree gint16 *a = g_new (gint16, 3 * r->n_samples);
  g_autoptr (GArray) first = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr (GArray) second = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr (GArray) fa_core = NULL, fb_core = NULL, want_a = NULL;
  g_autoptr (GArray) want_b = NULL;
  gsize na = 3 * r->n_samples, nb = 8000, done, i;
  GstClockTime t_b = 10 * GST_SECOND;
  LstmFeaturesConfig cfg;
  Framing fa, fb;

  for (i = 0; i < 3; i++)
    memcpy (a + i * r->n_samples, r->audio, r->n_samples * 2);
  lstm_features_config_init (&cfg);
  framing_for (&fa, &cfg, 16000, 0);
  framing_for (&fb, &cfg, 16000, t_b);
  for (done = 0; done < na; done += 1000) {
    gst_harness_push (h, samples_buffer (a, done, MIN (1000, na - done), 2,
            16000));
    collect (h, &fa, first);
    /* nothing before 100 frames (16000 + 240 samples), all after */
    g_assert_cmpuint (fa.next, ==, done + 1000 < 16240 ? 0 :
        (MIN (done + 1000, na) - 240) / 160);
  }
  for (done = 0; done < nb; done += 1000) {
    GstBuffer *buf = samples_buffer (r->audio, done, 1000, 2, 16000);
    GST_BUFFER_PTS (buf) += t_b;
    if (done == 0)
      GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
    g_assert_cmpint (gst_harness_push (h, buf), ==, GST_FLOW_OK);
    collect (h, done == 0 ? &fa : &fb, done == 0 ? first : second);
  }
  g_assert_cmpuint (second->len, ==, 0);
  gst_harness_push_event (h, gst_event_new_eos ());
  collect (h, &fb, second);

  fa_core = core_frames (&cfg, 16000, a, LSTM_SAMPLE_S16, 1, -1, na, TRUE);
  fb_core = core_frames (&cfg, 16000, r->audio, LSTM_SAMPLE_S16, 1, -1, nb,
      TRUE);
  want_a = core_cmn (fa_core, 23, 30);
  want_b = core_cmn (fb_core, 23, 30);
  g_assert_cmpuint (first->len, ==, want_a->len);
  g_assert_cmpmem (first->data, first->len * 4, want_a->data, want_a->len * 4);
  g_assert_cmpuint (second->len / 23, ==, (8000 - 400) / 160 + 1);
  g_assert_cmpmem (second->data, second->len * 4, want_b->data,
      want_b->len * 4);
  gst_harness_teardown (h);
}

/* -------------------------------------------------------- bad input */

/* Errors from lstmfeatures until the sink has prerolled on the EOS that
 * follows a failed negotiation (upstream offers the refused caps again
 * with it) or 5 s have passed. */
static guint
count_errors_until_preroll (GstElement * p, GstBus * bus)
{
  GstElement *sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  GstMessage *msg;
  guint errors = 0;

  while ((msg = gst_bus_timed_pop_filtered (bus, 5 * GST_SECOND,
              GST_MESSAGE_ERROR | GST_MESSAGE_STATE_CHANGED)) != NULL) {
    gboolean done = FALSE;
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      if (g_str_has_prefix (GST_MESSAGE_SRC_NAME (msg), "lstmfeatures"))
        errors++;
    } else if (GST_MESSAGE_SRC (msg) == GST_OBJECT (sink)) {
      GstState old, new;
      gst_message_parse_state_changed (msg, &old, &new, NULL);
      done = new == GST_STATE_PAUSED;
    }
    gst_message_unref (msg);
    if (done)
      break;
  }
  gst_object_unref (sink);
  return errors;
}

/* A rate too low for the mel range fails negotiation with an error that
 * names the rate and the frequencies; so does a missing channel. The
 * error is posted once, although upstream offers the caps several times
 * (9 errors before). Options that are wrong at any rate (num-ceps above
 * num-mel-bins, high-freq not above low-freq) fail the state change to
 * PAUSED, with one error, before any audio flows. */
static void
test_negotiation_errors (void)
{
  static const struct
  {
    const gchar *pipeline;
    gboolean at_start;
    const gchar *words[4];
  } cases[] = {
    {"audiotestsrc num-buffers=2 ! audio/x-raw,rate=8000 ! lstmfeatures "
          "high-freq=7600 ! fakesink name=sink", FALSE,
        {"8000 Hz", "7600 Hz", "Nyquist frequency 4000 Hz"}},
    {"audiotestsrc num-buffers=2 ! audio/x-raw,rate=4000 ! lstmfeatures "
          "num-mel-bins=80 ! fakesink name=sink", FALSE, {"gets no FFT bin",
            "4000 Hz", "80 mel bins"}},
    {"audiotestsrc num-buffers=2 ! audio/x-raw,rate=16000,channels=2 ! "
          "lstmfeatures channel=2 ! fakesink name=sink", FALSE,
        {"Channel 2", "2-channel"}},
    {"audiotestsrc num-buffers=2 ! audio/x-raw,rate=16000 ! lstmfeatures "
          "type=mfcc num-ceps=30 ! fakesink name=sink", TRUE,
        {"num-ceps 30", "num-mel-bins (23)"}},
    {"audiotestsrc num-buffers=2 ! audio/x-raw,rate=16000 ! lstmfeatures "
          "low-freq=5000 high-freq=3000 ! fakesink name=sink", TRUE,
        {"high-freq 3000 Hz", "low-freq 5000 Hz"}},
  };
  guint i, j;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    GstElement *p = gst_parse_launch (cases[i].pipeline, &error);
    GstBus *bus = gst_element_get_bus (p);
    g_autofree gchar *text = NULL;
    GstStateChangeReturn ret;

    g_assert_no_error (error);
    ret = gst_element_set_state (p, GST_STATE_PLAYING);
    if (cases[i].at_start)
      g_assert_cmpint (ret, ==, GST_STATE_CHANGE_FAILURE);
    text = expect_message (bus, GST_MESSAGE_ERROR);
    for (j = 0; j < G_N_ELEMENTS (cases[i].words) && cases[i].words[j]; j++)
      if (strstr (text, cases[i].words[j]) == NULL)
        g_error ("\"%s\" not in \"%s\"", cases[i].words[j], text);
    if (!cases[i].at_start)
      g_assert_cmpuint (count_errors_until_preroll (p, bus), ==, 0);
    else
      g_assert_null (gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR));
    gst_element_set_state (p, GST_STATE_NULL);
    gst_object_unref (bus);
    gst_object_unref (p);
  }
}

/* Empty buffers change nothing; a buffer that is not whole samples is a
 * stream error that says so. */
static void
test_bad_buffers (void)
{
  g_autofree gchar *caps = s16_caps (16000, 2);
  GstHarness *h = new_harness (NULL, caps);
  GstBus *bus = gst_bus_new ();
  g_autofree gchar *text = NULL;

  gst_element_set_bus (h->element, bus);
  g_assert_cmpint (gst_harness_push (h, gst_buffer_new ()), ==, GST_FLOW_OK);
  g_assert_null (gst_harness_try_pull (h));
  g_assert_cmpint (gst_harness_push (h, gst_buffer_new_allocate (NULL, 6,
              NULL)), ==, GST_FLOW_ERROR);
  text = expect_message (bus, GST_MESSAGE_ERROR);
  g_assert_nonnull (strstr (text, "6 bytes is not a multiple of the 4-byte"));
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

/* An empty buffer is ignored, time and flags included: one with PTS 7 s
 * before audio that starts at 0 does not make that audio's frames 7 s
 * late, and an empty DISCONT buffer between two halves neither restarts
 * the framing nor marks the next output DISCONT. */
static void
test_empty_buffers (void)
{
  g_autofree gchar *caps = s16_caps (16000, 1);
  GstHarness *h = new_harness (NULL, caps);
  g_autofree gint16 *s = g_new (gint16, 16000);
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr (GArray) want = NULL;
  LstmFeaturesConfig cfg;
  GstBuffer *b;
  Framing fr;
  guint outputs = 0;

  for (guint i = 0; i < 16000; i++)
    s[i] = (gint16) (8000 * sin (i * 0.1));
  lstm_features_config_init (&cfg);
  framing_for (&fr, &cfg, 16000, 0);
  b = gst_buffer_new ();
  GST_BUFFER_PTS (b) = 7 * GST_SECOND;
  GST_BUFFER_FLAG_SET (b, GST_BUFFER_FLAG_DISCONT);
  g_assert_cmpint (gst_harness_push (h, b), ==, GST_FLOW_OK);
  g_assert_cmpint (gst_harness_push (h, samples_buffer (s, 0, 8000, 2,
              16000)), ==, GST_FLOW_OK);
  b = samples_buffer (s, 8000, 0, 2, 16000);
  GST_BUFFER_FLAG_SET (b, GST_BUFFER_FLAG_DISCONT);
  g_assert_cmpint (gst_harness_push (h, b), ==, GST_FLOW_OK);
  g_assert_cmpint (gst_harness_push (h, samples_buffer (s, 8000, 8000, 2,
              16000)), ==, GST_FLOW_OK);
  gst_harness_push_event (h, gst_event_new_eos ());
  while ((b = gst_harness_try_pull (h)) != NULL) {
    GstMapInfo map;
    /* stamped from 0, frame by frame (160 samples: 10 ms) */
    g_assert_cmpint (GST_BUFFER_IS_DISCONT (b), ==, outputs == 0);
    g_assert_cmpuint (GST_BUFFER_OFFSET (b), ==, fr.next);
    g_assert_cmpuint (GST_BUFFER_PTS (b), ==, fr.next * 10 * GST_MSECOND);
    gst_buffer_map (b, &map, GST_MAP_READ);
    g_array_append_vals (out, map.data, map.size / 4);
    fr.next += map.size / 4 / fr.frame_size;
    gst_buffer_unmap (b, &map);
    gst_buffer_unref (b);
    outputs++;
  }
  g_assert_cmpuint (outputs, ==, 2);
  want = core_frames (&cfg, 16000, s, LSTM_SAMPLE_S16, 1, -1, 16000, TRUE);
  g_assert_cmpuint (out->len, ==, want->len);
  g_assert_cmpmem (out->data, out->len * 4, want->data, want->len * 4);
  gst_harness_teardown (h);
}

/* Buffers shorter than the frame shift (128 samples at 48 kHz, a common
 * audio server period, against 480): many complete no frame. The outputs
 * are one unbroken stream: only the first is DISCONT, so an lstm (whose
 * reset-on-discont is on by default) or lstmtrain downstream keeps its
 * state. The base class used to mark the output after every input that
 * completed nothing DISCONT (998 of 998 outputs on 10 s). */
static void
test_short_buffers (void)
{
  g_autofree gchar *caps = s16_caps (48000, 1);
  GstHarness *h = new_harness (NULL, caps);
  g_autofree gint16 *s = g_new (gint16, 48000);
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr (GArray) want = NULL;
  LstmFeaturesConfig cfg;
  GstBuffer *b;
  guint outputs = 0, disconts = 0, at;

  for (guint i = 0; i < 48000; i++)
    s[i] = (gint16) (8000 * sin (i * 0.05));
  lstm_features_config_init (&cfg);
  for (at = 0; at < 48000; at += 128)
    g_assert_cmpint (gst_harness_push (h, samples_buffer (s, at,
                MIN (128, 48000 - at), 2, 48000)), ==, GST_FLOW_OK);
  gst_harness_push_event (h, gst_event_new_eos ());
  while ((b = gst_harness_try_pull (h)) != NULL) {
    GstMapInfo map;
    disconts += GST_BUFFER_IS_DISCONT (b);
    g_assert_cmpint (GST_BUFFER_IS_DISCONT (b), ==, outputs == 0);
    gst_buffer_map (b, &map, GST_MAP_READ);
    g_array_append_vals (out, map.data, map.size / 4);
    gst_buffer_unmap (b, &map);
    gst_buffer_unref (b);
    outputs++;
  }
  g_assert_cmpuint (disconts, ==, 1);
  g_assert_cmpuint (outputs, >, 90);     /* 99 frames, mostly one a buffer */
  want = core_frames (&cfg, 48000, s, LSTM_SAMPLE_S16, 1, -1, 48000, TRUE);
  g_assert_cmpuint (out->len, ==, want->len);
  g_assert_cmpmem (out->data, out->len * 4, want->data, want->len * 4);
  gst_harness_teardown (h);
}

/* SEGMENT_DONE (looping segment seeks) drains the tail as EOS does: with
 * snip-edges=false the segment's last frames (the ones whose windows run
 * past its end) come out before the event passes on; they came only with
 * the next segment's first buffer, or never if the application stopped
 * there. */
static void
test_segment_done_drains (void)
{
  g_autofree gchar *caps = s16_caps (16000, 1);
  GstHarness *h = new_harness ("snip-edges=false", caps);
  g_autofree gint16 *s = g_new (gint16, 16000);
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr (GArray) want = NULL;
  LstmFeaturesConfig cfg;
  GstBuffer *b;
  GstEvent *ev;
  gboolean seen_done = FALSE;

  for (guint i = 0; i < 16000; i++)
    s[i] = (gint16) (8000 * sin (i * 0.07));
  lstm_features_config_init (&cfg);
  cfg.snip_edges = FALSE;
  g_assert_cmpint (gst_harness_push (h, samples_buffer (s, 0, 16000, 2,
              16000)), ==, GST_FLOW_OK);
  g_assert_true (gst_harness_push_event (h,
          gst_event_new_segment_done (GST_FORMAT_TIME, GST_SECOND)));
  while ((b = gst_harness_try_pull (h)) != NULL) {
    GstMapInfo map;
    gst_buffer_map (b, &map, GST_MAP_READ);
    g_array_append_vals (out, map.data, map.size / 4);
    gst_buffer_unmap (b, &map);
    gst_buffer_unref (b);
  }
  /* and the event itself after them */
  while (!seen_done && (ev = gst_harness_try_pull_event (h)) != NULL) {
    seen_done = GST_EVENT_TYPE (ev) == GST_EVENT_SEGMENT_DONE;
    gst_event_unref (ev);
  }
  g_assert_true (seen_done);
  want = core_frames (&cfg, 16000, s, LSTM_SAMPLE_S16, 1, -1, 16000, TRUE);
  g_assert_cmpuint (out->len, ==, want->len);
  g_assert_cmpmem (out->data, out->len * 4, want->data, want->len * 4);
  gst_harness_teardown (h);
}

/* NaN, infinities and values too large to scale by 32768 are used as 0,
 * counted, warned about; no NaN out. */
static void
test_nonfinite (void)
{
  GstHarness *h = new_harness ("type=mfcc", "audio/x-raw,format=F32LE,"
      "layout=interleaved,channels=1,rate=16000");
  g_autofree float *x = g_new (float, 4000);
  g_autofree float *zeroed = g_new (float, 4000);
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr (GArray) want = NULL;
  GstBus *bus = gst_bus_new ();
  g_autofree gchar *text = NULL;
  LstmFeaturesConfig cfg;
  Framing fr;
  guint64 count;

  gst_element_set_bus (h->element, bus);
  for (guint i = 0; i < 4000; i++)
    x[i] = zeroed[i] = 0.3f * sinf (i * 0.05f);
  x[3] = NAN;
  x[1000] = INFINITY;
  x[2500] = 1e38f;              /* finite, infinite once scaled */
  zeroed[3] = zeroed[1000] = zeroed[2500] = 0.0f;
  lstm_features_config_init (&cfg);
  cfg.type = LSTM_FEATURES_MFCC;
  framing_for (&fr, &cfg, 16000, 0);
  gst_harness_push (h, samples_buffer (x, 0, 2000, 4, 16000));
  gst_harness_push (h, samples_buffer (x, 2000, 2000, 4, 16000));
  gst_harness_push_event (h, gst_event_new_eos ());
  collect (h, &fr, out);
  want = core_frames (&cfg, 16000, zeroed, LSTM_SAMPLE_F32, 1, -1, 4000, TRUE);
  g_assert_cmpuint (out->len, ==, want->len);
  g_assert_cmpmem (out->data, out->len * 4, want->data, want->len * 4);
  for (guint i = 0; i < out->len; i++)
    g_assert_true (isfinite (g_array_index (out, float, i)));
  g_object_get (h->element, "nonfinite-samples", &count, NULL);
  g_assert_cmpuint (count, ==, 3);
  text = expect_message (bus, GST_MESSAGE_WARNING);
  g_assert_nonnull (strstr (text, "NaN, infinite or beyond"));
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

/* cepstral-lifter is bounded (a lifter of 1e300 made every MFCC NaN):
 * the property's range ends at LSTM_FEATURES_MAX_LIFTER, and there the
 * frames are finite. */
static void
test_lifter_bound (void)
{
  GstHarness *h = new_harness ("type=mfcc cepstral-lifter=1000000",
      "audio/x-raw,format=F32LE,layout=interleaved,channels=1,rate=16000");
  GParamSpecDouble *spec = G_PARAM_SPEC_DOUBLE (g_object_class_find_property
      (G_OBJECT_GET_CLASS (h->element), "cepstral-lifter"));
  g_autofree float *x = g_new (float, 4000);
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (float));
  LstmFeaturesConfig cfg;
  Framing fr;

  g_assert_cmpfloat (spec->maximum, ==, LSTM_FEATURES_MAX_LIFTER);
  for (guint i = 0; i < 4000; i++)
    x[i] = 0.5f * sinf (i * 0.05f) + 0.01f * sinf (i * 1.3f);
  lstm_features_config_init (&cfg);
  cfg.type = LSTM_FEATURES_MFCC;
  cfg.cepstral_lifter = LSTM_FEATURES_MAX_LIFTER;
  framing_for (&fr, &cfg, 16000, 0);
  gst_harness_push (h, samples_buffer (x, 0, 4000, 4, 16000));
  gst_harness_push_event (h, gst_event_new_eos ());
  collect (h, &fr, out);
  g_assert_cmpuint (out->len, ==, ((4000 - 400) / 160 + 1) * 13);
  for (guint i = 0; i < out->len; i++)
    g_assert_true (isfinite (g_array_index (out, float, i)));
  gst_harness_teardown (h);
}

/* Stereo: channel=-1 averages, channel=1 takes the second channel. */
static void
test_channels (gconstpointer data)
{
  gint channel = GPOINTER_TO_INT (data);
  g_autofree gchar *props = g_strdup_printf ("channel=%d", channel);
  g_autofree gchar *caps = s16_caps (16000, 2);
  GstHarness *h = new_harness (props, caps);
  g_autofree gint16 *st = g_new (gint16, 2 * 6000);
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr (GArray) want = NULL;
  LstmFeaturesConfig cfg;
  Framing fr;

  for (guint i = 0; i < 6000; i++) {
    st[2 * i] = (gint16) (7000 * sin (i * 0.07));
    st[2 * i + 1] = (gint16) (3000 * sin (i * 0.31));
  }
  lstm_features_config_init (&cfg);
  framing_for (&fr, &cfg, 16000, 0);
  gst_harness_push (h, samples_buffer (st, 0, 2500, 4, 16000));
  gst_harness_push (h, samples_buffer (st, 2500, 3500, 4, 16000));
  gst_harness_push_event (h, gst_event_new_eos ());
  collect (h, &fr, out);
  want = core_frames (&cfg, 16000, st, LSTM_SAMPLE_S16, 2, channel, 6000, TRUE);
  g_assert_cmpuint (out->len, ==, (1 + (6000 - 400) / 160) * 23);
  g_assert_cmpmem (out->data, out->len * 4, want->data, want->len * 4);
  gst_harness_teardown (h);
}

/* Timestamps start at the first buffer's PTS: t0 + i * shift. */
static void
test_timestamps (void)
{
  g_autofree gchar *caps = s16_caps (22050, 1);
  GstHarness *h = new_harness ("snip-edges=false", caps);
  g_autofree gint16 *s = g_new0 (gint16, 22050);
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (float));
  LstmFeaturesConfig cfg;
  Framing fr;
  GstBuffer *b;

  for (guint i = 0; i < 22050; i++)
    s[i] = (gint16) ((i * 7919) % 4000 - 2000);
  lstm_features_config_init (&cfg);
  cfg.snip_edges = FALSE;
  /* 22050 Hz: shift int (220.5) = 220 samples, 9.977 ms */
  framing_for (&fr, &cfg, 22050, 3 * GST_SECOND);
  g_assert_cmpuint (fr.shift, ==, 220);
  for (gsize done = 0; done < 22050; done += 2205) {
    b = samples_buffer (s, done, 2205, 2, 22050);
    GST_BUFFER_PTS (b) += 3 * GST_SECOND;
    gst_harness_push (h, b);
  }
  gst_harness_push_event (h, gst_event_new_eos ());
  collect (h, &fr, out);        /* checks every PTS and duration */
  /* round (22050 / 220) = 100 frames */
  g_assert_cmpuint (fr.next, ==, (22050 + 110) / 220);
  gst_harness_teardown (h);
}

/* The latency query adds the window's lookahead to upstream's. */
static void
test_latency (gconstpointer data)
{
  gboolean snip = GPOINTER_TO_INT (data);
  g_autofree gchar *caps = s16_caps (16000, 1);
  GstHarness *h = new_harness (snip ? NULL : "snip-edges=false", caps);
  GstQuery *q = gst_query_new_latency ();
  gboolean live;
  GstClockTime min, max;

  gst_harness_set_upstream_latency (h, 20 * GST_MSECOND);
  g_assert_true (gst_pad_peer_query (h->sinkpad, q));
  gst_query_parse_latency (q, &live, &min, &max);
  /* 400 samples (25 ms) with snip-edges; 400 - (200 - 80) = 280
   * samples (17.5 ms) without */
  g_assert_cmpuint (min, ==, 20 * GST_MSECOND + (snip ? 25 * GST_MSECOND :
          17500 * GST_USECOND));
  gst_query_unref (q);
  gst_harness_teardown (h);
}

/* Options are fixed while streaming: a change is ignored (and logged). */
static void
test_options_fixed (void)
{
  g_autofree gchar *caps = s16_caps (16000, 1);
  GstHarness *h = new_harness (NULL, caps);
  guint bins;

  g_object_set (h->element, "num-mel-bins", 40, NULL);
  g_object_get (h->element, "num-mel-bins", &bins, NULL);
  g_assert_cmpuint (bins, ==, 23);
  gst_element_set_state (h->element, GST_STATE_NULL);
  g_object_set (h->element, "num-mel-bins", 40, NULL);
  g_object_get (h->element, "num-mel-bins", &bins, NULL);
  g_assert_cmpuint (bins, ==, 40);
  gst_harness_teardown (h);
}

/* A fresh element holds its properties' documented defaults (the
 * DEFAULT_* macros), which are the core's (lstm_features_config_init),
 * which are torchaudio's: the reference cases without options prove the
 * last step. */
static void
test_defaults (void)
{
  GstElement *e = gst_element_factory_make ("lstmfeatures", NULL);
  g_autofree GParamSpec **specs = NULL;
  guint n, i, checked = 0;

  specs = g_object_class_list_properties (G_OBJECT_GET_CLASS (e), &n);
  for (i = 0; i < n; i++) {
    GValue v = G_VALUE_INIT;
    if (specs[i]->owner_type != G_OBJECT_TYPE (e))
      continue;
    g_value_init (&v, specs[i]->value_type);
    g_object_get_property (G_OBJECT (e), specs[i]->name, &v);
    if (!g_param_value_defaults (specs[i], &v))
      g_error ("%s: the element starts at %s, the documented default is "
          "another", specs[i]->name, g_strdup_value_contents (&v));
    g_value_unset (&v);
    checked++;
  }
  g_assert_cmpuint (checked, ==, 21);
  gst_object_unref (e);
}

int
main (int argc, char **argv)
{
  g_autofree const gchar **names = NULL;
  guint i;

  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  names = feat_ref_case_names ();
  for (i = 0; names[i] != NULL; i++) {
    g_autofree gchar *path =
        g_strdup_printf ("/lstm/element-features/reference/%s", names[i]);
    g_test_add_data_func (path, names[i], test_reference);
  }
  g_test_add_func ("/lstm/element-features/defaults", test_defaults);
  g_test_add_func ("/lstm/element-features/f32-input", test_f32_input);
  g_test_add_func ("/lstm/element-features/caps-rate", test_caps_rate);
  g_test_add_func ("/lstm/element-features/pipeline-lstm", test_pipeline_lstm);
  g_test_add_func ("/lstm/element-features/doc-launch-lines",
      test_doc_launch_lines);
  g_test_add_data_func ("/lstm/element-features/change/rate",
      GINT_TO_POINTER (CHANGE_RATE), test_stream_change);
  g_test_add_data_func ("/lstm/element-features/change/discont",
      GINT_TO_POINTER (CHANGE_DISCONT), test_stream_change);
  g_test_add_data_func ("/lstm/element-features/change/flush",
      GINT_TO_POINTER (CHANGE_FLUSH), test_stream_change);
  g_test_add_data_func ("/lstm/element-features/change/pts-jump",
      GINT_TO_POINTER (CHANGE_JUMP), test_stream_change);
  g_test_add_data_func ("/lstm/element-features/change/gap-event",
      GINT_TO_POINTER (CHANGE_GAP), test_stream_change);
  g_test_add_func ("/lstm/element-features/change/same-stream",
      test_caps_same_stream);
  g_test_add_func ("/lstm/element-features/cmn", test_cmn);
  g_test_add_func ("/lstm/element-features/negotiation-errors",
      test_negotiation_errors);
  g_test_add_func ("/lstm/element-features/bad-buffers", test_bad_buffers);
  g_test_add_func ("/lstm/element-features/empty-buffers",
      test_empty_buffers);
  g_test_add_func ("/lstm/element-features/segment-done-drains",
      test_segment_done_drains);
  g_test_add_func ("/lstm/element-features/short-buffers",
      test_short_buffers);
  g_test_add_func ("/lstm/element-features/nonfinite", test_nonfinite);
  g_test_add_func ("/lstm/element-features/lifter-bound", test_lifter_bound);
  g_test_add_data_func ("/lstm/element-features/channels/average",
      GINT_TO_POINTER (-1), test_channels);
  g_test_add_data_func ("/lstm/element-features/channels/second",
      GINT_TO_POINTER (1), test_channels);
  g_test_add_func ("/lstm/element-features/timestamps", test_timestamps);
  g_test_add_data_func ("/lstm/element-features/latency/snip-edges",
      GINT_TO_POINTER (TRUE), test_latency);
  g_test_add_data_func ("/lstm/element-features/latency/no-snip-edges",
      GINT_TO_POINTER (FALSE), test_latency);
  g_test_add_func ("/lstm/element-features/options-fixed", test_options_fixed);
  return g_test_run ();
}
