#!/usr/bin/python3
"""Training frames per second of PyTorch, the counterpart of bench-train.

Same cases and output as bench-train.c: nn.LSTM + nn.Linear, a batch of B
sequences of T frames ([T, B, I], all of length T, so no packing), the
cross-entropy over every frame, Adam (or --optimizer sgd / rmsprop) with
PyTorch's defaults; a step is zero_grad, forward, loss, backward, step.
One thread (torch.set_num_threads(1)). Each measurement runs steps for at
least --min-time seconds; --reps of them, median reported, after --warmup
seconds. The batches cycle through 4 random batches. Output, tab-separated:

    torch   <torch version>
    result  <shape name>  <B>x<T>  <median fps>  <min fps>  <max fps>

Run with Debian's interpreter (/usr/bin/python3, package python3-torch).
"""
import argparse
import statistics
import sys
import time

import torch
import torch.nn.functional as F

DEFAULT_SHAPES = ["40,128,1,12", "40,128,2,12"]
N_BATCHES = 4


class Net(torch.nn.Module):
    def __init__(self, i, h, layers, o):
        super().__init__()
        self.lstm = torch.nn.LSTM(i, h, layers)
        self.head = torch.nn.Linear(h, o)

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.head(y)


def bench_shape(spec, B, T, opt_name, min_time, reps, warmup):
    i, h, layers, o = [int(v) for v in spec.split(",")]
    torch.manual_seed(1234)
    net = Net(i, h, layers, o).train()
    if opt_name == "sgd":
        opt = torch.optim.SGD(net.parameters(), lr=1e-3)
    elif opt_name == "rmsprop":
        opt = torch.optim.RMSprop(net.parameters())
    else:
        opt = torch.optim.Adam(net.parameters())
    gen = torch.Generator().manual_seed(42)
    batches = [(torch.rand(T, B, i, generator=gen) * 2 - 1,
                torch.randint(0, o, (T * B,), generator=gen))
               for _ in range(N_BATCHES)]
    state = [0]

    def step():
        x, y = batches[state[0]]
        state[0] = (state[0] + 1) % N_BATCHES
        opt.zero_grad()
        z = net(x)
        loss = F.cross_entropy(z.reshape(-1, o), y)
        loss.backward()
        opt.step()
        return B * T

    def run_for(seconds):
        frames = 0
        start = time.perf_counter()
        while True:
            frames += step()
            now = time.perf_counter()
            if now - start >= seconds:
                return frames / (now - start)

    run_for(warmup)
    fps = sorted(run_for(min_time) for _ in range(reps))
    print(f"result\tI={i} H={h} L={layers} +softmax{o}\t{B}x{T}"
          f"\t{statistics.median(fps):.1f}\t{fps[0]:.1f}\t{fps[-1]:.1f}",
          flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--min-time", type=float, default=2.0)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--optimizer", default="adam",
                    choices=["adam", "sgd", "rmsprop"])
    ap.add_argument("shapes", nargs="*", default=DEFAULT_SHAPES)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"torch\t{torch.__version__}", flush=True)
    for spec in args.shapes:
        bench_shape(spec, args.batch, args.frames, args.optimizer,
                    args.min_time, args.reps, args.warmup)
    return 0


if __name__ == "__main__":
    sys.exit(main())
