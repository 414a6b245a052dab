/* Training frames per second of lstm_trainer_step, one thread.
 *
 * Usage: bench-train [--min-time S] [--reps N] [--warmup S] [--batch B]
 *                    [--frames T] [--optimizer adam|sgd|rmsprop] SHAPE...
 *
 * SHAPE is I,H,L,O (input size, hidden size, layers, classes of a softmax
 * head), e.g. 40,128,2,12; the defaults are those of BENCHMARKS.md. Each
 * step trains on a batch of B sequences of T frames (cross-entropy on every
 * frame, a class per frame), Adam by default: forward with the caches,
 * backward through time, the update. A measurement runs steps for at least
 * `min-time` seconds and counts B * T frames per step; it is taken `reps`
 * times and the median reported, after `warmup` seconds of steps. The
 * batches cycle through 4 different random batches. Output, tab-separated,
 * as bench-forward's (tests/bench/bench_train_torch.py prints the same for
 * PyTorch):
 *
 *   core     <lstm_blas_get_core ()>
 *   kernels  <lstm_blas_get_kernels ()>
 *   result   <shape name>  <B>x<T>  <median fps>  <min fps>  <max fps>
 */
#include "lstm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MIN_TIME 2.0    /* seconds per measurement */
#define DEFAULT_REPS 5
#define DEFAULT_WARMUP 1.0      /* seconds before the first measurement */
#define DEFAULT_BATCH 32
#define DEFAULT_FRAMES 100
#define N_BATCHES 4             /* distinct batches, cycled through */

static const gchar *default_shapes[] = { "40,128,1,12", "40,128,2,12", NULL };

typedef struct
{
  LstmTrainer *trainer;
  LstmBatch batches[N_BATCHES];
  guint next;
  guint frames_per_step;
} Bench;

/* Steps for at least `seconds`; returns frames per second. */
static double
run_for (Bench * b, double seconds)
{
  g_autoptr (GError) error = NULL;
  gint64 start = g_get_monotonic_time (), now;
  guint64 frames = 0;

  do {
    if (!lstm_trainer_step (b->trainer, &b->batches[b->next], NULL, NULL,
            &error))
      g_error ("step failed: %s", error->message);
    b->next = (b->next + 1) % N_BATCHES;
    frames += b->frames_per_step;
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

static gboolean
bench_shape (const gchar * spec, guint B, guint T, LstmOptimizer opt,
    double min_time, guint reps, double warmup)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LstmModel) model = NULL;
  guint I = 0, H = 0, L = 0, O = 0, i, b, r;
  g_autofree double *fps = g_new (double, reps);
  g_autofree guint *lengths = g_new (guint, B);
  float *input[N_BATCHES];
  gint32 *ids[N_BATCHES];
  const float **inputs[N_BATCHES];
  const gint32 **class_ids[N_BATCHES];
  LstmTrainConfig cfg;
  GRand *rand;
  Bench bench = { 0 };

  if (sscanf (spec, "%u,%u,%u,%u", &I, &H, &L, &O) != 4 || O == 0) {
    g_printerr ("bad shape '%s' (want I,H,L,O)\n", spec);
    return FALSE;
  }
  model = lstm_model_new (I, H, L, O, LSTM_OUTPUT_SOFTMAX, &error);
  if (model == NULL) {
    g_printerr ("shape '%s': %s\n", spec, error->message);
    return FALSE;
  }
  lstm_model_init_random (model, 1234);
  lstm_train_config_init (&cfg, opt);
  bench.trainer = lstm_trainer_new (model, &cfg, B, T, &error);
  if (bench.trainer == NULL) {
    g_printerr ("shape '%s': %s\n", spec, error->message);
    return FALSE;
  }
  bench.frames_per_step = B * T;

  rand = g_rand_new_with_seed (42);
  for (b = 0; b < B; b++)
    lengths[b] = T;
  for (i = 0; i < N_BATCHES; i++) {
    input[i] = g_new (float, (gsize) B * T * I);
    ids[i] = g_new (gint32, (gsize) B * T);
    inputs[i] = g_new (const float *, B);
    class_ids[i] = g_new (const gint32 *, B);
    for (gsize j = 0; j < (gsize) B * T * I; j++)
      input[i][j] = (float) g_rand_double_range (rand, -1.0, 1.0);
    for (gsize j = 0; j < (gsize) B * T; j++)
      ids[i][j] = g_rand_int_range (rand, 0, O);
    for (b = 0; b < B; b++) {
      inputs[i][b] = input[i] + (gsize) b *T * I;
      class_ids[i][b] = ids[i] + (gsize) b *T;
    }
    bench.batches[i].n_sequences = B;
    bench.batches[i].lengths = lengths;
    bench.batches[i].inputs = inputs[i];
    bench.batches[i].class_ids = class_ids[i];
  }
  g_rand_free (rand);

  run_for (&bench, warmup);
  for (r = 0; r < reps; r++)
    fps[r] = run_for (&bench, min_time);
  qsort (fps, reps, sizeof (double), cmp_double);
  printf ("result\tI=%u H=%u L=%u +softmax%u\t%ux%u\t%.1f\t%.1f\t%.1f\n", I,
      H, L, O, B, T, fps[reps / 2], fps[0], fps[reps - 1]);
  fflush (stdout);

  for (i = 0; i < N_BATCHES; i++) {
    g_free (input[i]);
    g_free (ids[i]);
    g_free (inputs[i]);
    g_free (class_ids[i]);
  }
  lstm_trainer_free (bench.trainer);
  return TRUE;
}

int
main (int argc, char **argv)
{
  gdouble min_time = DEFAULT_MIN_TIME, warmup = DEFAULT_WARMUP;
  gint reps = DEFAULT_REPS, batch = DEFAULT_BATCH, frames = DEFAULT_FRAMES;
  g_autofree gchar *opt_name = NULL;
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  GOptionEntry entries[] = {
    {"min-time", 0, 0, G_OPTION_ARG_DOUBLE, &min_time,
        "Seconds per measurement (default 2)", "S"},
    {"reps", 0, 0, G_OPTION_ARG_INT, &reps,
        "Measurements per case; the median is reported (default 5)", "N"},
    {"warmup", 0, 0, G_OPTION_ARG_DOUBLE, &warmup,
        "Seconds of warm-up per case (default 1)", "S"},
    {"batch", 0, 0, G_OPTION_ARG_INT, &batch,
        "Sequences per batch (default 32)", "B"},
    {"frames", 0, 0, G_OPTION_ARG_INT, &frames,
        "Frames per sequence (default 100)", "T"},
    {"optimizer", 0, 0, G_OPTION_ARG_STRING, &opt_name,
        "adam (default), sgd or rmsprop", "NAME"},
    {NULL}
  };
  LstmOptimizer opt = LSTM_OPTIMIZER_ADAM;
  gboolean ok = TRUE;
  gint i;

  ctx = g_option_context_new ("[I,H,L,O...] - training frames/second");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("%s\n", error->message);
    return 2;
  }
  if (reps < 1 || min_time <= 0 || warmup < 0 || batch < 1 || frames < 1) {
    g_printerr ("--reps, --batch, --frames must be >= 1, --min-time > 0, "
        "--warmup >= 0\n");
    return 2;
  }
  if (opt_name != NULL && g_str_equal (opt_name, "sgd"))
    opt = LSTM_OPTIMIZER_SGD;
  else if (opt_name != NULL && g_str_equal (opt_name, "rmsprop"))
    opt = LSTM_OPTIMIZER_RMSPROP;
  else if (opt_name != NULL && !g_str_equal (opt_name, "adam")) {
    g_printerr ("unknown optimizer '%s'\n", opt_name);
    return 2;
  }

  lstm_blas_set_threads (1);
  printf ("core\t%s\n", lstm_blas_get_core ());
  printf ("kernels\t%s\n", lstm_blas_get_kernels ());
  fflush (stdout);

  if (argc <= 1) {
    for (i = 0; default_shapes[i] != NULL; i++)
      ok &= bench_shape (default_shapes[i], batch, frames, opt, min_time,
          reps, warmup);
  } else {
    for (i = 1; i < argc; i++)
      ok &= bench_shape (argv[i], batch, frames, opt, min_time, reps, warmup);
  }
  return ok ? 0 : 1;
}
