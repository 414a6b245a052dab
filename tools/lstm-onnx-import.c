/* lstm-onnx-import: converts an ONNX file's LSTM/GRU network to our model
 * file (safetensors with PyTorch names).
 *
 *   lstm-onnx-import in.onnx out.safetensors
 *
 * Prints what it wrote; on a refused model prints the reason (which names
 * the node and attribute) and exits with status 1. The output is written
 * as lstmtrain writes its models (lstm_model_save): atomically, through a
 * symbolic link to a regular file, and never over a folder, a device, a
 * pipe, a socket, a link to nothing or the input itself.
 */
#include "lstm.h"

#include <glib/gstdio.h>
#include <stdio.h>

/* Whether a and b name one file (b may not exist yet). */
static gboolean
same_file (const gchar * a, const gchar * b)
{
  GStatBuf sa, sb;

  return g_stat (a, &sa) == 0 && g_stat (b, &sb) == 0
      && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LstmModel) model = NULL;
  g_autofree gchar *contents = NULL;
  g_autoptr (GBytes) bytes = NULL;
  const guint8 *out;
  gsize size;

  if (argc != 3) {
    fprintf (stderr, "usage: %s IN.onnx OUT.safetensors\n", argv[0]);
    return 2;
  }
  if (same_file (argv[1], argv[2])) {
    fprintf (stderr, "%s: %s is the input file; give another path for the "
        "model\n", argv[0], argv[2]);
    return 1;
  }
  /* refused before the conversion, as lstm_model_save would refuse it */
  if (!lstm_model_check_save_path (argv[2], &error)
      || !g_file_get_contents (argv[1], &contents, &size, &error)) {
    fprintf (stderr, "%s: %s\n", argv[0], error->message);
    return 1;
  }
  bytes = lstm_onnx_convert ((const guint8 *) contents, size, argv[1], &error);
  /* what the element would load: refuse here what it would refuse */
  if (bytes != NULL) {
    out = g_bytes_get_data (bytes, &size);
    model = lstm_model_load_from_data (out, size, argv[2], &error);
  }
  if (model == NULL || !lstm_model_save (model, argv[2], &error)) {
    fprintf (stderr, "%s: %s\n", argv[0], error->message);
    return 1;
  }
  printf ("%s: %u input(s), %u layer(s) of %u, head %u, output %s\n",
      argv[2], model->input_size, model->num_layers, model->hidden_size,
      model->head_size, lstm_output_to_string (model->output));
  return 0;
}
