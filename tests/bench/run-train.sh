#!/bin/sh
# Training frames per second of gst-lstm's core (lstm_trainer_step) next to
# PyTorch's, single thread, in the same run.
#
# Run from the top of the source tree after a build:
#
#     ninja -C build && tests/bench/run-train.sh
#
# Each shape is a stacked LSTM with a 12-way softmax head trained on
# batches of 32 sequences of 100 frames, cross-entropy on every frame, Adam
# with PyTorch's defaults: build/tests/bench/bench-train against
# tests/bench/bench_train_torch.py (Debian's /usr/bin/python3 with
# python3-torch, torch.set_num_threads(1)). Both sides get the same
# environment (OPENBLAS_NUM_THREADS=1, OMP_NUM_THREADS=1, OPENBLAS_CORETYPE
# when one is forced) and are measured one right after the other, shape by
# shape. It prints a Markdown section and appends it to BENCHMARKS.md
# (tests/bench/run.sh calls it at its end).
#
# Settings, from the environment:
#   BENCH_CORES     OpenBLAS settings, a table row each: "default" and core
#                   names for OPENBLAS_CORETYPE (default "default Prescott")
#   BENCH_TRAIN_MIN_TIME  seconds per measurement (2)
#   BENCH_TRAIN_REPS      measurements per case, median reported (5)
#   BENCH_TRAIN_SHAPES    I,H,L,O list (40,128,1,12 40,128,2,12)
#   BUILD_DIR       the meson build directory (build)
#   BENCH_OUT       the Markdown file to append to (BENCHMARKS.md; "-" for none)
set -eu

BUILD_DIR=${BUILD_DIR:-build}
BENCH_CORES=${BENCH_CORES:-default Prescott}
MIN_TIME=${BENCH_TRAIN_MIN_TIME:-2}
REPS=${BENCH_TRAIN_REPS:-5}
SHAPES=${BENCH_TRAIN_SHAPES:-40,128,1,12 40,128,2,12}
BENCH_OUT=${BENCH_OUT:-BENCHMARKS.md}
PYTHON=/usr/bin/python3
HERE=$(dirname "$0")
BENCH=$BUILD_DIR/tests/bench/bench-train

if [ ! -x "$BENCH" ]; then
  echo "run-train.sh: $BENCH not found; build first (ninja -C $BUILD_DIR)" >&2
  exit 1
fi
if ! "$PYTHON" -c 'import torch' 2>/dev/null; then
  echo "run-train.sh: $PYTHON cannot import torch (Debian package python3-torch)" >&2
  exit 1
fi

OUT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/lstm-bench-train.XXXXXX")
trap 'rm -rf "$OUT_DIR"' EXIT
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

for setting in $BENCH_CORES; do
  if [ "$setting" = default ]; then
    unset OPENBLAS_CORETYPE
  else
    export OPENBLAS_CORETYPE=$setting
  fi
  for shape in $SHAPES; do
    echo "== $setting $shape: gst-lstm" >&2
    OPENBLAS_VERBOSE=2 "$BENCH" --min-time "$MIN_TIME" --reps "$REPS" \
      "$shape" 2>> "$OUT_DIR/ours.err" \
      | sed "s/^/$setting	/" >> "$OUT_DIR/ours.tsv"
    echo "== $setting $shape: PyTorch" >&2
    OPENBLAS_VERBOSE=2 "$PYTHON" "$HERE/bench_train_torch.py" \
      --min-time "$MIN_TIME" --reps "$REPS" "$shape" 2>> "$OUT_DIR/torch.err" \
      | sed "s/^/$setting	/" >> "$OUT_DIR/torch.tsv"
  done
done

# The core OpenBLAS reported for PyTorch (OPENBLAS_VERBOSE=2 prints it on
# stderr), per setting, in order.
torch_cores=$(grep -o 'Core: [A-Za-z0-9]*' "$OUT_DIR/torch.err" \
  | sed 's/Core: //' | uniq | tr '\n' ' ' | sed 's/ $//')
kernels=$(awk -F '\t' '$2 == "kernels" { print $3; exit }' "$OUT_DIR/ours.tsv")
torch_version=$(awk -F '\t' '$2 == "torch" { print $3; exit }' "$OUT_DIR/torch.tsv")

{
  echo
  echo "## Training (core) against PyTorch"
  echo
  echo "Frames per second of a whole training step (forward with the caches, backward through time, Adam's update): \`lstm_trainer_step\` (src/lstm-train.c and its neighbours) next to PyTorch $torch_version (\`nn.LSTM\` + \`nn.Linear\`, \`F.cross_entropy\`, \`loss.backward ()\`, \`torch.optim.Adam\`), one thread on each side (\`torch.set_num_threads (1)\`, OPENBLAS_NUM_THREADS=1). A step trains on 32 sequences of 100 frames (3,200 frames), cross-entropy on every frame, 12 classes, Adam with PyTorch's defaults; the batches cycle through 4 random ones. Median of $REPS measurements of at least $MIN_TIME s each, after a warm-up; both sides of a row were measured one right after the other. gst-lstm's matrix products use its own kernels ($kernels, src/lstm-train-blas.c), so its figures do not depend on the OpenBLAS core; PyTorch's do (OpenBLAS core per row; PyTorch reported: ${torch_cores:-unknown})."
  echo
  echo "- Command: \`tests/bench/run-train.sh\` (BENCH_TRAIN_MIN_TIME=$MIN_TIME BENCH_TRAIN_REPS=$REPS)"
  echo "- Machine: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg) at the end. A shared machine's other jobs move these figures by 25 % or more from run to run; the two sides of a row share the conditions."
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "| shape | batch | OpenBLAS setting | gst-lstm frames/s | PyTorch frames/s | gst-lstm / PyTorch |"
  echo "|---|---|---|--:|--:|--:|"
  awk -F '\t' '
    function commas(x,  s) {
      s = sprintf ("%.0f", x)
      while (s ~ /[0-9][0-9][0-9][0-9]/)
        sub (/[0-9][0-9][0-9]($|,)/, ",&", s)
      return s
    }
    FNR == NR && $2 == "result" { ours[$1 "|" $3 "|" $4] = $5; next }
    $2 == "result" {
      k = $1 "|" $3 "|" $4
      if (k in ours)
        printf "| %s | %s | %s | %s | %s | %.2f |\n", $3, $4, $1,
          commas(ours[k]), commas($5), ours[k] / $5
    }' "$OUT_DIR/ours.tsv" "$OUT_DIR/torch.tsv"
} > "$OUT_DIR/section.md"

cat "$OUT_DIR/section.md"
if [ "$BENCH_OUT" != "-" ]; then
  cat "$OUT_DIR/section.md" >> "$BENCH_OUT"
fi
