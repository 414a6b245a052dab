/* Small per-frame helpers the elements need: sample conversion, the
 * non-finite check and the forward pass that skips such frames, argmax. */
#include "lstm.h"

#include <math.h>
#include <string.h>

void
lstm_frames_from_s16 (const gint16 * in, gsize n, float *out)
{
  gsize i;
  /* x / 32768: -32768 maps to -1, 32767 to 1 - 2^-15 */
  for (i = 0; i < n; i++)
    out[i] = in[i] * (1.0f / 32768.0f);
}

gboolean
lstm_frame_is_finite (const float *frame, guint frame_size)
{
  guint i;
  for (i = 0; i < frame_size; i++)
    if (!isfinite (frame[i]))
      return FALSE;
  return TRUE;
}

guint
lstm_forward_finite (const LstmModel * model, LstmState * state,
    const float *input, guint n_frames, float *output, const float *prev_out)
{
  guint I = model->input_size, O = lstm_model_get_output_size (model);
  guint i = 0, skipped = 0;

  while (i < n_frames) {
    guint j = i;
    while (j < n_frames && lstm_frame_is_finite (input + (gsize) j * I, I))
      j++;
    if (j > i)
      lstm_forward (model, state, input + (gsize) i * I, j - i,
          output + (gsize) i * O);
    if (j < n_frames) {
      /* frame j is not finite: the output before it again */
      const float *prev = j > 0 ? output + (gsize) (j - 1) * O : prev_out;
      if (prev != NULL)
        memcpy (output + (gsize) j * O, prev, O * sizeof (float));
      else
        memset (output + (gsize) j * O, 0, O * sizeof (float));
      skipped++;
      j++;
    }
    i = j;
  }
  return skipped;
}

guint
lstm_argmax (const float *values, guint n)
{
  guint i, best = 0;

  g_return_val_if_fail (values != NULL && n > 0, 0);
  for (i = 1; i < n; i++)
    if (values[i] > values[best])
      best = i;
  return best;
}

void
lstm_vector_add (float *acc, const float *x, guint n)
{
  guint i;
  for (i = 0; i < n; i++)
    acc[i] += x[i];
}

void
lstm_vector_scale (float *x, float factor, guint n)
{
  guint i;
  for (i = 0; i < n; i++)
    x[i] *= factor;
}
