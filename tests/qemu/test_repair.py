"""`rescue check` and `rescue repair` through the real image: an ext4
damaged on the host with debugfs -w is reported by check (exit 1, by kind),
repaired on a device-mapper snapshot whose copy-on-write store is in RAM,
its files readable under /mnt/NAME-repaired; --release removes snapshot,
loop device and store. A --cow too small for the repair gives the "full"
error naming the size and cleans up. The guard never saw a write and every
source disk's sha256 is unchanged."""

import re

import lib

TIMEOUT = 600


def _damaged(ctx):
    """keep.txt and docs/report.txt must survive; victim.txt's inode is wiped,
    keep.txt's inode and five of its blocks are marked free while in use,
    and the free-blocks count is wrong."""
    image = lib.make_ext4(ctx.path("damaged.img"), 32, files={
        "keep.txt": "precious data\n" * 1000,
        "docs/report.txt": "quarterly report\n",
        "victim.txt": "this inode gets wiped\n",
    })
    block = int(lib.run(["debugfs", "-R", "bmap /keep.txt 0", image]).stdout.split()[0])
    script = ctx.path("damage.debugfs")
    with open(script, "w") as f:
        f.write("clri /victim.txt\nfreei /keep.txt\nfreeb %d 5\nssv free_blocks_count 12\n"
                % block)
    lib.run(["debugfs", "-w", "-f", script, image])
    return image


def _journal_heavy(ctx, count=64):
    """An ext4 whose journal holds COUNT blocks not yet written in place, each
    in its own 4 KiB chunk: replaying it needs more than a 64K store."""
    names = ["j/f%02d" % i for i in range(count)]
    files = {name: b"a" * 8192 for name in names}
    replays = {name: b"new %s\n" % name.encode() for name in names}
    return lib.make_ext4(ctx.path("journal.img"), 32, files=files, dirty_journal=replays)


def _no_leftovers(run, name):
    code, out = run("ls /dev/mapper; ls /run/rescue/busy /run/rescue/cow; "
                    "cat /sys/block/loop*/loop/backing_file; grep -c %s /proc/mounts" % name)
    assert "rescue-" not in out, "snapshot left behind: " + out
    assert not re.search(r"\.cow\b", out), "store left behind: " + out
    assert out.strip().endswith("0"), "a mount left behind: " + out


def _no_primary_superblock(ctx):
    """An ext4 (1 KiB blocks) whose primary superblock is zeroed: the backup
    in group 1, block 8193, still describes it."""
    image = lib.make_ext4(ctx.path("nosuper.img"), 16, files={"still.txt": "still here\n"})
    with open(image, "r+b") as f:
        f.seek(1024)
        f.write(b"\0" * 1024)
    return image


def test_check_repair_release(ctx):
    damaged = _damaged(ctx)          # vda
    heavy = _journal_heavy(ctx)      # vdb
    nosuper = _no_primary_superblock(ctx)  # vdc
    disks = [damaged, heavy, nosuper]
    before = [lib.sha256(d) for d in disks]
    args = ["--append", "rescue.net=none"]
    for disk in disks:
        args += ["--disk", disk]
    with ctx.guest(*args) as guest:
        guest.wait_for(r"^rescue: ready .*\n", timeout=180)
        run = lib.console_shell(guest)

        # check: the damage by kind, exit 1, nothing written.
        code, out = run("rescue check vda")
        assert code == 1, "check exited %d: %s" % (code, out)
        for kind in (r"deleted/unused inode", r"block bitmap differences",
                     r"inode bitmap differences", r"free blocks count wrong"):
            assert re.search(r"^ +\d+  %s$" % kind, out, re.M), "no %s in: %s" % (kind, out)
        assert re.search(r"^vda: damaged; `rescue repair vda`", out, re.M), out
        code, out = run("rescue check --json vda")
        assert code == 1 and '"verdict":"damaged"' in out, out
        # A file system that is fine is clean; a missing device cannot be checked.
        code, out = run("rescue check vdz")
        assert code == 3 and "no such device" in out, (code, out)

        # repair: the copy is fixed and mounted, the files are there.
        code, out = run("rescue repair vda", timeout=300)
        assert code == 0, "repair exited %d: %s" % (code, out)
        assert re.search(r"^e2fsck -fy changed the copy \(exit 1\): (\d+) of \1 problems fixed$",
                         out, re.M), out
        assert re.search(r"^ +1  deleted/unused inode \(fixed\)$", out, re.M), out
        assert re.search(r"^ +6  block bitmap differences \(fixed\)$", out, re.M), out
        m = re.search(r"^copy-on-write store: (?P<used>[\d.]+ \S+) of (?P<total>[\d.]+ \S+) "
                      r"used \(/dev/loop\d+\)$", out, re.M)
        assert m, "no store usage in: " + out
        assert re.search(r"^vda: repaired copy mounted read-only at /mnt/vda-repaired;", out,
                         re.M), out
        code, out = run("md5sum /mnt/vda-repaired/keep.txt; cat /mnt/vda-repaired/docs/report.txt;"
                        " ls /mnt/vda-repaired")
        assert code == 0, out
        assert "quarterly report" in out and "victim.txt" not in out, out
        code, keep = run("head -n 1 /mnt/vda-repaired/keep.txt")
        assert keep == "precious data\n", keep
        # The source still shows its damage: the repair went to the copy only.
        code, out = run("rescue check vda")
        assert code == 1, "the source changed? " + out
        # A second repair, or a mount, while the copy exists is refused.
        code, out = run("rescue repair vda")
        assert code == 3 and "busy" in out and "--release vda" in out, (code, out)
        code, out = run("rescue mount vda")
        assert code == 3 and "a repaired copy is at /mnt/vda-repaired" in out, (code, out)
        code, out = run("cat /sys/block/vda/rejected_writes")
        assert out.strip() == "0", "something tried to write to vda: " + out

        code, out = run("rescue repair --release vda")
        assert code == 0, out
        _no_leftovers(run, "vda-repaired")

        # A store too small for the journal replay: the clear "full" error, cleanup.
        code, out = run("rescue repair --cow 64K vdb", timeout=300)
        assert code == 3, "repair with a tiny store exited %d: %s" % (code, out)
        assert re.search(r"copy-on-write store \(64\.0 KiB, RAM\) filled up during e2fsck", out), out
        assert "--cow SIZE" in out, out
        _no_leftovers(run, "vdb-repaired")
        # With the default store the journal is replayed into the copy.
        code, out = run("rescue repair vdb", timeout=300)
        assert code == 0, "repair vdb exited %d: %s" % (code, out)
        assert re.search(r"^ +1  journal needs recovery \(fixed\)$", out, re.M), out
        code, out = run("head -n 1 /mnt/vdb-repaired/j/f07")
        assert out == "new j/f07\n", repr(out)
        code, out = run("rescue repair --release /dev/vdb")
        assert code == 0, out
        _no_leftovers(run, "vdb-repaired")
        code, out = run("rescue repair --release vdb")
        assert code == 3 and "no repaired copy" in out, (code, out)
        code, out = run("rescue repair --cow lots vdb")
        assert code == 2 and "bad --cow lots" in out, (code, out)

        # No primary superblock: check says which backup it used, mount uses it too.
        code, out = run("rescue check vdc")
        assert code == 1, (code, out)
        assert re.search(r"superblock: the primary is unreadable \(Bad magic number in "
                         r"super-block\); using the backup at block 8193 \(block size 1024\)",
                         out), out
        assert re.search(r"^ +1  superblock problems$", out, re.M), out
        code, out = run("rescue mount vdc && cat /mnt/vdc/still.txt && rescue umount vdc")
        assert code == 0 and "backup superblock sb=8193" in out and "still here" in out, out

        code, out = run("rescue log --tail 30")
        assert re.search(r"repaired a copy of vda \(ext4\) at /mnt/vda-repaired: (\d+) of \1 "
                         r"problems fixed", out), out
        assert "filled up during e2fsck" in out, out
        code, out = run("cat /sys/block/vd[abc]/rejected_writes")
        assert out.split() == ["0", "0", "0"], "writes reached the guard: " + out
        guest.stop(command="poweroff")
    assert [lib.sha256(d) for d in disks] == before, "a source disk changed"


def test_store_on_file_and_nbd(ctx):
    """--cow file:// (a RAM directory; a guarded disk is refused) and
    --cow nbd:// (qemu-nbd on the host) hold the copy just as well."""
    damaged = _damaged(ctx)                                            # vda
    other = lib.make_ext4(ctx.path("other.img"), 16, files={"x": "y\n"})  # vdb
    scratch = lib.make_disk_image(ctx.path("scratch.img"), 64)
    disks = [damaged, other]
    before = [lib.sha256(d) for d in disks]
    port = lib.free_port()
    nbd = lib.subprocess.Popen(["qemu-nbd", "-t", "-b", "127.0.0.1", "-p", str(port), "-f", "raw",
                                "-x", "scratch", scratch],
                               stdout=lib.subprocess.DEVNULL, stderr=lib.subprocess.DEVNULL)
    ctx.on_cleanup(lambda: (nbd.terminate(), nbd.wait()))
    with ctx.guest("--disk", damaged, "--disk", other, "--host-port", str(port)) as guest:
        guest.wait_for(r"^rescue: ready .*\n", timeout=180)
        run = lib.console_shell(guest)

        code, out = run("rescue mount vdb && rescue repair --cow file:///mnt/vdb vda")
        assert code == 3 and "it is on a guarded disk" in out, (code, out)
        code, out = run("rescue repair --cow 'file:///tmp?size=1M' vda", timeout=300)
        assert code == 0, out
        assert re.search(r"^copy-on-write store: [\d.]+ \S+ of 1\.0 MiB used \(/dev/loop\d+\)$",
                         out, re.M), out
        code, out = run("ls -l /tmp/vda.cow && head -n 1 /mnt/vda-repaired/keep.txt")
        assert code == 0 and "precious data" in out, out
        code, out = run("rescue repair --release vda")
        assert code == 0, out
        code, out = run("ls /tmp")
        assert "vda.cow" not in out, out

        code, out = run("rescue repair --cow nbd://10.0.2.2:%d/scratch vda" % port, timeout=300)
        assert code == 0, out
        assert re.search(r"^copy-on-write store: [\d.]+ \S+ of 64\.0 MiB used \(/dev/nbd\d+\)$",
                         out, re.M), out
        code, out = run("cat /mnt/vda-repaired/docs/report.txt")
        assert out == "quarterly report\n", out
        code, out = run("rescue repair --release vda; cat /sys/block/nbd0/pid")
        assert "released" in out and "No such file" in out, out
        code, out = run("rescue repair --cow nbd://10.0.2.2:1/none vda", timeout=120)
        assert code == 3 and "unable to connect to nbd://10.0.2.2:1/none" in out, (code, out)
        _no_leftovers(run, "vda-repaired")
        code, out = run("cat /sys/block/vda/rejected_writes /sys/block/vdb/rejected_writes")
        assert out.split() == ["0", "0"], "writes reached the guard: " + out
        guest.stop(command="poweroff")
    assert [lib.sha256(d) for d in disks] == before, "a source disk changed"


def test_repair_other_file_systems(ctx):
    """xfs has no checker in the image: check says so (exit 3), repair mounts
    the copy with log replay allowed. Swap cannot be repaired at all."""
    xfs = lib.make_xfs(ctx.path("xfs.img"), files={"hello.txt": "hello from xfs\n"})  # vda
    swap = lib.make_swap(ctx.path("swap.img"))                                  # vdb
    disks = [xfs, swap]
    before = [lib.sha256(d) for d in disks]
    with ctx.guest("--disk", xfs, "--disk", swap, "--append", "rescue.net=none") as guest:
        guest.wait_for(r"^rescue: ready .*\n", timeout=180)
        run = lib.console_shell(guest)
        code, out = run("rescue check vda")
        assert code == 3 and "xfs cannot be checked read-only here" in out, (code, out)
        code, out = run("rescue check vdb")
        assert code == 3 and "swap space holds no files" in out, (code, out)
        code, out = run("rescue repair vda", timeout=300)
        assert code == 0, (code, out)
        assert "xfs has no checker in the image: the copy was mounted with journal/log " \
            "replay" in out, out
        code, out = run("cat /mnt/vda-repaired/hello.txt; grep ' /mnt/vda-repaired ' /proc/mounts")
        assert "hello from xfs" in out and " xfs ro," in out, out
        code, out = run("rescue repair --release vda")
        assert code == 0, out
        _no_leftovers(run, "vda-repaired")
        code, out = run("rescue repair vdb")
        assert code == 3 and "swap" in out, (code, out)
        _no_leftovers(run, "vdb-repaired")
        code, out = run("cat /sys/block/vd[ab]/rejected_writes")
        assert out.split() == ["0", "0"], "writes reached the guard: " + out
        guest.stop(command="poweroff")
    assert [lib.sha256(d) for d in disks] == before, "a source disk changed"
