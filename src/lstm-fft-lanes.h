/* The real FFT's power spectrum on a vector of frames, one frame per lane
 * (the maths and the tables: lstm-fft.c). A template: the includer
 * defines V (a vector of doubles), KERNEL (the attributes of its helper
 * functions) and FN (name) (the name with the kernel set's suffix), and
 * compiles it with -ffp-contract=off, so that every lane does exactly the
 * IEEE operations the scalar maths says, whatever the vector width. No
 * include guard: included once per kernel set. */

/* One stage of length L = 2 half (L >= 8) over all m / L groups, in
 * place on z (complex points as re, im pairs):
 *   a' = a + b,  b' = (a - b) w^j  with w^j = tw[j * stride]. */
KERNEL void
FN (fft_stage) (const LstmFft * p, V * z, guint half, guint stride)
{
  guint s, j;

  for (s = 0; s < p->m; s += 2 * half) {
    V *a = z + 2 * s, *b = z + 2 * (s + half);
    for (j = 0; j < half; j++) {
      double wr = p->tw_re[j * stride], wi = p->tw_im[j * stride];
      V ar = a[2 * j], ai = a[2 * j + 1], br = b[2 * j], bi = b[2 * j + 1];
      V dr = ar - br, di = ai - bi;
      a[2 * j] = ar + br;
      a[2 * j + 1] = ai + bi;
      b[2 * j] = dr * wr - di * wi;
      b[2 * j + 1] = dr * wi + di * wr;
    }
  }
}

/* The last two stages together, whose twiddles are 1 and -i (exact):
 * on z_0 .. z_3 of each group of 4,
 *   L = 4:  a_0 = z_0 + z_2,  a_1 = z_1 + z_3,
 *           a_2 = z_0 - z_2,  a_3 = (z_1 - z_3) (-i)
 *   L = 2:  z_0' = a_0 + a_1,  z_1' = a_0 - a_1,
 *           z_2' = a_2 + a_3,  z_3' = a_2 - a_3. */
KERNEL void
FN (fft_last2) (const LstmFft * p, V * z)
{
  guint s;

  for (s = 0; s < p->m; s += 4) {
    V *q = z + 2 * s;
    V a0r = q[0] + q[4], a0i = q[1] + q[5];
    V a1r = q[2] + q[6], a1i = q[3] + q[7];
    V a2r = q[0] - q[4], a2i = q[1] - q[5];
    /* (x + iy) (-i) = y - ix */
    V a3r = q[3] - q[7], a3i = q[6] - q[2];
    q[0] = a0r + a1r;
    q[1] = a0i + a1i;
    q[2] = a0r - a1r;
    q[3] = a0i - a1i;
    q[4] = a2r + a3r;
    q[5] = a2i + a3i;
    q[6] = a2r - a3r;
    q[7] = a2i - a3i;
  }
}

/* Z = DFT (z) in place, Z_k left at rev (k). */
KERNEL void
FN (fft_complex) (const LstmFft * p, V * z)
{
  guint half, stride;

  for (half = p->m / 2, stride = 1; half >= 4; half /= 2, stride *= 2)
    FN (fft_stage) (p, z, half, stride);
  if (p->m >= 4) {
    FN (fft_last2) (p, z);
  } else if (p->m == 2) {
    V ar = z[0], ai = z[1];
    z[0] = ar + z[2];
    z[1] = ai + z[3];
    z[2] = ar - z[2];
    z[3] = ai - z[3];
  }
}

/* power_k = |X_k|^2 for k < m, from Z (at rev (k)) of the same frame:
 * with Z_k = a and Z_{m-k} = b, 2 E_k = (ar + br) + i (ai - bi) and
 * 2 O_k = (ai + bi) + i (br - ar); with w = e^{-2 pi i k / n} = c - i s,
 *   2 X_k = 2 E_k + w 2 O_k
 *         = (2Er + c 2Or + s 2Oi) + i (2Ei + c 2Oi - s 2Or),
 * and |X_k|^2 = |2 X_k|^2 / 4 (exact). */
KERNEL void
FN (fft_power) (const LstmFft * p, const V * z, V * power)
{
  guint k;

  for (k = 0; k < p->m; k++) {
    const V *a = z + 2 * p->rev[k];
    const V *b = z + 2 * p->rev[(p->m - k) & (p->m - 1)];
    double c = p->split_c[k], s = p->split_s[k];
    V er = a[0] + b[0], ei = a[1] - b[1];
    V o_r = a[1] + b[1], o_i = b[0] - a[0];
    V xr = er + (c * o_r + s * o_i);
    V xi = ei + (c * o_i - s * o_r);
    power[k] = (xr * xr + xi * xi) * 0.25;
  }
}
