#!/usr/bin/python3
"""The benchmark suite: every figure next to its peer measured in the same run.

    S1  streaming, I=40 H=128, 2 layers, 12-way softmax head
    S2  streaming small, I=8 H=32, 1 layer (no head)
    S3  streaming large, I=80 H=512, 2 layers, 30-way softmax head
        10-frame buffers, state carried: the core (lstm_forward), the lstm
        element (appsrc ! lstm ! fakesink) and PyTorch (nn.LSTM + nn.Linear
        + softmax, 10 frames per call; run before and after ours, the
        faster of the two counted); per-frame latency (1-frame buffers
        through the element, 1-frame calls in PyTorch: median and 99th
        percentile); peak RSS of each side's process; heap allocations per
        buffer inside the element in a steady stream; GFLOP/s of the element
        and its fraction of OpenBLAS's single-thread sgemm peak measured in
        the same run
    64 streams of S1 through 64 elements against one element with 64
        request pads (all streams' frames per second)
    S1, S3 with reduced-precision weights (the lstm element's `weights`
        f16 and int8): core and element frames per second against the same
        PyTorch float32 figure
    T1  training, the S1 shape, 32 sequences of 100 frames a step, Adam;
        five alternating pairs (gst-lstm, then PyTorch, five times), each
        side's median and the median of the five pairs' ratios: on a shared
        machine one side of a single pair can be slowed by half; and each
        side's GFLOP/s over the whole step (train_flops_per_frame: the
        products forward, of the weight gradients and of the input
        gradients) as a fraction of the sgemm peak, with what the target's
        multiple of PyTorch would need; and the ceiling: the products alone
        at the core's FMA peak (bench-kernels --peak: independent fused
        multiply-adds, nothing else), no other work, in frames/s and as a
        multiple of PyTorch's figure
    F1  log-mel filterbank (40 bins) of one hour of 16 kHz audio, against
        torchaudio.compliance.kaldi.fbank

One thread on every side (OPENBLAS_NUM_THREADS=1, torch.set_num_threads(1)),
the same OpenBLAS core for both: BENCH_SUITE_CORE when set; else on a CPU
with AVX-512 SkylakeX, OpenBLAS's AVX-512 kernels, the fastest for PyTorch
there, in place of whatever OPENBLAS_CORETYPE the environment sets; else
OPENBLAS_CORETYPE or the detected one (OPENBLAS_VERBOSE=2 reads it back).
Prints the tables and writes them as the section "## Benchmark suite" at
the top of BENCHMARKS.md (replacing an older one). tests/bench/run.sh calls
it; alone, from the top of the tree after a build:

    tests/bench/suite.py [--out BENCHMARKS.md] [--seconds S] [--quick]

--quick: shorter measurements and 60 s of audio, to check that it runs.
Needs Debian's /usr/bin/python3 with python3-torch and python3-torchaudio.
"""
import argparse
import datetime
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"
HEADING = "## Benchmark suite"

STREAMS = [("S1", "40,128,2,12"), ("S2", "8,32,1"), ("S3", "80,512,2,30")]
TRAIN = ("T1", "40,128,2,12")
TRAIN_PAIRS = 5
WEIGHTS = ["f16", "int8"]
# the issues' bars (#3: element within 10 % of the core; #8: speed-ups)
TARGET_ELEMENT_CORE = 0.9
TARGETS = {"S1": 6.0, "S2": 10.0, "S3": 2.0, "T1": 3.0, "F1": 5.0}


def run(cmd, env, log):
    """Runs cmd; returns stdout, appends stderr to log."""
    print("  $ " + " ".join(cmd), file=sys.stderr, flush=True)
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    log.write(p.stderr)
    if p.returncode != 0:
        sys.stderr.write(p.stderr)
        raise SystemExit(f"suite.py: {cmd[0]} failed ({p.returncode})")
    return p.stdout


def lines(text, tag):
    return [ln.split("\t") for ln in text.splitlines()
            if ln.split("\t")[0] == tag]


def commas(x):
    return f"{x:,.0f}"


def ratio(a, b):
    return a / b if b else float("nan")


def verdict(value, target):
    return f"{value:.2f} ({'met' if value >= target else 'NOT met'}: "\
        f"target {target:g})"


def torch_stream(shape, args, env, log):
    """PyTorch's streaming figures for one shape (bench_torch.py output)."""
    return run([PYTHON, os.path.join(HERE, "bench_torch.py"),
                "--frames", "10", "--latency", "2000",
                "--min-time", str(args.seconds / 8), "--reps", "5", shape],
               env, log)


def measure(args, env, log, tmp):
    r = {"streams": {}}
    build = args.build
    elem_env = dict(env, GST_PLUGIN_PATH=os.path.join(build, "plugin"))
    out = run([os.path.join(build, "tests/bench/bench-kernels"), "--peak"],
              env, log)
    r["sgemm"] = float(lines(out, "sgemm_gflops")[0][1])
    r["fma"] = float(lines(out, "fma_gflops")[0][1])
    r["core"] = lines(out, "core")[0][1]

    for name, shape in STREAMS:
        # PyTorch before and after ours, its faster run counted: one
        # PyTorch run of S1 read 16k frames/s (p99 latency 4.3 ms) where
        # the runs around it read 42-43k
        before = torch_stream(shape, args, env, log)
        ours = run([os.path.join(build, "tests/bench/bench-element"),
                    "--seconds", str(args.seconds), shape], elem_env, log)
        vals = {k: float(v) for _, _, k, v in lines(ours, "stream")}
        r["kernels"] = lines(ours, "kernels")[0][1]
        after = torch_stream(shape, args, env, log)
        torch = max(before, after,
                    key=lambda t: float(lines(t, "result")[0][3]))
        vals["torch_fps"] = float(lines(torch, "result")[0][3])
        lat = lines(torch, "latency")[0]
        vals["torch_p50_us"], vals["torch_p99_us"] = float(lat[2]), \
            float(lat[3])
        vals["torch_rss_kib"] = float(lines(torch, "peak_rss_kib")[0][1])
        r["torch"] = lines(torch, "torch")[0][1]
        r["streams"][name] = (shape, vals)

    # S1 and S3 with weights f16 and int8 (PyTorch's figure: float32 above)
    r["weights"] = []
    for name, shape in (STREAMS[0], STREAMS[2]):
        for w in WEIGHTS:
            ours = run([os.path.join(build, "tests/bench/bench-element"),
                        "--seconds", str(args.seconds / 2), "--weights", w,
                        shape], elem_env, log)
            vals = {k: float(v) for _, _, k, v in lines(ours, "stream")}
            r["weights"].append((name, shape, w, vals["core_fps"],
                                 vals["element_fps"],
                                 r["streams"][name][1]["torch_fps"]))

    # 64 streams of S1: one element with 64 request pads against 64 elements
    ours = run([os.path.join(build, "tests/bench/bench-element"),
                "--seconds", str(args.seconds * 2), "--streams", "64",
                STREAMS[0][1]], elem_env, log)
    vals = {k: float(v) for _, _, k, v in lines(ours, "stream")}
    r["multi"] = (STREAMS[0][1], vals["separate_fps"], vals["together_fps"])

    name, shape = TRAIN
    t = ["--min-time", str(args.seconds / 2), "--reps", "1", shape]
    pairs = []
    for _ in range(TRAIN_PAIRS):
        ours = run([os.path.join(build, "tests/bench/bench-train")] + t, env,
                   log)
        theirs = run([PYTHON, os.path.join(HERE, "bench_train_torch.py")] + t,
                     env, log)
        pairs.append((float(lines(ours, "result")[0][3]),
                      float(lines(theirs, "result")[0][3])))
    r["train"] = (shape, pairs)

    signal = os.path.join(tmp, "signal.s16")
    feats = os.path.join(build, "tests/bench/bench-features")
    run([feats, "--make-signal", signal, "--seconds", str(args.audio)],
        env, log)
    ours = run([feats, signal], elem_env, log)
    theirs = run([PYTHON, os.path.join(HERE, "bench_features.py"), signal],
                 env, log)
    core = [float(f[6]) for f in lines(ours, "result")
            if f[1] == "gst-lstm core" and f[2] == "fbank 40"]
    elem = [float(f[6]) for f in lines(ours, "result")
            if f[1] == "lstmfeatures element" and f[2] == "fbank 40"]
    ta = [(float(f[6]), f[1]) for f in lines(theirs, "result")
          if f[2] == "fbank 40"]
    r["features"] = (core[0], elem[0], min(ta))
    r["cores_seen"] = sorted(set(re.findall(r"^Core: (\S+)", log_text(log),
                                            re.M)))
    return r


def cpu_flags():
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for ln in f:
            if ln.startswith("flags"):
                return ln.split(":", 1)[1].split()
    return []


def log_text(log):
    log.flush()
    with open(log.name, encoding="utf-8", errors="replace") as f:
        return f.read()


def report(r, args):
    sys.path.insert(0, HERE)
    from report import cpu_model

    sgemm = r["sgemm"]
    out = [HEADING, "",
           "Every figure next to its peer measured in the same run, one "
           "thread on each side, the same OpenBLAS core; higher is better "
           "unless said. Command: `tests/bench/run.sh` (this section alone: "
           "`tests/bench/suite.py`); what each figure is: the head of "
           "tests/bench/suite.py and tests/bench/bench-element.c.", "",
           f"- Date: {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC; load "
           f"average at the end {' '.join(open('/proc/loadavg').read().split()[:3])}"
           " (a shared machine: figures move by 25 % from run to run; the "
           "sides of a row share the conditions)",
           f"- CPU: {cpu_model()}",
           f"- OpenBLAS core: {r['core']} (OPENBLAS_VERBOSE=2 on every "
           f"process: {', '.join(r['cores_seen']) or r['core']}); "
           f"{args.coretype}",
           f"- gst-lstm matrix kernels: {r['kernels']}; PyTorch {r['torch']}",
           f"- OpenBLAS sgemm peak, one thread (1024^3, best of 7): "
           f"{sgemm:.1f} GFLOP/s; the core's FMA peak (fused multiply-adds "
           f"alone, best of 7): {r['fma']:.1f} GFLOP/s", "",
           "### Streaming, 10-frame buffers, state carried", "",
           "| case | shape | core fps | element fps | PyTorch fps | core / "
           "PyTorch | element / PyTorch | element / core |",
           "|---|---|--:|--:|--:|--:|--:|--:|"]
    for name, (shape, v) in r["streams"].items():
        out.append(
            f"| {name} | {shape} | {commas(v['core_fps'])} | "
            f"{commas(v['element_fps'])} | {commas(v['torch_fps'])} | "
            f"{ratio(v['core_fps'], v['torch_fps']):.2f} | "
            f"{verdict(ratio(v['element_fps'], v['torch_fps']), TARGETS[name])}"
            f" | {verdict(ratio(v['element_fps'], v['core_fps']), TARGET_ELEMENT_CORE)} |")
    out += ["", "Element: `appsrc ! lstm ! fakesink`, appsrc fed from its "
            "need-data callback (in the streaming thread). The same pipeline "
            "fed by `gst_app_src_push_buffer` from another thread adds "
            "appsrc's queue hand-off; need-data pushing lists of ten "
            "10-frame buffers (`gst_app_src_push_buffer_list`; `lstm` "
            "takes a list whole and pushes its outputs as one list) pays "
            "GStreamer's cost per push once per list; `lstm ! fakesink` fed by "
            "`gst_pad_push` has neither; `identity ! fakesink` fed that way "
            "is what any one element costs per buffer in GStreamer:", "",
            "| case | buffer lists fps | / core | pushed from a thread fps "
            "| / core | pad push fps | / core | core us / buffer | identity "
            "us / buffer |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for name, (shape, v) in r["streams"].items():
        out.append(
            f"| {name} | {commas(v['list_fps'])} | "
            f"{ratio(v['list_fps'], v['core_fps']):.2f} | "
            f"{commas(v['pushed_fps'])} | "
            f"{ratio(v['pushed_fps'], v['core_fps']):.2f} | "
            f"{commas(v['direct_fps'])} | "
            f"{ratio(v['direct_fps'], v['core_fps']):.2f} | "
            f"{1e7 / v['core_fps']:.2f} | {v['identity_ns'] / 1e3:.2f} |")
    out += ["", "### Latency, memory, allocations, arithmetic rate", "",
            "| case | latency p50 / p99 us: element | PyTorch | peak RSS "
            "MiB: gst-lstm process | PyTorch process | allocations per "
            "buffer in lstm | element GFLOP/s | of sgemm peak |",
            "|---|--:|--:|--:|--:|--:|--:|--:|"]
    for name, (shape, v) in r["streams"].items():
        gflops = v["flops_per_frame"] * v["element_fps"] / 1e9
        allocs = "n/a" if v["allocs_per_buffer"] < 0 else \
            f"{v['allocs_per_buffer']:.2f}"
        out.append(
            f"| {name} | {v['latency_p50_us']:.1f} / "
            f"{v['latency_p99_us']:.1f} | {v['torch_p50_us']:.1f} / "
            f"{v['torch_p99_us']:.1f} | {v['peak_rss_kib'] / 1024:.0f} | "
            f"{v['torch_rss_kib'] / 1024:.0f} | {allocs} | {gflops:.1f} | "
            f"{100 * gflops / sgemm:.0f} % |")
    out += ["", "### Reduced-precision weights (the element's `weights`)",
            "", "PyTorch float32 as above; accuracy cost: README, "
            "\"Reduced-precision weights\".", "",
            "| case | weights | core fps | element fps | core / PyTorch | "
            "element / PyTorch |", "|---|---|--:|--:|--:|--:|"]
    for name, shape, w, core, elem, torch in r["weights"]:
        out.append(f"| {name} {shape} | {w} | {commas(core)} | "
                   f"{commas(elem)} | {ratio(core, torch):.2f} | "
                   f"{ratio(elem, torch):.2f} |")
    mshape, sep, tog = r["multi"]
    out += ["", "### Many streams", "",
            "| case | 64 separate lstm elements fps (all streams) | one lstm "
            "with 64 request pads fps | one / separate |",
            "|---|--:|--:|--:|",
            f"| S1 {mshape}, 10-frame buffers, appsrc per stream | "
            f"{commas(sep)} | {commas(tog)} | {ratio(tog, sep):.2f} |"]
    shape, pairs = r["train"]
    ours = statistics.median(p[0] for p in pairs)
    theirs = statistics.median(p[1] for p in pairs)
    pair_ratios = sorted(ratio(a, b) for a, b in pairs)
    core, elem, (ta, ta_how) = r["features"]
    out += ["", "### Training and features", "",
            "| case | gst-lstm | peer | gst-lstm / peer |", "|---|--:|--:|--:|",
            f"| T1 training {shape}, batch 32 x 100 frames, Adam (frames/s; "
            f"medians of {len(pairs)} alternating pairs, ratio: the median "
            f"pair's) | {commas(ours)} | PyTorch {commas(theirs)} | "
            f"{verdict(statistics.median(pair_ratios), TARGETS['T1'])}; "
            f"pairs {pair_ratios[0]:.2f} to {pair_ratios[-1]:.2f} |",
            f"| F1 fbank 40, {args.audio / 3600:.3g} h of 16 kHz (real-time "
            f"factor, lower is better) | core {core:.5f}, element "
            f"{elem:.5f} | {ta_how} {ta:.5f} | "
            f"{verdict(ratio(ta, core), TARGETS['F1'])} (core) |", ""]
    tf = train_flops_per_frame(shape)
    need = TARGETS["T1"] * theirs * tf / 1e9
    out += [f"T1's arithmetic: {tf / 1e6:.2f} MFLOP a frame in its matrix "
            f"products; gst-lstm {ours * tf / 1e9:.0f} GFLOP/s over the whole "
            f"step ({100 * ours * tf / 1e9 / sgemm:.0f} % of the sgemm peak), "
            f"PyTorch {theirs * tf / 1e9:.0f} GFLOP/s "
            f"({100 * theirs * tf / 1e9 / sgemm:.0f} %); "
            f"{TARGETS['T1']:g}x PyTorch would need {need:.0f} GFLOP/s, "
            f"{100 * need / sgemm:.0f} % of the peak, elementwise work "
            "included."]
    if r["fma"] > 0:
        ceiling = r["fma"] * 1e9 / tf
        out += [f"The ceiling: the products alone at the core's FMA peak "
                f"({r['fma']:.0f} GFLOP/s), nothing else, would be "
                f"{commas(ceiling)} frames/s, {ratio(ceiling, theirs):.2f}x "
                f"this run's PyTorch; gst-lstm ran at "
                f"{100 * ours / ceiling:.0f} % of it."]
    out += [""]
    return "\n".join(out) + "\n"


def train_flops_per_frame(shape):
    """2 x the multiply-adds of a training step's matrix products per frame
    of a stacked LSTM I,H,L,O: forward, per layer 4H x (in + H) and the head
    O x H; the weight gradients the same again; the input gradients the
    same but for the first layer's input (its dL/dx is not computed)."""
    i, h, n_layers, o = (int(v) for v in shape.split(","))
    fwd = sum(4 * h * ((i if k == 0 else h) + h) for k in range(n_layers))
    fwd += o * h
    dx = fwd - 4 * h * i
    return 2.0 * (fwd + fwd + dx)


def write(section, path):
    text = open(path, encoding="utf-8").read() if os.path.exists(path) \
        else "# Benchmarks\n"
    # drop an older suite section (up to the next "## " heading)
    text = re.sub(r"^## Benchmark suite\n.*?(?=^## |\Z)", "", text,
                  flags=re.M | re.S)
    m = re.search(r"^# .*\n", text, re.M)
    at = m.end() if m else 0
    rest = text[at:].lstrip("\n")
    if rest and not rest.startswith("## "):
        rest = "## In detail\n\n" + rest
    text = text[:at] + "\n" + section + ("\n" + rest if rest else "")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="BENCHMARKS.md",
                    help="the Markdown file to write ('-': none)")
    ap.add_argument("--build", default=os.environ.get("BUILD_DIR", "build"))
    ap.add_argument("--seconds", type=float, default=4.0,
                    help="seconds of measurement per side and figure")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--insert", metavar="SECTION",
                    help="only put this ready section into --out")
    args = ap.parse_args()
    if args.insert:
        write(open(args.insert, encoding="utf-8").read(), args.out)
        return
    args.audio = 60 if args.quick else 3600
    if args.quick:
        args.seconds = 0.7

    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1", OPENBLAS_VERBOSE="2")
    # PyTorch gets OpenBLAS's best kernels: on a CPU with AVX-512 the
    # SkylakeX ones, whatever OpenBLAS detects (Prescott on some virtual
    # machines) and whatever OPENBLAS_CORETYPE the machine's environment
    # sets (Haswell on one of ours, an AMD EPYC with AVX-512, where PyTorch
    # then ran S1 at half the speed and T1 at 0.85 of it); BENCH_SUITE_CORE
    # forces another.
    inherited = os.environ.get("OPENBLAS_CORETYPE", "")
    forced = os.environ.get("BENCH_SUITE_CORE", "")
    core = forced or ("SkylakeX" if "avx512f" in cpu_flags() else inherited)
    args.coretype = f"OPENBLAS_CORETYPE={core or 'unset'}"
    if core != inherited:
        env["OPENBLAS_CORETYPE"] = core
        args.coretype += (" (BENCH_SUITE_CORE)" if forced else
                          " (set by the suite: the CPU has AVX-512)")
        if inherited:
            args.coretype += f"; the environment's {inherited} replaced"
    with tempfile.TemporaryDirectory(prefix="lstm-suite.") as tmp, \
            open(os.path.join(tmp, "stderr.log"), "w+") as log:
        r = measure(args, env, log, tmp)
    section = report(r, args)
    print(section, end="")
    if args.out != "-":
        write(section, args.out)
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
