/* Frames per second of lstm_forward, one thread, state carried across calls.
 *
 * Usage: bench-forward [--min-time S] [--reps N] [--warmup S]
 *                      [--frames 1,10,100] [--weights f32|f16|int8]
 *                      [--per-call] SHAPE...
 *
 * SHAPE is I,H,L[,O] (input size, hidden size, layers, softmax head of O
 * outputs; O = 0 or absent means no head), e.g. 40,128,2,12. The default
 * shapes are those of BENCHMARKS.md.
 *
 * Each measurement calls lstm_forward with `frames` frames per call until
 * `min-time` seconds have passed and counts frames per second; it is taken
 * `reps` times and the median is reported, after `warmup` seconds of the
 * same calls. --weights stores the weight matrices in that precision
 * (lstm_model_set_weight_precision; f32 by default). The library runs on one thread (lstm_blas_set_threads (1));
 * run.sh also sets OPENBLAS_NUM_THREADS=1 so that OpenBLAS starts no
 * idle threads. Output, tab-separated, a `result` line per case:
 *
 *   core     <lstm_blas_get_core ()>, the core OpenBLAS chose
 *   openblas <openblas_get_config ()>
 *   kernels  <the matrix kernels lstm-blas.c chose: lstm_blas_get_kernels ()>
 *   result   <shape name>  <frames per call>  <median fps>  <min fps>  <max fps>
 *
 * The shape name is the one bench_torch.py prints, so run.sh can join them.
 *
 * --per-call also times every call of the first measurement alone and
 * prints the frames per second of the fastest tenth (10th percentile of
 * the call times), which a shared machine's other processes, which
 * preempt some calls and not others, move far less than the wall-clock
 * rates:
 *
 *   percall  <shape name>  <frames per call>  <fps at the p10 call time>
 */
#include "lstm.h"

#include <cblas.h>
#undef I                        /* complex.h's, pulled in by cblas.h */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_MIN_TIME 0.5    /* seconds per measurement */
#define DEFAULT_REPS 5
#define DEFAULT_WARMUP 0.3      /* seconds before the first measurement */
#define DEFAULT_FRAMES "1,10,100"
#define INPUT_FRAMES 1000       /* distinct input frames, cycled through */

static const gchar *default_shapes[] = {
  "5,17,1", "40,128,2,12", "3,64,3", "80,512,2", NULL
};

typedef struct
{
  LstmModel *model;
  LstmState *state;
  float *input;                 /* [INPUT_FRAMES + frames, I] */
  float *output;                /* [frames, output size] */
  guint frames;                 /* per call */
  guint pos;                    /* next input frame */
} Bench;

/* Calls lstm_forward for at least `seconds`; returns frames per second. */
static double
run_for (Bench * b, double seconds)
{
  gint64 start = g_get_monotonic_time (), now;
  guint64 frames = 0;
  guint I = b->model->input_size, n;

  do {
    /* A batch of calls between clock reads keeps the clock off the
     * profile of the 1-frame case. */
    for (n = 0; n < 16; n++) {
      lstm_forward (b->model, b->state, b->input + (gsize) b->pos * I,
          b->frames, b->output);
      b->pos = (b->pos + b->frames) % INPUT_FRAMES;
      frames += b->frames;
    }
    now = g_get_monotonic_time ();
  } while (now - start < seconds * G_USEC_PER_SEC);
  return frames / ((now - start) / (double) G_USEC_PER_SEC);
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* Seconds on the monotonic clock, to the nanosecond (a call of S1 takes
 * 100 us: g_get_monotonic_time's microseconds are too coarse). */
static double
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Times calls one by one for `seconds`; returns frames per second at the
 * 10th percentile of the call times. */
static double
run_per_call (Bench * b, double seconds)
{
  GArray *t = g_array_new (FALSE, FALSE, sizeof (double));
  double start = now_ns (), t0, t1 = start, p10;
  guint I = b->model->input_size;

  while (t1 - start < seconds) {
    double dt;
    t0 = now_ns ();
    lstm_forward (b->model, b->state, b->input + (gsize) b->pos * I,
        b->frames, b->output);
    t1 = now_ns ();
    dt = t1 - t0;
    b->pos = (b->pos + b->frames) % INPUT_FRAMES;
    g_array_append_val (t, dt);
  }
  g_array_sort (t, cmp_double);
  p10 = g_array_index (t, double, t->len / 10);
  g_array_free (t, TRUE);
  return b->frames / p10;
}

static gchar *
shape_name (guint I, guint H, guint L, guint O)
{
  if (O > 0)
    return g_strdup_printf ("I=%u H=%u L=%u +softmax%u", I, H, L, O);
  return g_strdup_printf ("I=%u H=%u L=%u", I, H, L);
}

static gboolean
bench_shape (const gchar * spec, guint * frames_list, guint n_frames,
    double min_time, guint reps, double warmup, LstmPrecision weights,
    gboolean per_call)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *name = NULL;
  guint I = 0, H = 0, L = 0, O = 0, f, r, j;
  double *fps = g_new (double, reps);
  gsize n_in;
  Bench b = { 0 };

  if (sscanf (spec, "%u,%u,%u,%u", &I, &H, &L, &O) < 3) {
    g_printerr ("bad shape '%s' (want I,H,L[,O])\n", spec);
    g_free (fps);
    return FALSE;
  }
  b.model = lstm_model_new (I, H, L, O, LSTM_OUTPUT_SOFTMAX, &error);
  if (b.model == NULL) {
    g_printerr ("shape '%s': %s\n", spec, error->message);
    g_free (fps);
    return FALSE;
  }
  lstm_model_init_random (b.model, 1234);
  if (!lstm_model_set_weight_precision (b.model, weights, &error)) {
    g_printerr ("shape '%s': %s\n", spec, error->message);
    lstm_model_unref (b.model);
    g_free (fps);
    return FALSE;
  }
  b.state = lstm_state_new (b.model, 0);
  name = shape_name (I, H, L, O);

  /* Inputs uniform in [-1, 1]; the extra rows let a call read past the
   * wrap point without a copy. */
  n_in = 0;
  for (f = 0; f < n_frames; f++)
    n_in = MAX (n_in, (gsize) (INPUT_FRAMES + frames_list[f]) * I);
  b.input = g_new (float, n_in);
  {
    GRand *rand = g_rand_new_with_seed (42);
    for (j = 0; j < n_in; j++)
      b.input[j] = (float) g_rand_double_range (rand, -1.0, 1.0);
    g_rand_free (rand);
  }

  for (f = 0; f < n_frames; f++) {
    b.frames = frames_list[f];
    b.output = g_new (float, (gsize) b.frames *
        lstm_model_get_output_size (b.model));
    lstm_state_reset (b.state);
    run_for (&b, warmup);
    for (r = 0; r < reps; r++)
      fps[r] = run_for (&b, min_time);
    qsort (fps, reps, sizeof (double), cmp_double);
    printf ("result\t%s\t%u\t%.1f\t%.1f\t%.1f\n", name, b.frames,
        fps[reps / 2], fps[0], fps[reps - 1]);
    if (per_call)
      printf ("percall\t%s\t%u\t%.1f\n", name, b.frames,
          run_per_call (&b, min_time * reps));
    fflush (stdout);
    g_free (b.output);
  }

  g_free (b.input);
  g_free (fps);
  lstm_state_free (b.state);
  lstm_model_unref (b.model);
  return TRUE;
}

int
main (int argc, char **argv)
{
  gdouble min_time = DEFAULT_MIN_TIME, warmup = DEFAULT_WARMUP;
  gint reps = DEFAULT_REPS;
  g_autofree gchar *frames_str = NULL, *config = NULL, *weights_str = NULL;
  LstmPrecision weights = LSTM_PRECISION_F32;
  gboolean per_call = FALSE;
  g_auto (GStrv) frames_tok = NULL;
  guint *frames_list, n_frames, i;
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  GOptionEntry entries[] = {
    {"min-time", 0, 0, G_OPTION_ARG_DOUBLE, &min_time,
        "Seconds per measurement (default 0.5)", "S"},
    {"reps", 0, 0, G_OPTION_ARG_INT, &reps,
        "Measurements per case; the median is reported (default 5)", "N"},
    {"warmup", 0, 0, G_OPTION_ARG_DOUBLE, &warmup,
        "Seconds of warm-up per case (default 0.3)", "S"},
    {"frames", 0, 0, G_OPTION_ARG_STRING, &frames_str,
        "Frames per call, comma-separated (default 1,10,100)", "LIST"},
    {"weights", 0, 0, G_OPTION_ARG_STRING, &weights_str,
        "Weight precision: f32 (default), f16 or int8", "P"},
    {"per-call", 0, 0, G_OPTION_ARG_NONE, &per_call,
          "Also print frames/s at the 10th percentile of single-call times",
        NULL},
    {NULL}
  };
  gboolean ok = TRUE;

  ctx = g_option_context_new ("[I,H,L[,O]...] - lstm_forward frames/second");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("%s\n", error->message);
    return 2;
  }
  if (weights_str != NULL && !lstm_precision_from_string (weights_str,
          &weights)) {
    g_printerr ("--weights must be f32, f16 or int8\n");
    return 2;
  }
  if (reps < 1 || min_time <= 0 || warmup < 0) {
    g_printerr ("--reps must be >= 1, --min-time > 0, --warmup >= 0\n");
    return 2;
  }

  frames_tok = g_strsplit (frames_str ? frames_str : DEFAULT_FRAMES, ",", -1);
  n_frames = g_strv_length (frames_tok);
  frames_list = g_new (guint, MAX (n_frames, 1));
  for (i = 0; i < n_frames; i++) {
    frames_list[i] = (guint) g_ascii_strtoull (frames_tok[i], NULL, 10);
    if (frames_list[i] == 0 || frames_list[i] > 1000000) {
      g_printerr ("bad frames per call '%s'\n", frames_tok[i]);
      return 2;
    }
  }
  if (n_frames == 0) {
    g_printerr ("--frames is empty\n");
    return 2;
  }

  lstm_blas_set_threads (1);
  printf ("core\t%s\n", lstm_blas_get_core ());
  config = g_strstrip (g_strdup (openblas_get_config ()));
  printf ("openblas\t%s\n", config);
  fflush (stdout);

  if (argc > 1) {
    for (i = 1; i < (guint) argc; i++)
      ok &= bench_shape (argv[i], frames_list, n_frames, min_time, reps,
          warmup, weights, per_call);
  } else {
    for (i = 0; default_shapes[i] != NULL; i++)
      ok &= bench_shape (default_shapes[i], frames_list, n_frames, min_time,
          reps, warmup, weights, per_call);
  }
  printf ("kernels\t%s\n", lstm_blas_get_kernels ());
  printf ("weights\t%s\n", lstm_precision_to_string (weights));
  g_free (frames_list);
  return ok ? 0 : 1;
}
