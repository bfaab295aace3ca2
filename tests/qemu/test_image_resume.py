"""Resuming an image across tools and reboots, onto a second virtio disk used as
a persistent file:// target (released with `rescue unguard`, mounted read-write).

ddrescue -> rescue: GNU ddrescue on the host images the first 6 MiB of the
source; `rescue image` resumes from its map and image. The source fails reads
inside those 6 MiB (blkdebug): had rescue read them again, the map would hold
bad areas; it holds none and the image equals the source. `rescue verify` on
the result names exactly those failing sectors as no longer readable, from the
shell and from its menu entry.

rescue -> ddrescue: `rescue image --input-position 8M --size 4M` leaves a
partial image and our map on the target disk; on the host GNU ddrescue
resumes from our map as it is, completes, and its image equals the source.

Reboot mid-run: QEMU is killed while `rescue image` runs on a throttled source
with failing sectors, after the map was saved; booted again (with one more
failing sector inside what the map says is rescued, which only a run that
started over would meet), the same command resumes, completes, the
image equals the source with the failing sectors zeroed and the map's bad
areas are exactly those sectors. In a third boot `rescue verify` finds everything equal;
after a few bytes of the image are changed in the guest it names exactly that
range and exits 1.

Over ssh:// (a real OpenSSH server on the host), `rescue verify` reads the
image back over SFTP: equal after the run, and exactly the bytes changed on the
receiver afterwards are named.

Every test asserts the source disk's sha256 unchanged."""

import hashlib
import json
import os
import random
import re

import lib

TIMEOUT = 900

SECTOR = 512
MIB = 1024 * 1024


def _map_extents(text, state):
    return [(int(m.group(1), 16), int(m.group(2), 16))
            for m in re.finditer(r"^0x([0-9A-Fa-f]+)\s+0x([0-9A-Fa-f]+)\s+(\S)$", text, re.M)
            if m.group(3) == state]


def _runs(sectors):
    """Byte runs (position, size) of consecutive SECTORS."""
    runs = []
    for sector in sorted(sectors):
        if runs and runs[-1][0] + runs[-1][1] == sector * SECTOR:
            runs[-1][1] += SECTOR
        else:
            runs.append([sector * SECTOR, SECTOR])
    return [tuple(run) for run in runs]


def _make_source(path, size_mb, seed):
    data = random.Random(seed).randbytes(size_mb * MIB)
    with open(path, "wb") as f:
        f.write(data)
    return data


def _run(guest, command, timeout=600):
    return lib.console_run(guest, command, timeout=timeout)


def _must(guest, command, timeout=600):
    code, text = _run(guest, command, timeout)
    assert code == 0, "%s: exit %d:\n%s" % (command, code, text)
    return text


def _mount_target(guest):
    """Release the target disk vdb and mount its ext4 read-write at /mnt/t."""
    lib.menu_shell(guest)
    _must(guest, "rescue unguard --yes vdb")
    _must(guest, "mkdir -p /mnt/t && mount -t ext4 /dev/vdb /mnt/t")


def _json_events(text):
    events = []
    for line in text.splitlines():
        if line.startswith("{"):
            events.append(json.loads(line))
    return events


def _debugfs_dump(disk, inside, outside):
    lib.run(["debugfs", "-R", "dump %s %s" % (inside, outside), disk])
    assert os.path.exists(outside), "debugfs could not dump %s from %s" % (inside, disk)


def _verify_lines(text, label):
    """(position, size) of each `differs` or `unreadable` line of rescue verify."""
    found = []
    for m in re.finditer(r"^%s +0x([0-9A-F]+) +0x([0-9A-F]+) +bytes (\d+) to (\d+)$" % label,
                         text, re.M):
        position, size = int(m.group(1), 16), int(m.group(2), 16)
        assert (int(m.group(3)), int(m.group(4))) == (position, position + size - 1), m.group(0)
        found.append((position, size))
    return found


def _throttling_qemu(path, bytes_per_second):
    """A QEMU wrapper limiting reads of the first --disk (qemu-run's drive disk1): qemu-run
    runs $QEMU, and its own arguments after `--` would take the console options with them."""
    qemu = os.environ.get("QEMU", "qemu-system-x86_64")
    with open(path, "w") as f:
        f.write('#!/bin/sh\nexec %s "$@" -set drive.disk1.throttling.bps-read=%d\n'
                % (qemu, bytes_per_second))
    os.chmod(path, 0o755)
    return path


def test_ddrescue_map_round_trip(ctx):
    source = ctx.path("src.img")
    data = _make_source(source, 16, 11)
    source_sha = hashlib.sha256(data).hexdigest()
    # Failing reads inside the part ddrescue rescued on the host: a resume that read them
    # again would record bad areas there.
    failing = [100, 101, 5000]
    faults = lib.blkdebug_config(ctx.path("faults.conf"), failing)

    # (a) GNU ddrescue images the first 6 MiB of the (healthy) source file on the host.
    part_img, part_map = ctx.path("dd.img"), ctx.path("dd.map")
    lib.run(["ddrescue", "--size=6MiB", source, part_img, part_map])
    with open(part_map) as f:
        ddrescue_map = f.read()
    assert _map_extents(ddrescue_map, "+") == [(0, 6 * MIB)], ddrescue_map
    with open(part_img, "rb") as f:
        partial = f.read()
    target = lib.make_ext4(ctx.path("target.img"), 48, files={
        "a/vda.img": partial, "a/vda.map": ddrescue_map, "b/.keep": ""})

    guest = ctx.guest("--disk", source + ",faults=" + faults + ",serial=SRC-1",
                      "--disk", target, "--append", "rescue.net=none")
    guest.wait_for(r"^rescue: ready .*\n", timeout=180)
    _mount_target(guest)

    code, text = _run(guest, "rescue image vda file:///mnt/t/a", timeout=600)
    assert code == 0, "resume from ddrescue's map: exit %d:\n%s" % (code, text)
    assert "resuming from its map" in text, text
    # No bad area: the failing sectors in ddrescue's 6 MiB were not read again.
    assert re.search(r"^vda: %d of %d bytes rescued \(100\.00%%\), 0 bytes bad in 0 areas"
                     % (16 * MIB, 16 * MIB), text, re.M), text
    code, text = _run(guest, "cat /mnt/t/a/vda.map; sha256sum /mnt/t/a/vda.img")
    assert _map_extents(text, "+") == [(0, 16 * MIB)], "map not all rescued:\n" + text
    assert re.search(r'^# rescue source: vda size %d sector 512 .*serial "SRC-1"' % (16 * MIB),
                     text, re.M), "no identity line in the map:\n" + text
    assert source_sha in text, "image differs from the source:\n" + text

    # rescue verify, the source found from the map: the failing sectors, which ddrescue
    # read on the host and the guest cannot, are exactly what cannot be compared.
    code, text = _run(guest, "rescue verify file:///mnt/t/a", timeout=600)
    assert code == 1, "verify: exit %d, want 1:\n%s" % (code, text)
    assert _verify_lines(text, "unreadable") == _runs(failing), text
    assert _verify_lines(text, "differs") == [], text

    # The same from the menu: its entry asks for the operands and runs the command line.
    guest.sendline("exit")
    guest.wait_for(r"^Choose ", timeout=30)
    entry = re.search(lib.menu_entry(r"verify an image against its disk"), guest.output(), re.M)
    assert entry, "no verify entry in the menu:\n" + guest.tail()
    guest.sendline(entry.group("n"))
    guest.wait_for(r"target URL, or disk and target URL \(Enter alone goes back\): $")
    guest.sendline("vda file:///mnt/t/a")
    guest.wait_for_line(r"\$ rescue verify vda file:///mnt/t/a")
    guest.wait_for_line(r"unreadable +0x0000C800 +0x00000400 +bytes 51200 to 52223", timeout=120)
    guest.wait_for(r"^Choose ", timeout=60)
    guest.sendline("")   # Enter shows the menu again, where menu_shell finds its entry
    lib.menu_shell(guest)

    # (b) rescue images [8 MiB, 12 MiB) and leaves its map for ddrescue.
    code, text = _run(guest, "rescue image --input-position 8M --size 4M vda file:///mnt/t/b",
                      timeout=600)
    assert code == 0, "partial image: exit %d:\n%s" % (code, text)
    code, ours = _run(guest, "cat /mnt/t/b/vda.map")
    assert _map_extents(ours, "+") == [(8 * MIB, 4 * MIB)], ours
    _must(guest, "umount /mnt/t && sync")
    guest.stop(command="poweroff")

    out_img, out_map = ctx.path("b.img"), ctx.path("b.map")
    _debugfs_dump(target, "/b/vda.img", out_img)
    _debugfs_dump(target, "/b/vda.map", out_map)
    with open(out_map) as f:
        assert f.read() == ours.replace("\r", ""), "the map on the disk is not the guest's"
    dd = lib.run(["ddrescue", source, out_img, out_map])
    assert re.search(r"Initial status \(read from mapfile\)\nrescued: +4194 kB", dd.stdout), \
        "ddrescue did not start from our map's 4 MiB:\n" + dd.stdout
    with open(out_map) as f:
        final_map = f.read()
    assert _map_extents(final_map, "+") == [(0, 16 * MIB)], final_map
    assert lib.sha256(out_img) == source_sha, "ddrescue's image differs from the source"
    assert lib.sha256(source) == source_sha, "the source disk changed"


def test_reboot_mid_run_then_verify(ctx):
    source = ctx.path("src.img")
    data = bytearray(_make_source(source, 32, 23))
    source_sha = hashlib.sha256(data).hexdigest()
    failing = [3000, 3001, 40000, 60001]
    for sector in failing:
        data[sector * SECTOR:(sector + 1) * SECTOR] = bytes(SECTOR)
    expected_sha = hashlib.sha256(data).hexdigest()
    faults = lib.blkdebug_config(ctx.path("faults.conf"), failing)
    target = lib.make_ext4(ctx.path("target.img"), 48, files={"t/.keep": ""})
    disks = ("--disk", source + ",faults=" + faults + ",serial=SRC-2", "--disk", target,
             "--append", "rescue.net=none")

    # Boot 1: the source reads at 512 KiB/s, so the run outlasts the 30 s map save.
    os.environ["QEMU"] = _throttling_qemu(ctx.path("qemu-throttled"), 512 * 1024)
    guest = ctx.guest(*disks, name="boot1")
    del os.environ["QEMU"]
    guest.wait_for(r"^rescue: ready .*\n", timeout=180)
    _mount_target(guest)
    _must(guest, "(rescue image vda file:///mnt/t/t > /tmp/image.log 2>&1 &)")
    saved = None
    for _ in range(90):
        code, text = _run(guest, "sleep 2; cat /mnt/t/t/vda.map 2>/dev/null; "
                          "grep -c 'bytes rescued' /tmp/image.log")
        finished = sum(size for _, size in _map_extents(text, "+"))
        if finished >= MIB:
            saved = text
            break
        assert not text.rstrip().endswith("\n1"), "the run ended before a save:\n" + text
    assert saved, "no map with rescued bytes after 180 s:\n" + guest.tail()
    code, log = _run(guest, "cat /tmp/image.log")
    assert "bytes rescued" not in log, "the run had finished, nothing to resume:\n" + log
    guest.stop()   # a power cut: no unmount, no sync
    before_reboot = sum(size for _, size in _map_extents(saved, "+"))

    # Boot 2 (no throttle): the same command resumes from the saved map. One more sector
    # fails now, in the middle of the first range the map says is rescued: a run that read
    # that range again would record it as bad; a resumed one never reads it.
    first = _map_extents(saved, "+")[0]
    trap = (first[0] + first[1] // 2) // SECTOR
    assert trap not in failing
    trap_faults = lib.blkdebug_config(ctx.path("trap.conf"), failing + [trap])
    guest = ctx.guest("--disk", source + ",faults=" + trap_faults + ",serial=SRC-2",
                      *disks[2:], name="boot2")
    guest.wait_for(r"^rescue: ready .*\n", timeout=180)
    _mount_target(guest)
    code, text = _run(guest, "cat /mnt/t/t/vda.map")
    assert sum(size for _, size in _map_extents(text, "+")) >= before_reboot, \
        "the map lost rescued bytes across the reboot:\n%s\nbefore:\n%s" % (text, saved)
    code, text = _run(guest, "rescue image vda file:///mnt/t/t", timeout=600)
    assert code == 1, "resume after reboot: exit %d, want 1 (bad areas):\n%s" % (code, text)
    assert "resuming from its map" in text, text
    code, text = _run(guest, "cat /mnt/t/t/vda.map; sha256sum /mnt/t/t/vda.img")
    assert _map_extents(text, "-") == _runs(failing), "bad areas differ:\n" + text
    for state in "?*/":
        assert not _map_extents(text, state), "state %s left:\n%s" % (state, text)
    assert expected_sha in text, "image is not the source with the failing sectors zeroed:\n" \
        + text
    _must(guest, "umount /mnt/t && sync")
    guest.stop(command="poweroff")

    # Boot 3, the source failing as in boot 1 only.
    guest = ctx.guest(*disks, name="boot3")
    guest.wait_for(r"^rescue: ready .*\n", timeout=180)
    _mount_target(guest)

    # (d) verify: all rescued bytes match; the bad sectors are not claimed, so not compared.
    code, text = _run(guest, "rescue verify file:///mnt/t/t", timeout=600)
    rescued = 32 * MIB - len(failing) * SECTOR
    assert code == 0, "verify: exit %d, want 0:\n%s" % (code, text)
    assert "all %d rescued bytes match the source" % rescued in text, text

    # Seven bytes of the image changed (each to its complement) inside a rescued range.
    at = 5 * MIB + 3
    changed = "".join("\\%03o" % (b ^ 0xFF) for b in data[at:at + 7])
    _must(guest, "printf '%s' | dd of=/mnt/t/t/vda.img bs=1 seek=%d conv=notrunc" % (changed, at))
    code, text = _run(guest, "rescue verify vda file:///mnt/t/t", timeout=600)
    assert code == 1, "verify after the change: exit %d, want 1:\n%s" % (code, text)
    assert _verify_lines(text, "differs") == [(at, 7)], text
    assert _verify_lines(text, "unreadable") == [], text
    assert "7 bytes in 1 range differ from the source" in text, text
    code, text = _run(guest, "rescue verify --json --name vda file:///mnt/t/t 2>/dev/null",
                      timeout=600)
    result = json.loads(text.strip().splitlines()[-1])
    assert code == 1 and result["differing"] == [{"position": at, "size": 7}], text
    assert result["match"] is False and result["rescued_bytes"] == rescued, text
    code, text = _run(guest, "rescue log --tail 3")
    assert re.search(r"vda\.img in file:///mnt/t/t against vda: %d rescued bytes, 7 differ in 1 "
                     r"ranges" % rescued, text), text

    # Refusals, each naming the problem: a map of another disk, an image that is gone.
    code, text = _run(guest, "rescue verify --name vda vdb file:///mnt/t/t")
    assert code == 3 and re.search(r"refusing to verify vda\.map in file:///mnt/t/t against "
                                    r"/dev/vdb: the map covers 33554432 bytes", text), text
    code, text = _run(guest, "mkdir /mnt/t/e && cp /mnt/t/t/vda.map /mnt/t/e/ && "
                      "rescue verify vda file:///mnt/t/e")
    assert code == 3 and "vda.img in file:///mnt/t/e: it is missing or empty" in text, text
    _must(guest, "umount /mnt/t && sync")
    guest.stop(command="poweroff")
    assert lib.sha256(source) == source_sha, "the source disk changed"


def test_verify_over_ssh(ctx):
    """rescue verify against an image on a real OpenSSH server (read back over SFTP):
    equal after the run; after the receiver's copy is changed on the host, exactly the
    changed bytes are named."""
    source = ctx.path("src.img")
    data = bytearray(_make_source(source, 16, 31))
    source_sha = hashlib.sha256(data).hexdigest()
    failing = [777, 20000]
    faults = lib.blkdebug_config(ctx.path("faults.conf"), failing)
    for sector in failing:
        data[sector * SECTOR:(sector + 1) * SECTOR] = bytes(SECTOR)
    receive = ctx.path("receive")
    os.makedirs(receive)
    server = lib.SshServer(ctx.path())
    ctx.on_cleanup(server.stop)
    url = "ssh://root@10.0.2.2:%d%s" % (server.port, receive)

    guest = ctx.guest("--disk", source + ",faults=" + faults + ",serial=SRC-3",
                      "--host-port", str(server.port))
    guest.wait_for(r"^rescue: ready .*\n", timeout=180)
    lib.menu_shell(guest)
    text = _must(guest, "rescue target key")
    key = re.search(r"^(ssh-ed25519 [A-Za-z0-9+/=]+)", text, re.M)
    assert key, "no public key from rescue target key:\n" + text
    with open(server.authorized_keys, "w") as f:
        f.write(key.group(1) + " rescue-appliance\n")

    code, text = _run(guest, "rescue image vda %s" % url, timeout=600)
    assert code == 1, "image over ssh: exit %d, want 1:\n%s" % (code, text)
    assert lib.sha256(os.path.join(receive, "vda.img")) == hashlib.sha256(data).hexdigest()
    rescued = 16 * MIB - len(failing) * SECTOR
    code, text = _run(guest, "rescue verify %s" % url, timeout=600)
    assert code == 0 and "all %d rescued bytes match the source" % rescued in text, text

    # The receiver's copy rots: 3 bytes inverted on the host, across a 1 MiB boundary.
    at = 3 * MIB - 1
    with open(os.path.join(receive, "vda.img"), "r+b") as f:
        f.seek(at)
        f.write(bytes(b ^ 0xFF for b in data[at:at + 3]))
    code, text = _run(guest, "rescue verify vda %s" % url, timeout=600)
    assert code == 1, "verify after the change: exit %d, want 1:\n%s" % (code, text)
    assert _verify_lines(text, "differs") == [(at, 3)], text
    guest.stop(command="poweroff")
    assert lib.sha256(source) == source_sha, "the source disk changed"
