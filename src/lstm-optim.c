/* Gradient clipping and the optimizers, as single loops over the flat
 * parameter, gradient and state buffers (padding is 0 in all of them and
 * stays 0: every update maps p = g = state = 0 to 0).
 *
 * Each update is PyTorch 1.13's single-tensor code (`_single_tensor_*` in
 * torch/optim/sgd.py, adam.py, adamw.py and rmsprop.py), operation for
 * operation: hyperparameters are Python
 * floats (double) that ATen rounds to float32 when they meet a tensor,
 * bias corrections are computed in double as Python does, and
 * t.add_(u, alpha=a) is t + a * u, t.addcmul_(u, v, value=a) is
 * t + a * u * v, t.addcdiv_(u, v, value=a) is t + a * (u / v).
 */
#include "lstm-train-private.h"

#include <math.h>
#include <string.h>

#if defined (__x86_64__) && defined (__GNUC__)
#define HAVE_X86_KERNELS 1
#include <immintrin.h>
#endif

gboolean
lstm_optim_check_config (const LstmTrainConfig * c, GError ** error)
{
#define REFUSE(...) G_STMT_START { \
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID, __VA_ARGS__); \
    return FALSE; } G_STMT_END

  if (c->loss > LSTM_LOSS_MSE)
    REFUSE ("loss %d is not a LstmLoss", (int) c->loss);
  if (c->optimizer > LSTM_OPTIMIZER_RMSPROP)
    REFUSE ("optimizer %d is not a LstmOptimizer", (int) c->optimizer);
  if (!isfinite (c->learning_rate) || c->learning_rate < 0.0)
    REFUSE ("learning rate %g must be finite and >= 0", c->learning_rate);
  if (!isfinite (c->weight_decay) || c->weight_decay < 0.0)
    REFUSE ("weight decay %g must be finite and >= 0", c->weight_decay);
  if (!isfinite (c->momentum) || c->momentum < 0.0)
    REFUSE ("momentum %g must be finite and >= 0", c->momentum);
  if (!isfinite (c->dampening))
    REFUSE ("dampening %g must be finite", c->dampening);
  if (c->nesterov && (c->momentum <= 0.0 || c->dampening != 0.0))
    REFUSE ("Nesterov momentum needs momentum > 0 (is %g) and dampening 0 "
        "(is %g)", c->momentum, c->dampening);
  if (!(c->beta1 >= 0.0 && c->beta1 < 1.0))
    REFUSE ("beta1 %g must be in [0, 1)", c->beta1);
  if (!(c->beta2 >= 0.0 && c->beta2 < 1.0))
    REFUSE ("beta2 %g must be in [0, 1)", c->beta2);
  if (!isfinite (c->eps) || c->eps < 0.0)
    REFUSE ("eps %g must be finite and >= 0", c->eps);
  if (!isfinite (c->alpha) || c->alpha < 0.0)
    REFUSE ("RMSprop alpha %g must be finite and >= 0", c->alpha);
  if (!isfinite (c->clip_norm) || c->clip_norm < 0.0)
    REFUSE ("clip norm %g must be finite and >= 0 (0: no clipping)",
        c->clip_norm);
  if (!(c->dropout >= 0.0 && c->dropout < 1.0))
    REFUSE ("dropout %g must be in [0, 1)", c->dropout);
  return TRUE;
#undef REFUSE
}

/* torch.nn.utils.clip_grad_norm_ (norm_type 2):
 *   total = || (||g_1||, ||g_2||, ...) || = sqrt (sum of every g^2)
 *   coef  = max_norm / (total + 1e-6), clamped to at most 1;  g *= coef
 * (PyTorch computes max_norm / x as x.reciprocal () * max_norm.) */
static void
clip (LstmTrainer * t, float total)
{
  float coef = (1.0f / (total + 1e-6f)) * (float) t->config.clip_norm;
  gsize i, n = t->model->n_params;

  if (coef >= 1.0f)
    return;                     /* multiplying by 1 changes nothing */
  for (i = 0; i < n; i++)
    t->grad[i] *= coef;
}

/* torch.optim.SGD:
 *   d = g + wd p
 *   momentum: b = d at the first step, else b = mu b + (1 - dampening) d;
 *             d = d + mu b (nesterov) or d = b
 *   p = p - lr d */
static void
sgd (LstmTrainer * t)
{
  const LstmTrainConfig *c = &t->config;
  float *p = t->model->params, *g = t->grad, *b = t->opt_a;
  float wd = (float) c->weight_decay, mu = (float) c->momentum;
  float keep = (float) (1.0 - c->dampening), neg_lr = (float) -c->learning_rate;
  gsize i, n = t->model->n_params;

  for (i = 0; i < n; i++) {
    float d = g[i];
    if (c->weight_decay != 0.0)
      d = d + wd * p[i];
    if (c->momentum != 0.0) {
      b[i] = t->opt_started ? b[i] * mu + keep * d : d;
      d = c->nesterov ? d + mu * b[i] : b[i];
    }
    p[i] = p[i] + neg_lr * d;
  }
  t->opt_started = TRUE;
}

/* torch.optim.Adam (weight decay as L2 in the gradient) and AdamW (decoupled:
 * p = p (1 - lr wd) first), step s counted from 1:
 *   m = beta1 m + (1 - beta1) g
 *   v = beta2 v + (1 - beta2) g^2
 *   p = p - lr / (1 - beta1^s) * m / (sqrt (v) / sqrt (1 - beta2^s) + eps)
 * The constants of one step, as float32: */
typedef struct
{
  float neg_step, bc2_sqrt, b1, b2, omb1, omb2, eps, wd, decay;
  gboolean decoupled, l2;
} AdamStep;

/* elements [i, n) */
static void
adam_scalar (const AdamStep * a, float *p, const float *g, float *m,
    float *v, gsize i, gsize n)
{
  for (; i < n; i++) {
    float d = g[i], denom;
    if (a->decoupled)
      p[i] = p[i] * a->decay;
    else if (a->l2)
      d = d + a->wd * p[i];
    m[i] = m[i] * a->b1 + a->omb1 * d;
    v[i] = v[i] * a->b2 + a->omb2 * d * d;
    denom = sqrtf (v[i]) / a->bc2_sqrt + a->eps;
    p[i] = p[i] + a->neg_step * (m[i] / denom);
  }
}

#ifdef HAVE_X86_KERNELS
/* The same 16 elements at a time, rounded as adam_scalar rounds: IEEE
 * sqrt and division, and no product fused into a sum (fp-contract off),
 * so both give the same bits. Returns how many it did. */
/* *INDENT-OFF* */
__attribute__ ((target ("avx512f"), optimize ("fp-contract=off")))
static gsize
adam_avx512 (const AdamStep * a, float *p, const float *g, float *m,
    float *v, gsize n)
/* *INDENT-ON* */
{
  __m512 b1 = _mm512_set1_ps (a->b1), b2 = _mm512_set1_ps (a->b2);
  __m512 omb1 = _mm512_set1_ps (a->omb1), omb2 = _mm512_set1_ps (a->omb2);
  __m512 bc2 = _mm512_set1_ps (a->bc2_sqrt), eps = _mm512_set1_ps (a->eps);
  __m512 step = _mm512_set1_ps (a->neg_step), wd = _mm512_set1_ps (a->wd);
  __m512 decay = _mm512_set1_ps (a->decay);
  gsize i;

  for (i = 0; i + 16 <= n; i += 16) {
    __m512 pi = _mm512_loadu_ps (p + i), d = _mm512_loadu_ps (g + i);
    __m512 mi, vi, denom;
    if (a->decoupled)
      pi = _mm512_mul_ps (pi, decay);
    else if (a->l2)
      d = _mm512_add_ps (d, _mm512_mul_ps (wd, pi));
    mi = _mm512_add_ps (_mm512_mul_ps (_mm512_loadu_ps (m + i), b1),
        _mm512_mul_ps (omb1, d));
    vi = _mm512_add_ps (_mm512_mul_ps (_mm512_loadu_ps (v + i), b2),
        _mm512_mul_ps (_mm512_mul_ps (omb2, d), d));
    denom = _mm512_add_ps (_mm512_div_ps (_mm512_sqrt_ps (vi), bc2), eps);
    _mm512_storeu_ps (m + i, mi);
    _mm512_storeu_ps (v + i, vi);
    _mm512_storeu_ps (p + i, _mm512_add_ps (pi, _mm512_mul_ps (step,
                _mm512_div_ps (mi, denom))));
  }
  return i;
}
#endif

static void
adam (LstmTrainer * t, gboolean decoupled)
{
  const LstmTrainConfig *c = &t->config;
  double s = (double) t->step_count;
  double bc1 = 1.0 - pow (c->beta1, s), bc2 = 1.0 - pow (c->beta2, s);
  AdamStep a = {
    .neg_step = (float) -(c->learning_rate / bc1),
    .bc2_sqrt = (float) sqrt (bc2),
    .b1 = (float) c->beta1,
    .b2 = (float) c->beta2,
    .omb1 = (float) (1.0 - c->beta1),
    .omb2 = (float) (1.0 - c->beta2),
    .eps = (float) c->eps,
    .wd = (float) c->weight_decay,
    .decay = (float) (1.0 - c->learning_rate * c->weight_decay),
    .decoupled = decoupled,
    .l2 = !decoupled && c->weight_decay != 0.0,
  };
  gsize i = 0, n = t->model->n_params;

#ifdef HAVE_X86_KERNELS
  /* scalar, this took 1.8 % of a bench-train step (perf) */
  if (g_str_equal (lstm_blas_get_kernels (), "avx512"))
    i = adam_avx512 (&a, t->model->params, t->grad, t->opt_a, t->opt_b, n);
#endif
  adam_scalar (&a, t->model->params, t->grad, t->opt_a, t->opt_b, i, n);
}

/* torch.optim.RMSprop:
 *   d = g + wd p
 *   v = alpha v + (1 - alpha) d^2
 *   centered: a = alpha a + (1 - alpha) d;  r = sqrt (v - a^2) + eps
 *   else r = sqrt (v) + eps
 *   momentum: b = mu b + d / r;  p = p - lr b
 *   else p = p - lr d / r */
static void
rmsprop (LstmTrainer * t)
{
  const LstmTrainConfig *c = &t->config;
  float *p = t->model->params, *g = t->grad;
  float *b = t->opt_a, *v = t->opt_b, *a = t->opt_c;
  float wd = (float) c->weight_decay, al = (float) c->alpha;
  float omal = (float) (1.0 - c->alpha), eps = (float) c->eps;
  float mu = (float) c->momentum, neg_lr = (float) -c->learning_rate;
  gsize i, n = t->model->n_params;

  for (i = 0; i < n; i++) {
    float d = g[i], r;
    if (c->weight_decay != 0.0)
      d = d + wd * p[i];
    v[i] = v[i] * al + omal * d * d;
    if (c->centered) {
      a[i] = a[i] * al + omal * d;
      r = sqrtf (v[i] + -1.0f * a[i] * a[i]) + eps;
    } else {
      r = sqrtf (v[i]) + eps;
    }
    if (c->momentum > 0.0) {
      b[i] = b[i] * mu + d / r;
      p[i] = p[i] + neg_lr * b[i];
    } else {
      p[i] = p[i] + neg_lr * (d / r);
    }
  }
}

gboolean
lstm_optim_apply (LstmTrainer * t, GError ** error)
{
  gsize i, n = t->model->n_params;
  double sum = 0.0, norm;

  for (i = 0; i < n; i++)
    sum += (double) t->grad[i] * t->grad[i];
  norm = sqrt (sum);
  if (!isfinite (norm)) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_INVALID,
        "the gradient is not finite (norm %g); the update was skipped", norm);
    return FALSE;
  }
  t->grad_norm = norm;
  if (t->config.clip_norm > 0.0)
    clip (t, (float) norm);

  t->step_count++;
  switch (t->config.optimizer) {
    case LSTM_OPTIMIZER_SGD:
      sgd (t);
      break;
    case LSTM_OPTIMIZER_ADAM:
      adam (t, FALSE);
      break;
    case LSTM_OPTIMIZER_ADAMW:
      adam (t, TRUE);
      break;
    case LSTM_OPTIMIZER_RMSPROP:
      rmsprop (t);
      break;
  }
  lstm_model_weights_changed (t->model);
  return TRUE;
}
