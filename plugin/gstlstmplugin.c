/* gst-lstm: LSTM inference and training elements.
 *
 * Registration only; each element registers itself from its own file.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstlstmelements.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  gboolean ret = FALSE;

  ret |= GST_ELEMENT_REGISTER (lstm, plugin);
  ret |= GST_ELEMENT_REGISTER (lstmtrain, plugin);
  ret |= GST_ELEMENT_REGISTER (lstmfeatures, plugin);
  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, lstm,
    "LSTM networks in pipelines: streaming inference with state kept across "
    "buffers, training, and Kaldi-compatible features",
    plugin_init, VERSION, "LGPL", "gst-lstm",
    "https://example.invalid/gst-lstm")
