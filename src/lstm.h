/* gst-lstm core library: LSTM models, state, forward pass, model files.
 *
 * The one public header of src/. Nothing here knows about GStreamer buffers:
 * frames are plain row-major float arrays, one row of `input_size` floats per
 * frame (the interleaved layout of a frame stream).
 *
 * Ownership in one line: models are reference counted and read-only once
 * built, so any number of LstmState may run against one LstmModel at once;
 * a state belongs to one caller at a time.
 */
#ifndef __LSTM_H__
#define __LSTM_H__

#include <glib.h>

G_BEGIN_DECLS

/* ---------------------------------------------------------------- errors */

#define LSTM_ERROR (lstm_error_quark ())
GQuark lstm_error_quark (void);

typedef enum
{
  LSTM_ERROR_IO,                /* the file could not be read or written */
  LSTM_ERROR_FORMAT,            /* not a well-formed safetensors file */
  LSTM_ERROR_MODEL,             /* well-formed, but not a runnable model: names, shapes, values */
  LSTM_ERROR_UNSUPPORTED,       /* asks for something this version does not implement */
  LSTM_ERROR_STATE,             /* state bytes that do not fit the model */
  LSTM_ERROR_INVALID,           /* an argument out of range (sizes, labels, statistics) */
} LstmError;

/* ----------------------------------------------------------------- limits */

/* Hard limits, checked on every model built or loaded, so that size
 * arithmetic never overflows and a lying file cannot make us allocate
 * terabytes. Real models sit far below them. */
#define LSTM_MAX_INPUT_SIZE   65536
#define LSTM_MAX_HIDDEN_SIZE  4096
#define LSTM_MAX_LAYERS       64
#define LSTM_MAX_HEAD_SIZE    65536

/* ------------------------------------------------------------------ model */

typedef enum
{
  LSTM_OUTPUT_IDENTITY,         /* regression: the head's raw output */
  LSTM_OUTPUT_SOFTMAX,          /* classifier: probabilities over the head's outputs */
  LSTM_OUTPUT_SIGMOID,          /* multi-label: an independent probability per output */
} LstmOutput;

/* The recurrent cell of every layer. */
typedef enum
{
  LSTM_CELL_LSTM,               /* nn.LSTM: gate rows i, f, g, o */
  LSTM_CELL_GRU,                /* nn.GRU: gate rows r, z, n */
} LstmCell;

/* One direction of one layer (nn.LSTM or nn.GRU). Gate rows in PyTorch's
 * order (LSTM i, f, g, o; GRU r, z, n), each block hidden_size rows long.
 * The pointers point into LstmModel.params; the variant tensors are NULL
 * when the model does not have that variant. */
typedef struct
{
  guint input_size;             /* in_k: the model's input size for k = 0, else
                                 * the previous layer's output width */
  guint hidden_size;            /* H */
  float *weight_ih;             /* [G, in_k] row-major, G = 4H (LSTM), 3H (GRU) */
  float *weight_hh;             /* [G, out] row-major, out = P or H */
  float *bias_ih;               /* [G] */
  float *bias_hh;               /* [G] */

  /* Variants (appended so plain code above keeps its layout). */
  guint gate_size;              /* G */
  guint out_size;               /* width of h: proj_size P, else H */
  guint direction;              /* 0 forward, 1 backward (`_reverse`) */
  float *weight_hr;             /* [P, H] projection, or NULL */
  float *peephole;              /* [3H] p_i, p_f, p_o, or NULL */
  float *ln_ih_weight;          /* [G] layer norm of W_ih x: gain ... */
  float *ln_ih_bias;            /* [G]                        ... and shift */
  float *ln_hh_weight;          /* [G] layer norm of W_hh h */
  float *ln_hh_bias;            /* [G] */
  float *ln_c_weight;           /* [H] layer norm of c_t */
  float *ln_c_bias;             /* [H] */
} LstmLayer;

/* The shape of a model: plain nn.LSTM by default (lstm_model_config_init),
 * and the variants the README lists. */
typedef struct
{
  guint input_size;
  guint hidden_size;            /* H */
  guint num_layers;
  guint head_size;              /* 0: no head */
  LstmOutput output;
  LstmCell cell;                /* LSTM_CELL_LSTM */
  guint proj_size;              /* LSTM only: P < H, 0 for none (0) */
  gboolean bidirectional;       /* FALSE */
  gboolean peephole;            /* LSTM only (FALSE) */
  gboolean coupled_gates;       /* LSTM only, CIFG: i = 1 - f (FALSE) */
  gboolean layer_norm;          /* LSTM only (FALSE) */
  double cell_clip;             /* > 0: clip gate pre-activations to
                                 * [-cell_clip, cell_clip]; 0: none (0) */
} LstmModelConfig;

/* How the weight matrices of a model are stored for inference
 * (lstm_model_set_weight_precision). */
typedef enum
{
  LSTM_PRECISION_F32,           /* float32, as loaded (the default) */
  LSTM_PRECISION_F16,           /* IEEE binary16, rounded to nearest even */
  LSTM_PRECISION_INT8,          /* q in [-127, 127] and a float scale per row */
} LstmPrecision;

/* Read-only after construction (load, or new + init/set_*), shared by
 * reference. Every trainable float lives in the one flat `params` buffer
 * (layers in order: weight_ih, weight_hh, bias_ih, bias_hh; then the head
 * weight and bias), so optimizers, clipping and saving are single loops. */
typedef struct
{
  /*< private > */
  gint ref_count;
  void (*dispose_notify) (gpointer model);      /* the model cache's hook */

  /*< public, read-only > */
  guint input_size;             /* features per input frame */
  guint hidden_size;            /* H, the same for every layer */
  guint num_layers;
  LstmLayer *layers;            /* [num_layers] */

  guint head_size;              /* O; 0 when the model has no head */
  float *head_weight;           /* [O, H] or NULL */
  float *head_bias;             /* [O] or NULL */
  LstmOutput output;            /* activation after the head */

  float *input_mean;            /* [input_size] or NULL: x' = (x - mean) / std */
  float *input_std;             /* [input_size] or NULL; every entry > 0 */

  gchar **labels;               /* NULL-terminated, head_size entries, or NULL */
  GHashTable *metadata;         /* gchar* -> gchar*: the file's __metadata__ */

  float *params;                /* every trainable float, 64-byte aligned blocks */
  gsize n_params;               /* length of params in floats, padding included */
  gsize n_weights;              /* trainable floats, padding excluded */

  /*< public, read-only: the variant > */
  LstmCell cell;
  guint proj_size;              /* P, or 0 */
  guint num_directions;         /* 1, or 2 when bidirectional */
  gboolean peephole;
  gboolean coupled_gates;
  gboolean layer_norm;
  float cell_clip;              /* 0: none */
  /* Width of every layer's output, the next layer's input and the head's
   * input: num_directions * (P or H). `layers` holds num_layers *
   * num_directions entries, layer k direction d at k * num_directions + d. */
  guint layer_output_size;

  /*< private > */
  LstmPrecision precision;      /* of the matrices' storage (lstm-precision.c) */
  gpointer packs[3];            /* lstm-pack.c: the weight matrices packed
                                 * for the forward kernels, per precision,
                                 * made on first use */
} LstmModel;

/* A model with every weight zero. head_size 0 means no head (the output is
 * the top layer's h). Fails with LSTM_ERROR_INVALID when a size is 0 or
 * above the LSTM_MAX_* limits. */
LstmModel *lstm_model_new (guint input_size, guint hidden_size,
    guint num_layers, guint head_size, LstmOutput output, GError ** error);

/* Fills `config` with a plain nn.LSTM of the given sizes (no variant). */
void lstm_model_config_init (LstmModelConfig * config, guint input_size,
    guint hidden_size, guint num_layers, guint head_size, LstmOutput output);

/* The checks of lstm_model_new_full on sizes and variants, without
 * building anything (an element checks its settings before any data). */
gboolean lstm_model_config_validate (const LstmModelConfig * config,
    GError ** error);

/* A model of any variant, every weight zero (layer-norm gains 1). Fails with
 * LSTM_ERROR_INVALID on sizes out of range or a variant combination that
 * is not defined (projection, peephole, coupled gates or layer norm with
 * the GRU; proj_size >= H; a cell_clip that is negative or not finite). */
LstmModel *lstm_model_new_full (const LstmModelConfig * config,
    GError ** error);

/* The model's shape back as a config. */
void lstm_model_get_config (const LstmModel * model, LstmModelConfig * config);

/* TRUE for a plain nn.LSTM (none of the variants): the fast path. */
gboolean lstm_model_is_plain (const LstmModel * model);

LstmModel *lstm_model_ref (LstmModel * model);
/* Call after writing into a model's parameters (weights or biases) once
 * it has run forward (the forward pass keeps a repacked copy of the
 * weights and the summed biases, made on first use). A trainer's steps
 * call it; nothing may run the model meanwhile. */
void lstm_model_weights_changed (LstmModel * model);
void lstm_model_unref (LstmModel * model);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LstmModel, lstm_model_unref);

/* PyTorch's initialization from a seed: every nn.LSTM parameter uniform in
 * [-1/sqrt(H), 1/sqrt(H)] (nn.LSTM.reset_parameters); the head as
 * nn.Linear does, weight and bias uniform in [-1/sqrt(H), 1/sqrt(H)]
 * (kaiming_uniform with a = sqrt(5) gives that bound). Same seed, same
 * weights; the random stream is GLib's, not PyTorch's. */
void lstm_model_init_random (LstmModel * model, guint64 seed);

/* Copies mean and std ([input_size] each). Every std must be finite and > 0,
 * every mean finite. NULL, NULL removes normalization. */
gboolean lstm_model_set_normalization (LstmModel * model, const float *mean,
    const float *std, GError ** error);

/* NULL-terminated, exactly head_size non-empty UTF-8 strings without
 * control characters (a label is one line of text), or NULL. */
gboolean lstm_model_set_labels (LstmModel * model,
    const gchar * const *labels, GError ** error);

void lstm_model_set_metadata (LstmModel * model, const gchar * key,
    const gchar * value);
const gchar *lstm_model_get_metadata (const LstmModel * model,
    const gchar * key);

/* Floats per output frame: head_size, or hidden_size without a head. */
guint lstm_model_get_output_size (const LstmModel * model);

/* Checks every weight and statistic is finite; names the first that is not. */
gboolean lstm_model_check_finite (const LstmModel * model, GError ** error);

/* Deep copy with refcount 1 (for fine-tuning a shared model). The copy of
 * a reduced-precision model is float32 with the rounded weights. */
LstmModel *lstm_model_copy (const LstmModel * model);

/* Stores the weight matrices (W_ih, W_hh of every layer, the head's
 * weight) in `precision` for lstm_forward: each matrix is rounded (F16:
 * to nearest even; INT8: per row r, s_r = max_k |w_rk| / 127, q_rk =
 * round (w_rk / s_r)) and the float weights are replaced by the values
 * computed with (F16: the half's value; INT8: s_r q_rk), so saving,
 * copying or any path that reads the floats sees the same model. F16
 * gives bit for bit what float32 gives on those rounded floats; INT8
 * computes y_r = s_r sum_k q_rk x_k, equal to within rounding. Biases and
 * statistics stay float32. Lossy: F32 afterwards keeps the rounded values.
 * Call it before the model is shared (like the other set_* functions).
 * Plain LSTM models only (LSTM_ERROR_UNSUPPORTED otherwise); a weight
 * beyond the half range (65504) is refused with LSTM_ERROR_MODEL. */
gboolean lstm_model_set_weight_precision (LstmModel * model,
    LstmPrecision precision, GError ** error);
LstmPrecision lstm_model_get_weight_precision (const LstmModel * model);
/* "f32", "f16", "int8" */
const gchar *lstm_precision_to_string (LstmPrecision precision);
gboolean lstm_precision_from_string (const gchar * str,
    LstmPrecision * precision);

const gchar *lstm_output_to_string (LstmOutput output);
gboolean lstm_output_from_string (const gchar * str, LstmOutput * output);

/* ------------------------------------------------------------ model files */

/* safetensors, PyTorch names (see DESIGN.md). The loader accepts any common
 * prefix on the LSTM tensors, any prefix on the head, F32/F16/BF16/F64, and
 * refuses everything malformed with a GError naming the file, the tensor
 * and the sizes; it never reads outside `data`. */
LstmModel *lstm_model_load (const gchar * path, GError ** error);
LstmModel *lstm_model_load_from_data (const guint8 * data, gsize size,
    const gchar * name, GError ** error);

/* Writes F32 tensors `lstm.weight_ih_l{k}` … (and the variant's, see
 * README "Model variants"), `head.weight`, `head.bias`, `input_mean`,
 * `input_std`, and __metadata__ (the model's metadata plus `output`,
 * `labels` and the variant's keys). Atomic: a temporary file is written, synced and
 * renamed, so `path` is either the old file or the whole new one. */
gboolean lstm_model_save (const LstmModel * model, const gchar * path,
    GError ** error);
/* Whether lstm_model_save could write path, checked without writing it
 * (for a trainer to refuse a path before training rather than after):
 * its folder takes a new file, and path is nothing yet, a regular file or
 * a symbolic link to one (saved through: the link stays). A folder, a
 * device, a pipe, a socket or a link to nothing at path is refused, by
 * lstm_model_save too, rather than replaced. */
gboolean lstm_model_check_save_path (const gchar * path, GError ** error);
GBytes *lstm_model_save_to_bytes (const LstmModel * model);

/* ONNX import (README "Importing ONNX models"): the LSTM or GRU nodes of an
 * ONNX file (torch.onnx.export's), an optional MatMul(+Add)/Gemm head and
 * Softmax/Sigmoid, as the bytes of our model file. Anything else is refused
 * with a GError naming the node and attribute. lstm_model_load calls
 * lstm_model_load_onnx for a path ending in ".onnx". */
GBytes *lstm_onnx_convert (const guint8 * data, gsize size,
    const gchar * name, GError ** error);
LstmModel *lstm_model_load_onnx (const gchar * path, GError ** error);

/* ------------------------------------------------------------------ state */

/* h and c of every layer, plus the scratch the forward pass needs for up to
 * `max_frames` frames per internal chunk (longer calls are cut into chunks,
 * which gives the same result). Created for one model's sizes; usable with
 * any model of the same sizes. Forward never allocates. */
typedef struct _LstmState LstmState;

#define LSTM_DEFAULT_MAX_FRAMES 64

/* max_frames 0 means LSTM_DEFAULT_MAX_FRAMES. Starts reset (zeros). */
LstmState *lstm_state_new (const LstmModel * model, guint max_frames);
void lstm_state_free (LstmState * state);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LstmState, lstm_state_free);

/* TRUE when `state` was made for a model of this model's sizes. */
gboolean lstm_state_fits (const LstmState * state, const LstmModel * model);

void lstm_state_reset (LstmState * state);
/* Copies h and c (not the scratch). Both must have the same sizes. */
void lstm_state_copy (LstmState * dest, const LstmState * src);
LstmState *lstm_state_dup (const LstmState * state);

/* h or c of one layer: hidden_size floats, owned by the state. With the
 * variants: `layer` counts layers and directions, k * num_directions + d;
 * h is proj_size wide with a projection; a GRU has no c (NULL). */
const float *lstm_state_get_h (const LstmState * state, guint layer);
const float *lstm_state_get_c (const LstmState * state, guint layer);

/* Bytes: "LSTMSTAT", u32 version 1, u32 num_layers, u32 hidden_size,
 * u32 reserved 0, then h of every layer, then c of every layer, as
 * little-endian F32. A model with a variant writes version 2: u32
 * layers * directions, u32 h width, u32 c width (0 for a GRU), then every
 * h, then every c; a bidirectional model the same as version 3 (a layer
 * in two directions is not two layers). Deserialize refuses bytes of
 * other sizes or kinds, or non-finite values, and leaves the state
 * untouched on failure. */
GBytes *lstm_state_serialize (const LstmState * state);
gboolean lstm_state_deserialize (LstmState * state, GBytes * bytes,
    GError ** error);

/* ---------------------------------------------------------------- forward */

/* Runs `n_frames` frames through the model, carrying `state` in and out.
 * input:  [n_frames, model->input_size] row-major.
 * output: [n_frames, lstm_model_get_output_size (model)], or NULL to only
 *         advance the state.
 * Feeding a sequence in pieces gives the same result as feeding it whole.
 * Allocates nothing. A bidirectional model takes each call as one whole
 * sequence (its backward direction starts at the last frame from the
 * state's `_reverse` slot, as PyTorch's h0) and grows the state's scratch
 * to the longest sequence it has seen. The caller keeps inputs finite (see the elements'
 * non-finite policy); the state fits the model (lstm_state_fits). */
void lstm_forward (const LstmModel * model, LstmState * state,
    const float *input, guint n_frames, float *output);

/* ---------------------------------------------------------------- streams */

/* Many independent streams of one model stepped together: at each frame
 * time one matrix product computes the recurrent gates of every stream
 * (the weights are read once for all of them instead of once per stream).
 * Every stream's outputs and state are bit for bit those of lstm_forward
 * on that stream alone (the kernels sum every dot product the same way
 * whatever the number of rows). An LstmStreams is scratch for up to
 * `max_streams` streams and `max_frames` frames per internal chunk, made
 * for one model's sizes; it belongs to one caller at a time. */
typedef struct _LstmStreams LstmStreams;

/* max_frames 0 means LSTM_DEFAULT_MAX_FRAMES. */
LstmStreams *lstm_streams_new (const LstmModel * model, guint max_streams,
    guint max_frames);
void lstm_streams_free (LstmStreams * streams);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LstmStreams, lstm_streams_free);

/* Advances n_streams <= max_streams streams by n_frames frames each:
 * states[s] is stream s's state (fitting the model), inputs[s] its
 * [n_frames, input_size] frames, outputs[s] room for its [n_frames,
 * output size] outputs (or outputs NULL to only advance the states).
 * Allocates nothing. */
void lstm_streams_forward (LstmStreams * streams, const LstmModel * model,
    LstmState * const *states, guint n_streams, const float *const *inputs,
    guint n_frames, float *const *outputs);

/* ----------------------------------------------------------------- frames */

/* S16 samples to floats in [-1, 1): x / 32768. */
void lstm_frames_from_s16 (const gint16 * in, gsize n, float *out);

/* TRUE when all `frame_size` floats of the frame are finite. */
gboolean lstm_frame_is_finite (const float *frame, guint frame_size);

/* lstm_forward over n frames that may hold NaN or Inf: each run of finite
 * frames goes through the network; a non-finite frame leaves the state as
 * it was and repeats the previous output (prev_out, [output size], for the
 * first frame; NULL: zeros) so outputs stay aligned with inputs. Returns
 * how many frames were skipped. */
guint lstm_forward_finite (const LstmModel * model, LstmState * state,
    const float *input, guint n_frames, float *output, const float *prev_out);

/* acc[i] += x[i] for n values (running sums of predictions). */
void lstm_vector_add (float *acc, const float *x, guint n);

/* x[i] *= factor for n values. */
void lstm_vector_scale (float *x, float factor, guint n);

/* Index of the largest of n values (the first on ties); n >= 1. */
guint lstm_argmax (const float *values, guint n);

/* ----------------------------------------------------------- label tracks */

/* The label a subtitle cue carries: with `markup` (subparse's
 * pango-markup) tags are dropped and entities decoded; blanks and other
 * control characters are trimmed and folded into single spaces. Returns a new UTF-8 string ("" for a cue with no text). */
gchar *lstm_label_from_cue (const gchar * text, gsize len, gboolean markup);

/* --------------------------------------------------------------- training */

/* Exact backpropagation through time for the stacked LSTM and its head,
 * with PyTorch's losses ('mean' reduction), optimizers, global-norm
 * clipping, dropout between layers and truncated BPTT. One step equals
 * PyTorch's (nn.LSTM + nn.Linear, the same loss, torch.optim, and
 * torch.nn.utils.clip_grad_norm_) from the same weights, up to float32
 * rounding; tests/test-train.c checks that against reference files.
 *
 * A trainer updates its model's `params` in place: do not let it train a
 * model that inference is running on (lstm_model_copy it first, and copy
 * again to snapshot or save while training goes on). Gradients and the
 * optimizer's state are flat buffers of the model's n_params floats, laid
 * out as `params` (padding included, and always 0 there), so clipping and
 * every optimizer are single loops. All training maths is float32. */

typedef enum
{
  /* nn.CrossEntropyLoss on the head's raw outputs (the logits; the model's
   * softmax is not applied before it). Targets are class ids. */
  LSTM_LOSS_CROSS_ENTROPY,
  /* nn.MSELoss between the model's output (after its activation: identity,
   * sigmoid or softmax, i.e. what lstm_forward emits) and target vectors. */
  LSTM_LOSS_MSE,
} LstmLoss;

typedef enum
{
  LSTM_OPTIMIZER_SGD,           /* torch.optim.SGD (momentum, dampening, nesterov) */
  LSTM_OPTIMIZER_ADAM,          /* torch.optim.Adam (amsgrad=False) */
  LSTM_OPTIMIZER_ADAMW,         /* torch.optim.AdamW (amsgrad=False) */
  LSTM_OPTIMIZER_RMSPROP,       /* torch.optim.RMSprop (momentum, centered) */
} LstmOptimizer;

/* A class id that does not count (PyTorch's default ignore_index): the
 * frame adds nothing to the loss and is not counted in the mean. */
#define LSTM_IGNORE_INDEX (-100)

/* Hyperparameters are doubles, as PyTorch's are Python floats; they are
 * rounded to float32 where PyTorch rounds them. Fill with
 * lstm_train_config_init, then change what you need. */
typedef struct
{
  LstmLoss loss;
  /* FALSE: a loss term per frame of every sequence, the mean taken over
   * all counted frames of the batch (PyTorch's loss over the concatenated
   * valid frames). TRUE: one term per sequence, at its last frame, the
   * mean taken over the sequences (whole-sequence classification). */
  gboolean last_frame_only;

  LstmOptimizer optimizer;
  /* SGD 0.001 (PyTorch 2's default; 1.13 has none), Adam and AdamW
   * 0.001, RMSprop 0.01 */
  double learning_rate;
  /* SGD, Adam, RMSprop: L2, wd * p added to the gradient (default 0);
   * AdamW: decoupled, p *= 1 - lr wd (default 0.01) */
  double weight_decay;
  double momentum;              /* SGD, RMSprop: 0 */
  double dampening;             /* SGD: 0 */
  gboolean nesterov;            /* SGD: FALSE; needs momentum > 0 and dampening 0 */
  double beta1;                 /* Adam, AdamW: 0.9 */
  double beta2;                 /* Adam, AdamW: 0.999 */
  double eps;                   /* Adam, AdamW, RMSprop: 1e-8 */
  double alpha;                 /* RMSprop's smoothing constant: 0.99 */
  gboolean centered;            /* RMSprop: FALSE */

  /* Largest global L2 norm of the gradient (clip_grad_norm_: every
   * gradient scaled by max_norm / (norm + 1e-6) when that is below 1);
   * 0 turns clipping off (the default). */
  double clip_norm;
  /* nn.LSTM's dropout: on the outputs of every layer but the last, in
   * training steps only (evaluation never drops); kept values are scaled
   * by 1 / (1 - dropout). In [0, 1); default 0. */
  double dropout;
  /* Seeds the dropout masks: the same seed, model and batches give the
   * same weights, bit for bit. Default 0. */
  guint64 seed;
} LstmTrainConfig;

/* Sets `config` to `optimizer` with PyTorch's defaults (above), the
 * cross-entropy loss on every frame, no clipping, no dropout, seed 0. */
void lstm_train_config_init (LstmTrainConfig * config,
    LstmOptimizer optimizer);

/* A mini-batch of B sequences of any lengths, each its own arrays (nothing
 * is copied in by the caller; no padding needed: frames past a sequence's
 * length do not exist, so they cannot contribute). Sequence b:
 *   inputs[b]     [lengths[b], input_size] raw frames (the model's
 *                 normalization, if any, is applied as in lstm_forward)
 *   class_ids[b]  cross-entropy: [lengths[b]] ids in 0 .. O-1 or
 *                 LSTM_IGNORE_INDEX; with last_frame_only: [1], the
 *                 sequence's class. NULL for MSE.
 *   targets[b]    MSE: [lengths[b], O] vectors (O = the model's output
 *                 size); with last_frame_only: [O]. NULL for cross-entropy.
 *   states        NULL: every sequence starts from h = c = 0. Else [B]
 *                 states of the model's sizes: sequence b starts from
 *                 states[b], which is treated as a constant (gradients
 *                 stop at the window start: truncated BPTT), and on
 *                 return holds the state after the sequence's last frame,
 *                 computed with the weights before the update. Feed the
 *                 next window of the same streams with the same states.
 * Every input and target must be finite. The arrays are only read during
 * the call (states written); the caller keeps them. */
typedef struct
{
  guint n_sequences;            /* B: 1 .. the trainer's max_batch */
  const guint *lengths;         /* [B], each 1 .. the trainer's max_frames */
  const float *const *inputs;   /* [B] */
  const gint32 *const *class_ids;       /* [B] or NULL */
  const float *const *targets;  /* [B] or NULL */
  LstmState *const *states;     /* [B] or NULL */
} LstmBatch;

/* Counts to add up over batches: the mean loss over them is
 * loss_sum / n_targets (what PyTorch's 'mean' gives on all of them at
 * once), the accuracy n_correct / n_targets. */
typedef struct
{
  /* cross-entropy: the sum of -log p (class) over the counted targets;
   * MSE: the sum over them of each one's mean squared error */
  double loss_sum;
  /* counted frames (every frame) or sequences (last frame only) */
  guint64 n_targets;
  /* cross-entropy: those whose largest logit (the first on ties) is the
   * class; MSE: 0 */
  guint64 n_correct;
} LstmTrainStats;

/* One caller at a time per trainer (it holds the caches); trainers of
 * different models are independent. */
typedef struct _LstmTrainer LstmTrainer;

/* A trainer of `model` (a new reference is taken and dropped on free)
 * with `config` (copied). Every activation cache, the gradients and the
 * optimizer's state are allocated here, sized for batches of up to
 * `max_batch` sequences of up to `max_frames` frames: I + (8 L + 5) H + 2 O
 * floats (plus 2 (L - 1) H with dropout) for each of the
 * max_batch * max_frames frames, and 2 to 4 times n_params floats
 * (gradients and the optimizer's state): steps allocate nothing (a model
 * with a variant needs more per frame, about 4 G + 3 H per layer and
 * direction plus the variant's own caches). Fails with LSTM_ERROR_INVALID
 * on a hyperparameter out of range, a size of 0 or caches above 2^31
 * floats (naming the values). Every variant trains (exact BPTT); with
 * states, a bidirectional model's windows are each a whole sequence. */
LstmTrainer *lstm_trainer_new (LstmModel * model,
    const LstmTrainConfig * config, guint max_batch, guint max_frames,
    GError ** error);
void lstm_trainer_free (LstmTrainer * trainer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LstmTrainer, lstm_trainer_free);

/* The model being trained: borrowed, its params change with every step. */
LstmModel *lstm_trainer_get_model (LstmTrainer * trainer);
/* The configuration in use (owned by the trainer). */
const LstmTrainConfig *lstm_trainer_get_config (LstmTrainer * trainer);

/* One training step: forward with the activations cached (dropout on),
 * the loss, backward through time, clipping, the optimizer's update.
 * loss_out (may be NULL) receives the batch's mean loss before the
 * update; stats (may be NULL) gets this batch's counts added. A batch that
 * does not fit (sizes, class ids out of range, non-finite values, no
 * counted target at all) fails with LSTM_ERROR_INVALID and changes
 * nothing; a non-finite gradient fails and leaves the weights as they
 * were (see lstm_trainer_apply_gradients). */
gboolean lstm_trainer_step (LstmTrainer * trainer, const LstmBatch * batch,
    float *loss_out, LstmTrainStats * stats, GError ** error);

/* The first half of a step: the loss and its gradient with respect to
 * every parameter (written to the gradient buffer, overwriting it), no
 * update. Uses dropout and advances its random stream as a step does. */
gboolean lstm_trainer_compute_gradients (LstmTrainer * trainer,
    const LstmBatch * batch, float *loss_out, LstmTrainStats * stats,
    GError ** error);

/* The second half: clips the gradient buffer (when clip_norm > 0) and
 * applies one optimizer update to the model. Fails with
 * LSTM_ERROR_INVALID, changing nothing, when the gradient's norm is not
 * finite. */
gboolean lstm_trainer_apply_gradients (LstmTrainer * trainer,
    GError ** error);

/* The loss and accuracy of a batch without training: no dropout, no
 * gradient, no update (states, when given, advance as in a step). */
gboolean lstm_trainer_evaluate (LstmTrainer * trainer,
    const LstmBatch * batch, float *loss_out, LstmTrainStats * stats,
    GError ** error);

/* The gradient buffer: n_params floats (the model's, returned in
 * n_params), laid out as model->params. Owned by the trainer; writable, so
 * a caller may set gradients and call lstm_trainer_apply_gradients. */
float *lstm_trainer_get_gradients (LstmTrainer * trainer, gsize * n_params);

/* The global L2 norm of the gradient before clipping, as of the last
 * lstm_trainer_apply_gradients (0 before any). */
double lstm_trainer_get_gradient_norm (const LstmTrainer * trainer);

/* Optimizer updates made so far (PyTorch's `step` of the state). */
guint64 lstm_trainer_get_step_count (const LstmTrainer * trainer);

/* Changes the learning rate from the next update on (for schedules);
 * the optimizer's state is kept, as when a PyTorch scheduler changes
 * param_group['lr']. Must be finite and >= 0. */
void lstm_trainer_set_learning_rate (LstmTrainer * trainer,
    double learning_rate);

/* Forgets the optimizer's state (moments, momentum, step count), as a new
 * PyTorch optimizer would start. */
void lstm_trainer_reset_optimizer (LstmTrainer * trainer);

/* Restarts the dropout random stream from `seed`. */
void lstm_trainer_reseed (LstmTrainer * trainer, guint64 seed);

/* ---------------------------------------------------- input normalization */

/* Mean and standard deviation per feature measured over training frames,
 * to store in the model (lstm_model_set_normalization) so that inference
 * applies exactly what training saw. The standard deviation is the
 * population one, sqrt (sum (x - mean)^2 / n), i.e. PyTorch's
 * torch.std (x, unbiased=False) and numpy's default. Sums are kept in
 * double (merged per call as Chan et al.'s parallel variance does), so
 * millions of frames lose nothing. */
typedef struct _LstmNormStats LstmNormStats;

LstmNormStats *lstm_norm_stats_new (guint n_features);
void lstm_norm_stats_free (LstmNormStats * stats);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LstmNormStats, lstm_norm_stats_free);

/* Adds `n_frames` frames ([n_frames, n_features]). Frames holding a NaN
 * or an infinity are skipped (as the elements skip them); returns how
 * many frames were added. */
guint lstm_norm_stats_add (LstmNormStats * stats, const float *frames,
    guint n_frames);

/* Frames added so far. */
guint64 lstm_norm_stats_get_count (const LstmNormStats * stats);

/* mean and std, [n_features] each (caller's arrays). A feature that did
 * not vary (std <= 1e-6 |mean|, including std == 0) gets std 1, so it is
 * only centred, as scikit-learn's StandardScaler does. Fails with
 * LSTM_ERROR_INVALID when no frame was added. */
gboolean lstm_norm_stats_get (const LstmNormStats * stats, float *mean,
    float *std, GError ** error);

/* lstm_norm_stats_get, then lstm_model_set_normalization. The model's
 * input size must be n_features. */
gboolean lstm_norm_stats_apply (const LstmNormStats * stats,
    LstmModel * model, GError ** error);

/* --- features --- */

/* Kaldi's log-mel filterbank and MFCC frames (compute-fbank-feats,
 * compute-mfcc-feats), computed as torchaudio.compliance.kaldi.fbank and
 * .mfcc compute them, from a stream of mono samples pushed in pieces of any
 * size: the frames are the same however the samples are split.
 *
 * Samples are in Kaldi's scale, the range of 16-bit integers (a full-scale
 * S16 sample is 32767, not 1.0); lstm_features_push_interleaved converts
 * S16 (as is) and F32 (x * 32768) and downmixes. */

typedef enum
{
  LSTM_FEATURES_FBANK,          /* log-mel filterbank energies */
  LSTM_FEATURES_MFCC,           /* mel-frequency cepstral coefficients */
} LstmFeaturesType;

typedef enum
{
  LSTM_WINDOW_POVEY,            /* Kaldi's: hanning^0.85, zero at both ends */
  LSTM_WINDOW_HAMMING,          /* 0.54 - 0.46 cos (2 pi n / (N - 1)) */
  LSTM_WINDOW_HANNING,          /* 0.5 - 0.5 cos (2 pi n / (N - 1)) */
  LSTM_WINDOW_RECTANGULAR,      /* 1 */
  LSTM_WINDOW_BLACKMAN,         /* c - 0.5 cos (a n) + (0.5 - c) cos (2 a n) */
} LstmWindowType;

/* Kaldi's options, with their Kaldi names and units. The defaults
 * (lstm_features_config_init) are torchaudio.compliance.kaldi's, which are
 * Kaldi's except dither 0 (Kaldi 1), energy_floor 1 (Kaldi 0) and, for MFCC,
 * use_energy FALSE (Kaldi TRUE). The FFT length is always the window
 * length rounded up to a power of two (Kaldi's round_to_power_of_two). */
typedef struct
{
  LstmFeaturesType type;
  guint num_mel_bins;           /* triangular mel bins, >= 3 (23) */
  guint num_ceps;               /* MFCC: cepstra kept, c0 included (13) */
  double frame_length;          /* window length in ms (25) */
  double frame_shift;           /* ms between frame starts (10) */
  double preemphasis_coefficient;       /* x[n] -= k x[n-1], in [0, 1] (0.97) */
  LstmWindowType window_type;   /* (LSTM_WINDOW_POVEY) */
  double blackman_coeff;        /* c of the blackman window (0.42) */
  double dither;                /* std of Gaussian noise added per window (0) */
  gboolean remove_dc_offset;    /* subtract each window's mean (TRUE) */
  gboolean use_energy;          /* fbank: log energy as an extra first
                                 * value; mfcc: log energy replaces c0 (FALSE) */
  gboolean raw_energy;          /* energy before pre-emphasis and window (TRUE) */
  double energy_floor;          /* log energy >= log (energy_floor); 0: none (1) */
  double low_freq;              /* Hz, lower edge of the first mel bin (20) */
  double high_freq;             /* Hz, upper edge of the last; <= 0: offset
                                 * from Nyquist (0, i.e. Nyquist) */
  gboolean snip_edges;          /* TRUE: only windows inside the signal;
                                 * FALSE: reflect at the ends, one frame per
                                 * shift, round (N / shift) frames (TRUE) */
  gboolean use_log_fbank;       /* fbank: log of the energies, else linear (TRUE) */
  double cepstral_lifter;       /* MFCC: c_k *= 1 + L/2 sin (pi k / L);
                                 * 0: none; at most
                                 * LSTM_FEATURES_MAX_LIFTER (22) */
} LstmFeaturesConfig;

/* Windows and shifts longer than this many samples are refused (so the FFT
 * is at most this long), so that a wild rate cannot make us allocate
 * gigabytes. */
#define LSTM_FEATURES_MAX_FFT (1 << 20)

/* The largest cepstral_lifter accepted. The lifter 1 + L/2 sin (pi k / L)
 * tends to 1 + pi k / 2 as L grows (within 2e-6 of it at this L for
 * k < 1024), and computed in single precision, as torchaudio does, it
 * overflows to NaN frames from about 6.8e38 on. */
#define LSTM_FEATURES_MAX_LIFTER 1e6

/* Input sample formats of lstm_features_push_interleaved. */
typedef enum
{
  LSTM_SAMPLE_S16,              /* gint16, used as is (Kaldi's scale) */
  LSTM_SAMPLE_F32,              /* float in [-1, 1], multiplied by 32768 */
} LstmSampleFormat;

/* Fills `cfg` with the defaults listed above (type fbank). */
void lstm_features_config_init (LstmFeaturesConfig * cfg);

/* Checks the options that do not depend on the sample rate (the first
 * checks of lstm_features_new): FALSE, with LSTM_ERROR_INVALID naming the
 * option and its range, when one is out of range, num_ceps >
 * num_mel_bins, or a positive high_freq is not above low_freq. A caller
 * can so refuse a configuration before any audio arrives. */
gboolean lstm_features_config_check (const LstmFeaturesConfig * cfg,
    GError ** error);

const gchar *lstm_window_type_to_string (LstmWindowType type);

/* One stream's feature extractor: the options, the tables (window, mel
 * banks, DCT), the FFT, and the samples that later frames still need.
 * Everything is allocated here; pushing allocates nothing. One caller at a
 * time. */
typedef struct _LstmFeatures LstmFeatures;

/* Validates `cfg` for `sample_rate` (Hz) and builds the extractor. Fails
 * with LSTM_ERROR_INVALID, naming the values, when an option is out of
 * range, the window is shorter than 2 samples or longer than
 * LSTM_FEATURES_MAX_FFT, the mel range does not fit under the Nyquist
 * frequency (rate / 2), a mel bin gets no FFT bin (too many bins for the
 * window and rate, as Kaldi refuses), or num_ceps > num_mel_bins. */
LstmFeatures *lstm_features_new (const LstmFeaturesConfig * cfg,
    guint sample_rate, GError ** error);
void lstm_features_free (LstmFeatures * features);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LstmFeatures, lstm_features_free);

/* Floats per output frame: num_mel_bins (+ 1 with use_energy) for fbank,
 * num_ceps for MFCC. */
guint lstm_features_get_frame_size (const LstmFeatures * features);
/* Window and shift in samples: Kaldi's int (rate * ms * 0.001). */
guint lstm_features_get_window_size (const LstmFeatures * features);
guint lstm_features_get_frame_shift (const LstmFeatures * features);
/* The FFT length: the window size rounded up to a power of two. */
guint lstm_features_get_fft_size (const LstmFeatures * features);
/* Samples from the start of frame i's shift (sample i * shift) to the end
 * of its window: the window size with snip_edges, the window size minus
 * the reflected head (window / 2 - shift / 2) without. Frame i comes out
 * once sample i * shift + lookahead - 1 has been pushed. */
guint lstm_features_get_lookahead (const LstmFeatures * features);
/* Index of the next frame to come out (frames since new or reset). */
guint64 lstm_features_get_frames_done (const LstmFeatures * features);
/* Samples pushed since new or reset (per channel). */
guint64 lstm_features_get_samples_done (const LstmFeatures * features);
/* Non-finite (or unscalable) input values replaced by 0 since new or
 * reset. */
guint64 lstm_features_get_nonfinite (const LstmFeatures * features);

/* How many frames pushing `n_samples` more samples would complete: the
 * size of the `out` that push needs. */
guint64 lstm_features_frames_after (const LstmFeatures * features,
    guint64 n_samples);

/* Appends n_samples mono samples (Kaldi's scale, finite) and writes every
 * frame they complete to `out`, [frames, frame_size] row-major, which must
 * hold lstm_features_frames_after (features, n_samples) frames. Returns
 * the number of frames written. */
guint64 lstm_features_push (LstmFeatures * features, const float *samples,
    gsize n_samples, float *out);

/* The same from interleaved samples, n_samples per channel: `channel` -1
 * averages the `channels` channels, 0 .. channels-1 takes one. F32 is
 * scaled by 32768. A NaN or infinite value, or an F32 value so large
 * (|x| > FLT_MAX / 32768, about 1.04e34) that scaling would make it
 * infinite, counts as 0 and is counted (lstm_features_get_nonfinite). */
guint64 lstm_features_push_interleaved (LstmFeatures * features,
    gconstpointer samples, LstmSampleFormat format, guint channels,
    gint channel, gsize n_samples, float *out);

/* Frames lstm_features_finish would write: with snip_edges, 0 (the last
 * partial window is dropped, as Kaldi does); without, the frames up to
 * round (N / shift) whose windows reach past the end, N being every
 * sample pushed. */
guint64 lstm_features_finish_frames (const LstmFeatures * features);

/* End of stream: writes those frames to `out` (reflecting the signal at
 * its end as Kaldi does) and resets. Returns the frames written. */
guint64 lstm_features_finish (LstmFeatures * features, float *out);

/* Forgets every pushed sample: the next push starts a new signal at frame
 * 0 (and the dither noise restarts from its seed). */
void lstm_features_reset (LstmFeatures * features);

/* --- sliding-window cepstral mean normalisation --- */

/* Kaldi's apply-cmvn-sliding (means only, window to the left) as
 * torchaudio.functional.sliding_window_cmn (center=False,
 * norm_vars=False) computes it, on a stream of frames: frame t minus the
 * mean of frames max (0, t - window) to t, except that the first windows
 * reach min_window frames (100 in Kaldi and torchaudio) into the stream,
 * so the first frames come out once min_window frames have arrived (or at
 * finish, with the mean of what arrived). See lstm-cmn.c for the
 * equations. */
typedef struct _LstmCmn LstmCmn;

#define LSTM_CMN_MIN_WINDOW 100

/* `dim` values per frame; window >= 1. */
LstmCmn *lstm_cmn_new (guint dim, guint window, guint min_window);
void lstm_cmn_free (LstmCmn * cmn);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LstmCmn, lstm_cmn_free);
guint lstm_cmn_get_dim (const LstmCmn * cmn);
/* Frames written since the last reset: the index of the next one. */
guint64 lstm_cmn_get_frames_done (const LstmCmn * cmn);
/* Frames lstm_cmn_push would write for n_frames more frames. */
guint64 lstm_cmn_frames_after (const LstmCmn * cmn, guint64 n_frames);
/* Takes [n_frames, dim] frames, writes the frames now known to `out`
 * (room for lstm_cmn_frames_after (cmn, n_frames) frames, NULL if that
 * is 0; not `frames` itself) and returns how many. */
guint64 lstm_cmn_push (LstmCmn * cmn, const float *frames, guint64 n_frames,
    float *out);
/* Frames lstm_cmn_finish would write: those still waiting. */
guint64 lstm_cmn_finish_frames (const LstmCmn * cmn);
/* End of stream: writes the waiting frames, resets, returns how many. */
guint64 lstm_cmn_finish (LstmCmn * cmn, float *out);
/* Forgets every frame: the next push starts a new stream. */
void lstm_cmn_reset (LstmCmn * cmn);

/* ------------------------------------------------------------ model cache */

/* Loads `path`, or returns the model already loaded from the same file
 * (same path, size and modification time) while anyone holds it, so that
 * many elements share one copy of the weights. Thread-safe. */
LstmModel *lstm_model_load_shared (const gchar * path, GError ** error);
/* The same, with the weights in `precision` (lstm_model_set_weight_precision):
 * one shared model per file and precision. */
LstmModel *lstm_model_load_shared_precision (const gchar * path,
    LstmPrecision precision, GError ** error);

/* -------------------------------------------------------------------- blas */

/* The matrix kernels the forward pass uses, chosen once per process from
 * the CPU: "avx512", "avx2" or "openblas" (LSTM_BLAS_KERNELS caps it). */
const gchar *lstm_blas_get_kernels (void);

/* How many threads OpenBLAS may use in this process (it is one pool). Our
 * own kernels, which the forward pass uses, are single-threaded. */
void lstm_blas_set_threads (guint n_threads);
/* The kernel set OpenBLAS chose, e.g. "Prescott" or "SkylakeX". */
const gchar *lstm_blas_get_core (void);

G_END_DECLS

#endif /* __LSTM_H__ */
