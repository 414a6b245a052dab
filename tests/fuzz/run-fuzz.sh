#!/bin/sh
# Fuzzes the model loader (or another target) for a bounded time.
#
#   tests/fuzz/run-fuzz.sh BUILD_DIR SECONDS [TARGET]
#
# TARGET: load (the default: tests/fuzz/fuzz-load on corpus/), labels
# (tests/fuzz/fuzz-labels on corpus-labels/), onnx (tests/fuzz/fuzz-onnx
# on corpus-onnx/, with onnx.dict) or element (fuzz-element, the lstm
# element driven by operations, on corpus-element/).
#
# BUILD_DIR must be configured with clang (CC=clang meson setup BUILD_DIR
# -Db_lundef=false) so that tests/fuzz/fuzz-load exists. The fuzzer works on
# a copy of tests/fuzz/corpus; inputs that crash are kept in
# BUILD_DIR/fuzz-artifacts/. Exits 0 when nothing crashed, non-zero (the
# fuzzer's status) when something did.
set -eu

usage="usage: $0 BUILD_DIR SECONDS [load|labels|onnx|element]"
build=${1:?$usage}
seconds=${2:?$usage}
target=${3:-load}
here=$(cd "$(dirname "$0")" && pwd)
fuzzer=$build/tests/fuzz/fuzz-$target
seeds=$here/corpus
dict="-dict=$here/safetensors.dict"
if [ "$target" != load ]; then
  seeds=$here/corpus-$target
  dict=""
  [ ! -f "$here/$target.dict" ] || dict="-dict=$here/$target.dict"
fi

if [ ! -x "$fuzzer" ]; then
  echo "$fuzzer not found; configure $build with CC=clang and build it" >&2
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/lstm-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
mkdir "$work/corpus"
cp "$seeds"/* "$work/corpus/"
artifacts=$build/fuzz-artifacts
mkdir -p "$artifacts"

# A g_critical aborts (see LLVMFuzzerInitialize); leaks count as crashes.
status=0
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
OPENBLAS_NUM_THREADS=1 \
"$fuzzer" \
  -max_total_time="$seconds" \
  -rss_limit_mb=2048 \
  -max_len=65536 \
  -timeout=20 \
  $dict \
  -artifact_prefix="$artifacts/" \
  -print_final_stats=1 \
  "$work/corpus" || status=$?

if [ "$status" -ne 0 ]; then
  echo "fuzz-$target failed (status $status); inputs in $artifacts:" >&2
  ls -l "$artifacts" >&2
  exit "$status"
fi
echo "fuzz-$target: no crash in $seconds s"
