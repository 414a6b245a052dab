/* Shared helpers of the reliability programs (soak, load, concurrency,
 * faults): models written for the run, deterministic input frames, memory
 * figures and output checks. */
#ifndef __REL_UTIL_H__
#define __REL_UTIL_H__

#include <gst/gst.h>
#include "lstm.h"

G_BEGIN_DECLS

/* Parses the command line (`entries` and GStreamer's options; gst_init
 * included); aborts with the message on a bad option. */
void rel_parse_options (int *argc, char ***argv, const GOptionEntry * entries,
    const gchar * summary);

/* Writes a random model (PyTorch's init from `seed`) to dir/name and
 * returns its path (free with g_free). Aborts on failure. */
gchar *rel_write_model (const gchar * dir, const gchar * name,
    guint input_size, guint hidden_size, guint num_layers, guint head_size,
    guint64 seed);

/* Frames [first, first + n) of input stream `stream`: sines whose
 * frequency and phase depend on the stream and the channel, so every
 * stream is different and every frame reproducible. x: [n, channels]. */
void rel_fill_frames (float *x, guint64 first, guint n, guint channels,
    guint stream);

/* VmRSS and VmHWM (peak) of this process, in KiB, from /proc/self/status. */
void rel_memory (guint64 * rss_kib, guint64 * hwm_kib);

/* Aborts unless `size` bytes are whole frames of `channels` floats, all
 * finite. Returns the number of frames. */
guint64 rel_check_vectors (const float *v, gsize size, gint channels,
    const gchar * where);

/* The output frame size from caps (channels), 0 for text. */
gint rel_caps_channels (GstCaps * caps);

/* TRUE when built with AddressSanitizer (its quarantine keeps freed memory
 * in RSS, so RSS figures mean nothing there). */
gboolean rel_under_asan (void);

G_END_DECLS

#endif
