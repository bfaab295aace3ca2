"""`rescue image` against a source with real failing sectors (QEMU blkdebug):
scattered single bad sectors and a clustered bad run. The run ends with exit 1,
the map's bad areas are exactly the failing sectors, the image equals the
source with those sectors zeroed, and the source is unchanged. A run stopped
with SIGINT saves its map and the same command resumes to the same result.
Then the refusals a user meets, each naming the value, with its exit code,
leaving the map as it was: a source that is no block device, a missing
source, a missing target directory, a target on a guarded disk or on the
disk being imaged, a full target, and a map of another disk."""

import hashlib
import json
import os
import random
import re

import lib

TIMEOUT = 900

SECTOR = 512
SIZE_MB = 32
SCATTERED = [1000, 9999, 33333, 50001, 65000]
CLUSTER = list(range(20000, 20024))
BAD = sorted(SCATTERED + CLUSTER)


def _make_source(path):
    return lib.faulty_disk(path, SIZE_MB * 1024 * 1024, BAD, seed=7)


def _bad_runs():
    return lib.bad_runs(BAD)


_map_extents = lib.map_extents


def _run(guest, command, timeout=600):
    return lib.console_run(guest, command, timeout=timeout)


def _check_result(guest, directory, expected_sha):
    code, text = _run(guest, "cat %s/vda.map" % directory)
    assert code == 0, text
    assert "# rescue source: vda size %d sector 512" % (SIZE_MB << 20) in text, text
    assert _map_extents(text, "-") == _bad_runs(), "bad areas differ:\n" + text
    for state in "?*/":
        assert not _map_extents(text, state), "state %s left:\n%s" % (state, text)
    code, text = _run(guest, "sha256sum %s/vda.img" % directory)
    assert code == 0 and text.split()[0] == expected_sha, \
        "image sha256 %s, want %s" % (text.strip(), expected_sha)


def _guest_sha256(guest, path):
    """The sha256 of PATH in the guest; a missing file fails here instead of comparing
    equal to itself later."""
    code, text = _run(guest, "sha256sum %s" % path)
    assert code == 0 and re.match(r"[0-9a-f]{64} ", text), "sha256sum %s: %s" % (path, text)
    return text.split()[0]


def _refused(guest, command, code, pattern):
    got, text = _run(guest, command)
    assert got == code, "%s: exit %d, want %d:\n%s" % (command, got, code, text)
    assert re.search(pattern, text), "%s: message lacks %r:\n%s" % (command, pattern, text)
    return text


def test_image_bad_sectors_resume_and_refusals(ctx):
    source = ctx.path("src.img")
    expected_sha = _make_source(source)
    before = lib.sha256(source)
    faults = lib.blkdebug_config(ctx.path("faults.conf"), BAD)
    other = lib.make_ext4(ctx.path("other.img"), 16, files={"a.txt": "other\n"})
    other_before = lib.sha256(other)

    guest = ctx.guest("--disk", source + ",faults=" + faults + ",serial=SRC-1",
                      "--disk", other, "--append", "rescue.net=none")
    guest.wait_for(r"^rescue: ready .*\n", timeout=180)
    lib.menu_shell(guest)

    # The whole run: exit 1 (bad areas), every good byte, the bad ones exactly.
    code, text = _run(guest, "mkdir /tmp/t && time rescue image vda file:///tmp/t", timeout=800)
    assert code == 1, "exit %d, want 1:\n%s" % (code, text)
    assert re.search(r"vda: %d of %d bytes rescued .*, %d bytes bad in %d areas" % (
        (SIZE_MB << 20) - len(BAD) * SECTOR, SIZE_MB << 20, len(BAD) * SECTOR,
        len(_bad_runs())), text), text
    _check_result(guest, "/tmp/t", expected_sha)
    with open(ctx.path("first-run.txt"), "w") as f:
        f.write(text)

    # Stopped by SIGINT mid-run: the map is saved and true; the same command resumes.
    # One-sector clusters (each an O_DIRECT read) make the run long enough to stop.
    code, text = _run(guest, "mkdir /tmp/r && (rescue image --cluster-size 1 vda file:///tmp/r "
                      "> /tmp/r.log 2>&1 & pid=$!; while ! grep -q '^imaging' /tmp/r.log; do "
                      "sleep 0.2; done; sleep 1; kill -INT $pid; wait $pid; echo exit=$?); "
                      "cat /tmp/r.log; cat /tmp/r/vda.map", timeout=600)
    assert "exit=3" in text and "stopped by a signal" in text, text
    assert _map_extents(text, "?"), "the run was not stopped mid-way:\n" + text
    code, text = _run(guest, "rescue image vda file:///tmp/r", timeout=800)
    assert code == 1 and "resuming from its map" in text, text
    _check_result(guest, "/tmp/r", expected_sha)

    # Refusals, each naming the value, the map untouched.
    map_sha = _guest_sha256(guest, "/tmp/t/vda.map")
    _refused(guest, "rescue image /tmp/t/vda.img file:///tmp/t", 3,
             r"unable to image /tmp/t/vda\.img: not a block device")
    _refused(guest, "rescue image vdz file:///tmp/t", 3, r"unable to image vdz: no such device")
    _refused(guest, "rescue image vda file:///tmp/missing", 3,
             r"/tmp/missing: no such directory")
    _refused(guest, "rescue image vda gopher://x/y", 2, r"not a target URL: gopher://x/y")
    _refused(guest, "rescue image --size 1000 vda file:///tmp/t", 2, r"--size 1000: not a size")
    _refused(guest, "rescue image --name vda vdb file:///tmp/t", 3,
             r"unable to resume from vda\.map on file:///tmp/t: the map covers 33554432 bytes"
             r" of vda, the source vdb has 16777216; it was left as it is")
    after = _guest_sha256(guest, "/tmp/t/vda.map")
    assert after == map_sha, "the map changed: %s -> %s" % (map_sha, after)
    _run(guest, "mkdir -p /tmp/small && mount -t tmpfs -o size=8m tmpfs /tmp/small")
    _refused(guest, "rescue image vda file:///tmp/small", 3,
             r"unable to image vda to file:///tmp/small: target full: it has 8\.0 MiB")
    code, text = _run(guest, "mkdir -p /mnt/g && mount -t ext4 -o ro,noload /dev/vdb /mnt/g")
    assert code == 0, "cannot mount vdb read-only: " + text
    _refused(guest, "rescue image vda file:///mnt/g", 3, r"/mnt/g is on vdb, a guarded disk")
    _refused(guest, "rescue image vdb file:///mnt/g", 3,
             r"/mnt/g is on vdb, part of vdb, the disk being imaged")
    _run(guest, "umount /mnt/g")

    code, text = _run(guest, "rescue log --tail 12")
    assert re.search(r"vda to file:///tmp/t/vda\.img: \d+ bytes rescued, %d bad in %d areas"
                     % (len(BAD) * SECTOR, len(_bad_runs())), text), text
    guest.stop(command="poweroff")
    assert lib.sha256(source) == before, "the source disk changed"
    assert lib.sha256(other) == other_before, "the other disk changed"


def test_image_menu_json_and_full_target_midway(ctx):
    """From the menu; --json lines; a target that fills up mid-run stops the run with
    exit 3 and "target full", the map on the target stays true, and once there is room
    the same command resumes to the right image. Also times dd against rescue image on a
    healthy disk (printed into the work dir, not asserted: TCG timings vary)."""
    source = ctx.path("src.img")
    _make_source(source)
    before = lib.sha256(source)
    with open(source, "rb") as f:
        prefix = bytearray(f.read(16 << 20))
    for sector in BAD:
        if sector * SECTOR < len(prefix):
            prefix[sector * SECTOR:(sector + 1) * SECTOR] = bytes(SECTOR)
    prefix_sha = hashlib.sha256(prefix).hexdigest()
    faults = lib.blkdebug_config(ctx.path("faults.conf"), BAD)
    healthy = ctx.path("healthy.img")
    with open(healthy, "wb") as f:
        f.write(random.Random(3).randbytes(64 << 20))
    healthy_before = lib.sha256(healthy)

    guest = ctx.guest("--disk", source + ",faults=" + faults, "--disk", healthy,
                      "--memory", "768", "--append", "rescue.net=none")
    guest.wait_for(r"^rescue: ready .*\n", timeout=180)

    # The menu entry asks for the operands and prints the command line it runs.
    guest.wait_for(r"^Choose ", timeout=120)
    entry = re.search(lib.menu_entry(r"image a disk to a target"), guest.output(), re.M)
    assert entry, "no image entry in the menu:\n" + guest.tail()
    guest.sendline(entry.group(1))
    guest.wait_for(r"source and target \(e\.g\. sda ssh://user@host/dir\) "
                   r"\(Enter alone goes back\): $")
    guest.sendline("vda file:///tmp")
    guest.wait_for_line(r"\$ rescue image vda file:///tmp")
    guest.wait_for_line(r"vda: \d+ of 33554432 bytes rescued .*", timeout=300)
    guest.wait_for(r"^Choose ")
    guest.sendline("")
    lib.menu_shell(guest)

    # --json: one object per line, the last the summary.
    code, text = _run(guest, "rescue image --json --name j vda file:///tmp 2>/dev/null")
    assert code == 1, text
    events = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert events and events[-1]["event"] == "summary", text
    summary = events[-1]
    assert summary["exit"] == 1 and summary["bad"] == len(BAD) * SECTOR, summary
    assert summary["bad_areas"] == len(_bad_runs()) and summary["image"] == "j.img", summary
    assert any(e["event"] == "finished" for e in events), text

    # The target fills up while the run goes on (dd takes the rest of the tmpfs).
    command = ("rescue image --cluster-size 1 --size 16M vda file:///tmp/s")
    code, text = _run(guest, "mkdir /tmp/s && mount -t tmpfs -o size=20m tmpfs /tmp/s && "
                      "(%s > /tmp/s.log 2>&1 & pid=$!; while ! grep -q '^imaging' /tmp/s.log; "
                      "do sleep 0.2; done; sleep 1; dd if=/dev/zero of=/tmp/s/fill bs=1M "
                      "2>/dev/null; wait $pid; echo exit=$?); cat /tmp/s.log" % command,
                      timeout=600)
    assert "exit=3" in text, text
    assert re.search(r"unable to finish imaging vda: file:///tmp/s: target full: unable to "
                     r"write \d+ bytes of vda\.img at \d+: No space left on device", text), text
    code, text = _run(guest, "rm /tmp/s/fill && %s" % command, timeout=600)
    assert code == 1 and "resuming from its map" in text, text
    code, text = _run(guest, "sha256sum /tmp/s/vda.img; stat -c %s /tmp/s/vda.img")
    assert code == 0 and text.split()[0] == prefix_sha and text.split()[2] == str(16 << 20), \
        "image %s, want %s of 16 MiB" % (text, prefix_sha)

    # Timings on a healthy 64 MiB disk: dd with two block sizes, then rescue image.
    code, text = _run(guest, "mkdir /tmp/p && cd /tmp/p && "
                      "time dd if=/dev/vdb of=/tmp/p/dd64k.img bs=64k && rm dd64k.img && "
                      "echo 3 > /proc/sys/vm/drop_caches; "
                      "time dd if=/dev/vdb of=/tmp/p/dd1m.img bs=1M && rm dd1m.img && "
                      "echo 3 > /proc/sys/vm/drop_caches; "
                      "time rescue image vdb file:///tmp/p > /dev/null && sha256sum vdb.img; cd /",
                      timeout=600)
    with open(ctx.path("timings.txt"), "w") as f:
        f.write(text)
    assert code == 0 and healthy_before in text, text
    guest.stop(command="poweroff")
    assert lib.sha256(source) == before, "the source disk changed"
    assert lib.sha256(healthy) == healthy_before, "the healthy disk changed"


def test_image_to_nfs_and_smb(ctx):
    """nfs:// and smb:// shares (real NFS-Ganesha and smbd on the host's loopback) hold
    the image and its map like a directory: the host finds the right image and the bad
    sectors exactly in the map; a resumed run finds its map there."""
    source = ctx.path("src.img")
    expected_sha = _make_source(source)
    before = lib.sha256(source)
    faults = lib.blkdebug_config(ctx.path("faults.conf"), BAD)
    with lib.SmbServer(ctx.path()) as smb, lib.NfsServer(ctx.path()) as nfs:
        urls = {"nfs://10.0.2.2:%d/rescue" % nfs.port: nfs.export,
                "smb://backup:s3cret@10.0.2.2:%d/rescue" % smb.port: smb.share}
        with ctx.guest("--disk", source + ",faults=" + faults, "--host-port", str(smb.port),
                       "--host-port", str(nfs.port), "--memory", "768") as guest:
            guest.wait_for(r"^rescue: ready .*\n", timeout=180)
            lib.menu_shell(guest)
            for url, where in urls.items():
                code, text = _run(guest, "rescue image vda '%s' > /dev/null" % url, timeout=600)
                assert code == 1, "%s: exit %d:\n%s" % (url, code, text)
                assert "s3cret" not in text, text
                code, text = _run(guest, "rescue image vda '%s'" % url, timeout=600)
                assert code == 1 and "resuming from its map" in text, text
                assert lib.sha256(os.path.join(where, "vda.img")) == expected_sha, url
                with open(os.path.join(where, "vda.map")) as f:
                    text = f.read()
                assert _map_extents(text, "-") == _bad_runs(), url + ":\n" + text
                assert os.path.exists(os.path.join(where, "vda.map.bak")), url
            code, text = _run(guest, "rescue log --tail 4")
            assert "s3cret" not in text, text
            guest.stop(command="poweroff")
    assert lib.sha256(source) == before, "the source disk changed"
