#!/usr/bin/python3
"""Generate PyTorch reference data for gst-lstm's training (tests/test-train.c).

Run with Debian's interpreter (needs python3-torch and python3-numpy):

    /usr/bin/python3 tests/reference/generate_train.py           # regenerate
    /usr/bin/python3 tests/reference/generate_train.py --check   # only check that
                                                                 # regenerating gives
                                                                 # the same bytes

Every case writes two files into tests/reference/train/:
  <case>.safetensors       the model (nn.LSTM names `lstm.*`, nn.Linear `head.*`,
                           optional input_mean / input_std), F32
  <case>.data.safetensors  F32 tensors, with the case's settings in __metadata__:
      lengths [B]            frames per sequence
      input [sum T_b, I]     the sequences' raw frames, one after the other
      class_ids [sum T_b] or [B] (last frame only)    cross-entropy targets,
                             class ids as floats, -100 = ignore_index
      targets [sum T_b, O] or [B, O] (last frame only)  MSE targets
      h0, c0 [B, L, H]       initial state per sequence (truncated-BPTT cases),
                             passed detached: no gradient flows into them
      h_n, c_n [B, L, H]     the state after each sequence's last frame
      loss [1]               the batch loss ('mean' reduction)
      grad.<tensor> ...      d loss / d parameter for every model tensor
  and for the optimizer case, per optimizer setting <opt> (metadata
  `optim.<opt>` holds its settings as `key=value` words):
      <opt>.loss [S]                    the loss before each step
      <opt>.<s>.grad.<tensor>           torch's gradient at step s (before clipping)
      <opt>.<s>.param.<tensor>          the parameters after step s
  (s = 1 .. 3; the 20-step setting keeps only step 20's parameters).

The loss is computed on each sequence alone (batch of one, zero or given
initial state) and the rows that count are concatenated: cross-entropy
over every frame is nn.CrossEntropyLoss()(z of all valid frames, their
classes) -- a mean over the valid frames of the whole batch -- and the same
for MSE (mean over frames x outputs). The script checks that the padded,
packed batch (nn.utils.rnn.pack_padded_sequence) gives the same loss.
"""

import argparse
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "train")
MAX_TOTAL_BYTES = 400 * 1024
IGNORE = -100

# name, seed, sizes, loss ("ce" | "mse"), last (loss on the last frame only),
# output activation of the head, lengths, normalization, initial states,
# init ("default" = PyTorch's, "uniform1" = every LSTM weight in U(-1, 1):
# saturated gates), ignore (how many frames get class -100)
CASES = [
    dict(name="ce_every_l1", seed=2001, I=4, H=8, L=1, O=5, loss="ce",
         last=False, output="softmax", lengths=[6, 6, 6]),
    dict(name="ce_masked_l2", seed=2002, I=3, H=7, L=2, O=4, loss="ce",
         last=False, output="softmax", lengths=[7, 3, 5, 1], norm=True,
         ignore=3),
    dict(name="ce_last_l3", seed=2003, I=5, H=6, L=3, O=3, loss="ce",
         last=True, output="softmax", lengths=[4, 9, 2], init="uniform1"),
    dict(name="ce_h24_l2", seed=2004, I=10, H=24, L=2, O=6, loss="ce",
         last=False, output="softmax", lengths=[20, 13, 17, 4, 9]),
    dict(name="mse_identity_l2", seed=2005, I=2, H=5, L=2, O=3, loss="mse",
         last=False, output="identity", lengths=[5, 8]),
    dict(name="mse_nohead_l1", seed=2006, I=3, H=4, L=1, O=None, loss="mse",
         last=False, output=None, lengths=[3, 6, 2]),
    dict(name="mse_last_sigmoid", seed=2007, I=3, H=6, L=1, O=2, loss="mse",
         last=True, output="sigmoid", lengths=[3, 5, 2, 5]),
    dict(name="window_l2", seed=2008, I=3, H=5, L=2, O=4, loss="ce",
         last=False, output="softmax", lengths=[4, 2, 3], states=True),
]

# The optimizer case: one model and batch, each setting run from the same
# weights for 3 steps (SGD's momentum and the moments only show from the
# second step on). Clip norms sit below the gradient's norm (checked).
OPTIM_CASE = dict(name="optim_l2", seed=2100, I=3, H=5, L=2, O=3, loss="ce",
                  last=False, output="softmax", lengths=[5, 2, 4])
OPTIM_STEPS = 3
OPTIMS = [
    ("sgd", dict(optimizer="sgd", lr=0.1)),
    ("sgd_momentum", dict(optimizer="sgd", lr=0.1, momentum=0.9)),
    ("sgd_nesterov", dict(optimizer="sgd", lr=0.1, momentum=0.9, nesterov=1)),
    ("sgd_weight_decay", dict(optimizer="sgd", lr=0.1, weight_decay=0.05)),
    ("sgd_dampening_clip", dict(optimizer="sgd", lr=0.1, momentum=0.5,
                                dampening=0.3, clip=0.05)),
    ("adam", dict(optimizer="adam", lr=0.01)),
    ("adam_weight_decay", dict(optimizer="adam", lr=0.01, weight_decay=0.1)),
    ("adam_clip", dict(optimizer="adam", lr=0.01, clip=0.05)),
    ("adamw", dict(optimizer="adamw", lr=0.01, weight_decay=0.1)),
    ("rmsprop", dict(optimizer="rmsprop", lr=0.01)),
    ("rmsprop_full_clip", dict(optimizer="rmsprop", lr=0.01, momentum=0.9,
                               centered=1, weight_decay=0.01, clip=0.05)),
]
# 20 Adam steps with clipping, from the same weights on the same batch
LONG_RUN = ("adam_clip_20", dict(optimizer="adam", lr=0.01, clip=0.05), 20)


# --------------------------------------------------------------------------
# safetensors (F32 only)
# --------------------------------------------------------------------------

def safetensors_bytes(tensors, metadata=None):
    header = {}
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    blobs, offset = [], 0
    for name, t in tensors:
        b = t.detach().contiguous().to(torch.float32).numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((-len(h)) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


# --------------------------------------------------------------------------
# the batch loss, as gst-lstm defines it
# --------------------------------------------------------------------------

class Net(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.lstm = nn.LSTM(c["I"], c["H"], num_layers=c["L"])
        self.head = nn.Linear(c["H"], c["O"]) if c["O"] else None
        self.output = c["output"]
        self.mean = self.std = None


def activation(net, z):
    if net.head is None or net.output in (None, "identity"):
        return z
    if net.output == "sigmoid":
        return torch.sigmoid(z)
    return torch.softmax(z, dim=-1)


def batch_loss(net, c, batch):
    """Each sequence alone, then the loss over the concatenated rows."""
    rows, states = [], []
    for b, x in enumerate(batch["seqs"]):
        if net.mean is not None:
            x = (x - net.mean) / net.std
        hc = None
        if batch.get("h0") is not None:
            hc = (batch["h0"][b].unsqueeze(1).detach(),
                  batch["c0"][b].unsqueeze(1).detach())
        y, (h_n, c_n) = net.lstm(x.unsqueeze(1), hc)
        y = y.squeeze(1)
        z = net.head(y) if net.head is not None else y
        rows.append(z[-1:] if c["last"] else z)
        states.append((h_n.squeeze(1), c_n.squeeze(1)))
    z = torch.cat(rows)
    if c["loss"] == "ce":
        return F.cross_entropy(z, batch["ids"]), states
    return F.mse_loss(activation(net, z), batch["targets"]), states


def packed_loss(net, c, batch):
    """The same loss through one padded batch and pack_padded_sequence."""
    seqs = batch["seqs"]
    if net.mean is not None:
        seqs = [(x - net.mean) / net.std for x in seqs]
    lengths = torch.tensor(batch["lengths"])
    padded = nn.utils.rnn.pad_sequence(seqs)            # [T, B, I]
    packed = nn.utils.rnn.pack_padded_sequence(padded, lengths,
                                               enforce_sorted=False)
    hc = None
    if batch.get("h0") is not None:
        hc = (batch["h0"].transpose(0, 1).contiguous(),
              batch["c0"].transpose(0, 1).contiguous())
    y, _ = net.lstm(packed, hc)
    y, _ = nn.utils.rnn.pad_packed_sequence(y)          # [T, B, H]
    rows = []
    for b, n in enumerate(batch["lengths"]):
        yb = y[:n, b]
        z = net.head(yb) if net.head is not None else yb
        rows.append(z[-1:] if c["last"] else z)
    z = torch.cat(rows)
    if c["loss"] == "ce":
        return F.cross_entropy(z, batch["ids"])
    return F.mse_loss(activation(net, z), batch["targets"])


def build(c):
    torch.manual_seed(c["seed"])
    net = Net(c).float()
    with torch.no_grad():
        if c.get("init") == "uniform1":
            for p in net.lstm.parameters():
                p.uniform_(-1.0, 1.0)
    if c.get("norm"):
        net.mean = torch.randn(c["I"]) * 0.5
        net.std = torch.empty(c["I"]).uniform_(0.5, 2.0)
    I, H, L = c["I"], c["H"], c["L"]
    O = c["O"] if c["O"] else H
    lengths = c["lengths"]
    batch = dict(lengths=lengths,
                 seqs=[torch.randn(n, I) + 0.3 for n in lengths])
    n_rows = len(lengths) if c["last"] else sum(lengths)
    if c["loss"] == "ce":
        ids = torch.randint(0, O, (n_rows,))
        n_ignore = c.get("ignore", 0)
        if n_ignore:
            ids[torch.randperm(n_rows)[:n_ignore]] = IGNORE
        batch["ids"] = ids
    else:
        t = torch.rand(n_rows, O) if c["output"] == "sigmoid" else torch.randn(n_rows, O)
        batch["targets"] = t
    if c.get("states"):
        batch["h0"] = torch.randn(len(lengths), L, H) * 0.5
        batch["c0"] = torch.randn(len(lengths), L, H) * 0.5
    return net, batch


def model_tensors(net):
    out = [("lstm." + k, v) for k, v in net.lstm.state_dict().items()]
    if net.head is not None:
        out += [("head." + k, v) for k, v in net.head.state_dict().items()]
    if net.mean is not None:
        out += [("input_mean", net.mean), ("input_std", net.std)]
    return out


def named_params(net):
    out = [("lstm." + k, p) for k, p in net.lstm.named_parameters()]
    if net.head is not None:
        out += [("head." + k, p) for k, p in net.head.named_parameters()]
    return out


def batch_tensors(c, batch):
    out = [("lengths", torch.tensor(batch["lengths"], dtype=torch.float32)),
           ("input", torch.cat(batch["seqs"]))]
    if c["loss"] == "ce":
        out.append(("class_ids", batch["ids"].to(torch.float32)))
    else:
        out.append(("targets", batch["targets"]))
    if batch.get("h0") is not None:
        out += [("h0", batch["h0"]), ("c0", batch["c0"])]
    return out


def model_metadata(c):
    return {"output": c["output"]} if c["O"] else None


def case_metadata(c):
    return {"loss": c["loss"], "last_frame_only": "1" if c["last"] else "0"}


def gradient_case(c):
    net, batch = build(c)
    loss, states = batch_loss(net, c, batch)
    net.zero_grad()
    loss.backward()
    with torch.no_grad():
        check = packed_loss(net, c, batch)
    if abs(check.item() - loss.item()) > 1e-5 * max(1.0, abs(loss.item())):
        raise SystemExit("%s: packed batch loss %.9g != per-sequence %.9g"
                         % (c["name"], check.item(), loss.item()))
    tensors = batch_tensors(c, batch)
    if batch.get("h0") is not None:
        tensors += [("h_n", torch.stack([h for h, _ in states])),
                    ("c_n", torch.stack([cc for _, cc in states]))]
    tensors.append(("loss", loss.detach().reshape(1)))
    tensors += [("grad." + n, p.grad) for n, p in named_params(net)]
    return (safetensors_bytes(model_tensors(net), model_metadata(c)),
            safetensors_bytes(tensors, case_metadata(c)))


def make_optimizer(params, s):
    opt = s["optimizer"]
    wd = s.get("weight_decay", 0.0)
    if opt == "sgd":
        return torch.optim.SGD(params, lr=s["lr"], momentum=s.get("momentum", 0.0),
                               dampening=s.get("dampening", 0.0),
                               nesterov=bool(s.get("nesterov", 0)), weight_decay=wd)
    if opt == "adam":
        return torch.optim.Adam(params, lr=s["lr"], weight_decay=wd)
    if opt == "adamw":
        return torch.optim.AdamW(params, lr=s["lr"], weight_decay=wd)
    if opt == "rmsprop":
        return torch.optim.RMSprop(params, lr=s["lr"], momentum=s.get("momentum", 0.0),
                                   centered=bool(s.get("centered", 0)), weight_decay=wd)
    raise ValueError(opt)


def run_optimizer(c, name, s, steps, keep_every_step):
    net, batch = build(c)
    params = [p for _, p in named_params(net)]
    opt = make_optimizer(params, s)
    losses, tensors = [], []
    for step in range(1, steps + 1):
        opt.zero_grad()
        loss, _ = batch_loss(net, c, batch)
        loss.backward()
        losses.append(loss.item())
        if keep_every_step:
            tensors += [("%s.%d.grad.%s" % (name, step, n), p.grad.clone())
                        for n, p in named_params(net)]
        if s.get("clip"):
            norm = nn.utils.clip_grad_norm_(params, s["clip"])
            if step == 1 and norm.item() <= s["clip"]:
                raise SystemExit("%s: gradient norm %g does not exceed clip %g"
                                 % (name, norm.item(), s["clip"]))
        opt.step()
        if keep_every_step or step == steps:
            tensors += [("%s.%d.param.%s" % (name, step, n), p.detach().clone())
                        for n, p in named_params(net)]
    return [("%s.loss" % name, torch.tensor(losses))] + tensors


def optim_case(c):
    net, batch = build(c)
    tensors = batch_tensors(c, batch)
    meta = case_metadata(c)
    for name, s in OPTIMS:
        tensors += run_optimizer(c, name, s, OPTIM_STEPS, True)
        meta["optim." + name] = " ".join("%s=%s" % (k, v) for k, v in s.items()) \
            + " steps=%d" % OPTIM_STEPS
    name, s, steps = LONG_RUN
    tensors += run_optimizer(c, name, s, steps, False)
    meta["optim." + name] = " ".join("%s=%s" % (k, v) for k, v in s.items()) \
        + " steps=%d" % steps
    return (safetensors_bytes(model_tensors(net), model_metadata(c)),
            safetensors_bytes(tensors, meta))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="check that regenerating gives the files on disk")
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(OUT_DIR, exist_ok=True)

    outputs = []
    for c in CASES:
        outputs.append((c["name"], gradient_case(c)))
    outputs.append((OPTIM_CASE["name"], optim_case(OPTIM_CASE)))

    total = 0
    for name, (model, data) in outputs:
        for suffix, blob in ((".safetensors", model), (".data.safetensors", data)):
            path = os.path.join(OUT_DIR, name + suffix)
            total += len(blob)
            if args.check:
                with open(path, "rb") as f:
                    if f.read() != blob:
                        print("%s differs from a fresh run" % path, file=sys.stderr)
                        return 1
            else:
                with open(path + ".tmp", "wb") as f:
                    f.write(blob)
                os.replace(path + ".tmp", path)
            print("%-44s %8d bytes" % ("train/" + name + suffix, len(blob)))
    print("total %d bytes" % total)
    if total > MAX_TOTAL_BYTES:
        print("more than %d bytes" % MAX_TOTAL_BYTES, file=sys.stderr)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
