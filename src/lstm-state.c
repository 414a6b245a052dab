/* LstmState: h and c of every layer, and the forward pass's scratch. */
#include "lstm-private.h"

#include <math.h>
#include <string.h>

#define STATE_MAGIC "LSTMSTAT"
#define STATE_VERSION 1
#define STATE_HEADER_SIZE 24    /* magic 8 + version, layers, hidden, reserved */

LstmState *
lstm_state_new (const LstmModel * model, guint max_frames)
{
  LstmState *s;
  gsize H, L;

  g_return_val_if_fail (model != NULL, NULL);

  if (max_frames == 0)
    max_frames = LSTM_DEFAULT_MAX_FRAMES;

  s = g_new0 (LstmState, 1);
  s->input_size = model->input_size;
  s->hidden_size = model->hidden_size;
  s->num_layers = model->num_layers;
  s->head_size = model->head_size;
  s->max_frames = max_frames;

  H = s->hidden_size;
  L = s->num_layers;
  s->h = g_aligned_alloc0 (L * H, sizeof (float), 64);
  s->c = g_aligned_alloc0 (L * H, sizeof (float), 64);
  s->x_norm = g_aligned_alloc0 ((gsize) max_frames * s->input_size,
      sizeof (float), 64);
  s->gates = g_aligned_alloc0 ((gsize) max_frames * 4 * H, sizeof (float), 64);
  s->y[0] = g_aligned_alloc0 ((gsize) max_frames * H, sizeof (float), 64);
  s->y[1] = g_aligned_alloc0 ((gsize) max_frames * H, sizeof (float), 64);
  s->head = g_aligned_alloc0 ((gsize) max_frames * MAX (s->head_size, 1),
      sizeof (float), 64);
  return s;
}

void
lstm_state_free (LstmState * state)
{
  if (state == NULL)
    return;
  g_aligned_free (state->h);
  g_aligned_free (state->c);
  g_aligned_free (state->x_norm);
  g_aligned_free (state->gates);
  g_aligned_free (state->y[0]);
  g_aligned_free (state->y[1]);
  g_aligned_free (state->head);
  g_free (state);
}

gboolean
lstm_state_fits (const LstmState * state, const LstmModel * model)
{
  g_return_val_if_fail (state != NULL && model != NULL, FALSE);
  return state->input_size == model->input_size
      && state->hidden_size == model->hidden_size
      && state->num_layers == model->num_layers
      && state->head_size == model->head_size;
}

void
lstm_state_reset (LstmState * state)
{
  gsize n;

  g_return_if_fail (state != NULL);
  n = (gsize) state->num_layers * state->hidden_size;
  memset (state->h, 0, n * sizeof (float));
  memset (state->c, 0, n * sizeof (float));
}

void
lstm_state_copy (LstmState * dest, const LstmState * src)
{
  gsize n;

  g_return_if_fail (dest != NULL && src != NULL);
  g_return_if_fail (dest->num_layers == src->num_layers
      && dest->hidden_size == src->hidden_size);
  n = (gsize) src->num_layers * src->hidden_size;
  memcpy (dest->h, src->h, n * sizeof (float));
  memcpy (dest->c, src->c, n * sizeof (float));
}

LstmState *
lstm_state_dup (const LstmState * state)
{
  LstmState *copy;
  LstmModel sizes = { 0 };

  g_return_val_if_fail (state != NULL, NULL);
  /* lstm_state_new only reads the sizes of the model. */
  sizes.input_size = state->input_size;
  sizes.hidden_size = state->hidden_size;
  sizes.num_layers = state->num_layers;
  sizes.head_size = state->head_size;
  copy = lstm_state_new (&sizes, state->max_frames);
  lstm_state_copy (copy, state);
  return copy;
}

const float *
lstm_state_get_h (const LstmState * state, guint layer)
{
  g_return_val_if_fail (state != NULL && layer < state->num_layers, NULL);
  return state->h + (gsize) layer *state->hidden_size;
}

const float *
lstm_state_get_c (const LstmState * state, guint layer)
{
  g_return_val_if_fail (state != NULL && layer < state->num_layers, NULL);
  return state->c + (gsize) layer *state->hidden_size;
}

static void
put_u32 (guint8 * p, guint32 v)
{
  v = GUINT32_TO_LE (v);
  memcpy (p, &v, 4);
}

static guint32
get_u32 (const guint8 * p)
{
  guint32 v;
  memcpy (&v, p, 4);
  return GUINT32_FROM_LE (v);
}

static void
put_floats (guint8 * p, const float *f, gsize n)
{
  gsize i;
  for (i = 0; i < n; i++) {
    guint32 bits;
    memcpy (&bits, &f[i], 4);
    put_u32 (p + 4 * i, bits);
  }
}

static void
get_floats (float *f, const guint8 * p, gsize n)
{
  gsize i;
  for (i = 0; i < n; i++) {
    guint32 bits = get_u32 (p + 4 * i);
    memcpy (&f[i], &bits, 4);
  }
}

GBytes *
lstm_state_serialize (const LstmState * state)
{
  gsize n, size;
  guint8 *buf;

  g_return_val_if_fail (state != NULL, NULL);

  n = (gsize) state->num_layers * state->hidden_size;
  size = STATE_HEADER_SIZE + 2 * n * 4;
  buf = g_malloc (size);
  memcpy (buf, STATE_MAGIC, 8);
  put_u32 (buf + 8, STATE_VERSION);
  put_u32 (buf + 12, state->num_layers);
  put_u32 (buf + 16, state->hidden_size);
  put_u32 (buf + 20, 0);
  put_floats (buf + STATE_HEADER_SIZE, state->h, n);
  put_floats (buf + STATE_HEADER_SIZE + n * 4, state->c, n);
  return g_bytes_new_take (buf, size);
}

gboolean
lstm_state_deserialize (LstmState * state, GBytes * bytes, GError ** error)
{
  const guint8 *p;
  gsize size, n, i;
  guint32 version, layers, hidden;
  float *tmp;

  g_return_val_if_fail (state != NULL && bytes != NULL, FALSE);

  p = g_bytes_get_data (bytes, &size);
  if (size < STATE_HEADER_SIZE || memcmp (p, STATE_MAGIC, 8) != 0) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_STATE,
        "not an LSTM state (%" G_GSIZE_FORMAT " bytes, no '" STATE_MAGIC
        "' header)", size);
    return FALSE;
  }
  version = get_u32 (p + 8);
  layers = get_u32 (p + 12);
  hidden = get_u32 (p + 16);
  if (version != STATE_VERSION) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_STATE,
        "LSTM state version %u is not supported (expected %u)", version,
        STATE_VERSION);
    return FALSE;
  }
  if (layers != state->num_layers || hidden != state->hidden_size) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_STATE,
        "LSTM state is for %u layers of hidden size %u, but the model has %u "
        "layers of hidden size %u", layers, hidden, state->num_layers,
        state->hidden_size);
    return FALSE;
  }
  n = (gsize) layers *hidden;
  if (size != STATE_HEADER_SIZE + 2 * n * 4) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_STATE,
        "LSTM state is %" G_GSIZE_FORMAT " bytes; %u layers of hidden size "
        "%u need %" G_GSIZE_FORMAT, size, layers, hidden,
        STATE_HEADER_SIZE + 2 * n * 4);
    return FALSE;
  }
  /* Check everything before touching the state, so a bad blob changes
   * nothing. */
  tmp = g_new (float, 2 * n);
  get_floats (tmp, p + STATE_HEADER_SIZE, 2 * n);
  for (i = 0; i < 2 * n; i++) {
    if (!isfinite (tmp[i])) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_STATE,
          "LSTM state holds a non-finite value in %s of layer %" G_GSIZE_FORMAT,
          i < n ? "h" : "c", (i % n) / hidden);
      g_free (tmp);
      return FALSE;
    }
  }
  memcpy (state->h, tmp, n * sizeof (float));
  memcpy (state->c, tmp + n, n * sizeof (float));
  g_free (tmp);
  return TRUE;
}
