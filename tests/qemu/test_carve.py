"""`rescue carve` on real files placed in noise at known offsets (carve_fixture.py), to the
host's OpenSSH over ssh://: every placed file comes back byte for byte at its offset, a
type added by a carve.rules line on the RESCUECFG disk among them; a blkdebug bad sector
inside the JPEG makes it the one file named with unreadable bytes (exit 1), equal to the
original with that sector zeroed; a JPEG, a PNG and a ZIP placed in two pieces with noise
between come back whole, joined, their manifest lines naming both pieces; `sha256sum -c` on the host passes. `--free` on an ext4
finds the files deleted from it and not the live one. Bad input is refused with exit 2,
naming the value. The first run's link is cut twice and it reconnects. A guest killed
mid-run (while it runs, `rescue disks` shows the source busy and `rescue unguard`
refuses it) is booted again and the same command finishes
the carving without writing again any file that was already on the target. The source
disks' sha256 are unchanged."""

import hashlib
import json
import os
import re
import subprocess
import time

import carve_fixture as fixture
import lib
from test_image_ssh import _receiver

TIMEOUT = 1500

SIZE_MB = 24
SECTOR = 512


def _sources(ctx):
    files = fixture.make_files(ctx.path())
    files["note"] = ("note", fixture.NOTE)
    split_files, splits = fixture.split_files()
    files.update(split_files)
    placement = fixture.noise_disk(ctx.path("src.img"), SIZE_MB, files, seed=3,
                                   gap_sectors=(8, 2400), shift={"note": 100}, splits=splits)
    jpeg = next(p for p in placement if p["type"] == "jpg")
    bad = (jpeg["offset"] + 30000) // SECTOR
    faults = lib.blkdebug_config(ctx.path("faults.conf"), [bad])
    return files, placement, bad, faults


def _deleted_ext4(ctx, files):
    """An ext4 holding the shipped GIF (live) and the PNG and PDF, deleted."""
    image = lib.make_ext4(ctx.path("fs.img"), 16, files={
        "live.gif": files["gif-shipped"][1], "gone.png": files["png-shipped"][1],
        "gone.pdf": files["pdf-shipped"][1]})
    for name in ("gone.png", "gone.pdf"):
        lib.run(["debugfs", "-w", "-R", "rm " + name, image])
    return image


def _guest(ctx, disks, cfg, ports, name):
    args = ["--config", cfg, "--memory", "128"]
    for port in ports:
        args += ["--host-port", str(port)]
    for disk in disks:
        args += ["--disk", disk]
    return ctx.shell(*args, name=name)


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def _check_recall(placement, out, name, bad):
    found, manifest = fixture.recall(placement, out, name)
    jpeg = next(p for p in placement if p["type"] == "jpg")
    missing = [n for n, path in found.items() if path is None and n != jpeg["name"]]
    assert not missing, "not carved byte for byte: %s\n%s" % (missing, json.dumps(
        manifest["files"], indent=1))
    entry = next(e for e in manifest["files"] if e["offset"] == jpeg["offset"])
    assert entry["bad_bytes"] == SECTOR and entry["bad_ranges"] == [[bad * SECTOR, SECTOR]], \
        entry
    with open(os.path.join(out, entry["path"]), "rb") as f:
        carved = f.read()
    relative = bad * SECTOR - jpeg["offset"]
    assert len(carved) == jpeg["length"] and carved[relative:relative + SECTOR] == bytes(SECTOR)
    others = [e for e in manifest["files"] if e["bad_bytes"] and e is not entry]
    assert not others, others
    # Files in two pieces come back whole, joined, their pieces named.
    by_offset = {e["offset"]: e for e in manifest["files"]}
    for placed in (p for p in placement if "resume" in p):
        entry = by_offset[placed["offset"]]
        assert entry["status"] == "validated" and re.match(
            r"joined \(.*\): pieces at %d\+\d+ and %d\+\d+$" % (placed["offset"],
                                                               placed["resume"]),
            entry["delimited"]), entry
    note = next(e for e in manifest["files"] if e["type"] == "note")
    assert note["status"] == "unvalidated" and note["delimited"] == "the rule's footer", note
    odt = next(p for p in placement if p["name"] == "odt")
    assert found["odt"].endswith("/odt/f%d.odt" % odt["offset"]), found["odt"]
    check = subprocess.run(["sha256sum", "-c", name + ".carve.sha256"], cwd=out,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert check.returncode == 0, check.stdout
    return manifest


def _refusals(guest, url):
    cases = [
        ("rescue carve --types jpg,nope vda " + url, r"--types jpg,nope: unknown type nope"),
        ("rescue carve --free vda " + url, r"--free: unable to read the free-space map of vda: "
         r".*carve the whole device instead"),
        ("printf 'ok y 100 abc\\nbad y 0 abc\\n' > /tmp/bad.rules && rescue carve --rules "
         "/tmp/bad.rules vda " + url, r"/tmp/bad.rules: line 2: size 0: not a number"),
        ("rescue carve vda tcp://10.0.2.2:9", r"unable to carve to tcp://10\.0\.2\.2:9"),
        ("rescue carve --input-position 100 vda " + url, r"--input-position 100: not a "
         r"multiple of 512"),
    ]
    for command, pattern in cases:
        code, text = lib.console_run(guest, command)
        assert code == 2 and re.search(pattern, text), "%s: exit %d:\n%s" % (command, code, text)


def _files_on(out, name):
    """{path: inode} of the carved files (not .part) under OUT/NAME.carve."""
    found = {}
    for directory, _, names in os.walk(os.path.join(out, name + ".carve")):
        for n in names:
            if not n.endswith(".part"):
                path = os.path.join(directory, n)
                found[os.path.relpath(path, out)] = os.stat(path).st_ino
    return found


def test_carve_recall_rules_free_bad_sector_and_resume(ctx):
    files, placement, bad, faults = _sources(ctx)
    source = ctx.path("src.img")
    fs = _deleted_ext4(ctx, files)
    before = {path: lib.sha256(path) for path in (source, fs)}
    cfg, sshd, (out, free_out, resumed) = _receiver(ctx, "out", "free", "resumed")
    with open(os.path.join(cfg, "carve.rules"), "w") as f:
        f.write("# a type added at run time\n" + fixture.RULE)
    url = "ssh://root@10.0.2.2:%d" % sshd.port
    # The first run's link is cut twice mid-transfer: it reconnects and loses nothing.
    proxy = lib.CuttingProxy(sshd.port, cuts=2, low=100 << 10, high=300 << 10, seed=5)
    ctx.on_cleanup(proxy.stop)
    disks = [source + ",faults=" + faults, fs]

    guest = _guest(ctx, disks, cfg, [sshd.port, proxy.port], "guest")
    started = time.monotonic()
    code, text = lib.console_run(guest, "rescue carve vda ssh://root@10.0.2.2:%d%s"
                                 % (proxy.port, out), timeout=900)
    with open(ctx.path("run1.txt"), "w") as f:
        f.write("%.1f s\n%s" % (time.monotonic() - started, text))
    assert code == 1, "exit %d, want 1 (a file crosses a bad sector):\n%s" % (code, text)
    assert re.search(r"vda: %d files: .*1 crossing unreadable sectors" % len(placement), text), text
    assert proxy.cut_count >= 1 and "reconnected" in text, (proxy.cut_count, text)
    _check_recall(placement, out, "vda", bad)

    code, text = lib.console_run(guest, "rescue carve --free --json vdb %s%s" % (url, free_out),
                                 timeout=600)
    assert code == 0, "exit %d:\n%s" % (code, text)
    summary = json.loads(text.strip().splitlines()[-1])
    assert summary["event"] == "summary" and summary["types"] == {"png": 1, "pdf": 1}, summary
    with open(os.path.join(free_out, "vdb.carve.json")) as f:
        carved = {e["sha256"] for e in json.load(f)["files"]}
    files = {p["name"]: p for p in placement}
    assert carved == {files["png-shipped"]["sha256"], files["pdf-shipped"]["sha256"]}, carved
    _refusals(guest, url + out)

    # Killed mid-run: the host waits for a few files to arrive, then the guest dies.
    lib.console_run(guest, "rescue carve vda %s%s > /tmp/c.log 2>&1 &" % (url, resumed))
    lib.wait_until(lambda: len(_files_on(resumed, "vda")) >= 3, 300, "three carved files")
    # While it runs, the source is marked busy: listed so, and unguard refuses it.
    code, text = lib.console_run(guest, "rescue disks --json vda")
    disk = json.loads(text[text.index("{"):])["disks"][0]
    assert code == 0 and disk["busy"] is True, text
    code, text = lib.console_run(guest, "rescue unguard --yes vda")
    assert code == 2 and "vda is being rescued" in text, "exit %d:\n%s" % (code, text)
    guest.stop()
    there = _files_on(resumed, "vda")
    assert len(there) < len(placement), "the run ended before the guest was killed"

    guest = _guest(ctx, disks, cfg, [sshd.port], "again")
    code, text = lib.console_run(guest, "rescue carve vda %s%s" % (url, resumed), timeout=900)
    assert code == 1, "exit %d:\n%s" % (code, text)
    _check_recall(placement, resumed, "vda", bad)
    after = _files_on(resumed, "vda")
    rewritten = [p for p, inode in there.items() if after.get(p) != inode]
    assert not rewritten, "written again: %s" % rewritten
    assert re.search(r"\(%d written now" % (len(placement) - len(there)), text), text
    guest.stop(command="poweroff")
    for path, sha in before.items():
        assert lib.sha256(path) == sha, "%s changed" % path
