/* lstmtrain: the collected stream to training sequences: cues, aligned
 * targets, forecast windows. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstlstmtrain-private.h"

#include <math.h>
#include <string.h>

#define GST_CAT_DEFAULT gst_lstm_train_debug

/* ------------------------------------------------------------ sequences */

void
gst_lstm_train_dataset_clear (Dataset * d)
{
  if (d->seqs)
    g_array_unref (d->seqs);
  if (d->labels)
    g_ptr_array_unref (d->labels);
  g_free (d->targets);
  g_free (d->ids);
}

/* First frame index whose PTS is >= t (frame_pts is sorted). */
guint
gst_lstm_train_lower_bound (GArray * pts, GstClockTime t)
{
  guint lo = 0, hi = pts->len;
  while (lo < hi) {
    guint mid = lo + (hi - lo) / 2;
    if (g_array_index (pts, GstClockTime, mid) < t)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

gint
gst_lstm_train_find_label (GPtrArray * labels, const gchar * name)
{
  guint i;
  for (i = 0; i < labels->len; i++)
    if (strcmp (labels->pdata[i], name) == 0)
      return i;
  return -1;
}

/* The `labels` property: fixed classes in order; NULL when unset. */
GPtrArray *
gst_lstm_train_labels_from_property (const gchar * prop)
{
  GPtrArray *labels;
  gchar **parts;
  guint i;

  if (prop == NULL || *prop == '\0')
    return NULL;
  labels = g_ptr_array_new_with_free_func (g_free);
  parts = g_strsplit (prop, ",", -1);
  for (i = 0; parts[i] != NULL; i++) {
    gchar *l = g_strstrip (parts[i]);
    if (*l != '\0' && gst_lstm_train_find_label (labels, l) < 0)
      g_ptr_array_add (labels, g_strdup (l));
  }
  g_strfreev (parts);
  return labels;
}

static gchar *
join_labels (GPtrArray * labels)
{
  GString *s = g_string_new (NULL);
  guint i;

  for (i = 0; i < labels->len; i++)
    g_string_append_printf (s, "%s%s", i ? "," : "",
        (const gchar *) labels->pdata[i]);
  return g_string_free (s, FALSE);
}

/* init-model's head rows were trained as its labels in its order, so a
 * fine-tuning run keeps that order (classes by first appearance would
 * give row 0 to whatever label came first); a labels property that says
 * otherwise is an error, not a silent reordering. */
GPtrArray *
gst_lstm_train_fixed_labels (GstLstmTrain * self, const gchar ** from,
    GError ** error)
{
  g_autoptr (GPtrArray) prop = NULL;
  g_autoptr (LstmModel) init = NULL;
  g_autofree gchar *path = NULL;
  g_autofree gchar *a = NULL;
  g_autofree gchar *b = NULL;
  GPtrArray *labels;
  guint i;

  GST_OBJECT_LOCK (self);
  prop = gst_lstm_train_labels_from_property (self->labels);
  path = g_strdup (self->init_model);
  GST_OBJECT_UNLOCK (self);
  *from = "the labels property's";
  /* a model that does not load is make_model's error to report */
  if (path != NULL)
    init = lstm_model_load (path, NULL);
  if (init == NULL || init->labels == NULL)
    return g_steal_pointer (&prop);

  labels = g_ptr_array_new_with_free_func (g_free);
  for (i = 0; init->labels[i] != NULL; i++)
    g_ptr_array_add (labels, g_strdup (init->labels[i]));
  *from = "init-model's labels";
  if (prop != NULL) {
    gboolean same = prop->len == labels->len;
    for (i = 0; same && i < prop->len; i++)
      same = strcmp (prop->pdata[i], labels->pdata[i]) == 0;
    if (!same) {
      a = join_labels (prop);
      b = join_labels (labels);
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
          "the labels property (%s) is not init-model's labels in their "
          "order (%s, in %s): its head rows are those classes; leave labels "
          "unset or give them in that order", a, b, path);
      g_ptr_array_unref (labels);
      return NULL;
    }
  }
  return labels;
}

gboolean
gst_lstm_train_frame_ok (GstLstmTrain * self, guint i)
{
  return lstm_frame_is_finite (&g_array_index (self->frames, float,
          (gsize) i * self->channels), self->channels);
}

/* Label track: every cue is one sequence of the frames inside it. */
static gboolean
sequences_from_cues (GstLstmTrain * self, Dataset * d, GPtrArray * fixed,
    GError ** error)
{
  guint c;

  d->labels = fixed ? g_ptr_array_ref (fixed) :
      g_ptr_array_new_with_free_func (g_free);
  for (c = 0; c < self->cues->len; c++) {
    GstLstmTrainCue *cue = &g_array_index (self->cues, GstLstmTrainCue, c);
    guint a = gst_lstm_train_lower_bound (self->frame_pts, cue->start);
    guint b = gst_lstm_train_lower_bound (self->frame_pts, cue->end), i;
    gint id = gst_lstm_train_find_label (d->labels, cue->label);
    Seq s;

    if (id < 0 && fixed != NULL) {
      g_autofree gchar *all = join_labels (fixed);
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
          "the cue at %" GST_TIME_FORMAT " has the label '%s', which is not "
          "one of %s (%s)", GST_TIME_ARGS (cue->start), cue->label,
          d->labels_from, all);
      return FALSE;
    }
    if (a >= b) {
      GstClockTime first = self->frame_pts->len ?
          g_array_index (self->frame_pts, GstClockTime, 0) : 0;
      /* outside the frames, or inside them but shorter than a frame
       * period and between two frames' times */
      gboolean outside = cue->end <= first || cue->start >= self->next_pts;
      GST_ELEMENT_WARNING (self, STREAM, FORMAT,
          ("A label cue holds no frames and was left out."),
          ("the cue '%s' at %" GST_TIME_FORMAT " - %" GST_TIME_FORMAT
              " %s (%" GST_TIME_FORMAT " - %" GST_TIME_FORMAT ")", cue->label,
              GST_TIME_ARGS (cue->start), GST_TIME_ARGS (cue->end),
              outside ? "is outside the frames' stream" : "holds no frame's "
              "time: it lies between two frames of the stream",
              GST_TIME_ARGS (first), GST_TIME_ARGS (self->next_pts)));
      continue;
    }
    /* a cue with a non-finite frame is left out whole (its label is for
     * the whole utterance), before its label can become a class with no
     * example, as a cue outside the stream does not either */
    for (i = a; i < b && gst_lstm_train_frame_ok (self, i); i++);
    if (i < b) {
      d->dropped += b - a;
      continue;
    }
    if (id < 0) {
      g_ptr_array_add (d->labels, g_strdup (cue->label));
      id = d->labels->len - 1;
    }
    s.first = a;
    s.len = b - a;
    s.label = id;
    GST_LOG_OBJECT (self, "cue '%s' %" GST_TIME_FORMAT " - %" GST_TIME_FORMAT
        ": frames %u - %u", cue->label, GST_TIME_ARGS (cue->start),
        GST_TIME_ARGS (cue->end), a, b);
    g_array_append_val (d->seqs, s);
  }
  return TRUE;
}

/* Cuts [a, b) into windows of bptt frames; a frame for which `usable`
 * says no ends the window before it. */
static void
windows (GstLstmTrain * self, Dataset * d, guint a, guint b, gint label,
    gboolean (*usable) (GstLstmTrain *, Dataset *, guint))
{
  guint i = a;

  while (i < b) {
    Seq s = { i, 0, label };
    while (i < b && s.len < self->bptt && usable (self, d, i)) {
      s.len++;
      i++;
    }
    if (s.len > 0)
      g_array_append_val (d->seqs, s);
    else {
      d->dropped++;
      i++;
    }
  }
}

/* Stretches of frames between breaks (new streams, DISCONTs). */
static void
for_each_stretch (GstLstmTrain * self, Dataset * d, gint label,
    gboolean (*usable) (GstLstmTrain *, Dataset *, guint))
{
  guint k, start = 0;

  for (k = 0; k <= self->breaks->len; k++) {
    guint end = k < self->breaks->len ?
        g_array_index (self->breaks, guint, k) : self->frame_pts->len;
    if (end > start)
      windows (self, d, start, end, label, usable);
    start = end;
  }
}

static gboolean
usable_frame (GstLstmTrain * self, Dataset * d, guint i)
{
  return gst_lstm_train_frame_ok (self, i);
}

static gboolean
usable_target (GstLstmTrain * self, Dataset * d, guint i)
{
  const float *y = d->targets + (gsize) i * d->out_size;
  return gst_lstm_train_frame_ok (self, i) && (d->ids ? d->ids[i] >= 0 :
      lstm_frame_is_finite (y, d->out_size));
}

/* Numeric target frames aligned by timestamp: the target frame nearest
 * each input frame within half a target frame; none is a gap. */
static gboolean
align_targets (GstLstmTrain * self, Dataset * d, gboolean classify,
    GPtrArray * fixed, GError ** error)
{
  guint n = self->frame_pts->len, i, j = 0, C = self->target_channels;
  GstClockTime half;
  gint max_id = -1;

  if (self->target_pts->len == 0 || self->target_rate <= 0) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "the target pad carried no target frames");
    return FALSE;
  }
  half = gst_util_uint64_scale_int (1, GST_SECOND, 2 * self->target_rate);
  d->out_size = classify ? 0 : C;
  d->targets = g_new0 (float, (gsize) n * C);
  if (classify)
    d->ids = g_new (gint, n);
  for (i = 0; i < n; i++) {
    GstClockTime t = g_array_index (self->frame_pts, GstClockTime, i);
    gboolean found;
    while (j + 1 < self->target_pts->len
        && g_array_index (self->target_pts, GstClockTime, j + 1) <= t)
      j++;
    /* j: the last target at or before t; j + 1 may be nearer */
    if (j + 1 < self->target_pts->len
        && g_array_index (self->target_pts, GstClockTime, j + 1) - t <
        (t > g_array_index (self->target_pts, GstClockTime, j) ?
            t - g_array_index (self->target_pts, GstClockTime, j) : 0))
      j++;
    found = (t > g_array_index (self->target_pts, GstClockTime, j) ?
        t - g_array_index (self->target_pts, GstClockTime, j) :
        g_array_index (self->target_pts, GstClockTime, j) - t) <= half;
    if (!classify) {
      float *y = d->targets + (gsize) i * C;
      if (found)
        memcpy (y, &g_array_index (self->targets, float, (gsize) j * C),
            C * sizeof (float));
      else
        y[0] = NAN;             /* a gap: usable_target says no */
    } else {
      float v = found ? g_array_index (self->targets, float, (gsize) j * C) :
          NAN;
      /* S16 ids are the integers sent, not audio scaled to [-1, 1)
       * (exact: v was s / 32768) */
      if (self->target_s16)
        v *= 32768.0f;
      if (!isfinite (v) || v < 0 || v > 65535) {
        d->ids[i] = -1;
        if (found && !isfinite (v))
          continue;
        if (found) {
          g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
              "the class id %g at %" GST_TIME_FORMAT " is not a class "
              "index (0 to 65535)%s", v, GST_TIME_ARGS (t), v == -100 ?
              "; PyTorch's ignore index is not taken here: send NaN (F32) "
              "for a frame without a target" : "");
          return FALSE;
        }
        continue;
      }
      d->ids[i] = (gint) lrintf (v);
      if (fixed != NULL && d->ids[i] >= (gint) fixed->len) {
        g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
            "the class id %d at %" GST_TIME_FORMAT " has no label (%s: "
            "%u classes, ids 0 to %u)", d->ids[i], GST_TIME_ARGS (t),
            d->labels_from, fixed->len, fixed->len - 1);
        return FALSE;
      }
      max_id = MAX (max_id, d->ids[i]);
    }
  }
  if (classify) {
    if (fixed != NULL)
      d->labels = g_ptr_array_ref (fixed);
    else {
      d->labels = g_ptr_array_new_with_free_func (g_free);
      for (i = 0; i <= (guint) MAX (max_id, 0); i++)
        g_ptr_array_add (d->labels, g_strdup_printf ("%u", i));
    }
  }
  for_each_stretch (self, d, -1, usable_target);
  return TRUE;
}

/* task=forecast: the target of frame t is frame t + horizon of the same
 * stretch. The last horizon frames of a stretch have none by the task's
 * nature: not counted as left out (which warns of bad data). */
static gboolean
forecast_targets (GstLstmTrain * self, Dataset * d, GError ** error)
{
  guint n = self->frame_pts->len, I = self->channels, k, start = 0;
  guint no_future = 0;

  d->out_size = I;
  d->targets = g_new (float, (gsize) n * I);
  for (k = 0; k <= self->breaks->len; k++) {
    guint end = k < self->breaks->len ?
        g_array_index (self->breaks, guint, k) : n, i;
    for (i = start; i < end; i++) {
      float *y = d->targets + (gsize) i * I;
      if (i + self->horizon < end)
        memcpy (y, &g_array_index (self->frames, float,
                (gsize) (i + self->horizon) * I), I * sizeof (float));
      else
        y[0] = NAN;             /* no future in this stretch */
    }
    no_future += MIN (self->horizon, end - start);
    start = end;
  }
  /* each unusable frame counts once in dropped, these among them */
  for_each_stretch (self, d, -1, usable_target);
  d->dropped -= MIN (no_future, d->dropped);
  if (d->seqs->len == 0) {
    guint bad = 0, i;
    for (i = 0; i < n; i++)
      bad += !gst_lstm_train_frame_ok (self, i);
    if (bad > 0)
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
          "no frame has a finite frame %u frame%s after it to forecast "
          "(%u frame%s, %u of them holding NaN or infinity)", self->horizon,
          self->horizon == 1 ? "" : "s", n, n == 1 ? "" : "s", bad);
    else
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
          "the stream is too short to forecast %u frame%s ahead (%u "
          "frame%s)", self->horizon, self->horizon == 1 ? "" : "s", n,
          n == 1 ? "" : "s");
    return FALSE;
  }
  return TRUE;
}

/* Turns the collection into sequences for the task. */
gboolean
gst_lstm_train_build_dataset (GstLstmTrain * self, Dataset * d, GError ** error)
{
  g_autoptr (GPtrArray) fixed = NULL;
  GstLstmTrainTask task;
  g_autofree gchar *label = NULL;
  gboolean ok = TRUE;
  GstAggregatorPad *target;
  GError *err = NULL;

  fixed = gst_lstm_train_fixed_labels (self, &d->labels_from, &err);
  GST_OBJECT_LOCK (self);
  task = self->task;
  label = g_strdup (self->label);
  target = self->targetpad;
  GST_OBJECT_UNLOCK (self);

  d->seqs = g_array_new (FALSE, FALSE, sizeof (Seq));
  if (err != NULL) {
    g_propagate_error (error, err);
    return FALSE;
  }
  if (self->frame_pts->len == 0) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "no frames arrived on the sink pad: nothing to train on");
    return FALSE;
  }
  if (target != NULL && self->target_text) {
    if (task != GST_LSTM_TRAIN_TASK_CLASSIFY) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
          "a label track trains task=classify, not %s",
          task == GST_LSTM_TRAIN_TASK_REGRESS ? "regress" : "forecast");
      return FALSE;
    }
    ok = sequences_from_cues (self, d, fixed, error);
  } else if (target != NULL) {
    if (task == GST_LSTM_TRAIN_TASK_FORECAST) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
          "task=forecast predicts the frames themselves: remove the target "
          "pad");
      return FALSE;
    }
    ok = align_targets (self, d, task == GST_LSTM_TRAIN_TASK_CLASSIFY, fixed,
        error);
  } else if (task == GST_LSTM_TRAIN_TASK_FORECAST) {
    ok = forecast_targets (self, d, error);
  } else if (task == GST_LSTM_TRAIN_TASK_CLASSIFY && label != NULL) {
    gint id;
    d->labels = fixed ? g_ptr_array_ref (fixed) :
        g_ptr_array_new_with_free_func (g_free);
    id = gst_lstm_train_find_label (d->labels, label);
    if (id < 0 && fixed != NULL) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
          "label '%s' is not one of %s", label, d->labels_from);
      return FALSE;
    }
    if (id < 0) {
      g_ptr_array_add (d->labels, g_strdup (label));
      id = d->labels->len - 1;
    }
    for_each_stretch (self, d, id, usable_frame);
  } else {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "nothing to learn: link a target pad (a label track or target "
        "frames), or set task=forecast, or a fixed label");
    return FALSE;
  }
  if (!ok)
    return FALSE;
  if (d->labels != NULL)
    d->out_size = d->labels->len;
  if (d->seqs->len == 0) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "no usable training sequence (%u frames, %u cues, %u frames left "
        "out)", self->frame_pts->len, self->cues->len, d->dropped);
    return FALSE;
  }
  if (d->labels != NULL && d->labels->len < 2)
    GST_ELEMENT_WARNING (self, STREAM, FORMAT,
        ("Only one class to learn."), ("the only label is '%s'",
            (gchar *) d->labels->pdata[0]));
  if (d->dropped > 0)
    GST_ELEMENT_WARNING (self, STREAM, FORMAT,
        ("Some frames were left out of training."),
        ("%u frames held NaN or infinity, or had no target", d->dropped));
  return TRUE;
}
