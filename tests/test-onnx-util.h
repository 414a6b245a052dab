/* Helpers shared by the ONNX import tests (test-onnx.c and
 * test-onnx-variants.c): the files of tests/reference/onnx/
 * (generate_onnx.py) and the end-to-end check. */
#ifndef __TEST_ONNX_UTIL_H__
#define __TEST_ONNX_UTIL_H__

#include "test-util.h"

G_BEGIN_DECLS

/* tests/reference/onnx/<file> (next to LSTM_REFERENCE_DIR's data/). */
gchar *onnx_ref_path (const gchar * file);

/* A parsed safetensors file with the bytes it points into. */
typedef struct
{
  GBytes *bytes;
  LstmTensorFile *file;
} OnnxRefFile;

OnnxRefFile *onnx_ref_file_parse (GBytes * bytes, const gchar * name);
void onnx_ref_file_free (OnnxRefFile * f);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (OnnxRefFile, onnx_ref_file_free);

/* A tensor of `f` as floats; the test fails if it is missing. */
float *onnx_ref_tensor (const OnnxRefFile * f, const gchar * name,
    guint64 * n_elements);

/* Loads <case>.onnx with lstm_model_load (the .onnx path), runs
 * <case>.data.safetensors' input through lstm_forward and returns the max
 * error relative to the expected output's largest magnitude. */
double onnx_case_forward_error (const gchar * name);

G_END_DECLS

#endif
