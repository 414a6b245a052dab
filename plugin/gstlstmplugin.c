/* gst-lstm: LSTM inference and training elements.
 *
 * Registration only; each element registers itself from its own file.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>

static gboolean
plugin_init (GstPlugin * plugin)
{
  /* The elements (lstm, lstmtrain, lstmfeatures) register here as they land. */
  return TRUE;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, lstm,
    "LSTM networks in pipelines: streaming inference with state kept across "
    "buffers, training, and Kaldi-compatible features",
    plugin_init, VERSION, "LGPL", "gst-lstm", "https://example.invalid/gst-lstm")
