/* Helpers of the lstm element's tests (GstHarness). */
#ifndef __TEST_ELEMENT_UTIL_H__
#define __TEST_ELEMENT_UTIL_H__

#include "gstlstm.h"

G_BEGIN_DECLS

/* Waits up to 5 s for a model set while streaming (a new `model` or
 * `weights`) to finish loading in the background; TRUE when it is ready
 * to swap in at the next buffer. */
gboolean element_wait_pending_model (GstLstm * self);

G_END_DECLS

#endif
