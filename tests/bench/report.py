#!/usr/bin/python3
"""Turns the raw output of run.sh into tables, printed and in BENCHMARKS.md.

Each run directory holds `setting` (the OpenBLAS setting), `ours.tsv` and
`torch.tsv` (bench-forward's and bench_torch.py's stdout), `ours.err`
and `torch.err` (their stderr, where OPENBLAS_VERBOSE=2 prints the core),
and `kernels.tsv` (bench-kernels' stdout).
"""
import argparse
import datetime
import os
import re
import subprocess
import sys


def read(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def parse_tsv(text):
    """Returns (info: key -> first value, results: [(shape, frames, fps)])."""
    info, results = {}, []
    for line in text.splitlines():
        fields = line.split("\t")
        if fields[0] == "result" and len(fields) >= 4:
            results.append((fields[1], int(fields[2]), float(fields[3])))
        elif len(fields) == 2:
            info.setdefault(fields[0], fields[1])
    return info, results


def verbose_cores(text):
    """The cores OpenBLAS reported with OPENBLAS_VERBOSE=2, in order."""
    cores = []
    for core in re.findall(r"^Core: (\S+)", text, re.M):
        if core not in cores:
            cores.append(core)
    return ", ".join(cores) or "?"


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "?"
    fields = dict(re.findall(r"^([^:]+):\s*(.*)$", out, re.M))
    model = fields.get("Model name", "?")
    extra = [f"family {fields.get('CPU family', '?')} model "
             f"{fields.get('Model', '?')} stepping {fields.get('Stepping', '?')}"]
    if "CPU(s)" in fields:
        extra.append(f"{fields['CPU(s)']} CPUs")
    if "Hypervisor vendor" in fields:
        extra.append(f"{fields['Hypervisor vendor']} guest")
    flags = fields.get("Flags", "").split()
    extra.append(" ".join(f for f in ("avx2", "fma", "avx512f") if f in flags))
    return f"{model} ({', '.join(extra)})"


def run_table(run_dir):
    setting = read(os.path.join(run_dir, "setting")).strip()
    ours_info, ours = parse_tsv(read(os.path.join(run_dir, "ours.tsv")))
    torch_info, theirs = parse_tsv(read(os.path.join(run_dir, "torch.tsv")))
    torch_fps = {(s, f): fps for s, f, fps in theirs}

    rows = []
    for shape, frames, fps in ours:
        other = torch_fps.get((shape, frames))
        ratio = f"{fps / other:.2f}" if other else "?"
        rows.append((shape, str(frames), f"{fps:,.0f}",
                     f"{other:,.0f}" if other else "?", ratio))
    ratios = [fps / torch_fps[(s, f)] for s, f, fps in ours
              if torch_fps.get((s, f))]
    kernel_rows = []
    for line in read(os.path.join(run_dir, "kernels.tsv")).splitlines():
        fields = line.split("\t")
        if fields[0] == "kernel" and len(fields) == 4:
            ours_us, blas_us = float(fields[2]), float(fields[3])
            kernel_rows.append((fields[1], f"{ours_us:.2f}", f"{blas_us:.2f}",
                                f"{blas_us / ours_us:.2f}"))
    return {
        "kernel_rows": kernel_rows,
        "setting": setting,
        "ours_core": ours_info.get("core", "?"),
        "ours_verbose": verbose_cores(read(os.path.join(run_dir,
                                                        "ours.err"))),
        "torch_verbose": verbose_cores(read(os.path.join(run_dir,
                                                         "torch.err"))),
        "kernels": ours_info.get("kernels", "?"),
        "openblas": ours_info.get("openblas", "?"),
        "torch": torch_info.get("torch", "?"),
        "rows": rows,
        "min_ratio": min(ratios) if ratios else None,
    }


HEADER = ("shape", "frames/call", "gst-lstm fps", "PyTorch fps",
          "gst-lstm / PyTorch")


KERNEL_HEADER = ("product", "gst-lstm us", "OpenBLAS us",
                 "OpenBLAS / gst-lstm")


def text_table(rows, header=HEADER):
    widths = [max(len(r[i]) for r in [header] + rows)
              for i in range(len(header))]
    lines = []
    for n, r in enumerate([header] + rows):
        cells = [c.ljust(w) if i == 0 else c.rjust(w)
                 for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("  ".join(cells))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def md_table(rows, header=HEADER):
    lines = ["| " + " | ".join(header) + " |",
             "|---" + "|--:" * (len(header) - 1) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def title(t):
    if t["setting"] == "default":
        return f"OpenBLAS default (detected core: {t['ours_core']})"
    return f"OPENBLAS_CORETYPE={t['setting']}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="BENCHMARKS.md")
    ap.add_argument("--command", default="tests/bench/run.sh")
    ap.add_argument("--settings", default="")
    ap.add_argument("--note", default="")
    ap.add_argument("runs", nargs="+")
    args = ap.parse_args()

    tables = [run_table(d) for d in args.runs]
    date = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    cpu = cpu_model()
    first = tables[0]
    # openblas_get_config () names the core of the run it came from; the
    # tables say which core each run used.
    openblas = " ".join(w for w in first["openblas"].split()
                        if w != first["ours_core"])
    detected = [t["ours_core"] for t in tables if t["setting"] == "default"]

    for t in tables:
        print(f"\n{title(t)}: OpenBLAS core gst-lstm {t['ours_verbose']} "
              f"(lstm_blas_get_core: {t['ours_core']}), PyTorch "
              f"{t['torch_verbose']}; gst-lstm matrix kernels: {t['kernels']}")
        print(text_table(t["rows"]))
        if t["kernel_rows"]:
            print("\nmatrix kernels alone, microseconds per call:")
            print(text_table(t["kernel_rows"], KERNEL_HEADER))

    md = [
        "# Benchmarks",
        "",
        "Frames per second of the core forward pass (`lstm_forward`, src/) "
        "next to PyTorch's `nn.LSTM` on the same machine in the same run: "
        "one thread, batch 1, random weights, the state (h, c) carried from "
        "one call to the next, 1, 10 or 100 frames per call. PyTorch runs "
        "`nn.LSTM` (+ `nn.Linear` and a softmax for the head) under "
        "`torch.inference_mode()` with `torch.set_num_threads(1)`. Every "
        "figure is the median of several measurements of at least "
        "`BENCH_MIN_TIME` seconds each, after a warm-up. Higher is better; "
        "a ratio above 1 means gst-lstm is faster. How it is measured: "
        "`tests/bench/run.sh` and the files next to it.",
        "",
        f"- Command: `{args.command}` (from the top of the tree, after "
        "`ninja -C build`)" + (f"; {args.settings}" if args.settings else ""),
        f"- Date: {date}",
        f"- CPU: {cpu}",
        f"- OpenBLAS: {openblas}",
        f"- PyTorch: {first['torch']}",
        f"- gst-lstm matrix kernels: {first['kernels']} (src/lstm-blas.c; "
        "its own AVX-512/AVX2 kernels, not OpenBLAS's, when the CPU has "
        "them)",
        "",
        "Reading the tables: gst-lstm computes its products with its own "
        "kernels, so its figures should not depend on the OpenBLAS core; "
        "PyTorch's do (it calls OpenBLAS). The `default` table uses the core "
        "OpenBLAS detects"
        + (f" (here {detected[0]})" if detected else "")
        + "; the others force one with OPENBLAS_CORETYPE on both sides. "
        "Prescott is the generic core OpenBLAS falls back to on some "
        "virtual machines (DESIGN.md, \"Numerics and speed\").",
        "",
        "The machine is a shared virtual machine with two cores and other "
        "jobs ran on it at the same time: the same case can move by 25 % "
        "between runs (compare two tables that used the same core), and "
        "the kernel timings by up to 2x. Both sides of a row were measured "
        "one right after the other.",
    ]
    if args.note:
        md += ["", args.note]
    for t in tables:
        md += [
            "",
            f"## {title(t)}",
            "",
            f"OpenBLAS core in use (`OPENBLAS_VERBOSE=2`): gst-lstm "
            f"{t['ours_verbose']} (`lstm_blas_get_core ()`: "
            f"{t['ours_core']}), PyTorch {t['torch_verbose']}.",
            "",
            md_table(t["rows"]),
        ]
        if t["min_ratio"] is not None:
            md += ["", f"Smallest ratio: {t['min_ratio']:.2f}."]
        if t["kernel_rows"]:
            md += [
                "",
                "The matrix kernels alone (`bench-kernels`), microseconds "
                "per call, best of 7: src/lstm-blas.c against OpenBLAS's "
                "sgemv (N x K: y[N] += W[N,K] x) and sgemm (M x N x K: "
                "C[M,N] += A[M,K] B[N,K]^T) with this OpenBLAS core.",
                "",
                md_table(t["kernel_rows"], KERNEL_HEADER),
            ]
    if args.out != "-":
        with open(args.out, "w", encoding="utf-8") as f:
            f.write("\n".join(md) + "\n")
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
