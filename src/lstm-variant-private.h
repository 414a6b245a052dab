/* Internal to src/: the variant cells' steps, shared by the forward pass
 * (lstm-variant.c) and training (lstm-variant-bptt.c). */
#ifndef __LSTM_VARIANT_PRIVATE_H__
#define __LSTM_VARIANT_PRIVATE_H__

#include "lstm-train-private.h"

G_BEGIN_DECLS

/* What one step leaves for the backward pass; NULL members are not
 * needed by the model's variant. */
typedef struct
{
  float *act;                   /* [G] gate values: i, f, g, o or r, z, n */
  float *pre;                   /* [G] gate inputs before the clip (clip only) */
  float *xhat;                  /* [G] normalized W_ih x (layer norm) */
  float *hhat;                  /* [G] normalized W_hh h (layer norm) */
  float *chat;                  /* [H] normalized c before its gain (layer norm) */
  float *rstd;                  /* [3] 1 / sqrt (var + eps) of x, h, c parts */
  float *hn;                    /* [H] GRU: W_hn h + b_hn */
} LstmVarCache;

/* lstm-variant.c: one step of one direction of a layer (equations at the
 * top of lstm-variant.c). xa [G] holds W_ih x_t and is overwritten with
 * the gate pre-activations; ha [G] (and hx [H], h~ = o tanh (c_t))
 * scratch; c updated in place; h [out] receives h_t. */
G_GNUC_INTERNAL void lstm_variant_lstm_step (const LstmModel * m,
    const LstmLayer * l, float *xa, const float *h_prev, float *c, float *h,
    float *ha, float *hx, const LstmVarCache * cache);
G_GNUC_INTERNAL void lstm_variant_gru_step (const LstmModel * m,
    const LstmLayer * l, float *xa, const float *h_prev, float *h, float *ha,
    const LstmVarCache * cache);

/* lstm-variant-bptt.c: training a model with a variant. The trainer's
 * packed batch (lstm-train.c) is copied into rows sequence after
 * sequence; every direction of every layer runs over each sequence with
 * its caches; the top layer's output goes back to the packed rows for the
 * head and the loss, and dL/d top comes back the same way. */
typedef struct _LstmVarTrainer LstmVarTrainer;

/* One direction of one layer: caches over every row. */
typedef struct
{
  float *xa;                    /* [N, G] W_ih x, then the step's pre-activations */
  float *act, *pre, *xhat, *hhat, *chat, *rstd, *hn;    /* see LstmVarCache */
  float *c;                     /* [N, H] c_t (LSTM) */
  float *hx;                    /* [N, H] h~ = o tanh (c_t) before projection */
  float *h0;                    /* [max_batch, out] initial h, batch order */
  float *c0;                    /* [max_batch, H] initial c */
  float *dxa, *dha;             /* [N, G] backward */
  float *h_prev;                /* [N, out] h_{t-1} of every row */
} VarDir;

struct _LstmVarTrainer
{
  guint L, D, H, G, out, W;     /* W = D * out, a layer's output width */
  gsize max_rows;
  VarDir *dirs;                 /* [L * D] */
  float **y;                    /* [L] of [N, W] layer outputs */
  float **mask, **dropped;      /* [L - 1] of [N, W] with dropout, else NULL */
  float *x;                     /* [N, I] the inputs, normalized */
  gsize *seq_off;               /* [max_batch + 1] */
  float *top;                   /* [N, W] top output in packed order */
  float *dy, *dx;               /* [N, max (W, I)] dL/d layer out, in */
  float *ha;                    /* [G] step scratch */
  float *dh, *dc, *dhx, *dcs;   /* [max (H, out)] backward step scratch */
};

/* Row of step n of the sequence at rows off .. off + T - 1, run in
 * direction dir (1: from the last frame to the first). */
static inline gsize
lstm_variant_step_row (gsize off, guint T, guint dir, guint n)
{
  return off + (dir == 0 ? n : T - 1 - n);
}

/* The sequence-major row of packed row r. */
static inline gsize
lstm_variant_seq_row (const LstmTrainer * t, gsize r)
{
  return t->var->seq_off[t->row_seq[r]] + t->row_frame[r];
}

G_GNUC_INTERNAL LstmVarCache lstm_variant_cache_at (const LstmVarTrainer * v,
    const VarDir * d, gsize r);
/* The input of layer k, [N, in]: the inputs, or the layer below's output
 * (after its dropout in training). */
G_GNUC_INTERNAL const float *lstm_variant_layer_input (LstmTrainer * t,
    guint k);

/* Caches for batches of max_batch sequences of max_frames frames; fails
 * (LSTM_ERROR_INVALID) above `max_floats` floats of cache. */
G_GNUC_INTERNAL LstmVarTrainer *lstm_variant_bptt_new (const LstmModel * m,
    const LstmTrainConfig * config, guint max_batch, guint max_frames,
    guint64 max_floats, GError ** error);
G_GNUC_INTERNAL void lstm_variant_bptt_free (LstmVarTrainer * v);
/* After lstm-train.c packed the batch: the inputs and initial states. */
G_GNUC_INTERNAL void lstm_variant_bptt_pack (LstmTrainer * t,
    const LstmBatch * batch);
G_GNUC_INTERNAL void lstm_variant_bptt_forward (LstmTrainer * t);
/* [N, layer_output_size] in packed row order, after forward. */
G_GNUC_INTERNAL const float *lstm_variant_bptt_top (LstmTrainer * t);
/* t->dy (packed, dL/d top) -> t->grad of every layer. */
G_GNUC_INTERNAL void lstm_variant_bptt_backward (LstmTrainer * t);
/* The final states of every sequence into batch->states. */
G_GNUC_INTERNAL void lstm_variant_bptt_store_states (LstmTrainer * t,
    const LstmBatch * batch);

G_END_DECLS

#endif /* __LSTM_VARIANT_PRIVATE_H__ */
