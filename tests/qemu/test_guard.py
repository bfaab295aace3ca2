"""The promise: every disk is read-only from the moment it appears, and
deliberate writes inside the guest fail. Driven over SSH with a key passed
on the kernel command line and the host key checked against the
fingerprint the console printed. The disk images' sha256 on the host is
unchanged afterwards."""

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
    who = ssh("id -u; hostname", check=True)
    assert who.stdout.decode().split() == ["0", "rescue"], _out(who)

    # Every disk and partition reports read-only, through every interface.
    devices = ["vda", "vdb", "vdb1", "vdc"]
    for dev in devices:
        state = ssh("cat /sys/class/block/%s/ro; blockdev --getro /dev/%s" % (dev, dev), check=True)
        assert state.stdout.decode().split() == ["1", "1"], "%s not read-only: %s" % (dev, _out(state))
    for disk in ["vda", "vdb", "vdc"]:
        guard = ssh("cat /sys/block/%s/guard" % disk, check=True)
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
