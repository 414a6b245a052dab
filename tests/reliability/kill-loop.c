/* Kill loop: `lstmtrain` (in gst-launch-1.0) killed with SIGKILL at random
 * moments, over and over; the model file must always be the old model or
 * the new one, byte for byte, never anything else.
 *
 *   kill-loop [--runs N] [--seed S]
 *
 * First one run to completion gives the new model's bytes (training is
 * deterministic: seed=1, audiotestsrc's sine). Then each run starts from
 * the old model in place, trains the same thing, and is killed after a
 * random delay: for a third of the runs uniform over the whole run, for a
 * third within +-15% of the run's end, where the save happens, and for the
 * last third as soon as the save's temporary file appears in the folder
 * (polled every 100 us), so that the kill lands inside the save (saves
 * write an unnamed file and name it only between a link and a rename, so
 * this catches that moment seldom; otherwise the kill comes after the
 * wait). After
 * each kill the file must equal the old or the new bytes. Temporary files
 * an interrupted save leaves are kept across runs (they must not break
 * later saves) and counted at the end. Exit status 0 on success, 77 (skip)
 * in an ASan build, whose plugin gst-launch-1.0 cannot load.
 */
#include "rel-util.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <sys/wait.h>

static gchar *launch;

/* Starts the training pipeline writing `model`. */
static GPid
start_training (const gchar * model)
{
  g_autofree gchar *loc = g_strdup_printf ("model=%s", model);
  const gchar *argv[] = { launch, "-q", "audiotestsrc", "num-buffers=200",
    "samplesperbuffer=100", "!", "audio/x-raw,format=F32LE,channels=8,"
        "rate=100", "!", "lstmtrain", "task=forecast", "hidden-size=128",
    "epochs=2", "seed=1", "shuffle=false", loc, "!", "fakesink", NULL
  };
  g_autoptr (GError) error = NULL;
  GPid pid;

  if (!g_spawn_async (NULL, (gchar **) argv, NULL,
          G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
          &pid, &error))
    g_error ("cannot start gst-launch-1.0: %s", error->message);
  return pid;
}

/* Waits for a run; TRUE if it exited by itself with status 0. */
static gboolean
finish (GPid pid)
{
  gint status;

  if (waitpid (pid, &status, 0) != pid)
    g_error ("waitpid failed");
  g_spawn_close_pid (pid);
  return WIFEXITED (status) && WEXITSTATUS (status) == 0;
}

static GBytes *
read_bytes (const gchar * path)
{
  gchar *data;
  gsize size;

  if (!g_file_get_contents (path, &data, &size, NULL))
    return NULL;
  return g_bytes_new_take (data, size);
}

/* Files in dir other than `keep`. */
static guint
count_others (const gchar * dir, const gchar * keep)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *name;
  guint n = 0;

  while ((name = g_dir_read_name (d)) != NULL)
    n += g_strcmp0 (name, keep) != 0;
  return n;
}

/* Polls until a file other than the model and the temporary files
 * already there appears (a save has begun) or `limit_us` passes; TRUE if
 * the save was seen. */
static gboolean
wait_for_save (const gchar * dir, GPid pid, gint64 limit_us)
{
  guint before = count_others (dir, "m.safetensors");
  gint64 end = g_get_monotonic_time () + limit_us;

  while (g_get_monotonic_time () < end) {
    if (count_others (dir, "m.safetensors") > before)
      return TRUE;
    g_usleep (100);
  }
  return FALSE;
}

int
main (int argc, char **argv)
{
  gint runs = 50, seed = 1, i, n_old = 0, n_new = 0, n_done = 0;
  gint n_in_save = 0;
  GOptionEntry entries[] = {
    {"runs", 0, 0, G_OPTION_ARG_INT, &runs, "Runs to kill", "N"},
    {"seed", 0, 0, G_OPTION_ARG_INT, &seed, "Seed of the kill times", "S"},
    {NULL}
  };
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("lstm-kill-XXXXXX", NULL);
  g_autofree gchar *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree gchar *old_path = NULL;
  g_autoptr (GBytes) old = NULL;
  g_autoptr (GBytes) new = NULL;
  g_autoptr (GRand) rand = NULL;
  gint64 t0, full_us;

  rel_parse_options (&argc, &argv, entries, "- kill loop");
  if (rel_under_asan ()) {
    g_print ("1..0 # SKIP gst-launch-1.0 cannot load an ASan plugin\n");
    return 77;
  }
  launch = g_find_program_in_path ("gst-launch-1.0");
  if (launch == NULL)
    g_error ("gst-launch-1.0 not found");
  rand = g_rand_new_with_seed (seed);

  /* the old model: same sizes, other weights; kept aside too */
  old_path = rel_write_model (dir, "old", 8, 128, 1, 8, 99);
  old = read_bytes (old_path);
  g_unlink (old_path);

  t0 = g_get_monotonic_time ();
  if (!finish (start_training (model)))
    g_error ("the training run to completion failed");
  full_us = g_get_monotonic_time () - t0;
  new = read_bytes (model);
  if (new == NULL || g_bytes_equal (new, old))
    g_error ("the complete run wrote no new model");

  for (i = 0; i < runs; i++) {
    g_autoptr (GBytes) now = NULL;
    gint64 delay = i % 3 == 0 ? g_rand_int_range (rand, 0, full_us) :
        g_rand_int_range (rand, full_us * 85 / 100, full_us * 115 / 100);
    GPid pid;

    if (!g_file_set_contents (model, g_bytes_get_data (old, NULL),
            g_bytes_get_size (old), &error))
      g_error ("%s", error->message);
    pid = start_training (model);
    if (i % 3 == 2)
      n_in_save += wait_for_save (dir, pid, 2 * full_us);
    else
      g_usleep (delay);
    kill (pid, SIGKILL);
    n_done += finish (pid);
    now = read_bytes (model);
    if (now != NULL && g_bytes_equal (now, old)) {
      n_old++;
    } else if (now != NULL && g_bytes_equal (now, new)) {
      n_new++;
    } else {
      g_printerr ("kill-loop: FAIL: run %d (killed after %.3f s): the model "
          "file is %s\n", i, delay / 1e6, now ? "neither the old nor the new "
          "model" : "missing");
      return 1;
    }
  }
  g_print ("kill-loop: %d runs killed with SIGKILL (a full run takes %.2f "
      "s); the model was the old one %d times, the new one %d times "
      "(%d runs had finished; %d were killed inside a save), never "
      "anything else; %u temporary files left by interrupted saves\n", runs,
      full_us / 1e6, n_old, n_new, n_done, n_in_save,
      count_others (dir, "m.safetensors"));
  {
    /* the temporary files did not break saving: one more full run */
    g_autoptr (GBytes) last = NULL;
    if (!finish (start_training (model)))
      g_error ("a save after the kill loop failed");
    last = read_bytes (model);
    if (last == NULL || !g_bytes_equal (last, new)) {
      g_printerr ("kill-loop: FAIL: a save after the loop differs\n");
      return 1;
    }
  }
  {
    g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
    const gchar *name;
    while ((name = g_dir_read_name (d)) != NULL) {
      g_autofree gchar *p = g_build_filename (dir, name, NULL);
      g_unlink (p);
    }
    g_rmdir (dir);
  }
  g_free (launch);
  return 0;
}
