/* lstm's multi-stream mode: one element, one model, many streams.
 *
 * Requesting sink_%u makes a stream: that sink pad and its src_%u, with the
 * stream's own LSTM state, caps and timestamps. Each stream's buffers
 * arrive in their own streaming thread; a buffer's frames wait (under
 * streams_lock) until every live stream has frames waiting too, or until
 * `stream-wait` has passed, and then the thread that completes the set
 * steps all the waiting streams together, min (frames waiting) frames at
 * a time, with lstm_streams_forward: one matrix product per frame time for
 * all of them. The step runs outside the lock: while it runs, the other
 * streams can gather and step in another thread (on another core): a
 * step takes one core's share of the streams and wakes one thread of the
 * rest to step those. Each thread waits on its own stream's condition, so
 * that a step wakes its members' threads only (not every stream's, many
 * times a round), and then pushes its own output buffer on its src_%u.
 * Every stream's outputs are bit for bit those of a separate lstm element
 * (lstm_streams_forward promises lstm_forward's bits).
 *
 * A bidirectional model is refused (refuse_bidirectional). The mode
 * emits prediction vectors for every frame (output-mode=frame);
 * the frame stream formats, the non-finite frame policy (such a buffer is
 * stepped on its own, lstm_forward_finite; skipped-frames counts its
 * skipped frames), the resets (FLUSH_STOP, STREAM_START, caps, DISCONT
 * with reset-on-discont, `lstm-reset`, the `reset` signal) and the
 * timestamps are those of the single stream. The model is the one loaded
 * when the element started. What the mode does not do (messages, other
 * output modes, a model set while playing, the state property) is said
 * in a warning once a run (check_settings, gst_lstm_streams_own_state).
 */
#include "gstlstm-streams.h"
#include "gstlstmelements.h"

#include <stdio.h>
#include <string.h>

GST_DEBUG_CATEGORY_EXTERN (gst_lstm_debug);
#define GST_CAT_DEFAULT gst_lstm_debug

#define STREAM_SINK_CAPS \
  "audio/x-raw, format = (string) { F32LE, S16LE }, " \
  "layout = (string) interleaved, channels = (int) [ 1, MAX ], " \
  "rate = (int) [ 1, MAX ]"

static GstStaticPadTemplate stream_sink_template =
GST_STATIC_PAD_TEMPLATE ("sink_%u", GST_PAD_SINK, GST_PAD_REQUEST,
    GST_STATIC_CAPS (STREAM_SINK_CAPS));

static GstStaticPadTemplate stream_src_template =
GST_STATIC_PAD_TEMPLATE ("src_%u", GST_PAD_SRC, GST_PAD_SOMETIMES,
    GST_STATIC_CAPS ("audio/x-raw, format = (string) F32LE, "
        "layout = (string) interleaved, channels = (int) [ 1, MAX ], "
        "rate = (int) [ 1, MAX ]"));

/* A stream's memory is reference-counted: the streams array holds a
 * reference, so does its sink pad (for as long as the pad lives:
 * GStreamer holds the pad while it calls the pad's functions, so a chain
 * function still running after release_pad has its stream), and so does
 * a step for each of its members until it has woken their threads. The
 * stream holds its src pad (the chain function pushes on it); the src
 * pad's functions do not use the stream. */
typedef struct
{
  gatomicrefcount ref;
  GstPad *sinkpad;              /* not a reference: it holds the stream */
  GstPad *srcpad;               /* a reference */

  /* under streams_lock */
  LstmState *state;             /* NULL until caps */
  guint refused_channels;       /* a size refused already (error posted) */
  guint channels;
  gint rate;                    /* frames per second */
  gboolean s16;
  gboolean eos, flushing;
  gboolean released;            /* its pads were released: it runs no more */
  gboolean pending_reset;       /* the reset signal: reset at the next buffer */
  gboolean said_not_linked;     /* its src pad's NOT_LINKED error posted */
  gboolean stepping;            /* in a step running outside the lock */
  GstClockTime next_pts;        /* expected PTS of the next frame */
  GArray *in;                   /* floats: the frames of the buffer */
  GArray *last;                 /* floats: the latest output frame, or empty */
  float *out;                   /* its outputs (a mapped buffer) */
  guint n, done;                /* frames in it, stepped so far */
  gint64 since;                 /* monotonic us: when it began to wait */
  GCond cond;                   /* its streaming thread waits here */

  GstLstmOutPool pool;          /* its output buffers (streaming thread) */
} GstLstmStream;

/* What the request pads say once a run (GstLstm.streams_said). */
enum
{
  SAID_BIDIRECTIONAL = 1 << 0,
  SAID_POST_MESSAGES = 1 << 1,
  SAID_OUTPUT_MODE = 1 << 2,
  SAID_MODEL = 1 << 3,
  SAID_STATE = 1 << 4,
};

/* TRUE the first time since READY -> PAUSED that `what` is to be said
 * (called without streams_lock; the message is posted without it). */
static gboolean
first_time (GstLstm * self, guint what)
{
  gboolean first;

  g_mutex_lock (&self->streams_lock);
  first = (self->streams_said & what) == 0;
  self->streams_said |= what;
  g_mutex_unlock (&self->streams_lock);
  return first;
}

static GstLstmStream *
stream_ref (GstLstmStream * s)
{
  g_atomic_ref_count_inc (&s->ref);
  return s;
}

/* Called from any thread, with or without streams_lock: the last
 * reference touches the stream's own memory only. */
static void
stream_unref (GstLstmStream * s)
{
  if (!g_atomic_ref_count_dec (&s->ref))
    return;
  g_clear_pointer (&s->state, lstm_state_free);
  g_array_unref (s->in);
  g_array_unref (s->last);
  g_cond_clear (&s->cond);
  gst_lstm_out_pool_clear (&s->pool);
  gst_object_unref (s->srcpad);
  g_free (s);
}

/* Called with streams_lock. */
static void
reset_stream (GstLstmStream * s)
{
  if (s->state != NULL)
    lstm_state_reset (s->state);
  g_array_set_size (s->last, 0);
}

/* ------------------------------------------------------------ stepping */

/* Scratch of one step: lstm_streams_forward's, its arguments, its streams. */
typedef struct
{
  LstmStreams *scratch;
  guint capacity;
  gpointer *args;               /* [3 * capacity]: states, inputs, outputs */
  GstLstmStream **members;      /* [capacity] */
} Step;

static void
step_free (Step * st)
{
  lstm_streams_free (st->scratch);
  g_free (st->args);
  g_free (st->members);
  g_free (st);
}

/* Called with streams_lock: scratch for as many streams as there are. */
static Step *
take_step (GstLstm * self)
{
  guint n = self->streams->len;
  Step *st = self->free_steps->len > 0 ?
      g_ptr_array_steal_index_fast (self->free_steps,
      self->free_steps->len - 1) : NULL;

  if (st != NULL && st->capacity >= n)
    return st;
  g_clear_pointer (&st, step_free);
  st = g_new0 (Step, 1);
  st->capacity = MAX (n, 4);
  st->scratch = lstm_streams_new (self->model, st->capacity, 0);
  st->args = g_new0 (gpointer, 3 * (gsize) st->capacity);
  st->members = g_new0 (GstLstmStream *, st->capacity);
  return st;
}

/* Called with streams_lock: TRUE when every live stream not in a running
 * step has frames waiting (a stream without caps, at EOS or flushing does
 * not count). */
static gboolean
all_waiting (GstLstm * self)
{
  guint i;

  for (i = 0; i < self->streams->len; i++) {
    GstLstmStream *s = self->streams->pdata[i];
    if (s->state != NULL && !s->eos && !s->flushing && !s->stepping
        && s->done >= s->n)
      return FALSE;
  }
  return TRUE;
}

/* Called with streams_lock: wakes every stream's thread (a stream
 * changed, or the element is stopping). */
static void
wake_all (GstLstm * self)
{
  guint i;

  for (i = 0; i < self->streams->len; i++)
    g_cond_signal (&((GstLstmStream *) self->streams->pdata[i])->cond);
}

/* Called with streams_lock, which it releases while the step runs, by the
 * thread of stream `me`: steps the waiting streams not in another step
 * (a core's share of them) by the frames they all have, then wakes their
 * threads. */
static void
step_waiting (GstLstm * self, GstLstmStream * me)
{
  Step *st = take_step (self);
  LstmState **states = (LstmState **) st->args;
  const float **inputs = (const float **) (st->args + st->capacity);
  float **outputs = (float **) (st->args + 2 * st->capacity);
  guint i, n = 0, k = G_MAXUINT, O = lstm_model_get_output_size (self->model);
  /* a share of the streams per core, so that the others step the rest on
   * the other cores at the same time */
  guint share = (self->streams->len + self->cores - 1) / self->cores;

  for (i = 0; i < self->streams->len && n < MAX (share, 1); i++) {
    GstLstmStream *s = self->streams->pdata[i];
    if (s->done >= s->n || s->flushing || s->stepping)
      continue;
    s->stepping = TRUE;
    st->members[n] = stream_ref (s);
    states[n] = s->state;
    inputs[n] = (const float *) s->in->data + (gsize) s->done * s->channels;
    outputs[n] = s->out + (gsize) s->done * O;
    k = MIN (k, s->n - s->done);
    n++;
  }
  /* streams left for another share: wake one of their threads, which
   * steps them on another core meanwhile */
  for (; i < self->streams->len; i++) {
    GstLstmStream *s = self->streams->pdata[i];
    if (s != me && s->done < s->n && !s->flushing && !s->stepping) {
      g_cond_signal (&s->cond);
      break;
    }
  }
  if (n > 0) {
    g_mutex_unlock (&self->streams_lock);
    lstm_streams_forward (st->scratch, self->model, states, n, inputs, k,
        outputs);
    g_mutex_lock (&self->streams_lock);
  }
  for (i = 0; i < n; i++) {
    st->members[i]->done += k;
    st->members[i]->stepping = FALSE;
  }
  /* woken outside the lock, so that a member's thread can take it at
   * once instead of waking to wait for it (64 streams of S1: 1.3x); the
   * step's reference keeps a member whose pads were released meanwhile
   * until it is woken */
  g_mutex_unlock (&self->streams_lock);
  for (i = 0; i < n; i++) {
    g_cond_signal (&st->members[i]->cond);
    g_clear_pointer (&st->members[i], stream_unref);
  }
  g_mutex_lock (&self->streams_lock);
  g_ptr_array_add (self->free_steps, st);
}

/* Called with streams_lock: waits until this stream's frames are stepped
 * (by whichever thread completes a set, or by this one once stream-wait
 * has passed). FALSE when the stream started flushing or its pads were
 * released (once no step is writing its outputs). */
static gboolean
wait_stepped (GstLstm * self, GstLstmStream * s)
{
  s->since = g_get_monotonic_time ();
  while (s->done < s->n) {
    gint64 deadline = s->since + self->stream_wait / 1000;
    if ((s->flushing || s->released) && !s->stepping)
      return FALSE;
    if (s->stepping)
      g_cond_wait (&s->cond, &self->streams_lock);
    else if (all_waiting (self))
      step_waiting (self, s);
    else if (!g_cond_wait_until (&s->cond, &self->streams_lock, deadline)
        && !s->stepping && !s->flushing && s->done < s->n)
      step_waiting (self, s);
  }
  return TRUE;
}

/* -------------------------------------------------------------- buffers */

static GstClockTime
frames_time (const GstLstmStream * s, guint64 n)
{
  return gst_util_uint64_scale_int (n, GST_SECOND, s->rate);
}

/* The frames of `map` as floats in s->in. (An empty buffer's map and an
 * empty array may have NULL data, which memcpy must not get even for 0
 * bytes.) */
static void
read_frames (GstLstmStream * s, const GstMapInfo * map, guint n)
{
  g_array_set_size (s->in, (gsize) n * s->channels);
  if (n == 0)
    return;
  if (s->s16)
    lstm_frames_from_s16 ((const gint16 *) map->data, (gsize) n * s->channels,
        (float *) s->in->data);
  else
    memcpy (s->in->data, map->data, (gsize) n * s->channels * 4);
}

/* What the request pads do not do is said once a run, as a warning that
 * names the property (see the README: the request pads emit vectors for
 * every frame from the model loaded at start, and post no messages).
 * Returns reset-on-discont, which they follow. */
static gboolean
check_settings (GstLstm * self)
{
  gboolean reset_on_discont, post_messages, new_model;
  GstLstmOutputMode mode;

  GST_OBJECT_LOCK (self);
  reset_on_discont = self->reset_on_discont;
  post_messages = self->post_messages;
  mode = self->output_mode;
  new_model = self->pending_model != NULL;
  GST_OBJECT_UNLOCK (self);

  if (post_messages && first_time (self, SAID_POST_MESSAGES))
    GST_ELEMENT_WARNING (self, CORE, NOT_IMPLEMENTED,
        ("post-messages: the request pads (sink_%%u) post no 'lstm' "
            "messages."), ("only the single sink pad does"));
  if (mode != GST_LSTM_OUTPUT_MODE_FRAME
      && first_time (self, SAID_OUTPUT_MODE))
    GST_ELEMENT_WARNING (self, CORE, NOT_IMPLEMENTED,
        ("output-mode=%s: the request pads (sink_%%u) emit a prediction "
            "for every frame (output-mode=frame) only.",
            mode == GST_LSTM_OUTPUT_MODE_LAST ? "last" : "stride"),
        ("only the single sink pad has the other output modes"));
  if (new_model && first_time (self, SAID_MODEL))
    GST_ELEMENT_WARNING (self, CORE, NOT_IMPLEMENTED,
        ("model, weights: the request pads (sink_%%u) keep running the "
            "model loaded at start; a model set while playing does not "
            "reach them."), ("only the single sink pad swaps models; set "
            "the model in READY or NULL for the request pads"));
  return reset_on_discont;
}

/* Nothing takes src_N's predictions: said once (before upstream's bare
 * 'not-linked'), with the likely reason: a link that asked for text
 * (`l.src_0 ! text/x-raw`) fails, as src_%u gives vectors only; a link
 * parse-launch could not make is left for a pad that never comes. */
static void
say_not_linked (GstLstm * self, GstLstmStream * s, guint O)
{
  gboolean first;

  g_mutex_lock (&self->streams_lock);
  first = !s->said_not_linked && !s->released;
  s->said_not_linked = TRUE;
  g_mutex_unlock (&self->streams_lock);
  if (first)
    GST_ELEMENT_ERROR (self, CORE, PAD,
        ("Nothing is linked to %s. The request pads give prediction "
            "vectors only (audio/x-raw, format=F32LE, channels=%u), not "
            "text: for text/x-raw use the single sink and src pads.",
            GST_PAD_NAME (s->srcpad), O),
        ("pushing on %s returned not-linked", GST_PAD_NAME (s->srcpad)));
}

static GstFlowReturn
stream_chain (GstPad * pad, GstObject * parent, GstBuffer * buf)
{
  GstLstm *self = GST_LSTM (parent);
  GstLstmStream *s = gst_pad_get_element_private (pad);
  GstMapInfo in, out;
  GstBuffer *outbuf;
  GstClockTime pts;
  gboolean stepped = TRUE, reset_on_discont;
  guint n, O, skipped = 0;
  GstFlowReturn ret;

  if (s->state == NULL) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL),
        ("a buffer arrived on %s before its caps", GST_PAD_NAME (pad)));
    gst_buffer_unref (buf);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  if (!gst_lstm_map_frames (self, buf, s->channels, s->s16, &in, &n)) {
    gst_buffer_unref (buf);
    return GST_FLOW_ERROR;
  }
  pts = GST_BUFFER_PTS_IS_VALID (buf) ? GST_BUFFER_PTS (buf) : s->next_pts;
  O = lstm_model_get_output_size (self->model);
  outbuf = gst_lstm_out_pool_buffer (&s->pool, (gsize) n * O * sizeof (float));
  gst_buffer_map (outbuf, &out, GST_MAP_WRITE);

  reset_on_discont = check_settings (self);
  g_mutex_lock (&self->streams_lock);
  if ((GST_BUFFER_IS_DISCONT (buf) && reset_on_discont) || s->pending_reset)
    reset_stream (s);
  s->pending_reset = FALSE;
  read_frames (s, &in, n);
  if (s->released) {
    stepped = FALSE;            /* its pads are going: nothing goes out */
  } else if (n > 0 && !lstm_frame_is_finite ((float *) s->in->data,
          n * s->channels)) {
    /* NaN or Inf: this buffer on its own, skipping those frames */
    skipped = lstm_forward_finite (self->model, s->state,
        (float *) s->in->data, n, (float *) out.data,
        s->last->len ? (float *) s->last->data : NULL);
  } else if (n > 0) {
    s->out = (float *) out.data;
    s->n = n;
    s->done = 0;
    stepped = wait_stepped (self, s) && !s->released;
    s->n = s->done = 0;
  }
  if (stepped && n > 0) {
    g_array_set_size (s->last, O);
    memcpy (s->last->data, out.data + (gsize) (n - 1) * O * sizeof (float),
        O * sizeof (float));
  }
  s->next_pts = GST_CLOCK_TIME_IS_VALID (pts) ? pts + frames_time (s, n) :
      GST_CLOCK_TIME_NONE;
  g_mutex_unlock (&self->streams_lock);

  gst_buffer_unmap (buf, &in);
  gst_buffer_unref (buf);
  gst_buffer_unmap (outbuf, &out);
  if (skipped > 0)
    gst_lstm_count_skipped (self, skipped);
  if (!stepped || n == 0) {
    gst_buffer_unref (outbuf);
    return stepped ? GST_FLOW_OK : GST_FLOW_FLUSHING;
  }
  GST_BUFFER_PTS (outbuf) = pts;
  GST_BUFFER_DURATION (outbuf) = frames_time (s, n);
  ret = gst_pad_push (s->srcpad, outbuf);
  if (ret == GST_FLOW_NOT_LINKED)
    say_not_linked (self, s, O);
  return ret;
}

/* --------------------------------------------------------------- events */

/* A bidirectional model is refused: its backward direction needs each
 * sequence whole, which the single sink pad holds until it ends, while
 * the request pads step their streams buffer by buffer (each chunk would
 * be a sequence of its own: other predictions than a separate element's,
 * which the README promises). Holding every stream's sequences here
 * would gain nothing from stepping them together (a variant's streams
 * run one after the other anyway), so such a model is for separate
 * elements. Said once a run. */
static gboolean
refuse_bidirectional (GstLstm * self, GstLstmStream * s)
{
  g_autofree gchar *path = NULL;

  if (self->model->num_directions != 2)
    return FALSE;
  if (first_time (self, SAID_BIDIRECTIONAL)) {
    g_object_get (self, "model", &path, NULL);
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("The request pads (sink_%%u) cannot run a bidirectional model; "
            "use one lstm element per stream."),
        ("%s: the model %s is bidirectional: it needs each sequence whole, "
            "and the request pads step their streams buffer by buffer",
            GST_PAD_NAME (s->sinkpad), path));
  }
  return TRUE;
}

/* Reads the stream's frame format; the channel count must be the model's. */
static gboolean
stream_set_caps (GstLstm * self, GstLstmStream * s, GstCaps * caps)
{
  guint channels, rate;
  gboolean s16, ok;
  GstCaps *out;

  if (refuse_bidirectional (self, s))
    return FALSE;
  if (!gst_lstm_parse_audio_caps (caps, &channels, &rate, &s16))
    return FALSE;
  if (channels != self->model->input_size) {
    /* sticky caps come back with every buffer upstream tries: say it once
     * (streaming thread only, like the caps) */
    if (s->refused_channels == channels)
      return FALSE;
    s->refused_channels = channels;
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("The stream on %s carries %u values per frame, the model takes %u.",
            GST_PAD_NAME (s->sinkpad), channels, self->model->input_size),
        ("caps %" GST_PTR_FORMAT, caps));
    return FALSE;
  }
  g_mutex_lock (&self->streams_lock);
  s->channels = channels;
  s->rate = rate;
  s->s16 = s16;
  if (s->state == NULL || !lstm_state_fits (s->state, self->model)) {
    g_clear_pointer (&s->state, lstm_state_free);
    /* the streams step in lstm_streams_forward's scratch; a stream's own
     * forward pass runs only for a buffer with a non-finite frame, so its
     * scratch holds one frame (64 of them cost ~340 KiB a stream of S1) */
    s->state = lstm_state_new (self->model, 1);
  }
  reset_stream (s);
  wake_all (self);
  g_mutex_unlock (&self->streams_lock);

  out = gst_caps_new_simple ("audio/x-raw", "format", G_TYPE_STRING, "F32LE",
      "layout", G_TYPE_STRING, "interleaved",
      "channels", G_TYPE_INT, (gint) lstm_model_get_output_size (self->model),
      "rate", G_TYPE_INT, (gint) rate,
      "channel-mask", GST_TYPE_BITMASK, (guint64) 0, NULL);
  ok = gst_pad_push_event (s->srcpad, gst_event_new_caps (out));
  gst_caps_unref (out);
  return ok;
}

/* Called with streams_lock held or not: sets a flag and wakes the waits. */
static void
set_flag (GstLstm * self, gboolean * flag, gboolean value)
{
  g_mutex_lock (&self->streams_lock);
  *flag = value;
  wake_all (self);
  g_mutex_unlock (&self->streams_lock);
}

static gboolean
stream_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstLstm *self = GST_LSTM (parent);
  GstLstmStream *s = gst_pad_get_element_private (pad);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:{
      GstCaps *caps;
      gboolean ok;
      gst_event_parse_caps (event, &caps);
      ok = self->model != NULL && stream_set_caps (self, s, caps);
      gst_event_unref (event);
      return ok;
    }
    case GST_EVENT_FLUSH_START:
      set_flag (self, &s->flushing, TRUE);
      break;
    case GST_EVENT_FLUSH_STOP:
    case GST_EVENT_STREAM_START:
      g_mutex_lock (&self->streams_lock);
      reset_stream (s);
      s->flushing = FALSE;
      s->eos = FALSE;
      s->next_pts = GST_CLOCK_TIME_NONE;
      g_mutex_unlock (&self->streams_lock);
      break;
    case GST_EVENT_EOS:
      set_flag (self, &s->eos, TRUE);
      break;
    case GST_EVENT_CUSTOM_DOWNSTREAM:
      if (gst_event_has_name (event, "lstm-reset")) {
        g_mutex_lock (&self->streams_lock);
        reset_stream (s);
        g_mutex_unlock (&self->streams_lock);
      }
      break;
    default:
      break;
  }
  return gst_pad_push_event (s->srcpad, event);
}

static gboolean
stream_sink_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  GstLstm *self = GST_LSTM (parent);

  if (GST_QUERY_TYPE (query) == GST_QUERY_CAPS) {
    GstCaps *filter, *caps;
    gst_query_parse_caps (query, &filter);
    caps = gst_lstm_sink_query_caps (self, filter);
    gst_query_set_caps_result (query, caps);
    gst_caps_unref (caps);
    return TRUE;
  }
  if (GST_QUERY_TYPE (query) == GST_QUERY_ALLOCATION)
    return FALSE;
  return gst_pad_query_default (pad, parent, query);
}

/* Events and queries that travel on (latency, seeking, ...) go to the
 * stream's other pad only. */
static GstIterator *
single_pad (GstPad * pad)
{
  GValue v = G_VALUE_INIT;
  GstIterator *it;

  g_value_init (&v, GST_TYPE_PAD);
  g_value_set_object (&v, pad);
  it = gst_iterator_new_single (GST_TYPE_PAD, &v);
  g_value_unset (&v);
  return it;
}

static GstIterator *
stream_internal_links (GstPad * pad, GstObject * parent)
{
  GstLstmStream *s = gst_pad_get_element_private (pad);

  return single_pad (s->srcpad);
}

/* src_N finds sink_N by name (its stream may be gone: it outlives it
 * when downstream holds it). */
static GstIterator *
stream_src_internal_links (GstPad * pad, GstObject * parent)
{
  g_autofree gchar *name = NULL;
  GstPad *sinkpad = NULL;
  GstIterator *it;
  guint index;

  if (parent != NULL && sscanf (GST_PAD_NAME (pad), "src_%u", &index) == 1) {
    name = g_strdup_printf ("sink_%u", index);
    sinkpad = gst_element_get_static_pad (GST_ELEMENT (parent), name);
  }
  if (sinkpad == NULL)
    return gst_iterator_new_single (GST_TYPE_PAD, NULL);
  it = single_pad (sinkpad);
  gst_object_unref (sinkpad);
  return it;
}

/* ----------------------------------------------------------------- pads */

static GstPad *
request_new_pad (GstElement * element, GstPadTemplate * templ,
    const gchar * name, const GstCaps * caps)
{
  GstLstm *self = GST_LSTM (element);
  GstLstmStream *s;
  gchar *sink_name, *src_name;
  guint index, i;

  g_mutex_lock (&self->streams_lock);
  if (name != NULL && sscanf (name, "sink_%u", &index) == 1) {
    for (i = 0; i < self->streams->len; i++) {
      GstLstmStream *o = self->streams->pdata[i];
      if (g_str_equal (GST_PAD_NAME (o->sinkpad), name)) {
        g_mutex_unlock (&self->streams_lock);
        return NULL;            /* taken */
      }
    }
  } else {
    index = self->next_stream;
  }
  self->next_stream = MAX (self->next_stream, index + 1);
  g_mutex_unlock (&self->streams_lock);

  s = g_new0 (GstLstmStream, 1);
  g_atomic_ref_count_init (&s->ref);    /* the streams array's */
  g_cond_init (&s->cond);
  s->in = g_array_new (FALSE, FALSE, sizeof (float));
  s->last = g_array_new (FALSE, FALSE, sizeof (float));
  s->next_pts = GST_CLOCK_TIME_NONE;
  sink_name = g_strdup_printf ("sink_%u", index);
  src_name = g_strdup_printf ("src_%u", index);
  s->sinkpad = gst_pad_new_from_template (templ, sink_name);
  s->srcpad = gst_pad_new_from_static_template (&stream_src_template, src_name);
  g_free (sink_name);
  g_free (src_name);
  gst_object_ref (s->srcpad);
  gst_pad_set_element_private (s->sinkpad, s);
  g_object_set_data_full (G_OBJECT (s->sinkpad), "gst-lstm-stream",
      stream_ref (s), (GDestroyNotify) stream_unref);
  gst_pad_set_chain_function (s->sinkpad, GST_DEBUG_FUNCPTR (stream_chain));
  gst_pad_set_event_function (s->sinkpad, GST_DEBUG_FUNCPTR (stream_event));
  gst_pad_set_query_function (s->sinkpad,
      GST_DEBUG_FUNCPTR (stream_sink_query));
  gst_pad_set_iterate_internal_links_function (s->sinkpad,
      GST_DEBUG_FUNCPTR (stream_internal_links));
  gst_pad_set_iterate_internal_links_function (s->srcpad,
      GST_DEBUG_FUNCPTR (stream_src_internal_links));
  gst_pad_use_fixed_caps (s->srcpad);

  g_mutex_lock (&self->streams_lock);
  g_ptr_array_add (self->streams, s);
  g_mutex_unlock (&self->streams_lock);
  gst_element_add_pad (element, s->srcpad);
  gst_element_add_pad (element, s->sinkpad);
  GST_DEBUG_OBJECT (self, "stream %u added", index);
  return s->sinkpad;
}

static void
release_pad (GstElement * element, GstPad * pad)
{
  GstLstm *self = GST_LSTM (element);
  GstLstmStream *s = gst_pad_get_element_private (pad);

  if (s == NULL || pad != s->sinkpad)
    return;
  /* a buffer of this stream waiting in its chain function gives up, and
   * one still on its way in finds the stream released; the chain
   * function may run on after this returns (removing a pad does not wait
   * for it): its pad's reference keeps the stream */
  g_mutex_lock (&self->streams_lock);
  s->released = TRUE;
  g_cond_signal (&s->cond);
  g_ptr_array_remove (self->streams, s);
  wake_all (self);
  g_mutex_unlock (&self->streams_lock);
  /* (when the element is disposed, src_%u may have gone first) */
  if (GST_OBJECT_PARENT (s->srcpad) == GST_OBJECT (element))
    gst_element_remove_pad (element, s->srcpad);
  gst_element_remove_pad (element, s->sinkpad);
  stream_unref (s);             /* the streams array's reference */
}

/* ------------------------------------------------------------ lifecycle */

void
gst_lstm_streams_class_init (GstElementClass * klass)
{
  gst_element_class_add_static_pad_template (klass, &stream_sink_template);
  gst_element_class_add_static_pad_template (klass, &stream_src_template);
  klass->request_new_pad = GST_DEBUG_FUNCPTR (request_new_pad);
  klass->release_pad = GST_DEBUG_FUNCPTR (release_pad);
}

void
gst_lstm_streams_init (GstLstm * self)
{
  g_mutex_init (&self->streams_lock);
  self->streams = g_ptr_array_new ();
  /* (g_get_num_processors asks the kernel each time: not per step) */
  self->cores = MAX (g_get_num_processors (), 1);
  self->free_steps = g_ptr_array_new_with_free_func ((GDestroyNotify)
      step_free);
  self->stream_wait = 5 * GST_MSECOND;
}

void
gst_lstm_streams_finalize (GstLstm * self)
{
  guint i;

  for (i = 0; i < self->streams->len; i++)
    stream_unref (self->streams->pdata[i]);
  g_ptr_array_unref (self->streams);
  g_ptr_array_unref (self->free_steps);
  g_mutex_clear (&self->streams_lock);
}

void
gst_lstm_streams_unblock (GstLstm * self)
{
  guint i;

  g_mutex_lock (&self->streams_lock);
  for (i = 0; i < self->streams->len; i++)
    ((GstLstmStream *) self->streams->pdata[i])->flushing = TRUE;
  wake_all (self);
  g_mutex_unlock (&self->streams_lock);
}

void
gst_lstm_streams_stop (GstLstm * self)
{
  guint i;

  g_mutex_lock (&self->streams_lock);
  for (i = 0; i < self->streams->len; i++) {
    GstLstmStream *s = self->streams->pdata[i];
    g_clear_pointer (&s->state, lstm_state_free);
    g_array_set_size (s->last, 0);
    s->refused_channels = 0;
    s->said_not_linked = FALSE;
    s->eos = s->flushing = s->stepping = FALSE;
    s->next_pts = GST_CLOCK_TIME_NONE;
  }
  g_ptr_array_set_size (self->free_steps, 0);
  self->streams_said = 0;
  g_mutex_unlock (&self->streams_lock);
}

void
gst_lstm_streams_reset (GstLstm * self)
{
  guint i;

  g_mutex_lock (&self->streams_lock);
  for (i = 0; i < self->streams->len; i++)
    ((GstLstmStream *) self->streams->pdata[i])->pending_reset = TRUE;
  g_mutex_unlock (&self->streams_lock);
}

gboolean
gst_lstm_streams_own_state (GstLstm * self, gboolean warn)
{
  gboolean own;

  g_mutex_lock (&self->streams_lock);
  own = self->streams->len > 0 && self->channels == 0;
  g_mutex_unlock (&self->streams_lock);
  if (own && warn && first_time (self, SAID_STATE))
    GST_ELEMENT_WARNING (self, CORE, NOT_IMPLEMENTED,
        ("state: the request pads' streams (sink_%%u) each have their own "
            "state, which the state property does not reach (it reads "
            "NULL)."), ("the state property is the single sink pad's"));
  return own;
}

void
gst_lstm_streams_set_wait (GstLstm * self, guint64 wait)
{
  g_mutex_lock (&self->streams_lock);
  self->stream_wait = wait;
  wake_all (self);
  g_mutex_unlock (&self->streams_lock);
}
