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

  float *h;                     /* [num_layers, H]: h of every layer */
  float *c;                     /* [num_layers, H]: c of every layer */

  /* Scratch for one chunk, sized at creation so forward never allocates. */
  float *x_norm;                /* [max_frames, input_size] normalized input */
  float *gates;                 /* [max_frames, 4H] pre-activations */
  float *y[2];                  /* [max_frames, H] outputs of alternate layers */
  float *head;                  /* [max_frames, head_size] */
};

/* C[M,N] += A[M,K] * B[N,K]^T, all row-major with the given leading dims. */
G_GNUC_INTERNAL void lstm_blas_gemm_nt (guint M, guint N, guint K,
    const float *A, gsize lda, const float *B, gsize ldb, float *C, gsize ldc);

/* y[M] += A[M,N] * x[N], A row-major with leading dim lda. */
G_GNUC_INTERNAL void lstm_blas_gemv (guint M, guint N, const float *A,
    gsize lda, const float *x, float *y);

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

G_END_DECLS

#endif /* __LSTM_PRIVATE_H__ */
