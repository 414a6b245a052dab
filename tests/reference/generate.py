#!/usr/bin/python3
"""Generate PyTorch reference models and expected outputs for gst-lstm tests.

Run with Debian's interpreter (needs python3-torch and python3-numpy):

    /usr/bin/python3 tests/reference/generate.py            # regenerate + verify
    /usr/bin/python3 tests/reference/generate.py --verify   # only verify files on disk
    /usr/bin/python3 tests/reference/generate.py --check    # verify + check that
                                                            # regenerating is byte-identical

Every case writes two files into tests/reference/data/:
  <case>.safetensors       the model (PyTorch nn.LSTM / nn.Linear names)
  <case>.data.safetensors  F32 tensors: input [T,I], output [T,O], h_n [L,H], c_n [L,H]

The safetensors writer and reader are hand-written (the python `safetensors`
package is not available). See README.md in this directory.
"""

import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(HERE, "data")
MAX_TOTAL_BYTES = 10 * 1024 * 1024

KWS_LABELS = ["yes", "no", "up", "down", "left", "right", "on", "off",
              "stop", "go", "_unknown_", "_silence_"]

# name, seed, I, H, L, head (out size or None), lstm prefix, head prefix,
# output activation written to metadata (None = no key), labels,
# normalization, init ("uniform1" or "default"), stored dtype, T,
# head_scale (head weights multiplied after init, default 1: with PyTorch's
# init a softmax head's outputs all sit near 1/O, which tests it weakly),
# bias (default True; False: nn.LSTM(bias=False) and nn.Linear(bias=False),
# whose state_dict has no bias tensors at all)
CASES = [
    dict(name="i5_h17_l1", seed=1001, I=5, H=17, L=1, O=None,
         prefix="lstm.", head_prefix=None, output=None, labels=None,
         norm=False, init="uniform1", dtype="F32", T=50),
    dict(name="i40_h128_l2_softmax12", seed=1002, I=40, H=128, L=2, O=12,
         prefix="lstm.", head_prefix="fc", output="softmax", labels=KWS_LABELS,
         norm=True, init="default", dtype="F32", T=60, head_scale=50.0),
    dict(name="i3_h64_l3", seed=1003, I=3, H=64, L=3, O=1,
         prefix="", head_prefix="head", output=None, labels=None,
         norm=False, init="default", dtype="F32", T=100),
    dict(name="i80_h512_l2_f16", seed=1004, I=80, H=512, L=2, O=4,
         prefix="rnn.", head_prefix="classifier", output="sigmoid", labels=None,
         norm=False, init="default", dtype="F16", T=20, head_scale=50.0),
    dict(name="i4_h8_l1_bf16", seed=1005, I=4, H=8, L=1, O=None,
         prefix="lstm.", head_prefix=None, output=None, labels=None,
         norm=False, init="default", dtype="BF16", T=10),
    dict(name="i4_h8_l2_f64", seed=1006, I=4, H=8, L=2, O=3,
         prefix="lstm.", head_prefix="out", output="identity", labels=None,
         norm=False, init="default", dtype="F64", T=10),
    dict(name="i6_h8_l2_nobias", seed=1007, I=6, H=8, L=2, O=3,
         prefix="lstm.", head_prefix="fc", output=None, labels=None,
         norm=False, init="uniform1", dtype="F32", T=20, bias=False),
]


class VerifyError(Exception):
    pass


def fail(msg):
    raise VerifyError(msg)


# --------------------------------------------------------------------------
# safetensors writer
# --------------------------------------------------------------------------

def tensor_bytes(t, dtype):
    """Raw little-endian bytes of float32 tensor t stored as dtype."""
    t = t.detach().contiguous()
    if dtype == "F32":
        return t.to(torch.float32).numpy().astype("<f4").tobytes()
    if dtype == "F64":
        return t.to(torch.float64).numpy().astype("<f8").tobytes()
    if dtype == "F16":
        return t.to(torch.float16).numpy().astype("<f2").tobytes()
    if dtype == "BF16":
        # numpy has no bfloat16: reinterpret the 16 bits as int16
        return t.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()
    raise ValueError(dtype)


def safetensors_bytes(tensors, dtype, metadata=None):
    """tensors: list of (name, float tensor), written back to back in order.
    metadata: dict str->str, or None to omit __metadata__ entirely."""
    header = {}
    if metadata:
        for k, v in metadata.items():
            assert isinstance(k, str) and isinstance(v, str)
        header["__metadata__"] = dict(metadata)
    blobs = []
    offset = 0
    for name, t in tensors:
        b = tensor_bytes(t, dtype)
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    h += b" " * ((-len(h)) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


# --------------------------------------------------------------------------
# independent safetensors reader (numpy only, strict)
# --------------------------------------------------------------------------

NP_DTYPES = {"F32": ("<f4", 4), "F64": ("<f8", 8), "F16": ("<f2", 2), "BF16": ("<u2", 2)}


def read_safetensors(raw):
    """Return (metadata or None, {name: (dtype, np.float32/64 array)}, order)."""
    if len(raw) < 8:
        fail("file shorter than 8 bytes")
    (n,) = struct.unpack("<Q", raw[:8])
    if n % 8 != 0:
        fail("header length %d not a multiple of 8" % n)
    if 8 + n > len(raw):
        fail("header length %d exceeds file" % n)
    htxt = raw[8:8 + n].decode("utf-8")
    if len(htxt) - len(htxt.rstrip(" ")) >= 8:
        fail("header padded with more than 7 spaces")
    header = json.loads(htxt)
    data = raw[8 + n:]
    meta = header.pop("__metadata__", None)
    if meta is not None:
        if not meta:
            fail("empty __metadata__ should be omitted")
        for k, v in meta.items():
            if not isinstance(k, str) or not isinstance(v, str):
                fail("metadata not str->str")
    out = {}
    order = []
    expect = 0
    for name, info in header.items():   # json.loads keeps file order
        if set(info) != {"dtype", "shape", "data_offsets"}:
            fail("%s: bad keys %r" % (name, sorted(info)))
        npdt, size = NP_DTYPES[info["dtype"]]
        b, e = info["data_offsets"]
        count = 1
        for d in info["shape"]:
            count *= d
        if b != expect:
            fail("%s: hole/overlap: begins at %d, expected %d" % (name, b, expect))
        if e - b != count * size:
            fail("%s: byte size %d != %d" % (name, e - b, count * size))
        expect = e
        arr = np.frombuffer(data[b:e], dtype=npdt)
        if info["dtype"] == "BF16":
            arr = (arr.astype(np.uint32) << 16).view("<f4")
        arr = arr.reshape(info["shape"])
        out[name] = (info["dtype"], arr)
        order.append(name)
    if expect != len(data):
        fail("data section has %d bytes, tensors cover %d" % (len(data), expect))
    return meta, out, order


# --------------------------------------------------------------------------
# model construction and reference computation
# --------------------------------------------------------------------------

def round_to(t, dtype):
    """Round a float32 tensor to what dtype stores, back in float32."""
    if dtype == "F16":
        return t.to(torch.float16).to(torch.float32)
    if dtype == "BF16":
        return t.to(torch.bfloat16).to(torch.float32)
    return t  # F32 exact, F64 widening is exact


def run_reference(lstm, head, output, mean, std, x):
    """x: [T, I] raw input. Returns (out [T,O], h_n [L,H], c_n [L,H])."""
    with torch.inference_mode():
        xn = x
        if mean is not None:
            xn = (x - mean) / std
        y, (h_n, c_n) = lstm(xn.unsqueeze(1))   # [T,1,I], zero initial state
        y = y.squeeze(1)
        if head is not None:
            z = head(y)
            if output == "softmax":
                y = torch.softmax(z, dim=-1)
            elif output == "sigmoid":
                y = torch.sigmoid(z)
            else:
                y = z
        return y.clone(), h_n.squeeze(1).clone(), c_n.squeeze(1).clone()


def build_case(c):
    torch.manual_seed(c["seed"])
    I, H, L, O = c["I"], c["H"], c["L"], c["O"]
    bias = c.get("bias", True)
    lstm = nn.LSTM(I, H, num_layers=L, bias=bias).float()
    head = nn.Linear(H, O, bias=bias).float() if O else None
    with torch.no_grad():
        if c["init"] == "uniform1":
            for p in lstm.parameters():
                p.uniform_(-1.0, 1.0)
        for p in lstm.parameters():
            p.copy_(round_to(p, c["dtype"]))
        if head is not None:
            head.weight.mul_(c.get("head_scale", 1.0))
            for p in head.parameters():
                p.copy_(round_to(p, c["dtype"]))
    mean = std = None
    if c["norm"]:
        mean = round_to(torch.randn(I) * 0.5, c["dtype"])
        std = round_to(torch.empty(I).uniform_(0.5, 2.0), c["dtype"])
    x = torch.randn(c["T"], I)

    out, h_n, c_n = run_reference(lstm, head, c["output"], mean, std, x)

    model_tensors = [(c["prefix"] + k, v) for k, v in lstm.state_dict().items()]
    if head is not None:
        model_tensors += [(c["head_prefix"] + "." + k, v)
                          for k, v in head.state_dict().items()]
    if mean is not None:
        model_tensors += [("input_mean", mean), ("input_std", std)]
    meta = {}
    if c["output"] is not None:
        meta["output"] = c["output"]
    if c["labels"] is not None:
        meta["labels"] = json.dumps(c["labels"], separators=(",", ":"))
    model = safetensors_bytes(model_tensors, c["dtype"], meta or None)
    data = safetensors_bytes([("input", x), ("output", out),
                              ("h_n", h_n), ("c_n", c_n)], "F32")
    return model, data


# --------------------------------------------------------------------------
# verification
# --------------------------------------------------------------------------

def numpy_lstm(W, x, L):
    """Plain float64 LSTM (gate order i,f,g,o) as a semantic cross-check."""
    h_all = x
    hs, cs = [], []
    for k in range(L):
        wih, whh = W["weight_ih_l%d" % k], W["weight_hh_l%d" % k]
        b = (W["bias_ih_l%d" % k] + W["bias_hh_l%d" % k]
             if "bias_ih_l%d" % k in W else 0.0)
        H = whh.shape[1]
        h = np.zeros(H)
        cc = np.zeros(H)
        ys = []
        for t in range(h_all.shape[0]):
            g = wih @ h_all[t] + whh @ h + b
            i_, f_, g_, o_ = g[:H], g[H:2 * H], g[2 * H:3 * H], g[3 * H:]
            sig = lambda v: 1.0 / (1.0 + np.exp(-v))
            cc = sig(f_) * cc + sig(i_) * np.tanh(g_)
            h = sig(o_) * np.tanh(cc)
            ys.append(h)
        h_all = np.array(ys)
        hs.append(h)
        cs.append(cc)
    return h_all, np.array(hs), np.array(cs)


def verify_case(c):
    name = c["name"]
    mpath = os.path.join(DATA_DIR, name + ".safetensors")
    dpath = os.path.join(DATA_DIR, name + ".data.safetensors")
    with open(mpath, "rb") as f:
        meta, tensors, order = read_safetensors(f.read())
    with open(dpath, "rb") as f:
        dmeta, dtens, dorder = read_safetensors(f.read())

    I, H, L, O = c["I"], c["H"], c["L"], c["O"]
    bias = c.get("bias", True)
    # --- model file structure
    exp_meta = {}
    if c["output"] is not None:
        exp_meta["output"] = c["output"]
    if c["labels"] is not None:
        exp_meta["labels"] = json.dumps(c["labels"], separators=(",", ":"))
    if (meta or {}) != exp_meta or (meta is not None and not exp_meta):
        fail("%s: metadata %r, expected %r" % (name, meta, exp_meta))
    if c["labels"] is not None and json.loads(meta["labels"]) != c["labels"]:
        fail("%s: labels do not round-trip" % name)
    for n, (dt, _) in tensors.items():
        if dt != c["dtype"]:
            fail("%s: tensor %s stored as %s, expected %s" % (name, n, dt, c["dtype"]))
    p = c["prefix"]
    lstm_sd = {}
    for k in range(L):
        in_k = I if k == 0 else H
        for base, shape in (("weight_ih_l%d" % k, [4 * H, in_k]),
                            ("weight_hh_l%d" % k, [4 * H, H]),
                            ("bias_ih_l%d" % k, [4 * H]),
                            ("bias_hh_l%d" % k, [4 * H]))[:4 if bias else 2]:
            n = p + base
            if n not in tensors or list(tensors[n][1].shape) != shape:
                fail("%s: missing or misshapen %s" % (name, n))
            lstm_sd[base] = torch.from_numpy(tensors[n][1].astype(np.float32))
    expected_names = list(p + b for b in lstm_sd)
    head_sd = None
    if O:
        hp = c["head_prefix"] + "."
        head_sd = {}
        for base, shape in (("weight", [O, H]), ("bias", [O]))[:2 if bias else 1]:
            n = hp + base
            if n not in tensors or list(tensors[n][1].shape) != shape:
                fail("%s: missing or misshapen %s" % (name, n))
            head_sd[base] = torch.from_numpy(tensors[n][1].astype(np.float32))
            expected_names.append(n)
    mean = std = None
    if c["norm"]:
        mean = torch.from_numpy(tensors["input_mean"][1].astype(np.float32))
        std = torch.from_numpy(tensors["input_std"][1].astype(np.float32))
        expected_names += ["input_mean", "input_std"]
    if order != expected_names:
        fail("%s: tensor names %r, expected %r" % (name, order, expected_names))
    for n, (_, a) in tensors.items():
        if not np.all(np.isfinite(a)):
            fail("%s: %s has non-finite values" % (name, n))
        if c["dtype"] == "F64" and not np.array_equal(a.astype(np.float32).astype(np.float64), a):
            fail("%s: %s F64 values are not widened float32" % (name, n))

    # --- data file structure
    T = c["T"]
    OO = O if O else H
    want = [("input", [T, I]), ("output", [T, OO]), ("h_n", [L, H]), ("c_n", [L, H])]
    if dmeta is not None:
        fail("%s: data file has metadata" % name)
    if dorder != [n for n, _ in want]:
        fail("%s: data tensors %r" % (name, dorder))
    for n, shape in want:
        dt, a = dtens[n]
        if dt != "F32" or list(a.shape) != shape or not np.all(np.isfinite(a)):
            fail("%s: data tensor %s is %s %r" % (name, n, dt, list(a.shape)))

    # --- reload into fresh modules and rerun: must match bit for bit
    lstm = nn.LSTM(I, H, num_layers=L, bias=bias).float()
    lstm.load_state_dict(lstm_sd, strict=True)
    head = None
    if O:
        head = nn.Linear(H, O, bias=bias).float()
        head.load_state_dict(head_sd, strict=True)
    x = torch.from_numpy(dtens["input"][1].copy())
    out, h_n, c_n = run_reference(lstm, head, (meta or {}).get("output", "identity"),
                                  mean, std, x)
    for n, got in (("output", out), ("h_n", h_n), ("c_n", c_n)):
        ref = dtens[n][1]
        if not np.array_equal(got.numpy(), ref):
            d = np.max(np.abs(got.numpy().astype(np.float64) - ref))
            fail("%s: reloaded model %s differs from stored reference (max |d| = %g)"
                 % (name, n, d))

    # --- semantic cross-check with an independent float64 numpy LSTM
    W = {k: v.numpy().astype(np.float64) for k, v in lstm_sd.items()}
    xn = x.numpy().astype(np.float64)
    if mean is not None:
        xn = (xn - mean.numpy().astype(np.float64)) / std.numpy().astype(np.float64)
    y, hn, cn = numpy_lstm(W, xn, L)
    if O:
        z = y @ head_sd["weight"].numpy().astype(np.float64).T
        if "bias" in head_sd:
            z = z + head_sd["bias"].numpy().astype(np.float64)
        act = (meta or {}).get("output", "identity")
        if act == "softmax":
            z = np.exp(z - z.max(axis=-1, keepdims=True))
            y = z / z.sum(axis=-1, keepdims=True)
        elif act == "sigmoid":
            y = 1.0 / (1.0 + np.exp(-z))
        else:
            y = z
    worst = 0.0
    for got, ref in ((y, dtens["output"][1]), (hn, dtens["h_n"][1]), (cn, dtens["c_n"][1])):
        worst = max(worst, float(np.max(np.abs(got - ref.astype(np.float64)))))
    if worst > 1e-4:
        fail("%s: float64 numpy LSTM differs from PyTorch by %g" % (name, worst))
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--verify", action="store_true",
                    help="only verify the files in data/ (no writing)")
    ap.add_argument("--check", action="store_true",
                    help="verify, and check regeneration is byte-identical (no writing)")
    args = ap.parse_args()

    torch.set_num_threads(1)   # deterministic reductions
    os.makedirs(DATA_DIR, exist_ok=True)
    names = {c["name"] for c in CASES}
    assert len(names) == len(CASES)

    try:
        for c in CASES:
            if args.verify:
                continue
            model, data = build_case(c)
            for suffix, blob in ((".safetensors", model), (".data.safetensors", data)):
                path = os.path.join(DATA_DIR, c["name"] + suffix)
                if args.check:
                    with open(path, "rb") as f:
                        if f.read() != blob:
                            fail("%s: regenerated bytes differ from file on disk" % path)
                else:
                    tmp = path + ".tmp"
                    with open(tmp, "wb") as f:
                        f.write(blob)
                    os.replace(tmp, path)

        total = 0
        for c in CASES:
            worst = verify_case(c)
            for suffix in (".safetensors", ".data.safetensors"):
                fn = c["name"] + suffix
                size = os.path.getsize(os.path.join(DATA_DIR, fn))
                total += size
                print("%-40s %10d bytes" % ("data/" + fn, size))
            print("  verified: exact reload match; float64 cross-check max |d| = %.2e"
                  % worst)
        print("total %d bytes (%.2f MiB)" % (total, total / 1048576.0))
        if total > MAX_TOTAL_BYTES:
            fail("data/ total %d bytes exceeds %d" % (total, MAX_TOTAL_BYTES))
    except VerifyError as e:
        print("VERIFICATION FAILED: %s" % e, file=sys.stderr)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
