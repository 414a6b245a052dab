/**
 * SECTION:element-lstmtrain
 * @title: lstmtrain
 *
 * Trains an LSTM network on the frames of a pipeline (the same frame
 * stream the `lstm` element reads) and writes a model file that `lstm` and
 * PyTorch (`nn.LSTM` + `nn.Linear`) load.
 *
 * The `sink` pad takes the frames. Targets come one of three ways:
 *
 * - a `target` pad (request it by name) carrying a label track,
 *   `text/x-raw` (`utf8`, or `pango-markup` as `subparse` emits it, markup
 *   stripped): every cue is one labelled sequence and the frames whose PTS
 *   fall inside it are its input;
 * - a `target` pad carrying a numeric frame stream aligned by timestamp:
 *   target vectors (`task=regress`) or class ids (`task=classify`, the
 *   first channel rounded), windows of #GstLstmTrain:bptt frames;
 * - no target pad: `task=forecast` predicts frame t + #GstLstmTrain:horizon
 *   from the frames up to t, or a fixed #GstLstmTrain:label names the class
 *   of every window of the stream.
 *
 * In `mode=offline` the sequences are collected, and at end of stream the
 * network trains for #GstLstmTrain:epochs epochs on shuffled mini-batches,
 * holding out #GstLstmTrain:validation-fraction of the sequences, stopping
 * early after #GstLstmTrain:patience epochs without a better validation
 * loss, and saving the best model (atomically: a temporary file, fsync,
 * rename). Input normalization (mean and std per feature) is measured on
 * the training frames and stored in the model.
 *
 * In `mode=online` it trains while the stream flows: truncated BPTT over
 * consecutive #GstLstmTrain:bptt-frame windows with the state carried
 * between them (forecasts, fixed labels), or one step per cue once its
 * frames have come (label tracks); the model is saved every
 * #GstLstmTrain:checkpoint-interval of stream time and at the end.
 *
 * Every epoch posts an element message named `lstmtrain` with `epoch`
 * (guint), `train-loss`, `train-accuracy`, `val-loss`, `val-accuracy`,
 * `frames-per-second` (gdouble; accuracies are NaN for regression, val-*
 * NaN without a validation set), progress messages (GST_MESSAGE_PROGRESS),
 * and pushes the same four losses and accuracies on the `src` pad as one
 * frame of a 4-channel frame stream, so that `! fakesink` works.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 lstmtrain name=t model=kws.safetensors epochs=20 ! fakesink \
 *     filesrc location=train.wav ! wavparse ! audioconvert ! lstmfeatures ! t.sink \
 *     filesrc location=train.srt ! subparse ! t.target
 * ]| Trains a classifier, one sequence per subtitle cue.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstlstmtrain.h"
#include "gstlstmtrain-private.h"
#include "gstlstmelements.h"

#include <math.h>
#include <string.h>

GST_DEBUG_CATEGORY (gst_lstm_train_debug);
#define GST_CAT_DEFAULT gst_lstm_train_debug

#define DEFAULT_MODEL NULL
#define DEFAULT_INIT_MODEL NULL
#define DEFAULT_HIDDEN_SIZE 17  /* nn.LSTM has no default; DESIGN.md's choice */
#define DEFAULT_NUM_LAYERS 1
#define DEFAULT_TASK GST_LSTM_TRAIN_TASK_CLASSIFY
#define DEFAULT_LOSS GST_LSTM_TRAIN_LOSS_AUTO
#define DEFAULT_LABELS NULL
#define DEFAULT_LABEL NULL
#define DEFAULT_OPTIMIZER GST_LSTM_TRAIN_OPTIMIZER_ADAM
#define DEFAULT_LEARNING_RATE 0.001     /* torch.optim.Adam's default */
#define DEFAULT_MOMENTUM 0.0
#define DEFAULT_WEIGHT_DECAY 0.0
#define DEFAULT_CLIP_GRAD_NORM 0.0
#define DEFAULT_DROPOUT 0.0
#define DEFAULT_EPOCHS 10
#define DEFAULT_BATCH_SIZE 32
#define DEFAULT_SHUFFLE TRUE
#define DEFAULT_SEED 0
#define DEFAULT_VALIDATION_FRACTION 0.1
#define DEFAULT_PATIENCE 0
#define DEFAULT_MODE GST_LSTM_TRAIN_MODE_OFFLINE
#define DEFAULT_BPTT 100
#define DEFAULT_HORIZON 1
#define DEFAULT_CHECKPOINT_INTERVAL (60 * GST_SECOND)

enum
{
  PROP_0,
  PROP_MODEL,
  PROP_INIT_MODEL,
  PROP_HIDDEN_SIZE,
  PROP_NUM_LAYERS,
  PROP_TASK,
  PROP_LOSS,
  PROP_LABELS,
  PROP_LABEL,
  PROP_OPTIMIZER,
  PROP_LEARNING_RATE,
  PROP_MOMENTUM,
  PROP_WEIGHT_DECAY,
  PROP_CLIP_GRAD_NORM,
  PROP_DROPOUT,
  PROP_EPOCHS,
  PROP_BATCH_SIZE,
  PROP_SHUFFLE,
  PROP_SEED,
  PROP_VALIDATION_FRACTION,
  PROP_PATIENCE,
  PROP_MODE,
  PROP_BPTT,
  PROP_HORIZON,
  PROP_CHECKPOINT_INTERVAL,
  PROP_VARIANT_FIRST,           /* gstlstmtrain-variant.c's, from here on */
};

#define FRAME_CAPS \
  "audio/x-raw, format = (string) { F32LE, S16LE }, " \
  "layout = (string) interleaved, channels = (int) [ 1, MAX ], " \
  "rate = (int) [ 1, MAX ]"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (FRAME_CAPS));

static GstStaticPadTemplate target_template =
    GST_STATIC_PAD_TEMPLATE ("target", GST_PAD_SINK, GST_PAD_REQUEST,
    GST_STATIC_CAPS ("text/x-raw, format = (string) { utf8, pango-markup }; "
        FRAME_CAPS));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("audio/x-raw, format = (string) F32LE, "
        "layout = (string) interleaved, channels = (int) 4, "
        "rate = (int) 1, channel-mask = (bitmask) 0"));

#define gst_lstm_train_parent_class parent_class
G_DEFINE_TYPE (GstLstmTrain, gst_lstm_train, GST_TYPE_AGGREGATOR);
GST_ELEMENT_REGISTER_DEFINE (lstmtrain, "lstmtrain", GST_RANK_NONE,
    GST_TYPE_LSTM_TRAIN);

/* ----------------------------------------------------------------- enums */

/* *INDENT-OFF* */
GST_LSTM_DEFINE_ENUM_TYPE (gst_lstm_train_task_get_type, "GstLstmTrainTask",
    {GST_LSTM_TRAIN_TASK_CLASSIFY, "Classify: a class per sequence (label "
        "track, fixed label) or per frame (numeric class ids)", "classify"},
    {GST_LSTM_TRAIN_TASK_REGRESS, "Regress: target vectors from the target "
        "pad", "regress"},
    {GST_LSTM_TRAIN_TASK_FORECAST, "Forecast: predict frame t + horizon from "
        "the frames up to t (no target pad)", "forecast"})
GST_LSTM_DEFINE_ENUM_TYPE (gst_lstm_train_loss_get_type, "GstLstmTrainLoss",
    {GST_LSTM_TRAIN_LOSS_AUTO, "Cross-entropy on every frame to classify "
        "(a sequence's class is the target of each of its frames), MSE "
        "otherwise", "auto"},
    {GST_LSTM_TRAIN_LOSS_CROSS_ENTROPY, "Cross-entropy on every frame",
        "cross-entropy"},
    {GST_LSTM_TRAIN_LOSS_CROSS_ENTROPY_LAST, "Cross-entropy on each "
        "sequence's last frame", "cross-entropy-last"},
    {GST_LSTM_TRAIN_LOSS_MSE, "Mean squared error", "mse"})
GST_LSTM_DEFINE_ENUM_TYPE (gst_lstm_train_optimizer_get_type,
    "GstLstmTrainOptimizer",
    {GST_LSTM_TRAIN_OPTIMIZER_SGD, "SGD with momentum (torch.optim.SGD)",
        "sgd"},
    {GST_LSTM_TRAIN_OPTIMIZER_ADAM, "Adam (torch.optim.Adam)", "adam"},
    {GST_LSTM_TRAIN_OPTIMIZER_ADAMW, "AdamW (torch.optim.AdamW)", "adamw"},
    {GST_LSTM_TRAIN_OPTIMIZER_RMSPROP, "RMSprop (torch.optim.RMSprop)",
        "rmsprop"})
GST_LSTM_DEFINE_ENUM_TYPE (gst_lstm_train_mode_get_type, "GstLstmTrainMode",
    {GST_LSTM_TRAIN_MODE_OFFLINE, "Collect the stream, train at its end",
        "offline"},
    {GST_LSTM_TRAIN_MODE_ONLINE, "Train while streaming, bptt-frame windows",
        "online"})
/* *INDENT-ON* */

static void gst_lstm_train_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec);
static void gst_lstm_train_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec);
static void gst_lstm_train_finalize (GObject * object);
static GstFlowReturn gst_lstm_train_aggregate (GstAggregator * agg,
    gboolean timeout);
static gboolean gst_lstm_train_sink_event (GstAggregator * agg,
    GstAggregatorPad * pad, GstEvent * event);
static gboolean gst_lstm_train_src_event (GstAggregator * agg,
    GstEvent * event);
static GstAggregatorPad *gst_lstm_train_create_new_pad (GstAggregator * agg,
    GstPadTemplate * templ, const gchar * req_name, const GstCaps * caps);
static GstFlowReturn gst_lstm_train_update_src_caps (GstAggregator * agg,
    GstCaps * caps, GstCaps ** ret);
static gboolean gst_lstm_train_start (GstAggregator * agg);
static gboolean gst_lstm_train_stop (GstAggregator * agg);
static GstStateChangeReturn gst_lstm_train_change_state (GstElement *
    element, GstStateChange transition);
static GstFlowReturn gst_lstm_train_flush (GstAggregator * agg);
static void gst_lstm_train_release_pad (GstElement * element, GstPad * pad);

static void
install_double (GObjectClass * klass, guint id, const gchar * name,
    const gchar * nick, const gchar * blurb, gdouble min, gdouble max,
    gdouble def)
{
  g_object_class_install_property (klass, id,
      g_param_spec_double (name, nick, blurb, min, max, def,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
}

static void
install_uint (GObjectClass * klass, guint id, const gchar * name,
    const gchar * nick, const gchar * blurb, guint min, guint max, guint def)
{
  g_object_class_install_property (klass, id,
      g_param_spec_uint (name, nick, blurb, min, max, def,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
}

static void
gst_lstm_train_class_init (GstLstmTrainClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstAggregatorClass *agg_class = GST_AGGREGATOR_CLASS (klass);
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY;

  gobject_class->set_property = gst_lstm_train_set_property;
  gobject_class->get_property = gst_lstm_train_get_property;
  gobject_class->finalize = gst_lstm_train_finalize;
  element_class->change_state =
      GST_DEBUG_FUNCPTR (gst_lstm_train_change_state);

  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model file",
          "Where to write the trained model (.safetensors); written "
          "atomically, so the previous file stays whole until the new one "
          "replaces it", DEFAULT_MODEL, rw));
  g_object_class_install_property (gobject_class, PROP_INIT_MODEL,
      g_param_spec_string ("init-model", "Initial model",
          "Start from this model instead of random weights (fine-tuning); "
          "its sizes and variant override hidden-size, num-layers and the "
          "variant properties (cell, ...)", DEFAULT_INIT_MODEL, rw));
  install_uint (gobject_class, PROP_HIDDEN_SIZE, "hidden-size", "Hidden size",
      "Units per LSTM layer of a new model", 1, LSTM_MAX_HIDDEN_SIZE,
      DEFAULT_HIDDEN_SIZE);
  install_uint (gobject_class, PROP_NUM_LAYERS, "num-layers", "Layers",
      "Stacked LSTM layers of a new model", 1, LSTM_MAX_LAYERS,
      DEFAULT_NUM_LAYERS);
  g_object_class_install_property (gobject_class, PROP_TASK,
      g_param_spec_enum ("task", "Task", "What the network learns",
          gst_lstm_train_task_get_type (), DEFAULT_TASK, rw));
  g_object_class_install_property (gobject_class, PROP_LOSS,
      g_param_spec_enum ("loss", "Loss", "The loss to minimize (PyTorch's "
          "'mean' reduction)", gst_lstm_train_loss_get_type (), DEFAULT_LOSS,
          rw));
  g_object_class_install_property (gobject_class, PROP_LABELS,
      g_param_spec_string ("labels", "Labels",
          "Comma-separated class names, in class-id order; without it the "
          "classes are init-model's labels in its order, or else those of "
          "the label track in order of first appearance (with init-model's "
          "labels it must equal them)", DEFAULT_LABELS, rw));
  g_object_class_install_property (gobject_class, PROP_LABEL,
      g_param_spec_string ("label", "Label",
          "With no target pad and task=classify: the class of the whole "
          "stream (it must be one of labels)", DEFAULT_LABEL, rw));
  g_object_class_install_property (gobject_class, PROP_OPTIMIZER,
      g_param_spec_enum ("optimizer", "Optimizer", "Update rule",
          gst_lstm_train_optimizer_get_type (), DEFAULT_OPTIMIZER, rw));
  install_double (gobject_class, PROP_LEARNING_RATE, "learning-rate",
      "Learning rate", "Step size of the optimizer (at most the largest "
      "float: the update is computed in floats; a run that diverges fails "
      "and saves nothing)", 0.0, G_MAXFLOAT, DEFAULT_LEARNING_RATE);
  install_double (gobject_class, PROP_MOMENTUM, "momentum", "Momentum",
      "SGD momentum (RMSprop's momentum too)", 0.0, 1.0, DEFAULT_MOMENTUM);
  install_double (gobject_class, PROP_WEIGHT_DECAY, "weight-decay",
      "Weight decay", "L2 penalty as the optimizer's weight_decay (AdamW: "
      "decoupled)", 0.0, G_MAXDOUBLE, DEFAULT_WEIGHT_DECAY);
  install_double (gobject_class, PROP_CLIP_GRAD_NORM, "clip-grad-norm",
      "Clip gradient norm", "Scale gradients down to this global L2 norm "
      "(0: no clipping)", 0.0, G_MAXDOUBLE, DEFAULT_CLIP_GRAD_NORM);
  install_double (gobject_class, PROP_DROPOUT, "dropout", "Dropout",
      "Dropout probability between stacked layers while training", 0.0, 0.99,
      DEFAULT_DROPOUT);
  install_uint (gobject_class, PROP_EPOCHS, "epochs", "Epochs",
      "Passes over the training sequences", 1, G_MAXINT, DEFAULT_EPOCHS);
  install_uint (gobject_class, PROP_BATCH_SIZE, "batch-size", "Batch size",
      "Sequences per optimizer step", 1, 65536, DEFAULT_BATCH_SIZE);
  g_object_class_install_property (gobject_class, PROP_SHUFFLE,
      g_param_spec_boolean ("shuffle", "Shuffle",
          "Shuffle the training sequences every epoch", DEFAULT_SHUFFLE, rw));
  g_object_class_install_property (gobject_class, PROP_SEED,
      g_param_spec_uint64 ("seed", "Seed", "Seed of the initial weights, the "
          "shuffles, the split and dropout: the same seed trains the same "
          "model", 0, G_MAXUINT64, DEFAULT_SEED, rw));
  install_double (gobject_class, PROP_VALIDATION_FRACTION,
      "validation-fraction", "Validation fraction",
      "Share of the sequences held out to validate (0: none; the best model "
      "is then the last)", 0.0, 0.9, DEFAULT_VALIDATION_FRACTION);
  install_uint (gobject_class, PROP_PATIENCE, "patience", "Patience",
      "Stop after this many epochs without a better validation loss (0: "
      "never)", 0, G_MAXINT, DEFAULT_PATIENCE);
  g_object_class_install_property (gobject_class, PROP_MODE,
      g_param_spec_enum ("mode", "Mode", "When to train",
          gst_lstm_train_mode_get_type (), DEFAULT_MODE, rw));
  install_uint (gobject_class, PROP_BPTT, "bptt", "BPTT window",
      "Frames per training window of a stream without cues (numeric "
      "targets, forecast, fixed label)", 2, 1000000, DEFAULT_BPTT);
  install_uint (gobject_class, PROP_HORIZON, "horizon", "Horizon",
      "task=forecast: how many frames ahead to predict", 1, 1000000,
      DEFAULT_HORIZON);
  g_object_class_install_property (gobject_class, PROP_CHECKPOINT_INTERVAL,
      g_param_spec_uint64 ("checkpoint-interval", "Checkpoint interval",
          "mode=online: nanoseconds of stream between two saves (0: save "
          "only at the end of the stream)", 0,
          G_MAXUINT64, DEFAULT_CHECKPOINT_INTERVAL, rw));
  gst_lstm_train_install_variant_properties (gobject_class, PROP_VARIANT_FIRST);

  gst_element_class_add_static_pad_template_with_gtype (element_class,
      &sink_template, GST_TYPE_AGGREGATOR_PAD);
  gst_element_class_add_static_pad_template_with_gtype (element_class,
      &target_template, GST_TYPE_AGGREGATOR_PAD);
  gst_element_class_add_static_pad_template_with_gtype (element_class,
      &src_template, GST_TYPE_AGGREGATOR_PAD);
  gst_element_class_set_static_metadata (element_class, "LSTM trainer",
      "Filter/Analyzer/Audio",
      "Trains an LSTM network on a stream of feature frames and their "
      "targets, and writes a model file the lstm element and PyTorch load",
      "gst-lstm developers");

  element_class->release_pad = GST_DEBUG_FUNCPTR (gst_lstm_train_release_pad);
  agg_class->aggregate = GST_DEBUG_FUNCPTR (gst_lstm_train_aggregate);
  agg_class->sink_event = GST_DEBUG_FUNCPTR (gst_lstm_train_sink_event);
  agg_class->src_event = GST_DEBUG_FUNCPTR (gst_lstm_train_src_event);
  agg_class->create_new_pad = GST_DEBUG_FUNCPTR (gst_lstm_train_create_new_pad);
  agg_class->update_src_caps =
      GST_DEBUG_FUNCPTR (gst_lstm_train_update_src_caps);
  agg_class->start = GST_DEBUG_FUNCPTR (gst_lstm_train_start);
  agg_class->stop = GST_DEBUG_FUNCPTR (gst_lstm_train_stop);
  agg_class->flush = GST_DEBUG_FUNCPTR (gst_lstm_train_flush);

  gst_type_mark_as_plugin_api (gst_lstm_train_task_get_type (), 0);
  gst_type_mark_as_plugin_api (gst_lstm_train_loss_get_type (), 0);
  gst_type_mark_as_plugin_api (gst_lstm_train_optimizer_get_type (), 0);
  gst_type_mark_as_plugin_api (gst_lstm_train_mode_get_type (), 0);
  GST_DEBUG_CATEGORY_INIT (gst_lstm_train_debug, "lstmtrain", 0,
      "LSTM training");
}

static void
clear_cue (GstLstmTrainCue * cue)
{
  g_free (cue->label);
}

static void
gst_lstm_train_init (GstLstmTrain * self)
{
  GstPadTemplate *templ =
      gst_element_class_get_pad_template (GST_ELEMENT_GET_CLASS (self),
      "sink");

  self->seek_seqnum = GST_SEQNUM_INVALID;
  self->sinkpad = g_object_new (GST_TYPE_AGGREGATOR_PAD, "name", "sink",
      "direction", GST_PAD_SINK, "template", templ, NULL);
  gst_element_add_pad (GST_ELEMENT (self), GST_PAD (self->sinkpad));

  self->hidden_size = DEFAULT_HIDDEN_SIZE;
  self->num_layers = DEFAULT_NUM_LAYERS;
  self->task = DEFAULT_TASK;
  self->loss = DEFAULT_LOSS;
  self->optimizer = DEFAULT_OPTIMIZER;
  self->learning_rate = DEFAULT_LEARNING_RATE;
  self->momentum = DEFAULT_MOMENTUM;
  self->weight_decay = DEFAULT_WEIGHT_DECAY;
  self->clip_grad_norm = DEFAULT_CLIP_GRAD_NORM;
  self->dropout = DEFAULT_DROPOUT;
  self->epochs = DEFAULT_EPOCHS;
  self->batch_size = DEFAULT_BATCH_SIZE;
  self->shuffle = DEFAULT_SHUFFLE;
  self->seed = DEFAULT_SEED;
  self->validation_fraction = DEFAULT_VALIDATION_FRACTION;
  self->patience = DEFAULT_PATIENCE;
  self->mode = DEFAULT_MODE;
  gst_lstm_train_init_variant (&self->variant);
  self->bptt = DEFAULT_BPTT;
  self->horizon = DEFAULT_HORIZON;
  self->checkpoint_interval = DEFAULT_CHECKPOINT_INTERVAL;

  self->frames = g_array_new (FALSE, FALSE, sizeof (float));
  self->frame_pts = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  self->breaks = g_array_new (FALSE, FALSE, sizeof (guint));
  self->cues = g_array_new (FALSE, FALSE, sizeof (GstLstmTrainCue));
  g_array_set_clear_func (self->cues, (GDestroyNotify) clear_cue);
  self->targets = g_array_new (FALSE, FALSE, sizeof (float));
  self->target_pts = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
}

static void
gst_lstm_train_finalize (GObject * object)
{
  GstLstmTrain *self = GST_LSTM_TRAIN (object);

  g_free (self->model_path);
  g_free (self->init_model);
  g_free (self->labels);
  g_free (self->label);
  g_array_unref (self->frames);
  g_array_unref (self->frame_pts);
  g_array_unref (self->breaks);
  g_array_unref (self->cues);
  g_array_unref (self->targets);
  g_array_unref (self->target_pts);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

/* ---------------------------------------------------------- properties */

static void
gst_lstm_train_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstLstmTrain *self = GST_LSTM_TRAIN (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_free (self->model_path);
      self->model_path = g_value_dup_string (value);
      break;
    case PROP_INIT_MODEL:
      g_free (self->init_model);
      self->init_model = g_value_dup_string (value);
      break;
    case PROP_HIDDEN_SIZE:
      self->hidden_size = g_value_get_uint (value);
      break;
    case PROP_NUM_LAYERS:
      self->num_layers = g_value_get_uint (value);
      break;
    case PROP_TASK:
      self->task = g_value_get_enum (value);
      break;
    case PROP_LOSS:
      self->loss = g_value_get_enum (value);
      break;
    case PROP_LABELS:
      g_free (self->labels);
      self->labels = g_value_dup_string (value);
      break;
    case PROP_LABEL:
      g_free (self->label);
      self->label = g_value_dup_string (value);
      break;
    case PROP_OPTIMIZER:
      self->optimizer = g_value_get_enum (value);
      break;
    case PROP_LEARNING_RATE:
      self->learning_rate = g_value_get_double (value);
      break;
    case PROP_MOMENTUM:
      self->momentum = g_value_get_double (value);
      break;
    case PROP_WEIGHT_DECAY:
      self->weight_decay = g_value_get_double (value);
      break;
    case PROP_CLIP_GRAD_NORM:
      self->clip_grad_norm = g_value_get_double (value);
      break;
    case PROP_DROPOUT:
      self->dropout = g_value_get_double (value);
      break;
    case PROP_EPOCHS:
      self->epochs = g_value_get_uint (value);
      break;
    case PROP_BATCH_SIZE:
      self->batch_size = g_value_get_uint (value);
      break;
    case PROP_SHUFFLE:
      self->shuffle = g_value_get_boolean (value);
      break;
    case PROP_SEED:
      self->seed = g_value_get_uint64 (value);
      break;
    case PROP_VALIDATION_FRACTION:
      self->validation_fraction = g_value_get_double (value);
      break;
    case PROP_PATIENCE:
      self->patience = g_value_get_uint (value);
      break;
    case PROP_MODE:
      self->mode = g_value_get_enum (value);
      break;
    case PROP_BPTT:
      self->bptt = g_value_get_uint (value);
      break;
    case PROP_HORIZON:
      self->horizon = g_value_get_uint (value);
      break;
    case PROP_CHECKPOINT_INTERVAL:
      self->checkpoint_interval = g_value_get_uint64 (value);
      break;
    default:
      if (prop_id < PROP_VARIANT_FIRST
          || !gst_lstm_train_set_variant_property (&self->variant,
              prop_id - PROP_VARIANT_FIRST, value))
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_lstm_train_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstLstmTrain *self = GST_LSTM_TRAIN (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string (value, self->model_path);
      break;
    case PROP_INIT_MODEL:
      g_value_set_string (value, self->init_model);
      break;
    case PROP_HIDDEN_SIZE:
      g_value_set_uint (value, self->hidden_size);
      break;
    case PROP_NUM_LAYERS:
      g_value_set_uint (value, self->num_layers);
      break;
    case PROP_TASK:
      g_value_set_enum (value, self->task);
      break;
    case PROP_LOSS:
      g_value_set_enum (value, self->loss);
      break;
    case PROP_LABELS:
      g_value_set_string (value, self->labels);
      break;
    case PROP_LABEL:
      g_value_set_string (value, self->label);
      break;
    case PROP_OPTIMIZER:
      g_value_set_enum (value, self->optimizer);
      break;
    case PROP_LEARNING_RATE:
      g_value_set_double (value, self->learning_rate);
      break;
    case PROP_MOMENTUM:
      g_value_set_double (value, self->momentum);
      break;
    case PROP_WEIGHT_DECAY:
      g_value_set_double (value, self->weight_decay);
      break;
    case PROP_CLIP_GRAD_NORM:
      g_value_set_double (value, self->clip_grad_norm);
      break;
    case PROP_DROPOUT:
      g_value_set_double (value, self->dropout);
      break;
    case PROP_EPOCHS:
      g_value_set_uint (value, self->epochs);
      break;
    case PROP_BATCH_SIZE:
      g_value_set_uint (value, self->batch_size);
      break;
    case PROP_SHUFFLE:
      g_value_set_boolean (value, self->shuffle);
      break;
    case PROP_SEED:
      g_value_set_uint64 (value, self->seed);
      break;
    case PROP_VALIDATION_FRACTION:
      g_value_set_double (value, self->validation_fraction);
      break;
    case PROP_PATIENCE:
      g_value_set_uint (value, self->patience);
      break;
    case PROP_MODE:
      g_value_set_enum (value, self->mode);
      break;
    case PROP_BPTT:
      g_value_set_uint (value, self->bptt);
      break;
    case PROP_HORIZON:
      g_value_set_uint (value, self->horizon);
      break;
    case PROP_CHECKPOINT_INTERVAL:
      g_value_set_uint64 (value, self->checkpoint_interval);
      break;
    default:
      if (prop_id < PROP_VARIANT_FIRST
          || !gst_lstm_train_get_variant_property (&self->variant,
              prop_id - PROP_VARIANT_FIRST, value))
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* ----------------------------------------------------------------- pads */

static GstAggregatorPad *
gst_lstm_train_create_new_pad (GstAggregator * agg, GstPadTemplate * templ,
    const gchar * req_name, const GstCaps * caps)
{
  GstLstmTrain *self = GST_LSTM_TRAIN (agg);
  GstAggregatorPad *pad;

  if (g_strcmp0 (GST_PAD_TEMPLATE_NAME_TEMPLATE (templ), "target") != 0)
    return NULL;
  GST_OBJECT_LOCK (self);
  if (self->targetpad != NULL) {
    GST_OBJECT_UNLOCK (self);
    GST_ELEMENT_WARNING (self, CORE, PAD,
        ("Only one target pad can be requested."),
        ("lstmtrain has one target pad; it is already requested"));
    return NULL;
  }
  GST_OBJECT_UNLOCK (self);
  pad = g_object_new (GST_TYPE_AGGREGATOR_PAD, "name", "target",
      "direction", GST_PAD_SINK, "template", templ, NULL);
  GST_OBJECT_LOCK (self);
  self->targetpad = pad;
  GST_OBJECT_UNLOCK (self);
  return pad;
}

static void
gst_lstm_train_release_pad (GstElement * element, GstPad * pad)
{
  GstLstmTrain *self = GST_LSTM_TRAIN (element);

  GST_OBJECT_LOCK (self);
  if (pad == GST_PAD (self->targetpad))
    self->targetpad = NULL;
  GST_OBJECT_UNLOCK (self);
  GST_ELEMENT_CLASS (parent_class)->release_pad (element, pad);
}

static GstFlowReturn
gst_lstm_train_update_src_caps (GstAggregator * agg, GstCaps * caps,
    GstCaps ** ret)
{
  *ret = gst_static_pad_template_get_caps (&src_template);
  return GST_FLOW_OK;
}

/* A flushing seek goes upstream on every sink pad, and the aggregator
 * restarts once each pad's flush came back with the seek's seqnum; some
 * upstream elements (subparse, on the label track) flush with a seqnum of
 * their own, and the aggregator then waited for ever. While the seek is
 * being sent, the flushes it causes get its seqnum. */
static gboolean
gst_lstm_train_src_event (GstAggregator * agg, GstEvent * event)
{
  GstLstmTrain *self = GST_LSTM_TRAIN (agg);
  GstSeekFlags flags = 0;
  gboolean ret;

  if (GST_EVENT_TYPE (event) != GST_EVENT_SEEK)
    return GST_AGGREGATOR_CLASS (parent_class)->src_event (agg, event);
  gst_event_parse_seek (event, NULL, NULL, &flags, NULL, NULL, NULL, NULL);
  GST_OBJECT_LOCK (self);
  if (flags & GST_SEEK_FLAG_FLUSH)
    self->seek_seqnum = GST_EVENT_SEQNUM (event);
  GST_OBJECT_UNLOCK (self);
  ret = GST_AGGREGATOR_CLASS (parent_class)->src_event (agg, event);
  GST_OBJECT_LOCK (self);
  self->seek_seqnum = GST_SEQNUM_INVALID;
  GST_OBJECT_UNLOCK (self);
  return ret;
}

static gboolean
gst_lstm_train_sink_event (GstAggregator * agg, GstAggregatorPad * pad,
    GstEvent * event)
{
  GstLstmTrain *self = GST_LSTM_TRAIN (agg);

  if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_START
      || GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP) {
    guint32 seqnum;
    GST_OBJECT_LOCK (self);
    seqnum = self->seek_seqnum;
    GST_OBJECT_UNLOCK (self);
    if (seqnum != GST_SEQNUM_INVALID && GST_EVENT_SEQNUM (event) != seqnum) {
      GST_DEBUG_OBJECT (pad, "%s with seqnum %u during the seek %u: "
          "taken as the seek's", GST_EVENT_TYPE_NAME (event),
          GST_EVENT_SEQNUM (event), seqnum);
      event = gst_event_make_writable (event);
      gst_event_set_seqnum (event, seqnum);
    }
  }

  if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
    GstCaps *caps;
    GstStructure *s;
    gst_event_parse_caps (event, &caps);
    s = gst_caps_get_structure (caps, 0);
    if (pad == self->sinkpad) {
      guint channels, rate;
      gboolean s16;
      if (!gst_lstm_parse_audio_caps (caps, &channels, &rate, &s16))
        return FALSE;
      if (self->channels != 0 && channels != self->channels) {
        GST_ELEMENT_ERROR (self, STREAM, FORMAT,
            ("The frame size changed in the middle of the stream."),
            ("frames had %u values and now have %u; a model takes one "
                "input size", self->channels, channels));
        gst_event_unref (event);
        return FALSE;
      }
      /* another rate or sample format: the frames after it are another
       * recording, which no window spans (as lstm resets its state at a
       * caps change) */
      if (self->channels != 0 && self->frames->len > 0
          && ((gint) rate != self->rate || s16 != self->s16)) {
        guint at = self->frame_pts->len;
        GST_INFO_OBJECT (self, "caps changed (%d -> %u frames/s, %s -> %s): "
            "a break", self->rate, rate, self->s16 ? "S16" : "F32",
            s16 ? "S16" : "F32");
        g_array_append_val (self->breaks, at);
      }
      self->channels = channels;
      self->rate = rate;
      self->s16 = s16;
    } else if (gst_structure_has_name (s, "text/x-raw")) {
      self->target_text = TRUE;
      self->target_markup = g_strcmp0 (gst_structure_get_string (s,
              "format"), "pango-markup") == 0;
    } else {
      guint channels, rate;
      gboolean s16;
      if (!gst_lstm_parse_audio_caps (caps, &channels, &rate, &s16))
        return FALSE;
      if (self->target_channels != 0 && channels != self->target_channels) {
        GST_ELEMENT_ERROR (self, STREAM, FORMAT,
            ("The target size changed in the middle of the stream."),
            ("targets had %u values and now have %u",
                self->target_channels, channels));
        gst_event_unref (event);
        return FALSE;
      }
      self->target_text = FALSE;
      self->target_channels = channels;
      self->target_rate = rate;
      self->target_s16 = s16;
    }
  } else if (GST_EVENT_TYPE (event) == GST_EVENT_STREAM_START
      && pad == self->sinkpad && self->frames->len > 0) {
    /* a new stream: windows do not span the two */
    guint at = self->frame_pts->len;
    g_array_append_val (self->breaks, at);
  }
  return GST_AGGREGATOR_CLASS (parent_class)->sink_event (agg, pad, event);
}

/* ------------------------------------------------------------ collection */

/* Appends a buffer of frames (or targets) with a timestamp per frame; the
 * first of a buffer with no PTS continues from the previous one. */
static gboolean
append_frames (GstLstmTrain * self, GstBuffer * buf, guint channels,
    gint rate, gboolean s16, GArray * values, GArray * pts,
    GstClockTime * next_pts, gboolean mark_breaks)
{
  GstMapInfo map;
  gsize frame_bytes = (gsize) channels * (s16 ? 2 : 4);
  GstClockTime t0;
  guint n, i, old = values->len;

  if (channels == 0) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("Frames arrived before their format."),
        ("a buffer came on a pad that has had no caps event"));
    return FALSE;
  }
  gst_buffer_map (buf, &map, GST_MAP_READ);
  if (map.size % frame_bytes != 0) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("A buffer does not hold a whole number of frames."),
        ("%" G_GSIZE_FORMAT " bytes is not a multiple of the %" G_GSIZE_FORMAT
            "-byte frame", map.size, frame_bytes));
    gst_buffer_unmap (buf, &map);
    return FALSE;
  }
  n = map.size / frame_bytes;
  t0 = GST_BUFFER_PTS_IS_VALID (buf) ? GST_BUFFER_PTS (buf) : *next_pts;
  if (!GST_CLOCK_TIME_IS_VALID (t0))
    t0 = 0;
  if (mark_breaks && GST_BUFFER_IS_DISCONT (buf) && pts->len > 0) {
    guint at = pts->len;
    g_array_append_val (self->breaks, at);
  }
  g_array_set_size (values, old + (gsize) n * channels);
  if (s16)
    lstm_frames_from_s16 ((const gint16 *) map.data, (gsize) n * channels,
        &g_array_index (values, float, old));
  else
    memcpy (&g_array_index (values, float, old), map.data,
        (gsize) n * channels * sizeof (float));
  for (i = 0; i < n; i++) {
    GstClockTime t = t0 + gst_util_uint64_scale_int (i, GST_SECOND, rate);
    g_array_append_val (pts, t);
  }
  *next_pts = t0 + gst_util_uint64_scale_int (n, GST_SECOND, rate);
  gst_buffer_unmap (buf, &map);
  return TRUE;
}

static void
append_cue (GstLstmTrain * self, GstBuffer * buf)
{
  GstMapInfo map;
  GstLstmTrainCue cue = { 0 };

  if (!GST_BUFFER_PTS_IS_VALID (buf) || !GST_BUFFER_DURATION_IS_VALID (buf)) {
    GST_ELEMENT_WARNING (self, STREAM, FORMAT,
        ("A label cue without a timestamp or duration was ignored."), (NULL));
    return;
  }
  gst_buffer_map (buf, &map, GST_MAP_READ);
  cue.label = lstm_label_from_cue ((const gchar *) map.data, map.size,
      self->target_markup);
  gst_buffer_unmap (buf, &map);
  if (cue.label[0] == '\0') {
    g_free (cue.label);         /* an empty cue labels nothing */
    return;
  }
  cue.start = GST_BUFFER_PTS (buf);
  cue.end = cue.start + GST_BUFFER_DURATION (buf);
  g_array_append_val (self->cues, cue);
}


static GstFlowReturn
gst_lstm_train_aggregate (GstAggregator * agg, gboolean timeout)
{
  GstLstmTrain *self = GST_LSTM_TRAIN (agg);
  GstAggregatorPad *target;
  GstBuffer *buf;
  gboolean eos;

  while ((buf = gst_aggregator_pad_pop_buffer (self->sinkpad)) != NULL) {
    gboolean ok = append_frames (self, buf, self->channels, self->rate,
        self->s16, self->frames, self->frame_pts, &self->next_pts, TRUE);
    gst_buffer_unref (buf);
    if (!ok)
      return GST_FLOW_ERROR;
  }
  GST_OBJECT_LOCK (self);
  target = self->targetpad ? gst_object_ref (self->targetpad) : NULL;
  GST_OBJECT_UNLOCK (self);
  eos = gst_aggregator_pad_is_eos (self->sinkpad);
  if (target != NULL) {
    while ((buf = gst_aggregator_pad_pop_buffer (target)) != NULL) {
      gboolean ok = TRUE;
      if (self->target_text)
        append_cue (self, buf);
      else
        ok = append_frames (self, buf, self->target_channels,
            self->target_rate, self->target_s16, self->targets,
            self->target_pts, &self->target_next_pts, FALSE);
      gst_buffer_unref (buf);
      if (!ok) {
        gst_object_unref (target);
        return GST_FLOW_ERROR;
      }
    }
    eos = eos && gst_aggregator_pad_is_eos (target);
    gst_object_unref (target);
  }
  if (self->trained)
    return GST_FLOW_EOS;
  if (self->mode == GST_LSTM_TRAIN_MODE_ONLINE) {
    GstFlowReturn ret = gst_lstm_train_train_online (self, eos);
    if (ret != GST_FLOW_OK)
      self->trained = TRUE;
    return ret;
  }
  if (!eos)
    return GST_FLOW_OK;
  self->trained = TRUE;
  return gst_lstm_train_train_offline (self);
}

/* Drops the collected data; the negotiated formats stay (caps are sticky:
 * after a flush they are not sent again). */
static void
reset_data (GstLstmTrain * self)
{
  g_array_set_size (self->frames, 0);
  g_array_set_size (self->frame_pts, 0);
  g_array_set_size (self->breaks, 0);
  g_array_set_size (self->cues, 0);
  g_array_set_size (self->targets, 0);
  g_array_set_size (self->target_pts, 0);
  self->next_pts = GST_CLOCK_TIME_NONE;
  self->target_next_pts = GST_CLOCK_TIME_NONE;
  self->trained = FALSE;
}

/* The data, the formats and the online trainer (start, stop). */
static void
reset_collection (GstLstmTrain * self)
{
  reset_data (self);
  self->channels = 0;
  self->target_channels = 0;
  g_clear_pointer (&self->online, gst_lstm_train_online_free);
}

/* The settings of a new model (sizes, variant) and the mode, checked as
 * training will check them, so that a combination that cannot work (a
 * GRU with a peephole, proj-size >= hidden-size, a bidirectional model
 * online) fails before any frame is read, not at EOS after the whole
 * stream was collected. The stream's sizes are not known yet: 1 stands in
 * for them. With init-model, its own shape counts (checked at EOS). */
static gboolean
check_model_settings (GstLstmTrain * self, GError ** error)
{
  LstmModelConfig c;
  gboolean fresh;
  GstLstmTrainMode mode;
  gdouble dropout;

  GST_OBJECT_LOCK (self);
  dropout = self->dropout;
  fresh = self->init_model == NULL || *self->init_model == '\0';
  mode = self->mode;
  c = self->variant;
  c.hidden_size = self->hidden_size;
  c.num_layers = self->num_layers;
  GST_OBJECT_UNLOCK (self);

  if (!fresh)
    return TRUE;
  /* as nn.LSTM warns: dropout is between stacked layers */
  if (dropout > 0 && c.num_layers == 1)
    GST_ELEMENT_WARNING (self, LIBRARY, SETTINGS,
        ("dropout=%g does nothing with num-layers=1.", dropout),
        ("dropout is applied between stacked layers, as nn.LSTM's; with "
            "one layer there is none"));
  c.input_size = 1;
  c.head_size = 1;
  return lstm_model_config_validate (&c, error)
      && gst_lstm_train_check_directions (c.bidirectional ? 2 : 1, mode,
      error);
}

static gboolean
gst_lstm_train_start (GstAggregator * agg)
{
  GstLstmTrain *self = GST_LSTM_TRAIN (agg);
  g_autofree gchar *path = NULL;
  g_autoptr (GError) err = NULL;

  GST_OBJECT_LOCK (self);
  path = g_strdup (self->model_path);
  GST_OBJECT_UNLOCK (self);

  reset_collection (self);
  g_atomic_int_set (&self->cancel, 0);
  /* Refuse what cannot work before any frame is read. */
  if (path == NULL || *path == '\0') {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("No model file to write."),
        ("set the 'model' property to the .safetensors file to train"));
    return FALSE;
  }
  /* the folder takes a new file (tried, not asked: access () says yes to
   * root even on /proc), and path is nothing yet, a regular file or a
   * link to one, not a device a save would replace */
  if (!lstm_model_check_save_path (path, &err)) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
        ("Cannot write the model file."), ("%s", err->message));
    return FALSE;
  }
  if (!check_model_settings (self, &err)) {
    GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS,
        ("The model settings cannot work."), ("%s", err->message));
    return FALSE;
  }
  return TRUE;
}

/* PAUSED -> READY stops a training under way first: the base class
 * deactivates the src pad, which waits for the streaming thread, in which
 * the training (offline, at end of stream) runs; it then ends at its next
 * batch, with nothing saved (stop () comes only after that wait). */
static GstStateChangeReturn
gst_lstm_train_change_state (GstElement * element, GstStateChange transition)
{
  GstLstmTrain *self = GST_LSTM_TRAIN (element);

  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    g_atomic_int_set (&self->cancel, 1);
  return GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
}

static gboolean
gst_lstm_train_stop (GstAggregator * agg)
{
  GstLstmTrain *self = GST_LSTM_TRAIN (agg);

  g_atomic_int_set (&self->cancel, 1);
  reset_collection (self);
  return TRUE;
}

static GstFlowReturn
gst_lstm_train_flush (GstAggregator * agg)
{
  GstLstmTrain *self = GST_LSTM_TRAIN (agg);

  /* a seek: what came before is not training data of the new position.
   * The formats stay: caps are sticky and not sent again after a flush.
   * Online, the trainer keeps what it has learnt and only its partial
   * window (or pending cues) and carried state go. */
  reset_data (self);
  if (self->online != NULL)
    gst_lstm_train_online_flush (self->online);
  return GST_FLOW_OK;
}
