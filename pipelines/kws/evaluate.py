#!/usr/bin/python3
"""Held-out accuracy of a keyword model, one prediction per utterance.

    evaluate.py MODEL SPLIT_PREFIX [NAME] [--mel-bins N] [--cmn-window W]
                [--weights f32|f16|int8[,...]] [--brief] [--per-voice]

Pushes each cue of SPLIT_PREFIX.wav/.srt as one DISCONT buffer through

    appsrc ! lstmfeatures ! lstm output-mode=last ! appsink

A DISCONT makes lstmfeatures restart its framing and lstm end the sequence:
its last frame's prediction comes out, and the state starts afresh for the
next utterance. Prints the accuracy and the confusion matrix.

--weights sets lstm's `weights` property (the precision the weight matrices
are stored in); with a list (e.g. f32,f16,int8) each runs in turn, and
every one after the first also prints the largest difference of its
probabilities from the first's (over every utterance and class).
"""
import argparse
import json
import os
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

import kwsdata  # noqa: E402


def predict(model, utts, rate, mel_bins, cmn_window, weights="f32"):
    """The label and the probabilities lstm gives each utterance (list of
    (samples, label))."""
    Gst.init(None)
    pipe = Gst.parse_launch(
        "appsrc name=src format=time caps=audio/x-raw,format=S16LE,"
        "layout=interleaved,channels=1,rate=%d ! lstmfeatures num-mel-bins=%d"
        " cmn-window=%d"
        " ! lstm model=\"%s\" weights=%s output-mode=last text-format=json"
        " ! text/x-raw ! appsink name=sink sync=false "
        "wait-on-eos=false" % (rate, mel_bins, cmn_window, model, weights))
    src, sink = pipe.get_by_name("src"), pipe.get_by_name("sink")
    pipe.set_state(Gst.State.PLAYING)
    t = 0
    for x, _ in utts:
        buf = Gst.Buffer.new_wrapped(x.tobytes())
        buf.pts = t
        buf.duration = Gst.util_uint64_scale(len(x), Gst.SECOND, rate)
        buf.set_flags(Gst.BufferFlags.DISCONT)
        t += buf.duration
        src.emit("push-buffer", buf)
    src.emit("end-of-stream")
    msg = pipe.get_bus().timed_pop_filtered(
        Gst.CLOCK_TIME_NONE, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    if msg.type == Gst.MessageType.ERROR:
        sys.exit("evaluate.py: %s" % msg.parse_error()[0].message)
    out, scores = [], []
    while True:
        s = sink.emit("try-pull-sample", 0)
        if s is None:
            break
        b = s.get_buffer()
        text = b.extract_dup(0, b.get_size()).decode()
        for line in text.splitlines():
            j = json.loads(line)
            out.append(j["label"])
            scores.append(j["scores"])
    pipe.set_state(Gst.State.NULL)
    if len(out) != len(utts):
        sys.exit("evaluate.py: %d predictions for %d utterances" %
                 (len(out), len(utts)))
    return out, scores


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("split", help="path of <split>.wav / <split>.srt "
                    "without the extension")
    ap.add_argument("name", nargs="?", default="lstm (gst-lstm)")
    ap.add_argument("--mel-bins", type=int, default=40)
    ap.add_argument("--cmn-window", type=int, default=0,
                    help="lstmfeatures' cmn-window (0: no CMN)")
    ap.add_argument("--weights", default="f32",
                    help="lstm's weights property: f32, f16 or int8, or a "
                    "comma-separated list to compare (default f32)")
    ap.add_argument("--brief", action="store_true",
                    help="the accuracy only, no confusion matrix")
    ap.add_argument("--per-voice", action="store_true",
                    help="also the accuracy of each voice variant "
                    "(SPLIT_PREFIX.voices)")
    a = ap.parse_args()
    utts, rate = kwsdata.utterances(a.split)
    labels = open(os.path.join(os.path.dirname(a.split),
                       "labels.txt")).read().strip()
    first = None
    for w in a.weights.split(","):
        pred, scores = predict(a.model, utts, rate, a.mel_bins, a.cmn_window,
                               w)
        name = a.name if w == "f32" else "%s, weights %s" % (a.name, w)
        kwsdata.report(name, labels.split(","), [u[1] for u in utts], pred,
                       not a.brief)
        if a.per_voice:
            kwsdata.report_voices(a.split, [u[1] for u in utts], pred)
        if first is None:
            first = (w, scores)
        else:
            diff = max(abs(p - q) for s, t in zip(scores, first[1])
                       for p, q in zip(s, t))
            print("  max |probability %s - %s| = %.3g" % (w, first[0], diff))


if __name__ == "__main__":
    main()
