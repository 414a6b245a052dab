#!/bin/sh
# Keyword spotting from nothing: espeak-ng data, training in one
# gst-launch-1.0 line, held-out-voice accuracy, a streaming demo.
#
#   pipelines/kws/run.sh [tiny|small|full]      (default: $KWS_SETTING or small)
#
# KWS_DIR: where the data and the model go (default build/kws/<setting>;
# the data is made once per setting and reused). KWS_TORCH=1 also trains the
# same network with PyTorch on the same features and prints its accuracy.
# KWS_MIC=1 ends with the live demo on the microphone (autoaudiosrc).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
here=$top/pipelines/kws
export GST_PLUGIN_PATH="$top/build/plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
setting=${1:-${KWS_SETTING:-small}}
dir=${KWS_DIR:-$top/build/kws/$setting}

# training settings per data setting: LSTM units, most epochs, early stop
# after this many epochs without a better validation loss (0: never)
case $setting in
  tiny) hidden=64; epochs=60; patience=0 ;;
  small) hidden=128; epochs=30; patience=8 ;;
  full) hidden=128; epochs=40; patience=8 ;;
  *) echo "run.sh: unknown setting '$setting' (tiny, small, full)" >&2; exit 2 ;;
esac
lr=0.005; clip=5; mel=40

echo "== data ($setting): espeak-ng voices, split by voice -> $dir"
/usr/bin/python3 "$here/gen_data.py" "$dir" "$setting"
cd "$dir"

echo "== training: $hidden LSTM units, up to $epochs epochs"
# one line per epoch from lstmtrain's element messages (accuracies per frame,
# val = 10 % of the training cues)
gst-launch-1.0 -m lstmtrain name=t model=kws.safetensors \
    labels="$(cat labels.txt)" hidden-size=$hidden epochs=$epochs \
    patience=$patience learning-rate=$lr clip-grad-norm=$clip seed=1 \
    ! fakesink \
  filesrc location=train.wav ! wavparse ! lstmfeatures num-mel-bins=$mel \
    ! t.sink \
  filesrc location=train.srt ! subparse ! t.target > train.log 2>&1 ||
  { cat train.log >&2; exit 1; }
sed -n 's/.*lstmtrain, epoch=(uint)\([0-9]*\), train-loss=(double)\([0-9.]*\), train-accuracy=(double)\([0-9.]*\), val-loss=(double)\([0-9.]*\), val-accuracy=(double)\([0-9.]*\), frames-per-second=(double)\([0-9]*\).*/\1 \2 \3 \4 \5 \6/p' \
  train.log | awk '{ printf "epoch %2d: train loss %.3f acc %.3f, val loss %.3f acc %.3f (%d frames/s)\n", $1, $2, $3, $4, $5, $6 }'

echo "== held-out voices: lstmfeatures ! lstm output-mode=last per utterance"
/usr/bin/python3 "$here/evaluate.py" kws.safetensors test "lstm, test voices"

if [ "${KWS_TORCH:-0}" = 1 ]; then
  echo "== PyTorch: the same network on the same features"
  /usr/bin/python3 "$here/train_torch.py" . --hidden-size $hidden \
    --epochs $epochs --patience $patience --lr $lr --clip-grad-norm $clip \
    --mel-bins $mel | grep -v '^torch epoch'
fi

echo "== streaming: $(sed -n 's/^# //p' stream.txt)"
sed '/^#/d; s/^/   said: /' stream.txt
/usr/bin/python3 "$here/stream.py" kws.safetensors stream.wav \
  --truth stream.txt --labels labels.txt --mel-bins $mel

if [ "${KWS_MIC:-0}" = 1 ]; then
  echo "== live: say a keyword (Ctrl-C ends)"
  /usr/bin/python3 "$here/stream.py" kws.safetensors --mic \
    --labels labels.txt --mel-bins $mel
fi
