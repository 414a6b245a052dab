/* lstmtrain's properties for the model variants: cell, peephole,
 * coupled-gates, proj-size, layer-norm, cell-clip, bidirectional. They
 * fill an LstmModelConfig; the defaults make a plain nn.LSTM. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstlstmtrain-private.h"
#include "gstlstmelements.h"

#define DEFAULT_CELL LSTM_CELL_LSTM
#define DEFAULT_PEEPHOLE FALSE
#define DEFAULT_COUPLED_GATES FALSE
#define DEFAULT_PROJ_SIZE 0
#define DEFAULT_LAYER_NORM FALSE
#define DEFAULT_CELL_CLIP 0.0
#define DEFAULT_BIDIRECTIONAL FALSE

enum
{
  VPROP_CELL,
  VPROP_PEEPHOLE,
  VPROP_COUPLED_GATES,
  VPROP_PROJ_SIZE,
  VPROP_LAYER_NORM,
  VPROP_CELL_CLIP,
  VPROP_BIDIRECTIONAL,
  N_VPROPS
};

/* *INDENT-OFF* */
GST_LSTM_DEFINE_ENUM_TYPE (gst_lstm_train_cell_get_type, "GstLstmTrainCell",
    {LSTM_CELL_LSTM, "LSTM (nn.LSTM; gates i, f, g, o)", "lstm"},
    {LSTM_CELL_GRU, "GRU (nn.GRU; gates r, z, n)", "gru"})
/* *INDENT-ON* */

void
gst_lstm_train_install_variant_properties (GObjectClass * klass, guint first)
{
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY;

  g_object_class_install_property (klass, first + VPROP_CELL,
      g_param_spec_enum ("cell", "Cell", "The recurrent cell of every layer",
          gst_lstm_train_cell_get_type (), DEFAULT_CELL, rw));
  g_object_class_install_property (klass, first + VPROP_PEEPHOLE,
      g_param_spec_boolean ("peephole", "Peephole", "LSTM only: the input, "
          "forget and output gates also see the cell (ONNX's peephole "
          "weights)", DEFAULT_PEEPHOLE, rw));
  g_object_class_install_property (klass, first + VPROP_COUPLED_GATES,
      g_param_spec_boolean ("coupled-gates", "Coupled gates", "LSTM only: "
          "the input gate is 1 - the forget gate (CIFG)",
          DEFAULT_COUPLED_GATES, rw));
  g_object_class_install_property (klass, first + VPROP_PROJ_SIZE,
      g_param_spec_uint ("proj-size", "Projection size", "LSTM only: "
          "project h to this many values, smaller than hidden-size "
          "(nn.LSTM proj_size; 0: none)", 0, LSTM_MAX_HIDDEN_SIZE - 1,
          DEFAULT_PROJ_SIZE, rw));
  g_object_class_install_property (klass, first + VPROP_LAYER_NORM,
      g_param_spec_boolean ("layer-norm", "Layer norm", "LSTM only: "
          "normalize the input and recurrent products and the cell of every "
          "step (layer-normalized LSTM)", DEFAULT_LAYER_NORM, rw));
  g_object_class_install_property (klass, first + VPROP_CELL_CLIP,
      g_param_spec_double ("cell-clip", "Cell clip", "Clip the inputs of "
          "the gate activations to [-cell-clip, cell-clip] (ONNX's clip; "
          "0: none)", 0.0, G_MAXFLOAT, DEFAULT_CELL_CLIP, rw));
  g_object_class_install_property (klass, first + VPROP_BIDIRECTIONAL,
      g_param_spec_boolean ("bidirectional", "Bidirectional", "Every layer "
          "also runs from the last frame to the first; its output is both "
          "directions' h (the lstm element then waits for each sequence's "
          "end; mode=offline only)", DEFAULT_BIDIRECTIONAL, rw));
}

void
gst_lstm_train_init_variant (LstmModelConfig * c)
{
  lstm_model_config_init (c, 1, 1, 1, 0, LSTM_OUTPUT_IDENTITY);
}

gboolean
gst_lstm_train_set_variant_property (LstmModelConfig * c, guint id,
    const GValue * value)
{
  switch (id) {
    case VPROP_CELL:
      c->cell = g_value_get_enum (value);
      return TRUE;
    case VPROP_PEEPHOLE:
      c->peephole = g_value_get_boolean (value);
      return TRUE;
    case VPROP_COUPLED_GATES:
      c->coupled_gates = g_value_get_boolean (value);
      return TRUE;
    case VPROP_PROJ_SIZE:
      c->proj_size = g_value_get_uint (value);
      return TRUE;
    case VPROP_LAYER_NORM:
      c->layer_norm = g_value_get_boolean (value);
      return TRUE;
    case VPROP_CELL_CLIP:
      c->cell_clip = g_value_get_double (value);
      return TRUE;
    case VPROP_BIDIRECTIONAL:
      c->bidirectional = g_value_get_boolean (value);
      return TRUE;
    default:
      return FALSE;
  }
}

gboolean
gst_lstm_train_get_variant_property (const LstmModelConfig * c, guint id,
    GValue * value)
{
  switch (id) {
    case VPROP_CELL:
      g_value_set_enum (value, c->cell);
      return TRUE;
    case VPROP_PEEPHOLE:
      g_value_set_boolean (value, c->peephole);
      return TRUE;
    case VPROP_COUPLED_GATES:
      g_value_set_boolean (value, c->coupled_gates);
      return TRUE;
    case VPROP_PROJ_SIZE:
      g_value_set_uint (value, c->proj_size);
      return TRUE;
    case VPROP_LAYER_NORM:
      g_value_set_boolean (value, c->layer_norm);
      return TRUE;
    case VPROP_CELL_CLIP:
      g_value_set_double (value, c->cell_clip);
      return TRUE;
    case VPROP_BIDIRECTIONAL:
      g_value_set_boolean (value, c->bidirectional);
      return TRUE;
    default:
      return FALSE;
  }
}
