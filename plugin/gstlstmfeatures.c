/**
 * SECTION:element-lstmfeatures
 * @title: lstmfeatures
 *
 * Computes Kaldi's log-mel filterbank (`type=fbank`) or MFCC (`type=mfcc`)
 * frames from audio, as `compute-fbank-feats` / `compute-mfcc-feats` and
 * `torchaudio.compliance.kaldi.fbank` / `.mfcc` compute them. The
 * properties carry Kaldi's option names; their defaults are torchaudio's
 * (Kaldi's, except `dither` 0 instead of 1, `energy-floor` 1 instead of 0
 * and, for MFCC, `use-energy` false instead of true).
 *
 * Input: `audio/x-raw, format=S16LE|F32LE, layout=interleaved`, any rate
 * and channel count. Several channels are averaged, or #GstLstmFeatures:channel
 * takes one. Samples are used in Kaldi's scale, the range of 16-bit
 * integers: S16 as is, F32 multiplied by 32768 (a full-scale F32 sine and
 * a full-scale S16 sine give the same features). A NaN or infinite F32
 * sample, or one beyond ±1.04e34 (infinite once multiplied by 32768),
 * counts as 0; the #GstLstmFeatures:nonfinite-samples count goes up and
 * a warning is posted at most once a second. Features are never NaN.
 *
 * Output: a frame stream, `audio/x-raw, format=F32LE, layout=interleaved,
 * channels=<floats per frame>, rate=<1000 / frame-shift, rounded, at
 * least 1>, channel-mask=(bitmask)0`: num-mel-bins values (plus the log energy
 * first with use-energy) for fbank, num-ceps for MFCC. Frame i has PTS
 * t0 + i × shift (t0: the time of the stream's first sample, shift: the
 * frame shift in samples, rate × frame-shift / 1000 truncated as Kaldi
 * does) and lasts one shift: with snip-edges that is the start of its
 * window; without, the window is centred on the shift and starts
 * frame-length / 2 - frame-shift / 2 earlier (before the stream for the
 * first frames, hence this convention).
 *
 * Frames come out as soon as their window is complete, and are the same
 * however the audio is split into buffers. At end of stream the tail is
 * handled as Kaldi does: with snip-edges, the samples after the last whole
 * window are dropped; without, the last frames (up to round (samples /
 * shift)) are computed on the signal reflected at its end. The same
 * happens when the stream ends otherwise: at a caps change (a new rate,
 * for example: the old stream's tail is flushed downstream under the old
 * caps, then framing starts afresh), at STREAM_START, at a DISCONT
 * buffer, at a buffer whose PTS is more than 40 ms away from the end of
 * the samples before it, and at a GAP event. A flush drops the tail.
 *
 * With #GstLstmFeatures:cmn-window N > 0, each frame then has its mean
 * over a sliding window removed, as Kaldi's apply-cmvn-sliding
 * (--norm-vars=false --center=false --min-cmn-window=100) and
 * torchaudio.functional.sliding_window_cmn do: frame t minus the mean of
 * frames t - N to t; the first frames of a stream, which have fewer than
 * 100 frames before them, minus the mean of its first 100 frames (of all
 * of them if the stream is shorter). Those first frames therefore come
 * out only once 100 frames (1 s at the default shift) are in, or when the
 * stream ends; this start-up delay is not in the latency the element
 * reports. The window restarts wherever the framing does (see above).
 *
 * A sample rate too low for the mel range (low-freq and high-freq must lie
 * under rate / 2), or for num-mel-bins (every mel bin needs an FFT bin),
 * fails negotiation with an error that names the rate and the frequencies.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -q filesrc location=speech.wav ! wavparse ! audioconvert ! lstmfeatures num-mel-bins=40 ! lstm model=model.safetensors ! text/x-raw ! fdsink fd=1
 * ]| Runs a model trained on 40 log-mel filterbank values per 10 ms over a
 * WAV file and prints a prediction per frame.
 * |[
 * gst-launch-1.0 -q audiotestsrc num-buffers=10 ! lstmfeatures type=mfcc ! fakesink
 * ]| 13 MFCCs per 10 ms of a test tone.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstlstmfeatures.h"
#include "gstlstmelements.h"

#include <math.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_lstm_features_debug);
#define GST_CAT_DEFAULT gst_lstm_features_debug

/* torchaudio.compliance.kaldi's defaults (lstm_features_config_init) */
#define DEFAULT_TYPE LSTM_FEATURES_FBANK
#define DEFAULT_NUM_MEL_BINS 23
#define DEFAULT_NUM_CEPS 13
#define DEFAULT_FRAME_LENGTH 25.0
#define DEFAULT_FRAME_SHIFT 10.0
#define DEFAULT_PREEMPHASIS_COEFFICIENT 0.97
#define DEFAULT_WINDOW_TYPE LSTM_WINDOW_POVEY
#define DEFAULT_BLACKMAN_COEFF 0.42
#define DEFAULT_DITHER 0.0
#define DEFAULT_REMOVE_DC_OFFSET TRUE
#define DEFAULT_USE_ENERGY FALSE
#define DEFAULT_RAW_ENERGY TRUE
#define DEFAULT_ENERGY_FLOOR 1.0
#define DEFAULT_LOW_FREQ 20.0
#define DEFAULT_HIGH_FREQ 0.0
#define DEFAULT_SNIP_EDGES TRUE
#define DEFAULT_USE_LOG_FBANK TRUE
#define DEFAULT_CEPSTRAL_LIFTER 22.0
#define DEFAULT_CHANNEL -1
#define DEFAULT_CMN_WINDOW 0

enum
{
  PROP_0,
  PROP_TYPE,
  PROP_NUM_MEL_BINS,
  PROP_NUM_CEPS,
  PROP_FRAME_LENGTH,
  PROP_FRAME_SHIFT,
  PROP_PREEMPHASIS_COEFFICIENT,
  PROP_WINDOW_TYPE,
  PROP_BLACKMAN_COEFF,
  PROP_DITHER,
  PROP_REMOVE_DC_OFFSET,
  PROP_USE_ENERGY,
  PROP_RAW_ENERGY,
  PROP_ENERGY_FLOOR,
  PROP_LOW_FREQ,
  PROP_HIGH_FREQ,
  PROP_SNIP_EDGES,
  PROP_USE_LOG_FBANK,
  PROP_CEPSTRAL_LIFTER,
  PROP_CHANNEL,
  PROP_CMN_WINDOW,
  PROP_NONFINITE_SAMPLES,
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("audio/x-raw, format = (string) { S16LE, F32LE }, "
        "layout = (string) interleaved, channels = (int) [ 1, MAX ], "
        "rate = (int) [ 1, MAX ]"));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("audio/x-raw, format = (string) F32LE, "
        "layout = (string) interleaved, channels = (int) [ 1, MAX ], "
        "rate = (int) [ 1, MAX ], channel-mask = (bitmask) 0"));

#define gst_lstm_features_parent_class parent_class
G_DEFINE_TYPE (GstLstmFeatures, gst_lstm_features, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (lstmfeatures, "lstmfeatures", GST_RANK_NONE,
    GST_TYPE_LSTM_FEATURES);

#define GST_TYPE_LSTM_FEATURES_TYPE (gst_lstm_features_type_get_type ())
/* *INDENT-OFF* */
GST_LSTM_DEFINE_ENUM_TYPE (gst_lstm_features_type_get_type,
    "GstLstmFeaturesType",
    {LSTM_FEATURES_FBANK, "Log-mel filterbank energies (compute-fbank-feats)",
        "fbank"},
    {LSTM_FEATURES_MFCC, "Mel-frequency cepstral coefficients "
          "(compute-mfcc-feats)", "mfcc"})
/* *INDENT-ON* */

#define GST_TYPE_LSTM_FEATURES_WINDOW (gst_lstm_features_window_get_type ())
/* *INDENT-OFF* */
GST_LSTM_DEFINE_ENUM_TYPE (gst_lstm_features_window_get_type,
    "GstLstmFeaturesWindow",
    {LSTM_WINDOW_POVEY, "Kaldi's povey window: hanning to the power 0.85",
        "povey"},
    {LSTM_WINDOW_HAMMING, "Hamming", "hamming"},
    {LSTM_WINDOW_HANNING, "Hanning", "hanning"},
    {LSTM_WINDOW_RECTANGULAR, "Rectangular (no window)", "rectangular"},
    {LSTM_WINDOW_BLACKMAN, "Blackman (see blackman-coeff)", "blackman"})
/* *INDENT-ON* */

static void gst_lstm_features_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec);
static void gst_lstm_features_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec);
static void gst_lstm_features_finalize (GObject * object);
static gboolean gst_lstm_features_start (GstBaseTransform * trans);
static gboolean gst_lstm_features_stop (GstBaseTransform * trans);
static GstCaps *gst_lstm_features_transform_caps (GstBaseTransform * trans,
    GstPadDirection direction, GstCaps * caps, GstCaps * filter);
static gboolean gst_lstm_features_set_caps (GstBaseTransform * trans,
    GstCaps * incaps, GstCaps * outcaps);
static gboolean gst_lstm_features_sink_event (GstBaseTransform * trans,
    GstEvent * event);
static gboolean gst_lstm_features_query (GstBaseTransform * trans,
    GstPadDirection direction, GstQuery * query);
static GstFlowReturn gst_lstm_features_prepare_output_buffer (GstBaseTransform
    * trans, GstBuffer * input, GstBuffer ** outbuf);
static GstFlowReturn gst_lstm_features_transform (GstBaseTransform * trans,
    GstBuffer * inbuf, GstBuffer * outbuf);
static GstFlowReturn gst_lstm_features_generate_output (GstBaseTransform *
    trans, GstBuffer ** outbuf);

/* Every property but the read-only count changes the framing or the frame
 * size, so all are fixed from READY to PAUSED on. */
static void
install_properties (GObjectClass * gobject_class)
{
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY;

  g_object_class_install_property (gobject_class, PROP_TYPE,
      g_param_spec_enum ("type", "Type",
          "Log-mel filterbank (fbank) or MFCC frames",
          GST_TYPE_LSTM_FEATURES_TYPE, DEFAULT_TYPE, rw));
  g_object_class_install_property (gobject_class, PROP_NUM_MEL_BINS,
      g_param_spec_uint ("num-mel-bins", "Mel bins",
          "Number of triangular mel-frequency bins (the fbank frame size, "
          "without use-energy)", 3, 1024, DEFAULT_NUM_MEL_BINS, rw));
  g_object_class_install_property (gobject_class, PROP_NUM_CEPS,
      g_param_spec_uint ("num-ceps", "Cepstra",
          "MFCC: cepstral coefficients kept, c0 included (the MFCC frame "
          "size); at most num-mel-bins", 1, 1024, DEFAULT_NUM_CEPS, rw));
  g_object_class_install_property (gobject_class, PROP_FRAME_LENGTH,
      g_param_spec_double ("frame-length", "Frame length",
          "Window length in milliseconds (in samples: rate * ms / 1000, "
          "truncated; the FFT pads it to a power of two)", 0.01, 10000.0,
          DEFAULT_FRAME_LENGTH, rw));
  g_object_class_install_property (gobject_class, PROP_FRAME_SHIFT,
      g_param_spec_double ("frame-shift", "Frame shift",
          "Milliseconds between the starts of two frames; the output has "
          "1000 / frame-shift frames per second (rounded, at least 1, in "
          "the caps)", 0.01, 10000.0, DEFAULT_FRAME_SHIFT, rw));
  g_object_class_install_property (gobject_class,
      PROP_PREEMPHASIS_COEFFICIENT, g_param_spec_double
      ("preemphasis-coefficient", "Pre-emphasis coefficient",
          "k in x[n] - k x[n-1], applied to each window (0: none)", 0.0, 1.0,
          DEFAULT_PREEMPHASIS_COEFFICIENT, rw));
  g_object_class_install_property (gobject_class, PROP_WINDOW_TYPE,
      g_param_spec_enum ("window-type", "Window type",
          "Window function applied to each frame",
          GST_TYPE_LSTM_FEATURES_WINDOW, DEFAULT_WINDOW_TYPE, rw));
  g_object_class_install_property (gobject_class, PROP_BLACKMAN_COEFF,
      g_param_spec_double ("blackman-coeff", "Blackman coefficient",
          "c of the generalized Blackman window c - 0.5 cos (a n) + "
          "(0.5 - c) cos (2 a n)", 0.0, 1.0, DEFAULT_BLACKMAN_COEFF, rw));
  g_object_class_install_property (gobject_class, PROP_DITHER,
      g_param_spec_double ("dither", "Dither",
          "Standard deviation of Gaussian noise added to each window, in "
          "16-bit sample units (0: none, deterministic output; Kaldi's "
          "default is 1). The noise is seeded, so a run is reproducible",
          0.0, 1e6, DEFAULT_DITHER, rw));
  g_object_class_install_property (gobject_class, PROP_REMOVE_DC_OFFSET,
      g_param_spec_boolean ("remove-dc-offset", "Remove DC offset",
          "Subtract each window's mean before the rest",
          DEFAULT_REMOVE_DC_OFFSET, rw));
  g_object_class_install_property (gobject_class, PROP_USE_ENERGY,
      g_param_spec_boolean ("use-energy", "Use energy",
          "fbank: add the frame's log energy as the first value; mfcc: "
          "replace c0 with it (Kaldi's compute-mfcc-feats defaults to true)",
          DEFAULT_USE_ENERGY, rw));
  g_object_class_install_property (gobject_class, PROP_RAW_ENERGY,
      g_param_spec_boolean ("raw-energy", "Raw energy",
          "Measure the energy before pre-emphasis and windowing (else "
          "after)", DEFAULT_RAW_ENERGY, rw));
  g_object_class_install_property (gobject_class, PROP_ENERGY_FLOOR,
      g_param_spec_double ("energy-floor", "Energy floor",
          "The log energy is at least log (energy-floor); 0: no floor "
          "(Kaldi's default is 0, torchaudio's 1)", 0.0, G_MAXDOUBLE,
          DEFAULT_ENERGY_FLOOR, rw));
  g_object_class_install_property (gobject_class, PROP_LOW_FREQ,
      g_param_spec_double ("low-freq", "Low frequency",
          "Lower edge of the first mel bin, in Hz", 0.0, G_MAXDOUBLE,
          DEFAULT_LOW_FREQ, rw));
  g_object_class_install_property (gobject_class, PROP_HIGH_FREQ,
      g_param_spec_double ("high-freq", "High frequency",
          "Upper edge of the last mel bin, in Hz; 0 or less: that much "
          "below the Nyquist frequency (rate / 2)", -G_MAXDOUBLE,
          G_MAXDOUBLE, DEFAULT_HIGH_FREQ, rw));
  g_object_class_install_property (gobject_class, PROP_SNIP_EDGES,
      g_param_spec_boolean ("snip-edges", "Snip edges",
          "true: only windows that fit in the signal; false: one frame per "
          "frame-shift, the signal reflected at both ends", DEFAULT_SNIP_EDGES,
          rw));
  g_object_class_install_property (gobject_class, PROP_USE_LOG_FBANK,
      g_param_spec_boolean ("use-log-fbank", "Log filterbank",
          "fbank: the log of the mel energies (else the energies)",
          DEFAULT_USE_LOG_FBANK, rw));
  g_object_class_install_property (gobject_class, PROP_CEPSTRAL_LIFTER,
      g_param_spec_double ("cepstral-lifter", "Cepstral lifter",
          "MFCC: L in c_k * (1 + L / 2 sin (pi k / L)); 0: none", 0.0,
          LSTM_FEATURES_MAX_LIFTER, DEFAULT_CEPSTRAL_LIFTER, rw));
  g_object_class_install_property (gobject_class, PROP_CHANNEL,
      g_param_spec_int ("channel", "Channel",
          "The input channel to use (0 is the first); -1 averages all",
          -1, G_MAXINT, DEFAULT_CHANNEL, rw));
  g_object_class_install_property (gobject_class, PROP_CMN_WINDOW,
      g_param_spec_uint ("cmn-window", "CMN window",
          "Sliding-window cepstral mean normalisation (Kaldi's "
          "apply-cmvn-sliding, means only): each frame minus the mean of "
          "itself and up to this many frames before it, the first frames "
          "minus the mean of the stream's first 100 (so they come out "
          "once 100 frames are in); 0: none", 0, 1000000,
          DEFAULT_CMN_WINDOW, rw));
  g_object_class_install_property (gobject_class, PROP_NONFINITE_SAMPLES,
      g_param_spec_uint64 ("nonfinite-samples", "Non-finite samples",
          "F32 input samples that were NaN, infinite or beyond +-1.04e34 "
          "(infinite once scaled by 32768), used as 0", 0,
          G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
}

static void
gst_lstm_features_class_init (GstLstmFeaturesClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->set_property = gst_lstm_features_set_property;
  gobject_class->get_property = gst_lstm_features_get_property;
  gobject_class->finalize = gst_lstm_features_finalize;
  install_properties (gobject_class);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "LSTM features",
      "Filter/Analyzer/Audio",
      "Computes Kaldi-compatible log-mel filterbank or MFCC frames from "
      "audio, as a frame stream", "gst-lstm developers");

  trans_class->start = GST_DEBUG_FUNCPTR (gst_lstm_features_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_lstm_features_stop);
  trans_class->transform_caps =
      GST_DEBUG_FUNCPTR (gst_lstm_features_transform_caps);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_lstm_features_set_caps);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_lstm_features_sink_event);
  trans_class->query = GST_DEBUG_FUNCPTR (gst_lstm_features_query);
  trans_class->prepare_output_buffer =
      GST_DEBUG_FUNCPTR (gst_lstm_features_prepare_output_buffer);
  trans_class->transform = GST_DEBUG_FUNCPTR (gst_lstm_features_transform);
  trans_class->generate_output =
      GST_DEBUG_FUNCPTR (gst_lstm_features_generate_output);
  trans_class->passthrough_on_same_caps = FALSE;

  gst_type_mark_as_plugin_api (GST_TYPE_LSTM_FEATURES_TYPE, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_LSTM_FEATURES_WINDOW, 0);
  GST_DEBUG_CATEGORY_INIT (gst_lstm_features_debug, "lstmfeatures", 0,
      "Kaldi-compatible audio features");
}

/* An empty buffer holds no samples: it is dropped before it reaches the
 * base class, so that neither its time (which would start a framing) nor
 * its DISCONT flag (which the base class would put on the next output)
 * has any effect. */
static GstPadProbeReturn
drop_empty_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);

  if (gst_buffer_get_size (buf) > 0)
    return GST_PAD_PROBE_OK;
  GST_LOG_OBJECT (pad, "empty buffer ignored: %" GST_PTR_FORMAT, buf);
  return GST_PAD_PROBE_DROP;
}

static void
gst_lstm_features_init (GstLstmFeatures * self)
{
  lstm_features_config_init (&self->cfg);
  self->channel = DEFAULT_CHANNEL;
  self->cmn_window = DEFAULT_CMN_WINDOW;
  self->t0 = GST_CLOCK_TIME_NONE;
  gst_segment_init (&self->segment, GST_FORMAT_TIME);
  /* the input caps are never the output caps: do not offer the frame
   * stream's caps upstream as if we could pass them through */
  gst_base_transform_set_prefer_passthrough (GST_BASE_TRANSFORM (self), FALSE);
  gst_pad_add_probe (GST_BASE_TRANSFORM_SINK_PAD (self),
      GST_PAD_PROBE_TYPE_BUFFER, drop_empty_buffer, NULL, NULL);
}

static void
gst_lstm_features_finalize (GObject * object)
{
  GstLstmFeatures *self = GST_LSTM_FEATURES (object);

  g_clear_pointer (&self->features, lstm_features_free);
  g_clear_pointer (&self->cmn, lstm_cmn_free);
  g_clear_pointer (&self->scratch, g_free);
  gst_clear_caps (&self->refused_caps);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

/* ---------------------------------------------------------- properties */

static void
gst_lstm_features_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstLstmFeatures *self = GST_LSTM_FEATURES (object);
  LstmFeaturesConfig *c = &self->cfg;

  GST_OBJECT_LOCK (self);
  if (self->streaming) {
    /* the frame size and framing are in the negotiated caps already */
    GST_OBJECT_UNLOCK (self);
    GST_WARNING_OBJECT (self, "'%s' can only change in the NULL or READY "
        "state: ignored", pspec->name);
    return;
  }
  switch (prop_id) {
    case PROP_TYPE:
      c->type = g_value_get_enum (value);
      break;
    case PROP_NUM_MEL_BINS:
      c->num_mel_bins = g_value_get_uint (value);
      break;
    case PROP_NUM_CEPS:
      c->num_ceps = g_value_get_uint (value);
      break;
    case PROP_FRAME_LENGTH:
      c->frame_length = g_value_get_double (value);
      break;
    case PROP_FRAME_SHIFT:
      c->frame_shift = g_value_get_double (value);
      break;
    case PROP_PREEMPHASIS_COEFFICIENT:
      c->preemphasis_coefficient = g_value_get_double (value);
      break;
    case PROP_WINDOW_TYPE:
      c->window_type = g_value_get_enum (value);
      break;
    case PROP_BLACKMAN_COEFF:
      c->blackman_coeff = g_value_get_double (value);
      break;
    case PROP_DITHER:
      c->dither = g_value_get_double (value);
      break;
    case PROP_REMOVE_DC_OFFSET:
      c->remove_dc_offset = g_value_get_boolean (value);
      break;
    case PROP_USE_ENERGY:
      c->use_energy = g_value_get_boolean (value);
      break;
    case PROP_RAW_ENERGY:
      c->raw_energy = g_value_get_boolean (value);
      break;
    case PROP_ENERGY_FLOOR:
      c->energy_floor = g_value_get_double (value);
      break;
    case PROP_LOW_FREQ:
      c->low_freq = g_value_get_double (value);
      break;
    case PROP_HIGH_FREQ:
      c->high_freq = g_value_get_double (value);
      break;
    case PROP_SNIP_EDGES:
      c->snip_edges = g_value_get_boolean (value);
      break;
    case PROP_USE_LOG_FBANK:
      c->use_log_fbank = g_value_get_boolean (value);
      break;
    case PROP_CEPSTRAL_LIFTER:
      c->cepstral_lifter = g_value_get_double (value);
      break;
    case PROP_CHANNEL:
      self->channel = g_value_get_int (value);
      break;
    case PROP_CMN_WINDOW:
      self->cmn_window = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_lstm_features_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstLstmFeatures *self = GST_LSTM_FEATURES (object);
  const LstmFeaturesConfig *c = &self->cfg;

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_TYPE:
      g_value_set_enum (value, c->type);
      break;
    case PROP_NUM_MEL_BINS:
      g_value_set_uint (value, c->num_mel_bins);
      break;
    case PROP_NUM_CEPS:
      g_value_set_uint (value, c->num_ceps);
      break;
    case PROP_FRAME_LENGTH:
      g_value_set_double (value, c->frame_length);
      break;
    case PROP_FRAME_SHIFT:
      g_value_set_double (value, c->frame_shift);
      break;
    case PROP_PREEMPHASIS_COEFFICIENT:
      g_value_set_double (value, c->preemphasis_coefficient);
      break;
    case PROP_WINDOW_TYPE:
      g_value_set_enum (value, c->window_type);
      break;
    case PROP_BLACKMAN_COEFF:
      g_value_set_double (value, c->blackman_coeff);
      break;
    case PROP_DITHER:
      g_value_set_double (value, c->dither);
      break;
    case PROP_REMOVE_DC_OFFSET:
      g_value_set_boolean (value, c->remove_dc_offset);
      break;
    case PROP_USE_ENERGY:
      g_value_set_boolean (value, c->use_energy);
      break;
    case PROP_RAW_ENERGY:
      g_value_set_boolean (value, c->raw_energy);
      break;
    case PROP_ENERGY_FLOOR:
      g_value_set_double (value, c->energy_floor);
      break;
    case PROP_LOW_FREQ:
      g_value_set_double (value, c->low_freq);
      break;
    case PROP_HIGH_FREQ:
      g_value_set_double (value, c->high_freq);
      break;
    case PROP_SNIP_EDGES:
      g_value_set_boolean (value, c->snip_edges);
      break;
    case PROP_USE_LOG_FBANK:
      g_value_set_boolean (value, c->use_log_fbank);
      break;
    case PROP_CEPSTRAL_LIFTER:
      g_value_set_double (value, c->cepstral_lifter);
      break;
    case PROP_CHANNEL:
      g_value_set_int (value, self->channel);
      break;
    case PROP_CMN_WINDOW:
      g_value_set_uint (value, self->cmn_window);
      break;
    case PROP_NONFINITE_SAMPLES:
      g_value_set_uint64 (value, self->nonfinite_total);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* ---------------------------------------------------------------- caps */

/* Floats per frame and frames per second for the current options:
 * num-mel-bins (+ 1) or num-ceps; round (1000 / frame-shift), at least 1
 * (a caps rate of 0 would be invalid). */
static void
output_shape (GstLstmFeatures * self, gint * channels, gint * rate)
{
  GST_OBJECT_LOCK (self);
  *channels = self->cfg.type == LSTM_FEATURES_MFCC ? self->cfg.num_ceps :
      self->cfg.num_mel_bins + (self->cfg.use_energy ? 1 : 0);
  *rate = MAX (1, (gint) lround (1000.0 / self->cfg.frame_shift));
  GST_OBJECT_UNLOCK (self);
}

static GstCaps *
gst_lstm_features_transform_caps (GstBaseTransform * trans,
    GstPadDirection direction, GstCaps * caps, GstCaps * filter)
{
  GstLstmFeatures *self = GST_LSTM_FEATURES (trans);
  GstCaps *result, *tmp;
  gint channels, rate;

  if (direction == GST_PAD_SINK) {
    /* audio in: the one frame stream the options give */
    output_shape (self, &channels, &rate);
    result = gst_lstm_frame_caps (channels, rate);
  } else {
    /* frames out: any audio in (the rate is checked at set_caps, where
     * a too-low one gets an error that says why) */
    result = gst_static_pad_template_get_caps (&sink_template);
  }
  if (filter != NULL) {
    tmp = gst_caps_intersect_full (filter, result, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (result);
    result = tmp;
  }
  GST_DEBUG_OBJECT (self, "%s caps %" GST_PTR_FORMAT " -> %" GST_PTR_FORMAT,
      direction == GST_PAD_SINK ? "sink" : "src", caps, result);
  return result;
}

/* Refuses input caps with one error message. Upstream offers the same
 * caps again on each retry of a negotiation and once more with EOS, and
 * every offer comes back here: posting each time floods the bus, so the
 * repeats are only logged. */
static gboolean
refuse_caps (GstLstmFeatures * self, GstCaps * incaps, const gchar * text,
    const gchar * debug)
{
  if (self->refused_caps != NULL
      && gst_caps_is_equal (self->refused_caps, incaps)) {
    GST_DEBUG_OBJECT (self, "refused again: %s", text);
    return FALSE;
  }
  gst_caps_replace (&self->refused_caps, incaps);
  GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("%s", text), ("%s", debug));
  return FALSE;
}

static gboolean
gst_lstm_features_set_caps (GstBaseTransform * trans, GstCaps * incaps,
    GstCaps * outcaps)
{
  GstLstmFeatures *self = GST_LSTM_FEATURES (trans);
  g_autoptr (GError) error = NULL;
  LstmFeaturesConfig cfg;
  LstmSampleFormat format;
  guint rate, channels;
  gint channel;
  guint cmn_window;
  gboolean s16;
  LstmFeatures *f;

  if (!gst_lstm_parse_audio_caps (incaps, &channels, &rate, &s16)) {
    g_autofree gchar *caps = gst_caps_to_string (incaps);
    return refuse_caps (self, incaps, "The input caps are not audio this "
        "element can read.", caps);
  }
  format = s16 ? LSTM_SAMPLE_S16 : LSTM_SAMPLE_F32;
  GST_OBJECT_LOCK (self);
  cfg = self->cfg;
  channel = self->channel;
  cmn_window = self->cmn_window;
  GST_OBJECT_UNLOCK (self);

  if (channel >= (gint) channels) {
    g_autofree gchar *text = g_strdup_printf ("Channel %d does not exist "
        "in a %u-channel stream.", channel, channels);
    g_autofree gchar *debug = g_strdup_printf ("the channel property picks "
        "one of 0 to %u, or -1 to average them", channels - 1);
    return refuse_caps (self, incaps, text, debug);
  }
  if (self->features != NULL && rate == self->rate) {
    /* the same caps again (a real change freed the extractor in the sink
     * event, after draining it): the unfinished frames' samples stay */
    self->channels = channels;
    self->format = format;
    self->use_channel = channel;
    self->bpf = channels * (format == LSTM_SAMPLE_S16 ? 2 : 4);
    return TRUE;
  }
  f = lstm_features_new (&cfg, rate, &error);
  if (f == NULL) {
    g_autofree gchar *caps = gst_caps_to_string (incaps);
    g_autofree gchar *debug = g_strdup_printf ("input caps %s", caps);
    return refuse_caps (self, incaps, error->message, debug);
  }
  gst_clear_caps (&self->refused_caps);
  g_clear_pointer (&self->features, lstm_features_free);
  self->features = f;
  self->rate = rate;
  self->channels = channels;
  self->format = format;
  self->use_channel = channel;
  self->bpf = channels * (format == LSTM_SAMPLE_S16 ? 2 : 4);
  self->frame_size = lstm_features_get_frame_size (f);
  g_clear_pointer (&self->cmn, lstm_cmn_free);
  if (cmn_window > 0)
    self->cmn = lstm_cmn_new (self->frame_size, cmn_window,
        LSTM_CMN_MIN_WINDOW);
  self->have_t0 = FALSE;
  self->discont = TRUE;
  self->nonfinite_seen = 0;
  GST_INFO_OBJECT (self, "%u Hz: windows of %u samples every %u, FFT %u, "
      "%u values per frame", rate, lstm_features_get_window_size (f),
      lstm_features_get_frame_shift (f), lstm_features_get_fft_size (f),
      self->frame_size);
  return TRUE;
}

/* ------------------------------------------------------------- timing */

/* PTS of frame i of this framing: t0 + i * shift samples. */
static GstClockTime
frame_time (GstLstmFeatures * self, guint64 i)
{
  guint64 sample = i * lstm_features_get_frame_shift (self->features);

  if (!GST_CLOCK_TIME_IS_VALID (self->t0))
    return GST_CLOCK_TIME_NONE;
  return self->t0 + gst_util_uint64_scale_round (sample, GST_SECOND,
      self->rate);
}

/* Stamps a buffer holding frames [first, first + n). */
static void
stamp (GstLstmFeatures * self, GstBuffer * buf, guint64 first, guint64 n)
{
  GstClockTime start = frame_time (self, first);

  GST_BUFFER_PTS (buf) = start;
  GST_BUFFER_DTS (buf) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION (buf) = GST_CLOCK_TIME_IS_VALID (start) ?
      frame_time (self, first + n) - start : GST_CLOCK_TIME_NONE;
  GST_BUFFER_OFFSET (buf) = first;
  GST_BUFFER_OFFSET_END (buf) = first + n;
  if (self->discont) {
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
    self->discont = FALSE;
  }
}

/* ----------------------------------------------------------------- cmn */

/* With cmn-window, frames go from the extractor through lstm_cmn, which
 * holds back the first 100 of a stream: the output frame count and index
 * are its. */

/* Index of the next output frame in this framing. */
static guint64
next_frame (GstLstmFeatures * self)
{
  return self->cmn != NULL ? lstm_cmn_get_frames_done (self->cmn) :
      lstm_features_get_frames_done (self->features);
}

/* Output frames for n_frames more extracted frames (before finish). */
static guint64
out_frames_after (GstLstmFeatures * self, guint64 n_frames)
{
  return self->cmn != NULL ? lstm_cmn_frames_after (self->cmn, n_frames) :
      n_frames;
}

/* Room for n frames on their way to lstm_cmn. */
static float *
scratch (GstLstmFeatures * self, guint64 n)
{
  if (n * self->frame_size > self->scratch_size) {
    self->scratch_size = n * self->frame_size;
    self->scratch = g_renew (float, self->scratch, self->scratch_size);
  }
  return self->scratch;
}

/* The end of a stream: the frames Kaldi computes on the tail (none with
 * snip-edges) go downstream, and the next sample starts a new framing. */
static GstFlowReturn
drain (GstLstmFeatures * self)
{
  GstBuffer *buf;
  GstMapInfo map;
  guint64 first, n, tail;

  if (self->features == NULL)
    return GST_FLOW_OK;
  first = next_frame (self);
  tail = lstm_features_finish_frames (self->features);
  n = self->cmn != NULL ? lstm_cmn_finish_frames (self->cmn) + tail : tail;
  self->nonfinite_seen = 0;     /* finish and reset restart the count */
  if (n == 0) {
    lstm_features_reset (self->features);
    if (self->cmn != NULL)
      lstm_cmn_reset (self->cmn);
    self->have_t0 = FALSE;
    self->discont = TRUE;
    return GST_FLOW_OK;
  }
  buf = gst_buffer_new_allocate (NULL, n * self->frame_size * sizeof (float),
      NULL);
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  if (self->cmn != NULL) {
    float *frames = scratch (self, tail), *out = (float *) map.data;
    lstm_features_finish (self->features, frames);
    out += lstm_cmn_push (self->cmn, frames, tail, out) * self->frame_size;
    lstm_cmn_finish (self->cmn, out);
  } else {
    lstm_features_finish (self->features, (float *) map.data);
  }
  gst_buffer_unmap (buf, &map);
  stamp (self, buf, first, n);
  self->have_t0 = FALSE;
  self->discont = TRUE;         /* the next framing starts at frame 0 again */
  GST_DEBUG_OBJECT (self, "drained %" G_GUINT64_FORMAT " frames", n);
  return gst_pad_push (GST_BASE_TRANSFORM_SRC_PAD (self), buf);
}

/* Drops the unfinished frames (flush). */
static void
discard (GstLstmFeatures * self)
{
  if (self->features != NULL)
    lstm_features_reset (self->features);
  if (self->cmn != NULL)
    lstm_cmn_reset (self->cmn);
  self->nonfinite_seen = 0;
  self->have_t0 = FALSE;
  self->discont = TRUE;
}

/* -------------------------------------------------------------- events */

/* TRUE when `caps` start another stream: another rate, sample format or
 * channel count than the sink pad's current caps. Anything else (a
 * channel-mask added, the same caps sent again) changes nothing the
 * features depend on, and the framing goes on. */
static gboolean
caps_change (GstLstmFeatures * self, GstEvent * event)
{
  GstCaps *caps, *current;
  guint channels, rate, cur_channels, cur_rate;
  gboolean s16, cur_s16, changed;

  gst_event_parse_caps (event, &caps);
  current = gst_pad_get_current_caps (GST_BASE_TRANSFORM_SINK_PAD (self));
  if (current == NULL)
    return TRUE;
  changed = !gst_lstm_parse_audio_caps (caps, &channels, &rate, &s16)
      || !gst_lstm_parse_audio_caps (current, &cur_channels, &cur_rate,
      &cur_s16) || channels != cur_channels || rate != cur_rate
      || s16 != cur_s16;
  gst_caps_unref (current);
  return changed;
}

static gboolean
gst_lstm_features_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstLstmFeatures *self = GST_LSTM_FEATURES (trans);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:
      /* the old stream's tail goes out under the old caps; set_caps then
       * starts a fresh framing */
      if (self->features != NULL && caps_change (self, event)) {
        drain (self);
        g_clear_pointer (&self->features, lstm_features_free);
        g_clear_pointer (&self->cmn, lstm_cmn_free);
      }
      break;
    case GST_EVENT_EOS:
    case GST_EVENT_SEGMENT_DONE:
    case GST_EVENT_STREAM_START:
    case GST_EVENT_GAP:
      /* a gap: no samples for a while, so the next buffer starts a new
       * framing at its own time; a segment's end (looping segment seeks)
       * drains as the end of the stream does, so the segment's last
       * frames go out before SEGMENT_DONE */
      drain (self);
      break;
    case GST_EVENT_FLUSH_STOP:
      discard (self);
      gst_segment_init (&self->segment, GST_FORMAT_TIME);
      break;
    case GST_EVENT_SEGMENT:
      gst_event_copy_segment (event, &self->segment);
      break;
    default:
      break;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

/* Latency: frame i leaves once sample i * shift + lookahead - 1 has
 * arrived, and is stamped i * shift: a window's lookahead (frame-length,
 * or frame-length / 2 + frame-shift / 2 without snip-edges) of delay. */
static gboolean
gst_lstm_features_query (GstBaseTransform * trans, GstPadDirection direction,
    GstQuery * query)
{
  GstLstmFeatures *self = GST_LSTM_FEATURES (trans);
  gboolean res = GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans,
      direction, query);

  if (res && direction == GST_PAD_SRC
      && GST_QUERY_TYPE (query) == GST_QUERY_LATENCY
      && self->features != NULL) {
    gboolean live;
    GstClockTime min, max, ours;
    gst_query_parse_latency (query, &live, &min, &max);
    ours = gst_util_uint64_scale_int_ceil (lstm_features_get_lookahead
        (self->features), GST_SECOND, self->rate);
    min += ours;
    if (GST_CLOCK_TIME_IS_VALID (max))
      max += ours;
    gst_query_set_latency (query, live, min, max);
  }
  return res;
}

/* ----------------------------------------------------------- streaming */

static gboolean
gst_lstm_features_start (GstBaseTransform * trans)
{
  GstLstmFeatures *self = GST_LSTM_FEATURES (trans);
  g_autoptr (GError) error = NULL;
  LstmFeaturesConfig cfg;

  GST_OBJECT_LOCK (self);
  cfg = self->cfg;
  GST_OBJECT_UNLOCK (self);
  /* options that are wrong at any rate fail the state change here, in
   * the application's thread, rather than at negotiation */
  if (!lstm_features_config_check (&cfg, &error)) {
    GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS, ("%s", error->message),
        ("the options are checked when the element starts"));
    return FALSE;
  }
  GST_OBJECT_LOCK (self);
  self->streaming = TRUE;
  self->nonfinite_total = 0;
  GST_OBJECT_UNLOCK (self);
  self->last_warning_time = 0;
  self->discont = TRUE;
  self->have_t0 = FALSE;
  gst_segment_init (&self->segment, GST_FORMAT_TIME);
  return TRUE;
}

static gboolean
gst_lstm_features_stop (GstBaseTransform * trans)
{
  GstLstmFeatures *self = GST_LSTM_FEATURES (trans);

  g_clear_pointer (&self->features, lstm_features_free);
  g_clear_pointer (&self->cmn, lstm_cmn_free);
  gst_clear_caps (&self->refused_caps);
  self->rate = 0;
  GST_OBJECT_LOCK (self);
  self->streaming = FALSE;
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

/* How far a buffer's PTS may be from the time its first sample has in
 * the framing (t0 + samples so far / rate) before samples count as lost
 * or repeated: audiobasesink's default alignment-threshold, far above
 * the jitter of a live source's timestamps. */
#define ALIGNMENT_THRESHOLD (40 * GST_MSECOND)

/* TRUE when `input` does not follow on from the samples before it: its
 * PTS is more than ALIGNMENT_THRESHOLD from where they end. */
static gboolean
pts_jumped (GstLstmFeatures * self, GstBuffer * input)
{
  GstClockTime pts = GST_BUFFER_PTS (input), expected;
  guint64 done = lstm_features_get_samples_done (self->features);

  if (!self->have_t0 || done == 0 || !GST_CLOCK_TIME_IS_VALID (self->t0)
      || !GST_CLOCK_TIME_IS_VALID (pts))
    return FALSE;
  expected = self->t0 + gst_util_uint64_scale_round (done, GST_SECOND,
      self->rate);
  if (pts <= expected + ALIGNMENT_THRESHOLD
      && pts + ALIGNMENT_THRESHOLD >= expected)
    return FALSE;
  GST_INFO_OBJECT (self, "buffer at %" GST_TIME_FORMAT ", samples so far "
      "end at %" GST_TIME_FORMAT ": a gap, the framing restarts",
      GST_TIME_ARGS (pts), GST_TIME_ARGS (expected));
  return TRUE;
}

/* Sizes the output for the frames this buffer completes. A DISCONT
 * buffer, or one whose PTS jumps, first ends the previous stretch
 * (drain). */
static GstFlowReturn
gst_lstm_features_prepare_output_buffer (GstBaseTransform * trans,
    GstBuffer * input, GstBuffer ** outbuf)
{
  GstLstmFeatures *self = GST_LSTM_FEATURES (trans);
  gsize size = gst_buffer_get_size (input);
  guint64 frames;

  if (self->features == NULL) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL),
        ("a buffer arrived before the caps were set"));
    return GST_FLOW_NOT_NEGOTIATED;
  }
  if (size % self->bpf != 0) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("A buffer does not hold a whole number of samples."),
        ("%" G_GSIZE_FORMAT " bytes is not a multiple of the %u-byte sample "
            "frame (%u channels of %s)", size, self->bpf, self->channels,
            self->format == LSTM_SAMPLE_S16 ? "S16LE" : "F32LE"));
    return GST_FLOW_ERROR;
  }
  if ((GST_BUFFER_IS_DISCONT (input)
          && lstm_features_get_samples_done (self->features) > 0)
      || pts_jumped (self, input)) {
    GstFlowReturn ret;
    GST_DEBUG_OBJECT (self, "discont: the tail so far is drained");
    ret = drain (self);
    if (ret != GST_FLOW_OK)
      return ret;
  }
  frames = out_frames_after (self, lstm_features_frames_after
      (self->features, size / self->bpf));
  *outbuf = gst_buffer_new_allocate (NULL,
      frames * self->frame_size * sizeof (float), NULL);
  return GST_FLOW_OK;
}

/* Warns about non-finite samples at most once a second. */
static void
account_nonfinite (GstLstmFeatures * self)
{
  guint64 seen = lstm_features_get_nonfinite (self->features), total;
  gint64 now;

  if (seen == self->nonfinite_seen)
    return;
  GST_OBJECT_LOCK (self);
  self->nonfinite_total += seen - self->nonfinite_seen;
  total = self->nonfinite_total;
  GST_OBJECT_UNLOCK (self);
  self->nonfinite_seen = seen;
  now = g_get_monotonic_time ();
  if (self->last_warning_time != 0
      && now - self->last_warning_time < G_USEC_PER_SEC)
    return;
  self->last_warning_time = now;
  GST_ELEMENT_WARNING (self, STREAM, FORMAT,
      ("Input samples that are NaN, infinite or beyond +-1.04e34 (infinite "
          "once scaled by 32768) were used as 0."),
      ("%" G_GUINT64_FORMAT " such samples so far", total));
}

static GstFlowReturn
gst_lstm_features_transform (GstBaseTransform * trans, GstBuffer * inbuf,
    GstBuffer * outbuf)
{
  GstLstmFeatures *self = GST_LSTM_FEATURES (trans);
  GstMapInfo in, out;
  guint64 first, n;

  if (!self->have_t0) {
    /* the first buffer of a framing: its PTS is sample 0's time */
    self->t0 = GST_BUFFER_PTS (inbuf);
    if (!GST_CLOCK_TIME_IS_VALID (self->t0)
        && self->segment.format == GST_FORMAT_TIME)
      self->t0 = self->segment.start;
    self->have_t0 = TRUE;
  }
  first = next_frame (self);
  gst_buffer_map (inbuf, &in, GST_MAP_READ);
  gst_buffer_map (outbuf, &out, GST_MAP_WRITE);
  if (self->cmn != NULL) {
    float *frames = scratch (self, lstm_features_frames_after
        (self->features, in.size / self->bpf));
    n = lstm_features_push_interleaved (self->features, in.data,
        self->format, self->channels, self->use_channel, in.size / self->bpf,
        frames);
    n = lstm_cmn_push (self->cmn, frames, n, (float *) out.data);
  } else {
    n = lstm_features_push_interleaved (self->features, in.data,
        self->format, self->channels, self->use_channel, in.size / self->bpf,
        (float *) out.data);
  }
  gst_buffer_unmap (outbuf, &out);
  gst_buffer_unmap (inbuf, &in);
  account_nonfinite (self);

  if (n == 0)
    return GST_BASE_TRANSFORM_FLOW_DROPPED;
  stamp (self, outbuf, first, n);
  return GST_FLOW_OK;
}

/* The base class's, except that an input that completes no frame gives
 * no output without more ado: the base class would mark the next output
 * DISCONT after such a buffer (it takes a dropped buffer for lost data),
 * and a buffer shorter than the frame shift is not a gap; the outputs'
 * DISCONT is this element's own (stamp), set where a framing starts. */
static GstFlowReturn
gst_lstm_features_generate_output (GstBaseTransform * trans,
    GstBuffer ** outbuf)
{
  GstFlowReturn ret =
      GST_BASE_TRANSFORM_CLASS (gst_lstm_features_parent_class)->
      generate_output (trans, outbuf);

  if (ret == GST_BASE_TRANSFORM_FLOW_DROPPED) {
    gst_clear_buffer (outbuf);
    ret = GST_FLOW_OK;
  }
  return ret;
}
