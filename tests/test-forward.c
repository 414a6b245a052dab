/* The forward pass against PyTorch, and streaming in pieces. */
#include "test-util.h"

#include <math.h>
#include <string.h>

/* Tolerance against PyTorch: max |ours - torch| / max |torch| per tensor.
 * Both sides compute in float32 with different summation orders; the
 * reference generator measured PyTorch within 1.9e-7 of a float64 run. */
#define TORCH_REL_TOL 1e-5
/* Chunked against whole: the same code on the same data; only the GEMM's
 * blocking of rows may differ. */
#define CHUNK_REL_TOL 1e-6

static void
run_whole (const LstmModel * m, const float *in, guint T, float *out,
    LstmState * s)
{
  lstm_forward (m, s, in, T, out);
}

static void
test_reference (gconstpointer data)
{
  const gchar *name = data;
  g_autoptr (RefCase) rc = ref_case_load (name);
  LstmModel *m = rc->model;
  guint O = lstm_model_get_output_size (m), L = m->num_layers;
  guint H = m->hidden_size, k;
  g_autofree float *out = g_new (float, (gsize) rc->T * O);
  g_autofree float *h = g_new (float, (gsize) L * H);
  g_autofree float *c = g_new (float, (gsize) L * H);
  g_autoptr (LstmState) s = lstm_state_new (m, 0);
  double e_out, e_h, e_c;

  run_whole (m, rc->input, rc->T, out, s);
  for (k = 0; k < L; k++) {
    memcpy (h + k * H, lstm_state_get_h (s, k), H * sizeof (float));
    memcpy (c + k * H, lstm_state_get_c (s, k), H * sizeof (float));
  }
  e_out = rel_error (out, rc->output, (gsize) rc->T * O);
  e_h = rel_error (h, rc->h_n, (gsize) L * H);
  e_c = rel_error (c, rc->c_n, (gsize) L * H);
  g_test_message ("%s: max relative error vs PyTorch: output %.3g, h_n %.3g, "
      "c_n %.3g (max abs output %.3g; tolerance %g)", name, e_out, e_h, e_c,
      max_abs_error (out, rc->output, (gsize) rc->T * O), TORCH_REL_TOL);
  g_assert_cmpfloat (e_out, <=, TORCH_REL_TOL);
  g_assert_cmpfloat (e_h, <=, TORCH_REL_TOL);
  g_assert_cmpfloat (e_c, <=, TORCH_REL_TOL);
}

/* Feeds the reference input in pieces of the given sizes (cycled) through
 * a state whose internal chunk is max_frames, and compares with one call. */
static double
chunked_error (const RefCase * rc, const guint * sizes, guint n_sizes,
    guint max_frames)
{
  LstmModel *m = rc->model;
  guint O = lstm_model_get_output_size (m), done = 0, i = 0;
  gsize n = (gsize) rc->T * O;
  g_autofree float *whole = g_new (float, n);
  g_autofree float *pieces = g_new (float, n);
  g_autoptr (LstmState) a = lstm_state_new (m, 0);
  g_autoptr (LstmState) b = lstm_state_new (m, max_frames);
  double err;

  lstm_forward (m, a, rc->input, rc->T, whole);
  while (done < rc->T) {
    guint want = sizes[i++ % n_sizes];
    guint len = MIN (want, rc->T - done);
    lstm_forward (m, b, rc->input + (gsize) done * m->input_size, len,
        pieces + (gsize) done * O);
    done += len;
  }
  /* bit for bit on our kernels (every output one sum in one order, whatever
   * the rows of a product and the wavefront's rounds), within 1e-6 on
   * OpenBLAS */
  assert_same_cut (pieces, whole, n);
  err = rel_error (pieces, whole, n);
  for (i = 0; i < m->num_layers; i++) {
    err = MAX (err, rel_error (lstm_state_get_h (b, i),
            lstm_state_get_h (a, i), m->hidden_size));
    err = MAX (err, rel_error (lstm_state_get_c (b, i),
            lstm_state_get_c (a, i), m->hidden_size));
  }
  return err;
}

static void
test_chunked_equals_whole (gconstpointer data)
{
  const gchar *name = data;
  g_autoptr (RefCase) rc = ref_case_load (name);
  static const guint ones[] = { 1 }, sevens[] = { 7 }, hundreds[] = { 100 };
  static const guint mixed[] = { 3, 1, 13, 2, 29, 5 };
  GRand *rand = g_rand_new_with_seed (7);
  guint random_sizes[32], i;
  double worst = 0.0;

  for (i = 0; i < G_N_ELEMENTS (random_sizes); i++)
    random_sizes[i] = g_rand_int_range (rand, 1, 20);
  g_rand_free (rand);

  worst = MAX (worst, chunked_error (rc, ones, 1, 0));
  worst = MAX (worst, chunked_error (rc, sevens, 1, 0));
  worst = MAX (worst, chunked_error (rc, hundreds, 1, 0));
  worst = MAX (worst, chunked_error (rc, mixed, G_N_ELEMENTS (mixed), 0));
  worst = MAX (worst, chunked_error (rc, random_sizes,
          G_N_ELEMENTS (random_sizes), 0));
  /* small internal chunks: a 100-frame call is cut into 3-frame pieces */
  worst = MAX (worst, chunked_error (rc, hundreds, 1, 3));
  worst = MAX (worst, chunked_error (rc, hundreds, 1, 1));
  g_test_message ("%s: chunked vs whole, max relative error %.3g (tolerance "
      "%g)", name, worst, CHUNK_REL_TOL);
  g_assert_cmpfloat (worst, <=, CHUNK_REL_TOL);
}

/* output = NULL advances the state exactly as with an output. */
static void
test_state_only (void)
{
  g_autoptr (RefCase) rc = ref_case_load ("i40_h128_l2_softmax12");
  LstmModel *m = rc->model;
  g_autoptr (LstmState) a = lstm_state_new (m, 0);
  g_autoptr (LstmState) b = lstm_state_new (m, 0);
  g_autofree float *out = g_new (float, (gsize) rc->T * m->head_size);
  guint k;

  lstm_forward (m, a, rc->input, rc->T, out);
  lstm_forward (m, b, rc->input, rc->T, NULL);
  for (k = 0; k < m->num_layers; k++) {
    g_assert_cmpmem (lstm_state_get_h (a, k), m->hidden_size * 4,
        lstm_state_get_h (b, k), m->hidden_size * 4);
    g_assert_cmpmem (lstm_state_get_c (a, k), m->hidden_size * 4,
        lstm_state_get_c (b, k), m->hidden_size * 4);
  }
}

/* Softmax rows sum to 1 and the head really is applied: with weights large
 * enough to make the output peaky, the distribution is not flat. */
static void
test_softmax_head (void)
{
  g_autoptr (LstmModel) m = lstm_model_new (4, 8, 1, 5, LSTM_OUTPUT_SOFTMAX,
      NULL);
  g_autoptr (LstmState) s = NULL;
  float in[4 * 10], out[5 * 10];
  guint t, j;

  lstm_model_init_random (m, 3);
  for (j = 0; j < 5 * 8; j++)
    m->head_weight[j] *= 40.0f;
  for (j = 0; j < G_N_ELEMENTS (in); j++)
    in[j] = sinf (j * 0.7f);
  s = lstm_state_new (m, 0);
  lstm_forward (m, s, in, 10, out);
  for (t = 0; t < 10; t++) {
    float sum = 0.0f, mx = 0.0f;
    for (j = 0; j < 5; j++) {
      g_assert_cmpfloat (out[t * 5 + j], >=, 0.0f);
      sum += out[t * 5 + j];
      mx = MAX (mx, out[t * 5 + j]);
    }
    /* float32 sum of 5 values in [0, 1]: a few ulp */
    g_assert_cmpfloat_with_epsilon (sum, 1.0f, 1e-6);
    g_assert_cmpfloat (mx, >, 0.3f);
  }
}

/* Counting allocations: glibc's allocator entry points are wrapped by the
 * test binary, so any allocation during forward is seen. Not under
 * AddressSanitizer, which owns malloc itself. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define __SANITIZE_ADDRESS__ 1
#endif
#endif
#ifndef __SANITIZE_ADDRESS__
#define COUNT_ALLOCATIONS 1
extern void *__libc_malloc (size_t);
extern void *__libc_calloc (size_t, size_t);
extern void *__libc_realloc (void *, size_t);
extern void *__libc_memalign (size_t, size_t);
static volatile gint alloc_count;

void *
malloc (size_t n)
{
  g_atomic_int_inc (&alloc_count);
  return __libc_malloc (n);
}

void *
calloc (size_t n, size_t m)
{
  g_atomic_int_inc (&alloc_count);
  return __libc_calloc (n, m);
}

void *
realloc (void *p, size_t n)
{
  g_atomic_int_inc (&alloc_count);
  return __libc_realloc (p, n);
}

int
posix_memalign (void **p, size_t align, size_t n)
{
  g_atomic_int_inc (&alloc_count);
  *p = __libc_memalign (align, n);
  return *p != NULL || n == 0 ? 0 : 12 /* ENOMEM */ ;
}

void *
aligned_alloc (size_t align, size_t n)
{
  g_atomic_int_inc (&alloc_count);
  return __libc_memalign (align, n);
}

static void
test_no_allocation (void)
{
  g_autoptr (RefCase) rc = ref_case_load ("i40_h128_l2_softmax12");
  LstmModel *m = rc->model;
  g_autoptr (LstmState) s = lstm_state_new (m, 16);
  g_autofree float *out = g_new (float, (gsize) rc->T * m->head_size);
  gint before, after;

  lstm_forward (m, s, rc->input, rc->T, out);   /* warm-up */
  before = g_atomic_int_get (&alloc_count);
  lstm_forward (m, s, rc->input, 1, out);
  lstm_forward (m, s, rc->input, 7, out);
  lstm_forward (m, s, rc->input, rc->T, out);
  after = g_atomic_int_get (&alloc_count);
  g_test_message ("allocations during forward after warm-up: %d",
      after - before);
  g_assert_cmpint (after - before, ==, 0);

  /* and the counter does see allocations */
  g_free (g_malloc (16));
  g_assert_cmpint (g_atomic_int_get (&alloc_count), >, after);
}
#endif

int
main (int argc, char **argv)
{
  guint i;

  g_test_init (&argc, &argv, NULL);
  lstm_blas_set_threads (1);
  for (i = 0; ref_case_names[i] != NULL; i++) {
    g_autofree gchar *p1 = g_strdup_printf ("/lstm/forward/reference/%s",
        ref_case_names[i]);
    g_autofree gchar *p2 =
        g_strdup_printf ("/lstm/forward/chunked-equals-whole/%s",
        ref_case_names[i]);
    g_test_add_data_func (p1, ref_case_names[i], test_reference);
    g_test_add_data_func (p2, ref_case_names[i], test_chunked_equals_whole);
  }
  g_test_add_func ("/lstm/forward/state-only", test_state_only);
  g_test_add_func ("/lstm/forward/softmax-head", test_softmax_head);
#ifdef COUNT_ALLOCATIONS
  g_test_add_func ("/lstm/forward/no-allocation", test_no_allocation);
#endif
  return g_test_run ();
}
