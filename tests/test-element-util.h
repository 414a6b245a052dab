/* Helpers of the lstm element's tests (GstHarness). */
#ifndef __TEST_ELEMENT_UTIL_H__
#define __TEST_ELEMENT_UTIL_H__

#include "gstlstm.h"

G_BEGIN_DECLS

/* Waits up to 5 s for a model set while streaming (a new `model` or
 * `weights`) to finish loading in the background; TRUE when it is ready
 * to swap in at the next buffer. */
gboolean element_wait_pending_model (GstLstm * self);

/* lstmtrain's tests (pipelines with appsrc, WAV and .srt files). */
#define TRAIN_RATE 100          /* frames per second */

typedef struct
{
  guint start_ms, end_ms;
  const gchar *label;
} TrainCue;

/* The messages of a run: warnings as "message\ndebug", and the train loss
 * of every epoch. */
typedef struct
{
  GPtrArray *warnings;
  GArray *losses;
} TrainSeen;

/* A 32-bit float WAV (format 3; wavparse gives F32LE, so NaN gets
 * through) of n frames of `channels` values at TRAIN_RATE. */
void train_write_f32_wav (const gchar * path, const float *x, guint n,
    guint channels);
void train_write_srt (const gchar * path, const TrainCue * cues, guint n);
/* n frames of `channels` values: sines of their own frequency per channel
 * and a little noise, from frame `first` on. */
void train_make_frames (float *x, guint n, guint channels, guint first,
    guint32 seed);
void train_seen_init (TrainSeen * seen);
void train_seen_clear (TrainSeen * seen);
/* Pops the bus until EOS or an error, which it returns (seen may be
 * NULL). */
GstMessage *train_wait_end (GstBus * bus, TrainSeen * seen);
/* Runs a pipeline description to EOS or an error, which it returns. */
GstMessage *train_run_pipeline (const gchar * desc, TrainSeen * seen);
/* The run ended with EOS (takes msg); an error fails the test. */
void train_assert_eos (GstMessage * msg);
/* The run ended with an error of lstmtrain (named t) whose message is
 * `text` and whose debug string holds `detail` (takes msg); returns the
 * debug string. */
gchar *train_assert_error (GstMessage * msg, const gchar * text,
    const gchar * detail);
/* How many warnings have the message `text`; the last one's debug string
 * in *debug. */
guint train_count_warnings (const TrainSeen * seen, const gchar * text,
    const gchar ** debug);
/* The names in a folder, sorted, joined by spaces ("" when empty). */
gchar *train_dir_listing (const gchar * dir);
/* Removes a test folder and the files in it. */
void train_remove_dir (const gchar * dir);
/* Pushes n frames from `first` on into an appsrc, 50 frames a buffer
 * with PTS; with check, every push must return GST_FLOW_OK. */
void train_push (GstElement * src, const float *x, guint n, guint channels,
    guint first, gboolean check);
void train_end_of_stream (GstElement * src);
/* The element named `name` of a pipeline (a reference). */
GstElement *train_get (GstElement * p, const gchar * name);

G_END_DECLS

#endif
