/* Small per-frame helpers the elements need: sample conversion, the
 * non-finite check, argmax. */
#include "lstm.h"

#include <math.h>

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
