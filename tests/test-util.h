/* Shared helpers of the core tests: reference data and error measures. */
#ifndef __TEST_UTIL_H__
#define __TEST_UTIL_H__

#include "lstm-private.h"

G_BEGIN_DECLS

/* A PyTorch reference case (tests/reference/README.md): the model and the
 * data file's tensors converted to F32. */
typedef struct
{
  gchar *name;
  LstmModel *model;
  guint T;                      /* frames */
  float *input;                 /* [T, I] */
  float *output;                /* [T, O] */
  float *h_n;                   /* [L, H] */
  float *c_n;                   /* [L, H] */
} RefCase;

/* Every case name in tests/reference/data, NULL-terminated, static. */
extern const gchar *const ref_case_names[];

gchar *ref_path (const gchar * file);
RefCase *ref_case_load (const gchar * name);
void ref_case_free (RefCase * rc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RefCase, ref_case_free);

/* The F32 copy of tensor `name` of a reference data file, checked to have
 * n_dims dimensions [d0] or [d0, d1]; g_free it. */
float *ref_take_tensor (LstmTensorFile * f, const gchar * name, guint n_dims,
    guint64 d0, guint64 d1);

/* max_i |a_i - b_i| / max_i |b_i|: the error relative to the tensor's
 * scale, which does not blow up on elements that happen to be near 0. */
double rel_error (const float *a, const float *b, gsize n);
double max_abs_error (const float *a, const float *b, gsize n);

/* got == want for outputs the same forward computed with its rows cut
 * differently (chunks, buffers, streams): bit for bit on gst-lstm's
 * kernels, which promise it; within OPENBLAS_CUT_REL_TOL relative on
 * LSTM_BLAS_KERNELS=openblas, whose sums depend on a product's rows. */
#define OPENBLAS_CUT_REL_TOL 1e-6
void assert_same_cut (const float *got, const float *want, gsize n);

/* Runs this test binary again with argument `arg` and LSTM_BLAS_KERNELS
 * set to `kernels`; returns its standard output, stripped (g_free it).
 * Aborts the test if it cannot run or does not exit with 0. */
gchar *run_self_with_kernels (const gchar * arg, const gchar * kernels);

/* Reads a whole file; aborts the test on failure. */
GBytes *read_file_or_fail (const gchar * path);

G_END_DECLS

#endif
