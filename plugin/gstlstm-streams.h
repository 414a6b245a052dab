/* lstm's multi-stream mode: request pads sink_%u / src_%u, one stream
 * each, stepped together (gstlstm-streams.c). */
#ifndef __GST_LSTM_STREAMS_H__
#define __GST_LSTM_STREAMS_H__

#include "gstlstm.h"

G_BEGIN_DECLS

/* The request pad templates and the request/release functions. */
void gst_lstm_streams_class_init (GstElementClass * klass);
void gst_lstm_streams_init (GstLstm * self);
void gst_lstm_streams_finalize (GstLstm * self);
/* Before PAUSED -> READY: no stream waits for the others any more. */
void gst_lstm_streams_unblock (GstLstm * self);
/* The stream-wait property: the waiting streams see the new value. */
void gst_lstm_streams_set_wait (GstLstm * self, guint64 wait);
/* PAUSED -> READY: every stream forgets its state and the scratch goes. */
void gst_lstm_streams_stop (GstLstm * self);
/* The reset signal: every stream resets its state before its next
 * buffer. */
void gst_lstm_streams_reset (GstLstm * self);
/* The state property (called with the single sink pad's stream lock):
 * TRUE when request pads run and the single sink pad does not (has no
 * caps), so the property does not reach the streams, each of which has
 * its own state; with `warn`, says so in a warning once a run. */
gboolean gst_lstm_streams_own_state (GstLstm * self, gboolean warn);

G_END_DECLS

#endif
