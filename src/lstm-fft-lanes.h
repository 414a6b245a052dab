/* The real FFT's power spectrum on a vector of frames, one frame per lane
 * (the maths and the tables: lstm-fft.c). A template: the includer
 * defines V (a vector of doubles), KERNEL (the attributes of its helper
 * functions) and FN (name) (the name with the kernel set's suffix), and
 * compiles it with -ffp-contract=off, so that every lane does exactly the
 * IEEE operations the scalar maths says, whatever the vector width. No
 * include guard: included once per kernel set. */

/* One radix-2 stage of length L = 2 q over all m / L groups, in place
 * on z (complex points as re, im pairs):
 *   a' = a + b,  b' = (a - b) w^j,  w^j = tw[j * stride].
 * j outside, the groups inside: each twiddle is loaded once. */
KERNEL void
FN (fft_radix2) (const LstmFft * p, V * z, guint q, guint stride)
{
  guint s, j;

  for (j = 0; j < q; j++) {
    double wr = p->tw_re[j * stride], wi = p->tw_im[j * stride];
    for (s = j; s < p->m; s += 2 * q) {
      V *a = z + 2 * s, *b = a + 2 * q;
      V ar = a[0], ai = a[1], br = b[0], bi = b[1];
      V dr = ar - br, di = ai - bi;
      a[0] = ar + br;
      a[1] = ai + bi;
      b[0] = dr * wr - di * wi;
      b[1] = dr * wi + di * wr;
    }
  }
}

/* (zr + i zi) (wr + i wi), written to z */
#define CMUL(zr, zi, wr, wi) G_STMT_START { \
    V t_ = zr * wr - zi * wi; \
    zi = zr * wi + zi * wr; \
    zr = t_; \
  } G_STMT_END

/* Two radix-2 stages at once (lengths L = 4 q and L / 2) on the points
 * x_0 .. x_3 at s, s + q, s + 2q, s + 3q of a group (s = its start + j,
 * j < q), with w = e^{-2 pi i / L} and w^q = -i:
 *   A = x_0 + x_2,  B = x_1 + x_3,  C = x_0 - x_2,  D = (x_1 - x_3) (-i),
 *   x_0' = A + B,          x_1' = (A - B) w^2j,
 *   x_2' = (C + D) w^j,    x_3' = (C - D) w^3j,
 * the same outputs, in the same places, as the two stages. w holds
 * w^j, w^2j, w^3j as (re, im) pairs, or is NULL at j = 0, where every
 * twiddle is 1 and is left out. */
KERNEL void
FN (radix4) (V * x0, guint q, const double *w)
{
  V *x1 = x0 + 2 * q, *x2 = x1 + 2 * q, *x3 = x2 + 2 * q;
  V ar = x0[0] + x2[0], ai = x0[1] + x2[1];
  V br = x1[0] + x3[0], bi = x1[1] + x3[1];
  V cr = x0[0] - x2[0], ci = x0[1] - x2[1];
  /* (x + iy) (-i) = y - ix */
  V dr = x1[1] - x3[1], di = x3[0] - x1[0];
  V y1r = ar - br, y1i = ai - bi, y2r = cr + dr, y2i = ci + di;
  V y3r = cr - dr, y3i = ci - di;

  x0[0] = ar + br;
  x0[1] = ai + bi;
  if (w != NULL) {
    CMUL (y1r, y1i, w[2], w[3]);
    CMUL (y2r, y2i, w[0], w[1]);
    CMUL (y3r, y3i, w[4], w[5]);
  }
  x1[0] = y1r;
  x1[1] = y1i;
  x2[0] = y2r;
  x2[1] = y2i;
  x3[0] = y3r;
  x3[1] = y3i;
}

/* One radix-4 pass (L = 4 q) over all groups: j outside and the groups
 * inside, so that each twiddle is loaded once; with t = j * stride, w^j =
 * tw[t], w^2j = tw[2t], w^3j = tw[3t]. */
KERNEL void
FN (fft_radix4) (const LstmFft * p, V * z, guint q, guint stride)
{
  guint s, j;

  for (s = 0; s < p->m; s += 4 * q)
    FN (radix4) (z + 2 * s, q, NULL);
  for (j = 1; j < q; j++) {
    guint t = j * stride;
    const double w[6] = { p->tw_re[t], p->tw_im[t], p->tw_re[2 * t],
      p->tw_im[2 * t], p->tw_re[3 * t], p->tw_im[3 * t]
    };
    for (s = j; s < p->m; s += 4 * q)
      FN (radix4) (z + 2 * s, q, w);
  }
}

#undef CMUL

/* Z = DFT (z) in place, Z_k left at rev (k): one radix-2 stage when
 * log2 m is odd, then radix-4 pairs down to L = 4. */
KERNEL void
FN (fft_complex) (const LstmFft * p, V * z)
{
  guint L = p->m, stride = 1;

  if (L >= 2 && (__builtin_ctz (L) & 1)) {
    FN (fft_radix2) (p, z, L / 2, 1);
    L /= 2;
    stride = 2;
  }
  for (; L >= 4; L /= 4, stride *= 4)
    FN (fft_radix4) (p, z, L / 4, stride);
}

/* power_k = |2 X_k|^2 = 4 |X_k|^2 for k < m (the mel weights carry the
 * 1/4), from Z (at rev (k)) of the same frame: with Z_k = a and Z_{m-k} =
 * b, 2 E_k = (ar + br) + i (ai - bi) and 2 O_k = (ai + bi) + i (br - ar);
 * with w = e^{-2 pi i k / n} = c - i s,
 *   2 X_k = 2 E_k + w 2 O_k = (2Er + P) + i (2Ei + Q),
 *   P = c 2Or + s 2Oi,  Q = c 2Oi - s 2Or.
 * X_{m-k} swaps a and b and has c' = -c, s' = s: 2 X_{m-k} = (2Er - P) +
 * i (Q - 2Ei), so each pair k, m - k shares its work (k = 0 and k = m / 2
 * pair with themselves, and with P and Q computed for k give the same). */
KERNEL void
FN (fft_power) (const LstmFft * p, const V * z, V * power)
{
  guint m = p->m, k;

  for (k = 0; k <= m / 2; k++) {
    const V *a = z + 2 * p->rev[k], *b = z + 2 * p->rev[(m - k) & (m - 1)];
    double c = p->split_c[k], s = p->split_s[k];
    V er = a[0] + b[0], ei = a[1] - b[1];
    V o_r = a[1] + b[1], o_i = b[0] - a[0];
    V P = c * o_r + s * o_i, Q = c * o_i - s * o_r;
    V xr = er + P, xi = ei + Q;
    power[k] = xr * xr + xi * xi;
    if (k > 0 && k < m - k) {
      xr = er - P;
      xi = Q - ei;
      power[m - k] = xr * xr + xi * xi;
    }
  }
}
