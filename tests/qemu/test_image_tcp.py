"""`rescue image` to tcp:// (lib.TcpSink on the host, reached as 10.0.2.2):
a healthy 16 MiB source arrives whole and in order (exit 0); a source with a
failing sector is refused as soon as imaging has to skip (exit 3, the message
says why and points to ssh:// and nbd://); a connection the receiver drops
stops the run the same way. Both sources are unchanged."""

import os
import random
import re

import lib

TIMEOUT = 600

SIZE = 16 << 20


def _make(path, seed):
    with open(path, "wb") as f:
        f.write(random.Random(seed).randbytes(SIZE))
    return lib.sha256(path)


def test_image_to_tcp_stream(ctx):
    healthy = ctx.path("healthy.img")
    healthy_before = _make(healthy, 5)
    failing = ctx.path("failing.img")
    failing_before = _make(failing, 6)
    faults = lib.blkdebug_config(ctx.path("faults.conf"), [12345])
    received = ctx.work.path("received")
    cut = ctx.work.path("cut")
    os.makedirs(received)
    os.makedirs(cut)
    sink = lib.TcpSink(received)
    ctx.on_cleanup(sink.stop)
    cutting = lib.TcpSink(cut, cut_after=3 << 20)
    ctx.on_cleanup(cutting.stop)

    guest = ctx.guest("--disk", healthy, "--disk", failing + ",faults=" + faults,
                      "--host-port", str(sink.port), "--host-port", str(cutting.port))
    guest.wait_for(r"^rescue: ready .*\n", timeout=180)
    lib.menu_shell(guest)

    code, text = lib.console_run(guest, "rescue image vda tcp://10.0.2.2:%d" % sink.port,
                                 timeout=400)
    assert code == 0, "exit %d:\n%s" % (code, text)
    lib.wait_until(lambda: len(sink.files) == 1 and os.path.getsize(sink.files[0]) >= SIZE,
                   60, "the whole stream at the receiver")
    assert lib.sha256(sink.files[0]) == healthy_before, "the bytes received differ"
    code, text = lib.console_run(guest, "cat /run/rescue/tcp/vda.map")
    assert code == 0 and re.search(r"^0x00000000\s+0x01000000\s+\+$", text, re.M), text

    code, text = lib.console_run(guest, "rescue image vdb tcp://10.0.2.2:%d" % sink.port,
                                 timeout=400)
    assert code == 3, "exit %d:\n%s" % (code, text)
    assert re.search(r"a tcp:// stream takes the source's bytes in order only, but the next "
                     r"write is at byte \d+ after \d+ bytes sent \(a read error made imaging "
                     r"skip ahead", text), text
    assert "ssh:// or nbd://" in text, text

    code, text = lib.console_run(guest, "rescue image vda tcp://10.0.2.2:%d" % cutting.port,
                                 timeout=400)
    assert code == 3, "exit %d:\n%s" % (code, text)
    assert re.search(r"the stream broke after \d+ bytes .*cannot be resumed", text), text
    assert "ssh:// or nbd://" in text, text
    guest.stop(command="poweroff")
    assert lib.sha256(healthy) == healthy_before, "the healthy source changed"
    assert lib.sha256(failing) == failing_before, "the failing source changed"
