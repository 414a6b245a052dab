/* The elements of the lstm plugin. */
#ifndef __GST_LSTM_ELEMENTS_H__
#define __GST_LSTM_ELEMENTS_H__

#include <gst/gst.h>

G_BEGIN_DECLS

GST_ELEMENT_REGISTER_DECLARE (lstm);
GST_ELEMENT_REGISTER_DECLARE (lstmtrain);
GST_ELEMENT_REGISTER_DECLARE (lstmfeatures);

/* gstlstmcaps.c: channels, rate and sample format (S16LE or F32LE) of
 * audio/x-raw caps; FALSE when they are not such caps or lack one. */
gboolean gst_lstm_parse_audio_caps (const GstCaps * caps, guint * channels,
    guint * rate, gboolean * s16);
/* gstlstmcaps.c: the frame stream the elements output: F32LE vectors of
 * `channels` values, `rate` frames a second, unpositioned. */
GstCaps *gst_lstm_frame_caps (gint channels, gint rate);

/* Defines `static GType fn (void)`, registering the enum type `name`
 * whose GEnumValues are the arguments (the terminator added) on first
 * call: an enum property's type. */
#define GST_LSTM_DEFINE_ENUM_TYPE(fn, name, ...)                             \
static GType                                                                 \
fn (void)                                                                    \
{                                                                            \
  static GType type = 0;                                                     \
  static const GEnumValue values[] = { __VA_ARGS__, {0, NULL, NULL} };       \
  if (g_once_init_enter (&type))                                             \
    g_once_init_leave (&type, g_enum_register_static (name, values));        \
  return type;                                                               \
}

G_END_DECLS

#endif
