#!/usr/bin/python3
"""Reference for lstmtrain's one-step check (tests/test-element-train.c).

Writes train-element/sgd_init.safetensors (an nn.LSTM(3, 5) + nn.Linear(5, 2)
classifier with input_mean 0 and input_std 1, so lstmtrain keeps that
normalization), train-element/sgd_data.safetensors (`input` [7, 3], the
one sequence) and train-element/sgd_after.safetensors (the model after one
torch.optim.SGD step, lr 0.1, momentum 0.9 (one step: no effect yet but
the buffer), on nn.CrossEntropyLoss over the sequence's 7 frames, each
labelled class 1 — what lstmtrain's default loss does with a fixed label).
Run with Debian's /usr/bin/python3 (python3-torch); deterministic.
"""
import json
import os
import struct

import numpy as np
import torch

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "train-element")


def save(path, tensors, metadata=None):
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors:
        a = np.ascontiguousarray(t.detach().numpy().astype("<f4"))
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [off, off + a.nbytes]}
        blobs.append(a.tobytes())
        off += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def state(lstm, head):
    return ([("lstm." + k, v) for k, v in lstm.state_dict().items()]
            + [("head." + k, v) for k, v in head.state_dict().items()]
            + [("input_mean", torch.zeros(3)), ("input_std", torch.ones(3))])


def main():
    os.makedirs(HERE, exist_ok=True)
    torch.manual_seed(2024)
    lstm, head = torch.nn.LSTM(3, 5), torch.nn.Linear(5, 2)
    x = torch.randn(7, 3)
    meta = {"output": "softmax", "labels": json.dumps(["no", "yes"])}
    save(os.path.join(HERE, "sgd_init.safetensors"), state(lstm, head), meta)
    save(os.path.join(HERE, "sgd_data.safetensors"), [("input", x)])
    params = list(lstm.parameters()) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=0.1, momentum=0.9)
    out, _ = lstm(x.unsqueeze(1))
    loss = torch.nn.functional.cross_entropy(head(out.squeeze(1)),
                                             torch.ones(7, dtype=torch.long))
    opt.zero_grad()
    loss.backward()
    opt.step()
    save(os.path.join(HERE, "sgd_after.safetensors"), state(lstm, head), meta)
    print("loss before the step", float(loss))


if __name__ == "__main__":
    main()
