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
 * timestamps are those of the single stream. A model set while playing
 * (loaded in the background, gstlstm.c) is swapped in by the first
 * stream to take a buffer after it loaded (swap_model; the single sink
 * pad swaps it instead when that pad is linked), and each stream adopts
 * it at its next buffer (adopt_model): every stream holds the model its
 * state and src caps are for, and a step takes only streams of one model,
 * so frames already waiting finish on the model they came for. What the
 * mode does not do (messages, other output modes, the state property) is
 * said in a warning once a run (check_settings,
 * gst_lstm_streams_own_state).
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
  LstmModel *model;             /* a reference: the model of its state and
                                 * src caps; NULL until caps */
  LstmState *state;             /* NULL until caps */
  gboolean need_caps;           /* its model's output size changed */
  guint refused_channels;       /* a size refused already (error posted) */
  guint channels;
  gint rate;                    /* frames per second */
  gboolean s16;
  gboolean eos, flushing;
  gboolean released;            /* its pads were released: it runs no more */
  gboolean pending_reset;       /* the reset signal: reset at the next buffer */
  gboolean said_not_linked;     /* its src pad's NOT_LINKED error posted */
  gboolean discont_out;         /* its next output is DISCONT (streaming
                                 * thread) */
  gboolean stepping;            /* in a step running outside the lock */
  gboolean due;                 /* its set is complete (or timed out): its
                                 * frames step without waiting again */
  gboolean late;                /* it had no frames when a wait for it timed
                                 * out: no stream waits for it again until
                                 * its next buffer */
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
  SAID_STATE = 1 << 3,
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
  g_clear_pointer (&s->model, lstm_model_unref);
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

/* Scratch of one step: lstm_streams_forward's (for `model`), its
 * arguments, its streams. */
typedef struct
{
  LstmModel *model;             /* a reference */
  LstmStreams *scratch;
  guint capacity;
  gpointer *args;               /* [3 * capacity]: states, inputs, outputs */
  GstLstmStream **members;      /* [capacity] */
} Step;

static void
step_free (Step * st)
{
  lstm_streams_free (st->scratch);
  lstm_model_unref (st->model);
  g_free (st->args);
  g_free (st->members);
  g_free (st);
}

/* Called with streams_lock: scratch of model m for as many streams as
 * there are (after a model swap, the old model's scratch goes as it
 * comes back). */
static Step *
take_step (GstLstm * self, LstmModel * m)
{
  guint n = self->streams->len;
  Step *st = self->free_steps->len > 0 ?
      g_ptr_array_steal_index_fast (self->free_steps,
      self->free_steps->len - 1) : NULL;

  if (st != NULL && st->capacity >= n && st->model == m)
    return st;
  g_clear_pointer (&st, step_free);
  st = g_new0 (Step, 1);
  st->capacity = MAX (n, 4);
  st->model = lstm_model_ref (m);
  st->scratch = lstm_streams_new (m, st->capacity, 0);
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
        && !s->late && s->done >= s->n)
      return FALSE;
  }
  return TRUE;
}

/* Called with streams_lock when stream-wait has passed for `me`: the
 * streams it waited for, with no frames, are late. A stalled stream (or
 * one whose buffers come further apart) then holds the others up once,
 * not at every buffer of theirs, which would add up without bound on a
 * live stream. */
static void
mark_late (GstLstm * self, GstLstmStream * me)
{
  guint i;

  for (i = 0; i < self->streams->len; i++) {
    GstLstmStream *s = self->streams->pdata[i];
    if (s != me && s->state != NULL && !s->eos && !s->flushing
        && !s->stepping && s->done >= s->n && !s->late) {
      GST_DEBUG_OBJECT (self, "%s is late: the others go on without it "
          "until its next buffer", GST_PAD_NAME (s->sinkpad));
      s->late = TRUE;
    }
  }
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

/* Called with streams_lock: stream s joins step st (as member n). */
static void
add_member (Step * st, guint n, GstLstmStream * s, guint O)
{
  s->stepping = TRUE;
  s->due = FALSE;
  st->members[n] = stream_ref (s);
  st->args[n] = s->state;
  st->args[st->capacity + n] = (float *) s->in->data +
      (gsize) s->done * s->channels;
  st->args[2 * st->capacity + n] = s->out + (gsize) s->done * O;
}

/* Called with streams_lock, which it releases while the step runs, by the
 * thread of stream `me`: steps me and the other waiting streams of me's
 * model not in another step (a core's share of them) by the frames they
 * all have, then wakes their threads. The streams left waiting (beyond
 * the share, or of another model after a swap) are due: their set is
 * complete, or timed out, so they step without waiting again; one of
 * their threads is woken to step its share on another core meanwhile
 * (and marks and wakes the next). (A woken thread that looked for a
 * complete set again would find the streams just stepped not waiting,
 * and sleep until its deadline.) */
static void
step_waiting (GstLstm * self, GstLstmStream * me)
{
  LstmModel *m = me->model;
  Step *st = take_step (self, m);
  guint i, n = 0, k = G_MAXUINT, O = lstm_model_get_output_size (m);
  /* a share of the streams per core, so that the others step the rest on
   * the other cores at the same time */
  guint share = (self->streams->len + self->cores - 1) / self->cores;
  GstLstmStream *next = NULL;

  add_member (st, n++, me, O);
  for (i = 0; i < self->streams->len && n < share; i++) {
    GstLstmStream *s = self->streams->pdata[i];
    if (s->done < s->n && !s->flushing && !s->stepping && s->model == m)
      add_member (st, n++, s, O);
  }
  for (i = 0; i < self->streams->len; i++) {
    GstLstmStream *s = self->streams->pdata[i];
    if (s->done < s->n && !s->flushing && !s->stepping) {
      s->due = TRUE;
      next = next != NULL ? next : s;
    }
  }
  if (next != NULL)
    g_cond_signal (&next->cond);
  for (i = 0; i < n; i++)
    k = MIN (k, st->members[i]->n - st->members[i]->done);
  g_mutex_unlock (&self->streams_lock);
  lstm_streams_forward (st->scratch, m, (LstmState **) st->args, n,
      (const float **) (st->args + st->capacity), k,
      (float **) (st->args + 2 * st->capacity));
  g_mutex_lock (&self->streams_lock);
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
    else if (s->due || all_waiting (self))
      step_waiting (self, s);
    else if (!g_cond_wait_until (&s->cond, &self->streams_lock, deadline)
        && !s->stepping && !s->flushing && s->done < s->n) {
      GST_LOG_OBJECT (self, "%s: stream-wait passed, stepping without the "
          "others", GST_PAD_NAME (s->sinkpad));
      mark_late (self, s);
      step_waiting (self, s);
    }
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

/* A model loaded while playing (m, from path with weights) becomes the
 * element's, unless a stream with caps carries another number of values
 * per frame or it is bidirectional: then the old one runs on, with a
 * warning, and the properties go back to it (as on the single sink pad).
 * The streams adopt it at their next buffers (adopt_model). */
static void
swap_model (GstLstm * self, LstmModel * m, const gchar * path,
    LstmPrecision weights)
{
  GstLstmStream *misfit = NULL;
  g_autofree gchar *pad = NULL;
  LstmModel *old = NULL;
  guint i, carries = 0;

  g_mutex_lock (&self->streams_lock);
  for (i = 0; i < self->streams->len && m->num_directions == 1; i++) {
    GstLstmStream *s = self->streams->pdata[i];
    if (s->model != NULL && s->channels != m->input_size) {
      misfit = s;
      carries = s->channels;
      pad = gst_pad_get_name (s->sinkpad);
      break;
    }
  }
  if (m->num_directions == 1 && misfit == NULL) {
    GST_OBJECT_LOCK (self);
    old = self->model;
    self->model = m;
    GST_OBJECT_UNLOCK (self);
  }
  g_mutex_unlock (&self->streams_lock);

  if (old != NULL) {
    gst_lstm_set_running (self, path, weights);
    GST_INFO_OBJECT (self, "request pads: model %s swapped in", path);
    lstm_model_unref (old);
    return;
  }
  /* the properties first: an application reading them on the warning
   * sees what runs */
  gst_lstm_revert_refused (self, path, weights);
  if (misfit != NULL)
    GST_ELEMENT_WARNING (self, STREAM, FORMAT,
        ("The new LSTM model does not fit the stream on %s; the previous "
            "one keeps running.", pad), ("the new model %s takes %u input "
            "features but the stream carries %u per frame", path,
            m->input_size, carries));
  else
    GST_ELEMENT_WARNING (self, STREAM, FORMAT,
        ("The new LSTM model is bidirectional, which the request pads "
            "(sink_%%u) cannot run; the previous one keeps running."),
        ("%s: a bidirectional model needs each sequence whole; use one "
            "lstm element per stream", path));
  lstm_model_unref (m);
}

/* Called with streams_lock by the stream's own thread (so no step holds
 * it): the stream takes the element's model if it changed. With the same
 * sizes its state carries on, with others it starts afresh, and another
 * output size needs new src caps. FALSE (an error posted) when the model
 * cannot run the stream, which only happens when the single sink pad
 * swapped it in (swap_model checks the streams; the single pad checks
 * its own). */
static gboolean
adopt_model (GstLstm * self, GstLstmStream * s)
{
  LstmModel *m = self->model;

  if (s->model == m)
    return TRUE;
  if (m->input_size != s->channels || m->num_directions != 1) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("The model swapped in on the single sink pad cannot run the "
            "stream on %s.", GST_PAD_NAME (s->sinkpad)),
        ("the model takes %u input features%s; the stream carries %u",
            m->input_size, m->num_directions != 1 ? " and is bidirectional" :
            "", s->channels));
    return FALSE;
  }
  if (!lstm_state_fits (s->state, m)) {
    lstm_state_free (s->state);
    s->state = lstm_state_new (m, 1);
    g_array_set_size (s->last, 0);
  }
  if (lstm_model_get_output_size (m) != lstm_model_get_output_size (s->model))
    s->need_caps = TRUE;
  lstm_model_unref (s->model);
  s->model = lstm_model_ref (m);
  return TRUE;
}

/* src_N's caps: prediction vectors of O values at the stream's rate. */
static gboolean
push_src_caps (GstLstmStream * s, guint O, gint rate)
{
  GstCaps *out = gst_lstm_frame_caps ((gint) O, rate);
  gboolean ok = gst_pad_push_event (s->srcpad, gst_event_new_caps (out));

  gst_caps_unref (out);
  return ok;
}

/* What the request pads do not do is said once a run, as a warning that
 * names the property (see the README: the request pads emit vectors for
 * every frame and post no messages); a model loaded while playing is
 * swapped in here when the single sink pad is not linked.
 * Returns reset-on-discont, which they follow. */
static gboolean
check_settings (GstLstm * self)
{
  gboolean reset_on_discont, post_messages;
  GstLstmOutputMode mode;
  LstmModel *m = NULL;
  gchar *path = NULL;
  LstmPrecision weights = LSTM_PRECISION_F32;
  gboolean pending;

  GST_OBJECT_LOCK (self);
  reset_on_discont = self->reset_on_discont;
  post_messages = self->post_messages;
  mode = self->output_mode;
  pending = self->pending_model != NULL;
  GST_OBJECT_UNLOCK (self);
  /* (the single sink pad swaps it at its own next buffer when linked;
   * its pad's lock taken only when there is a model to swap) */
  if (pending && !gst_pad_is_linked (self->sinkpad)) {
    GST_OBJECT_LOCK (self);
    m = g_steal_pointer (&self->pending_model);
    path = g_steal_pointer (&self->pending_path);
    weights = self->pending_weights;
    GST_OBJECT_UNLOCK (self);
  }

  if (m != NULL)
    swap_model (self, m, path, weights);
  g_free (path);

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
  gboolean stepped = TRUE, reset_on_discont, need_caps;
  guint n, O, skipped = 0;
  gint rate;
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
  if (GST_BUFFER_IS_DISCONT (buf))
    s->discont_out = TRUE;      /* (an empty buffer's goes on to the next) */
  reset_on_discont = check_settings (self);

  g_mutex_lock (&self->streams_lock);
  if (!adopt_model (self, s)) {
    g_mutex_unlock (&self->streams_lock);
    gst_buffer_unmap (buf, &in);
    gst_buffer_unref (buf);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  O = lstm_model_get_output_size (s->model);
  need_caps = s->need_caps;
  s->need_caps = FALSE;
  rate = s->rate;
  outbuf = gst_lstm_out_pool_buffer (&s->pool, (gsize) n * O * sizeof (float));
  gst_buffer_map (outbuf, &out, GST_MAP_WRITE);
  if ((GST_BUFFER_IS_DISCONT (buf) && reset_on_discont) || s->pending_reset)
    reset_stream (s);
  s->pending_reset = FALSE;
  read_frames (s, &in, n);
  if (s->released) {
    stepped = FALSE;            /* its pads are going: nothing goes out */
  } else if (n > 0 && !lstm_frame_is_finite ((float *) s->in->data,
          n * s->channels)) {
    /* NaN or Inf: this buffer on its own, skipping those frames */
    skipped = lstm_forward_finite (s->model, s->state,
        (float *) s->in->data, n, (float *) out.data,
        s->last->len ? (float *) s->last->data : NULL);
  } else if (n > 0) {
    s->out = (float *) out.data;
    s->n = n;
    s->done = 0;
    s->due = FALSE;
    s->late = FALSE;            /* here again: the others wait for it */
    stepped = wait_stepped (self, s) && !s->released;
    s->n = s->done = 0;
    s->due = FALSE;
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
  /* a model of another output size: src_N's caps first (and again at
   * the next buffer if they did not go) */
  if (need_caps && !push_src_caps (s, O, rate)) {
    g_mutex_lock (&self->streams_lock);
    s->need_caps = TRUE;
    g_mutex_unlock (&self->streams_lock);
  }
  if (!stepped || n == 0) {
    gst_buffer_unref (outbuf);
    return stepped ? GST_FLOW_OK : GST_FLOW_FLUSHING;
  }
  GST_BUFFER_PTS (outbuf) = pts;
  GST_BUFFER_DURATION (outbuf) = frames_time (s, n);
  /* the first output after a gap (a DISCONT input, a flush, a new stream
   * or caps) says so, as the single pad's does */
  if (s->discont_out)
    GST_BUFFER_FLAG_SET (outbuf, GST_BUFFER_FLAG_DISCONT);
  else
    GST_BUFFER_FLAG_UNSET (outbuf, GST_BUFFER_FLAG_DISCONT);
  s->discont_out = FALSE;
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
refuse_bidirectional (GstLstm * self, GstLstmStream * s, LstmModel * m)
{
  g_autofree gchar *path = NULL;

  if (m->num_directions != 2)
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

/* Reads the stream's frame format; the channel count must be the model's
 * (the element's model now: the stream adopts it here). */
static gboolean
stream_set_caps (GstLstm * self, GstLstmStream * s, GstCaps * caps)
{
  guint channels, rate;
  gboolean s16;
  g_autoptr (LstmModel) m = NULL;

  g_mutex_lock (&self->streams_lock);
  m = self->model != NULL ? lstm_model_ref (self->model) : NULL;
  g_mutex_unlock (&self->streams_lock);
  if (m == NULL || refuse_bidirectional (self, s, m))
    return FALSE;
  if (!gst_lstm_parse_audio_caps (caps, &channels, &rate, &s16))
    return FALSE;
  if (channels != m->input_size) {
    /* sticky caps come back with every buffer upstream tries: say it once
     * (streaming thread only, like the caps) */
    if (s->refused_channels == channels)
      return FALSE;
    s->refused_channels = channels;
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("The stream on %s carries %u values per frame, the model takes %u.",
            GST_PAD_NAME (s->sinkpad), channels, m->input_size),
        ("caps %" GST_PTR_FORMAT, caps));
    return FALSE;
  }
  g_mutex_lock (&self->streams_lock);
  s->channels = channels;
  s->rate = rate;
  s->s16 = s16;
  if (s->state == NULL || !lstm_state_fits (s->state, m)) {
    g_clear_pointer (&s->state, lstm_state_free);
    /* the streams step in lstm_streams_forward's scratch; a stream's own
     * forward pass runs only for a buffer with a non-finite frame, so its
     * scratch holds one frame (64 of them cost ~340 KiB a stream of S1) */
    s->state = lstm_state_new (m, 1);
  }
  g_clear_pointer (&s->model, lstm_model_unref);
  s->model = lstm_model_ref (m);
  s->need_caps = FALSE;
  s->discont_out = TRUE;
  reset_stream (s);
  wake_all (self);
  g_mutex_unlock (&self->streams_lock);

  return push_src_caps (s, lstm_model_get_output_size (m), (gint) rate);
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
      ok = stream_set_caps (self, s, caps);
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
      s->discont_out = TRUE;
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

/* src_N's LATENCY: upstream's, plus stream-wait, which a frame may wait
 * for the other streams (a live sink must allow for it); the rest as
 * any query. */
static gboolean
stream_src_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  GstLstm *self = GST_LSTM (parent);

  if (GST_QUERY_TYPE (query) == GST_QUERY_LATENCY
      && gst_pad_query_default (pad, parent, query)) {
    gboolean live;
    GstClockTime min, max, wait;
    g_mutex_lock (&self->streams_lock);
    wait = self->stream_wait;
    g_mutex_unlock (&self->streams_lock);
    gst_query_parse_latency (query, &live, &min, &max);
    gst_query_set_latency (query, live, min + wait,
        GST_CLOCK_TIME_IS_VALID (max) ? max + wait : max);
    return TRUE;
  }
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
  gst_pad_set_query_function (s->srcpad, GST_DEBUG_FUNCPTR (stream_src_query));
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
    g_clear_pointer (&s->model, lstm_model_unref);
    s->need_caps = FALSE;
    g_array_set_size (s->last, 0);
    s->refused_channels = 0;
    s->said_not_linked = FALSE;
    s->eos = s->flushing = s->stepping = s->due = s->late = FALSE;
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
