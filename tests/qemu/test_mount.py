"""`rescue mount` / `rescue umount` through the real image on the serial
console: an ext4 with a dirty journal mounts without replay (the file shows
its old content), xfs and vfat mount read-only, a PostgreSQL data directory,
a mail spool and homes are found by the look inside; a nonexistent device, a
partitioned whole disk, swap and an already mounted device are refused with
the reason. Every disk's sha256 is unchanged afterwards."""

import json
import os
import re

import lib

TIMEOUT = 600


def _ext4_with_content(ctx):
    files = {
        "var/lib/postgresql/15/main/PG_VERSION": "15\n",
        "var/lib/postgresql/15/main/global/pg_control": b"\0" * 8192,
        "var/lib/postgresql/15/main/base/1/1259": b"x" * 20000,
        "var/mail/alice": "From alice\n",
        "home/alice/notes.txt": "remember the milk\n",
        "etc/fstab": "/dev/vda / ext4 defaults 0 1\n",
    }
    return lib.make_ext4(ctx.path("dirty.img"), 32, files=files, dirty_journal=True)


def test_mount_read_only_and_look_inside(ctx):
    dirty = _ext4_with_content(ctx)                                   # vda
    parted = lib.make_ext4(ctx.path("parted.img"), 24, files={"b.txt": "world\n"},
                           partitioned="gpt")                         # vdb, vdb1
    swap = lib.make_swap(ctx.path("swap.img"))                        # vdc
    vfat = lib.make_vfat(ctx.path("vfat.img"), files={"NOTE.TXT": "hello from vfat\n"})  # vdd
    xfs = lib.make_xfs(ctx.path("xfs.img"), files={"hello.txt": "hello from xfs\n"})  # vde
    disks = [dirty, parted, swap, vfat, xfs]
    before = [lib.sha256(d) for d in disks]
    args = ["--append", "rescue.net=none"]
    for disk in disks:
        args += ["--disk", disk]
    with ctx.guest(*args) as guest:
        guest.wait_for(r"^rescue: ready .*\n", timeout=180)
        run = lib.console_shell(guest)

        # The dirty journal is not replayed: the file shows what is in place.
        code, out = run("rescue mount vda")
        assert code == 0, "mount vda exited %d: %s" % (code, out)
        assert re.search(r"^vda: ext4 mounted read-only at /mnt/vda \(noload", out, re.M), out
        assert re.search(r"found: postgresql +/var/lib/postgresql/15/main: PostgreSQL data "
                         r"directory, version 15$", out, re.M), out
        assert re.search(r"found: mail +/var/mail: mail spool, 1 mailboxes$", out, re.M), out
        assert re.search(r"found: home +/home: home directories: alice$", out, re.M), out
        assert re.search(r"found: fstab +/etc/fstab", out, re.M), out
        assert re.search(r"^    var/ +\d", out, re.M), "no size line for var/: " + out
        code, out = run("cat /mnt/vda/%s" % lib.JOURNAL_FILE)
        assert out == lib.JOURNAL_BEFORE.decode(), "journal was replayed? %r" % out
        code, out = run("grep ' /mnt/vda ' /proc/mounts")
        assert re.search(r"/dev/vda /mnt/vda ext4 ro,nosuid,nodev,noexec,", out), out

        # Mounted twice: refused, saying where.
        code, out = run("rescue mount /dev/vda")
        assert code == 3 and "already mounted on /mnt/vda" in out, (code, out)

        # A whole disk with a partition table: its partitions are named.
        code, out = run("rescue mount vdb")
        assert code == 3 and re.search(r"whole disk with partitions \(vdb1\)", out), (code, out)
        # Swap is no file system, a missing device is named as missing.
        code, out = run("rescue mount vdc")
        assert code == 3 and "swap space holds no files" in out, (code, out)
        code, out = run("rescue mount vdz")
        assert code == 3 and "unable to mount vdz: no such device" in out, (code, out)
        code, out = run("rescue mount")
        assert code == 2, (code, out)

        # vfat and xfs (norecovery) read-only, with --json for scripts.
        code, out = run("rescue mount --json vdd")
        assert code == 0, out
        report = json.loads(out)
        assert report["type"] == "vfat" and report["dir"] == "/mnt/vdd", report
        assert any(t["name"] == "NOTE.TXT" for t in report["top"]), report
        code, out = run("cat /mnt/vdd/NOTE.TXT")
        assert out == "hello from vfat\n", out
        code, out = run("rescue mount vde /mnt/x")
        assert code == 0 and "vde: xfs mounted read-only at /mnt/x (norecovery" in out, out
        code, out = run("cat /mnt/x/hello.txt")
        assert out == "hello from xfs\n", out

        # Writes through the mounts fail.
        code, out = run("touch /mnt/vda/new /mnt/vdd/NEW /mnt/x/new")
        assert code != 0 and "Read-only file system" in out, out

        # umount by device and by directory; the directory we made goes away.
        for target in ("vda", "/mnt/vdd", "/dev/vde"):
            code, out = run("rescue umount %s" % target)
            assert code == 0, "umount %s: %s" % (target, out)
        code, out = run("ls -d /mnt/vda /mnt/vdd; grep -c ' /mnt/' /proc/mounts")
        assert "No such file" in out and out.strip().endswith("0"), out
        code, out = run("rescue umount vda")
        assert code == 3 and "not mounted" in out, (code, out)

        # check: a journal waiting for replay is no damage, but it is said.
        code, out = run("rescue check vda")
        assert code == 0, (code, out)
        assert "journal needs recovery: yes (not replayed: read-only)" in out, out
        assert re.search(r"^note: the journal holds changes not yet written", out, re.M), out
        assert re.search(r"^vda: clean \(e2fsck -fn found no damage", out, re.M), out

        # The journal has the mount and the refusal.
        code, out = run("rescue log --tail 40")
        assert re.search(r"mounted vda \(ext4\) read-only at /mnt/vda: used .*postgresql "
                         r"/var/lib/postgresql/15/main", out), out
        assert "unable to mount vdc" in out, out
        guest.stop(command="poweroff")
    assert [lib.sha256(d) for d in disks] == before, "a source disk changed"


def test_mount_from_the_menu(ctx):
    """The menu entry asks for the device and prints the command line it runs."""
    disk = lib.make_ext4(ctx.path("plain.img"), 16, files={"a.txt": "hello\n"})
    before = lib.sha256(disk)
    with ctx.guest("--disk", disk, "--append", "rescue.net=none") as guest:
        guest.wait_for(r"^rescue: ready .*\n", timeout=180)
        entry = guest.wait_for(lib.menu_entry(r"mount read-only"),
                               timeout=60)
        guest.wait_for(r"^Choose ", timeout=30)
        guest.sendline(entry.group("n"))
        guest.wait_for(r"device \(e\.g\. sda1\)", timeout=30)
        guest.sendline("vda")
        guest.wait_for(r"^\$ rescue mount vda\n", timeout=30)
        guest.wait_for(r"^vda: ext4 mounted read-only at /mnt/vda \(noload\)\n", timeout=60)
        guest.wait_for(r"^    a\.txt +\d", timeout=30)
        guest.stop()
    assert lib.sha256(disk) == before, "the source disk changed"


def test_mount_btrfs_exfat_ntfs_and_refuse_luks(ctx):
    """The other file systems mount read-only with their options (btrfs
    rescue=nologreplay, ntfs through ntfs3); LUKS is refused with what to do."""
    root = ctx.path("btrfs-root")
    os.makedirs(root)
    with open(os.path.join(root, "hello.txt"), "w") as f:
        f.write("hello from btrfs\n")
    btrfs = lib.make_disk_image(ctx.path("btrfs.img"), 128)                # vda
    lib.run(["mkfs.btrfs", "-q", "-f", "-r", root, btrfs])
    exfat = lib.make_disk_image(ctx.path("exfat.img"), 16)                 # vdb
    lib.run(["mkfs.exfat", exfat])
    ntfs = lib.make_disk_image(ctx.path("ntfs.img"), 16)                   # vdc
    lib.run(["mkntfs", "-q", "-F", "-f", ntfs])
    luks = lib.make_disk_image(ctx.path("luks.img"), 32)                   # vdd
    key = ctx.path("luks.key")
    with open(key, "w") as f:
        f.write("secret")
    lib.run(["cryptsetup", "luksFormat", "--batch-mode", "--type", "luks2", "--pbkdf", "pbkdf2",
             "--pbkdf-force-iterations", "1000", "--key-file", key, luks])
    disks = [btrfs, exfat, ntfs, luks]
    before = [lib.sha256(d) for d in disks]
    args = ["--append", "rescue.net=none"]
    for disk in disks:
        args += ["--disk", disk]
    with ctx.guest(*args) as guest:
        guest.wait_for(r"^rescue: ready .*\n", timeout=180)
        run = lib.console_shell(guest)
        code, out = run("rescue mount vda")
        assert code == 0 and "vda: btrfs mounted read-only at /mnt/vda (rescue=nologreplay" in out, out
        code, out = run("cat /mnt/vda/hello.txt")
        assert out == "hello from btrfs\n", out
        code, out = run("rescue mount vdb")
        assert code == 0 and "vdb: exfat mounted read-only at /mnt/vdb (ro)" in out, out
        code, out = run("rescue mount vdc")
        assert code == 0 and "vdc: ntfs mounted read-only at /mnt/vdc (ro)" in out, out
        code, out = run("grep /mnt/ /proc/mounts")
        for line in (r"/dev/vda /mnt/vda btrfs ro,nosuid,nodev,noexec", r"/dev/vdb /mnt/vdb exfat ro,",
                     r"/dev/vdc /mnt/vdc ntfs3 ro,"):
            assert re.search(line, out), "%s not in %s" % (line, out)
        code, out = run("rescue mount vdd")
        assert code == 3 and "it holds crypto_LUKS: LUKS-encrypted" in out, (code, out)
        code, out = run("rescue check vdc")
        assert code == 3 and "ntfs cannot be checked read-only here" in out, (code, out)
        for dev in ("vda", "vdb", "vdc"):
            code, out = run("rescue umount %s" % dev)
            assert code == 0, out
        code, out = run("cat /sys/block/vd[abcd]/rejected_writes")
        assert out.split() == ["0"] * 4, "writes reached the guard: " + out
        guest.stop(command="poweroff")
    assert [lib.sha256(d) for d in disks] == before, "a source disk changed"
