"""Boot to `rescue: ready` the ways a user would: -kernel, small memory,
bad parameters, a junk config disk. Every disk's sha256 is unchanged."""

import os
import re

import lib

READY = r"^rescue: ready uptime=(?P<uptime>[\d.]+)s disks=(?P<disks>\d+) guarded=(?P<guarded>\d+) net=(?P<net>\S+) ssh=(?P<ssh>\S+)\n"


def _boot_with_complaints(ctx, disk, args, messages):
    """Boot to ready with ARGS; every regex in MESSAGES must be on the console."""
    with ctx.guest("--disk", disk, *args) as guest:
        ready = guest.wait_for(READY, timeout=120)
        log = guest.output()
    for message in messages:
        assert re.search(message, log), "no console message matching %r" % message
    return ready


def _disks(ctx):
    plain = lib.make_ext4(ctx.path("plain.img"), 16, files={"a.txt": "hello\n"}, label="plain")
    parted = lib.make_ext4(ctx.path("parted.img"), 24, files={"b.txt": "world\n"},
                           partitioned="gpt", label="parted")
    return [plain, parted]


def test_kernel_boot_ready(ctx):
    disks = _disks(ctx)
    before = [lib.sha256(d) for d in disks]
    with ctx.guest("--disk", disks[0], "--disk", disks[1]) as guest:
        ready = guest.wait_for(READY, timeout=120)
        assert ready.group("disks") == "2", "expected 2 disks, ready line says %s" % ready.group(0)
        assert ready.group("guarded") == "2", "not every disk guarded: %s" % ready.group(0)
        assert re.match(r"eth0=10\.0\.2\.15/24$", ready.group("net")), \
            "DHCP address missing from %s" % ready.group(0)
        assert ready.group("ssh") == "off", "ssh should be off without keys: %s" % ready.group(0)
        # The menu follows the ready line on the serial console, and its
        # listing shows every disk and partition read-only and guarded.
        guest.wait_for(r"^disks: 2 guarded of 2, 0 writes rejected +ssh: off\n", timeout=60)
        entry = guest.wait_for(lib.menu_entry(r"disks: "), timeout=30)
        guest.wait_for(r"^Choose ", timeout=30)
        guest.sendline(entry.group(1))
        guest.wait_for(r"^\$ rescue disks\n", timeout=30)
        guest.wait_for(r"^vda +16\.0 MiB +virtio +hdd .* guard on +0 rejected\n", timeout=30)
        guest.wait_for(r"^  \(disk\) +16\.0 MiB +ext4 +plain +guard on +0 rejected\n", timeout=30)
        guest.wait_for(r"^vdb +24\.0 MiB +virtio +hdd .* guard on +0 rejected\n", timeout=30)
        guest.wait_for(r"^  vdb1 +[\d.]+ MiB +ext4 +parted +guard on +0 rejected\n", timeout=30)
    assert [lib.sha256(d) for d in disks] == before, "a source disk changed"


def test_small_memory(ctx):
    disk = lib.make_ext4(ctx.path("plain.img"), 16, files={"a.txt": "hello\n"})
    before = lib.sha256(disk)
    with ctx.guest("--memory", "128", "--disk", disk) as guest:
        # Under 256 MiB the boot says so before it is ready, with the numbers.
        low = guest.wait_for(r"^rescue: warning: low memory: (\d+) MiB in all, (\d+) MiB "
                             r"available \(under 256 MiB\)", timeout=120)
        assert 64 < int(low.group(1)) < 128 and int(low.group(2)) < int(low.group(1)), \
            low.group(0)
        ready = guest.wait_for(READY, timeout=120)
        assert ready.group("guarded") == "1", ready.group(0)
    assert lib.sha256(disk) == before, "the source disk changed"


def test_bad_parameters(ctx):
    disk = lib.make_ext4(ctx.path("plain.img"), 16, files={"a.txt": "hello\n"})
    before = lib.sha256(disk)
    # The second key is base64 of "hello world": it decodes, but is no key.
    bad = ("rescue.bogus=1 rescue.net=eth9:not-an-address rescue.ssh_key=%%%notbase64 "
           "rescue.ssh_key=aGVsbG8gd29ybGQ= rescue.poweroff=7 rescue.target=gopher://x")
    ready = _boot_with_complaints(ctx, disk, ["--append", bad], (
        r"unknown parameter bogus=1",
        r"rescue\.poweroff=7: expected 0 or 1",
        r"rescue\.target=gopher://x: not a target URL",
        r"rescue\.net=eth9:not-an-address: expected dhcp, none or IFACE",
        r"rescue\.ssh_key #1: not valid base64",
        r"rescue\.ssh_key #2: not an SSH public key line"))
    assert ready.group("ssh") == "off", ready.group(0)
    assert lib.sha256(disk) == before, "the source disk changed"


def test_junk_config_disk(ctx):
    """A RESCUECFG disk with junk: each problem named, boot goes on, nothing written."""
    cfg = ctx.path("cfg")
    os.makedirs(cfg)
    with open(os.path.join(cfg, "authorized_keys"), "w") as f:
        f.write("# comment\nthis is not a key\nssh-ed25519 !!!\n")
    # Line 4 is binary noise (a terminal escape that would clear the screen, control bytes,
    # high bytes, 200 bytes long): shown escaped and cut short, never raw.
    noise = b"\x1b[2J\x07\x01\xff" + bytes(range(0x80, 0x100)) * 2 + b"=x"
    with open(os.path.join(cfg, "rescue.conf"), "wb") as f:
        f.write(b"net=none\njunk line without equals\ncolour=blue\n" + noise + b"\n")
    disk = lib.make_ext4(ctx.path("plain.img"), 16, files={"a.txt": "hello\n"})
    before = lib.sha256(disk)
    ready = _boot_with_complaints(ctx, disk, ["--config", cfg], (
        r"config disk /dev/vdb mounted read-only",
        r"rescue\.conf line 2: expected NAME=VALUE",
        r"unknown parameter colour=blue in rescue\.conf line 3",
        r"unknown parameter \^\[\[2J\^G\^AM-\^\?M-\^@M-\^A[^\n]*\.\.\. in rescue\.conf line 4 \(ignored\)",
        r"authorized_keys line 2 on the config disk: not an SSH public key",
        r"authorized_keys line 3 on the config disk: not an SSH public key",
        r"network off \(rescue\.net=none\)"))
    assert ready.group("net") == "none", ready.group(0)
    assert ready.group("ssh") == "off", ready.group(0)
    with open(ctx.path("guest.console.log"), "rb") as log:
        console = log.read()
    assert b"\x1b[2J" not in console and b"\x07\x01" not in console, "raw noise on the console"
    assert lib.sha256(disk) == before, "the source disk changed"
