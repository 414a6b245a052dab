#!/usr/bin/python3
"""Keyword-spotting data from espeak-ng: one long WAV + one .srt per split.

    gen_data.py OUT_DIR [small|full|tiny]

Classes: the ten keywords, `unknown` (other words) and `silence` (noise
only). A voice is an espeak-ng voice variant (+m1, +f3, +klatt, +Andy ...);
the variants are shuffled (seeded) and dealt into train / val / test, so no
voice of the test split is heard in training. Each utterance takes one of
espeak-ng's English accents at random, a random speed (words per minute)
and pitch, a random level, and background noise made by sox (white, pink or
brown) mixed at a random SNR.

Each utterance gets a slot of SLOT seconds: the word is placed at a random
offset in it, noise fills it, and its cue in <split>.srt covers the whole
slot. Slots follow each other without gaps. Everything is drawn from one
seeded generator, and sox runs with -R, so the same setting gives the same
files. Writes <split>.wav (16 kHz mono S16) and <split>.srt for train, val
and test, plus stream.wav / stream.txt (several test-voice words with pauses,
and what was said when) for the streaming demo.
"""
import hashlib
import os
import subprocess
import sys
import tempfile
import wave

import numpy as np

import voicemix

KEYWORDS = "yes no up down left right on off stop go".split()
UNKNOWN_WORDS = ("bed bird cat dog happy house marvin sheila tree wow zero "
                 "one two three four five six seven eight nine learn follow "
                 "forward backward visual").split()
LABELS = KEYWORDS + ["unknown", "silence"]
ACCENTS = ["en-gb", "en-us", "en-gb-scotland", "en-gb-x-gbclan",
           "en-gb-x-rp", "en-gb-x-gbcwmd", "en-029", "en-us-nyc"]
NOISES = ["whitenoise", "pinknoise", "brownnoise"]
SNRS_DB = [30, 20, 10, 5]
RATE_TTS = 22050        # espeak-ng's output rate
RATE = 16000            # the files we write
SLOT = 1.0              # seconds per utterance
TAIL = 0.1              # seconds of noise after the last slot

# setting: voices in train, val, test; utterances per class and voice in
# train, and in val and test; more utterances per class and training voice
# (drawn after the others from a generator of their own: full's first 10
# and its val and test are those it had before it took 10 more); the share
# of training utterances spoken in a voice mixed from two training voices
# (voicemix.py; val and test are the same with or without)
SETTINGS = {
    "tiny": (12, 2, 4, 2, 1, 0, 0.0),
    "small": (40, 6, 10, 4, 3, 0, 0.0),
    "full": (64, 16, 20, 10, 3, 10, 0.3),
}


def espeak_data():
    """espeak-ng's data folder."""
    for d in ("/usr/lib/x86_64-linux-gnu/espeak-ng-data",
              "/usr/share/espeak-ng-data"):
        if os.path.isdir(os.path.join(d, "voices", "!v")):
            return d
    sys.exit("gen_data.py: espeak-ng's voice variants not found "
             "(apt-get install espeak-ng)")


def variants():
    """espeak-ng's voice variants, sorted (names with spaces left out)."""
    d = os.path.join(espeak_data(), "voices", "!v")
    return sorted(v for v in os.listdir(d) if " " not in v)


def speak(word, voice, speed, pitch, tmp, data_path=None):
    """The word as float samples at RATE_TTS, silence trimmed; data_path:
    another espeak-ng data folder (for the mixed voices)."""
    path = os.path.join(tmp, "w.wav")
    subprocess.run(["espeak-ng"] + (["--path=" + data_path] if data_path
                                    else []) +
                   ["-v", voice, "-s", str(speed), "-p", str(pitch), "-w",
                    path, word], check=True)
    with wave.open(path) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32768.0
    # espeak-ng pads with digital silence; a higher threshold would cut
    # the quiet /f/ of "off" or the /p/ of "up" (-46 dB here)
    loud = np.nonzero(np.abs(x) > 0.005 * np.abs(x).max())[0]
    return x[loud[0]:loud[-1] + 1] if len(loud) else x


def make_noise(kind, seconds, tmp):
    """sox-made noise of one colour, unit RMS."""
    path = os.path.join(tmp, kind + ".wav")
    subprocess.run(["sox", "-R", "-n", "-r", str(RATE_TTS), "-b", "16", "-c",
                    "1", path, "synth", str(seconds), kind, "vol", "0.5"],
                   check=True)
    with wave.open(path) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32768.0
    return x / np.sqrt(np.mean(x ** 2))


def rms(x):
    return float(np.sqrt(np.mean(x ** 2)))


class Maker:
    def __init__(self, rng, tmp):
        self.rng = rng
        self.tmp = tmp
        self.noise = {k: make_noise(k, 20, tmp) for k in NOISES}
        # the mixed voices draw from a generator of their own, so that
        # every other draw (and so val and test) is the same with or
        # without them
        self.mixer = voicemix.VoiceMixer(espeak_data(), tmp,
                                         np.random.default_rng(7))

    def noise_clip(self, n):
        x = self.noise[self.rng.choice(NOISES)]
        a = int(self.rng.integers(0, len(x) - n))
        return x[a:a + n]

    def word(self, word, variant, max_seconds, data_path=None):
        """A word in a random accent, speed and pitch; never longer than
        max_seconds (spoken faster until it fits)."""
        accent = self.rng.choice(ACCENTS)
        speed = int(self.rng.integers(130, 221))
        pitch = int(self.rng.integers(20, 81))
        while True:
            x = speak(word, accent + "+" + variant, speed, pitch, self.tmp,
                      data_path)
            if len(x) <= max_seconds * RATE_TTS or speed > 400:
                break
            speed += 40
        x = x[:int(max_seconds * RATE_TTS)]
        return x * self.rng.uniform(0.1, 0.6) / max(np.abs(x).max(), 1e-9)

    def slot(self, word, variant, data_path=None):
        """SLOT seconds: the word (None: silence) at a random offset in noise
        at a random SNR. Speech RMS is measured over the word itself."""
        n = int(SLOT * RATE_TTS)
        snr = float(self.rng.choice(SNRS_DB))
        out = np.zeros(n)
        if word is None:
            level = self.rng.uniform(0.02, 0.2) / 10 ** (snr / 20)
        else:
            x = self.word(word, variant, SLOT - 0.1, data_path)
            a = int(self.rng.integers(int(0.05 * RATE_TTS),
                                      n - len(x) - int(0.05 * RATE_TTS) + 1))
            out[a:a + len(x)] = x
            level = rms(x) / 10 ** (snr / 20)
        return out + level * self.noise_clip(n)


def srt_time(t):
    ms = int(round(t * 1000))
    return "%02d:%02d:%02d,%03d" % (ms // 3600000, ms // 60000 % 60,
                                    ms // 1000 % 60, ms % 1000)


def write_wav(path, x, tmp):
    """Writes x (at RATE_TTS) to path at RATE through sox's resampler."""
    raw = os.path.join(tmp, "long.wav")
    with wave.open(raw, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE_TTS)
        w.writeframes((np.clip(x, -1, 1 - 1 / 32768) * 32767).astype("<i2")
                      .tobytes())
    subprocess.run(["sox", "-V1", "-R", raw, "-r", str(RATE), path], check=True)


def make_split(maker, name, voices, per_class, out, mix=0.0, extra=0):
    """One slot per (voice, repetition, class), in a shuffled order; a share
    mix of the slots in a voice mixed from its voice and another of
    voices. extra: that many more repetitions after those, drawn from a
    generator of their own (so that every later draw, and so val and test,
    stays the same)."""
    items = [(v, label) for v in voices for _ in range(per_class)
             for label in LABELS]
    order = list(maker.rng.permutation(len(items)))
    main_rng, extra_rng = maker.rng, np.random.default_rng(11)
    if extra > 0:
        more = [(v, label) for v in voices for _ in range(extra)
                for label in LABELS]
        order += [len(items) + i for i in extra_rng.permutation(len(more))]
        items += more
    slots, cues, spoken_by = [], [], []
    for k, i in enumerate(order):
        # the extra slots draw from their own generator
        maker.rng = main_rng if k < len(order) - extra * len(voices) * \
            len(LABELS) else extra_rng
        v, label = items[i]
        spoken_by.append(v)
        word = None if label == "silence" else label
        if label == "unknown":
            word = maker.rng.choice(UNKNOWN_WORDS)
        path = None
        if mix > 0 and maker.mixer.rng.random() < mix:
            other = voices[int(maker.mixer.rng.integers(len(voices)))]
            v, path = maker.mixer.mix(v, other), maker.mixer.path
        slots.append(maker.slot(word, v, path))
        cues.append("%d\n%s --> %s\n%s\n" % (k + 1, srt_time(k * SLOT),
                                              srt_time((k + 1) * SLOT), label))
    maker.rng = main_rng
    slots.append(maker.noise_clip(int(TAIL * RATE_TTS)) * 0.003)
    write_wav(os.path.join(out, name + ".wav"), np.concatenate(slots),
              maker.tmp)
    with open(os.path.join(out, name + ".srt"), "w") as f:
        f.write("\n".join(cues))
    # the voice variant of each cue, a line each (evaluate.py --per-voice)
    with open(os.path.join(out, name + ".voices"), "w") as f:
        f.write("\n".join(spoken_by) + "\n")
    print("%s: %d utterances, %d voices (%s ...)%s" %
          (name, len(items), len(voices), " ".join(voices[:4]),
           ", %g of them in mixed voices" % mix if mix > 0 else ""),
          flush=True)


def make_stream(maker, voices, out):
    """Words with pauses of 0.5-1.5 s in one test voice, at 20 dB SNR."""
    words = ["yes", "marvin", "stop", "left", "go", "house", "down", "off",
             "up", "tree", "right", "no", "six", "on", "follow", "stop"]
    v = voices[0]
    parts, truth, t = [], [], 0.0
    for w in words:
        pause = maker.rng.uniform(0.5, 1.5)
        x = maker.word(w, v, SLOT - 0.1)
        parts += [np.zeros(int(pause * RATE_TTS)), x]
        t += pause
        truth.append("%.2f %.2f %s" % (t, t + len(x) / RATE_TTS,
                                       w if w in KEYWORDS else "unknown"))
        t += len(x) / RATE_TTS
    parts.append(np.zeros(RATE_TTS))
    x = np.concatenate(parts)
    x = x + rms(x[np.abs(x) > 0]) / 10 ** (20 / 20) * np.resize(
        maker.noise["pinknoise"], len(x))
    write_wav(os.path.join(out, "stream.wav"), x, maker.tmp)
    with open(os.path.join(out, "stream.txt"), "w") as f:
        f.write("# start end word (seconds), voice +%s\n" % v)
        f.write("\n".join(truth) + "\n")
    print("stream: %d words, voice +%s" % (len(words), v))


def family(variant):
    """A variant's family: its name without the number (m1..m8, klatt2..,
    robosoft3.., iven2..); whisper and whisperf are one family."""
    f = variant.rstrip("0123456789").lower()
    return "whisper" if f == "whisperf" else f


def split_voices(vs, n_test, n_val, n_train):
    """Deals the shuffled variants vs into test, val and train by family:
    a variant is held out (test first, then val) only if its family keeps
    a member for training, so that every kind of voice (whispered, klatt,
    robosoft, m1..m8 ...) is heard in training while no held-out variant
    is; a family of one is simply a voice like no other. Training takes
    one member of each held-out family first, then the others as
    shuffled (ordered with the held-out families' members first). Test is dealt first, so a
    larger setting keeps the smaller one's test voices."""
    size = {}
    for v in vs:
        size[family(v)] = size.get(family(v), 0) + 1
    held, rest = {}, list(vs)
    out = []
    for n in (n_test, n_val):
        split = []
        for v in list(rest):
            f = family(v)
            if len(split) < n and (size[f] == 1 or held.get(f, 0) < size[f] - 1):
                split.append(v)
                rest.remove(v)
                held[f] = held.get(f, 0) + 1
        out.append(split)
    rest.sort(key=lambda v: size[family(v)] == 1 or family(v) not in held)
    # one member of each held-out family, then the others as shuffled
    first = []
    for v in rest:
        if size[family(v)] > 1 and family(v) in held and \
                family(v) not in [family(u) for u in first]:
            first.append(v)
    chosen = first + [v for v in vs if v in rest and v not in first]
    chosen = set(chosen[:n_train])
    return out[0], out[1], [v for v in rest if v in chosen]


def main():
    out = sys.argv[1]
    setting = sys.argv[2] if len(sys.argv) > 2 else "small"
    n_train, n_val, n_test, per_class, per_class_eval, more, mix = \
        SETTINGS[setting]
    # KWS_MORE, KWS_MIX: the setting's more and mix changed (for
    # experiments; give each its own KWS_DIR)
    more = int(os.environ.get("KWS_MORE", more))
    mix = float(os.environ.get("KWS_MIX", mix))
    # the cache is valid for this very script and setting
    stamp = os.path.join(out, "done")
    key = "".join(hashlib.sha256(open(f, "rb").read()).hexdigest()
                  for f in (__file__, voicemix.__file__)) + setting + \
        ("" if mix == 0 else " mix %g formant %s pitch %s" % (
            mix, voicemix.FORMANT_SCALE, voicemix.PITCH_SCALE)) + \
        ("" if more == 0 else " more %d" % more)
    if os.path.exists(stamp) and open(stamp).read() == key:
        print("data: %s (cached)" % out)
        return
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20261121)
    vs = [variants()[i] for i in rng.permutation(len(variants()))]
    test, val, train = split_voices(vs, n_test, n_val, n_train)
    with tempfile.TemporaryDirectory() as tmp:
        maker = Maker(rng, tmp)
        make_split(maker, "train", train, per_class, out, mix, more)
        make_split(maker, "val", val, per_class_eval, out)
        make_split(maker, "test", test, per_class_eval, out)
        make_stream(maker, test, out)
    with open(os.path.join(out, "labels.txt"), "w") as f:
        f.write(",".join(LABELS) + "\n")
    with open(stamp, "w") as f:
        f.write(key)


if __name__ == "__main__":
    main()
