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
#include "gstlstmelements.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_STATIC (gst_lstm_train_debug);
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

#define DEFINE_ENUM_TYPE(fn, name, ...) \
static GType \
fn (void) \
{ \
  static GType type = 0; \
  static const GEnumValue values[] = { __VA_ARGS__, {0, NULL, NULL} }; \
  if (g_once_init_enter (&type)) \
    g_once_init_leave (&type, g_enum_register_static (name, values)); \
  return type; \
}

/* *INDENT-OFF* */
DEFINE_ENUM_TYPE (gst_lstm_train_task_get_type, "GstLstmTrainTask",
    {GST_LSTM_TRAIN_TASK_CLASSIFY, "Classify: a class per sequence (label "
        "track, fixed label) or per frame (numeric class ids)", "classify"},
    {GST_LSTM_TRAIN_TASK_REGRESS, "Regress: target vectors from the target "
        "pad", "regress"},
    {GST_LSTM_TRAIN_TASK_FORECAST, "Forecast: predict frame t + horizon from "
        "the frames up to t (no target pad)", "forecast"})
DEFINE_ENUM_TYPE (gst_lstm_train_loss_get_type, "GstLstmTrainLoss",
    {GST_LSTM_TRAIN_LOSS_AUTO, "Cross-entropy on every frame to classify "
        "(a sequence's class is the target of each of its frames), MSE "
        "otherwise", "auto"},
    {GST_LSTM_TRAIN_LOSS_CROSS_ENTROPY, "Cross-entropy on every frame",
        "cross-entropy"},
    {GST_LSTM_TRAIN_LOSS_CROSS_ENTROPY_LAST, "Cross-entropy on each "
        "sequence's last frame", "cross-entropy-last"},
    {GST_LSTM_TRAIN_LOSS_MSE, "Mean squared error", "mse"})
DEFINE_ENUM_TYPE (gst_lstm_train_optimizer_get_type, "GstLstmTrainOptimizer",
    {GST_LSTM_TRAIN_OPTIMIZER_SGD, "SGD with momentum (torch.optim.SGD)",
        "sgd"},
    {GST_LSTM_TRAIN_OPTIMIZER_ADAM, "Adam (torch.optim.Adam)", "adam"},
    {GST_LSTM_TRAIN_OPTIMIZER_ADAMW, "AdamW (torch.optim.AdamW)", "adamw"},
    {GST_LSTM_TRAIN_OPTIMIZER_RMSPROP, "RMSprop (torch.optim.RMSprop)",
        "rmsprop"})
DEFINE_ENUM_TYPE (gst_lstm_train_mode_get_type, "GstLstmTrainMode",
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
static GstAggregatorPad *gst_lstm_train_create_new_pad (GstAggregator * agg,
    GstPadTemplate * templ, const gchar * req_name, const GstCaps * caps);
static GstFlowReturn gst_lstm_train_update_src_caps (GstAggregator * agg,
    GstCaps * caps, GstCaps ** ret);
static gboolean gst_lstm_train_start (GstAggregator * agg);
static gboolean gst_lstm_train_stop (GstAggregator * agg);
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

  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model file",
          "Where to write the trained model (.safetensors); written "
          "atomically, so the previous file stays whole until the new one "
          "replaces it", DEFAULT_MODEL, rw));
  g_object_class_install_property (gobject_class, PROP_INIT_MODEL,
      g_param_spec_string ("init-model", "Initial model",
          "Start from this model instead of random weights (fine-tuning); "
          "its sizes override hidden-size and num-layers", DEFAULT_INIT_MODEL,
          rw));
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
          "classes are those of the label track, in order of first "
          "appearance", DEFAULT_LABELS, rw));
  g_object_class_install_property (gobject_class, PROP_LABEL,
      g_param_spec_string ("label", "Label",
          "With no target pad and task=classify: the class of the whole "
          "stream (it must be one of labels)", DEFAULT_LABEL, rw));
  g_object_class_install_property (gobject_class, PROP_OPTIMIZER,
      g_param_spec_enum ("optimizer", "Optimizer", "Update rule",
          gst_lstm_train_optimizer_get_type (), DEFAULT_OPTIMIZER, rw));
  install_double (gobject_class, PROP_LEARNING_RATE, "learning-rate",
      "Learning rate", "Step size of the optimizer", 0.0, G_MAXDOUBLE,
      DEFAULT_LEARNING_RATE);
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
          "mode=online: nanoseconds of stream between two saves", 0,
          G_MAXUINT64, DEFAULT_CHECKPOINT_INTERVAL, rw));

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
    GST_ELEMENT_WARNING (self, CORE, PAD, (NULL),
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

/* Reads a frame stream's caps: format, channels, rate. */
static gboolean
parse_frame_caps (GstStructure * s, guint * channels, gint * rate,
    gboolean * s16)
{
  const gchar *format = gst_structure_get_string (s, "format");
  gint c = 0;

  if (!gst_structure_has_name (s, "audio/x-raw") || format == NULL
      || !gst_structure_get_int (s, "channels", &c)
      || !gst_structure_get_int (s, "rate", rate) || c <= 0 || *rate <= 0)
    return FALSE;
  *channels = c;
  *s16 = strcmp (format, "S16LE") == 0;
  return TRUE;
}

static gboolean
gst_lstm_train_sink_event (GstAggregator * agg, GstAggregatorPad * pad,
    GstEvent * event)
{
  GstLstmTrain *self = GST_LSTM_TRAIN (agg);

  if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
    GstCaps *caps;
    GstStructure *s;
    gst_event_parse_caps (event, &caps);
    s = gst_caps_get_structure (caps, 0);
    if (pad == self->sinkpad) {
      guint channels;
      gint rate;
      gboolean s16;
      if (!parse_frame_caps (s, &channels, &rate, &s16))
        return FALSE;
      if (self->channels != 0 && channels != self->channels) {
        GST_ELEMENT_ERROR (self, STREAM, FORMAT,
            ("The frame size changed in the middle of the stream."),
            ("frames had %u values and now have %u; a model takes one "
                "input size", self->channels, channels));
        gst_event_unref (event);
        return FALSE;
      }
      self->channels = channels;
      self->rate = rate;
      self->s16 = s16;
    } else if (gst_structure_has_name (s, "text/x-raw")) {
      self->target_text = TRUE;
      self->target_markup = g_strcmp0 (gst_structure_get_string (s,
              "format"), "pango-markup") == 0;
    } else {
      guint channels;
      gint rate;
      gboolean s16;
      if (!parse_frame_caps (s, &channels, &rate, &s16))
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

  if (channels == 0)
    return FALSE;
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

static GstFlowReturn train_offline (GstLstmTrain * self);
static GstFlowReturn train_online (GstLstmTrain * self, gboolean eos);
static void online_free (gpointer online);

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
    GstFlowReturn ret = train_online (self, eos);
    if (ret != GST_FLOW_OK)
      self->trained = TRUE;
    return ret;
  }
  if (!eos)
    return GST_FLOW_OK;
  self->trained = TRUE;
  return train_offline (self);
}

static void
reset_collection (GstLstmTrain * self)
{
  g_array_set_size (self->frames, 0);
  g_array_set_size (self->frame_pts, 0);
  g_array_set_size (self->breaks, 0);
  g_array_set_size (self->cues, 0);
  g_array_set_size (self->targets, 0);
  g_array_set_size (self->target_pts, 0);
  self->next_pts = GST_CLOCK_TIME_NONE;
  self->target_next_pts = GST_CLOCK_TIME_NONE;
  self->channels = 0;
  self->target_channels = 0;
  self->trained = FALSE;
  g_clear_pointer (&self->online, online_free);
}

static gboolean
gst_lstm_train_start (GstAggregator * agg)
{
  GstLstmTrain *self = GST_LSTM_TRAIN (agg);
  g_autofree gchar *path = NULL;
  g_autofree gchar *dir = NULL;

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
  dir = g_path_get_dirname (path);
  if (g_access (dir, W_OK) != 0 || g_file_test (path, G_FILE_TEST_IS_DIR)) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
        ("Cannot write the model file."),
        ("%s: %s", path, g_file_test (path, G_FILE_TEST_IS_DIR) ?
            "is a directory" : "its folder is not writable or does not "
            "exist"));
    return FALSE;
  }
  return TRUE;
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

  /* a seek: what came before is not training data of the new position */
  reset_collection (self);
  return GST_FLOW_OK;
}

/* ------------------------------------------------------------ sequences */

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
} Dataset;

static void
dataset_clear (Dataset * d)
{
  if (d->seqs)
    g_array_unref (d->seqs);
  if (d->labels)
    g_ptr_array_unref (d->labels);
  g_free (d->targets);
  g_free (d->ids);
}

/* First frame index whose PTS is >= t (frame_pts is sorted). */
static guint
lower_bound (GArray * pts, GstClockTime t)
{
  guint lo = 0, hi = pts->len;
  while (lo < hi) {
    guint mid = lo + (hi - lo) / 2;
    if (g_array_index (pts, GstClockTime, mid) < t)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static gint
find_label (GPtrArray * labels, const gchar * name)
{
  guint i;
  for (i = 0; i < labels->len; i++)
    if (strcmp (labels->pdata[i], name) == 0)
      return i;
  return -1;
}

/* The `labels` property: fixed classes in order; NULL when unset. */
static GPtrArray *
labels_from_property (const gchar * prop)
{
  GPtrArray *labels;
  gchar **parts;
  guint i;

  if (prop == NULL || *prop == '\0')
    return NULL;
  labels = g_ptr_array_new_with_free_func (g_free);
  parts = g_strsplit (prop, ",", -1);
  for (i = 0; parts[i] != NULL; i++) {
    gchar *l = g_strstrip (parts[i]);
    if (*l != '\0' && find_label (labels, l) < 0)
      g_ptr_array_add (labels, g_strdup (l));
  }
  g_strfreev (parts);
  return labels;
}

static gboolean
frame_ok (GstLstmTrain * self, guint i)
{
  return lstm_frame_is_finite (&g_array_index (self->frames, float,
          (gsize) i * self->channels), self->channels);
}

/* Label track: every cue is one sequence of the frames inside it. */
static gboolean
sequences_from_cues (GstLstmTrain * self, Dataset * d, GPtrArray * fixed,
    GError ** error)
{
  guint c;

  d->labels = fixed ? g_ptr_array_ref (fixed) :
      g_ptr_array_new_with_free_func (g_free);
  for (c = 0; c < self->cues->len; c++) {
    GstLstmTrainCue *cue = &g_array_index (self->cues, GstLstmTrainCue, c);
    guint a = lower_bound (self->frame_pts, cue->start);
    guint b = lower_bound (self->frame_pts, cue->end), i;
    gint id = find_label (d->labels, cue->label);
    Seq s;

    if (id < 0 && fixed != NULL) {
      g_autofree gchar *all = NULL;
      g_ptr_array_add (fixed, NULL);
      all = g_strjoinv (",", (gchar **) fixed->pdata);
      g_ptr_array_remove_index (fixed, fixed->len - 1);
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
          "the cue at %" GST_TIME_FORMAT " has the label '%s', which is not "
          "one of the labels property's (%s)", GST_TIME_ARGS (cue->start),
          cue->label, all);
      return FALSE;
    }
    if (a >= b) {
      GST_ELEMENT_WARNING (self, STREAM, FORMAT,
          ("A label cue holds no frames and was left out."),
          ("the cue '%s' at %" GST_TIME_FORMAT " - %" GST_TIME_FORMAT
              " is outside the frames' stream (%" GST_TIME_FORMAT " - %"
              GST_TIME_FORMAT ")", cue->label, GST_TIME_ARGS (cue->start),
              GST_TIME_ARGS (cue->end), GST_TIME_ARGS (self->frame_pts->len ?
                  g_array_index (self->frame_pts, GstClockTime, 0) : 0),
              GST_TIME_ARGS (self->next_pts)));
      continue;
    }
    /* a cue with a non-finite frame is left out whole (its label is for
     * the whole utterance), before its label can become a class with no
     * example, as a cue outside the stream does not either */
    for (i = a; i < b && frame_ok (self, i); i++);
    if (i < b) {
      d->dropped += b - a;
      continue;
    }
    if (id < 0) {
      g_ptr_array_add (d->labels, g_strdup (cue->label));
      id = d->labels->len - 1;
    }
    s.first = a;
    s.len = b - a;
    s.label = id;
    GST_LOG_OBJECT (self, "cue '%s' %" GST_TIME_FORMAT " - %" GST_TIME_FORMAT
        ": frames %u - %u", cue->label, GST_TIME_ARGS (cue->start),
        GST_TIME_ARGS (cue->end), a, b);
    g_array_append_val (d->seqs, s);
  }
  return TRUE;
}

/* Cuts [a, b) into windows of bptt frames; a frame for which `usable`
 * says no ends the window before it. */
static void
windows (GstLstmTrain * self, Dataset * d, guint a, guint b, gint label,
    gboolean (*usable) (GstLstmTrain *, Dataset *, guint))
{
  guint i = a;

  while (i < b) {
    Seq s = { i, 0, label };
    while (i < b && s.len < self->bptt && usable (self, d, i)) {
      s.len++;
      i++;
    }
    if (s.len > 0)
      g_array_append_val (d->seqs, s);
    else {
      d->dropped++;
      i++;
    }
  }
}

/* Stretches of frames between breaks (new streams, DISCONTs). */
static void
for_each_stretch (GstLstmTrain * self, Dataset * d, gint label,
    gboolean (*usable) (GstLstmTrain *, Dataset *, guint))
{
  guint k, start = 0;

  for (k = 0; k <= self->breaks->len; k++) {
    guint end = k < self->breaks->len ?
        g_array_index (self->breaks, guint, k) : self->frame_pts->len;
    if (end > start)
      windows (self, d, start, end, label, usable);
    start = end;
  }
}

static gboolean
usable_frame (GstLstmTrain * self, Dataset * d, guint i)
{
  return frame_ok (self, i);
}

static gboolean
usable_target (GstLstmTrain * self, Dataset * d, guint i)
{
  const float *y = d->targets + (gsize) i * d->out_size;
  return frame_ok (self, i) && (d->ids ? d->ids[i] >= 0 :
      lstm_frame_is_finite (y, d->out_size));
}

/* Numeric target frames aligned by timestamp: the target frame nearest
 * each input frame within half a target frame; none is a gap. */
static gboolean
align_targets (GstLstmTrain * self, Dataset * d, gboolean classify,
    GPtrArray * fixed, GError ** error)
{
  guint n = self->frame_pts->len, i, j = 0, C = self->target_channels;
  GstClockTime half;
  gint max_id = -1;

  if (self->target_pts->len == 0 || self->target_rate <= 0) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "the target pad carried no target frames");
    return FALSE;
  }
  half = gst_util_uint64_scale_int (1, GST_SECOND, 2 * self->target_rate);
  d->out_size = classify ? 0 : C;
  d->targets = g_new0 (float, (gsize) n * C);
  if (classify)
    d->ids = g_new (gint, n);
  for (i = 0; i < n; i++) {
    GstClockTime t = g_array_index (self->frame_pts, GstClockTime, i);
    gboolean found;
    while (j + 1 < self->target_pts->len
        && g_array_index (self->target_pts, GstClockTime, j + 1) <= t)
      j++;
    /* j: the last target at or before t; j + 1 may be nearer */
    if (j + 1 < self->target_pts->len
        && g_array_index (self->target_pts, GstClockTime, j + 1) - t <
        (t > g_array_index (self->target_pts, GstClockTime, j) ?
            t - g_array_index (self->target_pts, GstClockTime, j) : 0))
      j++;
    found = (t > g_array_index (self->target_pts, GstClockTime, j) ?
        t - g_array_index (self->target_pts, GstClockTime, j) :
        g_array_index (self->target_pts, GstClockTime, j) - t) <= half;
    if (!classify) {
      float *y = d->targets + (gsize) i * C;
      if (found)
        memcpy (y, &g_array_index (self->targets, float, (gsize) j * C),
            C * sizeof (float));
      else
        y[0] = NAN;             /* a gap: usable_target says no */
    } else {
      float v = found ? g_array_index (self->targets, float, (gsize) j * C) :
          NAN;
      if (!isfinite (v) || v < 0 || v > 65535) {
        d->ids[i] = -1;
        if (found && !isfinite (v))
          continue;
        if (found) {
          g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
              "the class id %g at %" GST_TIME_FORMAT " is not a class "
              "index (0 to 65535)", v, GST_TIME_ARGS (t));
          return FALSE;
        }
        continue;
      }
      d->ids[i] = (gint) lrintf (v);
      if (fixed != NULL && d->ids[i] >= (gint) fixed->len) {
        g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
            "the class id %d at %" GST_TIME_FORMAT " has no label (the "
            "labels property names %u classes)", d->ids[i],
            GST_TIME_ARGS (t), fixed->len);
        return FALSE;
      }
      max_id = MAX (max_id, d->ids[i]);
    }
  }
  if (classify) {
    if (fixed != NULL)
      d->labels = g_ptr_array_ref (fixed);
    else {
      d->labels = g_ptr_array_new_with_free_func (g_free);
      for (i = 0; i <= (guint) MAX (max_id, 0); i++)
        g_ptr_array_add (d->labels, g_strdup_printf ("%u", i));
    }
  }
  for_each_stretch (self, d, -1, usable_target);
  return TRUE;
}

/* task=forecast: the target of frame t is frame t + horizon of the same
 * stretch. */
static gboolean
forecast_targets (GstLstmTrain * self, Dataset * d, GError ** error)
{
  guint n = self->frame_pts->len, I = self->channels, k, start = 0;

  d->out_size = I;
  d->targets = g_new (float, (gsize) n * I);
  for (k = 0; k <= self->breaks->len; k++) {
    guint end = k < self->breaks->len ?
        g_array_index (self->breaks, guint, k) : n, i;
    for (i = start; i < end; i++) {
      float *y = d->targets + (gsize) i * I;
      if (i + self->horizon < end)
        memcpy (y, &g_array_index (self->frames, float,
                (gsize) (i + self->horizon) * I), I * sizeof (float));
      else
        y[0] = NAN;             /* no future in this stretch */
    }
    start = end;
  }
  for_each_stretch (self, d, -1, usable_target);
  if (d->seqs->len == 0) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "the stream is too short to forecast %u frames ahead (%u frames)",
        self->horizon, n);
    return FALSE;
  }
  return TRUE;
}

/* Turns the collection into sequences for the task. */
static gboolean
build_dataset (GstLstmTrain * self, Dataset * d, GError ** error)
{
  g_autoptr (GPtrArray) fixed = NULL;
  GstLstmTrainTask task;
  g_autofree gchar *label = NULL;
  gboolean ok = TRUE;
  GstAggregatorPad *target;

  GST_OBJECT_LOCK (self);
  fixed = labels_from_property (self->labels);
  task = self->task;
  label = g_strdup (self->label);
  target = self->targetpad;
  GST_OBJECT_UNLOCK (self);

  d->seqs = g_array_new (FALSE, FALSE, sizeof (Seq));
  if (self->frame_pts->len == 0) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "no frames arrived on the sink pad: nothing to train on");
    return FALSE;
  }
  if (target != NULL && self->target_text) {
    if (task != GST_LSTM_TRAIN_TASK_CLASSIFY) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
          "a label track trains task=classify, not %s",
          task == GST_LSTM_TRAIN_TASK_REGRESS ? "regress" : "forecast");
      return FALSE;
    }
    ok = sequences_from_cues (self, d, fixed, error);
  } else if (target != NULL) {
    if (task == GST_LSTM_TRAIN_TASK_FORECAST) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
          "task=forecast predicts the frames themselves: remove the target "
          "pad");
      return FALSE;
    }
    ok = align_targets (self, d, task == GST_LSTM_TRAIN_TASK_CLASSIFY, fixed,
        error);
  } else if (task == GST_LSTM_TRAIN_TASK_FORECAST) {
    ok = forecast_targets (self, d, error);
  } else if (task == GST_LSTM_TRAIN_TASK_CLASSIFY && label != NULL) {
    gint id;
    d->labels = fixed ? g_ptr_array_ref (fixed) :
        g_ptr_array_new_with_free_func (g_free);
    id = find_label (d->labels, label);
    if (id < 0 && fixed != NULL) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
          "label '%s' is not one of the labels property's", label);
      return FALSE;
    }
    if (id < 0) {
      g_ptr_array_add (d->labels, g_strdup (label));
      id = d->labels->len - 1;
    }
    for_each_stretch (self, d, id, usable_frame);
  } else {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "nothing to learn: link a target pad (a label track or target "
        "frames), or set task=forecast, or a fixed label");
    return FALSE;
  }
  if (!ok)
    return FALSE;
  if (d->labels != NULL)
    d->out_size = d->labels->len;
  if (d->seqs->len == 0) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "no usable training sequence (%u frames, %u cues, %u frames left "
        "out)", self->frame_pts->len, self->cues->len, d->dropped);
    return FALSE;
  }
  if (d->labels != NULL && d->labels->len < 2)
    GST_ELEMENT_WARNING (self, STREAM, FORMAT,
        ("Only one class to learn."), ("the only label is '%s'",
            (gchar *) d->labels->pdata[0]));
  if (d->dropped > 0)
    GST_ELEMENT_WARNING (self, STREAM, FORMAT,
        ("Some frames were left out of training."),
        ("%u frames held NaN or infinity, or had no target", d->dropped));
  return TRUE;
}

/* --------------------------------------------------------------- training */

/* The settings of one run, read once under the object lock. */
typedef struct
{
  gchar *model_path;
  gchar *init_model;
  guint hidden_size, num_layers, epochs, batch_size, patience, bptt;
  GstLstmTrainTask task;
  GstLstmTrainLoss loss;
  GstLstmTrainOptimizer optimizer;
  gdouble learning_rate, momentum, weight_decay, clip, dropout, val_fraction;
  gboolean shuffle;
  guint64 seed;
} Settings;

static void
read_settings (GstLstmTrain * self, Settings * s)
{
  GST_OBJECT_LOCK (self);
  s->model_path = g_strdup (self->model_path);
  s->init_model = g_strdup (self->init_model);
  s->hidden_size = self->hidden_size;
  s->num_layers = self->num_layers;
  s->epochs = self->epochs;
  s->batch_size = self->batch_size;
  s->patience = self->patience;
  s->bptt = self->bptt;
  s->task = self->task;
  s->loss = self->loss;
  s->optimizer = self->optimizer;
  s->learning_rate = self->learning_rate;
  s->momentum = self->momentum;
  s->weight_decay = self->weight_decay;
  s->clip = self->clip_grad_norm;
  s->dropout = self->dropout;
  s->val_fraction = self->validation_fraction;
  s->shuffle = self->shuffle;
  s->seed = self->seed;
  GST_OBJECT_UNLOCK (self);
}

static void
clear_settings (Settings * s)
{
  g_free (s->model_path);
  g_free (s->init_model);
}

/* The model to train: a copy of init-model, or a new one from the seed. */
static LstmModel *
make_model (GstLstmTrain * self, const Settings * s, const Dataset * d,
    GError ** error)
{
  LstmOutput output = d->labels ? LSTM_OUTPUT_SOFTMAX : LSTM_OUTPUT_IDENTITY;
  LstmModel *m;

  if (s->init_model != NULL) {
    g_autoptr (LstmModel) init = lstm_model_load (s->init_model, error);
    if (init == NULL)
      return NULL;
    if (init->input_size != self->channels
        || lstm_model_get_output_size (init) != d->out_size
        || init->head_size == 0) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
          "init-model %s takes %u features and has %u outputs%s; the "
          "stream has %u features and the task %u outputs", s->init_model,
          init->input_size, lstm_model_get_output_size (init),
          init->head_size ? "" : " (no head)", self->channels, d->out_size);
      return NULL;
    }
    m = lstm_model_copy (init);
    m->output = output;
    return m;
  }
  m = lstm_model_new (self->channels, s->hidden_size, s->num_layers,
      d->out_size, output, error);
  if (m != NULL)
    lstm_model_init_random (m, s->seed);
  return m;
}

static gboolean
loss_last_frame (const Settings * s, const Dataset * d)
{
  switch (s->loss) {
    case GST_LSTM_TRAIN_LOSS_CROSS_ENTROPY_LAST:
      return TRUE;
    default:
      /* auto included: the class of a sequence is every frame's target.
       * The network then learns to recognise early and to hold the answer,
       * which trains memory far more reliably than the last frame alone
       * (measured on the memory task: every seed learns it, against one
       * in two with the last frame; PyTorch behaves the same), and
       * output-mode=last still reads the last frame. */
      return FALSE;
  }
}

static LstmTrainer *
make_trainer (GstLstmTrain * self, const Settings * s, const Dataset * d,
    LstmModel * m, guint max_len, GError ** error)
{
  static const LstmOptimizer optimizers[] = {
    LSTM_OPTIMIZER_SGD, LSTM_OPTIMIZER_ADAM, LSTM_OPTIMIZER_ADAMW,
    LSTM_OPTIMIZER_RMSPROP
  };
  LstmTrainConfig cfg;
  gboolean classify = d->labels != NULL;

  if (s->loss == GST_LSTM_TRAIN_LOSS_MSE && classify) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "loss=mse does not train a classifier; use cross-entropy");
    return NULL;
  }
  if ((s->loss == GST_LSTM_TRAIN_LOSS_CROSS_ENTROPY
          || s->loss == GST_LSTM_TRAIN_LOSS_CROSS_ENTROPY_LAST) && !classify) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "cross-entropy needs classes; task=%s trains with mse",
        s->task == GST_LSTM_TRAIN_TASK_FORECAST ? "forecast" : "regress");
    return NULL;
  }
  lstm_train_config_init (&cfg, optimizers[s->optimizer]);
  cfg.loss = classify ? LSTM_LOSS_CROSS_ENTROPY : LSTM_LOSS_MSE;
  cfg.last_frame_only = loss_last_frame (s, d);
  cfg.learning_rate = s->learning_rate;
  cfg.momentum = s->momentum;
  cfg.weight_decay = s->weight_decay;
  cfg.clip_norm = s->clip;
  cfg.dropout = s->dropout;
  cfg.seed = s->seed;
  return lstm_trainer_new (m, &cfg, s->batch_size, max_len, error);
}

/* Scratch for one batch's pointers and per-frame class ids. */
typedef struct
{
  guint *lengths;
  const float **inputs;
  const gint32 **ids;
  const float **targets;
  gint32 *id_store;             /* [batch_size * max_len] */
} BatchScratch;

static void
fill_batch (GstLstmTrain * self, const Dataset * d, gboolean last_only,
    const guint * order, guint n, BatchScratch * b, guint max_len,
    LstmBatch * batch)
{
  guint k, t;

  for (k = 0; k < n; k++) {
    const Seq *s = &g_array_index (d->seqs, Seq, order[k]);
    gint32 *ids = b->id_store + (gsize) k * max_len;
    b->lengths[k] = s->len;
    b->inputs[k] = &g_array_index (self->frames, float,
        (gsize) s->first * self->channels);
    if (d->labels != NULL) {
      if (s->label >= 0) {      /* a class per sequence */
        for (t = 0; t < (last_only ? 1 : s->len); t++)
          ids[t] = s->label;
      } else {                  /* a class per frame */
        for (t = 0; t < s->len; t++)
          ids[t] = d->ids[s->first + t];
        if (last_only)
          ids[0] = ids[s->len - 1];
      }
      b->ids[k] = ids;
    } else {
      b->targets[k] = d->targets + (gsize) (s->first +
          (last_only ? s->len - 1 : 0)) * d->out_size;
    }
  }
  batch->n_sequences = n;
  batch->lengths = b->lengths;
  batch->inputs = b->inputs;
  batch->class_ids = d->labels ? (const gint32 * const *) b->ids : NULL;
  batch->targets = d->labels ? NULL : (const float *const *) b->targets;
  batch->states = NULL;
}

/* One pass over `order` in batches: training steps, or evaluation. */
static gboolean
run_pass (GstLstmTrain * self, LstmTrainer * tr, const Dataset * d,
    gboolean last_only, const guint * order, guint n, guint batch_size,
    BatchScratch * b, guint max_len, gboolean train, LstmTrainStats * stats,
    guint64 * frames, GError ** error)
{
  guint i;

  for (i = 0; i < n; i += batch_size) {
    LstmBatch batch;
    guint k, m = MIN (batch_size, n - i);
    gboolean ok;

    if (g_atomic_int_get (&self->cancel)) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID, "cancelled");
      return FALSE;
    }
    fill_batch (self, d, last_only, order + i, m, b, max_len, &batch);
    ok = train ? lstm_trainer_step (tr, &batch, NULL, stats, error) :
        lstm_trainer_evaluate (tr, &batch, NULL, stats, error);
    if (!ok)
      return FALSE;
    for (k = 0; k < m; k++)
      *frames += b->lengths[k];
  }
  return TRUE;
}

static void
shuffle (GRand * rand, guint * v, guint n)
{
  guint i;
  for (i = n; i > 1; i--) {
    guint j = g_rand_int_range (rand, 0, i), tmp = v[i - 1];
    v[i - 1] = v[j];
    v[j] = tmp;
  }
}

static void
post_epoch (GstLstmTrain * self, guint epoch, guint epochs,
    const LstmTrainStats * tr, const LstmTrainStats * va, gboolean classify,
    gdouble fps, gdouble out[4])
{
  GstStructure *s;
  g_autofree gchar *text = NULL;

  out[0] = tr->n_targets ? tr->loss_sum / tr->n_targets : NAN;
  out[1] = classify && tr->n_targets ?
      (gdouble) tr->n_correct / tr->n_targets : NAN;
  out[2] = va->n_targets ? va->loss_sum / va->n_targets : NAN;
  out[3] = classify && va->n_targets ?
      (gdouble) va->n_correct / va->n_targets : NAN;
  s = gst_structure_new ("lstmtrain",
      "epoch", G_TYPE_UINT, epoch,
      "train-loss", G_TYPE_DOUBLE, out[0],
      "train-accuracy", G_TYPE_DOUBLE, out[1],
      "val-loss", G_TYPE_DOUBLE, out[2],
      "val-accuracy", G_TYPE_DOUBLE, out[3],
      "frames-per-second", G_TYPE_DOUBLE, fps, NULL);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
  text = epochs ? g_strdup_printf ("epoch %u/%u: train loss %.4f, val loss "
      "%.4f", epoch, epochs, out[0], out[2]) :
      g_strdup_printf ("checkpoint %u: train loss %.4f", epoch, out[0]);
  GST_INFO_OBJECT (self, "%s", text);
}

/* Progress messages start only once the first statistics buffer has gone
 * downstream: that buffer prerolls the sinks, and gst-launch-1.0 does not
 * go to PLAYING while a progress is pending, which with the buffer blocked
 * in preroll would wait forever. */
static void
post_progress (GstLstmTrain * self, guint epoch, guint epochs,
    const gdouble v[4])
{
  /* epochs 0: mode=online, whose "epochs" are checkpoints */
  g_autofree gchar *text = epochs ?
      g_strdup_printf ("epoch %u/%u: train loss %.4f, val loss %.4f", epoch,
      epochs, v[0], v[2]) :
      g_strdup_printf ("checkpoint %u: train loss %.4f", epoch, v[0]);

  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_progress (GST_OBJECT (self), epoch == 1 ?
          GST_PROGRESS_TYPE_START : GST_PROGRESS_TYPE_CONTINUE, "train", text));
}

static GstFlowReturn
push_stats (GstLstmTrain * self, guint epoch, const gdouble v[4])
{
  float f[4] = { v[0], v[1], v[2], v[3] };
  GstBuffer *buf = gst_buffer_new_memdup (f, sizeof (f));

  GST_BUFFER_PTS (buf) = (epoch - 1) * GST_SECOND;
  GST_BUFFER_DURATION (buf) = GST_SECOND;
  return gst_aggregator_finish_buffer (GST_AGGREGATOR (self), buf);
}

/* Labels, the task and the settings go into the file's metadata. */
static void
describe_model (LstmModel * m, const Settings * s, const Dataset * d,
    guint n_train, guint n_val, guint epochs_run, gdouble best)
{
  static const gchar *tasks[] = { "classify", "regress", "forecast" };
  static const gchar *opts[] = { "sgd", "adam", "adamw", "rmsprop" };
  g_autofree gchar *v = NULL;

  if (d->labels != NULL) {
    g_ptr_array_add (d->labels, NULL);
    lstm_model_set_labels (m, (const gchar * const *) d->labels->pdata, NULL);
    g_ptr_array_remove_index (d->labels, d->labels->len - 1);
  }
  lstm_model_set_metadata (m, "trained-by", "gst-lstm lstmtrain");
  lstm_model_set_metadata (m, "task", tasks[s->task]);
  lstm_model_set_metadata (m, "optimizer", opts[s->optimizer]);
#define SET_META(key, fmt, val) \
  v = g_strdup_printf (fmt, val); lstm_model_set_metadata (m, key, v); \
  g_clear_pointer (&v, g_free)
  SET_META ("learning-rate", "%g", s->learning_rate);
  SET_META ("batch-size", "%u", s->batch_size);
  SET_META ("epochs", "%u", epochs_run);
  SET_META ("seed", "%" G_GUINT64_FORMAT, s->seed);
  SET_META ("train-sequences", "%u", n_train);
  SET_META ("val-sequences", "%u", n_val);
  SET_META ("best-loss", "%.6g", best);
#undef SET_META
}

static gboolean
train (GstLstmTrain * self, const Settings * s, Dataset * d, GError ** error)
{
  g_autoptr (LstmModel) m = NULL;
  g_autoptr (LstmTrainer) tr = NULL;
  g_autoptr (LstmNormStats) norm = NULL;
  g_autofree guint *order = NULL;
  g_autofree float *best = NULL;
  BatchScratch b = { 0 };
  GRand *rand = NULL;
  guint n = d->seqs->len, n_val, n_train, max_len = 1, i, epoch, since = 0;
  gboolean last_only = loss_last_frame (s, d), ok = FALSE;
  gdouble best_loss = INFINITY;

  for (i = 0; i < n; i++)
    max_len = MAX (max_len, g_array_index (d->seqs, Seq, i).len);
  /* the split: a seeded shuffle, the tail held out */
  rand = g_rand_new_with_seed ((guint32) (s->seed ^ (s->seed >> 32)));
  order = g_new (guint, n);
  for (i = 0; i < n; i++)
    order[i] = i;
  shuffle (rand, order, n);
  n_val = (guint) floor (s->val_fraction * n);
  if (n_val >= n)
    n_val = n - 1;
  n_train = n - n_val;

  m = make_model (self, s, d, error);
  if (m == NULL)
    goto done;
  if (s->init_model == NULL || m->input_mean == NULL) {
    /* normalization measured on the training sequences only */
    norm = lstm_norm_stats_new (self->channels);
    for (i = 0; i < n_train; i++) {
      const Seq *q = &g_array_index (d->seqs, Seq, order[i]);
      lstm_norm_stats_add (norm, &g_array_index (self->frames, float,
              (gsize) q->first * self->channels), q->len);
    }
    if (!lstm_norm_stats_apply (norm, m, error))
      goto done;
  }
  tr = make_trainer (self, s, d, m, max_len, error);
  if (tr == NULL)
    goto done;

  b.lengths = g_new (guint, s->batch_size);
  b.inputs = g_new (const float *, s->batch_size);
  b.ids = g_new (const gint32 *, s->batch_size);
  b.targets = g_new (const float *, s->batch_size);
  b.id_store = g_new (gint32, (gsize) s->batch_size * max_len);
  best = g_new (float, m->n_params);
  memcpy (best, m->params, m->n_params * sizeof (float));

  for (epoch = 1; epoch <= s->epochs; epoch++) {
    LstmTrainStats st = { 0 }, sv = { 0 };
    guint64 frames = 0;
    gint64 t0 = g_get_monotonic_time ();
    gdouble v[4], loss;

    if (s->shuffle)
      shuffle (rand, order, n_train);
    if (!run_pass (self, tr, d, last_only, order, n_train, s->batch_size, &b,
            max_len, TRUE, &st, &frames, error)
        || !run_pass (self, tr, d, last_only, order + n_train, n_val,
            s->batch_size, &b, max_len, FALSE, &sv, &frames, error))
      goto done;
    post_epoch (self, epoch, s->epochs, &st, &sv, d->labels != NULL,
        frames / MAX ((g_get_monotonic_time () - t0) / 1e6, 1e-9), v);
    if (push_stats (self, epoch, v) < GST_FLOW_EOS) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
          "downstream refused the statistics");
      goto done;
    }
    post_progress (self, epoch, s->epochs, v);
    /* the best model by validation loss (training loss without one) */
    loss = n_val > 0 ? v[2] : v[0];
    if (loss < best_loss) {
      best_loss = loss;
      memcpy (best, m->params, m->n_params * sizeof (float));
      since = 0;
    } else if (s->patience > 0 && ++since >= s->patience) {
      GST_INFO_OBJECT (self, "early stop after epoch %u", epoch);
      epoch++;
      break;
    }
  }
  memcpy (m->params, best, m->n_params * sizeof (float));
  describe_model (m, s, d, n_train, n_val, epoch - 1, best_loss);
  ok = lstm_model_save (m, s->model_path, error);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_progress (GST_OBJECT (self), ok ?
          GST_PROGRESS_TYPE_COMPLETE : GST_PROGRESS_TYPE_ERROR, "train",
          ok ? "model saved" : "training failed"));

done:
  g_free (b.lengths);
  g_free (b.inputs);
  g_free (b.ids);
  g_free (b.targets);
  g_free (b.id_store);
  if (rand)
    g_rand_free (rand);
  return ok;
}

static GstFlowReturn
train_offline (GstLstmTrain * self)
{
  g_autoptr (GError) error = NULL;
  Settings s = { 0 };
  Dataset d = { 0 };
  gboolean ok;

  read_settings (self, &s);
  ok = build_dataset (self, &d, &error) && train (self, &s, &d, &error);
  if (!ok && g_atomic_int_get (&self->cancel)) {
    ok = TRUE;                  /* stopping: not an error */
  } else if (!ok) {
    GST_ELEMENT_ERROR (self, LIBRARY, FAILED, ("Training failed."),
        ("%s", error->message));
  }
  dataset_clear (&d);
  clear_settings (&s);
  return ok ? GST_FLOW_EOS : GST_FLOW_ERROR;
}

/* ----------------------------------------------------------------- online */

/* mode=online: a batch of one, trained as the stream goes. Forecasts and
 * fixed labels run truncated BPTT over consecutive bptt-frame windows,
 * the state carried from one window to the next (reset at a break); a
 * label track trains each cue once the frames past its end have come.
 * Checkpoints are atomic saves every checkpoint-interval of stream time
 * and at the end. */
typedef struct
{
  Settings s;
  Dataset d;                    /* labels and out_size; no sequences */
  LstmModel *model;
  LstmTrainer *trainer;
  LstmState *state;             /* carried across windows */
  gint label;                   /* the fixed label's id, or -1 */
  guint max_len;                /* frames per step at most */
  gint32 *ids;                  /* [max_len] class ids of a step */
  guint consumed;               /* frames before this index are done */
  guint next_cue;
  GstClockTime last_checkpoint; /* PTS of the last save */
  LstmTrainStats stats;         /* since the last checkpoint */
  guint64 frames;               /* trained since the last checkpoint */
  gint64 t0;                    /* monotonic time of the last checkpoint */
  guint checkpoints;
} Online;

static void
online_free (gpointer data)
{
  Online *o = data;

  if (o->trainer)
    lstm_trainer_free (o->trainer);
  if (o->state)
    lstm_state_free (o->state);
  if (o->model)
    lstm_model_unref (o->model);
  g_free (o->ids);
  dataset_clear (&o->d);
  clear_settings (&o->s);
  g_free (o);
}

static Online *
online_new (GstLstmTrain * self, GError ** error)
{
  Online *o = g_new0 (Online, 1);
  g_autoptr (GPtrArray) fixed = NULL;
  g_autofree gchar *label = NULL;
  gboolean text = self->targetpad != NULL && self->target_text;

  read_settings (self, &o->s);
  GST_OBJECT_LOCK (self);
  fixed = labels_from_property (self->labels);
  label = g_strdup (self->label);
  GST_OBJECT_UNLOCK (self);
  o->label = -1;
  o->last_checkpoint = GST_CLOCK_TIME_NONE;
  o->t0 = g_get_monotonic_time ();

  if (self->targetpad != NULL && !text) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "mode=online trains forecasts, fixed labels and label tracks; "
        "numeric target streams need mode=offline");
    goto fail;
  }
  if (o->s.task == GST_LSTM_TRAIN_TASK_FORECAST && self->targetpad == NULL) {
    o->d.out_size = self->channels;
  } else if (o->s.task == GST_LSTM_TRAIN_TASK_CLASSIFY
      && (text || label != NULL)) {
    if (fixed == NULL) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
          "mode=online needs the labels property: the head's size must be "
          "known before the first step");
      goto fail;
    }
    o->d.labels = g_ptr_array_ref (fixed);
    o->d.out_size = fixed->len;
    if (label != NULL && (o->label = find_label (fixed, label)) < 0) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
          "label '%s' is not one of the labels property's", label);
      goto fail;
    }
  } else {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "nothing to learn online: set task=forecast, a fixed label, or link "
        "a label track to the target pad");
    goto fail;
  }

  o->model = make_model (self, &o->s, &o->d, error);
  if (o->model == NULL)
    goto fail;
  if (o->s.init_model == NULL || o->model->input_mean == NULL) {
    /* online, the statistics are those of the first window (bptt +
     * horizon frames) or of the frames up to the first cue's end: a fixed
     * span, so the same stream and seed train the same model whatever the
     * buffering */
    g_autoptr (LstmNormStats) norm = lstm_norm_stats_new (self->channels);
    guint n = self->frame_pts->len, span = text && self->cues->len > 0 ?
        lower_bound (self->frame_pts, g_array_index (self->cues,
            GstLstmTrainCue, 0).end) : o->s.bptt + self->horizon;
    if (span == 0 || span > n)
      span = n;
    lstm_norm_stats_add (norm, (const float *) self->frames->data, span);
    if (!lstm_norm_stats_apply (norm, o->model, error))
      goto fail;
  }
  /* a cue longer than this trains on its last max_len frames */
  o->max_len = text ? MAX (o->s.bptt, 1000) : o->s.bptt;
  o->s.batch_size = 1;
  o->trainer = make_trainer (self, &o->s, &o->d, o->model, o->max_len, error);
  if (o->trainer == NULL)
    goto fail;
  o->state = lstm_state_new (o->model, 0);
  o->ids = g_new (gint32, o->max_len);
  return o;

fail:
  online_free (o);
  return NULL;
}

static gboolean
span_is_finite (GstLstmTrain * self, guint a, guint b)
{
  guint i;
  for (i = a; i < b; i++)
    if (!frame_ok (self, i))
      return FALSE;
  return TRUE;
}

/* One step on frames [first, first + len): a forecast (targets: the same
 * frames `horizon` later), or a class for every frame. */
static gboolean
online_step (GstLstmTrain * self, Online * o, guint first, guint len,
    gint label, gboolean carry, GError ** error)
{
  const float *frames = (const float *) self->frames->data;
  const float *x = frames + (gsize) first * self->channels;
  const float *y = frames + (gsize) (first + self->horizon) * self->channels;
  const gint32 *ids = o->ids;
  LstmState *state = o->state;
  LstmBatch batch = { 1, &len, &x, NULL, NULL, NULL };
  guint t;

  if (label >= 0) {
    for (t = 0; t < len; t++)
      o->ids[t] = label;
    batch.class_ids = &ids;
  } else {
    batch.targets = &y;
  }
  if (carry)
    batch.states = &state;
  o->frames += len;
  return lstm_trainer_step (o->trainer, &batch, NULL, &o->stats, error);
}

static gboolean online_checkpoint (GstLstmTrain * self, Online * o,
    GError ** error);

/* After a step that ended at frame `last`: a checkpoint when the stream
 * has moved checkpoint-interval past the previous one. */
static gboolean
online_maybe_checkpoint (GstLstmTrain * self, Online * o, guint last,
    GError ** error)
{
  GstClockTime t = g_array_index (self->frame_pts, GstClockTime, last);

  if (!GST_CLOCK_TIME_IS_VALID (o->last_checkpoint))
    o->last_checkpoint = t;
  if (self->checkpoint_interval == 0
      || t < o->last_checkpoint + self->checkpoint_interval)
    return TRUE;
  o->last_checkpoint = t;
  return online_checkpoint (self, o, error);
}

/* Saves the model as it is now and reports the steps since the last
 * checkpoint as one "epoch". */
static gboolean
online_checkpoint (GstLstmTrain * self, Online * o, GError ** error)
{
  LstmTrainStats none = { 0 };
  gdouble v[4];
  gint64 now = g_get_monotonic_time ();

  o->checkpoints++;
  post_epoch (self, o->checkpoints, 0, &o->stats, &none, o->d.labels != NULL,
      o->frames / MAX ((now - o->t0) / 1e6, 1e-9), v);
  if (push_stats (self, o->checkpoints, v) < GST_FLOW_EOS) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "downstream refused the statistics");
    return FALSE;
  }
  post_progress (self, o->checkpoints, 0, v);
  describe_model (o->model, &o->s, &o->d, 0, 0, o->checkpoints, v[0]);
  lstm_model_set_metadata (o->model, "mode", "online");
  memset (&o->stats, 0, sizeof (o->stats));
  o->frames = 0;
  o->t0 = now;
  return lstm_model_save (o->model, o->s.model_path, error);
}

/* Windows of a forecast or fixed-label stream that are complete. */
static gboolean
online_windows (GstLstmTrain * self, Online * o, gboolean eos, GError ** error)
{
  guint n = self->frame_pts->len, h = o->label >= 0 ? 0 : self->horizon;

  while (o->consumed < n) {
    guint start = o->consumed, end = n, k, len;
    gboolean cut = eos;

    for (k = 0; k < self->breaks->len; k++) {
      guint b = g_array_index (self->breaks, guint, k);
      if (b > start) {
        end = b;
        cut = TRUE;
        break;
      }
    }
    /* a whole window with its targets, or what a stretch has left */
    if (start + o->s.bptt + h <= end)
      len = o->s.bptt;
    else if (cut)
      len = end > start + h ? end - start - h : 0;
    else
      break;                    /* wait for more frames */
    if (len > 0 && span_is_finite (self, start, start + len + h)) {
      if (!online_step (self, o, start, len, o->label, TRUE, error)
          || !online_maybe_checkpoint (self, o, start + len - 1, error))
        return FALSE;
    } else {
      lstm_state_reset (o->state);      /* a gap: the sequence restarts */
    }
    o->consumed = len == o->s.bptt ? start + len : end;
    if (o->consumed == end && cut)
      lstm_state_reset (o->state);
  }
  return TRUE;
}

/* Cues whose frames have all come. */
static gboolean
online_cues (GstLstmTrain * self, Online * o, gboolean eos, GError ** error)
{
  guint n = self->frame_pts->len;

  while (o->next_cue < self->cues->len) {
    GstLstmTrainCue *cue = &g_array_index (self->cues, GstLstmTrainCue,
        o->next_cue);
    guint a = lower_bound (self->frame_pts, cue->start);
    guint b = lower_bound (self->frame_pts, cue->end);
    gint id;

    if (b >= n && !eos)
      break;                    /* frames of this cue may still come */
    o->next_cue++;
    id = find_label (o->d.labels, cue->label);
    if (id < 0) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
          "the cue at %" GST_TIME_FORMAT " has the label '%s', which is not "
          "one of the labels property's", GST_TIME_ARGS (cue->start),
          cue->label);
      return FALSE;
    }
    if (a >= b || !span_is_finite (self, a, b))
      continue;
    if (b - a > o->max_len)
      a = b - o->max_len;
    if (!online_step (self, o, a, b - a, id, FALSE, error)
        || !online_maybe_checkpoint (self, o, b - 1, error))
      return FALSE;
    o->consumed = b;
  }
  return TRUE;
}

/* Drops frames no later step needs, so a long stream stays bounded. */
static void
online_trim (GstLstmTrain * self, Online * o)
{
  guint drop = o->consumed, k;

  if (self->target_text || drop < 65536)
    return;
  g_array_remove_range (self->frames, 0, (gsize) drop * self->channels);
  g_array_remove_range (self->frame_pts, 0, drop);
  for (k = 0; k < self->breaks->len;) {
    guint *b = &g_array_index (self->breaks, guint, k);
    if (*b <= drop) {
      g_array_remove_index (self->breaks, k);
    } else {
      *b -= drop;
      k++;
    }
  }
  o->consumed = 0;
}

static GstFlowReturn
train_online (GstLstmTrain * self, gboolean eos)
{
  g_autoptr (GError) error = NULL;
  Online *o = self->online;
  guint n = self->frame_pts->len;
  gboolean ok = TRUE;

  if (o == NULL) {
    gboolean text = self->targetpad != NULL && self->target_text;
    /* enough to start: a window (and its horizon), a cue, or the end */
    if (!eos && (text ? self->cues->len == 0 : n < self->bptt + self->horizon))
      return GST_FLOW_OK;
    if (n == 0) {
      GST_ELEMENT_ERROR (self, LIBRARY, FAILED, ("Training failed."),
          ("no frames arrived on the sink pad: nothing to train on"));
      return GST_FLOW_ERROR;
    }
    o = self->online = online_new (self, &error);
    ok = o != NULL;
  }
  if (ok)
    ok = self->target_text ? online_cues (self, o, eos, &error) :
        online_windows (self, o, eos, &error);
  if (ok && eos)
    ok = online_checkpoint (self, o, &error);
  if (ok && !eos)
    online_trim (self, o);
  if (!ok) {
    if (g_atomic_int_get (&self->cancel))
      return GST_FLOW_FLUSHING;
    GST_ELEMENT_ERROR (self, LIBRARY, FAILED, ("Training failed."),
        ("%s", error->message));
    return GST_FLOW_ERROR;
  }
  return eos ? GST_FLOW_EOS : GST_FLOW_OK;
}
