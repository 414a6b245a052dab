/* LstmState: h and c of every layer, and the forward pass's scratch. */
#include "lstm-private.h"

#include <math.h>
#include <string.h>

#define STATE_MAGIC "LSTMSTAT"
#define STATE_VERSION 1         /* plain LSTM: h and c both H wide */
#define STATE_VERSION_VARIANT 2 /* any model: slots, h width, c width */
#define STATE_VERSION_BIDI 3    /* as 2, of a bidirectional model */
#define STATE_HEADER_SIZE 24    /* magic 8 + version, layers, hidden, reserved */

static void
alloc_scratch (LstmState * s, guint frames)
{
  gsize H = s->hidden_size;

  s->capacity = frames;
  s->x_norm = g_aligned_alloc0 ((gsize) frames * s->input_size,
      sizeof (float), 64);
  s->gates = g_aligned_alloc0 ((gsize) s->slices * frames * 4 * H,
      sizeof (float), 64);
  s->y = g_aligned_alloc0 ((gsize) MAX (s->slices, 2) * frames * s->layer_out,
      sizeof (float), 64);
}

static void
free_scratch (LstmState * s)
{
  g_aligned_free (s->x_norm);
  g_aligned_free (s->gates);
  g_aligned_free (s->y);
}

/* Buffers for the sizes already set in s. */
static LstmState *
state_alloc (LstmState * s)
{
  gsize slots = (gsize) s->num_layers * s->num_directions;

  s->h = g_aligned_alloc0 (MAX (slots * s->h_size, 1), sizeof (float), 64);
  s->c = g_aligned_alloc0 (MAX (slots * s->c_size, 1), sizeof (float), 64);
  s->step = g_aligned_alloc0 (8 * (gsize) s->hidden_size, sizeof (float), 64);
  alloc_scratch (s, s->max_frames);
  return s;
}

LstmState *
lstm_state_new (const LstmModel * model, guint max_frames)
{
  LstmState *s;

  g_return_val_if_fail (model != NULL, NULL);

  if (max_frames == 0)
    max_frames = LSTM_DEFAULT_MAX_FRAMES;

  s = g_new0 (LstmState, 1);
  s->input_size = model->input_size;
  s->hidden_size = model->hidden_size;
  s->num_layers = model->num_layers;
  s->head_size = model->head_size;
  s->max_frames = max_frames;
  s->cell = model->cell;
  s->num_directions = model->num_directions;
  s->h_size = model->proj_size > 0 ? model->proj_size : model->hidden_size;
  s->c_size = model->cell == LSTM_CELL_GRU ? 0 : model->hidden_size;
  s->layer_out = model->layer_output_size;
  /* the sizes a plain LSTM has (a variant with them, say cell-clip, gets
   * the slices too: at most max_frames frames each, it never grows) */
  s->slices = s->cell == LSTM_CELL_LSTM && s->num_directions == 1
      && s->h_size == s->hidden_size ? s->num_layers : 1;
  return state_alloc (s);
}

void
lstm_state_reserve (LstmState * s, guint n_frames)
{
  if (n_frames <= s->capacity)
    return;
  free_scratch (s);
  alloc_scratch (s, MAX (n_frames, 2 * s->capacity));
}

void
lstm_state_free (LstmState * state)
{
  if (state == NULL)
    return;
  g_aligned_free (state->h);
  g_aligned_free (state->c);
  g_aligned_free (state->step);
  free_scratch (state);
  g_free (state);
}

gboolean
lstm_state_fits (const LstmState * state, const LstmModel * model)
{
  g_return_val_if_fail (state != NULL && model != NULL, FALSE);
  return state->input_size == model->input_size
      && state->hidden_size == model->hidden_size
      && state->num_layers == model->num_layers
      && state->head_size == model->head_size
      && state->cell == model->cell
      && state->num_directions == model->num_directions
      && state->layer_out == model->layer_output_size;
}

void
lstm_state_reset (LstmState * state)
{
  gsize n;

  g_return_if_fail (state != NULL);
  n = (gsize) state->num_layers * state->num_directions;
  memset (state->h, 0, n * state->h_size * sizeof (float));
  memset (state->c, 0, n * state->c_size * sizeof (float));
}

void
lstm_state_copy (LstmState * dest, const LstmState * src)
{
  gsize n;

  g_return_if_fail (dest != NULL && src != NULL);
  g_return_if_fail (dest->num_layers == src->num_layers
      && dest->hidden_size == src->hidden_size
      && dest->num_directions == src->num_directions
      && dest->h_size == src->h_size && dest->c_size == src->c_size);
  n = (gsize) src->num_layers * src->num_directions;
  memcpy (dest->h, src->h, n * src->h_size * sizeof (float));
  memcpy (dest->c, src->c, n * src->c_size * sizeof (float));
}

LstmState *
lstm_state_dup (const LstmState * state)
{
  LstmState *copy;

  g_return_val_if_fail (state != NULL, NULL);
  copy = g_new0 (LstmState, 1);
  *copy = *state;
  state_alloc (copy);
  lstm_state_copy (copy, state);
  return copy;
}

const float *
lstm_state_get_h (const LstmState * state, guint layer)
{
  g_return_val_if_fail (state != NULL
      && layer < state->num_layers * state->num_directions, NULL);
  return state->h + (gsize) layer *state->h_size;
}

const float *
lstm_state_get_c (const LstmState * state, guint layer)
{
  g_return_val_if_fail (state != NULL
      && layer < state->num_layers * state->num_directions, NULL);
  g_return_val_if_fail (state->c_size > 0, NULL);
  return state->c + (gsize) layer *state->c_size;
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

/* Version 1 for a plain LSTM (h and c H wide; the format of old
 * snapshots), else version 2. */
static gboolean
state_is_plain (const LstmState * s)
{
  return s->num_directions == 1 && s->h_size == s->hidden_size
      && s->c_size == s->hidden_size;
}

GBytes *
lstm_state_serialize (const LstmState * state)
{
  gsize slots, nh, nc, size;
  guint8 *buf;
  gboolean plain;

  g_return_val_if_fail (state != NULL, NULL);

  plain = state_is_plain (state);
  slots = (gsize) state->num_layers * state->num_directions;
  nh = slots * state->h_size;
  nc = slots * state->c_size;
  size = STATE_HEADER_SIZE + (nh + nc) * 4;
  buf = g_malloc (size);
  memcpy (buf, STATE_MAGIC, 8);
  put_u32 (buf + 8, plain ? STATE_VERSION : state->num_directions == 2 ?
      STATE_VERSION_BIDI : STATE_VERSION_VARIANT);
  put_u32 (buf + 12, slots);
  put_u32 (buf + 16, plain ? state->hidden_size : state->h_size);
  put_u32 (buf + 20, plain ? 0 : state->c_size);
  put_floats (buf + STATE_HEADER_SIZE, state->h, nh);
  put_floats (buf + STATE_HEADER_SIZE + nh * 4, state->c, nc);
  return g_bytes_new_take (buf, size);
}

/* "2 layers, h and c 16 wide", "1 layer in 2 directions, h 16 wide and
 * no c" (a GRU). */
static gchar *
describe_state (guint32 slots, guint directions, guint32 hw, guint32 cw)
{
  g_autofree gchar *where = g_strdup_printf ("%u layer%s%s",
      slots / directions, slots / directions == 1 ? "" : "s",
      directions == 2 ? " in 2 directions" : "");

  if (cw == 0)
    return g_strdup_printf ("%s, h %u wide and no c", where, hw);
  if (cw == hw)
    return g_strdup_printf ("%s, h and c %u wide", where, hw);
  return g_strdup_printf ("%s, h %u wide and c %u wide", where, hw, cw);
}

/* The header against the state's sizes. Version 3 is a bidirectional
 * model's, version 2 any other variant's: a layer in two directions has
 * the sizes of two layers, and is not them. */
static gboolean
check_state_header (const LstmState * s, const guint8 * p, gsize size,
    GError ** error)
{
  guint32 version, slots, hw, cw;
  guint directions;
  gsize n;

  if (size < STATE_HEADER_SIZE || memcmp (p, STATE_MAGIC, 8) != 0) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_STATE,
        "not an LSTM state (%" G_GSIZE_FORMAT " bytes, no '" STATE_MAGIC
        "' header)", size);
    return FALSE;
  }
  version = get_u32 (p + 8);
  slots = get_u32 (p + 12);
  hw = get_u32 (p + 16);
  cw = version == STATE_VERSION ? hw : get_u32 (p + 20);
  if (version != STATE_VERSION && version != STATE_VERSION_VARIANT
      && version != STATE_VERSION_BIDI) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_STATE,
        "LSTM state version %u is not supported (expected %u, %u or %u)",
        version, STATE_VERSION, STATE_VERSION_VARIANT, STATE_VERSION_BIDI);
    return FALSE;
  }
  directions = version == STATE_VERSION_BIDI ? 2 : 1;
  if (slots == 0 || slots % directions != 0
      || directions != s->num_directions
      || slots != s->num_layers * s->num_directions || hw != s->h_size
      || cw != s->c_size) {
    g_autofree gchar *blob = describe_state (slots, directions, hw, cw);
    g_autofree gchar *model = describe_state (s->num_layers *
        s->num_directions, s->num_directions, s->h_size, s->c_size);
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_STATE,
        "LSTM state is for %s, but the model has %s", blob, model);
    return FALSE;
  }
  n = (gsize) slots *(hw + cw);
  if (size != STATE_HEADER_SIZE + n * 4) {
    g_autofree gchar *model = describe_state (slots, s->num_directions,
        hw, cw);
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_STATE,
        "LSTM state is %" G_GSIZE_FORMAT " bytes; %s need %" G_GSIZE_FORMAT,
        size, model, STATE_HEADER_SIZE + n * 4);
    return FALSE;
  }
  return TRUE;
}

gboolean
lstm_state_deserialize (LstmState * state, GBytes * bytes, GError ** error)
{
  const guint8 *p;
  gsize size, nh, n, i;
  float *tmp;

  g_return_val_if_fail (state != NULL && bytes != NULL, FALSE);

  p = g_bytes_get_data (bytes, &size);
  if (!check_state_header (state, p, size, error))
    return FALSE;
  nh = (gsize) state->num_layers * state->num_directions * state->h_size;
  n = nh + (gsize) state->num_layers * state->num_directions * state->c_size;
  /* Check everything before touching the state, so a bad blob changes
   * nothing. */
  tmp = g_new (float, n);
  get_floats (tmp, p + STATE_HEADER_SIZE, n);
  for (i = 0; i < n; i++) {
    if (!isfinite (tmp[i])) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_STATE,
          "LSTM state holds a non-finite value in %s of layer %" G_GSIZE_FORMAT,
          i < nh ? "h" : "c", i < nh ? i / state->h_size :
          (i - nh) / state->c_size);
      g_free (tmp);
      return FALSE;
    }
  }
  memcpy (state->h, tmp, nh * sizeof (float));
  memcpy (state->c, tmp + nh, (n - nh) * sizeof (float));
  g_free (tmp);
  return TRUE;
}
