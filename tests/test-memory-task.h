/* The memory task of lstmtrain's tests: three "tones" (one-hot on
 * channels 0..2 for 3 frames), then 30 frames of noise, then a marker on
 * channel 3; the class is the tone, so the network must carry it. */
#ifndef __TEST_MEMORY_TASK_H__
#define __TEST_MEMORY_TASK_H__

#include <gst/gst.h>

G_BEGIN_DECLS

/* One sequence of the given tone (0..2): [34, 4] floats into x. */
void memory_task_sequence (GRand * rand, gint tone, float *x);

/* A 16-bit WAV (4 channels, 100 frames/s) of n sequences back to back
 * and an .srt with one cue per sequence (low, <i>mid</i>, high); the
 * tones go to tones[n]. */
void memory_task_write (const gchar * wav, const gchar * srt, guint n,
    guint32 seed, gint * tones);

/* Runs a gst-launch description to EOS or an error and returns that
 * message; lstmtrain's element messages are added to `messages`. */
GstMessage *memory_task_run_pipeline (const gchar * desc,
    GPtrArray * messages);

/* n held-out sequences through the lstm element (output-mode=last, one
 * DISCONT buffer each): the fraction classified right. */
gdouble memory_task_accuracy (const gchar * model, const gchar * labels[3],
    guint n, guint32 seed);

/* lstmtrain on 400 sequences (seed 11) with the settings of
 * test-element-train.c's memory task (hidden-size=24, 30 epochs, Adam at
 * 0.01, batches of 16, seed 3, labels low, mid, high) plus `props`, to
 * `model`; the WAV and .srt are written in `dir` and removed. Fails the
 * test on an error message; element messages go to `messages`. */
void memory_task_train (const gchar * dir, const gchar * model,
    const gchar * props, GPtrArray * messages);

G_END_DECLS

#endif
