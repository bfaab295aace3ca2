"""The promise: every disk is read-only from the moment it appears, and
deliberate writes inside the guest fail. Driven over SSH with a key passed
on the kernel command line and the host key checked against the
fingerprint the console printed. The disk images' sha256 on the host is
unchanged afterwards."""

import os
import re

import lib

TIMEOUT = 420
READY = r"^rescue: ready .* ssh=on:22:1keys"


def _boot_with_ssh(ctx, disks):
    private, public = lib.ssh_keypair(ctx.path())
    port = lib.free_port()
    args = ["--ssh-key", public, "--forward", "%d:22" % port]
    for disk in disks:
        args += ["--disk", disk]
    guest = ctx.guest(*args)
    fingerprints = []
    ready = None
    while ready is None:
        # Whole lines only: the console may hold half a line when we look.
        m = guest.wait_for(r"^rescue: (ssh host key \S+ (?P<fp>SHA256:\S+)|ready [^\n]* ssh=\S+)\n",
                           timeout=180)
        if m.group("fp"):
            fingerprints.append(m.group("fp"))
        else:
            ready = m
    assert re.search(READY, ready.group(0), re.M), "SSH not on in: " + ready.group(0)
    assert fingerprints, "no host key fingerprint printed before the ready line"
    known_hosts = lib.scan_host_keys(port, ctx.path("known_hosts"), fingerprints)
    return guest, lambda command, **kw: lib.ssh(port, private, command, known_hosts, **kw)


def _out(proc):
    return proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")


def test_ssh_login_and_write_block(ctx):
    plain = lib.make_ext4(ctx.path("plain.img"), 16, files={"a.txt": "hello\n"})
    parted = lib.make_ext4(ctx.path("parted.img"), 24, files={"b.txt": "world\n"},
                           partitioned="gpt", dirty_journal=True)
    swap = ctx.path("swap.img")
    with open(swap, "wb") as f:
        f.truncate(8 * 1024 * 1024)
    disks = [plain, parted, swap]
    before = [lib.sha256(d) for d in disks]
    guest, ssh = _boot_with_ssh(ctx, disks)

    # A login works and runs commands as a shell would.
    who = ssh("id -u; hostname")
    assert who.stdout.decode().split() == ["0", "rescue"], _out(who)

    # Every disk and partition reports read-only, through every interface.
    devices = ["vda", "vdb", "vdb1", "vdc"]
    for dev in devices:
        state = ssh("cat /sys/class/block/%s/ro; blockdev --getro /dev/%s" % (dev, dev))
        assert state.stdout.decode().split() == ["1", "1"], "%s not read-only: %s" % (dev, _out(state))
    for disk in ["vda", "vdb", "vdc"]:
        guard = ssh("cat /sys/block/%s/guard" % disk)
        assert guard.stdout.decode().strip() == "1", "%s not guarded" % disk

    # Clearing the ordinary read-only flag does not lift the guard.
    ssh("blockdev --setrw /dev/vda; blockdev --setrw /dev/vdb1", check=False)

    attempts = {
        "dd to a disk": "dd if=/dev/zero of=/dev/vda bs=4096 count=4 conv=fsync",
        "dd to a partition": "dd if=/dev/zero of=/dev/vdb1 bs=4096 seek=1 count=4 conv=fsync",
        "mount -o rw with a dirty journal": "mkdir -p /mnt/x && mount -t ext4 -o rw /dev/vdb1 /mnt/x",
        "e2fsck -fy on the raw partition": "e2fsck -fy /dev/vdb1",
    }
    for what, command in attempts.items():
        result = ssh(command + " 2>&1; echo EXIT=$?")
        text = _out(result)
        m = re.search(r"EXIT=(\d+)", text)
        assert m, "%s: no exit status in %r" % (what, text)
        assert m.group(1) != "0", "%s succeeded: %s" % (what, text)

    # busybox mkswap ignores its fsync() result, so its exit status says
    # nothing: look at what reached the disk once the page cache is dropped.
    ssh("mkswap /dev/vdc; sync", check=False)
    sig = ssh("echo 3 >/proc/sys/vm/drop_caches; dd if=/dev/vdc bs=4096 count=1 2>/dev/null"
              " | grep -c SWAPSPACE2", check=False)
    assert sig.stdout.decode().strip() == "0", "mkswap's signature reached the disk: " + _out(sig)

    # The refusals were counted per device, partitions included.
    counts = ssh("for d in vda vdb vdb/vdb1 vdc; do echo $d $(cat /sys/block/$d/rejected_writes); done",
                 check=True).stdout.decode()
    rejected = dict(line.split() for line in counts.splitlines())
    for dev in ("vda", "vdb", "vdb/vdb1", "vdc"):
        assert int(rejected[dev]) > 0, "no rejected writes counted on %s: %s" % (dev, counts)
    mounted = ssh("grep -c ' /mnt/x ' /proc/mounts", check=False).stdout.decode().strip()
    assert mounted == "0", "the dirty ext4 got mounted"

    guest.stop(command="poweroff")
    assert [lib.sha256(d) for d in disks] == before, "a disk image changed on the host"


def test_wrong_key_refused(ctx):
    """A key that was not given cannot log in; there is no password login."""
    disk = lib.make_ext4(ctx.path("plain.img"), 16, files={"a.txt": "hello\n"})
    guest, ssh = _boot_with_ssh(ctx, [disk])
    other, _ = lib.ssh_keypair(ctx.path(), name="id_other")
    port = int(re.search(r"hostfwd=tcp:127\.0\.0\.1:(\d+)-:22",
                         open(guest.qemu_log).read()).group(1))
    refused = lib.ssh(port, other, "true", ctx.path("known_hosts"))
    assert refused.returncode == 255, "a foreign key got in: %s" % _out(refused)
    ok = ssh("true")
    assert ok.returncode == 0, _out(ok)


# ---------------------------------------------------------------- the guard under fire

# Every way we know to write to a guarded disk from a root shell, with the image's own tools
# (busybox, e2fsprogs) and, for the system calls those cannot make, guard_probe.c (built
# here, shipped in an extra initramfs, not in the image). Each must fail; the disks' sha256
# on the host is the final word. vda is virtio with a GPT partition holding an ext4 with an
# unreplayed journal, sda is on AHCI (SCSI passthrough through libata), nvme0n1 is NVMe.
# (what, command, refusal): the command fails, or, for a tool whose exit status does not
# tell (busybox hdparm), its output matches REFUSAL.
SHELL_WAYS = [
    ("dd to a partition", "dd if=/dev/zero of=/dev/vda1 bs=4096 seek=16 count=1 conv=fsync", None),
    ("dd with O_DIRECT", "dd if=/dev/zero of=/dev/vda bs=4096 seek=16 count=1 oflag=direct", None),
    ("blockdev --setrw, then dd",
     "blockdev --setrw /dev/vda && dd if=/dev/zero of=/dev/vda bs=4096 seek=16 count=1 conv=fsync",
     None),
    ("hdparm -r0, then dd",
     "hdparm -r0 /dev/sda && dd if=/dev/zero of=/dev/sda bs=4096 seek=16 count=1 conv=fsync", None),
    ("hdparm -W0 (ATA SET FEATURES)", "hdparm -W0 /dev/sda",
     r"HDIO_DRIVE_CMD: Operation not permitted"),
    ("fdisk writes a new label", "printf 'o\\nw\\n' | fdisk /dev/sda", None),
    ("truncate the device", "truncate -s 0 /dev/vda", None),
    ("loop device on top, then dd",
     "losetup /dev/loop7 /dev/vda && dd if=/dev/zero of=/dev/loop7 bs=4096 seek=16 count=1 conv=fsync",
     None),
    ("mount -o rw", "mkdir -p /mnt/rw && mount -t ext4 -o rw /dev/vda1 /mnt/rw", None),
    ("mount -o ro, the journal to replay",
     "mkdir -p /mnt/ro && mount -t ext4 -o ro /dev/vda1 /mnt/ro", None),
    ("mount -o ro,noload, then remount rw",
     "mkdir -p /mnt/re && mount -t ext4 -o ro,noload /dev/sda /mnt/re && "
     "mount -o remount,rw /mnt/re && touch /mnt/re/x && sync", None),
    ("debugfs -w", "debugfs -w -R 'mkdir probe' /dev/vda1 && debugfs -R 'ls' /dev/vda1 | grep -q probe",
     None),
    ("mke2fs", "mke2fs -F -q /dev/nvme0n1", None),
    ("e2fsck -fy", "e2fsck -fy /dev/vda1", None),
]
PROBE_WAYS = [(way, "/dev/vda") for way in (
    "write", "direct", "mmap", "discard", "zeroout", "secdiscard", "punch-hole", "zero-range",
    "dm-linear", "swapon", "io-uring", "io-uring-direct")] + [(way, "/dev/sda") for way in (
        "write", "mmap", "blkpg", "sg-write10", "sg-write-same", "sg-ata-write",
        "sg-ata-erase")] + [
    (way, "/dev/nvme0n1") for way in ("write", "nvme-write", "nvme-write-zeroes",
                                      "nvme-deallocate")] + [
    ("nvme-write", "/dev/ng0n1"), ("nvme-format", "/dev/nvme0")]
PROBE = "/opt/probe/guard_probe"


def _probe_initramfs(ctx):
    """guard_probe.c, static, in a cpio that lands at /opt/probe beside the image's own."""
    root = ctx.path("probe-root")
    os.makedirs(os.path.join(root, "opt", "probe"))
    lib.run(["gcc", "-static", "-O1", "-Wall", "-Werror", "-o",
             os.path.join(root, "opt", "probe", "guard_probe"),
             os.path.join(lib.TOP, "tests", "qemu", "guard_probe.c")])
    cpio = ctx.path("probe.cpio")
    lib.run("find opt | cpio -o -H newc --quiet > %s" % cpio, shell=True, cwd=root)
    return cpio


def test_every_write_path_is_refused(ctx):
    vda = lib.make_ext4(ctx.path("vda.img"), 24, files={"b.txt": "world\n"},
                        partitioned="gpt", dirty_journal=True)
    sda = lib.make_ext4(ctx.path("sda.img"), 16, files={"a.txt": "hello\n"})
    nvme = lib.make_ext4(ctx.path("nvme.img"), 16, files={"c.txt": "again\n"})
    disks = [vda, sda, nvme]
    before = [lib.sha256(d) for d in disks]
    guest = ctx.guest("--kernel", ctx.image, "--initrd", _probe_initramfs(ctx),
                      "--disk", vda, "--disk", sda + ",if=ahci", "--disk", nvme + ",if=nvme")
    guest.wait_for(r"^rescue: ready .*\n", timeout=180)
    lib.menu_shell(guest)
    run = lambda command, timeout=120: lib.console_run(guest, command, timeout=timeout)
    code, text = run("for d in vda sda nvme0n1; do echo $d $(cat /sys/block/$d/guard); done; "
                     "ls /dev/ng0n1 /dev/nvme0 " + PROBE)
    assert code == 0 and text.split()[:6] == ["vda", "1", "sda", "1", "nvme0n1", "1"], text

    through = []
    for what, command, refusal in SHELL_WAYS:
        code, text = run("(%s)" % command)
        print("guard: %-40s exit %d: %s" % (what, code, " | ".join(text.strip().splitlines()[-2:])))
        if code == 0 and not (refusal and re.search(refusal, text)):
            through.append("%s: %s" % (what, text.strip()))
    for way, device in PROBE_WAYS:
        code, text = run("%s %s %s" % (PROBE, way, device))
        print("guard: " + text.strip().replace("\n", " | "))
        assert code in (0, 1), "guard_probe %s %s: %s" % (way, device, text)
        if code == 1:
            through.append(text.strip())

    # The guard is still on everywhere, and the refusals were counted where the block layer
    # saw them (passthrough refusals are not bios and do not count).
    code, text = run("for d in vda vda/vda1 sda nvme0n1; do echo $d $(cat /sys/block/$d/rejected_writes); "
                     "done; cat /sys/block/vda/guard /sys/block/sda/guard /sys/block/nvme0n1/guard")
    print("guard: counted " + text.replace("\n", " "))
    counts = dict(line.split() for line in text.splitlines()[:4])
    assert all(int(n) > 0 for n in counts.values()), "refusals not counted: " + text
    assert text.split()[-3:] == ["1", "1", "1"], "a guard came off: " + text

    # The second line: when even blockdev --setro fails on a disk the kernel left unguarded,
    # hotplug-block says so on the console.
    code, text = run("MDEV=nosuch ACTION=add /lib/rescue/hotplug-block")
    assert re.search(r"warning: disk nosuch is NOT guarded by the kernel and blockdev --setro "
                     r"/dev/nosuch failed \(.+\): it is NOT write-protected", text), text

    guest.stop(command="poweroff")
    changed = [d for d, sha in zip(disks, before) if lib.sha256(d) != sha]
    assert not through and not changed, "writes got through: %s; images changed: %s" % (
        through, changed)
