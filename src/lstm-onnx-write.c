/* ONNX LSTM/GRU weights -> our model file (PyTorch names and gate orders).
 *
 * ONNX stacks the gates of W, R and each half of B as i, o, f, c (LSTM) or
 * z, r, h (GRU); PyTorch, and so our file, as i, f, g, o or r, z, n. The
 * peephole P is i, o, f in ONNX and i, f, o in ours. A block b of ours is
 * block map[b] of ONNX's:
 */
#include "lstm-onnx-private.h"

static const guint lstm_map[4] = { 0, 2, 3, 1 };        /* i f g o <- i o f c */
static const guint gru_map[3] = { 1, 0, 2 };    /* r z n <- z r h */
static const guint peephole_map[3] = { 0, 2, 1 };       /* i f o <- i o f */

void
lstm_onnx_net_clear (LstmOnnxNet * net)
{
  guint i;

  for (i = 0; net->layers != NULL && i < net->layers->len; i++) {
    LstmOnnxLayer *l = net->layers->pdata[i];
    g_free (l->W);
    g_free (l->R);
    g_free (l->B);
    g_free (l->P);
    g_free (l);
  }
  g_clear_pointer (&net->layers, g_ptr_array_unref);
  g_clear_pointer (&net->head_weight, g_free);
  g_clear_pointer (&net->head_bias, g_free);
}

/* Copies G blocks of `rows` x `cols` floats from ONNX's order into ours.
 * With input_forget (CIFG), ONNX computes f = 1 - i and ignores the f
 * rows; ours computes i = 1 - f and ignores the i rows. Since
 * 1 - sigmoid(a) = sigmoid(-a), our f block is ONNX's i block negated (and
 * clip, symmetric, commutes with the negation); our i block keeps ONNX's
 * i rows, unused. */
static float *
reorder (const float *src, guint n_blocks, const guint * map, gsize block,
    gboolean cifg)
{
  float *dst = g_new (float, n_blocks * block);
  guint b;
  gsize j;

  for (b = 0; b < n_blocks; b++)
    for (j = 0; j < block; j++)
      dst[b * block + j] = src[map[b] * block + j];
  if (cifg)                     /* our block 1 is f, ONNX's block 0 is i */
    for (j = 0; j < block; j++)
      dst[block + j] = -src[j];
  return dst;
}

typedef struct
{
  GArray *out;                  /* LstmTensorOut */
  GPtrArray *keep;              /* names and data, freed at the end */
} Writer;

static void
add (Writer * w, gchar * name, float *data, guint n_dims, guint64 d0,
    guint64 d1)
{
  LstmTensorOut t = { 0 };

  g_ptr_array_add (w->keep, name);
  g_ptr_array_add (w->keep, data);
  t.name = name;
  t.data = data;
  t.n_dims = n_dims;
  t.shape[0] = d0;
  t.shape[1] = d1;
  g_array_append_val (w->out, t);
}

static void
add_layer (Writer * w, const LstmOnnxNet * net, guint k, guint d,
    gboolean peepholes)
{
  const LstmOnnxLayer *l = net->layers->pdata[k];
  const gchar *prefix = net->gru ? "gru." : "lstm.";
  const gchar *sfx = d == 0 ? "" : "_reverse";
  guint G = net->gru ? 3 : 4, H = net->hidden_size, I = l->input_size;
  const guint *map = net->gru ? gru_map : lstm_map;
  gboolean cifg = net->input_forget;
  gsize gh = (gsize) G * H;
  g_autofree float *zeros = g_new0 (float, 2 * gh);
  const float *B = l->B != NULL ? l->B + d * 2 * gh : zeros;

  add (w, g_strdup_printf ("%sweight_ih_l%u%s", prefix, k, sfx),
      reorder (l->W + d * gh * I, G, map, (gsize) H * I, cifg), 2, gh, I);
  add (w, g_strdup_printf ("%sweight_hh_l%u%s", prefix, k, sfx),
      reorder (l->R + d * gh * H, G, map, (gsize) H * H, cifg), 2, gh, H);
  add (w, g_strdup_printf ("%sbias_ih_l%u%s", prefix, k, sfx),
      reorder (B, G, map, H, cifg), 1, gh, 0);
  add (w, g_strdup_printf ("%sbias_hh_l%u%s", prefix, k, sfx),
      reorder (B + gh, G, map, H, cifg), 1, gh, 0);
  if (peepholes) {
    g_autofree float *pz = g_new0 (float, 3 * H);
    add (w, g_strdup_printf ("%sweight_peephole_l%u%s", prefix, k, sfx),
        reorder (l->P != NULL ? l->P + d * 3 * H : pz, 3, peephole_map, H,
            cifg), 1, 3 * H, 0);
  }
}

static GHashTable *
metadata (const LstmOnnxNet * net)
{
  GHashTable *meta = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      g_free);
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];
  gint i;

#define SET(k, v) g_hash_table_insert (meta, g_strdup (k), g_strdup (v))
  SET ("cell", net->gru ? "gru" : "lstm");
  SET ("source-format", "onnx");
  if (net->producer != NULL)
    SET ("onnx-producer", net->producer);
  if (net->input_forget)
    SET ("coupled-gates", "true");
  if (net->dirs == 2)
    SET ("bidirectional", "true");
  if (net->clip > 0) {
    /* the shortest decimal that reads back as the same float32 */
    for (i = 1; i <= 9; i++) {
      gchar fmt[8];
      g_snprintf (fmt, sizeof fmt, "%%.%dg", i);
      g_ascii_formatd (buf, sizeof buf, fmt, net->clip);
      if ((float) g_ascii_strtod (buf, NULL) == net->clip)
        break;
    }
    SET ("cell-clip", buf);
  }
  if (net->head_size > 0)
    SET ("output", lstm_output_to_string (net->output));
#undef SET
  return meta;
}

GBytes *
lstm_onnx_net_write (const LstmOnnxNet * net)
{
  g_autoptr (GArray) out = g_array_new (FALSE, TRUE, sizeof (LstmTensorOut));
  g_autoptr (GPtrArray) keep = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GHashTable) meta = metadata (net);
  Writer w = { out, keep };
  gboolean peepholes = FALSE;
  guint k, d, in = net->dirs * net->hidden_size;

  for (k = 0; k < net->layers->len; k++)
    peepholes |= ((LstmOnnxLayer *) net->layers->pdata[k])->P != NULL;
  for (k = 0; k < net->layers->len; k++)
    for (d = 0; d < net->dirs; d++)
      add_layer (&w, net, k, d, peepholes);
  if (net->head_size > 0) {
    add (&w, g_strdup ("head.weight"), g_memdup2 (net->head_weight,
            sizeof (float) * net->head_size * in), 2, net->head_size, in);
    add (&w, g_strdup ("head.bias"), g_memdup2 (net->head_bias,
            sizeof (float) * net->head_size), 1, net->head_size, 0);
  }
  return lstm_safetensors_write ((const LstmTensorOut *) out->data, out->len,
      meta);
}
