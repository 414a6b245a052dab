/* Internal to src/: the trainer's layout, shared by lstm-train.c (the
 * API and batch packing), lstm-bptt.c (forward with caches, backward
 * through time), lstm-loss.c and lstm-optim.c.
 *
 * Packed rows. A batch is stored the way torch.nn.utils.rnn.PackedSequence
 * stores one: the sequences sorted by length, longest first (ties in batch
 * order), then for each time step t the rows of the B_t sequences still
 * running at t, in that sorted order. Row off[t] + j is frame t of sorted
 * sequence j; off[t + 1] = off[t] + B_t; B_0 = B >= B_1 >= ... So every
 * per-step product works on B_t contiguous rows, the products over all
 * frames (input projection, weight gradients) on all N = sum of lengths
 * rows at once, and frames past a sequence's end are never computed.
 * Row off[t] + j at step t - 1 is row off[t - 1] + j: the same sequence.
 */
#ifndef __LSTM_TRAIN_PRIVATE_H__
#define __LSTM_TRAIN_PRIVATE_H__

#include "lstm-private.h"

G_BEGIN_DECLS

/* Caches of one layer over the packed rows of a batch (N rows). Row r of
 * zin is the whole input of the layer's gate product at that row, x_r
 * followed by h_{t-1}: the forward pass makes one product per step with
 * [W_ih W_hh], backward one for dL/dx and dL/dh_{t-1} together, and the
 * weight gradients are one product over all rows. */
typedef struct
{
  float *gates;                 /* [N, 4H] i, f, g, o (after sigmoid, tanh) */
  float *c;                     /* [N, H] c_t */
  float *tc;                    /* [N, H] tanh (c_t) */
  float *y;                     /* [N, H] h_t, the layer's output, rows ldy
                                 * apart: below the top layer, without
                                 * dropout, the next layer's x in its zin */
  gsize ldy;
  float *y_buf;                 /* y's own buffer when it has one */
  float *zin;                   /* [N, in + H] x_r, h_{t-1} (h0 at t = 0) */
  float *h0;                    /* [max_batch, H] initial h, sorted order */
  float *c0;                    /* [max_batch, H] initial c, sorted order */
  float *mask;                  /* [N, H] dropout scales 0, 1/(1-p); or NULL */
  float *w;                     /* [4H, in + H] [W_ih W_hh], this step's */
  float *wp_f;                  /* W^T [in + H, 4H] packed (forward) */
  float *wp_b;                  /* W [4H, in + H] packed (backward; layer 0:
                                 * only W_hh) */
} TrainLayer;

struct _LstmTrainer
{
  LstmModel *model;             /* owned reference; params updated in place */
  LstmTrainConfig config;
  guint max_batch;
  guint max_frames;
  gsize max_rows;               /* max_batch * max_frames */

  /* The batch being computed (lstm-train.c fills these). */
  guint n_seq;                  /* B */
  guint n_steps;                /* T: the longest length */
  gsize n_rows;                 /* N: the sum of lengths */
  guint *order;                 /* [max_batch] sorted position -> batch index */
  guint *sorted_len;            /* [max_batch] lengths in sorted order */
  guint *step_rows;             /* [max_frames] B_t */
  gsize *step_off;              /* [max_frames + 1] off[t] */
  guint *row_seq;               /* [max_rows] batch index of each row */
  guint *row_frame;             /* [max_rows] frame index of each row */
  gboolean training;            /* dropout on, caches for backward */

  float *x0;                    /* [max_rows, I] normalized input, packed */
  TrainLayer *layers;           /* [num_layers] */

  /* Loss rows: every row, or each sequence's last frame (last_frame_only). */
  gsize n_loss_rows;            /* R */
  gsize *loss_row;              /* [max_batch] packed row of each last frame */
  float *y_last;                /* [max_batch, H] top h of the last frames */
  float *z;                     /* [max_rows, O'] logits (O' = O, or H) */
  float *dz;                    /* [max_rows, O'] dLoss/dz */
  float *p_row;                 /* [O'] one row of the model's output (MSE) */

  /* Backward scratch. */
  float *dy;                    /* [max_rows, H] dLoss/dy, this layer's */
  float *da;                    /* [max_batch, 4H] a step's dLoss/d
                                 * pre-activations; in forward, its
                                 * pre-activations */
  float *da_block;              /* dA of a block of rows (steps), as
                                 * lstm_train_pack_block stores it for the
                                 * weight gradients */
  float *dh;                    /* [max_batch, H] dLoss/dh of the head's rows */
  float *dzin;                  /* [max_batch, in + H] dLoss/d zin of a step:
                                 * dL/dx, then the recurrent dL/dh_{t-1} */
  float *dw;                    /* [in + H, 4H] a layer's [dW_ih dW_hh]^T */
  float *dc;                    /* [max_batch, H] recurrent dLoss/dc_{t-1} */
  float *head_w_t;              /* [H, O] the head's weight transposed */
  float *bias_sum;              /* [4H] b_ih + b_hh of the layer being run */

  /* Flat buffers of n_params floats, laid out as model->params. */
  float *grad;
  float *opt_a;                 /* SGD/RMSprop momentum; Adam m */
  float *opt_b;                 /* Adam v; RMSprop square average */
  float *opt_c;                 /* RMSprop centered: gradient average */
  gboolean opt_started;         /* SGD: the momentum buffer holds a value */
  guint64 step_count;
  double grad_norm;

  guint64 rng;                  /* dropout's stream (splitmix64) */

  /* A model with a variant trains through lstm-variant-bptt.c, which keeps
   * its own caches here (NULL for a plain LSTM; `layers` is then unused). */
  struct _LstmVarTrainer *var;
};

/* The gradient block of a parameter tensor: same offset as in params. */
static inline float *
lstm_train_grad_of (LstmTrainer * t, const float *param)
{
  return t->grad + (param - t->model->params);
}

/* splitmix64 (Steele, Lea and Flood, 2014): a 64-bit counter through a
 * mixing function; passes BigCrush, and one add per draw keeps the stream
 * a pure function of the seed and the number of draws. */
static inline guint64
lstm_train_next_random (guint64 * s)
{
  guint64 z = (*s += G_GUINT64_CONSTANT (0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94D049BB133111EB);
  return z ^ (z >> 31);
}

/* lstm-bptt.c: the stacked layers over the packed batch in x0 (and the
 * states in h0/c0), then the head on the loss rows into z. */
G_GNUC_INTERNAL void lstm_bptt_forward (LstmTrainer * t);
/* dz -> grad (zeroed first): head, then every layer back through time. */
G_GNUC_INTERNAL void lstm_bptt_backward (LstmTrainer * t);

/* lstm-loss.c: the loss of the R loss rows of z, its gradient into dz
 * ('mean' reduction), and the counts. Returns the batch's mean loss. The
 * batch was validated (ids in range, something counted). */
G_GNUC_INTERNAL float lstm_loss_compute (LstmTrainer * t,
    const LstmBatch * batch, gboolean want_grad, LstmTrainStats * stats);

/* lstm-optim.c */
G_GNUC_INTERNAL gboolean lstm_optim_check_config (const LstmTrainConfig * c,
    GError ** error);
G_GNUC_INTERNAL gboolean lstm_optim_apply (LstmTrainer * t, GError ** error);

/* lstm-train-blas.c (all row-major): C[M,N] += op (A) B with B [K,N];
 * op (A) = A [M,K], or with trans_a A^T, A being [K,M]. */
G_GNUC_INTERNAL void lstm_train_gemm (gboolean trans_a, guint M, guint N,
    gsize K, const float *A, gsize lda, const float *B, gsize ldb, float *C,
    gsize ldc);
/* C[M,N] += A^T B as lstm_train_gemm (TRUE, ...) does (or without
 * accumulate C = A^T B, C not read), for B [kc,N] a block of rows of a
 * product with K much larger than M and N, stored first by
 * lstm_train_pack_block in Bp (lstm_train_block_size (kc, N) floats,
 * 64-byte aligned): rows k0 .. k0 + n - 1 of the block from B (ldb
 * apart), in any order, every row once; each also added into sums [N]
 * unless it is NULL. A block of lstm_train_block_rows () rows keeps a
 * panel in L1. */
G_GNUC_INTERNAL guint lstm_train_block_rows (void);
G_GNUC_INTERNAL gsize lstm_train_block_size (gsize kc, guint N);
G_GNUC_INTERNAL void lstm_train_pack_block (gsize kc, guint N, gsize k0,
    guint n, const float *B, gsize ldb, float *Bp, float *sums);
G_GNUC_INTERNAL void lstm_train_gemm_tn_block (guint M, guint N, gsize kc,
    const float *A, gsize lda, const float *Bp, gboolean accumulate,
    float *C, gsize ldc);
/* B [K,N] copied as panels of 32 columns (zero padded), into Bp of
 * lstm_train_packed_size (K, N) floats, 64-byte aligned; with trans, B is
 * given as its transpose B^T [N,K] (ldb apart). */
G_GNUC_INTERNAL gsize lstm_train_packed_size (gsize K, guint N);
G_GNUC_INTERNAL void lstm_train_pack (gsize K, guint N, const float *B,
    gsize ldb, gboolean trans, float *Bp);
/* Memory a product prefetches into L2 while it runs, for the caller's
 * next work (bytes from p; the product consumes the struct). */
typedef struct
{
  const char *p;
  gsize bytes;
} LstmTrainPrefetch;
/* C[M,N'] = bias + A Bp (bias NULL: C = A Bp; C is not read), for Bp
 * packed from [K,N] and any N' <= N (the first N' columns); pf: n_pf
 * regions to prefetch meanwhile (or NULL, 0). */
G_GNUC_INTERNAL void lstm_train_gemm_packed (guint M, guint N, gsize K,
    const float *A, gsize lda, const float *Bp, const float *bias, float *C,
    gsize ldc, LstmTrainPrefetch * pf, guint n_pf);

/* lstm-train-act.c: one cell over one row (H units): from a, the 4H pre-activations, the
 * gate values i, f, g, o into g (a itself, or elsewhere: then g and tc
 * may be written past the caches); c_prev [H] in; c, tanh (c) and h [H]
 * out, h also into y2 unless it is NULL. */
G_GNUC_INTERNAL void lstm_train_cell_forward (const float *a, float *g,
    const float *c_prev, float *c, float *tc, float *y, float *y2, guint H);
/* Its backward: from the gate values, tanh (c_t), c_{t-1}, dL/dh_t as
 * dy + dh and dL/dc_t carried in dc, writes dL/da [4H] into da and
 * dL/dc_{t-1} into dc. */
G_GNUC_INTERNAL void lstm_train_cell_backward (const float *gates,
    const float *tc, const float *c_prev, const float *dy, const float *dh,
    float *dc, float *da, guint H);

/* AT[cols, rows] = A[rows, cols]^T */
G_GNUC_INTERNAL void lstm_train_transpose (gsize rows, gsize cols,
    const float *A, gsize lda, float *AT, gsize ldat);
/* y[N] += column sums of A[M,N], row after row */
G_GNUC_INTERNAL void lstm_train_column_sums (gsize M, guint N,
    const float *A, gsize lda, float *y);

/* Test hook: the dropout scale row of (layer, batch sequence, frame) of the
 * last computed batch (H floats), or NULL without dropout there. */
G_GNUC_INTERNAL const float *lstm_trainer_get_dropout_row (LstmTrainer * t,
    guint layer, guint seq, guint frame);

G_END_DECLS

#endif /* __LSTM_TRAIN_PRIVATE_H__ */
