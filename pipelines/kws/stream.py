#!/usr/bin/python3
"""Streaming keyword spotting: prints each keyword heard, with its time.

    stream.py MODEL [WAV | --mic | --source DESC] --labels labels.txt
              [--truth stream.txt]

    appsrc (the WAV in 20 ms blocks) or autoaudiosrc
      ! lstmfeatures ! tee ! queue ! lstm name=a ! appsink
                          tee ! queue ! lstm name=b ! appsink

How detection works (the model was trained on 1 s clips, each from a fresh
state, so it is only ever asked about at most 1 s of audio since a reset):

1. Two `lstm` elements run the same model on the same frames; each is reset
   every RESET_PERIOD (1 s), `b` half a period after `a` (the `reset`
   action signal, from a probe on the lstm's sink pad, so it takes effect at
   that buffer: 20 ms blocks make it exact to 2 frames).
2. At each frame the posterior is read from the branch whose last reset is
   older (between 0.5 and 1 s ago): a word of up to 0.5 s that started
   after that reset has been heard whole by it.
3. Smoothing: the mean of those posteriors over the last SMOOTH frames.
4. A keyword is detected when its smoothed posterior is the largest and at
   least THRESHOLD; then nothing is detected for REFRACTORY seconds, and
   the same word not again before its smoothed posterior has fallen below
   THRESHOLD / 2 (one word gives one detection). `unknown` and `silence`
   are never reported.
It prints "<word> at <t> s (p=<smoothed posterior>)", t being the stream
time of the frame where the threshold was crossed.
"""
import argparse
import sys
import threading

import gi
import numpy as np

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

import kwsdata  # noqa: E402

RESET_PERIOD = 1.0      # s between resets of one branch
SMOOTH = 10             # frames (10 ms each) averaged
THRESHOLD = 0.9         # smoothed posterior to detect a keyword
REFRACTORY = 0.8        # s without detections after one
BLOCK = 0.02            # s of audio per buffer pushed from a WAV
FRAME = 0.01            # s per feature frame (lstmfeatures' frame-shift)


class Detector:
    """Merges the two branches frame by frame and applies steps 2-4."""

    def __init__(self, labels, keywords):
        self.labels, self.keywords = labels, keywords
        self.frames = ({}, {})          # branch -> {frame index: posterior}
        self.next = None                # next frame index to decide
        self.recent = []
        self.quiet_until = -1.0
        self.last = None                # last word detected, until re-armed
        self.detections = []
        self.lock = threading.Lock()

    def add(self, branch, first, posts):
        with self.lock:
            for k, p in enumerate(posts):
                self.frames[branch][first + k] = p
            if self.next is None:       # a live source starts after 0
                self.next = first
            while all(self.next in f for f in self.frames):
                self.decide(self.next)
                self.next += 1

    def decide(self, i):
        t = i * FRAME
        pa, pb = (f.pop(i) for f in self.frames)
        # age of each branch's state: a is reset at k, b at k + 1/2 periods
        age_a = t % RESET_PERIOD
        age_b = (t - RESET_PERIOD / 2) % RESET_PERIOD if \
            t >= RESET_PERIOD / 2 else -1
        self.recent = (self.recent + [pa if age_a >= age_b else pb])[-SMOOTH:]
        p = np.mean(self.recent, axis=0)
        k = int(np.argmax(p))
        if self.last is not None and p[self.last] < THRESHOLD / 2:
            self.last = None
        if (t >= self.quiet_until and p[k] >= THRESHOLD and k != self.last
                and self.labels[k] in self.keywords):
            self.last = k
            self.quiet_until = t + REFRACTORY
            self.detections.append((t, self.labels[k], float(p[k])))
            print("%s at %.2f s (p=%.2f)" % (self.labels[k], t, p[k]),
                  flush=True)


def build(model, source, mel_bins, cmn_window):
    src = ("%s ! audioconvert ! audioresample ! "
           "audio/x-raw,format=S16LE,channels=1,rate=16000" % source
           if source else "appsrc name=src format=time")
    branch = ("t. ! queue ! lstm name={0} model=\"%s\" ! "
              "audio/x-raw,format=F32LE ! appsink name={0}sink "
              "emit-signals=true sync=false wait-on-eos=false" % model)
    return Gst.parse_launch(
        "%s ! lstmfeatures num-mel-bins=%d cmn-window=%d ! tee name=t %s %s" %
        (src, mel_bins, cmn_window, branch.format("a"), branch.format("b")))


def connect_branch(pipe, name, offset, detector, n_out):
    """Periodic resets before the lstm, posteriors after it."""
    lstm = pipe.get_by_name(name)
    due = [offset]

    def probe(pad, info):
        buf = info.get_buffer()
        if buf.pts != Gst.CLOCK_TIME_NONE and buf.pts / Gst.SECOND >= due[0]:
            lstm.emit("reset")
            due[0] += RESET_PERIOD
        return Gst.PadProbeReturn.OK

    lstm.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, probe)

    def on_sample(sink):
        buf = sink.emit("pull-sample").get_buffer()
        posts = np.frombuffer(buf.extract_dup(0, buf.get_size()),
                              "<f4").reshape(-1, n_out)
        detector.add(0 if name == "a" else 1,
                     int(round(buf.pts / Gst.SECOND / FRAME)), posts)
        return Gst.FlowReturn.OK

    pipe.get_by_name(name + "sink").connect("new-sample", on_sample)


def push_wav(src, path):
    """The WAV in BLOCK-second buffers, as a sound card would give them."""
    x, rate = kwsdata.read_wav(path)
    src.set_property("caps", Gst.Caps.from_string(
        "audio/x-raw,format=S16LE,layout=interleaved,channels=1,rate=%d" %
        rate))
    n = int(BLOCK * rate)
    for a in range(0, len(x), n):
        buf = Gst.Buffer.new_wrapped(x[a:a + n].tobytes())
        buf.pts = Gst.util_uint64_scale(a, Gst.SECOND, rate)
        buf.duration = Gst.util_uint64_scale(len(x[a:a + n]), Gst.SECOND,
                                             rate)
        src.emit("push-buffer", buf)
    src.emit("end-of-stream")


def score(detections, truth_path):
    """Hits: a detection of the right word from its start to 1 s after its
    end. Misses: keywords without one. False alarms: the other detections."""
    truth = [l.split() for l in open(truth_path) if not l.startswith("#")]
    truth = [(float(a), float(b), w) for a, b, w in truth]
    used, hits = set(), 0
    for a, b, w in truth:
        for j, (t, d, _) in enumerate(detections):
            if j not in used and d == w and a <= t <= b + 1.0:
                used.add(j)
                hits += 1
                break
    n_kw = sum(w != "unknown" for _, _, w in truth)
    print("stream: %d of %d keywords detected, %d false alarms" %
          (hits, n_kw, len(detections) - len(used)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("wav", nargs="?")
    ap.add_argument("--mic", action="store_true",
                    help="listen to the microphone (autoaudiosrc)")
    ap.add_argument("--source", help="any other live source, as a "
                    "gst-launch-1.0 description")
    ap.add_argument("--truth")
    ap.add_argument("--labels", required=True,
                    help="the labels file of the data (labels.txt)")
    ap.add_argument("--mel-bins", type=int, default=40)
    ap.add_argument("--cmn-window", type=int, default=0,
                    help="lstmfeatures' cmn-window (0: no CMN)")
    a = ap.parse_args()
    source = "autoaudiosrc" if a.mic else a.source
    if not source and not a.wav:
        sys.exit("stream.py: give a WAV, --mic or --source")
    Gst.init(None)
    labels = open(a.labels).read().strip().split(",")
    detector = Detector(labels, set(labels) - {"unknown", "silence"})
    pipe = build(a.model, source, a.mel_bins, a.cmn_window)
    connect_branch(pipe, "a", 0.0, detector, len(labels))
    connect_branch(pipe, "b", RESET_PERIOD / 2, detector, len(labels))
    pipe.set_state(Gst.State.PLAYING)
    if not source:
        push_wav(pipe.get_by_name("src"), a.wav)
    msg = pipe.get_bus().timed_pop_filtered(
        Gst.CLOCK_TIME_NONE, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipe.set_state(Gst.State.NULL)
    if msg.type == Gst.MessageType.ERROR:
        sys.exit("stream.py: %s" % msg.parse_error()[0].message)
    if a.truth:
        score(detector.detections, a.truth)


if __name__ == "__main__":
    main()
