/* Reduced-precision weights for inference (lstm.h,
 * lstm_model_set_weight_precision).
 *
 * A streaming step is a matrix-vector product per layer per frame, bound
 * by how fast W_hh streams from cache (lstm-pack.c). Storing the matrices
 * in half (2 bytes) or int8 (1 byte) moves fewer bytes; the kernels widen
 * each weight to float32 in registers and run the same float32 FMAs in the
 * same order. So that every path agrees, the model's float weights are
 * replaced by the values the packed copy stands for:
 *
 *   F16:  w' = half (w)                    rounded to nearest, ties to even
 *   INT8: s_r = max_k |w_rk| / 127          per output row r
 *         q_rk = round (w_rk / s_r)          in [-127, 127], ties to even
 *         w'_rk = s_r q_rk
 *
 * The forward pass's packs (lstm-pack.c) then hold the halves, or q and
 * s_r, of these w'. Half -> float is exact, so the F16 kernels give the
 * float32 kernels' bits on w'. The INT8 kernels sum q x and multiply by
 * s_r after the sum, which differs from sum (s_r q) x by rounding only.
 */
#include "lstm-private.h"

#include <math.h>
#include <string.h>

static const gchar *const precision_names[] = { "f32", "f16", "int8" };

const gchar *
lstm_precision_to_string (LstmPrecision precision)
{
  g_return_val_if_fail (precision <= LSTM_PRECISION_INT8, NULL);
  return precision_names[precision];
}

gboolean
lstm_precision_from_string (const gchar * str, LstmPrecision * precision)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (precision_names); i++) {
    if (g_strcmp0 (str, precision_names[i]) == 0) {
      *precision = (LstmPrecision) i;
      return TRUE;
    }
  }
  return FALSE;
}

LstmPrecision
lstm_model_get_weight_precision (const LstmModel * model)
{
  g_return_val_if_fail (model != NULL, LSTM_PRECISION_F32);
  return model->precision;
}

/* binary32 -> binary16 bits. A half has 10 mantissa bits and exponents
 * -14 .. 15; below 2^-14 it is subnormal, in steps of 2^-24. */
guint16
lstm_float_to_half (float f)
{
  guint32 x, ax, sign, h, rest;

  memcpy (&x, &f, 4);
  sign = (x >> 16) & 0x8000;
  ax = x & 0x7fffffff;
  if (ax > 0x7f800000)          /* NaN: stays a (quiet) NaN */
    return sign | 0x7e00;
  if (ax >= 0x477ff000)         /* >= 65520, halfway above 65504: Inf */
    return sign | 0x7c00;
  if (ax < 0x38800000)          /* |f| < 2^-14: round (|f| 2^24) steps */
    return sign | (guint16) nearbyintf (fabsf (f) * 16777216.0f);
  /* rebias 127 -> 15, drop 13 mantissa bits, round half to even (a carry
   * into the exponent is the right result) */
  h = (ax >> 13) - ((127 - 15) << 10);
  rest = ax & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
    h++;
  return sign | h;
}

/* ------------------------------------------------------------ rounding */

/* The largest |w| a half holds. */
#define HALF_MAX 65504.0f

/* W [rows, cols] rounded to half in place; FALSE (W untouched from the
 * first refused weight on) when a weight is beyond the half range. */
static gboolean
round_f16 (float *w, guint rows, guint cols, const gchar * name,
    GError ** error)
{
  gsize i, n = (gsize) rows * cols;

  for (i = 0; i < n; i++) {
    if (fabsf (w[i]) > HALF_MAX) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_MODEL, "%s [%zu, %zu] "
          "(of %u x %u) is %g, beyond the half-precision range "
          "(|w| <= %g): use weights f32", name, i / cols, i % cols, rows,
          cols, w[i], HALF_MAX);
      return FALSE;
    }
    w[i] = lstm_half_to_float (lstm_float_to_half (w[i]));
  }
  return TRUE;
}

float
lstm_int8_scale (const float *w, guint k)
{
  float mx = 0.0f;
  guint i;

  for (i = 0; i < k; i++)
    mx = MAX (mx, fabsf (w[i]));
  return mx / 127.0f;
}

gint8
lstm_int8_quantize (float w, float s)
{
  return (gint8) (s > 0.0f ? CLAMP (nearbyintf (w / s), -127.0f, 127.0f) :
      0.0f);
}

/* w = s_r q_r per row; a zero row has s_r = 0. (lstm-pack.c finds the same
 * q and s_r again from these w.) */
static void
round_int8 (float *w, guint rows, guint cols)
{
  guint r, k;

  for (r = 0; r < rows; r++) {
    float *wr = w + (gsize) r * cols, s = lstm_int8_scale (wr, cols);

    for (k = 0; k < cols; k++)
      wr[k] = s * lstm_int8_quantize (wr[k], s);
  }
}

/* Rounds one matrix in place; `name` for messages. */
static gboolean
round_matrix (LstmPrecision precision, float *w, guint rows, guint cols,
    const gchar * name, GError ** error)
{
  if (precision == LSTM_PRECISION_F16)
    return round_f16 (w, rows, cols, name, error);
  round_int8 (w, rows, cols);
  return TRUE;
}

/* Every matrix of a plain model: W_ih and W_hh of each layer, the head. */
static gboolean
model_round (LstmModel * m, LstmPrecision precision, GError ** error)
{
  guint k;
  gboolean ok = TRUE;

  for (k = 0; k < m->num_layers && ok; k++) {
    LstmLayer *l = &m->layers[k];
    g_autofree gchar *ih = g_strdup_printf ("weight_ih_l%u", k);
    g_autofree gchar *hh = g_strdup_printf ("weight_hh_l%u", k);

    ok = round_matrix (precision, l->weight_ih, 4 * l->hidden_size,
        l->input_size, ih, error)
        && round_matrix (precision, l->weight_hh, 4 * l->hidden_size,
        l->hidden_size, hh, error);
  }
  if (ok && m->head_size > 0)
    ok = round_matrix (precision, m->head_weight, m->head_size,
        m->layer_output_size, "head weight", error);
  return ok;
}

gboolean
lstm_model_set_weight_precision (LstmModel * model, LstmPrecision precision,
    GError ** error)
{
  g_autofree float *saved = NULL;

  g_return_val_if_fail (model != NULL, FALSE);
  g_return_val_if_fail (precision <= LSTM_PRECISION_INT8, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (precision == model->precision)
    return TRUE;
  if (precision != LSTM_PRECISION_F32 && !lstm_model_is_plain (model)) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_UNSUPPORTED,
        "weights %s are implemented for plain LSTM models only, not for "
        "this model's variant (GRU, projection, bidirectional, peephole, "
        "coupled gates, clip or layer norm): use weights f32",
        lstm_precision_to_string (precision));
    return FALSE;
  }
  if (precision != LSTM_PRECISION_F32) {
    /* a refusal (a weight beyond the half range) leaves the model as it
     * was */
    saved = g_memdup2 (model->params, model->n_params * sizeof (float));
    if (!model_round (model, precision, error)) {
      memcpy (model->params, saved, model->n_params * sizeof (float));
      return FALSE;
    }
  }
  model->precision = precision;
  lstm_model_weights_changed (model);
  return TRUE;
}
