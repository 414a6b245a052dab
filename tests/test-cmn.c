/* lstm_cmn (lstmfeatures' cmn-window) against
 * torchaudio.functional.sliding_window_cmn (tests/reference/generate_cmn.py),
 * and its streaming: any split of the frames into pushes gives the same
 * frames, reset and finish start a new stream. */
#include "test-util.h"

#include <stdio.h>
#include <string.h>

/* torchaudio computes in float64 from the F32 input; we sum in double and
 * write F32: the frames (values up to ~20) agree to F32 rounding, well
 * within this absolute error. */
#define CMN_ABS_TOL 1e-5

#define DIM 8
#define FRAMES 350

typedef struct
{
  GBytes *bytes;
  LstmTensorFile *file;
  float *input;                 /* [FRAMES, DIM] */
} CmnRef;

static void
cmn_ref_open (CmnRef * r, gconstpointer unused)
{
  g_autofree gchar *rel = g_build_filename ("..", "features",
      "cmn.safetensors", NULL);
  g_autofree gchar *path = ref_path (rel);
  g_autoptr (GError) error = NULL;
  gsize size;
  const guint8 *data;

  r->bytes = read_file_or_fail (path);
  data = g_bytes_get_data (r->bytes, &size);
  r->file = lstm_safetensors_parse (data, size, path, &error);
  g_assert_no_error (error);
  r->input = ref_take_tensor (r->file, "input", 2, FRAMES, DIM);
}

static void
cmn_ref_close (CmnRef * r, gconstpointer unused)
{
  g_free (r->input);
  lstm_tensor_file_free (r->file);
  g_bytes_unref (r->bytes);
}

/* Pushes n frames in pieces of `piece` frames (0: all at once), then
 * finishes; returns the [n, DIM] frames written, checking that
 * lstm_cmn_frames_after and lstm_cmn_finish_frames foretell each count. */
static float *
run (LstmCmn * cmn, const float *x, guint64 n, guint64 piece)
{
  float *out = g_new0 (float, n * DIM);
  guint64 done = 0, i, k;

  if (piece == 0)
    piece = n;
  for (i = 0; i < n; i += k) {
    guint64 expect, got;
    k = MIN (piece, n - i);
    expect = lstm_cmn_frames_after (cmn, k);
    g_assert_cmpuint (done + expect, <=, n);
    got = lstm_cmn_push (cmn, x + i * DIM, k, out + done * DIM);
    g_assert_cmpuint (got, ==, expect);
    done += got;
  }
  g_assert_cmpuint (lstm_cmn_finish_frames (cmn), ==, n - done);
  done += lstm_cmn_finish (cmn, out + done * DIM);
  g_assert_cmpuint (done, ==, n);
  g_assert_cmpuint (lstm_cmn_get_frames_done (cmn), ==, 0);
  return out;
}

/* The cases are the file's tensors w<W>_n<N>. */
static void
test_torchaudio (CmnRef * r, gconstpointer unused)
{
  GHashTableIter it;
  gpointer key;
  guint n_cases = 0;

  g_hash_table_iter_init (&it, r->file->by_name);
  while (g_hash_table_iter_next (&it, &key, NULL)) {
    guint w, n;
    g_autofree float *expect = NULL;
    g_autofree float *got = NULL;
    g_autoptr (LstmCmn) cmn = NULL;
    double err;

    if (sscanf (key, "w%u_n%u", &w, &n) != 2)
      continue;
    g_assert_cmpuint (n, <=, FRAMES);
    expect = ref_take_tensor (r->file, key, 2, n, DIM);
    cmn = lstm_cmn_new (DIM, w, LSTM_CMN_MIN_WINDOW);
    got = run (cmn, r->input, n, 0);
    err = max_abs_error (got, expect, (gsize) n * DIM);
    g_test_message ("%s: max abs error %.3g", (const gchar *) key, err);
    g_assert_cmpfloat (err, <=, CMN_ABS_TOL);
    n_cases++;
  }
  g_assert_cmpuint (n_cases, >=, 4);
}

/* Streaming: pieces of 1, 7, 99, 100, 101 frames give the whole run's
 * frames exactly (the sums see the same frames in the same order). */
static void
test_split_equals_whole (CmnRef * r, gconstpointer unused)
{
  const guint windows[] = { 600, 50, 150 };
  const guint64 pieces[] = { 1, 7, 99, 100, 101 };
  guint i, j;

  for (i = 0; i < G_N_ELEMENTS (windows); i++) {
    g_autoptr (LstmCmn) cmn = lstm_cmn_new (DIM, windows[i],
        LSTM_CMN_MIN_WINDOW);
    g_autofree float *whole = run (cmn, r->input, FRAMES, 0);
    for (j = 0; j < G_N_ELEMENTS (pieces); j++) {
      g_autofree float *split = run (cmn, r->input, FRAMES, pieces[j]);
      g_assert_cmpmem (split, FRAMES * DIM * sizeof (float), whole,
          FRAMES * DIM * sizeof (float));
    }
  }
}

/* No frame comes out before min_window frames are in; then every frame
 * that is in does. */
static void
test_start_latency (CmnRef * r, gconstpointer unused)
{
  g_autoptr (LstmCmn) cmn = lstm_cmn_new (DIM, 600, LSTM_CMN_MIN_WINDOW);
  g_autofree float *out = g_new (float, FRAMES * DIM);

  g_assert_cmpuint (lstm_cmn_push (cmn, r->input, LSTM_CMN_MIN_WINDOW - 1,
          out), ==, 0);
  g_assert_cmpuint (lstm_cmn_push (cmn, r->input, 1, out), ==,
      LSTM_CMN_MIN_WINDOW);
  g_assert_cmpuint (lstm_cmn_push (cmn, r->input, 1, out), ==, 1);
}

/* A reset in the middle of a stream: what follows is a new stream. */
static void
test_reset (CmnRef * r, gconstpointer unused)
{
  g_autoptr (LstmCmn) fresh = lstm_cmn_new (DIM, 150, LSTM_CMN_MIN_WINDOW);
  g_autoptr (LstmCmn) cmn = lstm_cmn_new (DIM, 150, LSTM_CMN_MIN_WINDOW);
  g_autofree float *expect = run (fresh, r->input + 40 * DIM, 200, 0);
  g_autofree float *junk = g_new (float, FRAMES * DIM);
  g_autofree float *got = NULL;

  lstm_cmn_push (cmn, r->input, 170, junk);
  lstm_cmn_reset (cmn);
  g_assert_cmpuint (lstm_cmn_get_frames_done (cmn), ==, 0);
  got = run (cmn, r->input + 40 * DIM, 200, 13);
  g_assert_cmpmem (got, 200 * DIM * sizeof (float), expect,
      200 * DIM * sizeof (float));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/lstm/cmn/torchaudio", CmnRef, NULL, cmn_ref_open,
      test_torchaudio, cmn_ref_close);
  g_test_add ("/lstm/cmn/split-equals-whole", CmnRef, NULL, cmn_ref_open,
      test_split_equals_whole, cmn_ref_close);
  g_test_add ("/lstm/cmn/start-latency", CmnRef, NULL, cmn_ref_open,
      test_start_latency, cmn_ref_close);
  g_test_add ("/lstm/cmn/reset", CmnRef, NULL, cmn_ref_open,
      test_reset, cmn_ref_close);
  return g_test_run ();
}
