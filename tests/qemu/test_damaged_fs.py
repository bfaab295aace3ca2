"""Whole-image robustness: ext4, xfs, btrfs and vfat file systems damaged on purpose, all
attached to one boot, each through `rescue disks`, `rescue mount` (and a walk of what it
shows), `rescue umount`, `rescue check` and `rescue dump` to the host's OpenSSH.

Each file system is made by its own mkfs, filled through a loop mount on the host (vfat
with mtools: the hosts' kernels lack vfat) with files whose every 4 KiB block starts with a
marker, then random metadata blocks are overwritten
with random bytes: a metadata block is any block that is not all zeros and does not start
with the marker (superblocks, inode tables, directories, trees, FATs, journals). The seed
is printed and kept in the work dir (damage.txt, with the blocks hit); RESCUE_DAMAGE_SEED=N
replays one.

Every command must end within its bound with exit 0, 1 or 3, never a signal; exit 3 must
name the error ("rescue CMD: fatal: ..."); a dump that finishes must have a manifest whose
every file marked copied passes `sha256sum -c` on the host, and whose problems are entries.
Each kind is there twice, lightly (2 blocks) and heavily (12 blocks) damaged. The sources
are unchanged afterwards."""

import json
import os
import random
import re
import subprocess
import tempfile

import dump_fixture as fixture
import lib
from test_image_ssh import _config_disk

TIMEOUT = 1800
BLOCK = 4096
MARKER = b"RESCUE-TEST-DATA"
# Per command, in seconds of guest time on a TCG machine: well past what a healthy file
# system of this size needs, short of "hung".
BOUND = {"mount": 120, "walk": 120, "umount": 60, "check": 300, "dump": 600}
KINDS = (("ext4", 32, ["mkfs.ext4", "-q", "-F", "-L", "dmg-ext4"]),
         ("xfs", 300, ["mkfs.xfs", "-q", "-f", "-L", "dmg-xfs"]),
         ("btrfs", 128, ["mkfs.btrfs", "-q", "-f", "-L", "dmg-btrfs"]),
         ("vfat", 32, ["mkfs.vfat", "-n", "DMGVFAT"]))
# Each file system twice: lightly damaged (most of it still readable, so the readers go
# deep into what is broken) and heavily (often nothing mounts: the refusals are tested).
LEVELS = (("light", 2), ("heavy", 12))


def _fill(mount, rng):
    """Directories of files whose 4 KiB blocks each start with MARKER, and a few small
    files (which some file systems keep inside their metadata)."""
    for d in range(4):
        directory = os.path.join(mount, "dir%d" % d, "sub")
        os.makedirs(directory)
        for f in range(6):
            blocks = rng.randint(1, 5)
            data = b"".join(MARKER + rng.randbytes(BLOCK - len(MARKER)) for _ in range(blocks))
            with open(os.path.join(directory, "file%d.bin" % f), "wb") as out:
                out.write(data)
        with open(os.path.join(mount, "dir%d" % d, "note.txt"), "w") as out:
            out.write("small file %d\n" % d)


def _make(path, size_mb, mkfs, rng):
    """mkfs, then the files through the host kernel's own driver (a loop mount); vfat
    through mtools, because the development hosts' kernels have no vfat driver."""
    lib.make_disk_image(path, size_mb)
    lib.run(mkfs + [path])
    mount = tempfile.mkdtemp(prefix="mnt.", dir=os.path.dirname(path))
    loop = mkfs[0] != "mkfs.vfat"
    if loop:
        lib.run(["mount", "-o", "loop", path, mount])
    try:
        _fill(mount, rng)
        if not loop:
            lib.run(["mcopy", "-s", "-i", path] + [os.path.join(mount, n)
                                                   for n in sorted(os.listdir(mount))] + ["::/"])
    finally:
        if loop:
            lib.run(["umount", mount])
        subprocess.run(["rm", "-rf", mount], check=True)


def _damage(path, rng, count):
    """Overwrites COUNT metadata blocks with random bytes; returns their numbers."""
    metadata = []
    with open(path, "rb") as f:
        number = 0
        while True:
            block = f.read(BLOCK)
            if not block:
                break
            if block.count(0) != len(block) and not block.startswith(MARKER):
                metadata.append(number)
            number += 1
    hit = sorted(rng.sample(metadata, min(count, len(metadata))))
    with open(path, "r+b") as f:
        for number in hit:
            f.seek(number * BLOCK)
            f.write(rng.randbytes(BLOCK))
    return hit, len(metadata)


def _check_result(what, code, text, seed):
    where = "%s (seed %d)" % (what, seed)
    assert code in (0, 1, 3), "%s: exit %d (a signal or usage error):\n%s" % (where, code, text)
    # musl's words for an errno it has no text for (EUCLEAN, say): a reason that says nothing.
    assert "No error information" not in text, "%s: an unnamed reason:\n%s" % (where, text)
    assert not re.search(r"Segmentation fault|Aborted|core dumped|AddressSanitizer", text), \
        "%s crashed:\n%s" % (where, text)
    if code == 3:
        assert re.search(r"rescue \w+: fatal: \S", text), "%s: exit 3 without a named " \
            "error:\n%s" % (where, text)


def _dump_verified(ctx, out, name, code, text, seed):
    """A dump that finished (0 or 1): what the manifest calls copied passes sha256sum -c,
    and with exit 1 at least one entry or warning says what was lost."""
    if code == 3:
        return "refused"
    detail = fixture.manifest(out, name)
    statuses = {}
    for entry in detail["entries"]:
        assert "No error information" not in entry.get("reason", ""), entry
        statuses[entry["status"]] = statuses.get(entry["status"], 0) + 1
    if code == 1:
        assert set(statuses) - {"copied"} or "warning" in text, \
            "%s dump exit 1 but every entry copied and no warning (seed %d):\n%s" \
            % (name, seed, text)
    extracted = ctx.path("extracted-" + name)
    fixture.extract(out, name, extracted)
    copied = sum(1 for e in detail["entries"] if e["type"] == "file" and e["status"] == "copied")
    if copied == 0:
        # Nothing whole (a root directory that cannot be read, say): no sums to check.
        with open(os.path.join(out, name + ".sha256")) as f:
            assert f.read() == "", "%s: sums for files not copied (seed %d)" % (name, seed)
    else:
        check, checked = fixture.sha256sum_check(out, name, extracted)
        assert check == 0 and checked.count(": OK") == copied, \
            "%s: copied files do not verify (seed %d):\n%s" % (name, seed, checked)
    return " ".join("%s=%d" % item for item in sorted(statuses.items()))


def test_damaged_file_systems(ctx):
    seed = int(os.environ.get("RESCUE_DAMAGE_SEED", "1717"))
    print("damage seed %d (replay: RESCUE_DAMAGE_SEED=%d)" % (seed, seed))
    rng = random.Random(seed)
    disks, labels, report = [], [], ["seed %d" % seed]
    for kind, size_mb, mkfs in KINDS:
        for level, count in LEVELS:
            path = ctx.path("%s-%s.img" % (kind, level))
            _make(path, size_mb, mkfs, rng)
            hit, candidates = _damage(path, rng, count)
            report.append("%s %s: %d of %d metadata blocks overwritten: %s"
                          % (kind, level, len(hit), candidates, " ".join(map(str, hit))))
            disks.append(path)
            labels.append("%s %s" % (kind, level))
    with open(ctx.path("damage.txt"), "w") as f:
        f.write("\n".join(report) + "\n")
    print("\n".join(report))
    before = [lib.sha256(d) for d in disks]

    cfg, client_line = _config_disk(ctx)
    sshd = lib.SshServer(ctx.path(), authorized_keys=[client_line])
    ctx.on_cleanup(sshd.stop)
    args = ["--config", cfg, "--memory", "512", "--host-port", str(sshd.port)]
    for disk in disks:
        args += ["--disk", disk]
    guest = ctx.shell(*args)
    names = ["vd" + chr(ord("a") + i) for i in range(len(disks))]
    code, text = lib.console_run(guest, "rescue disks --json", timeout=120)
    _check_result("rescue disks", code, text, seed)
    listed = json.loads(text[text.index("{"):text.rindex("}") + 1])
    shown = {d["name"] for d in listed["disks"]}
    assert set(names) <= shown, "rescue disks lists %s, not all of %s" % (shown, names)

    outcomes = []
    for kind, name in zip(labels, names):
        code, text = lib.console_run(guest, "rescue mount %s" % name, timeout=BOUND["mount"])
        _check_result("%s: rescue mount %s" % (kind, name), code, text, seed)
        mounted = code == 0
        if mounted:
            point = "/mnt/" + name
            assert point in text, "rescue mount %s: %s not named:\n%s" % (name, point, text)
            # Every file read through the kernel's reader of the damaged metadata.
            lib.console_run(guest, "find %s | wc -l; find %s -type f -exec cat {} + "
                            ">/dev/null" % (point, point), timeout=BOUND["walk"])
            code, text = lib.console_run(guest, "rescue umount %s" % name,
                                         timeout=BOUND["umount"])
            _check_result("%s: rescue umount %s" % (kind, name), code, text, seed)
        code, text = lib.console_run(guest, "rescue check %s" % name, timeout=BOUND["check"])
        _check_result("%s: rescue check %s" % (kind, name), code, text, seed)
        check_code = code
        out = ctx.path("out-" + name)
        os.makedirs(out)
        url = "ssh://root@10.0.2.2:%d%s" % (sshd.port, out)
        code, text = lib.console_run(guest, "rescue dump %s %s" % (name, url),
                                     timeout=BOUND["dump"])
        with open(ctx.path("dump-%s.txt" % name), "w") as f:
            f.write(text)
        _check_result("%s: rescue dump %s" % (kind, name), code, text, seed)
        verdict = _dump_verified(ctx, out, name, code, text, seed)
        outcomes.append("%s: mount %s, check exit %d, dump exit %d (%s)"
                        % (kind, "ok" if mounted else "refused", check_code, code, verdict))
    with open(ctx.path("outcomes.txt"), "w") as f:
        f.write("\n".join(outcomes) + "\n")
    print("\n".join(outcomes))
    guest.stop(command="poweroff")
    after = [lib.sha256(d) for d in disks]
    assert after == before, "a source disk changed (seed %d)" % seed
