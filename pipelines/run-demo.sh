#!/bin/sh
# The main job: keyword spotting from nothing (pipelines/kws/run.sh). Sets
# up, builds, makes spoken-word data with espeak-ng (split by voice), trains
# in one gst-launch-1.0 line, prints the accuracy on voices never heard in
# training, and runs the streaming demo.
#   KWS_SETTING=full   the larger data set (default: small)
#   KWS_TORCH=1        also train the same network with PyTorch (installs
#                      Debian's python3-torch and python3-torchaudio)
#   KWS_MIC=1          end with the live demo on the microphone
set -eu
cd "$(dirname "$0")/.."
torch=""
[ "${KWS_TORCH:-0}" = 1 ] && torch="python3-torch python3-torchaudio"
# shellcheck disable=SC2086
scripts/setup.sh espeak-ng sox python3-numpy python3-gi python3-gst-1.0 \
  gir1.2-gst-plugins-base-1.0 $torch
exec pipelines/kws/run.sh "${KWS_SETTING:-small}"
