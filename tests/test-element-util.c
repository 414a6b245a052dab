/* Helpers of the lstm element's tests (test-element-util.h). */
#include "test-element-util.h"

gboolean
element_wait_pending_model (GstLstm * self)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  gboolean loaded = FALSE;

  while (!loaded && g_get_monotonic_time () < deadline) {
    GST_OBJECT_LOCK (self);
    loaded = self->pending_model != NULL;
    GST_OBJECT_UNLOCK (self);
    if (!loaded)
      g_usleep (1000);
  }
  return loaded;
}
