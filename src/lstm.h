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

/* One nn.LSTM layer. Gate rows in PyTorch's order i, f, g, o, each block
 * hidden_size rows long. The pointers point into LstmModel.params. */
typedef struct
{
  guint input_size;             /* in_k: the model's input size for k = 0, else H */
  guint hidden_size;            /* H */
  float *weight_ih;             /* [4H, in_k] row-major */
  float *weight_hh;             /* [4H, H] row-major */
  float *bias_ih;               /* [4H] */
  float *bias_hh;               /* [4H] */
} LstmLayer;

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
} LstmModel;

/* A model with every weight zero. head_size 0 means no head (the output is
 * the top layer's h). Fails with LSTM_ERROR_INVALID when a size is 0 or
 * above the LSTM_MAX_* limits. */
LstmModel *lstm_model_new (guint input_size, guint hidden_size,
    guint num_layers, guint head_size, LstmOutput output, GError ** error);

LstmModel *lstm_model_ref (LstmModel * model);
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

/* NULL-terminated, exactly head_size non-empty UTF-8 strings, or NULL. */
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

/* Deep copy with refcount 1 (for fine-tuning a shared model). */
LstmModel *lstm_model_copy (const LstmModel * model);

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

/* Writes F32 tensors `lstm.weight_ih_l{k}` …, `head.weight`, `head.bias`,
 * `input_mean`, `input_std`, and __metadata__ (the model's metadata plus
 * `output`, `labels`). Atomic: a temporary file is written, synced and
 * renamed, so `path` is either the old file or the whole new one. */
gboolean lstm_model_save (const LstmModel * model, const gchar * path,
    GError ** error);
GBytes *lstm_model_save_to_bytes (const LstmModel * model);

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

/* h or c of one layer: hidden_size floats, owned by the state. */
const float *lstm_state_get_h (const LstmState * state, guint layer);
const float *lstm_state_get_c (const LstmState * state, guint layer);

/* Bytes: "LSTMSTAT", u32 version 1, u32 num_layers, u32 hidden_size,
 * u32 reserved 0, then h of every layer, then c of every layer, as
 * little-endian F32. Deserialize refuses bytes of other sizes or non-finite
 * values and leaves the state untouched on failure. */
GBytes *lstm_state_serialize (const LstmState * state);
gboolean lstm_state_deserialize (LstmState * state, GBytes * bytes,
    GError ** error);

/* ---------------------------------------------------------------- forward */

/* Runs `n_frames` frames through the model, carrying `state` in and out.
 * input:  [n_frames, model->input_size] row-major.
 * output: [n_frames, lstm_model_get_output_size (model)], or NULL to only
 *         advance the state.
 * Feeding a sequence in pieces gives the same result as feeding it whole.
 * Allocates nothing. The caller keeps inputs finite (see the elements'
 * non-finite policy); the state fits the model (lstm_state_fits). */
void lstm_forward (const LstmModel * model, LstmState * state,
    const float *input, guint n_frames, float *output);

/* ----------------------------------------------------------------- frames */

/* S16 samples to floats in [-1, 1): x / 32768. */
void lstm_frames_from_s16 (const gint16 * in, gsize n, float *out);

/* TRUE when all `frame_size` floats of the frame are finite. */
gboolean lstm_frame_is_finite (const float *frame, guint frame_size);

/* acc[i] += x[i] for n values (running sums of predictions). */
void lstm_vector_add (float *acc, const float *x, guint n);

/* x[i] *= factor for n values. */
void lstm_vector_scale (float *x, float factor, guint n);

/* Index of the largest of n values (the first on ties); n >= 1. */
guint lstm_argmax (const float *values, guint n);

/* ----------------------------------------------------------- label tracks */

/* The label a subtitle cue carries: with `markup` (subparse's
 * pango-markup) tags are dropped and entities decoded; blanks are trimmed
 * and folded. Returns a new UTF-8 string ("" for a cue with no text). */
gchar *lstm_label_from_cue (const gchar * text, gsize len, gboolean markup);

/* ------------------------------------------------------------ model cache */

/* Loads `path`, or returns the model already loaded from the same file
 * (same path, size and modification time) while anyone holds it, so that
 * many elements share one copy of the weights. Thread-safe. */
LstmModel *lstm_model_load_shared (const gchar * path, GError ** error);

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
