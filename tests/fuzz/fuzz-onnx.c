/* libFuzzer target: the ONNX importer on arbitrary bytes.
 *
 * Every input must either convert or be refused with an LSTM_ERROR; nothing
 * may crash, read out of bounds, leak or hit a g_critical. What converts
 * must be a well-formed safetensors file of finite F32 tensors; when this
 * build's loader takes it, a few frames of zeros must run.
 *
 * Build: see tests/fuzz/meson.build (clang only). Run: run-fuzz.sh BUILD
 * SECONDS onnx.
 */
#include "lstm-private.h"

#include <stdint.h>

#define N_FRAMES 3

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  lstm_blas_set_threads (1);
  return 0;
}

static void
check_refusal (const GError * error)
{
  if (error == NULL || error->domain != LSTM_ERROR
      || error->message == NULL || error->message[0] == '\0')
    g_error ("refused without an LSTM_ERROR");
}

/* The converter's output is ours: it must parse, and hold finite floats. */
static void
check_output (GBytes * bytes)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LstmTensorFile) f = NULL;
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  guint i;

  f = lstm_safetensors_parse (data, size, "converted", &error);
  if (f == NULL)
    g_error ("the converter wrote a file that does not parse: %s",
        error->message);
  for (i = 0; i < f->tensors->len; i++) {
    const LstmTensor *t = f->tensors->pdata[i];
    g_autofree float *x = g_new (float, MAX (t->n_elements, 1));
    if (t->dtype != LSTM_DTYPE_F32 || !lstm_tensor_to_f32 (f, t, x, &error))
      g_error ("converted tensor '%s' is not finite F32", t->name);
  }
}

static void
run_zeros (GBytes * bytes)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LstmModel) model = NULL;
  g_autoptr (LstmState) state = NULL;
  g_autofree float *input = NULL, *output = NULL;
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);

  model = lstm_model_load_from_data (data, size, "converted", &error);
  if (model == NULL) {          /* e.g. a GRU, before the variants work */
    check_refusal (error);
    return;
  }
  state = lstm_state_new (model, 2);
  input = g_new0 (float, N_FRAMES * model->input_size);
  output = g_new0 (float, N_FRAMES * lstm_model_get_output_size (model));
  lstm_forward (model, state, input, N_FRAMES, output);
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = NULL;

  bytes = lstm_onnx_convert (data, size, "fuzz", &error);
  if (bytes == NULL) {
    check_refusal (error);
    return 0;
  }
  if (error != NULL)
    g_error ("converted and set an error: %s", error->message);
  check_output (bytes);
  run_zeros (bytes);
  return 0;
}
