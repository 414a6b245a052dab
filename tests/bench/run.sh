#!/bin/sh
# The benchmarks, every figure next to its peer measured in the same run,
# written to BENCHMARKS.md. Run from the top of the source tree after a
# build:
#
#     ninja -C build && tests/bench/run.sh
#
# First the suite (tests/bench/suite.py: S1-S3 streaming through the core
# and the element, latency, RSS, allocations, GFLOP/s, T1 training, F1
# features), which ends up at the top of BENCHMARKS.md; then the details
# below. BENCH_SUITE_ONLY=1 runs the suite alone.
#
# Details: frames per second of gst-lstm's forward pass next to PyTorch's
# nn.LSTM, single thread, state carried across calls, 1, 10 and 100 frames
# per call. It prints one table per OpenBLAS core and writes them to BENCHMARKS.md,
# each followed by the matrix kernels alone (build/tests/bench/bench-kernels:
# src/lstm-blas.c against OpenBLAS's sgemv/sgemm on the same products).
# Each OpenBLAS setting is run twice over, once per side: gst-lstm
# (build/tests/bench/bench-forward) and PyTorch (tests/bench/bench_torch.py,
# Debian's /usr/bin/python3 with python3-torch) get the same environment:
# OPENBLAS_NUM_THREADS=1, OPENBLAS_VERBOSE=2 (to read the core back), and
# OPENBLAS_CORETYPE when one is forced. Shapes are measured in turn, ours
# then PyTorch's, so slow drifts of a shared machine hit both alike.
#
# Settings, from the environment:
#   BENCH_CORES     OpenBLAS settings to run, one table each: "default"
#                   (the core OpenBLAS detects) and core names for
#                   OPENBLAS_CORETYPE. Default "default Prescott SkylakeX":
#                   the generic core OpenBLAS falls back to on some virtual
#                   machines, and the right one for AVX-512 CPUs.
#   BENCH_MIN_TIME  seconds per measurement (0.5)
#   BENCH_REPS      measurements per case, median reported (5)
#   BENCH_SHAPES    I,H,L[,O] list (the four of BENCHMARKS.md)
#   BUILD_DIR       the meson build directory (build)
#   BENCH_OUT       the Markdown file to write (BENCHMARKS.md; "-" for none)
#   BENCH_RAW       a directory to keep the raw outputs in (not kept if unset)
set -eu

BUILD_DIR=${BUILD_DIR:-build}
BENCH_CORES=${BENCH_CORES:-default Prescott SkylakeX}
BENCH_MIN_TIME=${BENCH_MIN_TIME:-0.5}
BENCH_REPS=${BENCH_REPS:-5}
BENCH_SHAPES=${BENCH_SHAPES:-5,17,1 40,128,2,12 3,64,3 80,512,2}
BENCH_OUT=${BENCH_OUT:-BENCHMARKS.md}
PYTHON=/usr/bin/python3
HERE=$(dirname "$0")
BENCH=$BUILD_DIR/tests/bench/bench-forward
BENCH_KERNELS=$BUILD_DIR/tests/bench/bench-kernels

for exe in "$BENCH" "$BENCH_KERNELS"; do
  if [ ! -x "$exe" ]; then
    echo "run.sh: $exe not found; build first (ninja -C $BUILD_DIR)" >&2
    exit 1
  fi
done
if ! "$PYTHON" -c 'import torch' 2>/dev/null; then
  echo "run.sh: $PYTHON cannot import torch (Debian package python3-torch)" >&2
  exit 1
fi

OUT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/lstm-bench.XXXXXX")
trap 'rm -rf "$OUT_DIR"' EXIT

echo "== the benchmark suite"
"$PYTHON" "$HERE/suite.py" --build "$BUILD_DIR" --out - > "$OUT_DIR/suite.md"
cat "$OUT_DIR/suite.md"
if [ -n "${BENCH_SUITE_ONLY:-}" ]; then
  [ "$BENCH_OUT" = "-" ] || "$PYTHON" "$HERE/suite.py" --insert \
    "$OUT_DIR/suite.md" --out "$BENCH_OUT"
  exit 0
fi

export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

n=0
for setting in $BENCH_CORES; do
  if [ "$setting" = default ]; then
    unset OPENBLAS_CORETYPE
  else
    export OPENBLAS_CORETYPE=$setting
  fi
  n=$((n + 1))
  run=$(printf '%s/%02d' "$OUT_DIR" "$n")
  mkdir -p "$run"
  echo "$setting" > "$run/setting"
  echo "== OpenBLAS setting: $setting (OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset})"
  for shape in $BENCH_SHAPES; do
    echo "   $shape: gst-lstm"
    OPENBLAS_VERBOSE=2 "$BENCH" --min-time "$BENCH_MIN_TIME" \
      --reps "$BENCH_REPS" "$shape" >> "$run/ours.tsv" 2>> "$run/ours.err"
    echo "   $shape: PyTorch"
    OPENBLAS_VERBOSE=2 "$PYTHON" "$HERE/bench_torch.py" \
      --min-time "$BENCH_MIN_TIME" --reps "$BENCH_REPS" "$shape" \
      >> "$run/torch.tsv" 2>> "$run/torch.err"
  done
  echo "   matrix kernels: gst-lstm and OpenBLAS"
  "$BENCH_KERNELS" > "$run/kernels.tsv"
done

if [ -n "${BENCH_RAW:-}" ]; then
  mkdir -p "$BENCH_RAW"
  cp -R "$OUT_DIR"/. "$BENCH_RAW"/
fi

"$PYTHON" "$HERE/report.py" --out "$BENCH_OUT" \
  --command "tests/bench/run.sh" \
  --settings "BENCH_MIN_TIME=$BENCH_MIN_TIME BENCH_REPS=$BENCH_REPS" \
  "$OUT_DIR"/*/

# Feature extraction (lstmfeatures) against torchaudio.compliance.kaldi:
# its own runner, which writes its own section of BENCHMARKS.md (it needs
# python3-torchaudio; skipped without it).
if "$PYTHON" -c 'import torchaudio' 2>/dev/null; then
  BUILD_DIR="$BUILD_DIR" BENCH_OUT="$BENCH_OUT" "$HERE/run-features.sh"
else
  echo "== features: skipped ($PYTHON cannot import torchaudio)"
fi

# Training steps against PyTorch's (run-train.sh appends its own section).
echo "== training: gst-lstm's core against PyTorch"
BUILD_DIR="$BUILD_DIR" BENCH_OUT="$BENCH_OUT" "$HERE/run-train.sh"

# The suite goes at the top of the file the sections above wrote.
if [ "$BENCH_OUT" != "-" ]; then
  "$PYTHON" "$HERE/suite.py" --insert "$OUT_DIR/suite.md" --out "$BENCH_OUT"
fi
