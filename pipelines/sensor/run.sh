#!/bin/sh
# A multichannel sensor recording through an LSTM, predictions on stdout.
#
#   pipelines/sensor/run.sh [MODEL.safetensors [RECORDING.wav]]
#
# A frame stream is an ordinary audio stream whose channels are the sensors
# and whose rate is the sample rate of the sensors, so a WAV of recorded
# sensor channels plays straight into lstm. Without a recording, a 2-second,
# 3-sensor one at 100 Hz is made with audiotestsrc. The default model is a
# 3-input regression network PyTorch made for the tests (untrained weights:
# it shows the pipeline, not a real predictor). One JSON line per 10 frames.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
export GST_PLUGIN_PATH="$top/build/plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"

model=${1:-$top/tests/reference/data/i3_h64_l3.safetensors}
wav=${2:-}
if [ -z "$wav" ]; then
  wav=$(mktemp --suffix=.wav)
  trap 'rm -f "$wav"' EXIT
  gst-launch-1.0 -q audiotestsrc num-buffers=20 samplesperbuffer=10 \
      wave=sine freq=1 ! audio/x-raw,format=F32LE,channels=3,rate=100 ! \
    wavenc ! filesink location="$wav"
fi

gst-launch-1.0 -q filesrc location="$wav" ! wavparse ! \
  lstm model="$model" output-mode=stride stride=10 text-format=json ! \
  text/x-raw ! fdsink fd=1
