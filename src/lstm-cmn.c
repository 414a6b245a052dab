/* Sliding-window cepstral mean normalisation, Kaldi's apply-cmvn-sliding
 * without variance normalisation and with the window to the left (centre
 * false), as torchaudio.functional.sliding_window_cmn computes it, but
 * streaming: frames go in as they come and come out as soon as their
 * window is known.
 *
 * Frame t of a stream of N frames becomes
 *
 *   y_t = x_t - (1 / (e - s)) sum_{u = s}^{e - 1} x_u
 *
 *   s = max (0, t - window),  e = max (t + 1, min_window)
 *   and, when e > N: s = max (0, s - (e - N)), e = N.
 *
 * The window holds the frame itself and up to `window` frames before it;
 * at the start it reaches min_window frames ahead, so the first frames
 * wait until min_window frames have arrived (or the stream ended), the
 * "latency only at start" of Kaldi's online CMN. Sums are in double; s
 * and e never go back, so each frame is added once and removed once. */
#include "lstm-private.h"

#include <string.h>

struct _LstmCmn
{
  guint dim;                    /* values per frame */
  guint window;                 /* frames before t in t's window */
  guint min_window;             /* frames the first windows reach */
  guint cap;                    /* frames the ring holds */
  float *ring;                  /* [cap, dim]: frame u at u % cap */
  double *sum;                  /* [dim]: sum of frames [s, e) */
  guint64 s, e;                 /* the window the sum covers */
  guint64 n_in, n_out;          /* frames pushed, frames written */
};

LstmCmn *
lstm_cmn_new (guint dim, guint window, guint min_window)
{
  LstmCmn *c;

  g_return_val_if_fail (dim > 0 && window > 0, NULL);
  g_return_val_if_fail (window < G_MAXINT / 2 && min_window < G_MAXINT / 2,
      NULL);
  c = g_new0 (LstmCmn, 1);
  c->dim = dim;
  c->window = window;
  c->min_window = min_window;
  /* at most max (min_window, window + 1) frames wait, plus the new one */
  c->cap = MAX (min_window, window + 1) + 1;
  c->ring = g_new (float, (gsize) c->cap * dim);
  c->sum = g_new0 (double, dim);
  return c;
}

void
lstm_cmn_free (LstmCmn * cmn)
{
  if (cmn == NULL)
    return;
  g_free (cmn->ring);
  g_free (cmn->sum);
  g_free (cmn);
}

void
lstm_cmn_reset (LstmCmn * cmn)
{
  g_return_if_fail (cmn != NULL);
  memset (cmn->sum, 0, cmn->dim * sizeof (double));
  cmn->s = cmn->e = cmn->n_in = cmn->n_out = 0;
}

guint
lstm_cmn_get_dim (const LstmCmn * cmn)
{
  g_return_val_if_fail (cmn != NULL, 0);
  return cmn->dim;
}

guint64
lstm_cmn_get_frames_done (const LstmCmn * cmn)
{
  g_return_val_if_fail (cmn != NULL, 0);
  return cmn->n_out;
}

/* Every frame t < n_in is written once n_in >= min_window. */
guint64
lstm_cmn_frames_after (const LstmCmn * cmn, guint64 n_frames)
{
  guint64 total;

  g_return_val_if_fail (cmn != NULL, 0);
  total = cmn->n_in + n_frames;
  return total >= cmn->min_window ? total - cmn->n_out : 0;
}

guint64
lstm_cmn_finish_frames (const LstmCmn * cmn)
{
  g_return_val_if_fail (cmn != NULL, 0);
  return cmn->n_in - cmn->n_out;
}

static const float *
ring_frame (const LstmCmn * c, guint64 u)
{
  return c->ring + (gsize) (u % c->cap) * c->dim;
}

/* Moves the summed window to [s, e): adds x_u for u in [c->e, e), then
 * removes x_u for u in [c->s, s). */
static void
move_window (LstmCmn * c, guint64 s, guint64 e)
{
  guint d;

  for (; c->e < e; c->e++) {
    const float *x = ring_frame (c, c->e);
    for (d = 0; d < c->dim; d++)
      c->sum[d] += x[d];
  }
  for (; c->s < s; c->s++) {
    const float *x = ring_frame (c, c->s);
    for (d = 0; d < c->dim; d++)
      c->sum[d] -= x[d];
  }
}

/* Writes y_t for the next frame t = n_out; n_total is N at the end of
 * the stream, 0 while it goes on. */
static void
write_next (LstmCmn * c, guint64 n_total, float *out)
{
  guint64 t = c->n_out;
  guint64 s = t > c->window ? t - c->window : 0;
  guint64 e = MAX (t + 1, c->min_window);
  const float *x;
  double n;
  guint d;

  if (n_total > 0 && e > n_total) {
    s = s > e - n_total ? s - (e - n_total) : 0;
    e = n_total;
  }
  move_window (c, s, e);
  n = (double) (e - s);
  x = ring_frame (c, t);
  for (d = 0; d < c->dim; d++)
    out[d] = (float) (x[d] - c->sum[d] / n);
  c->n_out++;
}

guint64
lstm_cmn_push (LstmCmn * cmn, const float *frames, guint64 n_frames, float *out)
{
  guint64 i, written = 0;

  g_return_val_if_fail (cmn != NULL, 0);
  g_return_val_if_fail (n_frames == 0 || frames != NULL, 0);
  g_return_val_if_fail (out != NULL
      || lstm_cmn_frames_after (cmn, n_frames) == 0, 0);
  for (i = 0; i < n_frames; i++) {
    memcpy (cmn->ring + (gsize) (cmn->n_in % cmn->cap) * cmn->dim,
        frames + i * cmn->dim, cmn->dim * sizeof (float));
    cmn->n_in++;
    if (cmn->n_in < cmn->min_window)
      continue;
    while (cmn->n_out < cmn->n_in) {
      write_next (cmn, 0, out + written * cmn->dim);
      written++;
    }
  }
  return written;
}

guint64
lstm_cmn_finish (LstmCmn * cmn, float *out)
{
  guint64 n_total, written = 0;

  g_return_val_if_fail (cmn != NULL, 0);
  n_total = cmn->n_in;
  g_return_val_if_fail (n_total == cmn->n_out || out != NULL, 0);
  while (cmn->n_out < n_total) {
    write_next (cmn, n_total, out + written * cmn->dim);
    written++;
  }
  lstm_cmn_reset (cmn);
  return written;
}
