"""`rescue image` to nbd:// (qemu-nbd on the host, reached as 10.0.2.2): a 32
MiB source with failing sectors (QEMU blkdebug) imaged into an export of 32
MiB + 1 MiB. qemu-nbd is killed and started again mid-run: the run reconnects
and completes. The export's first 32 MiB equal the source with the failing
sectors zeroed, the map in the export's last 1 MiB names exactly the failing
sectors, a second run resumes from that map, and `rescue verify` finds the map
there and reads the image back over NBD to compare. An export too small and an
unknown export name are refused with exit 3. The source is unchanged."""

import hashlib
import re
import time

import lib

TIMEOUT = 900

SECTOR = 512
SIZE = 32 << 20
BAD = sorted([1000, 9999, 33333, 50001] + list(range(20000, 20016)))


def _make_source(path):
    return lib.faulty_disk(path, SIZE, BAD, seed=11)


def _bad_runs():
    return lib.bad_runs(BAD)


_map_extents = lib.map_extents


def _sha_prefix(path, size):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        digest.update(f.read(size))
    return digest.hexdigest()


def _written_past(path, position):
    """Whether the export holds source data (non-zero) at POSITION already."""
    with open(path, "rb") as f:
        f.seek(position)
        return any(f.read(4096))


def test_image_to_nbd_reconnects_after_a_server_restart(ctx):
    source = ctx.path("src.img")
    expected = _make_source(source)
    before = lib.sha256(source)
    faults = lib.blkdebug_config(ctx.path("faults.conf"), BAD)
    export = ctx.path("export.raw")
    with open(export, "wb") as f:
        f.truncate(SIZE + (1 << 20))
    small = ctx.path("small.raw")
    with open(small, "wb") as f:
        f.truncate(SIZE)

    server = lib.NbdServer(ctx.work.path("nbd"), export)
    ctx.on_cleanup(server.stop)
    small_server = lib.NbdServer(ctx.work.path("nbd-small"), small, name="small")
    ctx.on_cleanup(small_server.stop)
    url = "nbd://10.0.2.2:%d/disk" % server.port
    guest = ctx.guest("--disk", source + ",faults=" + faults, "--host-port", str(server.port),
                      "--host-port", str(small_server.port), "--memory", "512")
    guest.wait_for(r"^rescue: ready .*\n", timeout=180)
    lib.menu_shell(guest)

    # Refusals first (bad input fails fast, exit 3, the export named).
    code, text = lib.console_run(guest, "rescue image vda nbd://10.0.2.2:%d/nosuch"
                                 % server.port)
    assert code == 3 and "no export named 'nosuch'" in text, text
    code, text = lib.console_run(guest, "rescue image vda nbd://10.0.2.2:%d/small"
                                 % small_server.port)
    # The image command tells the store the image's size before opening it.
    assert code == 3 and "make it at least 34603008 bytes" in text, text
    assert not any(open(small, "rb").read()), "the refused export was written"

    # The run, in the background; qemu-nbd dies and comes back once data is flowing.
    guest.sendline("rescue image vda %s > /tmp/run.log 2>&1; echo run-exit=$?" % url)
    lib.wait_until(lambda: _written_past(export, 1 << 20), 300, "data in the export",
                   interval=0.02)
    server.restart(pause=3)
    guest.wait_for(r"^run-exit=(\d+)", timeout=600)
    code, log = lib.console_run(guest, "cat /tmp/run.log")
    with open(ctx.path("run.log"), "w") as f:
        f.write(log)
    assert re.search(r"^run-exit=1", guest.output(), re.M), log
    assert re.search(r"reconnecting in \d+ s", log), "no reconnect:\n" + log
    assert _sha_prefix(export, SIZE) == expected, "the image differs from the source"
    found = lib.nbd_tail_map(export)
    assert found, "no map in the export's tail"
    name, text = found
    assert name == "vda", name
    assert "# rescue source: vda size %d sector 512" % SIZE in text, text
    assert _map_extents(text, "-") == _bad_runs(), "bad areas differ:\n" + text
    for state in "?*/":
        assert not _map_extents(text, state), "state %s left:\n%s" % (state, text)

    # After a "reboot" the map is found in the export: the same command resumes.
    code, text = lib.console_run(guest, "rescue image vda %s" % url, timeout=600)
    assert code == 1 and "resuming from its map" in text, text
    assert _sha_prefix(export, SIZE) == expected, "the resumed run changed the image"
    # rescue verify finds vda's map in the export's tail and reads the image back over NBD.
    code, text = lib.console_run(guest, "rescue verify %s" % url, timeout=600)
    assert code == 0, "verify: exit %d:\n%s" % (code, text)
    guest.stop(command="poweroff")
    assert lib.sha256(source) == before, "the source disk changed"
