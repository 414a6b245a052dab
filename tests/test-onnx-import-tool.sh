#!/bin/bash
# lstm-onnx-import as a user runs it: the model it writes runs in lstm as
# the .onnx itself does (the same bytes out), and its output path is
# treated as lstmtrain's: written through a symbolic link to a regular
# file, refused (status 1, left as it was) when it is a folder, a pipe, a
# device, a link to nothing or the input file. TAP output.
#   tests/test-onnx-import-tool.sh SOURCE_DIR BUILD_DIR
set -u
src=$1
build=$2
tool="$build/tools/lstm-onnx-import"
onnx="$src/tests/reference/onnx/gru_l2.onnx"     # 4 inputs, head of 3
export GST_PLUGIN_PATH="$build/plugin"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
n=0
failed=0

check () {     # check NAME STATUS (0: passed)
  n=$((n + 1))
  if [ "$2" -eq 0 ]; then
    echo "ok $n - $1"
  else
    echo "not ok $n - $1"
    failed=$((failed + 1))
  fi
}

# refused: status 1, a message naming the kind, the path left as it was
refused () {   # refused NAME PATH WORDS TEST-AFTER...
  local name=$1 path=$2 words=$3
  shift 3
  local status said
  "$tool" "$onnx" "$path" > out 2> err
  status=$?
  said=$(head -c 120 err)
  [ $status -eq 1 ] && grep -q "$words" err && "$@"
  check "$name refused ($said)" $?
}

echo "1..8"

# converted, and the file runs in lstm as the .onnx does
run () {       # run MODEL OUT
  gst-launch-1.0 -q audiotestsrc num-buffers=5 samplesperbuffer=10 \
    ! audio/x-raw,format=F32LE,channels=4,rate=100 \
    ! lstm model="$1" ! filesink location="$2" 2> /dev/null
}
"$tool" "$onnx" m.safetensors > out 2> err && grep -q "4 input(s)" out \
  && run m.safetensors a.raw && run "$onnx" b.raw && [ -s a.raw ] \
  && cmp -s a.raw b.raw
check "converted; lstm gives the .onnx's outputs bit for bit" $?

# through a symbolic link to a regular file: the link stays
echo old > target.safetensors
ln -s target.safetensors link.safetensors
"$tool" "$onnx" link.safetensors > /dev/null 2>&1 && [ -L link.safetensors ] \
  && cmp -s target.safetensors m.safetensors
check "saved through a symbolic link, which stays one" $?

mkdir folder
refused "a folder" folder "folder" test -d folder
mkfifo pipe
refused "a pipe" pipe "pipe" test -p pipe
ln -s nowhere dangling
refused "a link to nothing" dangling "link" test -L dangling
cp "$onnx" in.onnx
onnx=in.onnx refused "the input file" in.onnx "input file" \
  cmp -s in.onnx "$src/tests/reference/onnx/gru_l2.onnx"
if mknod dev c 1 3 2> /dev/null; then
  refused "a device (a null device of our own)" dev "device" test -c dev
else
  echo "ok $((n = n + 1)) # SKIP mknod needs root"
fi
# a refused conversion leaves an existing file whole
echo keep > kept.safetensors
"$tool" "$src/tests/reference/onnx/bad-op-relu.onnx" kept.safetensors \
  > /dev/null 2>&1
[ $? -eq 1 ] && [ "$(cat kept.safetensors)" = keep ]
check "a refused model leaves the existing file" $?

exit $((failed > 0))
