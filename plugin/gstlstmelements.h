/* The elements of the lstm plugin. */
#ifndef __GST_LSTM_ELEMENTS_H__
#define __GST_LSTM_ELEMENTS_H__

#include <gst/gst.h>

G_BEGIN_DECLS

GST_ELEMENT_REGISTER_DECLARE (lstm);
GST_ELEMENT_REGISTER_DECLARE (lstmtrain);
GST_ELEMENT_REGISTER_DECLARE (lstmfeatures);

G_END_DECLS

#endif
