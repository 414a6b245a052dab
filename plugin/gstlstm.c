/**
 * SECTION:element-lstm
 * @title: lstm
 *
 * Runs an LSTM network (a safetensors file with PyTorch's nn.LSTM names,
 * see the README) over a frame stream, one float vector per frame, keeping
 * the hidden and cell state from one buffer to the next.
 *
 * Input: `audio/x-raw, format=F32LE|S16LE, layout=interleaved,
 * channels=<the model's input size>`; any rate, read as frames per second.
 * S16LE is scaled to [-1, 1). Output: the prediction vectors as the same
 * kind of frame stream (`channels` = the model's output size), or
 * `text/x-raw, format=utf8`, one line per prediction: `<label> <confidence>`
 * or, with `text-format=json`, one JSON object.
 *
 * A bidirectional model's backward direction needs the future, so its
 * whole sequence is held: the frames are kept until the sequence ends (EOS,
 * a reset, a DISCONT, STREAM_START, a caps change), then run at once, and
 * the predictions go out as the output mode says with the frames'
 * timestamps. The delay is the sequence's length; the LATENCY answer says
 * it is unbounded (maximum latency none). A sequence that reaches
 * #GstLstm:max-held-frames is cut there, so memory stays bounded.
 *
 * The state is reset on FLUSH_STOP, STREAM_START, a caps change, a DISCONT
 * buffer (when #GstLstm:reset-on-discont is true), the #GstLstm::reset
 * action signal, and a custom downstream event whose structure is named
 * `lstm-reset`. The #GstLstm:state property reads or restores it; a
 * restored state is what the next frame starts from, whatever stream
 * boundaries come before that frame (a restore right after set_state
 * (PLAYING), before STREAM_START, resumes a stream in a new pipeline).
 *
 * Frames with a NaN or an infinity are skipped: the state is left as it
 * was, the previous output is repeated for the frame (so outputs stay
 * aligned with inputs), the #GstLstm:skipped-frames count goes up and a
 * warning is posted at most once per second.
 *
 * When #GstLstm:post-messages is true, the element posts element messages
 * named `lstm` at most every #GstLstm:message-interval nanoseconds (and for
 * every prediction in `output-mode=last`), describing the predictions
 * emitted since the previous message:
 *
 * - `timestamp`, `stream-time`, `running-time` (guint64): start of the
 *   first of those frames
 * - `duration` (guint64): the time they cover
 * - `scores` (GstValueArray of gfloat): the mean output vector
 * - `class-id` (gint), `class` (string), `confidence` (gdouble): the
 *   largest mean score, its label (or its index when the model has no
 *   labels) and its value
 *
 * Buffer lists (e.g. appsrc's `push-buffer-list`) are taken whole: each
 * buffer is processed as it would be alone, and in frame mode with vector
 * output the outputs (one buffer per input buffer, with its timestamps) go
 * downstream as one list, so GStreamer's cost per push is paid once per
 * list. Worth it for small models fed small buffers, where that cost is a
 * good part of the whole.
 *
 * #GstLstm:weights stores the weight matrices as IEEE halves (f16) or
 * 8-bit integers with a scale per row (int8) instead of float32: fewer
 * bytes per frame, float32 arithmetic, outputs those of the model with
 * its weights rounded.
 *
 * Many streams, one model: requesting `sink_%u` pads gives one stream per
 * pad pair `sink_%u` / `src_%u`, each with its own state, caps and
 * timestamps (vector output for every frame). The streams' frames are
 * stepped together, one matrix product per frame time for all of them
 * (the weights are read once instead of once per stream); a stream waits
 * at most #GstLstm:stream-wait for the others. Each stream's predictions
 * equal those of a separate `lstm` element. The request pads emit vectors
 * for every frame and post no messages; a model set while playing
 * reaches every stream at its next buffer (its state carried when the
 * sizes match); a bidirectional model is refused, and the properties they
 * do not follow (#GstLstm:output-mode, #GstLstm:post-messages,
 * #GstLstm:state) bring a warning once.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 -q filesrc location=sensors.wav ! wavparse ! lstm model=model.safetensors ! text/x-raw ! fdsink fd=1
 * ]| Prints a prediction per frame of a multichannel WAV of sensor samples.
 * |[
 * gst-launch-1.0 -q audiotestsrc num-buffers=10 samplesperbuffer=10 ! audio/x-raw,format=F32LE,channels=5,rate=100 ! lstm model=model.safetensors output-mode=last ! text/x-raw ! fdsink fd=1
 * ]| Prints one line for the whole clip.
 * |[
 * gst-launch-1.0 -q lstm name=l model=model.safetensors audiotestsrc num-buffers=10 samplesperbuffer=10 ! audio/x-raw,format=F32LE,channels=5,rate=100 ! l.sink_0 l.src_0 ! wavenc ! filesink location=out0.wav audiotestsrc num-buffers=10 samplesperbuffer=10 wave=sine freq=5 ! audio/x-raw,format=F32LE,channels=5,rate=100 ! l.sink_1 l.src_1 ! wavenc ! filesink location=out1.wav
 * ]| Two streams through one element, their predictions into two WAV files.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstlstm.h"
#include "gstlstm-streams.h"
#include "gstlstmelements.h"

#include <json-glib/json-glib.h>
#include <string.h>

GST_DEBUG_CATEGORY (gst_lstm_debug);
#define GST_CAT_DEFAULT gst_lstm_debug

#define DEFAULT_MODEL NULL
#define DEFAULT_RESET_ON_DISCONT TRUE
#define DEFAULT_OUTPUT_MODE GST_LSTM_OUTPUT_MODE_FRAME
#define DEFAULT_STRIDE 1
#define DEFAULT_TEXT_FORMAT GST_LSTM_TEXT_FORMAT_LABEL
#define DEFAULT_POST_MESSAGES FALSE
#define DEFAULT_MESSAGE_INTERVAL (GST_SECOND / 10)
#define DEFAULT_THREADS 1
#define DEFAULT_STREAM_WAIT (5 * GST_MSECOND)
#define DEFAULT_WEIGHTS LSTM_PRECISION_F32
#define DEFAULT_MAX_HELD_FRAMES 360000  /* an hour at 100 frames/s */

/* Frames per forward call; the scratch is sized for this many. */
#define CHUNK_FRAMES LSTM_DEFAULT_MAX_FRAMES
#define POOL_MIN_BUFFERS 4      /* output buffers kept ready */
#define POOL_MAX_BYTES (64 * 1024)      /* larger outputs are allocated */

enum
{
  PROP_0,
  PROP_MODEL,
  PROP_RESET_ON_DISCONT,
  PROP_OUTPUT_MODE,
  PROP_STRIDE,
  PROP_TEXT_FORMAT,
  PROP_POST_MESSAGES,
  PROP_MESSAGE_INTERVAL,
  PROP_THREADS,
  PROP_STATE,
  PROP_SKIPPED_FRAMES,
  PROP_STREAM_WAIT,
  PROP_WEIGHTS,
  PROP_MAX_HELD_FRAMES,
};

enum
{
  SIGNAL_RESET,
  LAST_SIGNAL
};

static guint signals[LAST_SIGNAL];

#define FRAME_CAPS \
  "audio/x-raw, format = (string) { F32LE, S16LE }, " \
  "layout = (string) interleaved, channels = (int) [ 1, MAX ], " \
  "rate = (int) [ 1, MAX ]"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (FRAME_CAPS));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("audio/x-raw, format = (string) F32LE, "
        "layout = (string) interleaved, channels = (int) [ 1, MAX ], "
        "rate = (int) [ 1, MAX ]; text/x-raw, format = (string) utf8"));

#define gst_lstm_parent_class parent_class
G_DEFINE_TYPE (GstLstm, gst_lstm, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (lstm, "lstm", GST_RANK_NONE, GST_TYPE_LSTM);

#define GST_TYPE_LSTM_OUTPUT_MODE (gst_lstm_output_mode_get_type ())
/* *INDENT-OFF* */
GST_LSTM_DEFINE_ENUM_TYPE (gst_lstm_output_mode_get_type, "GstLstmOutputMode",
    {GST_LSTM_OUTPUT_MODE_FRAME, "A prediction for every frame", "frame"},
    {GST_LSTM_OUTPUT_MODE_STRIDE, "A prediction every stride frames",
        "stride"},
    {GST_LSTM_OUTPUT_MODE_LAST,
        "One prediction per sequence, for its last frame (at end of stream, "
          "a discontinuity or a reset)", "last"})
/* *INDENT-ON* */

#define GST_TYPE_LSTM_TEXT_FORMAT (gst_lstm_text_format_get_type ())
/* *INDENT-OFF* */
GST_LSTM_DEFINE_ENUM_TYPE (gst_lstm_text_format_get_type, "GstLstmTextFormat",
    {GST_LSTM_TEXT_FORMAT_LABEL, "\"<label> <confidence>\" per line",
        "label"},
    {GST_LSTM_TEXT_FORMAT_JSON, "One JSON object per line (label, class-id, "
          "confidence, scores, timestamp, duration)", "json"})
/* *INDENT-ON* */

/* The values are LstmPrecision's. */
#define GST_TYPE_LSTM_WEIGHTS (gst_lstm_weights_get_type ())
/* *INDENT-OFF* */
GST_LSTM_DEFINE_ENUM_TYPE (gst_lstm_weights_get_type, "GstLstmWeights",
    {LSTM_PRECISION_F32, "float32, as in the model file", "f32"},
    {LSTM_PRECISION_F16, "IEEE half: half the bytes per frame; the model "
          "with its weights rounded to half", "f16"},
    {LSTM_PRECISION_INT8, "8-bit integers with a float scale per row: a "
          "quarter of the bytes; the weights rounded to 255 levels per row",
        "int8"})
/* *INDENT-ON* */

static void gst_lstm_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec);
static void gst_lstm_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec);
static void gst_lstm_finalize (GObject * object);
static GstStateChangeReturn gst_lstm_change_state (GstElement * element,
    GstStateChange transition);
static GstFlowReturn gst_lstm_chain_list (GstPad * pad, GstObject * parent,
    GstBufferList * list);
static GstFlowReturn gst_lstm_chain (GstPad * pad, GstObject * parent,
    GstBuffer * buf);
static gboolean gst_lstm_sink_event (GstPad * pad, GstObject * parent,
    GstEvent * event);
static gboolean gst_lstm_sink_query (GstPad * pad, GstObject * parent,
    GstQuery * query);
static gboolean gst_lstm_src_query (GstPad * pad, GstObject * parent,
    GstQuery * query);
static void gst_lstm_reset_signal (GstLstm * self);

static void
gst_lstm_class_init (GstLstmClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;

  gobject_class->set_property = gst_lstm_set_property;
  gobject_class->get_property = gst_lstm_get_property;
  gobject_class->finalize = gst_lstm_finalize;

  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model file",
          "Path of the model (a .safetensors file with PyTorch nn.LSTM "
          "names). Can change while playing: the new file loads in the "
          "background and replaces the old model between buffers; a file "
          "that fails to load leaves the old model running and posts a "
          "warning. The request pads sink_%u take it too, each stream at "
          "its next buffer", DEFAULT_MODEL,
          rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_RESET_ON_DISCONT,
      g_param_spec_boolean ("reset-on-discont", "Reset on discont",
          "Reset the LSTM state at a buffer marked DISCONT (a gap or a "
          "seek: the frames before and after are not one sequence)",
          DEFAULT_RESET_ON_DISCONT, rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_OUTPUT_MODE,
      g_param_spec_enum ("output-mode", "Output mode",
          "Which frames produce a prediction (the request pads sink_%u: "
          "every frame only, a warning says so)", GST_TYPE_LSTM_OUTPUT_MODE,
          DEFAULT_OUTPUT_MODE, rw | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_STRIDE,
      g_param_spec_uint ("stride", "Stride",
          "With output-mode=stride, emit a prediction every this many frames "
          "(counted from the last reset)", 1, G_MAXINT, DEFAULT_STRIDE,
          rw | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_TEXT_FORMAT,
      g_param_spec_enum ("text-format", "Text format",
          "Line format when the output is text/x-raw",
          GST_TYPE_LSTM_TEXT_FORMAT, DEFAULT_TEXT_FORMAT,
          rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post messages",
          "Post element messages named 'lstm' on the bus with the "
          "predictions (see message-interval; not for the request pads "
          "sink_%u, a warning says so)", DEFAULT_POST_MESSAGES,
          rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_MESSAGE_INTERVAL,
      g_param_spec_uint64 ("message-interval", "Message interval",
          "Nanoseconds of stream between two 'lstm' messages (0: one per "
          "prediction)", 0, G_MAXUINT64, DEFAULT_MESSAGE_INTERVAL,
          rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_THREADS,
      g_param_spec_uint ("threads", "Threads",
          "BLAS threads the network may use (OpenBLAS keeps one pool per "
          "process, so the last value set applies to every element)", 1, 256,
          DEFAULT_THREADS, rw | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_STATE,
      g_param_spec_boxed ("state", "State",
          "The LSTM's hidden and cell state as bytes: read it to snapshot "
          "the stream, write it back to restore (it must come from a model "
          "of the same sizes; written before start, it is put in when the "
          "model loads; the next frame starts from it, whatever "
          "STREAM_START, caps, flush or DISCONT come before that frame; "
          "the reset signal after the write resets it). NULL while no "
          "model is running, and with "
          "the request pads sink_%u, whose streams each have their own "
          "(a warning says so)",
          G_TYPE_BYTES, rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_STREAM_WAIT,
      g_param_spec_uint64 ("stream-wait", "Stream wait",
          "With request pads sink_%u/src_%u (one stream each, stepped "
          "together): nanoseconds a stream's frames wait for the other "
          "streams' before they are stepped without them; a stream waited "
          "for in vain is not waited for again until its next buffer. The "
          "latency of src_%u includes it",
          0, G_MAXUINT64, DEFAULT_STREAM_WAIT, rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_WEIGHTS,
      g_param_spec_enum ("weights", "Weight precision",
          "How the weight matrices (input, recurrent, head) are stored while "
          "running; arithmetic stays float32. f16 and int8 read a half or a "
          "quarter of the bytes per frame: faster where the weights stream "
          "from L3 or memory (2 x 512 units: 2.3-2.7x with f16, 3.4-3.7x "
          "with int8), not where they fit in L2 (2 x 128 units: about the "
          "same speed, the widening costs what the bytes save). The "
          "outputs are the model's with its weights rounded (keyword "
          "spotting, full setting: the same accuracy as f32, "
          "probabilities within 0.003 "
          "with f16, 0.06 with int8; see the README). Plain LSTM models "
          "only. Can change while playing: the model is prepared in the "
          "background and swapped in between buffers, the state carrying "
          "on", GST_TYPE_LSTM_WEIGHTS,
          DEFAULT_WEIGHTS, rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_MAX_HELD_FRAMES,
      g_param_spec_uint ("max-held-frames", "Max held frames",
          "Bidirectional models only, which hold each sequence until it "
          "ends: the longest sequence held, in frames. A longer one is cut "
          "there (a warning says so): its frames so far run and their "
          "predictions go out as a sequence of their own, and the next "
          "frame starts a new one. 0: no limit (memory grows with the "
          "sequence)", 0, G_MAXUINT, DEFAULT_MAX_HELD_FRAMES,
          rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_SKIPPED_FRAMES,
      g_param_spec_uint64 ("skipped-frames", "Skipped frames",
          "Frames skipped because they held a NaN or an infinity (on any "
          "sink pad)", 0,
          G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  /**
   * GstLstm::reset:
   *
   * Resets the hidden and cell state before the next frame (in
   * `output-mode=last`, the sequence so far gets its prediction first).
   */
  signals[SIGNAL_RESET] = g_signal_new_class_handler ("reset",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
      G_CALLBACK (gst_lstm_reset_signal), NULL, NULL, NULL, G_TYPE_NONE, 0);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_lstm_streams_class_init (element_class);
  gst_element_class_set_static_metadata (element_class, "LSTM",
      "Filter/Analyzer/Audio",
      "Runs an LSTM network over a stream of feature frames, keeping its "
      "state across buffers, and emits predictions as vectors or text",
      "gst-lstm developers");

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_lstm_change_state);

  gst_type_mark_as_plugin_api (GST_TYPE_LSTM_OUTPUT_MODE, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_LSTM_WEIGHTS, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_LSTM_TEXT_FORMAT, 0);
  GST_DEBUG_CATEGORY_INIT (gst_lstm_debug, "lstm", 0, "LSTM inference");
}

static void
gst_lstm_init (GstLstm * self)
{
  g_mutex_init (&self->state_lock);
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_lstm_chain));
  gst_pad_set_chain_list_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_lstm_chain_list));
  gst_pad_set_event_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_lstm_sink_event));
  gst_pad_set_query_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_lstm_sink_query));
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_query_function (self->srcpad,
      GST_DEBUG_FUNCPTR (gst_lstm_src_query));
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->reset_on_discont = DEFAULT_RESET_ON_DISCONT;
  self->output_mode = DEFAULT_OUTPUT_MODE;
  self->held = g_array_new (FALSE, FALSE, sizeof (float));
  self->stride = DEFAULT_STRIDE;
  self->text_format = DEFAULT_TEXT_FORMAT;
  self->post_messages = DEFAULT_POST_MESSAGES;
  self->message_interval = DEFAULT_MESSAGE_INTERVAL;
  self->threads = DEFAULT_THREADS;
  self->max_held = DEFAULT_MAX_HELD_FRAMES;
  self->weights = DEFAULT_WEIGHTS;
  gst_lstm_streams_init (self);
  self->cur_format = DEFAULT_TEXT_FORMAT;
  self->cur_post_messages = DEFAULT_POST_MESSAGES;
  self->cur_interval = DEFAULT_MESSAGE_INTERVAL;
  gst_segment_init (&self->segment, GST_FORMAT_TIME);
}

/* ------------------------------------------------------- stream buffers */

static void
free_scratch (GstLstm * self)
{
  g_clear_pointer (&self->in_frames, g_free);
  g_clear_pointer (&self->out_frames, g_free);
  g_clear_pointer (&self->last_out, g_free);
  g_clear_pointer (&self->msg_sum, g_free);
  if (self->held != NULL)
    g_array_set_size (self->held, 0);
}

/* Sizes the scratch for the current model and channels: the streaming loop
 * allocates nothing but the output buffers. */
static void
alloc_scratch (GstLstm * self)
{
  free_scratch (self);
  self->out_size = lstm_model_get_output_size (self->model);
  self->in_frames = g_new0 (float, (gsize) CHUNK_FRAMES * self->channels);
  self->out_frames = g_new0 (float, (gsize) CHUNK_FRAMES * self->out_size);
  self->last_out = g_new0 (float, self->out_size);
  self->msg_sum = g_new0 (float, self->out_size);
}

/* Forget the sequence: the state, the pending last output, the counters.
 * A state the application restored and no frame has used yet stays: a
 * restore made while the stream starts (after set_state (PLAYING), before
 * STREAM_START and the caps) or before a seek is meant for the frames
 * that follow; a reset asked for after it (the reset signal, an
 * lstm-reset event) clears state_restored first. */
static void
reset_sequence (GstLstm * self)
{
  g_mutex_lock (&self->state_lock);
  if (self->state != NULL && !self->state_restored)
    lstm_state_reset (self->state);
  else if (self->state != NULL)
    GST_DEBUG_OBJECT (self, "restored state kept for the next frame");
  g_mutex_unlock (&self->state_lock);
  self->have_last = FALSE;
  self->have_any = FALSE;
  self->frames_in_seq = 0;
  self->seq_start = GST_CLOCK_TIME_NONE;
  if (self->held != NULL)
    g_array_set_size (self->held, 0);
}

static void
reset_messages (GstLstm * self)
{
  if (self->msg_sum != NULL)
    memset (self->msg_sum, 0, self->out_size * sizeof (float));
  self->msg_count = 0;
  self->msg_start = GST_CLOCK_TIME_NONE;
}

/* ------------------------------------------------------- model loading */

static LstmModel *
load_model (GstLstm * self, const gchar * path, LstmPrecision weights,
    GError ** error)
{
  if (path == NULL || *path == '\0') {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_IO,
        "no model file: set the 'model' property to a .safetensors file");
    return NULL;
  }
  return lstm_model_load_shared_precision (path, weights, error);
}

/* The model file and weights now running. */
void
gst_lstm_set_running (GstLstm * self, const gchar * path,
    LstmPrecision weights)
{
  GST_OBJECT_LOCK (self);
  g_free (self->running_path);
  self->running_path = g_strdup (path);
  self->running_weights = weights;
  GST_OBJECT_UNLOCK (self);
}

/* A model file or weights set while streaming were refused: unless newer
 * ones were set meanwhile, the properties go back to what runs (the
 * warning said the previous model keeps running). */
void
gst_lstm_revert_refused (GstLstm * self, const gchar * path,
    LstmPrecision weights)
{
  gboolean path_back = FALSE, weights_back = FALSE;

  GST_OBJECT_LOCK (self);
  if (self->running_path != NULL && g_strcmp0 (self->model_path, path) == 0
      && self->weights == weights) {
    path_back = g_strcmp0 (self->model_path, self->running_path) != 0;
    weights_back = self->weights != self->running_weights;
    g_free (self->model_path);
    self->model_path = g_strdup (self->running_path);
    self->weights = self->running_weights;
  }
  GST_OBJECT_UNLOCK (self);
  if (path_back)
    g_object_notify (G_OBJECT (self), "model");
  if (weights_back)
    g_object_notify (G_OBJECT (self), "weights");
}

/* Called without locks, in READY -> PAUSED. */
static gboolean
ensure_model (GstLstm * self)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *path = NULL;
  LstmPrecision weights;
  LstmModel *m;

  GST_OBJECT_LOCK (self);
  path = g_strdup (self->model_path);
  weights = self->weights;
  GST_OBJECT_UNLOCK (self);

  if (self->model != NULL)
    return TRUE;
  m = load_model (self, path, weights, &error);
  if (m == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
        ("Could not load the LSTM model."), ("%s", error->message));
    return FALSE;
  }
  self->model = m;
  g_mutex_lock (&self->state_lock);
  self->state = lstm_state_new (m, CHUNK_FRAMES);
  self->state_restored = FALSE;
  /* a state written before start: the first frame starts from it */
  if (self->start_state != NULL)
    self->state_restored = lstm_state_deserialize (self->state,
        self->start_state, &error);
  g_clear_pointer (&self->start_state, g_bytes_unref);
  g_mutex_unlock (&self->state_lock);
  if (error != NULL)
    GST_ELEMENT_WARNING (self, LIBRARY, SETTINGS,
        ("Could not restore the LSTM state set before start; the stream "
            "starts from a zero state."), ("%s", error->message));
  gst_lstm_set_running (self, path, weights);
  GST_INFO_OBJECT (self, "loaded %s: input %u, %u layers, hidden %u, "
      "output %u, weights %s", path, m->input_size, m->num_layers,
      m->hidden_size, lstm_model_get_output_size (m),
      lstm_precision_to_string (weights));
  return TRUE;
}

typedef struct
{
  GstLstm *self;
  gchar *path;
  LstmPrecision weights;
  guint serial;
} LoadJob;

/* A model set while streaming loads here, off the streaming thread. */
static gpointer
load_thread (gpointer data)
{
  LoadJob *job = data;
  GstLstm *self = job->self;
  g_autoptr (GError) error = NULL;
  LstmModel *m = load_model (self, job->path, job->weights, &error);

  GST_OBJECT_LOCK (self);
  if (job->serial != self->load_serial) {
    GST_OBJECT_UNLOCK (self);   /* a newer load replaced this one */
    g_clear_pointer (&m, lstm_model_unref);
  } else if (m == NULL) {
    /* the file running, with other weights: the precision was refused,
     * not the file (the same file again with the same weights is a
     * reload of a file that changed) */
    LstmPrecision running = self->running_weights;
    gboolean same_file = g_strcmp0 (job->path, self->running_path) == 0
        && job->weights != running
        && g_error_matches (error, LSTM_ERROR, LSTM_ERROR_UNSUPPORTED);
    GST_OBJECT_UNLOCK (self);
    /* the properties first: an application reading them on the warning
     * sees what runs */
    gst_lstm_revert_refused (self, job->path, job->weights);
    if (same_file)
      GST_ELEMENT_WARNING (self, LIBRARY, SETTINGS,
          ("Could not run the LSTM model with weights=%s; it keeps running "
              "with weights=%s.", lstm_precision_to_string (job->weights),
              lstm_precision_to_string (running)), ("%s", error->message));
    else
      GST_ELEMENT_WARNING (self, RESOURCE, OPEN_READ,
          ("Could not load the new LSTM model; the previous one keeps "
              "running."), ("%s", error->message));
  } else {
    g_clear_pointer (&self->pending_model, lstm_model_unref);
    self->pending_model = m;
    g_free (self->pending_path);
    self->pending_path = g_strdup (job->path);
    self->pending_weights = job->weights;
    GST_OBJECT_UNLOCK (self);
    GST_INFO_OBJECT (self, "model %s loaded, swapping in at the next buffer",
        job->path);
  }
  gst_object_unref (self);
  g_free (job->path);
  g_free (job);
  return NULL;
}

/* Called with the object lock: a model is running or about to. */
static gboolean
is_streaming (GstLstm * self)
{
  return GST_STATE (self) >= GST_STATE_PAUSED
      || GST_STATE_PENDING (self) == GST_STATE_PAUSED;
}

/* Called with the object lock. */
static void
start_load (GstLstm * self)
{
  LoadJob *job = g_new0 (LoadJob, 1);
  GThread *thread;

  job->self = gst_object_ref (self);
  job->path = g_strdup (self->model_path);
  job->weights = self->weights;
  job->serial = ++self->load_serial;
  thread = g_thread_new ("lstm-load", load_thread, job);
  g_thread_unref (thread);
}

/* ---------------------------------------------------------- properties */

static void
gst_lstm_set_property (GObject * object, guint prop_id, const GValue * value,
    GParamSpec * pspec)
{
  GstLstm *self = GST_LSTM (object);

  switch (prop_id) {
    case PROP_MODEL:{
      GST_OBJECT_LOCK (self);
      g_free (self->model_path);
      self->model_path = g_value_dup_string (value);
      if (is_streaming (self))
        start_load (self);
      GST_OBJECT_UNLOCK (self);
      break;
    }
    case PROP_WEIGHTS:{
      /* another precision is another model: loaded (or found in the
       * cache) in the background and swapped in, as for `model` */
      LstmPrecision weights = g_value_get_enum (value);
      GST_OBJECT_LOCK (self);
      if (self->weights != weights) {
        self->weights = weights;
        if (is_streaming (self))
          start_load (self);
      }
      GST_OBJECT_UNLOCK (self);
      break;
    }
    case PROP_STATE:{
      GBytes *bytes = g_value_get_boxed (value);
      g_autoptr (GError) error = NULL;
      if (bytes == NULL)
        break;
      /* between two computations of the streaming thread */
      g_mutex_lock (&self->state_lock);
      if (self->state == NULL) {
        /* before start (NULL, READY): kept, and checked against the model
         * when it loads (a warning then, on a bus that is running) */
        g_clear_pointer (&self->start_state, g_bytes_unref);
        self->start_state = g_bytes_ref (bytes);
      } else if (gst_lstm_streams_own_state (self, FALSE))
        g_set_error (&error, LSTM_ERROR, LSTM_ERROR_STATE, "the request "
            "pads' streams each have their own state, which the state "
            "property does not reach");
      else if (lstm_state_deserialize (self->state, bytes, &error))
        self->state_restored = TRUE;
      g_mutex_unlock (&self->state_lock);
      if (error != NULL) {
        GST_ELEMENT_WARNING (self, LIBRARY, SETTINGS,
            ("Could not restore the LSTM state."), ("%s", error->message));
      } else {
        /* a reset signal emitted before the restore does not undo it */
        GST_OBJECT_LOCK (self);
        self->pending_reset = FALSE;
        GST_OBJECT_UNLOCK (self);
      }
      break;
    }
    case PROP_RESET_ON_DISCONT:
      GST_OBJECT_LOCK (self);
      self->reset_on_discont = g_value_get_boolean (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_OUTPUT_MODE:
      GST_OBJECT_LOCK (self);
      self->output_mode = g_value_get_enum (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_STRIDE:
      GST_OBJECT_LOCK (self);
      self->stride = g_value_get_uint (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_TEXT_FORMAT:
      GST_OBJECT_LOCK (self);
      self->text_format = g_value_get_enum (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_POST_MESSAGES:
      GST_OBJECT_LOCK (self);
      self->post_messages = g_value_get_boolean (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_MESSAGE_INTERVAL:
      GST_OBJECT_LOCK (self);
      self->message_interval = g_value_get_uint64 (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_THREADS:
      GST_OBJECT_LOCK (self);
      self->threads = g_value_get_uint (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_MAX_HELD_FRAMES:
      GST_OBJECT_LOCK (self);
      self->max_held = g_value_get_uint (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_STREAM_WAIT:
      gst_lstm_streams_set_wait (self, g_value_get_uint64 (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_lstm_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstLstm *self = GST_LSTM (object);

  switch (prop_id) {
    case PROP_STATE:
      g_mutex_lock (&self->state_lock);
      if (self->state == NULL)  /* before start: what was written, if any */
        g_value_set_boxed (value, self->start_state);
      else
        g_value_take_boxed (value,
            !gst_lstm_streams_own_state (self, TRUE) ?
            lstm_state_serialize (self->state) : NULL);
      g_mutex_unlock (&self->state_lock);
      return;
    default:
      break;
  }

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string (value, self->model_path);
      break;
    case PROP_WEIGHTS:
      g_value_set_enum (value, self->weights);
      break;
    case PROP_SKIPPED_FRAMES:
      g_value_set_uint64 (value, self->skipped_frames);
      break;
    case PROP_RESET_ON_DISCONT:
      g_value_set_boolean (value, self->reset_on_discont);
      break;
    case PROP_OUTPUT_MODE:
      g_value_set_enum (value, self->output_mode);
      break;
    case PROP_STRIDE:
      g_value_set_uint (value, self->stride);
      break;
    case PROP_TEXT_FORMAT:
      g_value_set_enum (value, self->text_format);
      break;
    case PROP_POST_MESSAGES:
      g_value_set_boolean (value, self->post_messages);
      break;
    case PROP_MESSAGE_INTERVAL:
      g_value_set_uint64 (value, self->message_interval);
      break;
    case PROP_THREADS:
      g_value_set_uint (value, self->threads);
      break;
    case PROP_MAX_HELD_FRAMES:
      g_value_set_uint (value, self->max_held);
      break;
    case PROP_STREAM_WAIT:
      g_mutex_lock (&self->streams_lock);
      g_value_set_uint64 (value, self->stream_wait);
      g_mutex_unlock (&self->streams_lock);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_lstm_reset_signal (GstLstm * self)
{
  g_mutex_lock (&self->state_lock);
  self->state_restored = FALSE;
  g_mutex_unlock (&self->state_lock);
  GST_OBJECT_LOCK (self);
  self->pending_reset = TRUE;
  GST_OBJECT_UNLOCK (self);
  gst_lstm_streams_reset (self);
}

static void
gst_lstm_finalize (GObject * object)
{
  GstLstm *self = GST_LSTM (object);

  g_free (self->model_path);
  g_free (self->running_path);
  g_free (self->pending_path);
  g_clear_pointer (&self->pending_model, lstm_model_unref);
  g_clear_pointer (&self->state, lstm_state_free);
  g_clear_pointer (&self->start_state, g_bytes_unref);
  g_mutex_clear (&self->state_lock);
  g_clear_pointer (&self->model, lstm_model_unref);
  free_scratch (self);
  g_array_unref (self->held);
  gst_lstm_streams_finalize (self);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

/* --------------------------------------------------------------- time */

/* PTS of frame i counted from a frame at `base` (no drift: one division). */
static GstClockTime
frame_time (GstLstm * self, GstClockTime base, guint64 i)
{
  if (!GST_CLOCK_TIME_IS_VALID (base))
    return GST_CLOCK_TIME_NONE;
  return base + gst_util_uint64_scale_int (i, GST_SECOND, self->rate);
}

/* ----------------------------------------------------------- messages */

static void
post_message (GstLstm * self, GstClockTime end)
{
  GstStructure *s;
  GValue scores = G_VALUE_INIT, v = G_VALUE_INIT;
  GstClockTime start = self->msg_start;
  guint id, i;
  g_autofree gchar *label = NULL;

  lstm_vector_scale (self->msg_sum, 1.0f / self->msg_count, self->out_size);
  id = lstm_argmax (self->msg_sum, self->out_size);
  label = self->model->labels ? g_strdup (self->model->labels[id]) :
      g_strdup_printf ("%u", id);

  gst_value_array_init (&scores, self->out_size);
  g_value_init (&v, G_TYPE_FLOAT);
  for (i = 0; i < self->out_size; i++) {
    g_value_set_float (&v, self->msg_sum[i]);
    gst_value_array_append_value (&scores, &v);
  }
  g_value_unset (&v);

  s = gst_structure_new ("lstm",
      "timestamp", G_TYPE_UINT64, start,
      "stream-time", G_TYPE_UINT64, gst_segment_to_stream_time (&self->segment,
          GST_FORMAT_TIME, start),
      "running-time", G_TYPE_UINT64,
      gst_segment_to_running_time (&self->segment, GST_FORMAT_TIME, start),
      "duration", G_TYPE_UINT64, GST_CLOCK_TIME_IS_VALID (end)
      && GST_CLOCK_TIME_IS_VALID (start) && end > start ? end - start : 0,
      "class", G_TYPE_STRING, label,
      "class-id", G_TYPE_INT, (gint) id,
      "confidence", G_TYPE_DOUBLE, (gdouble) self->msg_sum[id], NULL);
  gst_structure_take_value (s, "scores", &scores);
  reset_messages (self);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

/* Counts one emitted prediction towards the next message. */
static void
account_message (GstLstm * self, const float *scores, GstClockTime pts,
    GstClockTime duration)
{
  GstClockTime end;

  if (!self->cur_post_messages)
    return;
  if (self->msg_count == 0)
    self->msg_start = pts;
  lstm_vector_add (self->msg_sum, scores, self->out_size);
  self->msg_count++;
  end = GST_CLOCK_TIME_IS_VALID (pts) && GST_CLOCK_TIME_IS_VALID (duration) ?
      pts + duration : GST_CLOCK_TIME_NONE;
  if (self->output_mode == GST_LSTM_OUTPUT_MODE_LAST || self->cur_interval == 0
      || !GST_CLOCK_TIME_IS_VALID (end)
      || !GST_CLOCK_TIME_IS_VALID (self->msg_start)
      || end - self->msg_start >= self->cur_interval)
    post_message (self, end);
}

/* --------------------------------------------------------------- output */

static gchar *
format_line (GstLstm * self, const float *scores, GstClockTime pts,
    GstClockTime duration, GstLstmTextFormat format)
{
  guint id = lstm_argmax (scores, self->out_size), i;
  g_autofree gchar *num = NULL;
  const gchar *label;
  GString *line;

  if (self->model->labels == NULL)
    label = num = g_strdup_printf ("%u", id);
  else
    label = self->model->labels[id];

  if (format == GST_LSTM_TEXT_FORMAT_LABEL)
    return g_strdup_printf ("%s %.4f\n", label, scores[id]);

  line = g_string_new ("{\"label\":");
  {
    g_autoptr (JsonNode) node = json_node_init_string (json_node_alloc (),
        label);
    g_autofree gchar *quoted = json_to_string (node, FALSE);
    g_string_append (line, quoted);
  }
  g_string_append_printf (line, ",\"class-id\":%u,\"confidence\":%.6g,"
      "\"scores\":[", id, scores[id]);
  for (i = 0; i < self->out_size; i++)
    g_string_append_printf (line, "%s%.6g", i ? "," : "", scores[i]);
  g_string_append_printf (line, "],\"timestamp\":%" G_GINT64_FORMAT
      ",\"duration\":%" G_GINT64_FORMAT "}\n",
      GST_CLOCK_TIME_IS_VALID (pts) ? (gint64) pts : -1,
      GST_CLOCK_TIME_IS_VALID (duration) ? (gint64) duration : -1);
  return g_string_free (line, FALSE);
}

/* The first output after a discontinuity (a DISCONT input, a flush, a new
 * stream or caps, the start) is DISCONT, as GStreamer's filters mark it,
 * so that what follows (another lstm: reset-on-discont) sees the gap;
 * set after the sequence before it has ended (its last-mode prediction
 * comes before the gap). */
static void
stamp_discont (GstLstm * self, GstBuffer * out)
{
  if (self->discont_out)
    GST_BUFFER_FLAG_SET (out, GST_BUFFER_FLAG_DISCONT);
  else
    GST_BUFFER_FLAG_UNSET (out, GST_BUFFER_FLAG_DISCONT);
  self->discont_out = FALSE;
}

/* Pushes one prediction as its own buffer (text, or stride/last vectors). */
static GstFlowReturn
emit_prediction (GstLstm * self, const float *scores, GstClockTime pts,
    GstClockTime duration)
{
  GstBuffer *out;

  account_message (self, scores, pts, duration);
  if (self->text) {
    gchar *line = format_line (self, scores, pts, duration, self->cur_format);
    out = gst_buffer_new_wrapped (line, strlen (line));
  } else {
    out = gst_buffer_new_memdup (scores, self->out_size * sizeof (float));
  }
  GST_BUFFER_PTS (out) = pts;
  GST_BUFFER_DURATION (out) = duration;
  stamp_discont (self, out);
  return gst_pad_push (self->srcpad, out);
}

/* The sequence ends (EOS, discont, reset, new stream): in last mode its
 * last frame's prediction goes out now. */
static GstFlowReturn run_held (GstLstm * self);

static GstFlowReturn
end_sequence (GstLstm * self)
{
  GstClockTime end, dur = GST_CLOCK_TIME_NONE;

  if (self->held->len > 0) {
    GstFlowReturn ret = run_held (self);
    if (ret != GST_FLOW_OK)
      return ret;
  }
  if (self->output_mode != GST_LSTM_OUTPUT_MODE_LAST || !self->have_last)
    return GST_FLOW_OK;
  self->have_last = FALSE;
  end = frame_time (self, self->last_pts, 1);
  if (GST_CLOCK_TIME_IS_VALID (end)
      && GST_CLOCK_TIME_IS_VALID (self->seq_start))
    dur = end - self->seq_start;
  return emit_prediction (self, self->last_out, self->seq_start, dur);
}

/* ------------------------------------------------------------ caps */

/* What the src pad can give for the stream as negotiated: prediction
 * vectors at the output rate, or text. */
static GstCaps *
src_caps_offer (GstLstm * self)
{
  GstCaps *ours;
  gint rate = self->rate;

  if (self->output_mode == GST_LSTM_OUTPUT_MODE_STRIDE)
    rate = MAX (1, rate / (gint) self->stride);
  ours = gst_lstm_frame_caps ((gint) self->out_size, rate);
  gst_caps_append (ours, gst_caps_new_simple ("text/x-raw",
          "format", G_TYPE_STRING, "utf8", NULL));
  return ours;
}

static gboolean
negotiate_src (GstLstm * self)
{
  g_autoptr (GstCaps) ours = src_caps_offer (self);
  g_autoptr (GstCaps) peer = NULL;
  GstCaps *caps;
  gboolean ok;

  peer = gst_pad_peer_query_caps (self->srcpad, ours);
  if (peer == NULL || gst_caps_is_empty (peer)) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("Downstream accepts neither prediction vectors nor text."),
        ("offered %" GST_PTR_FORMAT, ours));
    return FALSE;
  }
  caps = gst_caps_fixate (gst_caps_copy_nth (peer, 0));
  self->text = gst_structure_has_name (gst_caps_get_structure (caps, 0),
      "text/x-raw");
  GST_DEBUG_OBJECT (self, "output caps %" GST_PTR_FORMAT, caps);
  ok = gst_pad_push_event (self->srcpad, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  self->need_caps = !ok;
  return ok;
}

/* Reads the frame format off sink caps; FALSE if they are not a frame
 * stream we take or the size differs from the model's. */
static gboolean
set_sink_caps (GstLstm * self, GstCaps * caps)
{
  guint channels, rate;
  gboolean s16, changed;

  if (self->model == NULL)
    return FALSE;
  if (!gst_lstm_parse_audio_caps (caps, &channels, &rate, &s16))
    return FALSE;
  if (channels != self->model->input_size) {
    g_autofree gchar *path = NULL;
    /* sticky caps come back with every buffer upstream tries: say it once */
    if (self->refused_channels == channels)
      return FALSE;
    self->refused_channels = channels;
    g_object_get (self, "model", &path, NULL);
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("The stream's frame size does not match the model."),
        ("the stream carries %u values per frame (caps channels=%u) but the "
            "model %s takes %u input features", channels, channels, path,
            self->model->input_size));
    return FALSE;
  }
  changed = channels != self->channels || (gint) rate != self->rate
      || self->s16 != s16;
  if (changed && self->channels != 0) {
    end_sequence (self);
    reset_sequence (self);
  }
  if (changed)
    self->discont_out = TRUE;
  self->channels = channels;
  self->rate = rate;
  self->s16 = s16;
  alloc_scratch (self);
  reset_messages (self);
  return negotiate_src (self);
}

GstCaps *
gst_lstm_sink_query_caps (GstLstm * self, GstCaps * filter)
{
  GstCaps *tmpl = gst_pad_get_pad_template_caps (self->sinkpad);
  GstCaps *caps, *result;

  /* The model's size first, so upstream that can choose picks it; then any
   * size, so that a wrong one reaches set_sink_caps and its clear error
   * rather than a bare not-negotiated. */
  GST_OBJECT_LOCK (self);
  if (self->model != NULL) {
    caps = gst_caps_copy (tmpl);
    gst_caps_set_simple (caps, "channels", G_TYPE_INT,
        (gint) self->model->input_size, NULL);
    gst_caps_append (caps, gst_caps_ref (tmpl));
  } else {
    caps = gst_caps_ref (tmpl);
  }
  GST_OBJECT_UNLOCK (self);
  gst_caps_unref (tmpl);

  if (filter == NULL)
    return caps;
  result = gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
  gst_caps_unref (caps);
  return result;
}

static gboolean
gst_lstm_sink_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  GstLstm *self = GST_LSTM (parent);

  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS:{
      GstCaps *filter, *caps;
      gst_query_parse_caps (query, &filter);
      caps = gst_lstm_sink_query_caps (self, filter);
      gst_query_set_caps_result (query, caps);
      gst_caps_unref (caps);
      return TRUE;
    }
    case GST_QUERY_ALLOCATION:
      /* Downstream gets other caps and other buffer sizes (predictions,
       * not frames): its pools are no use upstream, so none is proposed. */
      return FALSE;
    default:
      return gst_pad_query_default (pad, parent, query);
  }
}

static gboolean
gst_lstm_src_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  GstLstm *self = GST_LSTM (parent);

  if (GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
    /* Every frame's prediction leaves with the buffer that carried the
     * frame: no delay of our own, so upstream's answer stands. (In
     * output-mode=last a prediction waits for its sequence to end, which
     * is the point of that mode, not a latency.) */
    gboolean live, bidirectional, ok = gst_pad_peer_query (self->sinkpad,
        query);
    GstClockTime min, max;

    /* (any thread: the model is swapped under the object lock) */
    GST_OBJECT_LOCK (self);
    bidirectional = self->model != NULL && self->model->num_directions == 2;
    GST_OBJECT_UNLOCK (self);
    /* A bidirectional model holds each sequence until it ends: no bound. */
    if (ok && bidirectional) {
      gst_query_parse_latency (query, &live, &min, &max);
      gst_query_set_latency (query, live, min, GST_CLOCK_TIME_NONE);
    }
    return ok;
  }
  if (GST_QUERY_TYPE (query) == GST_QUERY_CAPS) {
    /* while streaming, the vectors of this stream or text, so that
     * downstream may ask for the other (relinked to a text branch, say:
     * renegotiated at the next buffer); before, the template's */
    GstCaps *filter, *caps;
    gst_query_parse_caps (query, &filter);
    caps = self->channels != 0 ? src_caps_offer (self) :
        gst_pad_get_pad_template_caps (pad);
    if (filter != NULL) {
      GstCaps *both = gst_caps_intersect_full (filter, caps,
          GST_CAPS_INTERSECT_FIRST);
      gst_caps_unref (caps);
      caps = both;
    }
    gst_query_set_caps_result (query, caps);
    gst_caps_unref (caps);
    return TRUE;
  }
  return gst_pad_query_default (pad, parent, query);
}

/* -------------------------------------------------------------- events */

static gboolean
gst_lstm_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstLstm *self = GST_LSTM (parent);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:{
      GstCaps *caps;
      gboolean ok;
      gst_event_parse_caps (event, &caps);
      ok = set_sink_caps (self, caps);
      gst_event_unref (event);
      return ok;
    }
    case GST_EVENT_STREAM_START:
      end_sequence (self);
      reset_sequence (self);
      self->discont_out = TRUE;
      break;
    case GST_EVENT_SEGMENT:
      gst_event_copy_segment (event, &self->segment);
      self->next_pts = self->segment.format == GST_FORMAT_TIME ?
          self->segment.start : GST_CLOCK_TIME_NONE;
      break;
    case GST_EVENT_FLUSH_STOP:
      reset_sequence (self);
      reset_messages (self);
      self->discont_out = TRUE;
      gst_segment_init (&self->segment, GST_FORMAT_TIME);
      self->next_pts = GST_CLOCK_TIME_NONE;
      break;
    case GST_EVENT_EOS:
      end_sequence (self);
      if (self->msg_count > 0)
        post_message (self, self->next_pts);
      break;
    case GST_EVENT_SEGMENT_DONE:
      /* the end of a segment (looping segment seeks): the sequence ends
       * there, its last-mode prediction and pending message go out within
       * the segment, before the event; the next segment starts afresh */
      end_sequence (self);
      if (self->msg_count > 0)
        post_message (self, self->next_pts);
      reset_sequence (self);
      reset_messages (self);
      self->discont_out = TRUE;
      break;
    case GST_EVENT_CUSTOM_DOWNSTREAM:
      if (gst_event_has_name (event, "lstm-reset")) {
        GST_DEBUG_OBJECT (self, "lstm-reset event");
        g_mutex_lock (&self->state_lock);
        self->state_restored = FALSE;
        g_mutex_unlock (&self->state_lock);
        end_sequence (self);
        reset_sequence (self);
      }
      break;
    default:
      break;
  }
  return gst_pad_event_default (pad, parent, event);
}

/* ------------------------------------------------------------ streaming */

/* A model loaded in the background (from path, with weights) takes over
 * between buffers: with the same sizes the state carries on, with other
 * sizes it starts afresh. */
static GstFlowReturn
swap_model (GstLstm * self, LstmModel * m, const gchar * path,
    LstmPrecision weights)
{
  GstFlowReturn ret = GST_FLOW_OK;
  LstmModel *old;

  if (self->channels != 0 && m->input_size != self->channels) {
    guint takes = m->input_size;
    lstm_model_unref (m);
    /* before the warning */
    gst_lstm_revert_refused (self, path, weights);
    GST_ELEMENT_WARNING (self, STREAM, FORMAT,
        ("The new LSTM model does not fit the stream; the previous one keeps "
            "running."), ("the new model %s takes %u input features but the "
            "stream carries %u per frame", path, takes, self->channels));
    return GST_FLOW_OK;
  }
  gst_lstm_set_running (self, path, weights);
  /* other sizes close the sequence: in last mode its prediction comes
   * from the model that saw it */
  if (!lstm_state_fits (self->state, m))
    ret = end_sequence (self);
  /* streams_lock too: the request pads' streams read the model under it
   * (and adopt it at their next buffers, gstlstm-streams.c) */
  g_mutex_lock (&self->streams_lock);
  GST_OBJECT_LOCK (self);
  old = self->model;
  self->model = m;
  GST_OBJECT_UNLOCK (self);
  g_mutex_unlock (&self->streams_lock);

  if (!lstm_state_fits (self->state, m)) {
    /* Other sizes: a fresh state, new scratch, maybe new output caps. */
    GST_INFO_OBJECT (self, "new model has other sizes: state reset");
    g_mutex_lock (&self->state_lock);
    lstm_state_free (self->state);
    self->state = lstm_state_new (m, CHUNK_FRAMES);
    self->state_restored = FALSE;
    g_mutex_unlock (&self->state_lock);
    reset_sequence (self);
    if (self->channels != 0) {
      guint old_out = self->out_size;
      alloc_scratch (self);
      reset_messages (self);
      if (self->out_size != old_out)
        self->need_caps = TRUE;
    }
  }
  lstm_model_unref (old);
  return ret;
}

/* Pushes the vector outputs collected from a buffer list so far (see
 * gst_lstm_chain_list), before anything else goes downstream. */
static GstFlowReturn
push_collected (GstLstm * self, GstBufferList * collect)
{
  GstBufferList *out;
  guint n;

  if (collect == NULL || (n = gst_buffer_list_length (collect)) == 0)
    return GST_FLOW_OK;
  /* the copy holds the buffers; `collect` goes on empty */
  out = gst_buffer_list_copy (collect);
  gst_buffer_list_remove (collect, 0, n);
  return gst_pad_push_list (self->srcpad, out);
}

/* Applies what changed since the previous buffer (a new model, a reset,
 * new settings, renegotiation); `collect` as in process_buffer. */
static GstFlowReturn
apply_pending (GstLstm * self, GstBuffer * buf, GstBufferList * collect)
{
  LstmModel *m;
  g_autofree gchar *path = NULL;
  LstmPrecision weights;
  gboolean reset, reset_on_discont;
  GstFlowReturn ret = GST_FLOW_OK;

  GST_OBJECT_LOCK (self);
  m = g_steal_pointer (&self->pending_model);
  path = g_steal_pointer (&self->pending_path);
  weights = self->pending_weights;
  reset = self->pending_reset;
  self->pending_reset = FALSE;
  reset_on_discont = self->reset_on_discont;
  self->cur_format = self->text_format;
  self->cur_post_messages = self->post_messages;
  self->cur_interval = self->message_interval;
  self->cur_max_held = self->max_held;
  GST_OBJECT_UNLOCK (self);

  if (GST_BUFFER_IS_DISCONT (buf) && reset_on_discont
      && self->frames_in_seq > 0) {
    GST_DEBUG_OBJECT (self, "discont: state reset");
    reset = TRUE;
  }
  /* all of these may push a prediction or caps */
  if (reset || m != NULL || self->need_caps
      || GST_PAD_NEEDS_RECONFIGURE (self->srcpad))
    ret = push_collected (self, collect);
  /* the state resets even when the push before it failed */
  if (reset) {
    if (ret == GST_FLOW_OK)
      ret = end_sequence (self);
    reset_sequence (self);
  }
  if (m != NULL && ret == GST_FLOW_OK) {
    ret = swap_model (self, m, path, weights);
  } else if (m != NULL) {
    /* not swapped in: the next buffer tries again, unless a newer load
     * has replaced it meanwhile */
    GST_OBJECT_LOCK (self);
    if (self->pending_model == NULL) {
      self->pending_model = g_steal_pointer (&m);
      self->pending_path = g_steal_pointer (&path);
      self->pending_weights = weights;
    }
    GST_OBJECT_UNLOCK (self);
    g_clear_pointer (&m, lstm_model_unref);
  }
  /* downstream asked to renegotiate (e.g. it now wants text) */
  if (gst_pad_check_reconfigure (self->srcpad))
    self->need_caps = TRUE;
  if (self->need_caps && !negotiate_src (self))
    return GST_FLOW_NOT_NEGOTIATED;
  return ret;
}

/* Warns about non-finite frames at most once a second. */
void
gst_lstm_count_skipped (GstLstm * self, guint skipped_now)
{
  gint64 now = g_get_monotonic_time ();
  guint64 total;
  gboolean warn;

  /* the object lock: the request pads' streams count here from their own
   * threads */
  GST_OBJECT_LOCK (self);
  total = self->skipped_frames += skipped_now;
  warn = self->last_warning_time == 0
      || now - self->last_warning_time >= G_USEC_PER_SEC;
  if (warn)
    self->last_warning_time = now;
  GST_OBJECT_UNLOCK (self);
  if (!warn)
    return;
  GST_ELEMENT_WARNING (self, STREAM, FORMAT,
      ("Skipped frames holding NaN or infinity."),
      ("%" G_GUINT64_FORMAT " frames skipped so far; the LSTM state is kept "
          "as it was before each of them", total));
}

/* Runs n <= CHUNK_FRAMES frames, skipping non-finite ones: a skipped frame
 * leaves the state alone and repeats the previous output. out: [n, O]. */
static void
run_frames (GstLstm * self, const float *in, guint n, float *out)
{
  guint O = self->out_size, skipped;

  g_mutex_lock (&self->state_lock);
  skipped = lstm_forward_finite (self->model, self->state, in, n, out,
      self->have_any ? self->last_out : NULL);
  self->state_restored = FALSE;
  g_mutex_unlock (&self->state_lock);
  memcpy (self->last_out, out + (gsize) (n - 1) * O, O * sizeof (float));
  self->have_any = TRUE;
  if (skipped > 0)
    gst_lstm_count_skipped (self, skipped);
}

/* Emits what the output mode wants from n frames starting at `pts`. */
static GstFlowReturn
emit_frames (GstLstm * self, const float *out, guint n, GstClockTime pts,
    guint64 first_index)
{
  GstClockTime frame_dur = frame_time (self, 0, 1);
  GstFlowReturn ret = GST_FLOW_OK;
  guint i, O = self->out_size;

  for (i = 0; i < n && ret == GST_FLOW_OK; i++) {
    guint64 k = first_index + i + 1;    /* frames of the sequence so far */
    GstClockTime t = frame_time (self, pts, i);
    switch (self->output_mode) {
      case GST_LSTM_OUTPUT_MODE_FRAME:
        ret = emit_prediction (self, out + (gsize) i * O, t, frame_dur);
        break;
      case GST_LSTM_OUTPUT_MODE_STRIDE:
        if (k % self->stride == 0) {
          /* the prediction covers the stride frames ending with this one */
          GstClockTime back = frame_time (self, 0, self->stride - 1);
          GstClockTime start = GST_CLOCK_TIME_IS_VALID (t) ?
              (t >= back ? t - back : 0) : GST_CLOCK_TIME_NONE;
          ret = emit_prediction (self, out + (gsize) i * O, start,
              frame_time (self, 0, self->stride));
        }
        break;
      case GST_LSTM_OUTPUT_MODE_LAST:
        break;
    }
  }
  if (self->output_mode == GST_LSTM_OUTPUT_MODE_LAST && n > 0) {
    self->have_last = TRUE;
    self->last_pts = frame_time (self, pts, n - 1);
  }
  return ret;
}

void
gst_lstm_out_pool_clear (GstLstmOutPool * p)
{
  if (p->pool != NULL)
    gst_buffer_pool_set_active (p->pool, FALSE);
  gst_clear_object (&p->pool);
  p->bytes = 0;
}

/* A pool of POOL_MIN_BUFFERS buffers of `bytes` (so that a buffer going
 * back and the next one leaving never meet an empty pool). */
static gboolean
make_pool (GstLstmOutPool * p, gsize bytes)
{
  GstBufferPool *pool = gst_buffer_pool_new ();
  GstStructure *config = gst_buffer_pool_get_config (pool);

  gst_lstm_out_pool_clear (p);
  gst_buffer_pool_config_set_params (config, NULL, bytes, POOL_MIN_BUFFERS, 0);
  if (!gst_buffer_pool_set_config (pool, config)
      || !gst_buffer_pool_set_active (pool, TRUE)) {
    gst_object_unref (pool);
    return FALSE;
  }
  p->pool = pool;
  p->bytes = bytes;
  return TRUE;
}

/* Output buffers of vector output come from a pool, so that in a steady
 * stream nothing is allocated per buffer: the pool's buffers have the
 * largest size seen so far (rounded up to a power of two, so it is
 * rebuilt a few times at most) and are cut to each buffer's size.
 * Buffers above POOL_MAX_BYTES are allocated as they come. */
GstBuffer *
gst_lstm_out_pool_buffer (GstLstmOutPool * p, gsize bytes)
{
  GstBuffer *buf = NULL;
  gsize size = 256;

  if (bytes <= POOL_MAX_BYTES) {
    while (size < bytes)
      size <<= 1;
    if (p->pool == NULL || bytes > p->bytes)
      make_pool (p, size);
    if (p->pool != NULL && gst_buffer_pool_acquire_buffer (p->pool,
            &buf, NULL) == GST_FLOW_OK) {
      gst_buffer_set_size (buf, bytes);
      return buf;
    }
  }
  return gst_buffer_new_allocate (NULL, bytes, NULL);
}

/* Frame mode with vector output: the outputs of the whole buffer go into
 * one output buffer, written in place by the forward pass; pushed, or
 * added to `collect` (a list pushed later) when that is not NULL. */
static GstFlowReturn
process_vectors (GstLstm * self, const guint8 * data, guint n, GstClockTime pts,
    GstBufferList * collect)
{
  GstBuffer *out = gst_lstm_out_pool_buffer (&self->out_pool,
      (gsize) n * self->out_size * sizeof (float));
  GstMapInfo map;
  guint done = 0, O = self->out_size, I = self->channels;

  gst_buffer_map (out, &map, GST_MAP_WRITE);
  while (done < n) {
    guint c = MIN (n - done, CHUNK_FRAMES), i;
    float *o = (float *) map.data + (gsize) done * O;
    if (self->s16)
      lstm_frames_from_s16 ((const gint16 *) data + (gsize) done * I,
          (gsize) c * I, self->in_frames);
    else
      memcpy (self->in_frames, data + (gsize) done * I * 4, (gsize) c * I * 4);
    run_frames (self, self->in_frames, c, o);
    for (i = 0; i < c && self->cur_post_messages; i++)
      account_message (self, o + (gsize) i * O, frame_time (self, pts,
              done + i), frame_time (self, 0, 1));
    done += c;
  }
  gst_buffer_unmap (out, &map);
  self->frames_in_seq += n;
  GST_BUFFER_PTS (out) = pts;
  GST_BUFFER_DURATION (out) = GST_CLOCK_TIME_IS_VALID (pts) ?
      frame_time (self, pts, n) - pts : frame_time (self, 0, n);
  stamp_discont (self, out);
  if (collect != NULL) {
    gst_buffer_list_add (collect, out);
    return GST_FLOW_OK;
  }
  return gst_pad_push (self->srcpad, out);
}

static GstFlowReturn
process_predictions (GstLstm * self, const guint8 * data, guint n,
    GstClockTime pts)
{
  GstFlowReturn ret = GST_FLOW_OK;
  guint done = 0, I = self->channels;

  while (done < n && ret == GST_FLOW_OK) {
    guint c = MIN (n - done, CHUNK_FRAMES);
    if (self->s16)
      lstm_frames_from_s16 ((const gint16 *) data + (gsize) done * I,
          (gsize) c * I, self->in_frames);
    else
      memcpy (self->in_frames, data + (gsize) done * I * 4, (gsize) c * I * 4);
    if (self->frames_in_seq == 0)
      self->seq_start = frame_time (self, pts, done);
    run_frames (self, self->in_frames, c, self->out_frames);
    ret = emit_frames (self, self->out_frames, c, frame_time (self, pts,
            done), self->frames_in_seq);
    self->frames_in_seq += c;
    done += c;
  }
  return ret;
}

/* Bidirectional model: n frames join the sequence held until its end.
 * A non-finite frame is held as a copy of the one before (zeros first), so
 * that every frame keeps its prediction; it is counted as skipped. */
static void
hold_some (GstLstm * self, const guint8 * data, guint n, GstClockTime pts)
{
  guint I = self->channels, i, skipped = 0;
  gsize at = self->held->len;

  if (at == 0)
    self->held_pts = pts;
  g_array_set_size (self->held, at + (gsize) n * I);
  for (i = 0; i < n; i++) {
    float *x = &g_array_index (self->held, float, at + (gsize) i * I);
    if (self->s16)
      lstm_frames_from_s16 ((const gint16 *) data + (gsize) i * I, I, x);
    else
      memcpy (x, data + (gsize) i * I * 4, (gsize) I * 4);
    if (!lstm_frame_is_finite (x, I)) {
      if (at + i * I > 0)
        memcpy (x, x - I, (gsize) I * sizeof (float));
      else
        memset (x, 0, (gsize) I * sizeof (float));
      skipped++;
    }
  }
  self->frames_in_seq += n;
  if (skipped > 0)
    gst_lstm_count_skipped (self, skipped);
}

/* Holds the frames; a sequence that reaches max-held-frames is cut there:
 * it runs and its predictions go out, and the rest starts a new one. */
static GstFlowReturn
hold_frames (GstLstm * self, const guint8 * data, guint n, GstClockTime pts)
{
  gsize frame_bytes = (gsize) self->channels * (self->s16 ? 2 : 4);
  guint cap = self->cur_max_held, done = 0;
  GstFlowReturn ret = GST_FLOW_OK;

  while (done < n && ret == GST_FLOW_OK) {
    guint held = self->held->len / self->channels, c = n - done;
    /* (max-held-frames may have been lowered below what is held) */
    if (cap > 0)
      c = held >= cap ? 0 : MIN (c, cap - held);
    hold_some (self, data + done * frame_bytes, c, frame_time (self, pts,
            done));
    done += c;
    if (cap > 0 && held + c >= cap) {
      /* warned of once per run (from READY to PAUSED); then in the log */
      GST_INFO_OBJECT (self, "sequence cut at %u held frames", cap);
      if (!self->warned_cut)
        GST_ELEMENT_WARNING (self, STREAM, FORMAT,
          ("A sequence for the bidirectional model reached max-held-frames "
              "and was cut there."), ("%u frames held; the predictions of "
              "those go out as a sequence of their own and the next frame "
              "starts a new one", cap));
      self->warned_cut = TRUE;
      ret = end_sequence (self);
      reset_sequence (self);
    }
  }
  return ret;
}

/* The held sequence through the model from a fresh state (both directions
 * see all of it), its predictions out as the output mode says. */
static GstFlowReturn
run_held (GstLstm * self)
{
  guint I = self->channels, O = self->out_size;
  guint n = self->held->len / I;
  g_autofree float *out = g_new (float, (gsize) n * O);
  GstFlowReturn ret;

  g_mutex_lock (&self->state_lock);
  lstm_state_reset (self->state);
  lstm_forward (self->model, self->state, (const float *) self->held->data, n,
      out);
  g_mutex_unlock (&self->state_lock);
  g_array_set_size (self->held, 0);
  memcpy (self->last_out, out + (gsize) (n - 1) * O, O * sizeof (float));
  self->have_any = TRUE;
  self->seq_start = self->held_pts;
  if (self->output_mode == GST_LSTM_OUTPUT_MODE_FRAME && !self->text) {
    GstBuffer *buf = gst_buffer_new_memdup (out, (gsize) n * O * 4);
    guint i;
    for (i = 0; i < n && self->cur_post_messages; i++)
      account_message (self, out + (gsize) i * O, frame_time (self,
              self->held_pts, i), frame_time (self, 0, 1));
    GST_BUFFER_PTS (buf) = self->held_pts;
    GST_BUFFER_DURATION (buf) = frame_time (self, 0, n);
    stamp_discont (self, buf);
    return gst_pad_push (self->srcpad, buf);
  }
  ret = emit_frames (self, out, n, self->held_pts, 0);
  return ret;
}

gboolean
gst_lstm_map_frames (GstLstm * self, GstBuffer * buf, guint channels,
    gboolean s16, GstMapInfo * map, guint * n_frames)
{
  gsize frame_bytes = (gsize) channels * (s16 ? 2 : 4);

  gst_buffer_map (buf, map, GST_MAP_READ);
  if (map->size % frame_bytes != 0) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("A buffer does not hold a whole number of frames."),
        ("%" G_GSIZE_FORMAT " bytes is not a multiple of the %" G_GSIZE_FORMAT
            "-byte frame (%u %s values)", map->size, frame_bytes, channels,
            s16 ? "S16LE" : "F32LE"));
    gst_buffer_unmap (buf, map);
    return FALSE;
  }
  *n_frames = map->size / frame_bytes;
  return TRUE;
}

/* One input buffer. collect: NULL, or a list that takes the vector
 * outputs (frame mode) instead of pushing them; whatever else this buffer
 * pushes (caps, predictions) goes after the list's buffers. */
static GstFlowReturn
process_buffer (GstLstm * self, GstBuffer * buf, GstBufferList * collect)
{
  GstFlowReturn ret;
  GstMapInfo map;
  GstClockTime pts;
  guint n;

  if (self->model == NULL || self->in_frames == NULL) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL),
        ("a buffer arrived before the caps were set"));
    gst_buffer_unref (buf);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  ret = apply_pending (self, buf, collect);
  if (ret != GST_FLOW_OK) {
    gst_buffer_unref (buf);
    return ret;
  }
  /* after apply_pending, which ends the sequence before the gap */
  if (GST_BUFFER_IS_DISCONT (buf))
    self->discont_out = TRUE;

  if (!gst_lstm_map_frames (self, buf, self->channels, self->s16, &map, &n)) {
    gst_buffer_unref (buf);
    return GST_FLOW_ERROR;
  }
  pts = GST_BUFFER_PTS_IS_VALID (buf) ? GST_BUFFER_PTS (buf) : self->next_pts;

  if (n == 0)
    ret = GST_FLOW_OK;
  else if (self->model->num_directions == 2)
    ret = hold_frames (self, map.data, n, pts);
  else if (self->output_mode == GST_LSTM_OUTPUT_MODE_FRAME && !self->text)
    ret = process_vectors (self, map.data, n, pts, collect);
  else if ((ret = push_collected (self, collect)) == GST_FLOW_OK)
    ret = process_predictions (self, map.data, n, pts);

  self->next_pts = frame_time (self, pts, n);
  gst_buffer_unmap (buf, &map);
  gst_buffer_unref (buf);
  return ret;
}

static GstFlowReturn
gst_lstm_chain (GstPad * pad, GstObject * parent, GstBuffer * buf)
{
  return process_buffer (GST_LSTM (parent), buf, NULL);
}

/* A buffer list (appsrc's push-buffer-list, or any upstream pushing
 * lists): every buffer is processed as it would be alone, and in frame
 * mode with vector output the output buffers (one per input buffer, same
 * timestamps) go downstream as one list, so that GStreamer's cost per push
 * is paid once per list, not once per buffer. */
static GstFlowReturn
gst_lstm_chain_list (GstPad * pad, GstObject * parent, GstBufferList * list)
{
  GstLstm *self = GST_LSTM (parent);
  GstBufferList *out = gst_buffer_list_new_sized (gst_buffer_list_length
      (list));
  GstFlowReturn ret = GST_FLOW_OK, pushed;
  guint i, len = gst_buffer_list_length (list);

  for (i = 0; i < len && ret == GST_FLOW_OK; i++) {
    GstBuffer *buf = gst_buffer_ref (gst_buffer_list_get (list, i));
    ret = process_buffer (self, buf, out);
  }
  /* what was made before an error still goes out, as buffer by buffer */
  if (gst_buffer_list_length (out) > 0) {
    pushed = gst_pad_push_list (self->srcpad, out);
    if (ret == GST_FLOW_OK)
      ret = pushed;
  } else {
    gst_buffer_list_unref (out);
  }
  gst_buffer_list_unref (list);
  return ret;
}

/* --------------------------------------------------------- state change */

static void
stop (GstLstm * self)
{
  LstmModel *m, *pending;

  GST_OBJECT_LOCK (self);
  self->load_serial++;          /* loads still running are stale */
  pending = g_steal_pointer (&self->pending_model);
  g_clear_pointer (&self->pending_path, g_free);
  g_clear_pointer (&self->running_path, g_free);
  m = g_steal_pointer (&self->model);
  self->pending_reset = FALSE;
  GST_OBJECT_UNLOCK (self);

  g_clear_pointer (&pending, lstm_model_unref);
  g_clear_pointer (&m, lstm_model_unref);
  g_mutex_lock (&self->state_lock);
  g_clear_pointer (&self->state, lstm_state_free);
  self->state_restored = FALSE;
  g_mutex_unlock (&self->state_lock);
  free_scratch (self);
  gst_lstm_out_pool_clear (&self->out_pool);
  gst_lstm_streams_stop (self);
  self->channels = 0;
  self->refused_channels = 0;
  self->rate = 0;
  self->msg_count = 0;
  self->have_last = self->have_any = FALSE;
  self->frames_in_seq = 0;
  self->need_caps = FALSE;
  gst_segment_init (&self->segment, GST_FORMAT_TIME);
  self->next_pts = GST_CLOCK_TIME_NONE;
}

static GstStateChangeReturn
gst_lstm_change_state (GstElement * element, GstStateChange transition)
{
  GstLstm *self = GST_LSTM (element);
  GstStateChangeReturn ret;
  guint threads;

  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      GST_OBJECT_LOCK (self);
      threads = self->threads;
      GST_OBJECT_UNLOCK (self);
      lstm_blas_set_threads (threads);
      GST_OBJECT_LOCK (self);
      self->skipped_frames = 0;
      self->last_warning_time = 0;
      GST_OBJECT_UNLOCK (self);
      self->warned_cut = FALSE;
      if (!ensure_model (self))
        return GST_STATE_CHANGE_FAILURE;
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      gst_lstm_streams_unblock (self);
      break;
    default:
      break;
  }

  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);

  switch (transition) {
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      stop (self);
      break;
    default:
      break;
  }
  return ret;
}
