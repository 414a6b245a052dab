/* lstmtrain: trains an LSTM inside a pipeline and writes a model file. */
#ifndef __GST_LSTM_TRAIN_H__
#define __GST_LSTM_TRAIN_H__

#include <gst/gst.h>
#include <gst/base/gstaggregator.h>
#include "lstm.h"

G_BEGIN_DECLS

#define GST_TYPE_LSTM_TRAIN (gst_lstm_train_get_type ())
G_DECLARE_FINAL_TYPE (GstLstmTrain, gst_lstm_train, GST, LSTM_TRAIN,
    GstAggregator);

typedef enum
{
  GST_LSTM_TRAIN_TASK_CLASSIFY,
  GST_LSTM_TRAIN_TASK_REGRESS,
  GST_LSTM_TRAIN_TASK_FORECAST,
} GstLstmTrainTask;

typedef enum
{
  GST_LSTM_TRAIN_LOSS_AUTO,     /* cross-entropy to classify, MSE otherwise */
  GST_LSTM_TRAIN_LOSS_CROSS_ENTROPY,    /* on every frame */
  GST_LSTM_TRAIN_LOSS_CROSS_ENTROPY_LAST,       /* on each sequence's last frame */
  GST_LSTM_TRAIN_LOSS_MSE,
} GstLstmTrainLoss;

typedef enum
{
  GST_LSTM_TRAIN_OPTIMIZER_SGD,
  GST_LSTM_TRAIN_OPTIMIZER_ADAM,
  GST_LSTM_TRAIN_OPTIMIZER_ADAMW,
  GST_LSTM_TRAIN_OPTIMIZER_RMSPROP,
} GstLstmTrainOptimizer;

typedef enum
{
  GST_LSTM_TRAIN_MODE_OFFLINE,
  GST_LSTM_TRAIN_MODE_ONLINE,
} GstLstmTrainMode;

/* One labelled cue of a label track (nanoseconds, stream time). */
typedef struct
{
  GstClockTime start;
  GstClockTime end;
  gchar *label;
} GstLstmTrainCue;

struct _GstLstmTrain
{
  GstAggregator parent;

  GstAggregatorPad *sinkpad;    /* frames */
  GstAggregatorPad *targetpad;  /* optional: label track or target frames */
  guint32 seek_seqnum;          /* a flushing seek being sent upstream, or
                                 * GST_SEQNUM_INVALID; object lock */

  /* Properties; object lock. */
  gchar *model_path;
  gchar *init_model;
  guint hidden_size;
  guint num_layers;
  GstLstmTrainTask task;
  GstLstmTrainLoss loss;
  gchar *labels;                /* comma-separated, or NULL */
  gchar *label;                 /* fixed label, or NULL */
  GstLstmTrainOptimizer optimizer;
  gdouble learning_rate;
  gdouble momentum;
  gdouble weight_decay;
  gdouble clip_grad_norm;       /* 0: no clipping */
  gdouble dropout;
  guint epochs;
  guint batch_size;
  gboolean shuffle;
  guint64 seed;
  gdouble validation_fraction;
  guint patience;               /* epochs without improvement; 0: none */
  GstLstmTrainMode mode;
  guint bptt;                   /* frames per window */
  guint horizon;                /* forecast: frames ahead */
  guint64 checkpoint_interval;  /* online: ns of stream between saves */
  LstmModelConfig variant;      /* cell, proj-size, ...; sizes unused */

  /* Collected on the aggregator's thread. */
  guint channels;               /* features per frame */
  gint rate;                    /* frames per second */
  gboolean s16;
  GArray *frames;               /* float, [n_frames * channels] */
  GArray *frame_pts;            /* GstClockTime per frame */
  GArray *breaks;               /* guint: frame indices starting a new stretch */
  GstClockTime next_pts;
  gboolean target_text;         /* label track, else target frames */
  gboolean target_markup;       /* pango-markup rather than utf8 */
  guint target_channels;
  gint target_rate;
  gboolean target_s16;
  GArray *cues;                 /* GstLstmTrainCue */
  GArray *targets;              /* float, [n * target_channels] */
  GArray *target_pts;           /* GstClockTime per target frame */
  GstClockTime target_next_pts;
  gboolean trained;             /* the model was written */
  gpointer online;              /* mode=online's trainer and position */
  volatile gint cancel;         /* stop training: flushing or stopping */
};

G_END_DECLS

#endif
