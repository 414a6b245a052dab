#!/usr/bin/python3
"""Embedding the lstm element in an application (python3-gi).

Feeds frames from Python through appsrc -> lstm -> appsink, reads the
element's 'lstm' bus messages, and snapshots and restores the LSTM state
through the element's 'state' property: the rerun after a restore must give
the very same outputs. Run with Debian's /usr/bin/python3 after a build:

    pipelines/app/app.py [MODEL.safetensors]
"""
import math
import os
import struct
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstApp", "1.0")
from gi.repository import Gst, GstApp  # noqa: E402

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODEL = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    TOP, "tests", "reference", "data", "i40_h128_l2_softmax12.safetensors")
RATE = 100          # frames per second
FRAMES = 10         # frames per buffer


def main():
    os.environ["GST_PLUGIN_PATH"] = os.path.join(TOP, "build", "plugin")
    Gst.init(None)
    pipeline = Gst.parse_launch(
        "appsrc name=src format=time ! lstm name=net model=\"%s\" "
        "post-messages=true message-interval=200000000 ! "
        "appsink name=out sync=false" % MODEL)
    src, net, out = (pipeline.get_by_name(n) for n in ("src", "net", "out"))
    size = 40       # the model's input size
    src.set_caps(Gst.Caps.from_string(
        "audio/x-raw,format=F32LE,layout=interleaved,channels=%d,rate=%d"
        % (size, RATE)))
    # no waiting for PAUSED: an appsink prerolls only once data flows
    pipeline.set_state(Gst.State.PLAYING)
    bus = pipeline.get_bus()

    def push(first, n):
        """Pushes frames [first, first + n) and returns their outputs."""
        outputs = []
        for b in range(first, first + n, FRAMES):
            data = struct.pack("<%df" % (FRAMES * size), *(
                math.sin(0.05 * (t * size + k))
                for t in range(b, b + FRAMES) for k in range(size)))
            buf = Gst.Buffer.new_wrapped(data)
            buf.pts = b * Gst.SECOND // RATE
            buf.duration = FRAMES * Gst.SECOND // RATE
            assert src.emit("push-buffer", buf) == Gst.FlowReturn.OK
            sample = out.emit("pull-sample")   # waits for the output
            outputs.append(sample.get_buffer().extract_dup(
                0, sample.get_buffer().get_size()))
        return b"".join(outputs)

    def read_messages():
        while True:
            msg = bus.pop_filtered(Gst.MessageType.ELEMENT |
                                   Gst.MessageType.ERROR |
                                   Gst.MessageType.WARNING)
            if msg is None:
                return
            if msg.type != Gst.MessageType.ELEMENT:
                err, dbg = (msg.parse_error() if msg.type ==
                            Gst.MessageType.ERROR else msg.parse_warning())
                sys.exit("lstm said: %s (%s)" % (err.message, dbg))
            s = msg.get_structure()
            if s.get_name() == "lstm":
                print("  %5.2f s  %-10s %.3f" % (
                    s.get_value("timestamp") / Gst.SECOND,
                    s.get_value("class"), s.get_value("confidence")))

    print("predictions every 0.2 s (bus messages):")
    push(0, 50)
    read_messages()
    snapshot = net.get_property("state")
    print("state snapshot: %d bytes" % snapshot.get_size())
    first = push(50, 50)
    read_messages()
    net.set_property("state", snapshot)
    second = push(50, 50)
    read_messages()
    same = first == second
    print("restored state, reran frames 50..99: outputs %s" %
          ("identical" if same else "DIFFERENT"))

    src.emit("end-of-stream")
    bus.timed_pop_filtered(5 * Gst.SECOND, Gst.MessageType.EOS)
    pipeline.set_state(Gst.State.NULL)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
