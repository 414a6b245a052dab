#!/usr/bin/python3
"""The same network trained by PyTorch on the same features, for comparison.

    train_torch.py DATA_DIR [--hidden-size H] [--epochs E] [--lr LR]
                   [--clip-grad-norm C] [--batch-size B] [--patience P]
                   [--finetune-epochs F] [--mel-bins N] [--seed S]
                   [--cmn-window W] [--num-layers L] [--dropout D]

Features: torchaudio.compliance.kaldi.fbank on each cue's samples (the
frames lstmfeatures gives lstmtrain for that cue: lstmfeatures matches
torchaudio, see the README). With --cmn-window W, then
torchaudio.functional.sliding_window_cmn (cmn_window=W, as lstmfeatures'
cmn-window): over the whole training stream, as lstmfeatures runs in
run.sh's training pipeline, and over each cue alone for the validation and
test voices, as evaluate.py feeds each cue as a new stream. Network: nn.LSTM + nn.Linear, inputs
normalized by the training frames' mean and std, cross-entropy on every
frame of a sequence (lstmtrain's default), Adam, gradient clipping, 10 %
of the training sequences held out for early stopping, the best epoch by
validation loss kept; then, as run.sh does with lstmtrain's init-model,
F more epochs at a tenth of the learning rate from that model. Held-out accuracy: the last frame's class, as
`lstm output-mode=last` reads it.
"""
import argparse
import os

import numpy as np
import torch
import torchaudio

import kwsdata


def features(prefix, labels, mel_bins, cmn_window=0, stream=False):
    """[N, T, mel_bins] float32 features and [N] class ids of a split;
    with cmn_window, sliding-window CMN over the whole split's frame stream
    (stream) or over each cue's frames."""
    utts, rate = kwsdata.utterances(prefix)
    xs = [torchaudio.compliance.kaldi.fbank(
        torch.from_numpy(x.astype(np.float64))[None], num_mel_bins=mel_bins,
        sample_frequency=rate).float() for x, _ in utts]
    assert len(set(x.shape[0] for x in xs)) == 1, "cues of unequal lengths"
    x = torch.stack(xs)
    if cmn_window and stream:
        # the cues tile the WAV (1 s slots, 100 frames each, no gaps), so
        # the stream's frames are the cues' frames one after the other
        starts = [a for a, _, _ in kwsdata.read_srt(prefix + ".srt")]
        assert all(abs(s - i * (starts[1] - starts[0])) < 1e-6
                   for i, s in enumerate(starts)), "cues are not contiguous"
        assert abs((starts[1] - starts[0]) * 100 - x.shape[1]) < 1e-6
        flat = torchaudio.functional.sliding_window_cmn(
            x.reshape(-1, x.shape[-1]), cmn_window=cmn_window)
        x = flat.reshape(x.shape)
    elif cmn_window:
        x = torch.stack([torchaudio.functional.sliding_window_cmn(
            c, cmn_window=cmn_window) for c in x])
    return x, torch.tensor([labels.index(u[1]) for u in utts])


class Net(torch.nn.Module):
    def __init__(self, n_in, hidden, n_out, mean, std, layers=1, dropout=0.0):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.lstm = torch.nn.LSTM(n_in, hidden, num_layers=layers,
                                  dropout=dropout, batch_first=True)
        self.head = torch.nn.Linear(hidden, n_out)

    def forward(self, x):
        return self.head(self.lstm((x - self.mean) / self.std)[0])


def frame_loss(net, x, y, last=False):
    """Cross-entropy on every frame, the sequence's class on each; last:
    on each sequence's last frame only (lstmtrain loss=cross-entropy-last)."""
    out = net(x)
    if last:
        return torch.nn.functional.cross_entropy(out[:, -1], y)
    return torch.nn.functional.cross_entropy(
        out.reshape(-1, out.shape[-1]),
        y[:, None].expand(-1, out.shape[1]).reshape(-1))


def split(a, x, y):
    """(train x, train y, val x, val y): 10 % of the sequences held out."""
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(
        a.seed))
    n_val = int(round(0.1 * len(x)))
    return x[perm[n_val:]], y[perm[n_val:]], x[perm[:n_val]], y[perm[:n_val]]


def stage(net, data, lr, epochs, a, name):
    """Adam from a fresh state for up to `epochs`; keeps the epoch of the
    best validation loss, stops after a.patience epochs without one."""
    xt, yt, xv, yv = data
    g = torch.Generator().manual_seed(a.seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    best, best_state, stale = float("inf"), None, 0
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(xt), generator=g)
        for i in range(0, len(xt), a.batch_size):
            b = order[i:i + a.batch_size]
            opt.zero_grad()
            loss = frame_loss(net, xt[b], yt[b], a.loss == "last")
            loss.backward()
            if a.clip_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(net.parameters(),
                                               a.clip_grad_norm)
            opt.step()
        with torch.no_grad():
            vl = frame_loss(net.eval(), xv, yv, a.loss == "last").item()
        print("torch %s epoch %d: train-loss %.4f val-loss %.4f" %
              (name, epoch + 1, loss.item(), vl), flush=True)
        if vl < best:
            best, stale = vl, 0
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
        else:
            stale += 1
            if a.patience and stale >= a.patience:
                break
    net.load_state_dict(best_state)


def train(a, x, y, n_out):
    """Two stages as run.sh trains: lr, then lr / 10 from the best model."""
    torch.manual_seed(a.seed)
    data = split(a, x, y)
    flat = data[0].reshape(-1, x.shape[-1])
    net = Net(x.shape[-1], a.hidden_size, n_out, flat.mean(0),
              flat.std(0, unbiased=False).clamp_min(1e-6), a.num_layers,
              a.dropout)
    stage(net, data, a.lr, a.epochs, a, "stage 1")
    if a.finetune_epochs:
        stage(net, data, a.lr / 10, a.finetune_epochs, a, "stage 2")
    return net.eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--hidden-size", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--lr", type=float, default=0.005)
    ap.add_argument("--clip-grad-norm", type=float, default=5.0)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--patience", type=int, default=8)
    ap.add_argument("--finetune-epochs", type=int, default=0)
    ap.add_argument("--mel-bins", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cmn-window", type=int, default=0)
    ap.add_argument("--num-layers", type=int, default=1)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--loss", choices=("frame", "last"), default="frame",
                    help="cross-entropy on every frame or the last only")
    a = ap.parse_args()
    torch.set_num_threads(1)
    labels = open(os.path.join(a.data, "labels.txt")).read().strip().split(",")
    x, y = features(os.path.join(a.data, "train"), labels, a.mel_bins,
                    a.cmn_window, stream=True)
    net = train(a, x, y, len(labels))
    for split in ("val", "test"):
        x, y = features(os.path.join(a.data, split), labels, a.mel_bins,
                        a.cmn_window)
        with torch.no_grad():
            pred = net(x)[:, -1].argmax(-1)
        kwsdata.report("PyTorch, %s voices" % split, labels,
                       [labels[i] for i in y], [labels[i] for i in pred])


if __name__ == "__main__":
    main()
