/* libFuzzer target: the model loader on arbitrary bytes.
 *
 * Every input must either load or be refused with an LSTM_ERROR; nothing
 * may crash, read out of bounds, leak or hit a g_critical. A model that
 * loads must also survive save -> load -> save with identical bytes and
 * parameters, and run a few frames of zeros.
 *
 * Build: see tests/fuzz/meson.build (clang only). Run: run-fuzz.sh.
 */
#include "lstm.h"

#include <stdint.h>
#include <string.h>

#define N_FRAMES 3

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  /* A g_critical from us or json-glib is a bug: make it a crash. */
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  lstm_blas_set_threads (1);
  return 0;
}

/* Saves `model` and loads the bytes back; aborts if that fails. */
static LstmModel *
reload (const LstmModel * model, GBytes ** saved)
{
  g_autoptr (GError) error = NULL;
  LstmModel *back;
  gsize size;
  const guint8 *data;

  *saved = lstm_model_save_to_bytes (model);
  data = g_bytes_get_data (*saved, &size);
  back = lstm_model_load_from_data (data, size, "saved", &error);
  if (back == NULL)
    g_error ("a saved model does not load back: %s", error->message);
  return back;
}

static void
check_round_trip (const LstmModel * model)
{
  g_autoptr (LstmModel) back = NULL;
  g_autoptr (LstmModel) back2 = NULL;
  g_autoptr (GBytes) saved = NULL;
  g_autoptr (GBytes) saved2 = NULL;

  /* The first save may drop what the model does not use (an 'output' of a
   * model without head); after that the bytes must be stable. */
  back = reload (model, &saved);
  back2 = reload (back, &saved2);
  if (!g_bytes_equal (saved, saved2))
    g_error ("save -> load -> save changes the bytes");
  if (back->n_params != model->n_params
      || memcmp (back->params, model->params,
          model->n_params * sizeof (float)) != 0)
    g_error ("save -> load changes the parameters");
  if (back->input_size != model->input_size
      || back->hidden_size != model->hidden_size
      || back->num_layers != model->num_layers
      || back->head_size != model->head_size)
    g_error ("save -> load changes the sizes");
  if ((back->input_mean == NULL) != (model->input_mean == NULL)
      || (model->input_mean != NULL
          && (memcmp (back->input_mean, model->input_mean,
                  model->input_size * sizeof (float)) != 0
              || memcmp (back->input_std, model->input_std,
                  model->input_size * sizeof (float)) != 0)))
    g_error ("save -> load changes the normalization");
}

static void
run_zeros (const LstmModel * model)
{
  g_autoptr (LstmState) state = lstm_state_new (model, 2);
  g_autofree float *input = g_new0 (float, N_FRAMES * model->input_size);
  g_autofree float *output = g_new0 (float,
      N_FRAMES * lstm_model_get_output_size (model));

  /* 3 frames with chunks of 2: the chunked path runs too */
  lstm_forward (model, state, input, N_FRAMES, output);
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LstmModel) model = NULL;

  model = lstm_model_load_from_data (data, size, "fuzz", &error);
  if (model == NULL) {
    if (error == NULL || error->domain != LSTM_ERROR
        || error->message == NULL || error->message[0] == '\0')
      g_error ("refused without an LSTM_ERROR");
    return 0;
  }
  if (error != NULL)
    g_error ("loaded and set an error: %s", error->message);
  if (!lstm_model_check_finite (model, NULL))
    g_error ("a loaded model holds non-finite values");

  check_round_trip (model);
  run_zeros (model);
  return 0;
}
