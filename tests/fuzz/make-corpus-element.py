#!/usr/bin/python3
"""Writes the seed corpus of fuzz-element (tests/fuzz/corpus-element/).

Each seed is a short program in the byte code fuzz-element.c reads: an
operation byte, then its arguments. One seed per feature, so that the
fuzzer starts from inputs that reach every operation.

    /usr/bin/python3 tests/fuzz/make-corpus-element.py
"""
import os

BUF, FLUSH, CAPS, RESET_EV, RESET_SIG, PROP, SRC_CAPS, STATE = (
    0, 8, 9, 10, 11, 12, 13, 14)
MODEL, SEGMENT, EOS = 0x1F, 0x2F, 0x0F


def buf(frames, flags=0, samples=None, extra=b""):
    """A buffer of `frames` frames of 3 channels (frames < 24, or with
    flags & 0x80 60 to 259)."""
    if samples is None:
        samples = bytes((i * 37) % 200 for i in range(frames * 3))
    count = frames - 60 if flags & 0x80 else frames
    return bytes([BUF, count, flags]) + extra + samples


def text(kind):
    return bytes([SRC_CAPS, kind])


def prop(which, value):
    return bytes([PROP, which, value])


SEEDS = {
    "plain": buf(10) + buf(10) + buf(0),
    "chunks": buf(200, 0x80) + buf(4, 0x08),
    "nan-inf-huge": buf(4, 0, bytes([0xFF, 1, 2, 3, 0xFE, 4, 0xFD, 5, 6,
                                     0xFC, 0xFC, 0xFC])) + buf(2),
    "partial": buf(3, 0x07, extra=bytes([2])) + buf(3),
    "pts-none-jump-end": buf(3, 0x20) + buf(3, 0x40, extra=b"\x00\x10")
    + buf(3, 0x60, extra=b"\x05") + buf(3),
    "discont-gap": buf(5) + buf(5, 0x08) + buf(5, 0x10)
    + prop(3, 0) + buf(5, 0x08),
    "flush-segment-eos": buf(5) + bytes([FLUSH, 1]) + buf(5)
    + bytes([SEGMENT, 0, 100]) + buf(5) + bytes([EOS]) + buf(2)
    + bytes([FLUSH, 0]) + buf(2),
    "caps-s16-rate": buf(5) + bytes([CAPS, 1, 0x3E, 0x80]) + buf(5)
    + bytes([CAPS, 0xF4, 0, 10]) + buf(5) + bytes([CAPS, 0, 0, 99]) + buf(5),
    "resets": buf(5) + bytes([RESET_EV]) + buf(5) + bytes([RESET_SIG])
    + buf(5),
    "text-label": text(0) + buf(5) + prop(0, 0) + buf(3),
    "text-json": text(0) + prop(0, 1) + buf(5) + text(1) + buf(3),
    "messages": prop(1, 1) + prop(2, 0) + buf(5) + prop(2, 2) + buf(20),
    "stride": prop(0x14, 2) + text(0) + buf(9) + prop(0x14, 3) + buf(9),
    "last": prop(4, 2) + buf(5) + bytes([RESET_SIG]) + buf(5)
    + text(0) + buf(5, 0x08) + bytes([EOS]),
    "state": buf(5) + bytes([STATE, 0]) + buf(5) + bytes([STATE, 1])
    + bytes([STATE, 3, 0, 7]) + bytes([STATE, 5, 0, 3, 0x40]) + buf(2),
    "model-swap": buf(5) + bytes([MODEL, 1]) + buf(5) + bytes([STATE, 0])
    + bytes([MODEL, 1]) + buf(5) + bytes([STATE, 1]) + bytes([MODEL, 0])
    + buf(5),
}

here = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                    "corpus-element")
os.makedirs(here, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)
print(f"{len(SEEDS)} seeds in {here}")
