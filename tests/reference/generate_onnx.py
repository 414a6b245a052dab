#!/usr/bin/python3
"""ONNX import reference data for gst-lstm's tests (tests/test-onnx*.c).

Run with Debian's interpreter (python3-torch 1.13, python3-onnx 1.12):

    /usr/bin/python3 tests/reference/generate_onnx.py

Writes tests/reference/onnx/:
  <case>.onnx                 the ONNX file to import
  <case>.expected.safetensors what the importer must write: our tensor names,
                              shapes and values (F32), and the metadata
  <case>.data.safetensors     input [T, I] and the expected output [T, O]
  bad-<what>.onnx             files the importer must refuse (see BAD below)

Exported cases (torch.onnx.export, opset 14): the expected output is
PyTorch's, the expected tensors are the module's state_dict (the head renamed
`head.`). Hand-built cases (onnx.helper: peephole P, input_forget, clip,
FLOAT16/DOUBLE/float_data storage, Gemm): the expected output comes from
`onnx_rnn` below, a float64 numpy implementation of ONNX's LSTM/GRU
equations. That implementation is first checked against PyTorch on the
exported files (same weights read back from the .onnx), and every case's
expected tensors are run through `ours_rnn` (our file's equations) and must
give the same output: so the weight mapping is checked independently of
the C code.
"""

import os
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "onnx")
sys.path.insert(0, HERE)
from generate import read_safetensors, safetensors_bytes  # noqa: E402

T = 12
TOL = 1e-5      # numpy float64 vs PyTorch float32 (checked below)


def sig(x):
    return 1.0 / (1.0 + np.exp(-x))


# --------------------------------------------------------------------------
# ONNX's equations (onnx/docs/Operators.md, LSTM-14 and GRU-14), batch 1.
# clip ("applied to the input of activations"): as onnxruntime applies it,
# to the gate pre-activations (after bias and peephole) only; c_t enters the
# tanh of h_t = o * tanh(c_t) unclipped (onnxruntime's tanh_m ignores its
# clipped-C buffer; onnxruntime 1.30 reproduces bilstm_peephole_clip to 1e-7
# this way and differs by 1.4e-2 with tanh(clip(c_t)): README "Decisions").
# input_forget: f = 1 - i (onnxruntime), the f rows are not used.
# --------------------------------------------------------------------------

def onnx_rnn(x, W, R, B, P=None, gru=False, clip=0.0, input_forget=False,
             clip_c=False):
    """x [T, I]; W [D, G*H, I]; R [D, G*H, H]; B [D, 2*G*H] or None;
    P [D, 3H] or None. Returns Y as [T, D*H] (directions concatenated).
    clip_c: also clip c_t before the tanh of h_t (NOT onnxruntime's
    semantics; only to show that a case tells the two apart)."""
    D, GH, _ = W.shape
    G = 3 if gru else 4
    H = GH // G
    cl = (lambda v: np.clip(v, -clip, clip)) if clip > 0 else (lambda v: v)
    outs = []
    for d in range(D):
        Wb = B[d, :GH] if B is not None else np.zeros(GH)
        Rb = B[d, GH:] if B is not None else np.zeros(GH)
        p = P[d] if P is not None else np.zeros(3 * H)
        pi, po, pf = p[:H], p[H:2 * H], p[2 * H:]
        h = np.zeros(H)
        c = np.zeros(H)
        Y = np.zeros((len(x), H))
        steps = range(len(x)) if d == 0 else reversed(range(len(x)))
        for t in steps:
            a = W[d] @ x[t] + Wb
            r_ = R[d] @ h + Rb
            if gru:     # z, r, h; linear_before_reset = 1
                z = sig(cl(a[:H] + r_[:H]))
                r = sig(cl(a[H:2 * H] + r_[H:2 * H]))
                n = np.tanh(cl(a[2 * H:] + r * r_[2 * H:]))
                h = (1 - z) * n + z * h
            else:       # i, o, f, c
                g = a + r_
                i = sig(cl(g[:H] + pi * c))
                f = 1 - i if input_forget else sig(cl(g[2 * H:3 * H] + pf * c))
                c = f * c + i * np.tanh(cl(g[3 * H:]))
                o = sig(cl(g[H:2 * H] + po * c))
                h = o * np.tanh(cl(c) if clip_c else c)
            Y[t] = h
        outs.append(Y)
    return np.concatenate(outs, axis=1)


# --------------------------------------------------------------------------
# Our file's equations (README "Importing ONNX models" and the variants'
# names): PyTorch gate order i, f, g, o / r, z, n; peephole [3H] as i, f, o;
# coupled-gates: i = 1 - f; cell-clip: as ONNX's clip above.
# --------------------------------------------------------------------------

def ours_rnn(tensors, meta, x, L):
    gru = meta.get("cell") == "gru"
    clip = float(meta.get("cell-clip", "0"))
    coupled = meta.get("coupled-gates") == "true"
    pre = "gru." if gru else "lstm."
    cl = (lambda v: np.clip(v, -clip, clip)) if clip > 0 else (lambda v: v)
    y = x
    for k in range(L):
        outs = []
        for sfx in ["", "_reverse"]:
            name = "%sweight_ih_l%d%s" % (pre, k, sfx)
            if name not in tensors:
                continue
            Wi = tensors[name].astype(np.float64)
            Wh = tensors["%sweight_hh_l%d%s" % (pre, k, sfx)].astype(np.float64)
            bi = tensors["%sbias_ih_l%d%s" % (pre, k, sfx)].astype(np.float64)
            bh = tensors["%sbias_hh_l%d%s" % (pre, k, sfx)].astype(np.float64)
            H = Wh.shape[1]
            p = tensors.get("%sweight_peephole_l%d%s" % (pre, k, sfx))
            p = np.zeros(3 * H) if p is None else p.astype(np.float64)
            h = np.zeros(H)
            c = np.zeros(H)
            Y = np.zeros((len(y), H))
            steps = range(len(y)) if sfx == "" else reversed(range(len(y)))
            for t in steps:
                a = Wi @ y[t] + bi
                b = Wh @ h + bh
                if gru:
                    r = sig(cl(a[:H] + b[:H]))
                    z = sig(cl(a[H:2 * H] + b[H:2 * H]))
                    n = np.tanh(cl(a[2 * H:] + r * b[2 * H:]))
                    h = (1 - z) * n + z * h
                else:
                    g = a + b
                    f = sig(cl(g[H:2 * H] + p[H:2 * H] * c))
                    i = 1 - f if coupled else sig(cl(g[:H] + p[:H] * c))
                    c = f * c + i * np.tanh(cl(g[2 * H:3 * H]))
                    o = sig(cl(g[3 * H:] + p[2 * H:] * c))
                    h = o * np.tanh(c)
                Y[t] = h
            outs.append(Y)
        y = np.concatenate(outs, axis=1)
    return head(y, tensors.get("head.weight"), tensors.get("head.bias"),
                meta.get("output", "identity"))


def head(y, w, b, output):
    if w is None:
        return y
    z = y @ w.astype(np.float64).T + b.astype(np.float64)
    if output == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    if output == "sigmoid":
        return sig(z)
    return z


# --------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------

def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def save_case(case, model_proto, expected, meta, x, y, L):
    """Checks the expected tensors against the expected output through our
    equations, then writes the three files."""
    ours = ours_rnn(expected, meta, x.astype(np.float64), L)
    err = np.abs(ours - y).max()
    if err > TOL:
        sys.exit("%s: our equations on the expected tensors differ from the "
                 "expected output by %g" % (case, err))
    onnx.checker.check_model(model_proto)
    write(case + ".onnx", model_proto.SerializeToString())
    write(case + ".expected.safetensors", safetensors_bytes(
        [(k, torch.from_numpy(np.ascontiguousarray(v, np.float32)))
         for k, v in expected.items()], "F32", meta))
    write(case + ".data.safetensors", safetensors_bytes(
        [("input", torch.from_numpy(x.astype(np.float32))),
         ("output", torch.from_numpy(y.astype(np.float32)))], "F32"))
    print("%-22s T=%d in=%d out=%d  our-equations error %.2g" %
          (case, len(x), x.shape[1], y.shape[1], err))


def onnx_weights(model_proto, node_index):
    """W, R, B of the node_index-th LSTM/GRU node, read back from the file."""
    g = model_proto.graph
    inits = {i.name: numpy_helper.to_array(i).astype(np.float64)
             for i in g.initializer}
    nodes = [n for n in g.node if n.op_type in ("LSTM", "GRU")]
    n = nodes[node_index]
    return [inits.get(v) if v else None for v in n.input[1:4]]


# --------------------------------------------------------------------------
# exported by torch.onnx.export
# --------------------------------------------------------------------------

class Net(nn.Module):
    def __init__(self, rnn, fc, act, state_out=False):
        super().__init__()
        self.rnn = rnn
        self.fc = fc
        self.act = act
        self.state_out = state_out

    def forward(self, x):
        y, state = self.rnn(x)
        z = self.fc(y)
        if self.act == "softmax":
            z = torch.softmax(z, dim=-1)
        elif self.act == "sigmoid":
            z = torch.sigmoid(z)
        if self.state_out:      # a second graph output, h_n
            return z, state[0]
        return z


EXPORTED = [
    # case, seed, cell, I, H, L, bidirectional, O, output, options
    ("lstm_l2_softmax", 2001, "lstm", 5, 16, 2, False, 4, "softmax", {}),
    ("gru_l2", 2002, "gru", 4, 8, 2, False, 3, "identity", {}),
    ("bilstm_l2_sigmoid", 2003, "lstm", 3, 6, 2, True, 2, "sigmoid", {}),
    # batch_first (Transposes), no biases, a dynamic time axis (Slices of
    # zeros as initial states) and h_n as a second output
    ("lstm_batchfirst_nobias", 2004, "lstm", 3, 7, 2, False, 2, "sigmoid",
     dict(batch_first=True, bias=False, state_out=True)),
]


def exported_case(case, seed, cell, I, H, L, bi, O, output, opt):
    torch.manual_seed(seed)
    cls = nn.GRU if cell == "gru" else nn.LSTM
    bf = opt.get("batch_first", False)
    rnn = cls(I, H, L, bidirectional=bi, batch_first=bf,
              bias=opt.get("bias", True))
    fc = nn.Linear(H * (2 if bi else 1), O)
    with torch.no_grad():       # a head that spreads the outputs apart
        fc.weight.mul_(4.0)
    net = Net(rnn, fc, output, opt.get("state_out", False)).eval()
    x = torch.randn(1, T, I) if bf else torch.randn(T, 1, I)
    path = os.path.join(OUT, case + ".onnx")
    names = ["y", "h_n"] if opt.get("state_out") else ["y"]
    dyn = {"x": {1 if bf else 0: "T"}, "y": {1 if bf else 0: "T"}} \
        if bf else None
    torch.onnx.export(net, (x,), path, opset_version=14, input_names=["x"],
                      output_names=names, dynamic_axes=dyn)
    with torch.inference_mode():
        y = net(x)
        y = y[0] if opt.get("state_out") else y
        y = y.squeeze(0 if bf else 1).numpy().astype(np.float64)
    m = onnx.load(path)

    # ONNX's equations on the weights as stored in the file = PyTorch
    xs = x.squeeze(0 if bf else 1).numpy().astype(np.float64)
    h = xs
    for k in range(L):
        W, R, B = onnx_weights(m, k)
        h = onnx_rnn(h, W, R, B, gru=cell == "gru")
    sd = {k: v.numpy() for k, v in net.state_dict().items()}
    ref = head(h, sd["fc.weight"], sd["fc.bias"], output)
    err = np.abs(ref - y).max()
    if err > TOL:
        sys.exit("%s: onnx_rnn differs from PyTorch by %g" % (case, err))

    prefix = "gru." if cell == "gru" else "lstm."
    expected = {}
    for k, v in sd.items():
        if k.startswith("rnn."):
            expected[prefix + k[4:]] = v
        else:
            expected["head." + k[3:]] = v
    for k in range(L):          # biases the converter writes as zeros
        for b in ["bias_ih", "bias_hh"]:
            name = "%s%s_l%d" % (prefix, b, k)
            if name not in expected:
                rows = sd["rnn.weight_hh_l%d" % k].shape[0]
                expected[name] = np.zeros(rows, np.float32)
    meta = {"cell": cell, "source-format": "onnx", "output": output,
            "onnx-producer": m.producer_name + " " + m.producer_version}
    if bi:
        meta["bidirectional"] = "true"
    save_case(case, m, expected, meta, xs, y, L)
    print("%-22s onnx_rnn vs PyTorch %.2g" % ("", err))


# --------------------------------------------------------------------------
# hand-built with onnx.helper
# --------------------------------------------------------------------------

LSTM_MAP = [0, 2, 3, 1]     # ours i, f, g, o <- ONNX i, o, f, c
GRU_MAP = [1, 0, 2]         # ours r, z, n <- ONNX z, r, h
PEEP_MAP = [0, 2, 1]        # ours i, f, o <- ONNX i, o, f


def blocks(a, order, cifg=False):
    """Reorders the gate blocks of a (axis 0); with cifg our f block (1) is
    ONNX's i block (0) negated: 1 - sigmoid(v) = sigmoid(-v)."""
    parts = np.split(a, len(order))
    out = [parts[k] for k in order]
    if cifg:
        out[1] = -parts[0]
    return np.concatenate(out)


def stored(a, how):
    """(TensorProto maker, the float32 values the importer will read)."""
    if how == "f16":
        v = a.astype(np.float16)
        return (lambda n: helper.make_tensor(n, TensorProto.FLOAT16, a.shape,
                                             v.tobytes(), raw=True),
                v.astype(np.float32))
    if how == "f64":
        return (lambda n: numpy_helper.from_array(a.astype(np.float64), n),
                a.astype(np.float32))
    v = a.astype(np.float32)
    if how == "float_data":
        return (lambda n: helper.make_tensor(n, TensorProto.FLOAT, a.shape,
                                             v.flatten().tolist()), v)
    return (lambda n: numpy_helper.from_array(v, n), v)


class Builder:
    def __init__(self):
        self.nodes, self.inits = [], []

    def init(self, name, a, how="raw"):
        make, v = stored(np.asarray(a), how)
        self.inits.append(make(name))
        return v

    def node(self, op, ins, outs, name, **attrs):
        self.nodes.append(helper.make_node(op, ins, outs, name=name, **attrs))

    def model(self, I, O, out="y", extra_inputs=()):
        g = helper.make_graph(
            self.nodes, "handbuilt",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [T, 1, I])]
            + [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape)
               for n, shape in extra_inputs],
            [helper.make_tensor_value_info(out, TensorProto.FLOAT, [T, 1, O])],
            self.inits)
        return helper.make_model(g, producer_name="generate_onnx.py",
                                 opset_imports=[helper.make_opsetid("", 14)])


def rnn_layer(b, rng, k, x_name, I, H, D=1, gru=False, scale=0.5, how=None,
              peephole=False, **attrs):
    """Adds layer k (ONNX node + Squeeze/Transpose glue); returns
    (output name, the float32 W, R, B, P as stored)."""
    how = how or {}
    G = 3 if gru else 4
    W = b.init("W%d" % k, rng.uniform(-scale, scale, (D, G * H, I)),
               how.get("W", "raw"))
    R = b.init("R%d" % k, rng.uniform(-scale, scale, (D, G * H, H)),
               how.get("R", "raw"))
    B = b.init("B%d" % k, rng.uniform(-scale, scale, (D, 2 * G * H)),
               how.get("B", "raw"))
    ins = [x_name, "W%d" % k, "R%d" % k, "B%d" % k]
    P = None
    if peephole:
        P = b.init("P%d" % k, rng.uniform(-scale, scale, (D, 3 * H)),
                   how.get("P", "raw"))
        ins += ["", "", "", "P%d" % k]
    if D == 2:
        attrs["direction"] = "bidirectional"
    b.node("GRU" if gru else "LSTM", ins, ["Y%d" % k], "rnn%d" % k,
           hidden_size=H, **attrs)
    if D == 2:  # Y [T, 2, 1, H] -> [T, 1, 2, H] -> [T, 1, 2H], as torch
        b.node("Transpose", ["Y%d" % k], ["Yt%d" % k], "transpose%d" % k,
               perm=[0, 2, 1, 3])
        b.init("shape%d" % k, np.array([0, 0, -1], np.int64))
        b.node("Reshape", ["Yt%d" % k, "shape%d" % k], ["S%d" % k],
               "reshape%d" % k)
    else:       # Y [T, 1, 1, H] -> [T, 1, H]
        b.init("axes%d" % k, np.array([1], np.int64))
        b.node("Squeeze", ["Y%d" % k, "axes%d" % k], ["S%d" % k],
               "squeeze%d" % k)
    return "S%d" % k, W, R, B, P


def expected_layer(exp, k, W, R, B, P, gru=False, cifg=False):
    pre = "gru." if gru else "lstm."
    order = GRU_MAP if gru else LSTM_MAP
    GH = W.shape[1]
    for d, sfx in enumerate(["", "_reverse"][:W.shape[0]]):
        exp["%sweight_ih_l%d%s" % (pre, k, sfx)] = blocks(W[d], order, cifg)
        exp["%sweight_hh_l%d%s" % (pre, k, sfx)] = blocks(R[d], order, cifg)
        exp["%sbias_ih_l%d%s" % (pre, k, sfx)] = blocks(B[d, :GH], order, cifg)
        exp["%sbias_hh_l%d%s" % (pre, k, sfx)] = blocks(B[d, GH:], order, cifg)
        if P is not None:
            exp["%sweight_peephole_l%d%s" % (pre, k, sfx)] = \
                blocks(P[d], PEEP_MAP, cifg)


def peephole_case():
    """1 LSTM layer with P; W FLOAT16, R float_data, B DOUBLE, P raw FLOAT;
    MatMul + Add head, no activation."""
    rng = np.random.default_rng(3001)
    I, H, O = 3, 5, 3
    b = Builder()
    s, W, R, B, P = rnn_layer(b, rng, 0, "x", I, H, peephole=True, how=dict(
        W="f16", R="float_data", B="f64", P="raw"))
    Wh = b.init("head_w", rng.uniform(-1, 1, (H, O)))
    bh = b.init("head_b", rng.uniform(-1, 1, O))
    b.node("MatMul", [s, "head_w"], ["mm"], "fc_matmul")
    b.node("Add", ["head_b", "mm"], ["y"], "fc_add")
    x = rng.standard_normal((T, I))
    y = onnx_rnn(x, W, R, B, P) @ Wh.astype(np.float64) + bh
    exp = {}
    expected_layer(exp, 0, W, R, B, P)
    exp["head.weight"] = Wh.T
    exp["head.bias"] = bh
    meta = {"cell": "lstm", "source-format": "onnx", "output": "identity",
            "onnx-producer": "generate_onnx.py"}
    save_case("lstm_peephole_mixed", b.model(I, O), exp, meta, x, y, 1)


def cifg_clip_case():
    """2 LSTM layers, input_forget = 1 and clip 0.8, P on layer 0 only, a
    zero initial_h initializer, activations spelled out; Gemm head (transB,
    alpha, beta) and Softmax."""
    rng = np.random.default_rng(3002)
    I, H, O, clip = 4, 6, 3, 0.8
    b = Builder()
    b.init("h0", np.zeros((1, 1, H)))
    acts = ["Sigmoid", "Tanh", "Tanh"]
    s, W0, R0, B0, P0 = rnn_layer(b, rng, 0, "x", I, H, scale=1.5,
                                  peephole=True, input_forget=1, clip=clip,
                                  activations=acts)
    b.nodes[-2].input[5] = "h0"     # LSTM inputs: X, W, R, B, lens, h0
    s, W1, R1, B1, P1 = rnn_layer(b, rng, 1, s, H, H, scale=1.5,
                                  input_forget=1, clip=clip)
    Wg = b.init("gemm_b", rng.uniform(-2, 2, (O, H)))
    Cg = b.init("gemm_c", rng.uniform(-1, 1, O))
    b.node("Gemm", [s, "gemm_b", "gemm_c"], ["z"], "fc_gemm", transB=1,
           alpha=0.5, beta=2.0)
    b.node("Softmax", ["z"], ["y"], "softmax", axis=-1)
    x = 2 * rng.standard_normal((T, I))
    h0 = onnx_rnn(x, W0, R0, B0, P0, clip=clip, input_forget=True)
    h1 = onnx_rnn(h0, W1, R1, B1, clip=clip, input_forget=True)
    # clip must bite: without it the output differs
    loose = onnx_rnn(onnx_rnn(x, W0, R0, B0, P0, input_forget=True), W1, R1,
                     B1, input_forget=True)
    assert np.abs(loose - h1).max() > 1e-2, "clip 0.8 changes nothing"
    wf = 0.5 * Wg.astype(np.float64)
    bf = 2.0 * Cg.astype(np.float64)
    y = head(h1, wf, bf, "softmax")
    exp = {}
    expected_layer(exp, 0, W0, R0, B0, P0, cifg=True)
    expected_layer(exp, 1, W1, R1, B1, np.zeros((1, 3 * H), np.float32),
                   cifg=True)
    exp["head.weight"] = wf
    exp["head.bias"] = bf
    meta = {"cell": "lstm", "source-format": "onnx", "output": "softmax",
            "onnx-producer": "generate_onnx.py", "coupled-gates": "true",
            "cell-clip": "0.8"}
    save_case("lstm_cifg_clip", b.model(I, O), exp, meta, x, y, 2)


def bidirectional_case(case, seed, gru, clip, peephole):
    """1 bidirectional layer (GRU or LSTM with P), clip, MatMul head with no
    Add (zero bias), no activation."""
    rng = np.random.default_rng(seed)
    I, H, O = 3, 4, 2
    b = Builder()
    attrs = dict(clip=clip)
    if gru:
        attrs["linear_before_reset"] = 1
    s, W, R, B, P = rnn_layer(b, rng, 0, "x", I, H, D=2, gru=gru, scale=1.5,
                              peephole=peephole, **attrs)
    Wh = b.init("head_w", rng.uniform(-1, 1, (2 * H, O)))
    b.node("MatMul", [s, "head_w"], ["y"], "fc")
    x = 2 * rng.standard_normal((T, I))
    y = onnx_rnn(x, W, R, B, P, gru=gru, clip=clip) @ Wh.astype(np.float64)
    loose = onnx_rnn(x, W, R, B, P, gru=gru) @ Wh.astype(np.float64)
    assert np.abs(loose - y).max() > 1e-2, "clip %g changes nothing" % clip
    if not gru:     # some |c_t| > clip: clipping c_t too would be caught
        y_c = onnx_rnn(x, W, R, B, P, clip=clip, clip_c=True) @ Wh.astype(
            np.float64)
        assert np.abs(y_c - y).max() > 1e-3, "no |c_t| above clip %g" % clip
    exp = {}
    expected_layer(exp, 0, W, R, B, P, gru=gru)
    exp["head.weight"] = Wh.T
    exp["head.bias"] = np.zeros(O, np.float32)
    meta = {"cell": "gru" if gru else "lstm", "source-format": "onnx",
            "output": "identity", "onnx-producer": "generate_onnx.py",
            "bidirectional": "true", "cell-clip": repr(clip)}
    save_case(case, b.model(I, O), exp, meta, x, y, 1)


# --------------------------------------------------------------------------
# files to refuse: a small valid LSTM graph with one thing wrong
# --------------------------------------------------------------------------

def small(cell="LSTM", relu=False, side=False, lstm_attrs=None, drop_r=False,
          h0=None, w_int=False, softmax_axis=None, y_h=False, no_head=False,
          gather_y_h=False, bias_input=False, w_computed=False):
    rng = np.random.default_rng(4000)
    I, H, O = 2, 3, 2
    b = Builder()
    s, *_ = rnn_layer(b, rng, 0, "x", I, H, gru=cell == "GRU",
                      **(lstm_attrs or {}))
    rnn = b.nodes[-2]
    if drop_r:
        rnn.input[2] = "R_missing"
    if h0 is not None:
        b.init("h0", h0)
        rnn.input.extend([""] * (6 - len(rnn.input)))
        rnn.input[5] = "h0"
    if w_int:
        b.inits[0] = numpy_helper.from_array(np.ones((1, 4 * H, I), np.int32),
                                             "W0")
    if relu:
        b.node("Relu", [s], ["relu_out"], "relu0")
        s = "relu_out"
    if side:
        b.node("Sin", [s], ["sin_out"], "sin0")
    if y_h:     # the head reads Y_h (the last frame's h), not Y
        rnn.output.append("Yh0")
        s = "Yh0"
    if gather_y_h:      # head (h_n[-1]): the last layer's final h
        rnn.output.append("Yh0")
        b.inits.append(numpy_helper.from_array(np.array(-1, np.int64), "last"))
        b.node("Gather", ["Yh0", "last"], ["hn_last"], "gather0", axis=0)
        s = "hn_last"
    if w_computed:      # W made by a node (do_constant_folding=False)
        b.inits[0].name = "W0_folded_not"
        b.node("Identity", ["W0_folded_not"], ["W0"], "w_identity")
    if no_head:
        b.node("Softmax", [s], ["y"], "softmax0", axis=-1)
        return b.model(I, O)
    b.init("head_w", rng.uniform(-1, 1, (H, O)))
    if bias_input:      # the head's bias a graph input (export_params=False)
        b.node("MatMul", [s, "head_w"], ["z"], "fc")
        b.node("Add", ["z", "head_b"], ["y"], "fc_bias")
        return b.model(I, O, extra_inputs=[("head_b", [O])])
    b.node("MatMul", [s, "head_w"], ["z" if softmax_axis is not None else "y"],
           "fc")
    if softmax_axis is not None:
        b.node("Softmax", ["z"], ["y"], "softmax0", axis=softmax_axis)
    return b.model(I, O)


def no_rnn():
    """An MLP: MatMul, Add, Relu, and no LSTM or GRU at all."""
    rng = np.random.default_rng(4001)
    b = Builder()
    b.init("w", rng.uniform(-1, 1, (2, 2)))
    b.init("bias", rng.uniform(-1, 1, (2,)))
    b.node("MatMul", ["x", "w"], ["m"], "mm")
    b.node("Add", ["m", "bias"], ["a"], "add")
    b.node("Relu", ["a"], ["y"], "relu")
    return b.model(2, 2)


BAD = {
    "bad-op-relu": dict(relu=True),
    "bad-op-side": dict(side=True),
    "bad-activation": dict(lstm_attrs=dict(activations=["Sigmoid", "Relu",
                                                        "Tanh"])),
    "bad-attr": dict(lstm_attrs=dict(output_sequence=1)),
    "bad-direction": dict(lstm_attrs=dict(direction="reverse")),
    "bad-gru-lbr0": dict(cell="GRU", lstm_attrs=dict(linear_before_reset=0)),
    "bad-gru-lbr-absent": dict(cell="GRU"),
    "bad-missing-initializer": dict(drop_r=True),
    "bad-initial-h": dict(h0=np.full((1, 1, 3), 0.5)),
    "bad-int-weights": dict(w_int=True),
    "bad-softmax-axis": dict(softmax_axis=1),
    "bad-uses-y-h": dict(y_h=True),
    "bad-softmax-no-head": dict(no_head=True),
    "bad-head-on-final-state": dict(gather_y_h=True),
    "bad-weight-input": dict(bias_input=True),
    "bad-weight-computed": dict(w_computed=True),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    for c in EXPORTED:
        exported_case(*c)
    peephole_case()
    cifg_clip_case()
    bidirectional_case("bigru_clip", 3003, True, 0.75, False)
    bidirectional_case("bilstm_peephole_clip", 3004, False, 0.5, True)
    for name, kw in BAD.items():
        write(name + ".onnx", small(**kw).SerializeToString())
    write("bad-no-rnn.onnx", no_rnn().SerializeToString())
    print("%d refusal files" % (len(BAD) + 1))


if __name__ == "__main__":
    main()
