/* The torchaudio reference cases of lstmfeatures (tests/reference/features,
 * made by tests/reference/generate_features.py), shared by test-features.c
 * and test-element-features.c. Header-only (static functions) so that each
 * test program takes what it uses. */
#ifndef __TEST_FEATURES_REF_H__
#define __TEST_FEATURES_REF_H__

#include "test-util.h"

#include <json-glib/json-glib.h>
#include <string.h>

/* Features match torchaudio to this absolute error (the bound);
 * linear (not log) filterbank energies, which reach 1e13, to this error
 * relative to the largest value. */
#define FEAT_ABS_TOL 1e-3
#define FEAT_REL_TOL 1e-5

typedef struct
{
  gchar *name;
  gchar *signal;                /* the WAV file's name without .wav */
  JsonObject *options;          /* torchaudio keyword arguments */
  LstmFeaturesType type;
  guint rate;                   /* Hz */
  gint16 *audio;                /* [n_samples] */
  gsize n_samples;
  float *expect;                /* [frames, dims] torchaudio's features */
  guint frames, dims;
} FeatRef;

static gchar *
feat_ref_path (const gchar * file)
{
  g_autofree gchar *rel = g_build_filename ("..", "features", file, NULL);
  return ref_path (rel);
}

/* A 16-bit mono PCM WAV file: RIFF, a fmt chunk, a data chunk. */
static gint16 *
feat_read_wav (const gchar * path, guint * rate, gsize * n_samples)
{
  g_autoptr (GBytes) bytes = read_file_or_fail (path);
  gsize size, pos = 12;
  const guint8 *d = g_bytes_get_data (bytes, &size);
  gboolean have_fmt = FALSE;

  g_assert_cmpuint (size, >=, 12);
  g_assert_true (memcmp (d, "RIFF", 4) == 0 && memcmp (d + 8, "WAVE", 4) == 0);
  while (pos + 8 <= size) {
    guint32 len = GUINT32_FROM_LE (*(const guint32 *) (d + pos + 4));
    const guint8 *body = d + pos + 8;
    g_assert_cmpuint (pos + 8 + len, <=, size);
    if (memcmp (d + pos, "fmt ", 4) == 0) {
      g_assert_cmpuint (len, >=, 16);
      g_assert_cmpuint (GUINT16_FROM_LE (*(const guint16 *) body), ==, 1);
      g_assert_cmpuint (GUINT16_FROM_LE (*(const guint16 *) (body + 2)), ==,
          1);
      *rate = GUINT32_FROM_LE (*(const guint32 *) (body + 4));
      g_assert_cmpuint (GUINT16_FROM_LE (*(const guint16 *) (body + 14)), ==,
          16);
      have_fmt = TRUE;
    } else if (memcmp (d + pos, "data", 4) == 0) {
      gint16 *s = g_new (gint16, len / 2 + 1);
      gsize i;
      g_assert_true (have_fmt);
      *n_samples = len / 2;
      for (i = 0; i < *n_samples; i++)
        s[i] = (gint16) GUINT16_FROM_LE (*(const guint16 *) (body + 2 * i));
      return s;
    }
    pos += 8 + len + (len & 1);
  }
  g_assert_not_reached ();
  return NULL;
}

/* Parsed once per test program. */
static LstmTensorFile *feat_ref_file;
static GBytes *feat_ref_bytes;

static LstmTensorFile *
feat_ref_open (void)
{
  if (feat_ref_file == NULL) {
    g_autofree gchar *path = feat_ref_path ("reference.safetensors");
    g_autoptr (GError) error = NULL;
    gsize size;
    const guint8 *data;
    feat_ref_bytes = read_file_or_fail (path);
    data = g_bytes_get_data (feat_ref_bytes, &size);
    feat_ref_file = lstm_safetensors_parse (data, size, path, &error);
    g_assert_no_error (error);
  }
  return feat_ref_file;
}

/* The case names, in the file's order. Free with g_free (not the strings). */
static const gchar **
feat_ref_case_names (void)
{
  LstmTensorFile *f = feat_ref_open ();
  const gchar **names = g_new0 (const gchar *, f->tensors->len + 1);
  guint i;

  for (i = 0; i < f->tensors->len; i++)
    names[i] = ((LstmTensor *) g_ptr_array_index (f->tensors, i))->name;
  return names;
}

static void
feat_ref_free (FeatRef * r)
{
  if (r == NULL)
    return;
  g_free (r->name);
  g_free (r->signal);
  if (r->options != NULL)
    json_object_unref (r->options);
  g_free (r->audio);
  g_free (r->expect);
  g_free (r);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FeatRef, feat_ref_free);

static FeatRef *
feat_ref_load (const gchar * name)
{
  LstmTensorFile *f = feat_ref_open ();
  LstmTensor *t = g_hash_table_lookup (f->by_name, name);
  const gchar *json = g_hash_table_lookup (f->metadata, name);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autofree gchar *wav = NULL, *wav_path = NULL;
  FeatRef *r = g_new0 (FeatRef, 1);
  JsonObject *o;
  const gchar *type;

  g_assert_nonnull (t);
  g_assert_nonnull (json);
  g_assert_cmpuint (t->n_dims, ==, 2);
  r->name = g_strdup (name);
  r->frames = t->shape[0];
  r->dims = t->shape[1];
  r->expect = g_new (float, MAX (t->n_elements, 1));
  g_assert_true (lstm_tensor_to_f32 (f, t, r->expect, &error));
  g_assert_no_error (error);

  g_assert_true (json_parser_load_from_data (parser, json, -1, &error));
  o = json_node_get_object (json_parser_get_root (parser));
  r->signal = g_strdup (json_object_get_string_member (o, "signal"));
  type = json_object_get_string_member (o, "type");
  g_assert_true (g_str_equal (type, "fbank") || g_str_equal (type, "mfcc"));
  r->type = g_str_equal (type, "fbank") ? LSTM_FEATURES_FBANK :
      LSTM_FEATURES_MFCC;
  r->options = json_object_ref (json_object_get_object_member (o, "options"));

  wav = g_strdup_printf ("%s.wav", r->signal);
  wav_path = feat_ref_path (wav);
  r->audio = feat_read_wav (wav_path, &r->rate, &r->n_samples);
  return r;
}

static gboolean
window_from_string (const gchar * s, LstmWindowType * w)
{
  guint i;
  for (i = 0; i <= LSTM_WINDOW_BLACKMAN; i++)
    if (g_str_equal (s, lstm_window_type_to_string ((LstmWindowType) i))) {
      *w = (LstmWindowType) i;
      return TRUE;
    }
  return FALSE;
}

/* torchaudio's keyword arguments and where they go in the config. */
#define OPT(name, kind) { #name, kind, G_STRUCT_OFFSET (LstmFeaturesConfig, name) }
static const struct
{
  const gchar *name;
  gchar kind;                   /* 'u' guint, 'd' double, 'b' gboolean */
  gsize offset;
} feat_options[] = {
  OPT (num_mel_bins, 'u'), OPT (num_ceps, 'u'), OPT (frame_length, 'd'),
  OPT (frame_shift, 'd'), OPT (preemphasis_coefficient, 'd'),
  OPT (blackman_coeff, 'd'), OPT (dither, 'd'), OPT (remove_dc_offset, 'b'),
  OPT (use_energy, 'b'), OPT (raw_energy, 'b'), OPT (energy_floor, 'd'),
  OPT (low_freq, 'd'), OPT (high_freq, 'd'), OPT (snip_edges, 'b'),
  OPT (use_log_fbank, 'b'), OPT (cepstral_lifter, 'd'),
};
#undef OPT

/* The case's options on top of the defaults; an unknown option fails. */
static void
feat_ref_config (const FeatRef * r, LstmFeaturesConfig * cfg)
{
  g_autoptr (GList) members = json_object_get_members (r->options);
  GList *l;
  guint i;

  lstm_features_config_init (cfg);
  cfg->type = r->type;
  for (l = members; l != NULL; l = l->next) {
    const gchar *k = l->data;
    JsonNode *v = json_object_get_member (r->options, k);
    gpointer field = NULL;

    if (g_str_equal (k, "window_type")) {
      g_assert_true (window_from_string (json_node_get_string (v),
              &cfg->window_type));
      continue;
    }
    for (i = 0; i < G_N_ELEMENTS (feat_options); i++)
      if (g_str_equal (k, feat_options[i].name))
        break;
    if (i == G_N_ELEMENTS (feat_options))
      g_error ("reference case %s: unknown option %s", r->name, k);
    field = G_STRUCT_MEMBER_P (cfg, feat_options[i].offset);
    switch (feat_options[i].kind) {
      case 'u':
        *(guint *) field = json_node_get_int (v);
        break;
      case 'd':
        *(double *) field = json_node_get_double (v);
        break;
      default:
        *(gboolean *) field = json_node_get_boolean (v);
        break;
    }
  }
}

/* The error against torchaudio as the case is judged: absolute for log
 * features, relative to the largest value for linear energies. */
static double
feat_ref_error (const FeatRef * r, const float *got, gboolean * relative)
{
  JsonNode *log = json_object_get_member (r->options, "use_log_fbank");
  gsize n = (gsize) r->frames * r->dims;

  *relative = log != NULL && !json_node_get_boolean (log);
  return *relative ? rel_error (got, r->expect, n) :
      max_abs_error (got, r->expect, n);
}

static double
feat_ref_tolerance (gboolean relative)
{
  return relative ? FEAT_REL_TOL : FEAT_ABS_TOL;
}

#endif
