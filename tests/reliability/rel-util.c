/* Shared helpers of the reliability programs; see rel-util.h. */
#include "rel-util.h"

#include <math.h>
#include <string.h>

void
rel_parse_options (int *argc, char ***argv, const GOptionEntry * entries,
    const gchar * summary)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new (summary);
  g_autoptr (GError) error = NULL;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, argc, argv, &error))
    g_error ("%s", error->message);
}

gchar *
rel_write_model (const gchar * dir, const gchar * name, guint input_size,
    guint hidden_size, guint num_layers, guint head_size, guint64 seed)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LstmModel) m = lstm_model_new (input_size, hidden_size,
      num_layers, head_size, head_size > 0 ? LSTM_OUTPUT_SOFTMAX :
      LSTM_OUTPUT_IDENTITY, &error);
  gchar *path = g_build_filename (dir, name, NULL);

  if (m == NULL)
    g_error ("cannot make a model: %s", error->message);
  lstm_model_init_random (m, seed);
  if (!lstm_model_save (m, path, &error))
    g_error ("cannot write %s: %s", path, error->message);
  return path;
}

/* x[t, c] = sin (2 pi f t / 100 + phase) with f = 1 + (3 stream + c) % 17
 * Hz at 100 frames/s; phase = stream / 7. */
void
rel_fill_frames (float *x, guint64 first, guint n, guint channels, guint stream)
{
  guint i, c;

  for (i = 0; i < n; i++) {
    double t = (double) ((first + i) % 100000) / 100.0;
    for (c = 0; c < channels; c++) {
      double f = 1 + (3 * stream + c) % 17;
      x[(gsize) i * channels + c] = (float) sin (2 * G_PI * f * t
          + stream / 7.0);
    }
  }
}

static guint64
status_kib (const gchar * status, const gchar * key)
{
  const gchar *p = strstr (status, key);

  return p != NULL ? g_ascii_strtoull (p + strlen (key), NULL, 10) : 0;
}

void
rel_memory (guint64 * rss_kib, guint64 * hwm_kib)
{
  g_autofree gchar *status = NULL;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    g_error ("cannot read /proc/self/status");
  *rss_kib = status_kib (status, "VmRSS:");
  *hwm_kib = status_kib (status, "VmHWM:");
}

guint64
rel_check_vectors (const float *v, gsize size, gint channels,
    const gchar * where)
{
  gsize i, n = size / sizeof (float);

  if (channels <= 0 || size % ((gsize) channels * sizeof (float)) != 0)
    g_error ("%s: %" G_GSIZE_FORMAT " bytes are not whole frames of %d "
        "floats", where, size, channels);
  for (i = 0; i < n; i++)
    if (!isfinite (v[i]))
      g_error ("%s: output value %" G_GSIZE_FORMAT " is %g", where, i, v[i]);
  return n / channels;
}

gint
rel_caps_channels (GstCaps * caps)
{
  GstStructure *s = gst_caps_get_structure (caps, 0);
  gint channels = 0;

  if (gst_structure_has_name (s, "text/x-raw"))
    return 0;
  gst_structure_get_int (s, "channels", &channels);
  return channels;
}

gboolean
rel_under_asan (void)
{
#if defined(__SANITIZE_ADDRESS__)
  return TRUE;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return TRUE;
#endif
#endif
  return FALSE;
}
