#!/usr/bin/python3
"""Reference data for the LSTM variants (tests/test-variants.c).

    /usr/bin/python3 tests/reference/generate_variants.py           # regenerate + verify
    /usr/bin/python3 tests/reference/generate_variants.py --verify  # only verify variants/

Every case is computed by one float64 autograd implementation of the
variant equations (`run_model` below, the equations of src/lstm-variant.c)
and cross-checked before anything is written:
  * GRU, projection, bidirectional (PyTorch has them): against nn.GRU /
    nn.LSTM in float64, forward outputs and every gradient, to 1e-9;
  * peephole, coupled gates (CIFG), cell clip (ONNX has them, PyTorch has
    not): against a numpy implementation of ONNX's LSTM equations, forward;
  * layer norm (neither has it): against a numpy implementation of the
    equations, forward; its gradients against central differences in
    float64.
Weights are float32 values (the model file's), the computation is float64.

Each case writes into variants/:
  <case>.safetensors       the model (PyTorch names, see README.md "Decisions")
  <case>.data.safetensors  F32: input0 [T0, I], input1 [T1, I], class0 [T0],
                           class1 [T1] (class ids as floats), output0 [T0, O]
                           (softmax of the head, sequence 0 from a zero
                           state), h_n [L*D, out], c_n [L*D, H] (LSTM only),
                           loss [1]: cross-entropy over every frame of both
                           sequences, mean over the frames
  <case>.grad.safetensors  dloss/dparameter under the model's own names and
                           metadata (it loads as a model of the same layout)
"""

import argparse
import os
import sys

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from generate import read_safetensors, safetensors_bytes  # noqa: E402

OUT_DIR = os.path.join(HERE, "variants")
I, H, L, O, T0, T1 = 4, 6, 2, 3, 9, 6
LN_EPS = 1e-5

# name, seed, cell, proj, bidirectional, peephole, coupled, clip, layer_norm
CASES = [
    dict(name="gru", seed=2001, cell="gru"),
    dict(name="proj", seed=2002, proj=3),
    dict(name="bidir", seed=2003, bidir=True),
    dict(name="bidir_gru", seed=2004, cell="gru", bidir=True),
    dict(name="bidir_proj", seed=2005, proj=4, bidir=True),
    dict(name="peephole", seed=2006, peephole=True),
    dict(name="cifg", seed=2007, coupled=True),
    dict(name="clip", seed=2008, clip=0.5),
    dict(name="layer_norm", seed=2009, layer_norm=True),
    dict(name="all", seed=2010, proj=4, bidir=True, peephole=True,
         coupled=True, clip=1.0, layer_norm=True),
]


def opt(c, key, default=False):
    return c.get(key, default)


def layer_names(c, k, sfx):
    """The tensor names of one direction of layer k, in file order."""
    names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    if opt(c, "proj", 0):
        names.append("weight_hr")
    if opt(c, "peephole"):
        names.append("weight_peephole")
    if opt(c, "layer_norm"):
        names += ["layer_norm_%s_%s" % (p, w) for p in ("ih", "hh", "c")
                  for w in ("weight", "bias")]
    return ["%s_l%d%s" % (n, k, sfx) for n in names]


def suffixes(c):
    return ["", "_reverse"] if opt(c, "bidir") else [""]


# --------------------------------------------------------------------------
# the equations, float64 torch with autograd
# --------------------------------------------------------------------------

def layer_norm(v, w, b):
    mu = v.mean(-1, keepdim=True)
    var = ((v - mu) ** 2).mean(-1, keepdim=True)
    return (v - mu) / torch.sqrt(var + LN_EPS) * w + b


def clip(a, c):
    return torch.clamp(a, -c["clip"], c["clip"]) if opt(c, "clip", 0) else a


def lstm_step(P, n, c, x, h, cc):
    g = P[n("weight_ih")] @ x
    r = P[n("weight_hh")] @ h
    if opt(c, "layer_norm"):
        g = layer_norm(g, P[n("layer_norm_ih_weight")], P[n("layer_norm_ih_bias")])
        r = layer_norm(r, P[n("layer_norm_hh_weight")], P[n("layer_norm_hh_bias")])
    a = g + r + P[n("bias_ih")] + P[n("bias_hh")]
    ai, af, ag, ao = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
    if opt(c, "peephole"):
        p = P[n("weight_peephole")]
        ai = ai + p[:H] * cc
        af = af + p[H:2 * H] * cc
    f = torch.sigmoid(clip(af, c))
    i = 1 - f if opt(c, "coupled") else torch.sigmoid(clip(ai, c))
    cc = f * cc + i * torch.tanh(clip(ag, c))
    if opt(c, "layer_norm"):
        cc = layer_norm(cc, P[n("layer_norm_c_weight")], P[n("layer_norm_c_bias")])
    if opt(c, "peephole"):
        ao = ao + P[n("weight_peephole")][2 * H:] * cc
    # cell clip: the gate inputs only, not c_t (README "Decisions"); clip_c
    # (never written) clips c_t before the tanh too, to show a case tells
    # the two apart
    h = torch.sigmoid(clip(ao, c)) * torch.tanh(
        clip(cc, c) if opt(c, "clip_c") else cc)
    if opt(c, "proj", 0):
        h = P[n("weight_hr")] @ h
    return h, cc


def gru_step(P, n, c, x, h):
    g = P[n("weight_ih")] @ x + P[n("bias_ih")]
    r_ = P[n("weight_hh")] @ h + P[n("bias_hh")]
    r = torch.sigmoid(clip(g[:H] + r_[:H], c))
    z = torch.sigmoid(clip(g[H:2 * H] + r_[H:2 * H], c))
    nn_ = torch.tanh(clip(g[2 * H:] + r * r_[2 * H:], c))
    return (1 - z) * nn_ + z * h, None


def run_model(P, c, x):
    """x [T, I] -> (logits [T, O], h_n list, c_n list)."""
    out = opt(c, "proj", 0) or H
    seq = [x[t] for t in range(x.shape[0])]
    hn, cn = [], []
    for k in range(L):
        dirs = []
        for d, sfx in enumerate(suffixes(c)):
            def n(base, k=k, sfx=sfx):
                return "rnn.%s_l%d%s" % (base, k, sfx)
            h = torch.zeros(out, dtype=torch.float64)
            cc = torch.zeros(H, dtype=torch.float64)
            ys = [None] * len(seq)
            order = range(len(seq)) if d == 0 else reversed(range(len(seq)))
            for t in order:
                if opt(c, "cell", "lstm") == "gru":
                    h, _ = gru_step(P, n, c, seq[t], h)
                else:
                    h, cc = lstm_step(P, n, c, seq[t], h, cc)
                ys[t] = h
            dirs.append(ys)
            hn.append(h)
            cn.append(cc)
        seq = [torch.cat([ys[t] for ys in dirs]) for t in range(len(seq))]
    y = torch.stack(seq)
    return y @ P["fc.weight"].T + P["fc.bias"], hn, cn


def loss_of(P, c, xs, classes):
    total = 0
    for x, cls in zip(xs, classes):
        z, _, _ = run_model(P, c, x)
        total = total + torch.nn.functional.cross_entropy(z, cls, reduction="sum")
    return total / sum(len(cls) for cls in classes)


# --------------------------------------------------------------------------
# independent checks
# --------------------------------------------------------------------------

def torch_module(c, P):
    """nn.GRU / nn.LSTM holding P's rnn tensors, float64."""
    kw = dict(num_layers=L, bidirectional=opt(c, "bidir"))
    if opt(c, "cell", "lstm") == "gru":
        m = nn.GRU(I, H, **kw)
    else:
        m = nn.LSTM(I, H, proj_size=opt(c, "proj", 0), **kw)
    m = m.double()
    sd = {k[len("rnn."):]: v.detach().clone() for k, v in P.items()
          if k.startswith("rnn.")}
    m.load_state_dict(sd, strict=True)
    return m


def check_against_torch(c, P, xs, classes, loss, grads):
    m = torch_module(c, P)
    head = nn.Linear(P["fc.weight"].shape[1], O).double()
    head.weight.data.copy_(P["fc.weight"].detach())
    head.bias.data.copy_(P["fc.bias"].detach())
    total = 0
    for x, cls in zip(xs, classes):
        y, _ = m(x.unsqueeze(1))
        total = total + torch.nn.functional.cross_entropy(
            head(y.squeeze(1)), cls, reduction="sum")
    ref = total / sum(len(cls) for cls in classes)
    ref.backward()
    worst = abs(ref.item() - loss.item())
    named = dict(("rnn." + k, p) for k, p in m.named_parameters())
    named.update({"fc.weight": head.weight, "fc.bias": head.bias})
    for k, g in grads.items():
        worst = max(worst, (named[k].grad - g).abs().max().item())
    if worst > 1e-9:
        raise SystemExit("%s: differs from PyTorch by %g" % (c["name"], worst))
    return worst


def np_sig(v):
    return 1.0 / (1.0 + np.exp(-v))


def numpy_onnx(c, W, x):
    """ONNX's LSTM equations (peephole P, clip on the inputs of the gate
    activations f and g, not on c_t before h, as onnxruntime: README
    "Decisions"), stacked, our gate order i, f, g, o; coupled
    gates as i = 1 - f (onnxruntime's input_forget computes f = 1 - i:
    README, "Decisions"); plus the layer norm of README's Decisions.
    Returns logits [T, O]."""
    cl = (lambda v: np.clip(v, -c["clip"], c["clip"])) if opt(c, "clip", 0) \
        else (lambda v: v)

    def ln(v, w, b):
        return (v - v.mean()) / np.sqrt(v.var() + LN_EPS) * w + b

    seq = x
    for k in range(L):
        def w(base):
            return W["rnn.%s_l%d" % (base, k)]
        h, cc, ys = np.zeros(H), np.zeros(H), []
        for t in range(seq.shape[0]):
            xw, hr = w("weight_ih") @ seq[t], w("weight_hh") @ h
            if opt(c, "layer_norm"):
                xw = ln(xw, w("layer_norm_ih_weight"), w("layer_norm_ih_bias"))
                hr = ln(hr, w("layer_norm_hh_weight"), w("layer_norm_hh_bias"))
            a = xw + hr + w("bias_ih") + w("bias_hh")
            p = w("weight_peephole") if opt(c, "peephole") else np.zeros(3 * H)
            ft = np_sig(cl(a[H:2 * H] + p[H:2 * H] * cc))
            it = 1 - ft if opt(c, "coupled") else np_sig(cl(a[:H] + p[:H] * cc))
            cc = ft * cc + it * np.tanh(cl(a[2 * H:3 * H]))
            if opt(c, "layer_norm"):
                cc = ln(cc, w("layer_norm_c_weight"), w("layer_norm_c_bias"))
            ot = np_sig(cl(a[3 * H:] + p[2 * H:] * cc))
            h = ot * np.tanh(cc)
            ys.append(h)
        seq = np.array(ys)
    return seq @ W["fc.weight"].T + W["fc.bias"]


def central_differences(c, P, xs, classes, grads, n_checks=40):
    """dloss/dp by (loss (p + e) - loss (p - e)) / 2e on random elements."""
    rng = np.random.default_rng(c["seed"])
    names = sorted(grads)
    worst = 0.0
    with torch.no_grad():
        for _ in range(n_checks):
            k = names[rng.integers(len(names))]
            p = P[k].view(-1)
            j = int(rng.integers(p.numel()))
            e, keep = 1e-6, p[j].item()
            p[j] = keep + e
            up = loss_of(P, c, xs, classes).item()
            p[j] = keep - e
            down = loss_of(P, c, xs, classes).item()
            p[j] = keep
            worst = max(worst, abs((up - down) / (2 * e) - grads[k].view(-1)[j].item()))
    if worst > 1e-7:
        raise SystemExit("%s: central differences differ by %g" % (c["name"], worst))
    return worst


# --------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------

def make_params(c):
    """float32-valued parameters (uniform +-1/sqrt(H), as nn.LSTM; layer
    norm gains near 1), as float64 leaves, in file order."""
    torch.manual_seed(c["seed"])
    gates = 3 if opt(c, "cell", "lstm") == "gru" else 4
    out = opt(c, "proj", 0) or H
    D = 2 if opt(c, "bidir") else 1
    bound = 1 / np.sqrt(H)
    P = {}
    for k in range(L):
        for sfx in suffixes(c):
            for name in layer_names(c, k, sfx):
                base = name[:name.index("_l%d" % k)]
                shape = {"weight_ih": [gates * H, I if k == 0 else D * out],
                         "weight_hh": [gates * H, out],
                         "weight_hr": [out, H], "weight_peephole": [3 * H]}
                shape = shape.get(base, [H] if "_c_" in base else [gates * H])
                t = torch.empty(shape).uniform_(-bound, bound)
                if base.startswith("layer_norm") and base.endswith("weight"):
                    t = 1 + 0.5 * t       # gains near 1
                P["rnn." + name] = t
    hb = 1 / np.sqrt(D * out)
    P["fc.weight"] = torch.empty(O, D * out).uniform_(-hb, hb) * 4
    P["fc.bias"] = torch.empty(O).uniform_(-hb, hb)
    return {k: v.float().double().requires_grad_(True) for k, v in P.items()}


def metadata(c):
    meta = {"output": "softmax"}
    if opt(c, "cell", "lstm") == "gru":
        meta["cell"] = "gru"
    if opt(c, "coupled"):
        meta["coupled-gates"] = "true"
    if opt(c, "clip", 0):
        meta["cell-clip"] = repr(c["clip"])
    if opt(c, "bidir"):
        meta["bidirectional"] = "true"
    return meta


def build_case(c):
    P = make_params(c)
    xs = [torch.randn(T0, I).double(), torch.randn(T1, I).double()]
    classes = [torch.randint(0, O, (T0,)), torch.randint(0, O, (T1,))]
    loss = loss_of(P, c, xs, classes)
    loss.backward()
    grads = {k: v.grad.detach().clone() for k, v in P.items()}
    with torch.no_grad():
        z, hn, cn = run_model(P, c, xs[0])
    native = not (opt(c, "peephole") or opt(c, "coupled") or opt(c, "clip", 0)
                  or opt(c, "layer_norm"))
    if native:
        how = "nn module, %g" % check_against_torch(c, P, xs, classes, loss, grads)
    else:
        W = {k: v.detach().numpy() for k, v in P.items()}
        if not opt(c, "bidir") and not opt(c, "proj", 0):
            d = np.abs(numpy_onnx(c, W, xs[0].numpy()) - z.numpy()).max()
            if d > 1e-12:
                raise SystemExit("%s: numpy equations differ by %g" % (c["name"], d))
            how = "numpy equations, %g" % d
        else:
            how = "composition"
        how += "; central differences %g" % central_differences(c, P, xs, classes, grads)
    if opt(c, "clip", 0):
        with torch.no_grad():
            z_c, _, _ = run_model(P, dict(c, clip_c=True), xs[0])
        c["clip_c_changes"] = (torch.softmax(z_c, -1) -
                               torch.softmax(z, -1)).abs().max().item()
        how += "; clipping c_t would change output0 by %.2g" % \
            c["clip_c_changes"]
    print("%-11s loss %.6f  checked against %s" % (c["name"], loss.item(), how))

    f32 = lambda t: t.detach().float()  # noqa: E731
    meta = metadata(c)
    model = safetensors_bytes([(k, f32(v)) for k, v in P.items()], "F32", meta)
    grad = safetensors_bytes([(k, f32(grads[k])) for k in P], "F32", meta)
    data = [("input0", f32(xs[0])), ("input1", f32(xs[1])),
            ("class0", classes[0].float()), ("class1", classes[1].float()),
            ("output0", f32(torch.softmax(z, -1))), ("h_n", f32(torch.stack(hn)))]
    if opt(c, "cell", "lstm") != "gru":
        data.append(("c_n", f32(torch.stack(cn))))
    data.append(("loss", f32(loss.reshape(1))))
    return model, grad, safetensors_bytes(data, "F32")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--verify", action="store_true",
                    help="check that regenerating gives the files in variants/")
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(OUT_DIR, exist_ok=True)
    c_t_above_clip = False
    for c in CASES:
        blobs = build_case(c)
        if opt(c, "clip", 0) and c["clip_c_changes"] > 1e-3:
            c_t_above_clip = True
        for suffix, blob in zip((".safetensors", ".grad.safetensors",
                                 ".data.safetensors"), blobs):
            path = os.path.join(OUT_DIR, c["name"] + suffix)
            read_safetensors(blob)   # the strict reader accepts it
            if args.verify:
                with open(path, "rb") as f:
                    if f.read() != blob:
                        raise SystemExit("%s differs from a regeneration" % path)
            else:
                with open(path, "wb") as f:
                    f.write(blob)
    # some |c_t| > clip: a forward that clipped c_t too would fail output0
    # (test-variants.c: 1e-5)
    if not c_t_above_clip:
        raise SystemExit("no clip case has a |c_t| above its clip")


if __name__ == "__main__":
    main()
