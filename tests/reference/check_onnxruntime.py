#!/usr/bin/python3
"""Optional: run the first LSTM/GRU node of the hand-built ONNX cases in
onnxruntime and compare with generate_onnx.py's `onnx_rnn` (clip on the
gate inputs only) and with the variant that also clips c_t before the tanh
of h_t. Not part of the test suite (onnxruntime is no dependency); it backs
README's cell-clip decision.

    npm install --prefix /tmp/ort --ignore-scripts onnxruntime-node
    /usr/bin/python3 tests/reference/check_onnxruntime.py /tmp/ort/node_modules

Prints, per case, the largest difference between onnxruntime's Y and each
reference; fails if onnxruntime is not within 1e-6 of `onnx_rnn` (float32
against float64 over 12 steps).
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from generate import read_safetensors  # noqa: E402
from generate_onnx import OUT, onnx_rnn  # noqa: E402

CASES = ["lstm_peephole_mixed", "lstm_cifg_clip", "bigru_clip",
         "bilstm_peephole_clip"]
TOL = 1e-6

RUN_JS = """
const ort = require('onnxruntime-node');
const fs = require('fs');
(async () => {
  const [model, inp, out] = process.argv.slice(2);
  const d = JSON.parse(fs.readFileSync(inp));
  const s = await ort.InferenceSession.create(model);
  const r = await s.run({x: new ort.Tensor('float32', Float32Array.from(d.x),
                                          d.dims)});
  fs.writeFileSync(out, JSON.stringify(Array.from(r.Y.data)));
})();
"""


def first_rnn(case):
    """The first RNN node alone as a model: x [T, 1, I] -> Y [T, D, 1, H]."""
    m = onnx.load(os.path.join(OUT, case + ".onnx"))
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    node = [n for n in m.graph.node if n.op_type in ("LSTM", "GRU")][0]
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    ins = ["x"] + [v if v in inits else "" for v in node.input[1:]]
    while ins[-1] == "":
        ins.pop()
    arrays = {v: inits[v].astype(np.float32) for v in ins[1:] if v}
    data = read_safetensors(open(os.path.join(OUT, case + ".data.safetensors"),
                                 "rb").read())[1]
    x = np.asarray(data["input"][1], np.float32)
    W = arrays[ins[1]]
    D, H = W.shape[0], W.shape[1] // (3 if node.op_type == "GRU" else 4)
    graph = helper.make_graph(
        [helper.make_node(node.op_type, ins, ["Y"], **attrs)], case,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                       [len(x), 1, x.shape[1]])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT,
                                       [len(x), D, 1, H])],
        [numpy_helper.from_array(a, v) for v, a in arrays.items()])
    model = helper.make_model(graph,
                              opset_imports=[helper.make_opsetid("", 14)])
    onnx.checker.check_model(model)
    f64 = {v: a.astype(np.float64) for v, a in arrays.items()}

    def ref(clip_c):
        get = (lambda k: f64[ins[k]] if len(ins) > k and ins[k] else None)
        return onnx_rnn(x.astype(np.float64), get(1), get(2), get(3), get(7),
                        gru=node.op_type == "GRU",
                        clip=attrs.get("clip", 0.0),
                        input_forget=bool(attrs.get("input_forget", 0)),
                        clip_c=clip_c)
    return model, x, D, H, ref


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    env = dict(os.environ, NODE_PATH=os.path.abspath(sys.argv[1]))
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        js = os.path.join(tmp, "run.js")
        with open(js, "w") as f:
            f.write(RUN_JS)
        for case in CASES:
            model, x, D, H, ref = first_rnn(case)
            paths = [os.path.join(tmp, n)
                     for n in ("m.onnx", "x.json", "y.json")]
            onnx.save(model, paths[0])
            with open(paths[1], "w") as f:
                json.dump({"x": x.ravel().tolist(),
                           "dims": [len(x), 1, x.shape[1]]}, f)
            subprocess.check_call(["node", js] + paths, env=env)
            y = np.array(json.load(open(paths[2]))).reshape(len(x), D * H)
            gates, with_c = (np.abs(ref(c) - y).max() for c in (False, True))
            worst = max(worst, gates)
            print("%-22s onnxruntime vs gate-only clip %.2g, vs clip of c_t "
                  "too %.2g" % (case, gates, with_c))
    if worst > TOL:
        sys.exit("onnxruntime differs from onnx_rnn by %g" % worst)


if __name__ == "__main__":
    main()
