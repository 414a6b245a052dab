#!/bin/bash
# The test command: installs what a fresh Debian 12 machine lacks, builds,
# and runs every test:
#   1. the GLib/TAP tests in build/ (gcc, debugoptimized);
#   2. the same tests built by clang with AddressSanitizer and UBSan in
#      build-asan/ (every broken-model case, bounds, leaks);
#   3. the libFuzzer targets on their committed corpora: the model loader
#      for LSTM_FUZZ_SECONDS seconds (default 60), label-track parsing and
#      the ONNX importer for a third of that each, the lstm element fed
#      operations for half of it.
# (The reliability suite, tests/reliability/, runs in 1 and 2: a shortened
# soak, the SIGKILL loop, save faults, load and concurrency.)
# Ends with one line "tests: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
# (python3-torch: the round-trip tests load lstmtrain's models into PyTorch)
scripts/setup.sh clang libclang-rt-14-dev python3-gi python3-gst-1.0 \
  gir1.2-gst-plugins-base-1.0 espeak-ng sox python3-numpy python3-torch

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0

run_suite () {
  # meson test prints "N/M name OK 0.1s 15 subtests passed" per program
  if ! meson test -C "$@" --print-errorlogs --num-processes 2 | tee -a "$log"
  then
    status=1
  fi
}

echo "== tests (gcc)"
run_suite build

echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer (clang)"
if [ ! -f build-asan/build.ninja ]; then
  CC=clang meson setup build-asan -Db_sanitize=address,undefined \
    -Db_lundef=false -Dbuildtype=debugoptimized
fi
ninja -C build-asan
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# (not the pipelines suite: gst-launch-1.0 itself is not instrumented and
# cannot load an instrumented plugin)
run_suite build-asan --no-suite pipelines

# the model loader for LSTM_FUZZ_SECONDS, label-track parsing and ONNX
# import a third of it each
fuzz () {
  echo "== fuzzing: $1 for $2 s"
  if tests/fuzz/run-fuzz.sh build-asan "$2" "$1"; then
    echo "1/1 fuzz-$1 OK 1 subtests passed" >> "$log"
  else
    echo "1/1 fuzz-$1 FAIL" >> "$log"
    status=1
  fi
}
if [ -x build-asan/tests/fuzz/fuzz-load ]; then
  fuzz load "${LSTM_FUZZ_SECONDS:-60}"
  fuzz labels "$(( (${LSTM_FUZZ_SECONDS:-60} + 2) / 3 ))"
  fuzz onnx "$(( (${LSTM_FUZZ_SECONDS:-60} + 2) / 3 ))"
  if [ -x build-asan/tests/fuzz/fuzz-element ]; then
    fuzz element "$(( (${LSTM_FUZZ_SECONDS:-60} + 1) / 2 ))"
  fi
fi

passed=$(awk '/^ *[0-9]+\/[0-9]+ .* OK / { k = 1; for (i = 1; i < NF; i++)
  if ($(i + 1) == "subtests") k = $i; n += k } END { print n + 0 }' "$log")
# (--print-errorlogs repeats a failing line; count each once)
failed=$({ grep -E '^ *[0-9]+/[0-9]+ .* (FAIL|ERROR|TIMEOUT)' "$log" || true; } |
  sort -u | wc -l)
echo "tests: $passed passed, $failed failed"
exit $status
