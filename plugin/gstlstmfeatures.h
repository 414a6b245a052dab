/* lstmfeatures: Kaldi-compatible log-mel filterbank and MFCC frames. */
#ifndef __GST_LSTM_FEATURES_H__
#define __GST_LSTM_FEATURES_H__

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>
#include "lstm.h"

G_BEGIN_DECLS

#define GST_TYPE_LSTM_FEATURES (gst_lstm_features_get_type ())
G_DECLARE_FINAL_TYPE (GstLstmFeatures, gst_lstm_features, GST, LSTM_FEATURES,
    GstBaseTransform);

struct _GstLstmFeatures
{
  GstBaseTransform parent;

  /* Properties; under the object lock. Applied when caps are set. */
  LstmFeaturesConfig cfg;
  gint channel;                 /* -1: average the channels, else this one */
  guint cmn_window;             /* frames of sliding-window CMN; 0: none */
  gboolean streaming;           /* between start and stop: options fixed */

  /* Streaming thread only. */
  LstmFeatures *features;       /* NULL until caps are set */
  LstmCmn *cmn;                 /* with cmn-window, else NULL */
  float *scratch;               /* frames on their way to cmn */
  gsize scratch_size;           /* scratch's room, in floats */
  guint rate;                   /* input samples per second */
  guint channels;               /* input channels */
  LstmSampleFormat format;
  gint use_channel;             /* the channel property when caps were set */
  guint bpf;                    /* input bytes per sample frame (all channels) */
  guint frame_size;             /* floats per output frame */
  GstCaps *refused_caps;        /* the last input caps refused: the retries
                                 * of a negotiation post no more errors */
  GstClockTime t0;              /* time of sample 0 of this framing, or NONE */
  gboolean have_t0;             /* t0 was taken from the framing's first buffer */
  gboolean discont;             /* mark the next output DISCONT */
  GstSegment segment;

  /* Non-finite input: replaced by 0, counted, warned about once a second. */
  guint64 nonfinite_seen;       /* the core's count at the last look */
  guint64 nonfinite_total;      /* since start; read by the property */
  gint64 last_warning_time;     /* monotonic microseconds */
};

G_END_DECLS

#endif
