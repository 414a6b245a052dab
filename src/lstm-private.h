/* Internal to src/: the state's layout and the matrix kernels. */
#ifndef __LSTM_PRIVATE_H__
#define __LSTM_PRIVATE_H__

#include "lstm.h"

G_BEGIN_DECLS

struct _LstmState
{
  guint input_size;             /* sizes of the models this state fits */
  guint hidden_size;
  guint num_layers;
  guint head_size;
  guint max_frames;             /* frames per internal chunk of forward */

  /* The variant (lstm-state.c keeps these equal to the model's). */
  LstmCell cell;
  guint num_directions;         /* D */
  guint h_size;                 /* width of h: P or H */
  guint c_size;                 /* width of c: H, or 0 for the GRU */
  guint layer_out;              /* D * h_size */

  float *h;                     /* [num_layers * D, h_size]: h of every layer */
  float *c;                     /* [num_layers * D, c_size]: c of every layer */

  /* Scratch for one chunk, sized at creation so forward never allocates
   * (a bidirectional model grows it to the longest sequence seen). */
  guint capacity;               /* frames the buffers below hold */
  guint slices;                 /* layers with their own gates and y (below) */
  float *x_norm;                /* [capacity, input_size] normalized input */
  float *gates;                 /* [slices, capacity, 4H] pre-activations */
  float *y;                     /* [MAX (slices, 2), capacity, layer_out] */
  float *step;                  /* [8H]: one step's scratch (variants) */
};

/* A plain LSTM runs its layers in a wavefront (lstm-forward.c), each
 * layer with its own slice of the scratch: slices = num_layers. Other
 * models run a layer at a time: slices 1, and y alternates between
 * lstm_state_y (s, 0) and (s, 1). */
static inline float *
lstm_state_gates (const LstmState * s, guint k)
{
  return s->gates + (gsize) k * s->capacity * 4 * s->hidden_size;
}

static inline float *
lstm_state_y (const LstmState * s, guint k)
{
  return s->y + (gsize) k * s->capacity * s->layer_out;
}

/* lstm-variant.c: the forward pass of a model that is not a plain LSTM
 * (lstm_forward dispatches here). Same contract as lstm_forward. */
G_GNUC_INTERNAL void lstm_variant_forward (const LstmModel * model,
    LstmState * state, const float *input, guint n_frames, float *output);

/* lstm-forward.c, shared with lstm-variant.c and lstm-streams.c:
 * x' = (x - mean) / std of T frames (in place is fine); the first layer's
 * input: `input`, or its normalization in the state's scratch. */
G_GNUC_INTERNAL void lstm_forward_normalize (const LstmModel * m,
    const float *in, guint T, float *out);
G_GNUC_INTERNAL const float *lstm_forward_input (const LstmModel * m,
    LstmState * s, const float *input, guint T);
/* lstm-pack.c: weights packed for the outer-product kernels, and the
 * product C[M, N] += A[M, K] W^T with them (every output summed over k in
 * order with fused multiply-adds, whatever M and the kernel width). */
typedef struct _LstmPacked LstmPacked;
G_GNUC_INTERNAL LstmPacked *lstm_packed_new (const float *w, guint n,
    guint k, LstmPrecision precision);
G_GNUC_INTERNAL void lstm_packed_free (LstmPacked * p);
G_GNUC_INTERNAL void lstm_blas_gemm_packed (guint M, const float *A,
    gsize lda, const LstmPacked * p, float *C, gsize ldc);
/* C[M, N] = bias + A[M, K] W^T, bias a row of N: the same bits as C set
 * to the bias row and lstm_blas_gemm_packed, without writing C twice. */
G_GNUC_INTERNAL void lstm_blas_gemm_packed_bias (guint M, const float *A,
    gsize lda, const LstmPacked * p, const float *bias, float *C, gsize ldc);
/* c0 += a0 W0^T and c1 += a1 W1^T, one row each: the same sums as two
 * lstm_blas_gemm_packed calls, the two weight streams read together. */
G_GNUC_INTERNAL void lstm_blas_gemv_packed_pair (const float *a0,
    const LstmPacked * p0, float *c0, const float *a1, const LstmPacked * p1,
    float *c1);

/* A plain model's W_ih, W_hh per layer and its head's weight, packed (a
 * variant's head only: n_layers 0). */
typedef struct
{
  guint n_layers;
  LstmPacked **ih, **hh;
  float **bias;                 /* per layer: b_ih + b_hh [4H] */
  LstmPacked *head;             /* NULL without a head */
} LstmModelPacks;
G_GNUC_INTERNAL const LstmModelPacks *lstm_model_get_packs (const LstmModel *
    m);
G_GNUC_INTERNAL void lstm_model_packs_free (LstmModelPacks * p);

/* The output of T frames from the top layer's y: the head's, or y itself;
 * nothing when output is NULL. */
G_GNUC_INTERNAL void lstm_forward_output (const LstmModel * m,
    const LstmModelPacks * packs, const float *y, guint T, float *output);

/* lstm-state.c: makes the scratch hold n_frames frames (bidirectional). */
G_GNUC_INTERNAL void lstm_state_reserve (LstmState * state, guint n_frames);

/* C[M,N] += A[M,K] * B[N,K]^T, all row-major with the given leading dims. */
G_GNUC_INTERNAL void lstm_blas_gemm_nt (guint M, guint N, guint K,
    const float *A, gsize lda, const float *B, gsize ldb, float *C, gsize ldc);

/* y[M] += A[M,N] * x[N], A row-major with leading dim lda. */
G_GNUC_INTERNAL void lstm_blas_gemv (guint M, guint N, const float *A,
    gsize lda, const float *x, float *y);

/* Gate non-linearities (lstm-act.c), vectorised; every kernel width gives
 * the same bits. lstm_act_cell: one LSTM cell update for one frame, gates =
 * the 4H pre-activations (i, f, g, o), c updated in place, h = o tanh (c). */
G_GNUC_INTERNAL void lstm_act_cell (const float *gates, float *c, float *h,
    guint H);
/* In place, n values. */
G_GNUC_INTERNAL void lstm_act_sigmoid (float *x, guint n);
G_GNUC_INTERNAL void lstm_act_tanh (float *x, guint n);

/* ------------------------------------------------------- safetensors */

typedef enum
{
  LSTM_DTYPE_F32,
  LSTM_DTYPE_F16,
  LSTM_DTYPE_BF16,
  LSTM_DTYPE_F64,
  LSTM_DTYPE_OTHER,             /* a valid safetensors dtype we do not compute with */
} LstmDtype;

#define LSTM_TENSOR_MAX_DIMS 8

/* One tensor of a parsed file; `data` points into the caller's buffer and
 * has been checked to lie inside it. */
typedef struct
{
  gchar *name;
  gchar *dtype_name;            /* as written in the header, e.g. "F16" */
  LstmDtype dtype;
  guint n_dims;
  guint64 shape[LSTM_TENSOR_MAX_DIMS];
  guint64 n_elements;
  const guint8 *data;
  gsize size;                   /* bytes */
} LstmTensor;

typedef struct
{
  gchar *name;                  /* the file name, for messages */
  GPtrArray *tensors;           /* LstmTensor*, in header order */
  GHashTable *by_name;          /* name -> LstmTensor* */
  GHashTable *metadata;         /* gchar* -> gchar*; empty when absent */
} LstmTensorFile;

/* Parses and validates the container: header length, JSON, dtypes, shapes,
 * byte sizes, offsets inside the data section and not overlapping. `data`
 * must outlive the result. `name` names the file in messages. */
G_GNUC_INTERNAL LstmTensorFile *lstm_safetensors_parse (const guint8 * data,
    gsize size, const gchar * name, GError ** error);
G_GNUC_INTERNAL void lstm_tensor_file_free (LstmTensorFile * file);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LstmTensorFile, lstm_tensor_file_free);

/* The shape as "[2, 3]", for messages; g_free it. */
G_GNUC_INTERNAL gchar *lstm_tensor_shape_string (const LstmTensor * t);

/* Converts a float tensor (F32, F16, BF16, F64) to n_elements floats and
 * refuses non-finite values, naming the tensor and the element. */
G_GNUC_INTERNAL gboolean lstm_tensor_to_f32 (const LstmTensorFile * file,
    const LstmTensor * t, float *dst, GError ** error);

/* IEEE 754 binary16 bits -> float, subnormals and specials included. */
G_GNUC_INTERNAL float lstm_half_to_float (guint16 h);
/* float -> binary16 bits, rounded to nearest even (F16C's rounding);
 * beyond the half range: infinity. */
G_GNUC_INTERNAL guint16 lstm_float_to_half (float f);
/* int8 weights (lstm-precision.c), per output row w [k]: the scale s =
 * max_k |w_k| / 127 and q = round (w / s) in [-127, 127] (0 when s = 0). */
G_GNUC_INTERNAL float lstm_int8_scale (const float *w, guint k);
G_GNUC_INTERNAL gint8 lstm_int8_quantize (float w, float s);

/* TRUE when `path` ends in ".onnx" (any case): lstm_model_load converts it. */
G_GNUC_INTERNAL gboolean lstm_onnx_is_onnx_name (const gchar * path);

/* Refuses JSON that json-glib must not see: nesting deeper than it can
 * recurse, constructs JSON does not have, trailing data. Returns NULL when
 * `json` may be parsed, else why not, with the byte offset in `at`. */
G_GNUC_INTERNAL const gchar *lstm_json_prescan (const gchar * json,
    gsize len, gsize * at);

/* Writes a safetensors file of F32 tensors in the order given. */
typedef struct
{
  const gchar *name;
  guint n_dims;
  guint64 shape[LSTM_TENSOR_MAX_DIMS];
  const float *data;
} LstmTensorOut;

G_GNUC_INTERNAL GBytes *lstm_safetensors_write (const LstmTensorOut * tensors,
    guint n_tensors, GHashTable * metadata);

/* ------------------------------------------------ model-file variants */

/* The tensors of one direction of one layer, in file-name order. */
enum
{
  LSTM_T_WEIGHT_IH, LSTM_T_WEIGHT_HH, LSTM_T_BIAS_IH, LSTM_T_BIAS_HH,
  LSTM_T_WEIGHT_HR, LSTM_T_PEEPHOLE,
  LSTM_T_LN_IH_WEIGHT, LSTM_T_LN_IH_BIAS, LSTM_T_LN_HH_WEIGHT,
  LSTM_T_LN_HH_BIAS, LSTM_T_LN_C_WEIGHT, LSTM_T_LN_C_BIAS,
  LSTM_N_LAYER_TENSORS
};

/* "weight_ih", ..., "layer_norm_c_bias": the names before "_l{k}". */
G_GNUC_INTERNAL extern const gchar *const
    lstm_layer_tensor_names[LSTM_N_LAYER_TENSORS];

/* The layer's tensor of that kind (NULL when the model has none). */
G_GNUC_INTERNAL float *lstm_layer_tensor (const LstmLayer * l, guint kind);

/* The shape the tensor of `kind` of layer k has in a model of config c:
 * returns the number of dimensions (1 or 2) and fills shape. */
G_GNUC_INTERNAL guint lstm_layer_tensor_shape (const LstmModelConfig * c,
    guint k, guint kind, guint64 shape[2]);

/* lstm-io-variant.c: the variant's metadata keys (`cell`,
 * `coupled-gates`, `cell-clip`, `bidirectional`) into c (cell only when
 * the key is there: *cell_given); `file` names the file in messages. */
G_GNUC_INTERNAL gboolean lstm_io_read_variant_metadata (GHashTable *
    metadata, const gchar * file, LstmModelConfig * c, gboolean * cell_given,
    gboolean * bidirectional, GError ** error);
/* Replaces those keys in meta with the model's variant. */
G_GNUC_INTERNAL void lstm_io_write_variant_metadata (const LstmModel * m,
    GHashTable * meta);

/* lstm-model.c: floats that fit in this machine's physical memory, to
 * refuse with an error sizes that allocating would abort on. */
G_GNUC_INTERNAL gsize lstm_memory_floats (void);

/* lstm-file.c: writes path whole or not at all (an unnamed file, fsync,
 * rename over path), leaving no temporary file if the process dies. */
G_GNUC_INTERNAL gboolean lstm_file_replace (const gchar * path,
    const void *data, gsize size, GError ** error);
/* Whether lstm_file_replace could write path now: the folder takes a new
 * file (one is made and dropped) and path is nothing yet, a regular file
 * or a symbolic link to one. */
G_GNUC_INTERNAL gboolean lstm_file_check_replaceable (const gchar * path,
    GError ** error);

G_END_DECLS

#endif /* __LSTM_PRIVATE_H__ */
