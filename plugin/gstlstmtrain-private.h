/* lstmtrain's internals shared by its files: the element
 * (gstlstmtrain.c), sequence assembly (gstlstmtrain-data.c), the
 * training loops (gstlstmtrain-run.c) and the variant properties
 * (gstlstmtrain-variant.c). */
#ifndef __GST_LSTM_TRAIN_PRIVATE_H__
#define __GST_LSTM_TRAIN_PRIVATE_H__

#include "gstlstmtrain.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (gst_lstm_train_debug);

/* One training sequence: frames [first, first + len) of the collection. */
typedef struct
{
  guint first;
  guint len;
  gint label;                   /* its class (label track, fixed label), or -1 */
} Seq;

/* What the collected stream turns into. */
typedef struct
{
  GArray *seqs;                 /* Seq */
  GPtrArray *labels;            /* class names, NULL-terminated at the end */
  float *targets;               /* [n_frames, out_size] aligned, or NULL */
  gint *ids;                    /* [n_frames] class per frame, or NULL */
  guint out_size;               /* head outputs */
  guint dropped;                /* frames left out: non-finite, no target */
  const gchar *labels_from;     /* who fixed the classes, for messages */
} Dataset;

void gst_lstm_train_dataset_clear (Dataset * d);
/* First frame index whose PTS is >= t (pts is sorted). */
guint gst_lstm_train_lower_bound (GArray * pts, GstClockTime t);
gint gst_lstm_train_find_label (GPtrArray * labels, const gchar * name);
/* The labels property as class names in order; NULL when unset. */
GPtrArray *gst_lstm_train_labels_from_property (const gchar * prop);
/* The classes fixed before the stream, in class-id order: init-model's
 * labels, or else the labels property; NULL (no error) when neither
 * fixes them. *from: who fixed them, for messages. */
GPtrArray *gst_lstm_train_fixed_labels (GstLstmTrain * self,
    const gchar ** from, GError ** error);
/* Frame i of the collection holds no NaN or infinity. */
gboolean gst_lstm_train_frame_ok (GstLstmTrain * self, guint i);
/* Turns the collection into the task's sequences (offline). */
gboolean gst_lstm_train_build_dataset (GstLstmTrain * self, Dataset * d,
    GError ** error);

/* Trains at the end of the stream and saves the best model. */
GstFlowReturn gst_lstm_train_train_offline (GstLstmTrain * self);
/* gstlstmtrain-run.c: FALSE (and why) when a model of `directions`
 * cannot train in `mode` (at start for a new model, at the first step
 * for init-model's). */
gboolean gst_lstm_train_check_directions (guint directions,
    GstLstmTrainMode mode, GError ** error);
/* Trains what the frames so far allow; at eos the last steps and save. */
GstFlowReturn gst_lstm_train_train_online (GstLstmTrain * self,
    gboolean eos);
void gst_lstm_train_online_free (gpointer online);
/* After a flush (the collection emptied): drops the carried state and the
 * position in the collection, keeps the model and the optimizer. */
void gst_lstm_train_online_flush (gpointer online);

/* gstlstmtrain-variant.c: the variant properties, ids first .. first + 6,
 * kept in an LstmModelConfig (its sizes unused). set/get return FALSE
 * for an id that is not theirs (id counted from first). */
void gst_lstm_train_install_variant_properties (GObjectClass * klass,
    guint first);
void gst_lstm_train_init_variant (LstmModelConfig * c);
gboolean gst_lstm_train_set_variant_property (LstmModelConfig * c, guint id,
    const GValue * value);
gboolean gst_lstm_train_get_variant_property (const LstmModelConfig * c,
    guint id, GValue * value);

G_END_DECLS

#endif
