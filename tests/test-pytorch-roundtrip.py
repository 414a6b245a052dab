#!/usr/bin/python3
"""A model written by lstmtrain, loaded into PyTorch's nn.LSTM + nn.Linear,
gives the outputs the lstm element gives (max relative error <= 1e-5: both
float32, different summation orders). Without Debian's python3-torch it
prints TAP's "1..0 # SKIP" and exits 0, which meson counts as skipped. Run
by meson: test-pytorch-roundtrip.py BUILD_DIR.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst
except ImportError as e:
    print("1..0 # SKIP %s" % e)
    sys.exit(0)


def read_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    out = {}
    for name, t in header.items():
        assert t["dtype"] == "F32", t
        b, e = t["data_offsets"]
        out[name] = torch.from_numpy(
            np.frombuffer(data[b:e], dtype="<f4").reshape(t["shape"]).copy())
    return out, meta


def train(tmp, props=()):
    """lstmtrain on a sine (task=forecast, 2 epochs, 2 layers of 8) with
    extra properties; returns the model's path."""
    model = os.path.join(tmp, "m.safetensors")
    subprocess.run(
        ["gst-launch-1.0", "-q", "audiotestsrc", "num-buffers=20",
         "samplesperbuffer=50", "wave=sine", "!",
         "audio/x-raw,format=F32LE,channels=4,rate=100", "!",
         "lstmtrain", "task=forecast", "epochs=2", "hidden-size=8",
         "num-layers=2"] + list(props) + ["model=" + model, "!", "fakesink"],
        check=True)
    return model


def run_lstm(model, x):
    """x [T, 4] through the lstm element (one buffer, then EOS: a
    bidirectional model answers at the end); its [T, 4] outputs."""
    p = Gst.parse_launch(
        "appsrc name=src format=time caps=audio/x-raw,format=F32LE,"
        "layout=interleaved,channels=4,rate=100 ! lstm model=\"%s\" ! "
        "appsink name=out sync=false" % model)
    p.set_state(Gst.State.PLAYING)
    buf = Gst.Buffer.new_wrapped(x.numpy().astype("<f4").tobytes())
    buf.pts = 0
    src = p.get_by_name("src")
    src.emit("push-buffer", buf)
    src.emit("end-of-stream")
    sample = p.get_by_name("out").emit("pull-sample")
    b = sample.get_buffer()
    got = np.frombuffer(b.extract_dup(0, b.get_size()), dtype="<f4")
    p.set_state(Gst.State.NULL)
    return got.reshape(x.shape[0], 4)


def main():
    build = sys.argv[1]
    os.environ["GST_PLUGIN_PATH"] = os.path.join(build, "plugin")
    Gst.init(None)
    print("1..1")
    with tempfile.TemporaryDirectory() as tmp:
        model = train(tmp)
        tensors, meta = read_safetensors(model)

        lstm = torch.nn.LSTM(4, 8, num_layers=2)
        head = torch.nn.Linear(8, 4)
        lstm.load_state_dict({k[5:]: v for k, v in tensors.items()
                              if k.startswith("lstm.")})
        head.load_state_dict({k[5:]: v for k, v in tensors.items()
                              if k.startswith("head.")})
        torch.manual_seed(0)
        x = torch.randn(50, 4)
        with torch.no_grad():
            xn = (x - tensors["input_mean"]) / tensors["input_std"]
            out, _ = lstm(xn.unsqueeze(1))
            want = head(out.squeeze(1))      # output: identity (forecast)
        assert meta.get("output") == "identity", meta

        got = run_lstm(model, x)
        err = float(np.abs(got - want.numpy()).max() /
                    np.abs(want.numpy()).max())
        print("# lstmtrain's model in PyTorch vs lstm: max relative error "
              "%.3g (tolerance 1e-5)" % err)
        if err <= 1e-5:
            print("ok 1 - PyTorch loads lstmtrain's model and agrees with lstm")
            return 0
        print("not ok 1 - PyTorch and lstm disagree")
        return 1


if __name__ == "__main__":
    sys.exit(main())
