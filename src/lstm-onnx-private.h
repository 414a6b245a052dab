/* Internal to src/: the protobuf wire-format reader and the parsed ONNX
 * model that the converter (lstm-onnx.c) works on. */
#ifndef __LSTM_ONNX_PRIVATE_H__
#define __LSTM_ONNX_PRIVATE_H__

#include "lstm-private.h"

G_BEGIN_DECLS

/* ------------------------------------------------ protobuf wire format */

/* Messages nest Model > Graph > Node > Attribute > Tensor: 5 levels.
 * Anything deeper (subgraphs) is refused before it is read. */
#define LSTM_PB_MAX_DEPTH 8

/* protobuf's own limit for one message: 2 GiB - 1 */
#define LSTM_PB_MAX_SIZE G_MAXINT32

typedef enum
{
  LSTM_PB_VARINT = 0,
  LSTM_PB_FIXED64 = 1,
  LSTM_PB_LEN = 2,
  LSTM_PB_FIXED32 = 5,
} LstmPbWire;

/* A cursor over one message's bytes [p, end); `depth` is 0 for the file. */
typedef struct
{
  const guint8 *p, *end;
  guint depth;
  const gchar *name;            /* the file name, for messages */
  const gchar *what;            /* the message type, for messages */
} LstmPbReader;

/* One field as read off the wire. For LSTM_PB_LEN, `data` and `len` give
 * the payload inside the reader's buffer; else `value` holds the varint or
 * the little-endian fixed32/fixed64 bits. */
typedef struct
{
  guint32 number;
  LstmPbWire wire;
  guint64 value;
  const guint8 *data;
  gsize len;
} LstmPbField;

G_GNUC_INTERNAL void lstm_pb_reader_init (LstmPbReader * r,
    const guint8 * data, gsize size, const gchar * name, const gchar * what);

/* Reads the next field. Returns 1 with `field` filled, 0 at the end of the
 * message, -1 with `error` set (LSTM_ERROR_FORMAT) when the bytes are not
 * protobuf: truncated varints or payloads, wire types 3/4/6/7, field 0. */
G_GNUC_INTERNAL gint lstm_pb_next (LstmPbReader * r, LstmPbField * field,
    GError ** error);

/* A reader over a LEN field's payload, one level deeper; fails past
 * LSTM_PB_MAX_DEPTH. */
G_GNUC_INTERNAL gboolean lstm_pb_sub (const LstmPbReader * r,
    const LstmPbField * field, const gchar * what, LstmPbReader * sub,
    GError ** error);

/* Repeated scalars, either one value per field or packed in a LEN field:
 * appends to `out` (gint64 for varints, float for fixed32, double for
 * fixed64). Refuses a wire type that does not match. */
G_GNUC_INTERNAL gboolean lstm_pb_append_varints (const LstmPbReader * r,
    const LstmPbField * field, GArray * out, GError ** error);
G_GNUC_INTERNAL gboolean lstm_pb_append_fixed32 (const LstmPbReader * r,
    const LstmPbField * field, GArray * out, GError ** error);
G_GNUC_INTERNAL gboolean lstm_pb_append_fixed64 (const LstmPbReader * r,
    const LstmPbField * field, GArray * out, GError ** error);

/* A LEN field as a NUL-terminated string (g_free it); refuses embedded
 * NULs and invalid UTF-8. */
G_GNUC_INTERNAL gchar *lstm_pb_string (const LstmPbReader * r,
    const LstmPbField * field, GError ** error);

/* Checks the wire type of a field we interpret. */
G_GNUC_INTERNAL gboolean lstm_pb_expect (const LstmPbReader * r,
    const LstmPbField * field, LstmPbWire wire, GError ** error);

/* ------------------------------------------------------- ONNX messages */

/* TensorProto.DataType values we read */
#define LSTM_ONNX_FLOAT   1
#define LSTM_ONNX_INT64   7
#define LSTM_ONNX_FLOAT16 10
#define LSTM_ONNX_DOUBLE  11

/* AttributeProto.AttributeType values */
#define LSTM_ONNX_ATTR_FLOAT   1
#define LSTM_ONNX_ATTR_INT     2
#define LSTM_ONNX_ATTR_STRING  3
#define LSTM_ONNX_ATTR_TENSOR  4
#define LSTM_ONNX_ATTR_FLOATS  6
#define LSTM_ONNX_ATTR_INTS    7
#define LSTM_ONNX_ATTR_STRINGS 8

typedef struct
{
  gchar *name;
  gint32 data_type;
  guint n_dims;
  gint64 dims[LSTM_TENSOR_MAX_DIMS];
  guint64 n_elements;
  const guint8 *raw;            /* raw_data, inside the file's bytes */
  gsize raw_len;
  gboolean has_raw;
  GArray *floats;               /* float_data (float) */
  GArray *doubles;              /* double_data (double) */
  GArray *int32s;               /* int32_data (gint64): FLOAT16 bits */
  GArray *int64s;               /* int64_data (gint64) */
  gboolean external;            /* data_location EXTERNAL: refused */
} LstmOnnxTensor;

typedef struct
{
  gchar *name;
  gint type;                    /* LSTM_ONNX_ATTR_*, 0 when not given */
  float f;
  gint64 i;
  gchar *s;
  GArray *floats;               /* float */
  GArray *ints;                 /* gint64 */
  GPtrArray *strings;           /* gchar* */
  LstmOnnxTensor *t;
  gboolean has_graph;           /* a subgraph: never supported */
} LstmOnnxAttr;

typedef struct
{
  gchar *name;                  /* "" when the file gives none */
  gchar *op_type;
  gchar *domain;
  GPtrArray *inputs;            /* gchar*, "" for an absent optional input */
  GPtrArray *outputs;           /* gchar* */
  GPtrArray *attrs;             /* LstmOnnxAttr* */
} LstmOnnxNode;

typedef struct
{
  const gchar *file;            /* for messages */
  gint64 opset;                 /* default domain's version, 0 if absent */
  gchar *producer;              /* "name version" or NULL */
  GPtrArray *nodes;             /* LstmOnnxNode*, in file order */
  GPtrArray *initializers;      /* LstmOnnxTensor* */
  GPtrArray *inputs;            /* graph input names, gchar* */
  GPtrArray *outputs;           /* graph output names, gchar* */
  GHashTable *init_by_name;     /* name -> LstmOnnxTensor* */
  GHashTable *producer_of;      /* value name -> LstmOnnxNode* */
} LstmOnnxModel;

/* Parses a ModelProto. `data` must outlive the result (raw_data points
 * into it). Errors: LSTM_ERROR_FORMAT for bytes that are not a model,
 * LSTM_ERROR_UNSUPPORTED for subgraphs or external data. */
G_GNUC_INTERNAL LstmOnnxModel *lstm_onnx_model_parse (const guint8 * data,
    gsize size, const gchar * file, GError ** error);
G_GNUC_INTERNAL void lstm_onnx_model_free (LstmOnnxModel * m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LstmOnnxModel, lstm_onnx_model_free);

G_GNUC_INTERNAL const LstmOnnxAttr *lstm_onnx_node_attr (const LstmOnnxNode
    * node, const gchar * name);

/* The node's input k, or NULL when absent or "". */
G_GNUC_INTERNAL const gchar *lstm_onnx_node_input (const LstmOnnxNode * node,
    guint k);

/* Converts a FLOAT/FLOAT16/DOUBLE tensor to n_elements floats, refusing
 * other types, a payload of the wrong size and non-finite values, naming
 * the tensor. `what` says what the tensor is for, in messages. */
G_GNUC_INTERNAL float *lstm_onnx_tensor_floats (const LstmOnnxModel * m,
    const LstmOnnxTensor * t, const gchar * what, GError ** error);

/* ------------------------------------------- the network found in a graph */

/* One LSTM or GRU node; tensors in ONNX's layouts and gate orders,
 * converted to float: W [dirs, G*H, I], R [dirs, G*H, H], B [dirs, 2*G*H]
 * or NULL, P [dirs, 3H] or NULL (G = 4 for LSTM, 3 for GRU). */
typedef struct
{
  const LstmOnnxNode *node;
  guint input_size;             /* I */
  float *W, *R, *B, *P;
} LstmOnnxLayer;

typedef struct
{
  gboolean gru;
  guint dirs;                   /* 1, or 2 for bidirectional */
  guint hidden_size;            /* H, every layer */
  gboolean input_forget;        /* LSTM input_forget = 1 */
  float clip;                   /* > 0, or 0 for no clip */
  GPtrArray *layers;            /* LstmOnnxLayer*, bottom first */
  guint head_size;              /* O, 0 without a head */
  guint head_input_size;        /* the head's input size: must be dirs*H */
  float *head_weight;           /* [O, dirs*H], ours (nn.Linear) layout */
  float *head_bias;             /* [O] */
  LstmOutput output;
  const gchar *producer;        /* the ModelProto's, or NULL */
} LstmOnnxNet;

G_GNUC_INTERNAL void lstm_onnx_net_clear (LstmOnnxNet * net);

/* Sets `error` to "<file>: node '<name>' (<op>): <message>"; FALSE. */
G_GNUC_INTERNAL gboolean lstm_onnx_refuse (const LstmOnnxModel * m,
    const LstmOnnxNode * n, LstmError code, GError ** error,
    const gchar * format, ...) G_GNUC_PRINTF (5, 6);

/* The constant a value name stands for: an initializer or a Constant
 * node's `value`; NULL otherwise. */
G_GNUC_INTERNAL const LstmOnnxTensor *lstm_onnx_constant (const LstmOnnxModel
    * m, const gchar * value);

/* Input k of node n, a constant of the given rank, as floats; its dims are
 * copied to `dims`. `what` names the input in messages ("W"). */
G_GNUC_INTERNAL float *lstm_onnx_input_floats (const LstmOnnxModel * m,
    const LstmOnnxNode * n, guint k, const gchar * what, guint rank,
    gint64 * dims, GError ** error);

/* The walk's steps (lstm-onnx-head.c, lstm-onnx-rnn.c). take_head reads an Add's bias, or
 * a MatMul/Gemm weight (and bias), and sets `next` to the value the path
 * continues with. take_layer checks an LSTM/GRU node's attributes and
 * inputs and appends it to net->layers (top layer first). check_net checks
 * that the layers chain and the head fits, once the walk is done. */
G_GNUC_INTERNAL gboolean lstm_onnx_take_head (const LstmOnnxModel * m,
    LstmOnnxNet * net, const LstmOnnxNode * n, const gchar ** next,
    GError ** error);
G_GNUC_INTERNAL gboolean lstm_onnx_take_layer (const LstmOnnxModel * m,
    LstmOnnxNet * net, const LstmOnnxNode * n, GError ** error);
G_GNUC_INTERNAL gboolean lstm_onnx_check_net (const LstmOnnxModel * m,
    const LstmOnnxNet * net, GError ** error);

/* Our model file's bytes for `net`: names, gate orders and metadata as in
 * README "Importing ONNX models". */
G_GNUC_INTERNAL GBytes *lstm_onnx_net_write (const LstmOnnxNet * net);

G_END_DECLS

#endif /* __LSTM_ONNX_PRIVATE_H__ */
