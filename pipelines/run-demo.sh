#!/bin/sh
# The main job (until the keyword-spotting demo lands): set up, build, then
# stream PyTorch-made models and their reference inputs through the core
# library, show the plugin, and run the lstm element in a pipeline.
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh

ref=tests/reference/data
echo "== 2-layer LSTM + 12-way softmax head, fed 10 frames per call"
build/pipelines/lstm-demo --chunk 10 "$ref/i40_h128_l2_softmax12.safetensors" \
  "$ref/i40_h128_l2_softmax12.data.safetensors"
echo "== 2-layer LSTM, hidden 512, F16 model file, fed one frame per call"
build/pipelines/lstm-demo --chunk 1 "$ref/i80_h512_l2_f16.safetensors" \
  "$ref/i80_h512_l2_f16.data.safetensors"
echo "== the plugin"
GST_PLUGIN_PATH="$PWD/build" gst-inspect-1.0 lstm | head -n 9
echo "== the lstm element: a 3-sensor recording through a pipeline (first lines)"
pipelines/sensor/run.sh | head -n 5
