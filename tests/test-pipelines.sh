#!/bin/bash
# Runs what users copy: the example launch lines of the lstm element's doc
# block (taken from plugin/gstlstm.c as written there), the sensor example
# and the python3-gi application example. TAP output.
#   tests/test-pipelines.sh SOURCE_DIR BUILD_DIR
set -u
src=$1
build=$2
export GST_PLUGIN_PATH="$build/plugin"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=0
failed=0

check () {     # check NAME COMMAND_STATUS CONDITION_STATUS
  n=$((n + 1))
  if [ "$2" -eq 0 ] && [ "$3" -eq 0 ]; then
    echo "ok $n - $1"
  else
    echo "not ok $n - $1 (exit $2)"
    failed=$((failed + 1))
  fi
}

# The doc lines use model.safetensors (5 inputs) and sensors.wav.
cp "$src/tests/reference/data/i5_h17_l1.safetensors" "$work/model.safetensors"
gst-launch-1.0 -q audiotestsrc num-buffers=10 samplesperbuffer=10 \
    ! audio/x-raw,format=F32LE,channels=5,rate=100 ! wavenc \
    ! filesink location="$work/sensors.wav"

mapfile -t lines < <(sed -n 's/^ \* \(gst-launch-1.0 .*\)$/\1/p' \
  "$src/plugin/gstlstm.c")
echo "1..$((${#lines[@]} + 4))"
[ "${#lines[@]}" -ge 2 ] || { echo "Bail out! no launch lines found"; exit 1; }

for line in "${lines[@]}"; do
  out=$(cd "$work" && timeout 60 bash -c "$line" 2>"$work/err")
  status=$?
  count=$(printf '%s' "$out" | grep -c .)
  # every output line is "<label> <confidence>"
  bad=0
  [ -z "$out" ] ||
    bad=$(printf '%s\n' "$out" | grep -vcE '^[^ ]+ [0-9]+\.[0-9]{4}$')
  case "$line" in
    *output-mode=last*) want=1 ;;        # one line for the whole clip
    *l.src_*) want=0 ;;                  # streams into WAV files
    *) want=100 ;;                       # one per frame: 10 x 10 frames
  esac
  # a stream's WAV: 100 frames of the model's 17 outputs as F32 after its
  # header
  wavs_ok=0
  for wav in $(printf '%s' "$line" | grep -o 'location=out[0-9]*\.wav' |
      sed 's/location=//'); do
    size=$(stat -c %s "$work/$wav" 2>/dev/null || echo 0)
    [ "$size" -ge $((100 * 17 * 4)) ] && [ "$size" -lt $((100 * 17 * 4 + 200)) ] ||
      wavs_ok=1
  done
  [ "$count" -eq "$want" ] && [ "$bad" -eq 0 ] && [ $wavs_ok -eq 0 ]
  check "doc line ($count lines, want $want): $line" $status $?
  [ $status -eq 0 ] || sed 's/^/# /' "$work/err"
done

out=$(timeout 60 "$src/pipelines/sensor/run.sh" 2>"$work/err")
status=$?
printf '%s\n' "$out" | head -n 2 | sed 's/^/# /'
[ "$(printf '%s\n' "$out" | grep -c '^{"label":')" -eq 20 ]
check "pipelines/sensor/run.sh prints 20 JSON predictions" $status $?

out=$(timeout 60 /usr/bin/python3 "$src/pipelines/app/app.py" 2>"$work/err")
status=$?
printf '%s\n' "$out" | sed 's/^/# /'
printf '%s\n' "$out" | grep -q "outputs identical"
check "pipelines/app/app.py restores the state exactly" $status $?
[ $status -eq 0 ] || sed 's/^/# /' "$work/err"

# lstmtrain under gst-launch-1.0 (which waits for pending progress messages
# before PLAYING): it must finish, and lstm must run what it wrote.
out=$(cd "$work" && timeout 120 gst-launch-1.0 -q audiotestsrc num-buffers=20 \
    samplesperbuffer=50 ! audio/x-raw,format=F32LE,channels=4,rate=100 ! \
    lstmtrain task=forecast epochs=3 model=trained.safetensors ! fakesink \
    2>"$work/err" && timeout 60 gst-launch-1.0 -q audiotestsrc num-buffers=2 \
    samplesperbuffer=10 ! audio/x-raw,format=F32LE,channels=4,rate=100 ! \
    lstm model=trained.safetensors ! text/x-raw ! fdsink fd=1 2>>"$work/err")
status=$?
[ "$(printf '%s\n' "$out" | grep -c .)" -eq 20 ]
check "gst-launch-1.0 ... lstmtrain task=forecast finishes; lstm runs its model" $status $?
[ $status -eq 0 ] || sed 's/^/# /' "$work/err"

# The keyword-spotting demo end to end on its tiny setting (18 espeak-ng
# voices; data, training, evaluation, streaming): the held-out voices'
# accuracy must be at least 0.25, three times chance (12 classes; this
# machine gives 0.56), and the stream demo must print its detections.
out=$(KWS_DIR="$work/kws" timeout 240 "$src/pipelines/kws/run.sh" tiny \
  2>"$work/err")
status=$?
printf '%s\n' "$out" | grep -E '^(lstm|stream)' | sed 's/^/# /'
acc=$(printf '%s\n' "$out" | sed -n 's/^lstm, test voices: accuracy \([0-9.]*\).*/\1/p')
awk -v a="${acc:-0}" 'BEGIN { exit !(a >= 0.25) }' &&
  printf '%s\n' "$out" | grep -qE '^[a-z]+ at [0-9]+\.[0-9]{2} s \(p=[01]\.[0-9]{2}\)$' &&
  printf '%s\n' "$out" | grep -q '^stream: [0-9]* of [0-9]* keywords detected'
check "pipelines/kws/run.sh tiny: held-out accuracy ${acc:-none} >= 0.25, detections printed" $status $?
[ $status -eq 0 ] || sed 's/^/# /' "$work/err"

exit $((failed > 0))
