"""New espeak-ng voices for training, mixed from the training voices only.

A voice variant (espeak-ng-data/voices/!v/NAME) is a list of lines
`keyword values...` (pitch, formant N freq height width, breath, tone,
...). A mixed voice takes each keyword's line from one of two training
variants at random, then scales every formant frequency by one factor
(a longer or shorter vocal tract) and the pitch by another. No test or
validation voice is read, so the split by voice stays whole: the network
hears more speakers, none of them held out.

espeak-ng finds variants under --path=DIR/espeak-ng-data; VoiceMixer
makes such a DIR of symbolic links to the system data plus a !v folder
that also holds the mixed variants.
"""
import os



def _range(name, default):
    """A "lo,hi" range from the environment variable name, or default."""
    v = os.environ.get(name)
    return tuple(float(x) for x in v.split(",")) if v else default


# ranges of the formant frequency factor and of the pitch factor
# (KWS_MIX_FORMANT, KWS_MIX_PITCH: "lo,hi"): wide enough to make voices
# like espeak-ng's child-like +zac (pitch 240-390 Hz, formants x 1.45)
# from the training voices (0.9-1.1 and 0.85-1.15, tried first, did not
# help; README, Keyword spotting)
FORMANT_SCALE = _range("KWS_MIX_FORMANT", (0.85, 1.45))
PITCH_SCALE = _range("KWS_MIX_PITCH", (0.8, 2.5))


def parse(path):
    """A variant file as {keyword-key: [keyword, values...]} in file order;
    `formant N` lines are keyed per formant."""
    lines = {}
    with open(path, errors="replace") as f:
        for line in f:
            w = line.split("//")[0].split()
            if not w or w[0] in ("language", "name", "gender"):
                continue
            key = " ".join(w[:2]) if w[0] == "formant" else w[0]
            lines[key] = w
    return lines


def scaled(words, k, factor):
    """words with the number at index k multiplied by factor."""
    try:
        v = int(round(float(words[k]) * factor))
    except (IndexError, ValueError):
        return words
    return words[:k] + [str(v)] + words[k + 1:]


class VoiceMixer:
    def __init__(self, data_dir, tmp, rng):
        """data_dir: the system espeak-ng-data; tmp: where to build the
        copy; rng: a numpy Generator of its own (so the other draws of
        gen_data stay as they were)."""
        self.rng = rng
        self.path = os.path.join(tmp, "espeak")
        root = os.path.join(self.path, "espeak-ng-data")
        self.vdir = os.path.join(root, "voices", "!v")
        os.makedirs(self.vdir)
        for e in os.listdir(data_dir):
            if e != "voices":
                os.symlink(os.path.join(data_dir, e), os.path.join(root, e))
        for e in os.listdir(os.path.join(data_dir, "voices")):
            if e != "!v":
                os.symlink(os.path.join(data_dir, "voices", e),
                           os.path.join(root, "voices", e))
        self.src = os.path.join(data_dir, "voices", "!v")

    def mix(self, a, b):
        """A new variant from training variants a and b; returns its name
        (use it with --path=self.path until the next mix: espeak-ng lists
        at most 349 voices, so every mix rewrites the same file)."""
        pa, pb = parse(os.path.join(self.src, a)), parse(os.path.join(
            self.src, b))
        fs = self.rng.uniform(*FORMANT_SCALE)
        ps = self.rng.uniform(*PITCH_SCALE)
        out = []
        for key in list(pa) + [k for k in pb if k not in pa]:
            take_a = key in pa and (key not in pb or self.rng.random() < 0.5)
            w = pa[key] if take_a else pb[key]
            if w[0] == "formant":
                w = scaled(w, 2, fs)
            elif w[0] == "pitch":
                w = scaled(scaled(w, 1, ps), 2, ps)
            out.append(" ".join(w))
        name = "mixed"
        with open(os.path.join(self.vdir, name), "w") as f:
            f.write("language variant\nname %s\n\n%s\n" % (name,
                                                           "\n".join(out)))
        return name
