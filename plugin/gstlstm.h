/* lstm: streaming LSTM inference with state kept across buffers. */
#ifndef __GST_LSTM_H__
#define __GST_LSTM_H__

#include <gst/gst.h>
#include "lstm.h"

G_BEGIN_DECLS

#define GST_TYPE_LSTM (gst_lstm_get_type ())
G_DECLARE_FINAL_TYPE (GstLstm, gst_lstm, GST, LSTM, GstElement);

typedef enum
{
  GST_LSTM_OUTPUT_MODE_FRAME,   /* every frame */
  GST_LSTM_OUTPUT_MODE_STRIDE,  /* every stride-th frame */
  GST_LSTM_OUTPUT_MODE_LAST,    /* the last frame of each sequence */
} GstLstmOutputMode;

typedef enum
{
  GST_LSTM_TEXT_FORMAT_LABEL,   /* "<label> <confidence>" */
  GST_LSTM_TEXT_FORMAT_JSON,    /* one JSON object per line */
} GstLstmTextFormat;

/* A buffer pool for one source pad's output buffers, made on first use. */
typedef struct
{
  GstBufferPool *pool;
  gsize bytes;                  /* size of its buffers */
} GstLstmOutPool;

struct _GstLstm
{
  GstElement element;

  GstPad *sinkpad;
  GstPad *srcpad;

  /* Properties; under the object lock. */
  gchar *model_path;
  gboolean reset_on_discont;
  GstLstmOutputMode output_mode;
  guint stride;                 /* frames between outputs in stride mode */
  GstLstmTextFormat text_format;
  gboolean post_messages;
  guint64 message_interval;     /* nanoseconds between messages */
  guint threads;                /* BLAS threads */
  LstmPrecision weights;        /* storage of the weight matrices */
  guint max_held;               /* bidirectional: frames held at most */

  /* The model file and weights running; object lock. A model or weights
   * set while streaming and refused (it does not load or does not fit)
   * give way to these again, so that the properties say what runs. */
  gchar *running_path;
  LstmPrecision running_weights;

  /* Handed from other threads to the streaming thread; object lock. */
  LstmModel *pending_model;     /* a hot-swapped model, loaded */
  gchar *pending_path;          /* its file and weights */
  LstmPrecision pending_weights;
  gboolean pending_reset;       /* the reset signal was emitted */
  guint load_serial;            /* the newest model load started */

  /* Streaming thread only (the sink pad's stream lock). */
  GstLstmTextFormat cur_format; /* the properties as of this buffer, read */
  gboolean cur_post_messages;   /* once per buffer so that no frame takes */
  guint64 cur_interval;         /* the object lock */
  guint cur_max_held;
  LstmModel *model;
  /* The state, pointer and contents, also under state_lock: the streaming
   * thread holds it only while it computes, never while it pushes, so the
   * state property does not wait on a blocked downstream (a prerolled
   * sink) as it would on the stream lock. */
  LstmState *state;
  GMutex state_lock;
  /* state_lock: the application wrote the state and no frame has used it
   * yet, so the stream's own boundaries (STREAM_START, FLUSH_STOP, a caps
   * change, a DISCONT) leave it; the reset signal and the lstm-reset event
   * do not (reset_sequence) */
  gboolean state_restored;
  /* state_lock: a state written before a model ran (NULL or READY), put
   * into the state when the model loads (READY -> PAUSED) */
  GBytes *start_state;
  guint channels;               /* negotiated features per frame */
  guint refused_channels;       /* a size refused already (error posted) */
  gint rate;                    /* frames per second */
  gboolean s16;                 /* S16LE input, else F32LE */
  gboolean text;                /* text/x-raw output, else vectors */
  guint out_size;               /* floats per output frame */
  float *in_frames;             /* [LSTM_DEFAULT_MAX_FRAMES, channels] */
  float *out_frames;            /* [LSTM_DEFAULT_MAX_FRAMES, out_size] */
  float *last_out;              /* [out_size]: the latest output */
  gboolean have_last;           /* last_out holds a not yet emitted frame (last mode) */
  gboolean have_any;            /* last_out holds some output since the reset */
  GstClockTime last_pts;        /* PTS of the frame in last_out */
  GstClockTime seq_start;       /* PTS of the sequence's first frame */
  guint64 frames_in_seq;        /* frames since the last reset */
  GstSegment segment;
  GstClockTime next_pts;        /* expected PTS of the next frame */
  gboolean need_caps;           /* src caps must be (re)sent */
  gboolean discont_out;         /* the next output buffer is DISCONT */
  GstLstmOutPool out_pool;      /* output buffers of vector mode */

  /* Bidirectional model: the sequence's frames, held until it ends. */
  GArray *held;                 /* floats, [frames, channels] */
  GstClockTime held_pts;        /* PTS of its first frame */
  gboolean warned_cut;          /* a cut at max-held-frames was warned of */

  /* Bus messages: the emitted predictions since the last message. */
  float *msg_sum;               /* [out_size] */
  guint msg_count;
  GstClockTime msg_start;

  /* Non-finite frames: skipped, counted, warned about once a second;
   * object lock (the request pads' streams count too). */
  guint64 skipped_frames;
  gint64 last_warning_time;     /* monotonic microseconds */

  /* Multi-stream mode (gstlstm-streams.c): the streams of the request pads
   * sink_%u / src_%u, stepped together; under streams_lock. */
  GMutex streams_lock;
  GPtrArray *streams;           /* GstLstmStream* */
  guint next_stream;            /* the number of the next sink_%u */
  guint64 stream_wait;          /* property: ns a stream waits for the rest */
  GPtrArray *free_steps;        /* scratch of steps not running now */
  guint cores;                  /* processors, read once: steps run side by side */
  guint streams_said;           /* messages posted once a run (a bit each) */
};

/* Maps a buffer of frames for reading; a buffer that is not a whole number
 * of frames is an element error (FALSE, nothing mapped). (gstlstm.c, also
 * for the request pads) */
gboolean gst_lstm_map_frames (GstLstm * self, GstBuffer * buf,
    guint channels, gboolean s16, GstMapInfo * map, guint * n_frames);

/* Output buffers of `bytes` from a pool kept for one source pad
 * (gstlstm.c): nothing allocated per buffer in a steady stream. */
GstBuffer *gst_lstm_out_pool_buffer (GstLstmOutPool * pool, gsize bytes);
void gst_lstm_out_pool_clear (GstLstmOutPool * pool);

/* Counts non-finite frames skipped (on the sink pad or a request pad)
 * into skipped-frames and warns of them at most once a second (gstlstm.c;
 * any streaming thread: the count is under the object lock). */
void gst_lstm_count_skipped (GstLstm * self, guint skipped);

/* A model loaded while playing (from path, with weights) was swapped in:
 * the model and weights properties read what runs (gstlstm.c; any
 * thread, without the object lock). */
void gst_lstm_set_running (GstLstm * self, const gchar * path,
    LstmPrecision weights);
/* Such a model was refused: unless newer ones were set meanwhile, the
 * properties go back to what runs, with notifications. */
void gst_lstm_revert_refused (GstLstm * self, const gchar * path,
    LstmPrecision weights);

/* The sink caps on offer (gstlstm.c), also for the request pads. */
GstCaps *gst_lstm_sink_query_caps (GstLstm * self, GstCaps * filter);

G_END_DECLS

#endif
