/* Many streams of one model stepped together (lstm.h, "streams").
 *
 * S streams, a chunk of T frames each, rows r = t S + s stacked time-major
 * (frame t of every stream side by side):
 *
 *   X [T S, in]  the frames of every stream (normalized if the model is)
 *   for each layer k:
 *     G = X W_ih^T + b_ih + b_hh         one GEMM over all T S rows
 *     for t = 0 .. T-1:
 *       G[t S + s] += h_s W_hh^T         one GEMM over the S adjacent rows
 *                                        of frame t: W_hh is read once per
 *                                        frame for all streams, not once
 *                                        per stream
 *       c_s, Y[t S + s] = cell (G[t S + s], c_s)
 *     X = Y
 *   out = head (Y)
 *
 * which is lstm-forward.c's computation with more rows per product: the
 * kernels (lstm-pack.c) sum each output element the same way whatever the
 * rows around it, so every stream gets exactly lstm_forward's bits. Where
 * the products fall back to OpenBLAS (no AVX2), whose sgemm and sgemv do
 * not promise that, and for the variants (lstm-variant.c), the streams
 * run one after the other instead.
 */
#include "lstm-private.h"

#include <string.h>

struct _LstmStreams
{
  guint input_size, hidden_size, num_layers, head_size;
  guint max_streams, max_frames;
  float *x;                     /* [S T, input_size] */
  float *gates;                 /* [S T, 4H] */
  float *y[2];                  /* [S T, H]: alternate layers' outputs */
  float *h0;                    /* [S, H]: the states' h, side by side */
  float *out;                   /* [S T, output size] */
};

static float *
scratch (gsize n)
{
  return g_aligned_alloc0 (MAX (n, 1), sizeof (float), 64);
}

LstmStreams *
lstm_streams_new (const LstmModel * model, guint max_streams, guint max_frames)
{
  LstmStreams *st;
  gsize rows, H;

  g_return_val_if_fail (model != NULL, NULL);
  g_return_val_if_fail (max_streams > 0, NULL);

  st = g_new0 (LstmStreams, 1);
  st->input_size = model->input_size;
  st->hidden_size = model->hidden_size;
  st->num_layers = model->num_layers;
  st->head_size = model->head_size;
  st->max_streams = max_streams;
  st->max_frames = max_frames ? max_frames : LSTM_DEFAULT_MAX_FRAMES;
  rows = (gsize) st->max_streams * st->max_frames;
  H = st->hidden_size;
  st->x = scratch (rows * st->input_size);
  st->gates = scratch (rows * 4 * H);
  st->y[0] = scratch (rows * H);
  st->y[1] = scratch (rows * H);
  st->h0 = scratch ((gsize) max_streams * H);
  st->out = scratch (rows * lstm_model_get_output_size (model));
  return st;
}

void
lstm_streams_free (LstmStreams * st)
{
  if (st == NULL)
    return;
  g_aligned_free (st->x);
  g_aligned_free (st->gates);
  g_aligned_free (st->y[0]);
  g_aligned_free (st->y[1]);
  g_aligned_free (st->h0);
  g_aligned_free (st->out);
  g_free (st);
}

/* One layer for S streams of T frames: x [T S, in] -> y [T S, H], rows
 * time-major (r = t S + s), so that frame t's recurrent product writes S
 * adjacent rows; the states' h and c of layer k carried. */
static void
layer_streams (LstmStreams * st, const LstmLayer * l,
    const LstmModelPacks * packs, guint k, LstmState * const *states,
    guint S, const float *x, guint T, float *y)
{
  guint H = l->hidden_size, s, t;
  gsize G4 = 4 * (gsize) H, rows = (gsize) S *T;

  lstm_blas_gemm_packed_bias (rows, x, l->input_size, packs->ih[k],
      packs->bias[k], st->gates, G4);

  for (s = 0; s < S; s++)
    memcpy (st->h0 + (gsize) s * H, states[s]->h + (gsize) k * H,
        H * sizeof (float));
  for (t = 0; t < T; t++) {
    /* frame t of every stream: rows t S .. t S + S - 1 */
    const float *h_prev = t == 0 ? st->h0 : y + (gsize) (t - 1) * S * H;
    float *g = st->gates + (gsize) t * S * G4;

    lstm_blas_gemm_packed (S, h_prev, H, packs->hh[k], g, G4);
    for (s = 0; s < S; s++)
      lstm_act_cell (g + s * G4, states[s]->c + (gsize) k * H,
          y + ((gsize) t * S + s) * H, H);
  }
  for (s = 0; s < S; s++)
    memcpy (states[s]->h + (gsize) k * H, y + ((gsize) (T - 1) * S + s) * H,
        H * sizeof (float));
}

static void
chunk_streams (LstmStreams * st, const LstmModel * m,
    LstmState * const *states, guint S, const float *const *inputs,
    guint done, guint T, float *const *outputs)
{
  const LstmModelPacks *packs = lstm_model_get_packs (m);
  guint I = m->input_size, O, k, s, t;
  const float *x = st->x;
  float *y = NULL;

  for (s = 0; s < S; s++)
    for (t = 0; t < T; t++)
      memcpy (st->x + ((gsize) t * S + s) * I,
          inputs[s] + (gsize) (done + t) * I, I * sizeof (float));
  if (m->input_mean != NULL)
    lstm_forward_normalize (m, st->x, S * T, st->x);
  for (k = 0; k < m->num_layers; k++) {
    y = st->y[k & 1];
    layer_streams (st, &m->layers[k], packs, k, states, S, x, T, y);
    x = y;
  }
  if (outputs == NULL)
    return;
  O = lstm_model_get_output_size (m);
  lstm_forward_output (m, packs, y, S * T, st->out);
  for (s = 0; s < S; s++)
    for (t = 0; t < T; t++)
      memcpy (outputs[s] + (gsize) (done + t) * O,
          st->out + ((gsize) t * S + s) * O, O * sizeof (float));
}

void
lstm_streams_forward (LstmStreams * st, const LstmModel * model,
    LstmState * const *states, guint n_streams, const float *const *inputs,
    guint n_frames, float *const *outputs)
{
  guint done = 0, s;

  g_return_if_fail (st != NULL && model != NULL);
  g_return_if_fail (n_streams <= st->max_streams);
  g_return_if_fail (st->input_size == model->input_size
      && st->hidden_size == model->hidden_size
      && st->num_layers == model->num_layers
      && st->head_size == model->head_size);
  for (s = 0; s < n_streams; s++)
    g_return_if_fail (lstm_state_fits (states[s], model));

  if (!lstm_model_is_plain (model)
      || g_str_equal (lstm_blas_get_kernels (), "openblas")) {
    for (s = 0; s < n_streams; s++)
      lstm_forward (model, states[s], inputs[s], n_frames,
          outputs != NULL ? outputs[s] : NULL);
    return;
  }
  while (done < n_frames && n_streams > 0) {
    guint T = MIN (n_frames - done, st->max_frames);
    chunk_streams (st, model, states, n_streams, inputs, done, T, outputs);
    done += T;
  }
}
