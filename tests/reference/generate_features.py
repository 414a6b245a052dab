#!/usr/bin/python3
"""Reference features for lstmfeatures, made with torchaudio.compliance.kaldi.

Run with Debian's interpreter (python3-torchaudio, python3-numpy; espeak-ng
only to remake the speech signals):

    /usr/bin/python3 tests/reference/generate_features.py            # features from the WAVs on disk (+ verify)
    /usr/bin/python3 tests/reference/generate_features.py --signals  # also remake the WAVs (espeak-ng, torchaudio resample)
    /usr/bin/python3 tests/reference/generate_features.py --verify   # recompute, compare with the stored file
    /usr/bin/python3 tests/reference/generate_features.py --check    # verify + regenerating gives identical bytes

Writes into tests/reference/features/:
  <signal>.wav                 16-bit mono PCM, the input of every case on it
  reference.safetensors        one F32 tensor [frames, dims] per case, named
                               after it; __metadata__ maps each case name to
                               a JSON object {"signal", "type", "options"}
                               (options: torchaudio keyword arguments), plus
                               "torch" and "torchaudio" versions.

Samples go to torchaudio in the integer range of S16 (Kaldi's scale: a
full-scale sample is 32767, not 1.0), as compute-fbank-feats reads a WAV,
and as float64: torchaudio then computes in float64 (but for its mel banks,
DCT and lifter, which it always builds in float32). Its float32 run differs
from its float64 run by up to 0.17 on these signals, in the log of mel bins
that hold only leakage and quantization noise (the low bins of a loud tone
or chirp); the script prints that difference per case. See README.md in
tests/reference/features/.
"""

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import wave

import numpy as np
import torch
import torchaudio
import torchaudio.compliance.kaldi as kaldi

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "features")
REF_FILE = os.path.join(OUT_DIR, "reference.safetensors")
MAX_TOTAL_BYTES = 400 * 1024

SPEECH_TEXT = "Open the pod bay doors, please."

# name: (sample rate, seconds, how it is made)
SIGNALS = {
    "speech16k": (16000, 1.0, "espeak-ng, resampled to 16 kHz"),
    "speech8k": (8000, 1.0, "espeak-ng, resampled to 8 kHz"),
    "tone16k": (16000, 0.5, "440 Hz + 2500 Hz tones on a DC offset of 300"),
    "noise16k": (16000, 0.5, "white Gaussian noise, std 2000, seed 7"),
    "silence16k": (16000, 0.25, "all zeros"),
    "chirp22k": (22050, 0.5, "linear chirp 100 Hz to 10 kHz at 22.05 kHz"),
}

# name, signal, type, torchaudio keyword arguments (besides sample_frequency)
CASES = [
    ("fbank-speech16k", "speech16k", "fbank", {}),
    ("fbank-speech8k", "speech8k", "fbank", {}),
    ("fbank-tone16k", "tone16k", "fbank", {}),
    ("fbank-noise16k", "noise16k", "fbank", {}),
    ("fbank-silence16k", "silence16k", "fbank", {}),
    ("fbank40-speech16k-nosnip", "speech16k", "fbank",
     dict(num_mel_bins=40, snip_edges=False)),
    ("fbank80-speech16k-hamming", "speech16k", "fbank",
     dict(num_mel_bins=80, window_type="hamming")),
    ("fbank40-speech8k-hanning-nosnip", "speech8k", "fbank",
     dict(num_mel_bins=40, window_type="hanning", snip_edges=False)),
    ("fbank40-noise16k-rectangular-energy", "noise16k", "fbank",
     dict(num_mel_bins=40, window_type="rectangular", use_energy=True)),
    ("fbank-tone16k-blackman-energy-notraw", "tone16k", "fbank",
     dict(window_type="blackman", use_energy=True, raw_energy=False,
          energy_floor=0.0)),
    ("fbank40-silence16k-energy-floor", "silence16k", "fbank",
     dict(num_mel_bins=40, use_energy=True, energy_floor=2.0,
          snip_edges=False)),
    ("fbank40-speech16k-freqs-nopreemph-nodc", "speech16k", "fbank",
     dict(num_mel_bins=40, low_freq=100.0, high_freq=-400.0,
          preemphasis_coefficient=0.0, remove_dc_offset=False)),
    ("fbank40-speech8k-highfreq", "speech8k", "fbank",
     dict(num_mel_bins=40, low_freq=64.0, high_freq=3800.0)),
    ("fbank-chirp22k-linear", "chirp22k", "fbank",
     dict(use_log_fbank=False)),
    ("fbank40-chirp22k-32ms-8ms-nosnip", "chirp22k", "fbank",
     dict(num_mel_bins=40, frame_length=32.0, frame_shift=8.0,
          snip_edges=False, use_energy=True)),
    ("mfcc-speech16k", "speech16k", "mfcc", {}),
    ("mfcc-speech8k-energy", "speech8k", "mfcc", dict(use_energy=True)),
    ("mfcc40-speech16k-c20-nolifter-nosnip", "speech16k", "mfcc",
     dict(num_mel_bins=40, num_ceps=20, cepstral_lifter=0.0,
          snip_edges=False)),
    ("mfcc80-speech16k-c40", "speech16k", "mfcc",
     dict(num_mel_bins=80, num_ceps=40)),
    ("mfcc-noise16k-hamming-energy-notraw", "noise16k", "mfcc",
     dict(window_type="hamming", use_energy=True, raw_energy=False)),
    ("mfcc-tone16k-nosnip-energy-nofloor", "tone16k", "mfcc",
     dict(snip_edges=False, use_energy=True, energy_floor=0.0)),
    ("mfcc-silence16k", "silence16k", "mfcc", {}),
    ("mfcc-chirp22k-blackman", "chirp22k", "mfcc",
     dict(window_type="blackman", num_mel_bins=30, num_ceps=15)),
]


class VerifyError(Exception):
    pass


# --------------------------------------------------------------------------
# signals
# --------------------------------------------------------------------------

def to_s16(x):
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def read_wav(path):
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise VerifyError("%s: not 16-bit mono" % path)
        rate = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return rate, data.astype(np.int16)


def write_wav(path, rate, samples):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())


def make_speech(rate, seconds):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "speech.wav")
        subprocess.run(["espeak-ng", "-w", path, SPEECH_TEXT], check=True)
        src_rate, s = read_wav(path)
    x = torch.tensor(s, dtype=torch.float64).unsqueeze(0)
    y = torchaudio.functional.resample(x, src_rate, rate)[0].numpy()
    start = int(0.2 * rate)             # skip the leading silence
    return to_s16(y[start:start + int(seconds * rate)])


def make_signal(name):
    rate, seconds, _ = SIGNALS[name]
    n = int(round(rate * seconds))
    t = np.arange(n) / rate
    if name.startswith("speech"):
        return make_speech(rate, seconds)
    if name == "tone16k":
        return to_s16(300 + 6000 * np.sin(2 * np.pi * 440 * t)
                      + 3000 * np.sin(2 * np.pi * 2500 * t + 1.0))
    if name == "noise16k":
        return to_s16(np.random.default_rng(7).normal(0.0, 2000.0, n))
    if name == "silence16k":
        return np.zeros(n, dtype=np.int16)
    if name == "chirp22k":
        f0, f1 = 100.0, 10000.0
        phase = 2 * np.pi * (f0 * t + (f1 - f0) / (2 * seconds) * t * t)
        return to_s16(8000 * np.sin(phase))
    raise ValueError(name)


def load_signals(remake):
    sigs = {}
    for name, (rate, _, _) in SIGNALS.items():
        path = os.path.join(OUT_DIR, name + ".wav")
        if remake or not os.path.exists(path):
            write_wav(path, rate, make_signal(name))
        r, s = read_wav(path)
        if r != rate:
            raise VerifyError("%s: rate %d, expected %d" % (path, r, rate))
        sigs[name] = (rate, s)
    return sigs


# --------------------------------------------------------------------------
# features and the file
# --------------------------------------------------------------------------

def compute(kind, rate, samples, options, dtype=torch.float64):
    wav = torch.tensor(samples.astype(np.float64)).to(dtype).unsqueeze(0)
    fn = kaldi.fbank if kind == "fbank" else kaldi.mfcc
    with torch.inference_mode():
        out = fn(wav, sample_frequency=float(rate), **options)
    return out.to(torch.float32).contiguous()


def float32_diff(kind, rate, samples, options):
    """How far torchaudio's float32 run is from its float64 run."""
    a = compute(kind, rate, samples, options).numpy().astype(np.float64)
    b = compute(kind, rate, samples, options, torch.float32).numpy()
    if not a.size:
        return 0.0
    d = np.abs(a - b).max()
    if options.get("use_log_fbank", True) is False:
        d /= np.abs(a).max()
    return float(d)


def file_bytes(sigs):
    header = {"__metadata__": {"torch": torch.__version__,
                               "torchaudio": torchaudio.__version__}}
    blobs = []
    offset = 0
    for name, signal, kind, options in CASES:
        rate, samples = sigs[signal]
        feats = compute(kind, rate, samples, options)
        b = feats.numpy().astype("<f4").tobytes()
        header["__metadata__"][name] = json.dumps(
            {"signal": signal, "type": kind, "options": options},
            sort_keys=True)
        header[name] = {"dtype": "F32", "shape": list(feats.shape),
                        "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((-len(h)) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def read_reference(raw):
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__")
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        if info["dtype"] != "F32" or len(info["shape"]) != 2:
            raise VerifyError("%s: not a 2-D F32 tensor" % name)
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(data[b:e], dtype="<f4").reshape(info["shape"])
    return meta, out


def verify(sigs, exact):
    with open(REF_FILE, "rb") as f:
        meta, stored = read_reference(f.read())
    worst = 0.0
    for name, signal, kind, options in CASES:
        if name not in stored:
            raise VerifyError("%s: missing from %s" % (name, REF_FILE))
        m = json.loads(meta[name])
        if m != {"signal": signal, "type": kind, "options": options}:
            raise VerifyError("%s: metadata %r differs" % (name, m))
        rate, samples = sigs[signal]
        again = compute(kind, rate, samples, options).numpy()
        got = stored[name]
        if again.shape != got.shape or not np.all(np.isfinite(got)):
            raise VerifyError("%s: shape %r vs %r or non-finite" %
                              (name, got.shape, again.shape))
        scale = max(1.0, float(np.abs(again).max()))
        err = float(np.abs(again - got).max()) / scale if got.size else 0.0
        worst = max(worst, err)
        if exact and err != 0.0:
            raise VerifyError("%s: rerun differs by %g" % (name, err))
        print("  %-42s %-10s %4d x %-3d  [%9.3f, %9.3f]  float32 run %.3g" %
              (name, signal, got.shape[0], got.shape[1],
               got.min() if got.size else 0, got.max() if got.size else 0,
               float32_diff(kind, rate, samples, options)))
    print("rerun vs stored: max error %g (relative to max(1, |x|))" % worst)
    if worst > 1e-6:
        raise VerifyError("rerun differs from the stored file by %g" % worst)


def total_size():
    return sum(os.path.getsize(os.path.join(OUT_DIR, f))
               for f in os.listdir(OUT_DIR))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--signals", action="store_true",
                    help="remake the WAV files (needs espeak-ng)")
    ap.add_argument("--verify", action="store_true",
                    help="only recompute and compare with the stored file")
    ap.add_argument("--check", action="store_true",
                    help="verify, and check regenerating is byte-identical")
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(OUT_DIR, exist_ok=True)
    try:
        if args.verify or args.check:
            sigs = load_signals(False)
            verify(sigs, exact=args.check)
            if args.check:
                with open(REF_FILE, "rb") as f:
                    if f.read() != file_bytes(sigs):
                        raise VerifyError("regenerating changes the bytes")
                print("regenerating gives identical bytes")
        else:
            sigs = load_signals(args.signals)
            with open(REF_FILE, "wb") as f:
                f.write(file_bytes(sigs))
            verify(sigs, exact=True)
        size = total_size()
        print("tests/reference/features: %d bytes" % size)
        if size > MAX_TOTAL_BYTES:
            raise VerifyError("more than %d bytes" % MAX_TOTAL_BYTES)
    except VerifyError as e:
        print("FAILED: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
