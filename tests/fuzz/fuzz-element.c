/* libFuzzer target: the `lstm` element driven by a sequence of operations
 * read from the input bytes.
 *
 * Each input byte chooses an operation, the bytes after it its arguments:
 * buffers of any size (empty, partial frames, several chunks), with PTS and
 * duration valid, jumping or none, DISCONT and GAP flags, NaN, infinity and
 * huge samples; flushes; segments; caps changes among valid caps (F32LE or
 * S16LE, the model's channel count, any rate) and now and then a wrong
 * channel count; `lstm-reset` events; the reset signal; property changes
 * (those marked mutable-in-READY through a PLAYING -> READY -> PLAYING
 * cycle); downstream switching between text and vectors; the state read,
 * written back, truncated or corrupted; a hot swap between two models of
 * other sizes, or to a missing file; EOS.
 *
 * Invariants checked on every output buffer (a failure aborts):
 *  - vectors: the size is a whole number of output frames, every value
 *    finite;
 *  - text: valid UTF-8, exactly one line ending in '\n'; `label` format is
 *    "<label> <confidence>" with a finite confidence, `json` format is one
 *    JSON object with the documented members;
 * and no crash, leak, g_critical or g_warning.
 *
 * Build: tests/fuzz/meson.build (clang only). Run: run-fuzz.sh BUILD 30
 * element.
 */
#include "gstlstm.h"
#include "gstlstmelements.h"

#include <gst/check/gstharness.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define CHANNELS 3              /* both models take 3 features per frame */
#define MAX_OPS 64              /* operations per input */

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

static gchar *model_a;          /* the committed model: 2 layers, labels */
static gchar *model_b;          /* written at start: 1 layer, no labels */

/* The input bytes, read front to back; zeros once they run out. */
typedef struct
{
  const guint8 *p;
  gsize left;
} Reader;

static guint8
next_byte (Reader * r)
{
  if (r->left == 0)
    return 0;
  r->left--;
  return *r->p++;
}

static guint
next_u16 (Reader * r)
{
  guint hi = next_byte (r);
  return (hi << 8) | next_byte (r);
}

/* What the driver knows about the stream it feeds. */
typedef struct
{
  GstHarness *h;
  gboolean s16;
  gint rate;
  GstClockTime pts;             /* the next buffer's PTS */
  GBytes *state;                /* the latest state read */
  gboolean model_is_b;
  gboolean loads_started;       /* `model` was set while streaming */
} Driver;

/* ------------------------------------------------------------ checks */

static void
check_label_line (const gchar * line, gsize len)
{
  const gchar *space = g_strrstr_len (line, len, " ");
  gchar *end;
  double conf;

  if (space == NULL || space == line)
    g_error ("text line without '<label> <confidence>': %.*s", (int) len, line);
  conf = g_ascii_strtod (space + 1, &end);
  if (end != line + len - 1 || !isfinite (conf))
    g_error ("bad confidence in text line: %.*s", (int) len, line);
}

static void
check_json_line (const gchar * line, gsize len)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  JsonObject *o;
  JsonArray *scores;
  gint64 id;

  if (!json_parser_load_from_data (parser, line, len, &error))
    g_error ("json line does not parse (%s): %.*s", error->message,
        (int) len, line);
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    g_error ("json line is not an object: %.*s", (int) len, line);
  o = json_node_get_object (json_parser_get_root (parser));
  if (!json_object_has_member (o, "label")
      || !json_object_has_member (o, "class-id")
      || !json_object_has_member (o, "confidence")
      || !json_object_has_member (o, "timestamp")
      || !json_object_has_member (o, "duration")
      || !json_object_has_member (o, "scores"))
    g_error ("json line lacks a member: %.*s", (int) len, line);
  scores = json_object_get_array_member (o, "scores");
  id = json_object_get_int_member (o, "class-id");
  if (scores == NULL || id < 0 || id >= json_array_get_length (scores))
    g_error ("json class-id outside scores: %.*s", (int) len, line);
}

static void
check_text (const gchar * text, gsize len)
{
  const gchar *nl = memchr (text, '\n', len);

  if (!g_utf8_validate (text, len, NULL))
    g_error ("text output is not UTF-8");
  if (len == 0 || nl != text + len - 1)
    g_error ("text buffer is not exactly one line: %.*s", (int) len, text);
  if (text[0] == '{')
    check_json_line (text, len);
  else
    check_label_line (text, len);
}

static void
check_vectors (const float *v, gsize size, gint channels)
{
  gsize i, n = size / sizeof (float);

  if (channels <= 0 || size % ((gsize) channels * sizeof (float)) != 0)
    g_error ("%" G_GSIZE_FORMAT " output bytes are not whole frames of %d "
        "floats", size, channels);
  for (i = 0; i < n; i++)
    if (!isfinite (v[i]))
      g_error ("output value %" G_GSIZE_FORMAT " is %g", i, v[i]);
}

/* Replaces the harness sink's chain function: checks every buffer against
 * the caps it came with, then drops it. */
static GstFlowReturn
checking_chain (GstPad * pad, GstObject * parent, GstBuffer * buf)
{
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  GstStructure *s;
  GstMapInfo map;
  gint channels = 0;

  if (caps == NULL)
    g_error ("an output buffer before output caps");
  s = gst_caps_get_structure (caps, 0);
  gst_buffer_map (buf, &map, GST_MAP_READ);
  if (gst_structure_has_name (s, "text/x-raw")) {
    check_text ((const gchar *) map.data, map.size);
  } else {
    gst_structure_get_int (s, "channels", &channels);
    check_vectors ((const float *) map.data, map.size, channels);
  }
  gst_buffer_unmap (buf, &map);
  gst_buffer_unref (buf);
  return GST_FLOW_OK;
}

/* -------------------------------------------------------- operations */

/* One sample from one byte: mostly small values, some special ones. */
static float
sample_value (guint8 b)
{
  switch (b) {
    case 0xff:
      return NAN;
    case 0xfe:
      return INFINITY;
    case 0xfd:
      return -INFINITY;
    case 0xfc:
      return 3e38f;             /* finite, near FLT_MAX */
    case 0xfb:
      return -1e-40f;           /* subnormal */
    default:
      return (gint8) b / 32.0f;
  }
}

static void
op_buffer (Driver * d, Reader * r)
{
  guint frames = next_byte (r), flags = next_byte (r), i;
  gsize frame_bytes = CHANNELS * (d->s16 ? 2 : 4), extra = 0, n, size;
  GstBuffer *b;
  GstMapInfo map;

  /* mostly short; some span several chunks of LSTM_DEFAULT_MAX_FRAMES */
  frames = (flags & 0x80) ? 60 + frames % 200 : frames % 24;
  if ((flags & 0x07) == 0x07)
    extra = 1 + next_byte (r) % (frame_bytes - 1);      /* a partial frame */
  n = (gsize) frames *CHANNELS;
  size = frames * frame_bytes + extra;
  b = gst_buffer_new_allocate (NULL, size, NULL);
  gst_buffer_map (b, &map, GST_MAP_WRITE);
  for (i = 0; i < n; i++) {
    guint8 v = next_byte (r);
    if (d->s16)
      ((gint16 *) map.data)[i] = (gint16) (((guint) v << 8) | v);
    else
      ((float *) map.data)[i] = sample_value (v);
  }
  if (extra > 0)
    memset (map.data + n * (d->s16 ? 2 : 4), 0x7f, extra);
  gst_buffer_unmap (b, &map);

  if (flags & 0x08)
    GST_BUFFER_FLAG_SET (b, GST_BUFFER_FLAG_DISCONT);
  if (flags & 0x10)
    GST_BUFFER_FLAG_SET (b, GST_BUFFER_FLAG_GAP);
  switch ((flags >> 5) & 3) {
    case 0:                    /* contiguous */
      GST_BUFFER_PTS (b) = d->pts;
      GST_BUFFER_DURATION (b) = gst_util_uint64_scale_int (frames,
          GST_SECOND, d->rate);
      break;
    case 1:                    /* none */
      break;
    case 2:                    /* a jump, maybe backwards */
      GST_BUFFER_PTS (b) = (GstClockTime) next_u16 (r) * GST_MSECOND;
      break;
    case 3:                    /* near the end of time */
      GST_BUFFER_PTS (b) = G_MAXUINT64 - 1 - next_byte (r);
      GST_BUFFER_DURATION (b) = G_MAXUINT64 / 2;
      break;
  }
  if (GST_BUFFER_PTS_IS_VALID (b))
    d->pts = GST_BUFFER_PTS (b) + gst_util_uint64_scale_int (frames,
        GST_SECOND, d->rate);
  /* any flow return is fine (partial frames are an error, after EOS it
   * is EOS); what matters is what comes out */
  gst_harness_push (d->h, b);
}

static void
push_segment (Driver * d, guint64 start)
{
  GstSegment seg;

  gst_segment_init (&seg, GST_FORMAT_TIME);
  seg.start = seg.time = start;
  gst_harness_push_event (d->h, gst_event_new_segment (&seg));
}

static void
op_flush (Driver * d, Reader * r)
{
  gst_harness_push_event (d->h, gst_event_new_flush_start ());
  gst_harness_push_event (d->h, gst_event_new_flush_stop (next_byte (r) & 1));
  push_segment (d, 0);
  d->pts = 0;
}

static GstCaps *
frame_caps (const gchar * format, gint channels, gint rate)
{
  return gst_caps_new_simple ("audio/x-raw", "format", G_TYPE_STRING, format,
      "layout", G_TYPE_STRING, "interleaved", "channels", G_TYPE_INT,
      channels, "rate", G_TYPE_INT, rate, NULL);
}

static void
op_caps (Driver * d, Reader * r)
{
  guint8 b = next_byte (r);
  gint rate = 1 + next_u16 (r) % 48000;
  gint channels = (b & 0xf0) == 0xf0 ? 1 + (b & 0x0f) : CHANNELS;
  GstCaps *caps;

  caps = frame_caps (b & 1 ? "S16LE" : "F32LE", channels, rate);
  /* a wrong size is refused with an error; the old caps stay */
  if (gst_harness_push_event (d->h, gst_event_new_caps (caps))) {
    d->s16 = b & 1;
    d->rate = rate;
  }
}

static void
op_property (Driver * d, Reader * r)
{
  GstElement *e = d->h->element;
  guint8 which = next_byte (r), v = next_byte (r);
  static const guint64 intervals[] = { 0, GST_MSECOND, GST_SECOND / 10,
    GST_SECOND, G_MAXUINT64
  };

  switch (which % 8) {
    case 0:
      g_object_set (e, "text-format", v % 2, NULL);
      break;
    case 1:
      g_object_set (e, "post-messages", v % 2, NULL);
      break;
    case 2:
      g_object_set (e, "message-interval", intervals[v % 5], NULL);
      break;
    case 3:
      g_object_set (e, "reset-on-discont", v % 2, NULL);
      break;
    case 4:
      /* another precision loads in the background, as a new model does */
      d->loads_started = TRUE;
      g_object_set (e, "weights", v % 3, NULL);
      break;
    default:{
      /* mutable in READY only: output-mode and stride, through a cycle */
      GstCaps *caps = frame_caps (d->s16 ? "S16LE" : "F32LE", CHANNELS,
          d->rate);
      gst_element_set_state (e, GST_STATE_READY);
      if (which & 0x10)
        g_object_set (e, "stride", v % 4 == 3 ? 1000 + v : 1 + v % 8, NULL);
      else
        g_object_set (e, "output-mode", v % 3, NULL);
      gst_element_set_state (e, GST_STATE_PLAYING);
      gst_harness_push_event (d->h, gst_event_new_stream_start ("again"));
      gst_harness_push_event (d->h, gst_event_new_caps (caps));
      push_segment (d, 0);
      d->pts = 0;
      break;
    }
  }
}

/* Downstream now wants text, vectors, or either, and says so. */
static void
op_src_caps (Driver * d, Reader * r)
{
  static const gchar *wants[] = { "text/x-raw, format=utf8",
    "audio/x-raw, format=F32LE", "audio/x-raw; text/x-raw"
  };

  gst_harness_set_sink_caps_str (d->h, wants[next_byte (r) % 3]);
  gst_harness_push_upstream_event (d->h, gst_event_new_reconfigure ());
}

/* The state read, written back as read, truncated, or with a byte
 * changed; a wrong one is refused with a warning. */
static void
op_state (Driver * d, Reader * r)
{
  guint8 how = next_byte (r);
  GBytes *bytes;
  gsize size;

  if (how % 2 == 0 || d->state == NULL) {
    g_clear_pointer (&d->state, g_bytes_unref);
    g_object_get (d->h->element, "state", &d->state, NULL);
    return;
  }
  size = g_bytes_get_size (d->state);
  if (how % 4 == 1) {
    bytes = g_bytes_ref (d->state);
  } else if (how % 8 == 3) {
    bytes = g_bytes_new_from_bytes (d->state, 0, next_u16 (r) % (size + 1));
  } else {
    guint8 *copy = g_memdup2 (g_bytes_get_data (d->state, NULL), size);
    if (size > 0)
      copy[next_u16 (r) % size] ^= next_byte (r) | 1;
    bytes = g_bytes_new_take (copy, size);
  }
  g_object_set (d->h->element, "state", bytes, NULL);
  g_bytes_unref (bytes);
}

/* A hot swap to the other model (waiting until it has loaded, so that the
 * run is reproducible) or to a file that does not exist. */
static void
op_model (Driver * d, Reader * r)
{
  GstLstm *self = GST_LSTM (d->h->element);
  gint64 until = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  gboolean loaded = FALSE;

  d->loads_started = TRUE;
  if (next_byte (r) % 4 == 0) {
    g_object_set (self, "model", "/nonexistent/model.safetensors", NULL);
    return;
  }
  d->model_is_b = !d->model_is_b;
  g_object_set (self, "model", d->model_is_b ? model_b : model_a, NULL);
  /* (not streaming, e.g. stuck in READY after a missing model was set and
   * the state cycled: nothing loads until the next start) */
  while (!loaded && GST_STATE (self) >= GST_STATE_PAUSED
      && g_get_monotonic_time () < until) {
    GST_OBJECT_LOCK (self);
    loaded = self->pending_model != NULL;
    GST_OBJECT_UNLOCK (self);
    if (!loaded)
      g_usleep (100);
  }
}

static void
run_op (Driver * d, Reader * r)
{
  guint8 op = next_byte (r);

  switch (op % 16) {
    case 8:
      op_flush (d, r);
      break;
    case 9:
      op_caps (d, r);
      break;
    case 10:
      gst_harness_push_event (d->h,
          gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM,
              gst_structure_new_empty ("lstm-reset")));
      break;
    case 11:
      g_signal_emit_by_name (d->h->element, "reset");
      break;
    case 12:
      op_property (d, r);
      break;
    case 13:
      op_src_caps (d, r);
      break;
    case 14:
      op_state (d, r);
      break;
    case 15:
      if (op & 0x10)
        op_model (d, r);
      else if (op & 0x20)
        push_segment (d, (guint64) next_u16 (r) * GST_MSECOND);
      else
        gst_harness_push_event (d->h, gst_event_new_eos ());
      break;
    default:
      op_buffer (d, r);
      break;
  }
  /* events pile up in the harness: drop them */
  while (gst_harness_events_in_queue (d->h) > 0)
    gst_event_unref (gst_harness_pull_event (d->h));
  while (gst_harness_upstream_events_in_queue (d->h) > 0)
    gst_event_unref (gst_harness_pull_upstream_event (d->h));
}

/* ------------------------------------------------------------ entry */

/* Tears the harness down and, when models were loading in the background,
 * waits for those threads (each holds a reference on the element until
 * its last step) so that the leak check does not see their allocations in
 * flight. */
static void
teardown (Driver * d)
{
  GstElement *e = gst_object_ref (d->h->element);
  gint64 until = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  gst_harness_teardown (d->h);
  while (d->loads_started && GST_OBJECT_REFCOUNT_VALUE (e) > 1
      && g_get_monotonic_time () < until)
    g_usleep (200);
  if (d->loads_started)
    g_usleep (2000);            /* the thread frees its job and exits */
  gst_object_unref (e);
}

static gchar *
write_model_b (void)
{
  g_autoptr (LstmModel) m = lstm_model_new (CHANNELS, 5, 1, 2,
      LSTM_OUTPUT_IDENTITY, NULL);
  gchar *path = g_build_filename (g_get_tmp_dir (),
      "fuzz-element-b.safetensors", NULL);

  lstm_model_init_random (m, 7);
  if (!lstm_model_save (m, path, NULL))
    g_error ("cannot write %s", path);
  return path;
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  /* A g_critical or g_warning (GStreamer's misuse checks) is a bug. */
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  g_setenv ("GST_REGISTRY_DISABLE", "yes", TRUE);
  gst_init (argc, argv);
  if (!GST_ELEMENT_REGISTER (lstm, NULL))
    g_error ("cannot register the lstm element");
  lstm_blas_set_threads (1);
  model_a = g_strdup (FUZZ_ELEMENT_MODEL);
  model_b = write_model_b ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  Reader r = { data, size };
  Driver d = { 0 };
  GstElement *e = gst_element_factory_make ("lstm", NULL);
  guint i;

  g_object_set (e, "model", model_a, NULL);
  d.h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_pad_set_chain_function (d.h->sinkpad, checking_chain);
  gst_harness_set_sink_caps_str (d.h, "audio/x-raw; text/x-raw");
  d.rate = 100;
  gst_harness_set_src_caps (d.h, frame_caps ("F32LE", CHANNELS, d.rate));

  for (i = 0; i < MAX_OPS && r.left > 0; i++)
    run_op (&d, &r);

  g_clear_pointer (&d.state, g_bytes_unref);
  teardown (&d);
  return 0;
}
