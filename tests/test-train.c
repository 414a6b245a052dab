/* Training against PyTorch (tests/reference/train/, made by
 * tests/reference/generate_train.py) and against central differences.
 *
 * Errors are measured per tensor as max |ours - reference| / max |reference|
 * (rel_error in test-util.c), so elements that happen to be near 0 do not
 * blow the measure up; every measured value is printed with --verbose. */
#include "test-util.h"
#include "lstm-train-private.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Gradients against PyTorch's autograd: both float32, summed in other
 * orders (the issue asks for 1e-4; measured below 1e-6). */
#define GRAD_REL_TOL 1e-4
/* The loss and the carried states against PyTorch. */
#define LOSS_REL_TOL 1e-5
/* One optimizer step from PyTorch's own gradient: the same operations on
 * the same numbers. Measured on the update p_new - p_old, a far stricter
 * scale than the parameters: max |p_ours - p_torch| beyond 2 ulps of the
 * parameter (both round p + update to float32, and ATen fuses some of the
 * multiply-adds, so the last bit may differ), over max |p_torch - p_old|. */
#define OPTIM_UPDATE_REL_TOL 1e-5
/* Steps from our own gradients, on the parameters (as the issue asks). */
#define STEP_PARAM_REL_TOL 1e-5
/* 20 Adam steps with clipping: the gradients' float32 differences feed
 * back through 20 updates (measured 4e-7 to 1.2e-6 on the parameters
 * with the AVX-512, AVX2 and OpenBLAS kernels). */
#define LONG_RUN_PARAM_REL_TOL 1e-5
/* Central differences in double against our float32 gradient: the
 * difference is float32 rounding of the gradient, ~1e-6 relative. */
#define FD_REL_TOL 1e-4
#define FD_STEP 1e-5

/* --------------------------------------------------------- reference data */

typedef struct
{
  gchar *name;
  LstmModel *model;
  GBytes *bytes;                /* the data file; `file` points into it */
  LstmTensorFile *file;
  LstmLoss loss;
  gboolean last_frame_only;

  guint B;
  guint *lengths;
  float *input;                 /* [sum T_b, I] */
  const float **inputs;         /* [B] into input */
  gint32 *ids;                  /* cross-entropy: per frame or per sequence */
  const gint32 **class_ids;     /* [B] */
  float *target;                /* MSE */
  const float **targets;        /* [B] */
  LstmState **states;           /* [B] when the case has h0/c0, else NULL */
  float *h0, *c0;               /* [B, L, H] */
  LstmBatch batch;
} TrainCase;

static gchar *
train_path (const gchar * file)
{
  g_autofree gchar *data_dir = ref_path ("");
  return g_build_filename (data_dir, "..", "train", file, NULL);
}

static LstmTensor *
tensor (const TrainCase * tc, const gchar * name)
{
  LstmTensor *t = g_hash_table_lookup (tc->file->by_name, name);
  if (t == NULL)
    g_error ("%s: no tensor %s in the reference data", tc->name, name);
  return t;
}

static float *
tensor_floats (const TrainCase * tc, const gchar * name, gsize * n)
{
  g_autoptr (GError) error = NULL;
  LstmTensor *t = tensor (tc, name);
  float *v = g_new (float, MAX (t->n_elements, 1));

  lstm_tensor_to_f32 (tc->file, t, v, &error);
  g_assert_no_error (error);
  if (n != NULL)
    *n = t->n_elements;
  return v;
}

static gboolean
has_tensor (const TrainCase * tc, const gchar * name)
{
  return g_hash_table_contains (tc->file->by_name, name);
}

/* The model's tensors named `prefix` + PyTorch name, into a flat buffer
 * laid out as model->params (zeros in the padding). */
static float *
flat_from_file (const TrainCase * tc, const gchar * prefix)
{
  const LstmModel *m = tc->model;
  float *flat = g_new0 (float, m->n_params);
  guint k;

  for (k = 0; k <= m->num_layers; k++) {
    const LstmLayer *l = &m->layers[MIN (k, m->num_layers - 1)];
    struct
    {
      const gchar *fmt;
      const float *dst;
    } parts[4] = {
      {"%slstm.weight_ih_l%u", l->weight_ih}, {"%slstm.weight_hh_l%u",
          l->weight_hh}, {"%slstm.bias_ih_l%u", l->bias_ih},
      {"%slstm.bias_hh_l%u", l->bias_hh},
    };
    guint i, n_parts = 4;
    if (k == m->num_layers) {
      if (m->head_size == 0)
        break;
      parts[0].fmt = "%shead.weight";
      parts[0].dst = m->head_weight;
      parts[1].fmt = "%shead.bias";
      parts[1].dst = m->head_bias;
      n_parts = 2;
    }
    for (i = 0; i < n_parts; i++) {
      g_autofree gchar *name = g_strdup_printf (parts[i].fmt, prefix, k);
      gsize n;
      g_autofree float *v = tensor_floats (tc, name, &n);
      memcpy (flat + (parts[i].dst - m->params), v, n * sizeof (float));
    }
  }
  return flat;
}

static TrainCase *
train_case_load (const gchar * name)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *model_file = g_strdup_printf ("%s.safetensors", name);
  g_autofree gchar *data_file = g_strdup_printf ("%s.data.safetensors", name);
  g_autofree gchar *model_path = train_path (model_file);
  g_autofree gchar *data_path = train_path (data_file);
  TrainCase *tc = g_new0 (TrainCase, 1);
  const LstmModel *m;
  g_autofree float *lengths = NULL, *ids = NULL;
  const gchar *v;
  gsize n, off = 0, id_off = 0;
  guint b, O;
  const guint8 *data;
  gsize size;

  tc->name = g_strdup (name);
  tc->model = lstm_model_load (model_path, &error);
  g_assert_no_error (error);
  m = tc->model;
  O = lstm_model_get_output_size (m);

  tc->bytes = read_file_or_fail (data_path);
  data = g_bytes_get_data (tc->bytes, &size);
  tc->file = lstm_safetensors_parse (data, size, data_path, &error);
  g_assert_no_error (error);
  v = g_hash_table_lookup (tc->file->metadata, "loss");
  g_assert_nonnull (v);
  tc->loss = g_str_equal (v, "ce") ? LSTM_LOSS_CROSS_ENTROPY : LSTM_LOSS_MSE;
  v = g_hash_table_lookup (tc->file->metadata, "last_frame_only");
  tc->last_frame_only = g_strcmp0 (v, "1") == 0;

  lengths = tensor_floats (tc, "lengths", &n);
  tc->B = n;
  tc->lengths = g_new (guint, tc->B);
  tc->inputs = g_new (const float *, tc->B);
  tc->input = tensor_floats (tc, "input", NULL);
  if (tc->loss == LSTM_LOSS_CROSS_ENTROPY) {
    ids = tensor_floats (tc, "class_ids", &n);
    tc->ids = g_new (gint32, n);
    for (gsize i = 0; i < n; i++)
      tc->ids[i] = (gint32) ids[i];
    tc->class_ids = g_new (const gint32 *, tc->B);
  } else {
    tc->target = tensor_floats (tc, "targets", NULL);
    tc->targets = g_new (const float *, tc->B);
  }
  if (has_tensor (tc, "h0")) {
    tc->h0 = tensor_floats (tc, "h0", NULL);
    tc->c0 = tensor_floats (tc, "c0", NULL);
    tc->states = g_new0 (LstmState *, tc->B);
  }
  for (b = 0; b < tc->B; b++) {
    guint len = tc->lengths[b] = (guint) lengths[b];
    guint n_targets = tc->last_frame_only ? 1 : len;
    tc->inputs[b] = tc->input + off * m->input_size;
    if (tc->ids != NULL)
      tc->class_ids[b] = tc->ids + id_off;
    else
      tc->targets[b] = tc->target + id_off * O;
    off += len;
    id_off += n_targets;
    if (tc->states != NULL)
      tc->states[b] = lstm_state_new (m, 0);
  }
  tc->batch.n_sequences = tc->B;
  tc->batch.lengths = tc->lengths;
  tc->batch.inputs = tc->inputs;
  tc->batch.class_ids = tc->class_ids;
  tc->batch.targets = tc->targets;
  tc->batch.states = tc->states;
  return tc;
}

/* Puts h0/c0 of the case back into its states. */
static void
train_case_reset_states (TrainCase * tc)
{
  g_autoptr (GError) error = NULL;
  guint L = tc->model->num_layers, H = tc->model->hidden_size, b;

  if (tc->states == NULL)
    return;
  for (b = 0; b < tc->B; b++) {
    /* LSTMSTAT bytes: header, then h of every layer, then c */
    gsize hsz = (gsize) L * H * sizeof (float);
    guint8 *buf = g_malloc (24 + 2 * hsz);
    guint32 hdr[4] = { GUINT32_TO_LE (1), GUINT32_TO_LE (L),
      GUINT32_TO_LE (H), 0
    };
    g_autoptr (GBytes) bytes = NULL;
    memcpy (buf, "LSTMSTAT", 8);
    memcpy (buf + 8, hdr, 16);
    memcpy (buf + 24, tc->h0 + (gsize) b * L * H, hsz);
    memcpy (buf + 24 + hsz, tc->c0 + (gsize) b * L * H, hsz);
    bytes = g_bytes_new_take (buf, 24 + 2 * hsz);
    lstm_state_deserialize (tc->states[b], bytes, &error);
    g_assert_no_error (error);
  }
}

static void
train_case_free (TrainCase * tc)
{
  guint b;

  if (tc == NULL)
    return;
  for (b = 0; tc->states != NULL && b < tc->B; b++)
    lstm_state_free (tc->states[b]);
  g_free (tc->states);
  g_free (tc->h0);
  g_free (tc->c0);
  g_free (tc->lengths);
  g_free (tc->inputs);
  g_free (tc->input);
  g_free (tc->ids);
  g_free (tc->class_ids);
  g_free (tc->target);
  g_free (tc->targets);
  lstm_tensor_file_free (tc->file);
  g_bytes_unref (tc->bytes);
  lstm_model_unref (tc->model);
  g_free (tc->name);
  g_free (tc);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TrainCase, train_case_free);

static void
case_config (const TrainCase * tc, LstmTrainConfig * cfg, LstmOptimizer opt)
{
  lstm_train_config_init (cfg, opt);
  cfg->loss = tc->loss;
  cfg->last_frame_only = tc->last_frame_only;
}

static guint
max_length (const TrainCase * tc)
{
  guint b, mx = 0;
  for (b = 0; b < tc->B; b++)
    mx = MAX (mx, tc->lengths[b]);
  return mx;
}

/* Worst rel_error over the model's tensors of two flat buffers; names the
 * worst tensor in `worst`. */
static double
flat_rel_error (const LstmModel * m, const float *a, const float *b,
    const gchar ** worst)
{
  double err = 0.0, e;
  guint k;
  gsize H4 = 4 * (gsize) m->hidden_size;
  static const gchar *names[] = { "weight_ih", "weight_hh", "bias_ih",
    "bias_hh"
  };

  for (k = 0; k < m->num_layers; k++) {
    const LstmLayer *l = &m->layers[k];
    const float *p[4] = { l->weight_ih, l->weight_hh, l->bias_ih, l->bias_hh };
    gsize n[4] = { H4 * l->input_size, H4 * l->hidden_size, H4, H4 };
    for (guint i = 0; i < 4; i++) {
      gsize off = p[i] - m->params;
      e = rel_error (a + off, b + off, n[i]);
      if (e >= err) {
        err = e;
        *worst = names[i];
      }
    }
  }
  if (m->head_size > 0) {
    gsize off = m->head_weight - m->params;
    e = rel_error (a + off, b + off, (gsize) m->head_size * m->hidden_size);
    if (e >= err) {
      err = e;
      *worst = "head.weight";
    }
    off = m->head_bias - m->params;
    e = rel_error (a + off, b + off, m->head_size);
    if (e >= err) {
      err = e;
      *worst = "head.bias";
    }
  }
  return err;
}

/* ------------------------------------------------ gradients vs PyTorch */

static const gchar *grad_cases[] = {
  "ce_every_l1", "ce_masked_l2", "ce_last_l3", "ce_h24_l2",
  "mse_identity_l2", "mse_nohead_l1", "mse_last_sigmoid", "window_l2",
};

static void
test_gradients (gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TrainCase) tc = train_case_load (data);
  g_autoptr (LstmTrainer) tr = NULL;
  g_autofree float *want = flat_from_file (tc, "grad.");
  g_autofree float *want_loss = tensor_floats (tc, "loss", NULL);
  LstmTrainConfig cfg;
  LstmTrainStats stats = { 0 };
  const gchar *worst = "";
  float loss;
  gsize n;
  const float *grad;
  double e_grad, e_loss, e_h = 0.0, e_c = 0.0;

  case_config (tc, &cfg, LSTM_OPTIMIZER_SGD);
  tr = lstm_trainer_new (tc->model, &cfg, tc->B, max_length (tc), &error);
  g_assert_no_error (error);
  train_case_reset_states (tc);
  lstm_trainer_compute_gradients (tr, &tc->batch, &loss, &stats, &error);
  g_assert_no_error (error);
  grad = lstm_trainer_get_gradients (tr, &n);
  g_assert_cmpuint (n, ==, tc->model->n_params);

  e_grad = flat_rel_error (tc->model, grad, want, &worst);
  e_loss = fabs (loss - want_loss[0]) / fabs (want_loss[0]);
  if (tc->states != NULL) {
    guint L = tc->model->num_layers, H = tc->model->hidden_size, b, k;
    g_autofree float *h_n = tensor_floats (tc, "h_n", NULL);
    g_autofree float *c_n = tensor_floats (tc, "c_n", NULL);
    for (b = 0; b < tc->B; b++) {
      for (k = 0; k < L; k++) {
        gsize off = ((gsize) b * L + k) * H;
        e_h = MAX (e_h, rel_error (lstm_state_get_h (tc->states[b], k),
                h_n + off, H));
        e_c = MAX (e_c, rel_error (lstm_state_get_c (tc->states[b], k),
                c_n + off, H));
      }
    }
  }
  g_test_message ("%s: vs PyTorch: gradient max rel error %.3g (worst "
      "tensor %s; tolerance %g), loss %.9g rel error %.3g, states h %.3g "
      "c %.3g (tolerance %g)", tc->name, e_grad, worst, GRAD_REL_TOL, loss,
      e_loss, e_h, e_c, LOSS_REL_TOL);
  g_assert_cmpfloat (e_grad, <=, GRAD_REL_TOL);
  g_assert_cmpfloat (e_loss, <=, LOSS_REL_TOL);
  g_assert_cmpfloat (e_h, <=, LOSS_REL_TOL);
  g_assert_cmpfloat (e_c, <=, LOSS_REL_TOL);
  /* the stats hold the same mean */
  g_assert_cmpuint (stats.n_targets, >, 0);
  g_assert_cmpfloat (fabs (stats.loss_sum / stats.n_targets - loss), <=,
      1e-6 * fabs (loss));
}

/* --------------------------------------------- central differences */

/* The loss of a batch computed plainly in double: each sequence alone,
 * the equations of lstm-bptt.c, params in the model's flat layout. The
 * dropout scale of (layer k, sequence b, frame t) comes from `masks` (as
 * the trainer drew them) or is 1. */
typedef struct
{
  const LstmModel *m;
  const LstmBatch *batch;
  LstmLoss loss;
  gboolean last;
  const float *h0, *c0;         /* [B, L, H] or NULL */
  GHashTable *masks;            /* "k/b/t" -> float[H], or NULL */
} RefLoss;

static double
dsig (double x)
{
  return 1.0 / (1.0 + exp (-x));
}

static double
ref_loss (const RefLoss * rl, const double *p)
{
  const LstmModel *m = rl->m;
  guint H = m->hidden_size, L = m->num_layers, I = m->input_size;
  guint O = lstm_model_get_output_size (m), b, t, k, j, q;
  g_autofree double *h = g_new0 (double, (gsize) L * H);
  g_autofree double *c = g_new0 (double, (gsize) L * H);
  g_autofree double *x = g_new0 (double, MAX (I, H));
  g_autofree double *a = g_new0 (double, 4 * (gsize) H);
  g_autofree double *z = g_new0 (double, O);
  double sum = 0.0;
  gsize counted = 0;

  for (b = 0; b < rl->batch->n_sequences; b++) {
    guint len = rl->batch->lengths[b];
    for (j = 0; j < L * H; j++) {
      h[j] = rl->h0 ? rl->h0[(gsize) b * L * H + j] : 0.0;
      c[j] = rl->c0 ? rl->c0[(gsize) b * L * H + j] : 0.0;
    }
    for (t = 0; t < len; t++) {
      const float *xin = rl->batch->inputs[b] + (gsize) t * I;
      guint in = I;
      gboolean counts = !rl->last || t + 1 == len;
      guint at = rl->last ? 0 : t;
      for (j = 0; j < I; j++)
        x[j] = m->input_mean ? ((double) xin[j] - m->input_mean[j]) /
            m->input_std[j] : xin[j];
      for (k = 0; k < L; k++) {
        const LstmLayer *l = &m->layers[k];
        const double *wih = p + (l->weight_ih - m->params);
        const double *whh = p + (l->weight_hh - m->params);
        const double *bih = p + (l->bias_ih - m->params);
        const double *bhh = p + (l->bias_hh - m->params);
        double *hk = h + (gsize) k * H, *ck = c + (gsize) k *H;
        for (q = 0; q < 4 * H; q++) {
          double s = bih[q] + bhh[q];
          for (j = 0; j < in; j++)
            s += wih[(gsize) q * in + j] * x[j];
          for (j = 0; j < H; j++)
            s += whh[(gsize) q * H + j] * hk[j];
          a[q] = s;
        }
        for (j = 0; j < H; j++) {
          double ig = dsig (a[j]), fg = dsig (a[H + j]);
          double gg = tanh (a[2 * H + j]), og = dsig (a[3 * H + j]);
          ck[j] = fg * ck[j] + ig * gg;
          hk[j] = og * tanh (ck[j]);
        }
        for (j = 0; j < H; j++)
          x[j] = hk[j];
        if (rl->masks != NULL && k + 1 < L) {
          g_autofree gchar *key = g_strdup_printf ("%u/%u/%u", k, b, t);
          const float *mask = g_hash_table_lookup (rl->masks, key);
          g_assert_nonnull (mask);
          for (j = 0; j < H; j++)
            x[j] *= mask[j];
        }
        in = H;
      }
      if (!counts)
        continue;
      /* x holds the top h (the last layer is never dropped) */
      if (m->head_size > 0) {
        const double *w = p + (m->head_weight - m->params);
        const double *hb = p + (m->head_bias - m->params);
        for (q = 0; q < O; q++) {
          z[q] = hb[q];
          for (j = 0; j < H; j++)
            z[q] += w[(gsize) q * H + j] * x[j];
        }
      } else {
        for (q = 0; q < O; q++)
          z[q] = x[q];
      }
      if (rl->loss == LSTM_LOSS_CROSS_ENTROPY) {
        gint32 y = rl->batch->class_ids[b][at];
        double mx = z[0], s = 0.0;
        if (y == LSTM_IGNORE_INDEX)
          continue;
        for (q = 1; q < O; q++)
          mx = MAX (mx, z[q]);
        for (q = 0; q < O; q++)
          s += exp (z[q] - mx);
        sum += mx + log (s) - z[y];
      } else {
        const float *tg = rl->batch->targets[b] + (gsize) at * O;
        LstmOutput act = m->head_size > 0 ? m->output : LSTM_OUTPUT_IDENTITY;
        double mx = z[0], s = 0.0;
        for (q = 1; q < O; q++)
          mx = MAX (mx, z[q]);
        for (q = 0; q < O; q++)
          s += exp (z[q] - mx);
        for (q = 0; q < O; q++) {
          double o = act == LSTM_OUTPUT_SIGMOID ? dsig (z[q]) :
              act == LSTM_OUTPUT_SOFTMAX ? exp (z[q] - mx) / s : z[q];
          sum += (o - tg[q]) * (o - tg[q]) / O;
        }
      }
      counted++;
    }
  }
  return sum / counted;
}

/* Central differences of ref_loss over every `stride`-th parameter,
 * against `grad`; returns max |fd - grad| / max |fd|. */
static double
central_difference_error (const RefLoss * rl, const float *grad,
    guint stride, double *loss_out)
{
  const LstmModel *m = rl->m;
  g_autofree double *p = g_new (double, m->n_params);
  g_autofree float *fd = g_new0 (float, m->n_params);
  g_autofree float *an = g_new0 (float, m->n_params);
  gsize i;

  for (i = 0; i < m->n_params; i++)
    p[i] = m->params[i];
  *loss_out = ref_loss (rl, p);
  for (i = 0; i < m->n_params; i += stride) {
    double keep = p[i], up, down;
    p[i] = keep + FD_STEP;
    up = ref_loss (rl, p);
    p[i] = keep - FD_STEP;
    down = ref_loss (rl, p);
    p[i] = keep;
    /* dL/dp ~ (L (p + h) - L (p - h)) / 2h, error O(h^2) */
    fd[i] = (float) ((up - down) / (2.0 * FD_STEP));
    an[i] = grad[i];
  }
  return rel_error (an, fd, m->n_params);
}

static void
test_central_differences (gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TrainCase) tc = train_case_load (data);
  g_autoptr (LstmTrainer) tr = NULL;
  LstmTrainConfig cfg;
  RefLoss rl = { tc->model, &tc->batch, tc->loss, tc->last_frame_only,
    tc->h0, tc->c0, NULL
  };
  float loss;
  double err, ref;

  case_config (tc, &cfg, LSTM_OPTIMIZER_SGD);
  tr = lstm_trainer_new (tc->model, &cfg, tc->B, max_length (tc), &error);
  g_assert_no_error (error);
  train_case_reset_states (tc);
  lstm_trainer_compute_gradients (tr, &tc->batch, &loss, NULL, &error);
  g_assert_no_error (error);
  err = central_difference_error (&rl, lstm_trainer_get_gradients (tr, NULL),
      1, &ref);
  g_test_message ("%s: float32 gradient vs central differences in double "
      "(h = %g): max rel error %.3g (tolerance %g); loss %.9g vs double %.9g",
      tc->name, FD_STEP, err, FD_REL_TOL, loss, ref);
  g_assert_cmpfloat (err, <=, FD_REL_TOL);
  g_assert_cmpfloat (fabs (loss - ref), <=, 1e-5 * fabs (ref));
}

/* Cases built here, for what the PyTorch files cannot hold (dropout's
 * masks come from our own random stream) or do not cover. */
typedef struct
{
  const gchar *name;
  guint L, O;                   /* O = 0: no head */
  LstmOutput output;
  LstmLoss loss;
  gboolean last;
  double dropout;
} BuiltCase;

static const BuiltCase built_cases[] = {
  /* dropout between three layers: the trainer's masks, read back through
   * the test hook, go into the double reference */
  {"dropout", 3, 4, LSTM_OUTPUT_SOFTMAX, LSTM_LOSS_CROSS_ENTROPY, FALSE, 0.4},
  /* MSE through a softmax output, on every frame */
  {"mse-softmax", 2, 4, LSTM_OUTPUT_SOFTMAX, LSTM_LOSS_MSE, FALSE, 0.0},
  /* cross-entropy straight on h (no head), last frame only */
  {"ce-nohead-last", 1, 0, LSTM_OUTPUT_IDENTITY, LSTM_LOSS_CROSS_ENTROPY,
      TRUE, 0.0},
};

static void
test_central_differences_built (gconstpointer data)
{
  const BuiltCase *bc = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (LstmModel) m = lstm_model_new (3, 5, bc->L, bc->O, bc->output,
      &error);
  g_autoptr (LstmTrainer) tr = NULL;
  g_autoptr (GHashTable) masks = g_hash_table_new_full (g_str_hash,
      g_str_equal, g_free, g_free);
  guint lengths[] = { 4, 6, 3 }, b, t, k;
  guint O = bc->O > 0 ? bc->O : 5;
  float in[3][6 * 3], tg[3][6 * 5];
  gint32 ids[3][6];
  const float *inputs[3] = { in[0], in[1], in[2] };
  const float *targets[3] = { tg[0], tg[1], tg[2] };
  const gint32 *class_ids[3] = { ids[0], ids[1], ids[2] };
  LstmBatch batch = { 3, lengths, inputs, class_ids, targets, NULL };
  LstmTrainConfig cfg;
  RefLoss rl = { m, &batch, bc->loss, bc->last, NULL, NULL,
    bc->dropout > 0.0 ? masks : NULL
  };
  GRand *rand = g_rand_new_with_seed (7);
  guint n_zero = 0, n_all = 0;
  float loss;
  double err, ref;

  g_assert_no_error (error);
  lstm_model_init_random (m, 11);
  for (b = 0; b < 3; b++) {
    for (t = 0; t < 6 * 3; t++)
      in[b][t] = (float) g_rand_double_range (rand, -1.0, 1.0);
    for (t = 0; t < 6; t++)
      ids[b][t] = g_rand_int_range (rand, 0, O);
    for (t = 0; t < 6 * 5; t++)
      tg[b][t] = (float) g_rand_double_range (rand, 0.0, 0.5);
  }
  g_rand_free (rand);

  lstm_train_config_init (&cfg, LSTM_OPTIMIZER_SGD);
  cfg.loss = bc->loss;
  cfg.last_frame_only = bc->last;
  cfg.dropout = bc->dropout;
  cfg.seed = 99;
  tr = lstm_trainer_new (m, &cfg, 3, 6, &error);
  g_assert_no_error (error);
  lstm_trainer_compute_gradients (tr, &batch, &loss, NULL, &error);
  g_assert_no_error (error);
  for (k = 0; bc->dropout > 0.0 && k < bc->L; k++) {
    for (b = 0; b < 3; b++) {
      for (t = 0; t < lengths[b]; t++) {
        const float *row = lstm_trainer_get_dropout_row (tr, k, b, t);
        if (k + 1 == bc->L) {
          g_assert_null (row);  /* the last layer's output is not dropped */
          continue;
        }
        g_assert_nonnull (row);
        for (guint j = 0; j < 5; j++) {
          n_all++;
          n_zero += row[j] == 0.0f;
          g_assert_true (row[j] == 0.0f
              || row[j] == 1.0f / (1.0f - (float) bc->dropout));
        }
        g_hash_table_insert (masks, g_strdup_printf ("%u/%u/%u", k, b, t),
            g_memdup2 (row, 5 * sizeof (float)));
      }
    }
  }
  if (bc->dropout > 0.0) {
    /* something was dropped and something kept */
    g_assert_cmpuint (n_zero, >, 0);
    g_assert_cmpuint (n_zero, <, n_all);
  }

  err = central_difference_error (&rl, lstm_trainer_get_gradients (tr, NULL),
      1, &ref);
  g_test_message ("%s (%u layers, dropout %g: %u of %u dropped): gradient vs "
      "central differences max rel error %.3g (tolerance %g); loss %.9g vs "
      "double %.9g", bc->name, bc->L, bc->dropout, n_zero, n_all, err,
      FD_REL_TOL, loss, ref);
  g_assert_cmpfloat (err, <=, FD_REL_TOL);
  g_assert_cmpfloat (fabs (loss - ref), <=, 1e-5 * fabs (ref));
}

/* ---------------------------------------------------------- optimizers */

/* `key=value` words of the reference's metadata into a config. */
static guint
parse_optim (const gchar * spec, LstmTrainConfig * cfg)
{
  g_auto (GStrv) words = g_strsplit (spec, " ", -1);
  guint steps = 0, i;

  for (i = 0; words[i] != NULL; i++) {
    g_auto (GStrv) kv = g_strsplit (words[i], "=", 2);
    const gchar *k = kv[0], *v = kv[1];
    double d = g_ascii_strtod (v, NULL);
    if (g_str_equal (k, "optimizer")) {
      LstmOptimizer o = g_str_equal (v, "sgd") ? LSTM_OPTIMIZER_SGD :
          g_str_equal (v, "adam") ? LSTM_OPTIMIZER_ADAM :
          g_str_equal (v, "adamw") ? LSTM_OPTIMIZER_ADAMW :
          LSTM_OPTIMIZER_RMSPROP;
      LstmLoss loss = cfg->loss;
      gboolean last = cfg->last_frame_only;
      lstm_train_config_init (cfg, o);
      cfg->loss = loss;
      cfg->last_frame_only = last;
    } else if (g_str_equal (k, "lr"))
      cfg->learning_rate = d;
    else if (g_str_equal (k, "momentum"))
      cfg->momentum = d;
    else if (g_str_equal (k, "dampening"))
      cfg->dampening = d;
    else if (g_str_equal (k, "nesterov"))
      cfg->nesterov = d != 0.0;
    else if (g_str_equal (k, "centered"))
      cfg->centered = d != 0.0;
    else if (g_str_equal (k, "weight_decay"))
      cfg->weight_decay = d;
    else if (g_str_equal (k, "clip"))
      cfg->clip_norm = d;
    else if (g_str_equal (k, "steps"))
      steps = (guint) d;
    else
      g_error ("unknown optimizer setting %s", k);
  }
  return steps;
}

static const gchar *optim_settings[] = {
  "sgd", "sgd_momentum", "sgd_nesterov", "sgd_weight_decay",
  "sgd_dampening_clip", "adam", "adam_weight_decay", "adam_clip", "adamw",
  "rmsprop", "rmsprop_full_clip",
};

/* A fresh copy of the case's model and a trainer of `setting`. */
static LstmTrainer *
optim_trainer (const TrainCase * tc, const gchar * setting, guint * steps)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *key = g_strdup_printf ("optim.%s", setting);
  const gchar *spec = g_hash_table_lookup (tc->file->metadata, key);
  g_autoptr (LstmModel) copy = lstm_model_copy (tc->model);
  LstmTrainConfig cfg;
  LstmTrainer *tr;

  g_assert_nonnull (spec);
  case_config (tc, &cfg, LSTM_OPTIMIZER_SGD);
  *steps = parse_optim (spec, &cfg);
  tr = lstm_trainer_new (copy, &cfg, tc->B, max_length (tc), &error);
  g_assert_no_error (error);
  return tr;
}

/* max_i (|p_i - want_i| - 2 ulp (want_i), at least 0) / max_i |update_i| */
static double
update_error (const float *p, const float *want, const float *update, gsize n)
{
  double err = 0.0, scale = 0.0;
  gsize i;

  for (i = 0; i < n; i++) {
    float a = fabsf (want[i]);
    double ulp = (double) nextafterf (a, INFINITY) - a;
    double d = fabs ((double) p[i] - want[i]) - 2.0 * ulp;
    if (!(d <= err))
      err = isnan (d) ? INFINITY : d;
    scale = MAX (scale, fabs (update[i]));
  }
  return err / MAX (scale, 1e-30);
}

/* PyTorch's gradient of each step through our optimizer: the update
 * (p_s - p_{s-1}) must be PyTorch's. */
static void
test_optimizer_update (gconstpointer data)
{
  const gchar *setting = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (TrainCase) tc = train_case_load ("optim_l2");
  g_autoptr (LstmTrainer) tr = NULL;
  guint steps, s;
  gsize n = tc->model->n_params, i;
  double worst = 0.0, worst_param = 0.0, raw = 0.0;
  const gchar *name = "";

  tr = optim_trainer (tc, setting, &steps);
  for (s = 1; s <= steps; s++) {
    g_autofree gchar *gp = g_strdup_printf ("%s.%u.grad.", setting, s);
    g_autofree gchar *pp = g_strdup_printf ("%s.%u.param.", setting, s);
    g_autofree float *grad = flat_from_file (tc, gp);
    g_autofree float *want = flat_from_file (tc, pp);
    g_autofree float *before = g_memdup2 (lstm_trainer_get_model (tr)->params,
        n * sizeof (float));
    g_autofree float *d_ours = g_new (float, n);
    g_autofree float *d_want = g_new (float, n);
    float *p = lstm_trainer_get_model (tr)->params;

    memcpy (lstm_trainer_get_gradients (tr, NULL), grad, n * sizeof (float));
    lstm_trainer_apply_gradients (tr, &error);
    g_assert_no_error (error);
    for (i = 0; i < n; i++) {
      d_ours[i] = p[i] - before[i];
      d_want[i] = want[i] - before[i];
    }
    raw = MAX (raw, flat_rel_error (tc->model, d_ours, d_want, &name));
    worst = MAX (worst, update_error (p, want, d_want, n));
    worst_param = MAX (worst_param, flat_rel_error (tc->model, p, want, &name));
    /* go on from PyTorch's parameters, so each step is tested alone */
    memcpy (p, want, n * sizeof (float));
  }
  g_test_message ("%s: %u steps from PyTorch's gradients: update max rel "
      "error beyond 2 ulps %.3g (tolerance %g; %.3g with the ulps), "
      "parameters %.3g", setting, steps, worst, OPTIM_UPDATE_REL_TOL, raw,
      worst_param);
  g_assert_cmpuint (lstm_trainer_get_step_count (tr), ==, steps);
  g_assert_cmpfloat (worst, <=, OPTIM_UPDATE_REL_TOL);
}

/* Our whole steps (our gradients) against PyTorch's parameters. */
static void
test_optimizer_steps (gconstpointer data)
{
  const gchar *setting = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (TrainCase) tc = train_case_load ("optim_l2");
  g_autoptr (LstmTrainer) tr = NULL;
  g_autofree gchar *lk = g_strdup_printf ("%s.loss", setting);
  g_autofree float *want_loss = NULL;
  guint steps, s;
  double worst = 0.0, worst_loss = 0.0, tol;
  const gchar *name = "";

  tr = optim_trainer (tc, setting, &steps);
  want_loss = tensor_floats (tc, lk, NULL);
  tol = steps > 3 ? LONG_RUN_PARAM_REL_TOL : STEP_PARAM_REL_TOL;
  for (s = 1; s <= steps; s++) {
    g_autofree gchar *pp = g_strdup_printf ("%s.%u.param.", setting, s);
    g_autofree gchar *probe = g_strdup_printf ("%slstm.bias_ih_l0", pp);
    float loss;
    lstm_trainer_step (tr, &tc->batch, &loss, NULL, &error);
    g_assert_no_error (error);
    worst_loss = MAX (worst_loss, fabs (loss - want_loss[s - 1]) /
        fabs (want_loss[s - 1]));
    /* every step is kept, or only the last one (the 20-step run) */
    if (has_tensor (tc, probe)) {
      g_autofree float *want = flat_from_file (tc, pp);
      worst = MAX (worst, flat_rel_error (tc->model,
              lstm_trainer_get_model (tr)->params, want, &name));
    }
  }
  g_test_message ("%s: %u steps with our gradients: parameters max rel "
      "error %.3g (tolerance %g), losses %.3g (first %.6g, last %.6g); "
      "gradient norm before clipping %.4g", setting, steps, worst, tol,
      worst_loss, want_loss[0], want_loss[steps - 1],
      lstm_trainer_get_gradient_norm (tr));
  g_assert_cmpfloat (worst, <=, tol);
  g_assert_cmpfloat (worst_loss, <=, LOSS_REL_TOL * steps);
  /* the case was made so that clipping acts */
  if (lstm_trainer_get_config (tr)->clip_norm > 0.0)
    g_assert_cmpfloat (lstm_trainer_get_gradient_norm (tr), >,
        lstm_trainer_get_config (tr)->clip_norm);
}

/* The optimizers' bits with this process's kernels (LSTM_BLAS_KERNELS):
 * Adam, Adam with L2 decay and AdamW, 3 steps each from fixed gradients;
 * prints an FNV-1a hash of the parameters after each optimizer. */
static void
print_optimizer_bits (void)
{
  const LstmOptimizer opts[] = { LSTM_OPTIMIZER_ADAM, LSTM_OPTIMIZER_ADAM,
    LSTM_OPTIMIZER_ADAMW
  };
  guint o, s;
  gsize i, n;

  for (o = 0; o < G_N_ELEMENTS (opts); o++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (LstmModel) m = lstm_model_new (3, 5, 2, 4,
        LSTM_OUTPUT_SOFTMAX, &error);
    g_autoptr (LstmTrainer) tr = NULL;
    LstmTrainConfig cfg;
    GRand *rng = g_rand_new_with_seed (3);
    guint32 hash = 2166136261u, bits;

    g_assert_no_error (error);
    lstm_model_init_random (m, 5);
    lstm_train_config_init (&cfg, opts[o]);
    cfg.weight_decay = o == 0 ? 0.0 : 0.01;
    tr = lstm_trainer_new (m, &cfg, 1, 1, &error);
    g_assert_no_error (error);
    n = m->n_params;
    for (s = 0; s < 3; s++) {
      float *g = lstm_trainer_get_gradients (tr, NULL);
      for (i = 0; i < n; i++)
        g[i] = (float) g_rand_double_range (rng, -1.0, 1.0);
      lstm_trainer_apply_gradients (tr, &error);
      g_assert_no_error (error);
    }
    for (i = 0; i < n; i++) {
      memcpy (&bits, &m->params[i], 4);
      hash = (hash ^ bits) * 16777619u;
    }
    printf ("%08x ", hash);
    g_rand_free (rng);
  }
  printf ("\n");
}

/* Adam's vector loop (AVX-512) rounds as the scalar one (the others):
 * the same bits. */
static void
test_optimizer_kernels_agree (void)
{
  g_autofree gchar *plain = run_self_with_kernels ("--print-optimizer-bits",
      "openblas");
  g_autofree gchar *avx2 = run_self_with_kernels ("--print-optimizer-bits",
      "avx2");
  g_autofree gchar *avx512 = run_self_with_kernels ("--print-optimizer-bits",
      "avx512");

  g_test_message ("openblas %s | avx2 %s | avx512 %s", plain, avx2, avx512);
  g_assert_cmpuint (strlen (plain), ==, 3 * 9 - 1);
  g_assert_cmpstr (plain, ==, avx2);
  g_assert_cmpstr (plain, ==, avx512);
}

int
main (int argc, char **argv)
{
  guint i;

  if (argc > 1 && g_str_equal (argv[1], "--print-optimizer-bits")) {
    print_optimizer_bits ();
    return 0;
  }
  g_test_init (&argc, &argv, NULL);

  for (i = 0; i < G_N_ELEMENTS (grad_cases); i++) {
    g_autofree gchar *p = g_strdup_printf ("/lstm/train/gradients/%s",
        grad_cases[i]);
    g_test_add_data_func (p, grad_cases[i], test_gradients);
  }
  for (i = 0; i < G_N_ELEMENTS (grad_cases); i++) {
    g_autofree gchar *p = NULL;
    if (g_str_equal (grad_cases[i], "ce_h24_l2"))
      continue;                 /* 8,000 parameters: slow in plain double */
    p = g_strdup_printf ("/lstm/train/central-differences/%s", grad_cases[i]);
    g_test_add_data_func (p, grad_cases[i], test_central_differences);
  }
  for (i = 0; i < G_N_ELEMENTS (built_cases); i++) {
    g_autofree gchar *p = g_strdup_printf ("/lstm/train/central-differences/%s",
        built_cases[i].name);
    g_test_add_data_func (p, &built_cases[i], test_central_differences_built);
  }
  for (i = 0; i < G_N_ELEMENTS (optim_settings); i++) {
    g_autofree gchar *p = g_strdup_printf ("/lstm/train/optimizer/update/%s",
        optim_settings[i]);
    g_autofree gchar *q = g_strdup_printf ("/lstm/train/optimizer/steps/%s",
        optim_settings[i]);
    g_test_add_data_func (p, optim_settings[i], test_optimizer_update);
    g_test_add_data_func (q, optim_settings[i], test_optimizer_steps);
  }
  g_test_add_data_func ("/lstm/train/optimizer/steps/adam_clip_20",
      "adam_clip_20", test_optimizer_steps);
  g_test_add_func ("/lstm/train/optimizer/kernels-agree",
      test_optimizer_kernels_agree);
  return g_test_run ();
}
