#!/usr/bin/python3
"""Reference frames for lstm_cmn (lstmfeatures' cmn-window), made with
torchaudio.functional.sliding_window_cmn (center=False, norm_vars=False,
min_cmn_window=100, Kaldi's apply-cmvn-sliding).

    /usr/bin/python3 tests/reference/generate_cmn.py           # write
    /usr/bin/python3 tests/reference/generate_cmn.py --verify  # recompute, compare

Writes tests/reference/features/cmn.safetensors:
  input          F32 [350, 8]: a seeded random walk around 5 (features
                 drifting as a speaker's or a channel's do)
  w<W>_n<N>      F32 [N, 8]: sliding_window_cmn (input[:N], cmn_window=W),
                 computed in float64 from the F32 input
__metadata__: "cases" (a JSON list of [W, N]), "min_cmn_window", versions.
The cases cover a window longer than the stream (the mean of all frames so
far), shorter than min_cmn_window, in between, and streams shorter than
min_cmn_window (every frame gets the mean of the whole stream).
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torchaudio
import torchaudio.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "features", "cmn.safetensors")
FRAMES, DIM, MIN_WINDOW = 350, 8, 100
CASES = [(600, 350), (50, 350), (150, 350), (1, 350), (300, 60), (10, 60)]


def make_input():
    rng = np.random.default_rng(11)
    walk = np.cumsum(rng.normal(0.0, 0.3, (FRAMES, DIM)), axis=0)
    return (5.0 + walk + rng.normal(0.0, 1.0, (FRAMES, DIM))).astype("<f4")


def tensors():
    x = make_input()
    out = {"input": x}
    for w, n in CASES:
        y = F.sliding_window_cmn(torch.from_numpy(x[:n].astype(np.float64)),
                                 cmn_window=w, min_cmn_window=MIN_WINDOW,
                                 center=False, norm_vars=False)
        out["w%d_n%d" % (w, n)] = y.numpy().astype("<f4")
    return out


def file_bytes(ts):
    header = {"__metadata__": {
        "cases": json.dumps(CASES), "min_cmn_window": str(MIN_WINDOW),
        "torch": torch.__version__, "torchaudio": torchaudio.__version__}}
    blobs, off = [], 0
    for name, a in ts.items():
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def main():
    data = file_bytes(tensors())
    if "--verify" in sys.argv:
        with open(OUT, "rb") as f:
            same = f.read() == data
        print("cmn.safetensors:", "identical" if same else "DIFFERS")
        sys.exit(0 if same else 1)
    with open(OUT, "wb") as f:
        f.write(data)
    print("wrote %s (%d bytes)" % (OUT, len(data)))


if __name__ == "__main__":
    main()
