#!/bin/sh
# Keyword spotting from nothing: espeak-ng data, training with
# gst-launch-1.0 (filesrc ! wavparse ! lstmfeatures ! lstmtrain, labels from
# filesrc ! subparse), held-out-voice accuracy, a streaming demo.
#
#   pipelines/kws/run.sh [tiny|small|full]      (default: $KWS_SETTING or small)
#
# KWS_DIR: where the data and the model go (default build/kws/<setting>;
# the data is made once per setting and reused). KWS_TORCH=1 also trains the
# same network with PyTorch on the same features and prints its accuracy.
# KWS_MIC=1 ends with the live demo on the microphone (autoaudiosrc).
# KWS_CMN_WINDOW, KWS_LAYERS, KWS_DROPOUT, KWS_HIDDEN, KWS_LOSS (frame or
# last) override the setting's lstmfeatures cmn-window, network and loss;
# KWS_MIX (the share of the training words spoken in voices mixed from two
# training voices), KWS_MIX_FORMANT and KWS_MIX_PITCH (their factor ranges)
# and KWS_MORE (more training words) change gen_data.py's data (for
# experiments; give each its own KWS_DIR).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
here=$top/pipelines/kws
export GST_PLUGIN_PATH="$top/build/plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
setting=${1:-${KWS_SETTING:-small}}
dir=${KWS_DIR:-$top/build/kws/$setting}

# training settings per data setting: LSTM units, most epochs, most epochs
# of the second run, and early stopping after this many epochs without a
# better validation loss (0: never); LSTM layers and the dropout between
# them; the loss: cross-entropy on every frame or on each cue's last frame
case $setting in
  tiny) hidden=64; epochs=60; finetune=5; patience=0; layers=1; drop=0
    loss=frame ;;
  small) hidden=128; epochs=30; finetune=8; patience=6; layers=1; drop=0
    loss=frame ;;
  full) hidden=128; epochs=40; finetune=10; patience=6; layers=2; drop=0.2
    loss=frame ;;
  *) echo "run.sh: unknown setting '$setting' (tiny, small, full)" >&2; exit 2 ;;
esac
hidden=${KWS_HIDDEN:-$hidden}; layers=${KWS_LAYERS:-$layers}
drop=${KWS_DROPOUT:-$drop}; loss=${KWS_LOSS:-$loss}
case $loss in
  frame) loss_prop=cross-entropy ;;
  last) loss_prop=cross-entropy-last ;;
  *) echo "run.sh: unknown loss '$loss' (frame, last)" >&2; exit 2 ;;
esac
# sliding-window CMN over 99 frames before each (lstmfeatures cmn-window):
# a 1 s cue is 100 frames, so its last frame's window in the training
# stream is exactly the cue, the window every frame of a cue gets when it
# is evaluated alone
cmn=${KWS_CMN_WINDOW:-99}
lr=0.005; clip=5; mel=40

echo "== data ($setting): espeak-ng voices, split by voice -> $dir"
/usr/bin/python3 "$here/gen_data.py" "$dir" "$setting"
cd "$dir"

# lstmtrain has no learning-rate schedule: a second run from the first's
# model (init-model) at a tenth of the rate stands for one
train () {    # train STAGE LEARNING_RATE EPOCHS [PROPERTY=VALUE...]
  log=train-$1.log; rate=$2; n=$3; shift 3
  gst-launch-1.0 -m lstmtrain name=t labels="$(cat labels.txt)" \
      hidden-size=$hidden num-layers=$layers dropout=$drop loss=$loss_prop \
      patience=$patience clip-grad-norm=$clip seed=1 \
      learning-rate=$rate epochs=$n "$@" ! fakesink \
    filesrc location=train.wav ! wavparse \
      ! lstmfeatures num-mel-bins=$mel cmn-window=$cmn ! t.sink \
    filesrc location=train.srt ! subparse ! t.target > "$log" 2>&1 ||
    { cat "$log" >&2; exit 1; }
  # one line per epoch from lstmtrain's element messages (accuracies per
  # frame; val = 10 % of the training cues)
  sed -n 's/.*lstmtrain, epoch=(uint)\([0-9]*\), train-loss=(double)\([0-9.]*\), train-accuracy=(double)\([0-9.]*\), val-loss=(double)\([0-9.]*\), val-accuracy=(double)\([0-9.]*\), frames-per-second=(double)\([0-9]*\).*/\1 \2 \3 \4 \5 \6/p' \
    "$log" | awk '{ printf "epoch %2d: train loss %.3f acc %.3f, val loss %.3f acc %.3f (%d frames/s)\n", $1, $2, $3, $4, $5, $6 }'
}
echo "== training: $layers x $hidden LSTM units (dropout $drop), cmn-window $cmn, loss on $loss frames, up to $epochs epochs at learning rate $lr"
train 1 $lr $epochs model=kws-stage1.safetensors
echo "== training on: up to $finetune epochs at learning rate $lr / 10"
train 2 "$(awk -v r=$lr 'BEGIN { print r / 10 }')" $finetune \
  init-model=kws-stage1.safetensors model=kws.safetensors

echo "== held-out voices: lstmfeatures ! lstm output-mode=last per utterance"
/usr/bin/python3 "$here/evaluate.py" kws.safetensors val "lstm, val voices" \
  --mel-bins $mel --cmn-window $cmn --brief
/usr/bin/python3 "$here/evaluate.py" kws.safetensors test "lstm, test voices" \
  --mel-bins $mel --cmn-window $cmn --per-voice

if [ "${KWS_TORCH:-0}" = 1 ]; then
  echo "== PyTorch: the same network on the same features"
  /usr/bin/python3 "$here/train_torch.py" . --hidden-size $hidden \
    --epochs $epochs --finetune-epochs $finetune --patience $patience \
    --lr $lr --clip-grad-norm $clip --mel-bins $mel --cmn-window $cmn \
    --num-layers $layers --dropout $drop --loss $loss | grep -v '^torch .*epoch'
fi

echo "== streaming: $(sed -n 's/^# //p' stream.txt)"
sed '/^#/d; s/^/   said: /' stream.txt
/usr/bin/python3 "$here/stream.py" kws.safetensors stream.wav \
  --truth stream.txt --labels labels.txt --mel-bins $mel --cmn-window $cmn

if [ "${KWS_MIC:-0}" = 1 ]; then
  echo "== live: say a keyword (Ctrl-C ends)"
  /usr/bin/python3 "$here/stream.py" kws.safetensors --mic \
    --labels labels.txt --mel-bins $mel --cmn-window $cmn
fi
