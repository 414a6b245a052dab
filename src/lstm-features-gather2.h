/* The window reads of lstm-features-lanes.h for 2 lanes (see
 * lstm-features-lanes.c): plain loads. A template: no include guard. */

KERNEL V
FN (gather) (const float *h, const gint32 * idx)
{
  V v = { h[idx[0]], h[idx[1]] };
  return v;
}

KERNEL void
FN (gather_tile) (const float *h, const gint32 * idx, V * x)
{
  x[0] = FN (gather) (h, idx);
  x[1] = FN (gather) (h + 1, idx);
}
