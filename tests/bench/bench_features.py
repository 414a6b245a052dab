#!/usr/bin/python3
"""torchaudio.compliance.kaldi's speed, the counterpart of bench-features.c,
and the report of tests/bench/run-features.sh.

    bench_features.py SIGNAL
        Times torchaudio.compliance.kaldi.fbank (40 mel bins) and .mfcc
        (13 cepstra) on SIGNAL (raw S16LE mono, 16 kHz, from
        `bench-features --make-signal`), one thread, float32 as users call
        them: the whole signal in one call, and 10 s per call (utterances).
        Prints the lines bench-features prints:
            result  <impl>  <features>  <audio s>  <frames>  <best s>  <RTF>

    bench_features.py --report OURS TORCH --out BENCHMARKS.md
        Turns both outputs into a Markdown section "## Features ..." and
        writes it into BENCHMARKS.md (replacing an older one) and stdout.

Run with Debian's interpreter (/usr/bin/python3, python3-torchaudio).
"""
import argparse
import datetime
import os
import re
import sys
import time

RATE = 16000
REPS = 5  # runs per case, the fastest reported (as bench-features)
HEADING = "## Features: lstmfeatures against torchaudio.compliance.kaldi"


def measure(path):
    import numpy as np
    import torch
    import torchaudio
    import torchaudio.compliance.kaldi as kaldi

    torch.set_num_threads(1)
    s = np.fromfile(path, dtype="<i2").astype(np.float32)
    wav = torch.from_numpy(s).unsqueeze(0)
    seconds = s.size / RATE
    cases = [("fbank 40", lambda w: kaldi.fbank(w, num_mel_bins=40)),
             ("mfcc 13", lambda w: kaldi.mfcc(w))]
    print("torchaudio\t%s\t%s" % (torchaudio.__version__, torch.__version__))
    for name, fn in cases:
        for how, step in (("one call", None), ("10 s per call", 10 * RATE)):
            times = []
            for _ in range(REPS):
                frames = 0
                t = time.perf_counter()
                with torch.inference_mode():
                    if step is None:
                        frames = fn(wav).shape[0]
                    else:
                        for i in range(0, wav.shape[1], step):
                            frames += fn(wav[:, i:i + step]).shape[0]
                times.append(time.perf_counter() - t)
            best = min(times)
            print("result\ttorchaudio, %s\t%s\t%.1f\t%d\t%.3f\t%.6f" %
                  (how, name, seconds, frames, best, best / seconds),
                  flush=True)


def parse(path):
    info, rows = {}, []
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if fields[0] == "result" and len(fields) == 7:
                rows.append(fields[1:])
            elif len(fields) >= 2:
                info[fields[0]] = fields[1:]
    return info, rows


def report(ours_path, torch_path, out_path):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from report import cpu_model

    _, ours = parse(ours_path)
    tinfo, theirs = parse(torch_path)
    rows = ours + theirs
    feats = []
    for r in rows:
        if r[1] not in feats:
            feats.append(r[1])
    hours = float(rows[0][2]) / 3600 if rows else 0
    lines = [
        HEADING, "",
        "Real-time factor (processing time / audio duration; lower is "
        "better) of log-mel filterbank (40 mel bins) and MFCC (13 cepstra, "
        "23 mel bins) frames, Kaldi's defaults otherwise (25 ms windows "
        "every 10 ms, povey window, snip-edges), on %.3g hour(s) of 16 kHz "
        "S16 audio (a synthetic tone sweep with noise; the cost does not "
        "depend on the content), one thread, the fastest of %d runs (other "
        "jobs on a shared machine only ever slow a run down). gst-lstm's "
        "core is fed 100 ms per call; the element runs in `appsrc ! "
        "lstmfeatures ! fakesink` with 100 ms buffers. torchaudio (float32, "
        "`torch.set_num_threads(1)`) computes the whole signal in one call "
        "(vectorized over every frame, its best case, a few GB of memory "
        "for an hour) or 10 s per call." % (hours, REPS), "",
        "- Command: `tests/bench/run-features.sh` (after `ninja -C build`)",
        "- Date: %s" % datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"),
        "- CPU: %s" % cpu_model(),
        "- torchaudio %s, torch %s" % tuple(tinfo.get("torchaudio", ["?", "?"])),
        "", "| features | implementation | frames | seconds | RTF | "
        "x faster than real time |", "|---|---|--:|--:|--:|--:|"]
    for feat in feats:
        for impl, f, _, frames, secs, rtf in (r for r in rows if r[1] == feat):
            lines.append("| %s | %s | %s | %s | %.5f | %s |" %
                         (feat, impl, "{:,}".format(int(frames)), secs,
                          float(rtf), "{:,.0f}".format(1 / float(rtf))))
    lines.append("")
    lines.append("gst-lstm computes each frame in double precision (see "
                 "src/lstm-features-kaldi.c for why); torchaudio in float32. "
                 "On this shared two-core virtual machine other jobs ran at "
                 "the same time: single figures moved by up to 50 % between "
                 "runs, which is why the fastest of several is kept.")
    section = "\n".join(lines) + "\n"
    print(section)
    if out_path == "-":
        return
    text = open(out_path, encoding="utf-8").read() if os.path.exists(
        out_path) else "# Benchmarks\n"
    # replace our previous section (up to the next "## " heading or the end)
    pattern = re.compile(r"^%s\n.*?(?=^## |\Z)" % re.escape(HEADING),
                         re.M | re.S)
    if pattern.search(text):
        text = pattern.sub(lambda m: section + "\n", text)
        text = text.rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("signal", nargs="?")
    ap.add_argument("--report", nargs=2, metavar=("OURS", "TORCH"))
    ap.add_argument("--out", default="BENCHMARKS.md")
    args = ap.parse_args()
    if args.report:
        report(args.report[0], args.report[1], args.out)
    elif args.signal:
        measure(args.signal)
    else:
        ap.error("give SIGNAL or --report")
    return 0


if __name__ == "__main__":
    sys.exit(main())
