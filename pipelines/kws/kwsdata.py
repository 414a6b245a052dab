"""Reading a split back (the WAV and its .srt), shared by evaluate.py and
train_torch.py, and the confusion-matrix report they both print."""
import re
import wave

import numpy as np

# Frames are 25 ms windows every 10 ms (lstmfeatures' defaults); the frame
# whose PTS is the cue's last 10 ms reads 15 ms past the cue's end.
FRAME_OVERHANG = 0.015


def read_wav(path):
    """(S16 samples as int16 array, rate) of a mono WAV."""
    with wave.open(path) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2, path
        return (np.frombuffer(w.readframes(w.getnframes()), "<i2"),
                w.getframerate())


def read_srt(path):
    """[(start s, end s, label)] of an .srt file."""
    t = r"(\d+):(\d+):(\d+),(\d+)"
    cues = []
    for m in re.finditer(t + r" --> " + t + r"\n(.*)\n", open(path).read()):
        g = [int(x) for x in m.groups()[:8]]
        cues.append((g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000,
                     g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000,
                     m.group(9).strip()))
    return cues


def utterances(prefix):
    """[(samples, label)] of a split: for each cue, the samples that give
    exactly the frames lstmtrain takes for it (PTS inside the cue)."""
    x, rate = read_wav(prefix + ".wav")
    return [(x[int(round(a * rate)):int(round((b + FRAME_OVERHANG) * rate))],
             label) for a, b, label in read_srt(prefix + ".srt")], rate


def report(name, labels, truth, pred, matrix=True):
    """Prints the accuracy and the confusion matrix; returns the accuracy."""
    k = len(labels)
    cm = np.zeros((k, k), int)
    for t, p in zip(truth, pred):
        cm[labels.index(t), labels.index(p)] += 1
    acc = np.trace(cm) / max(cm.sum(), 1)
    print("%s: accuracy %.4f (%d of %d utterances)" %
          (name, acc, np.trace(cm), cm.sum()))
    if not matrix:
        return acc
    w = max(len(s) for s in labels)
    print("  %*s  %s   (rows: truth, columns: prediction)" %
          (w, "", " ".join("%4.4s" % s for s in labels)))
    for i, s in enumerate(labels):
        print("  %*s  %s" % (w, s, " ".join("%4d" % n for n in cm[i])))
    return acc


def report_voices(prefix, truth, pred):
    """Accuracy per voice variant (<prefix>.voices, written by gen_data.py:
    a line per cue), worst first."""
    voices = open(prefix + ".voices").read().split()
    assert len(voices) == len(truth), prefix + ".voices"
    right, total = {}, {}
    for v, t, p in zip(voices, truth, pred):
        total[v] = total.get(v, 0) + 1
        right[v] = right.get(v, 0) + (t == p)
    print("  per voice: " + ", ".join(
        "%s %d/%d" % (v, right[v], total[v])
        for v in sorted(total, key=lambda v: (right[v] / total[v], v))))
