#!/usr/bin/python3
"""Frames per second of PyTorch's nn.LSTM, the counterpart of bench-forward.

Same cases and output format as bench-forward.c: one thread, inference mode,
batch 1, (h, c) carried from one call to the next, `frames` frames per call;
for a shape with a head, nn.Linear and a softmax over its outputs follow.
Each measurement calls until --min-time seconds have passed; --reps of them,
median reported, after --warmup seconds. Output, tab-separated:

    torch   <torch version>
    result  <shape name>  <frames per call>  <median fps>  <min fps>  <max fps>
    latency <shape name>  <median us>  <99th percentile us>   (--latency)
    peak_rss_kib  <the process's peak RSS at the end>

--latency N times N single-frame steps (the counterpart of the element's
per-frame latency in bench-element).

Run with Debian's interpreter (/usr/bin/python3, package python3-torch).
"""
import argparse
import resource
import statistics
import sys
import time

import torch

DEFAULT_SHAPES = ["5,17,1", "40,128,2,12", "3,64,3", "80,512,2"]
INPUT_FRAMES = 1000


def shape_name(i, h, layers, o):
    name = f"I={i} H={h} L={layers}"
    return name + f" +softmax{o}" if o else name


def run_for(step, seconds):
    """Calls step() for at least `seconds`; returns frames per second."""
    frames = 0
    start = time.perf_counter()
    while True:
        for _ in range(16):
            frames += step()
        now = time.perf_counter()
        if now - start >= seconds:
            return frames / (now - start)


def bench_shape(spec, frames_list, min_time, reps, warmup, latency=0):
    sizes = [int(v) for v in spec.split(",")]
    if len(sizes) == 3:
        sizes.append(0)
    i, h, layers, o = sizes
    torch.manual_seed(1234)
    lstm = torch.nn.LSTM(i, h, layers).eval()
    head = torch.nn.Linear(h, o).eval() if o else None
    name = shape_name(i, h, layers, o)

    gen = torch.Generator().manual_seed(42)
    inputs = torch.rand(INPUT_FRAMES + max(frames_list), 1, i,
                        generator=gen) * 2 - 1

    for frames in frames_list:
        state = [(torch.zeros(layers, 1, h), torch.zeros(layers, 1, h)), 0]

        def step():
            hc, pos = state
            y, hc = lstm(inputs[pos:pos + frames], hc)
            if head is not None:
                y = torch.softmax(head(y), dim=-1)
            state[0] = hc
            state[1] = (pos + frames) % INPUT_FRAMES
            return frames

        with torch.inference_mode():
            run_for(step, warmup)
            fps = sorted(run_for(step, min_time) for _ in range(reps))
        print(f"result\t{name}\t{frames}\t{statistics.median(fps):.1f}"
              f"\t{fps[0]:.1f}\t{fps[-1]:.1f}", flush=True)

    if latency > 0:
        hc = (torch.zeros(layers, 1, h), torch.zeros(layers, 1, h))
        times = []
        with torch.inference_mode():
            for k in range(latency + latency // 10):
                x = inputs[k % INPUT_FRAMES:k % INPUT_FRAMES + 1]
                t = time.perf_counter()
                y, hc = lstm(x, hc)
                if head is not None:
                    y = torch.softmax(head(y), dim=-1)
                times.append(time.perf_counter() - t)
        times = sorted(times[latency // 10:])  # after a warm-up
        print(f"latency\t{name}\t{times[len(times) // 2] * 1e6:.3f}"
              f"\t{times[len(times) * 99 // 100] * 1e6:.3f}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--min-time", type=float, default=0.5)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=float, default=0.3)
    ap.add_argument("--frames", default="1,10,100")
    ap.add_argument("--latency", type=int, default=0,
                    help="also time N single-frame steps")
    ap.add_argument("shapes", nargs="*", default=DEFAULT_SHAPES,
                    help="I,H,L[,O] (O: softmax head size, 0 or absent: none)")
    args = ap.parse_args()
    if args.reps < 1 or args.min_time <= 0 or args.warmup < 0:
        ap.error("--reps must be >= 1, --min-time > 0, --warmup >= 0")

    torch.set_num_threads(1)
    print(f"torch\t{torch.__version__}", flush=True)
    frames_list = [int(v) for v in args.frames.split(",")]
    for spec in args.shapes:
        bench_shape(spec, frames_list, args.min_time, args.reps, args.warmup,
                    args.latency)
    print(f"peak_rss_kib\t"
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
