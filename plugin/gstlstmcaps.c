/* The raw audio caps that carry the elements' samples and frames. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstlstmelements.h"

gboolean
gst_lstm_parse_audio_caps (const GstCaps * caps, guint * channels,
    guint * rate, gboolean * s16)
{
  const GstStructure *s;
  const gchar *format;
  gint c = 0, r = 0;

  if (caps == NULL || gst_caps_get_size (caps) == 0)
    return FALSE;
  s = gst_caps_get_structure (caps, 0);
  format = gst_structure_get_string (s, "format");
  if (!gst_structure_has_name (s, "audio/x-raw") || format == NULL
      || !gst_structure_get_int (s, "channels", &c)
      || !gst_structure_get_int (s, "rate", &r) || c <= 0 || r <= 0)
    return FALSE;
  if (g_str_equal (format, "S16LE"))
    *s16 = TRUE;
  else if (g_str_equal (format, "F32LE"))
    *s16 = FALSE;
  else
    return FALSE;
  *channels = c;
  *rate = r;
  return TRUE;
}

GstCaps *
gst_lstm_frame_caps (gint channels, gint rate)
{
  return gst_caps_new_simple ("audio/x-raw",
      "format", G_TYPE_STRING, "F32LE",
      "layout", G_TYPE_STRING, "interleaved",
      "channels", G_TYPE_INT, channels,
      "rate", G_TYPE_INT, rate,
      "channel-mask", GST_TYPE_BITMASK, (guint64) 0, NULL);
}
