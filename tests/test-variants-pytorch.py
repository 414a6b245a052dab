#!/usr/bin/python3
"""Models with the variants PyTorch has (GRU, projection, bidirectional),
written by lstmtrain, load into nn.GRU / nn.LSTM + nn.Linear and give the
outputs the lstm element gives (max relative error <= 1e-5: both float32,
different summation orders). Without Debian's python3-torch it prints
TAP's "1..0 # SKIP" and exits 0, which meson counts as skipped. Run by
meson: test-variants-pytorch.py BUILD_DIR.
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import numpy as np
    import torch
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst
    from importlib import import_module
    roundtrip = import_module("test-pytorch-roundtrip")
except ImportError as e:
    print("1..0 # SKIP %s" % e)
    sys.exit(0)

# lstmtrain properties, the PyTorch module of the same shape
CASES = [
    ("cell=gru", lambda: torch.nn.GRU(4, 8, num_layers=2), 8),
    ("proj-size=3", lambda: torch.nn.LSTM(4, 8, num_layers=2, proj_size=3), 3),
    ("bidirectional=true",
     lambda: torch.nn.LSTM(4, 8, num_layers=2, bidirectional=True), 16),
]


def main():
    build = sys.argv[1]
    os.environ["GST_PLUGIN_PATH"] = os.path.join(build, "plugin")
    Gst.init(None)
    print("1..%d" % len(CASES))
    failed = 0
    for n, (props, make, width) in enumerate(CASES, 1):
        with tempfile.TemporaryDirectory() as tmp:
            tensors, meta = roundtrip.read_safetensors(
                roundtrip.train(tmp, [props]))
            rnn = make()
            head = torch.nn.Linear(width, 4)
            rnn.load_state_dict({k[5:]: v for k, v in tensors.items()
                                 if k.startswith("lstm.")}, strict=True)
            head.load_state_dict({k[5:]: v for k, v in tensors.items()
                                  if k.startswith("head.")}, strict=True)
            torch.manual_seed(n)
            x = torch.randn(50, 4)
            with torch.no_grad():
                xn = (x - tensors["input_mean"]) / tensors["input_std"]
                out, _ = rnn(xn.unsqueeze(1))
                want = head(out.squeeze(1)).numpy()
            got = roundtrip.run_lstm(os.path.join(tmp, "m.safetensors"), x)
            err = float(np.abs(got - want).max() / np.abs(want).max())
            variant = {k: v for k, v in meta.items() if k in
                       ("cell", "bidirectional", "coupled-gates", "cell-clip")}
            print("# %s (variant metadata %s): max relative error %.3g "
                  "(tolerance 1e-5)" % (props, variant, err))
            ok = err <= 1e-5
            failed += not ok
            print("%sok %d - %s: PyTorch loads lstmtrain's model and agrees "
                  "with lstm" % ("" if ok else "not ", n, props))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
