#!/bin/sh
# Real-time factor of lstmfeatures (the core and the element) next to
# torchaudio.compliance.kaldi, fbank 40 and MFCC 13, one thread, on the
# same hour of 16 kHz audio, in one run. Writes the section "## Features:
# ..." of BENCHMARKS.md (replacing an older one) and prints it.
#
#     ninja -C build && tests/bench/run-features.sh
#
# Settings, from the environment:
#   BENCH_SECONDS  audio length in seconds (3600)
#   BUILD_DIR      the meson build directory (build)
#   BENCH_OUT      the Markdown file to write (BENCHMARKS.md; "-" for none)
# Needs Debian's /usr/bin/python3 with python3-torchaudio; the signal
# (115 MB for an hour) lives in a temporary directory, and torchaudio's
# one-call run of an hour takes a few GB of memory.
set -eu

BUILD_DIR=${BUILD_DIR:-build}
BENCH_SECONDS=${BENCH_SECONDS:-3600}
BENCH_OUT=${BENCH_OUT:-BENCHMARKS.md}
PYTHON=/usr/bin/python3
HERE=$(dirname "$0")
BENCH=$BUILD_DIR/tests/bench/bench-features

if [ ! -x "$BENCH" ]; then
  echo "run-features.sh: $BENCH not found; build first (ninja -C $BUILD_DIR)" >&2
  exit 1
fi
if ! "$PYTHON" -c 'import torchaudio' 2>/dev/null; then
  echo "run-features.sh: $PYTHON cannot import torchaudio (Debian package" \
    "python3-torchaudio)" >&2
  exit 1
fi

OUT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/lstm-bench-features.XXXXXX")
trap 'rm -rf "$OUT_DIR"' EXIT
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

echo "== making $BENCH_SECONDS s of 16 kHz audio"
"$BENCH" --make-signal "$OUT_DIR/signal.s16" --seconds "$BENCH_SECONDS"
echo "== gst-lstm (core, then the element)"
GST_PLUGIN_PATH="$BUILD_DIR/plugin" "$BENCH" "$OUT_DIR/signal.s16" \
  | tee "$OUT_DIR/ours.tsv"
echo "== torchaudio.compliance.kaldi"
"$PYTHON" "$HERE/bench_features.py" "$OUT_DIR/signal.s16" \
  | tee "$OUT_DIR/torch.tsv"
"$PYTHON" "$HERE/bench_features.py" --report "$OUT_DIR/ours.tsv" \
  "$OUT_DIR/torch.tsv" --out "$BENCH_OUT"
