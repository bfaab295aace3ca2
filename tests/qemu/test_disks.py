"""rescue disks, guard and unguard through the real image: a GPT disk with
ext4, xfs, vfat, swap and LUKS partitions, a whole-disk btrfs, a spare disk
and a RESCUECFG disk. The inventory names what is on each (text and JSON);
unguard refuses partitions, mounted disks, the config disk and unknown names,
and releases the spare only after its name is typed back; a write then
reaches the spare while the guarded disks count the writes they refuse.
Every disk but the released spare is unchanged."""

import json
import os
import re
import subprocess

import lib

TIMEOUT = 420
MIB = 1024 * 1024


def _mkfs(path, size_mb, command):
    with open(path, "wb") as f:
        f.truncate(size_mb * MIB)
    subprocess.run(command + [path], check=True, capture_output=True,
                   input=b"pw" if "cryptsetup" in command[0] else None)
    return path


def _gpt_disk(ctx):
    """A GPT disk whose partitions are file systems made by the real tools."""
    parts = [
        ("ext4", 16, ["mkfs.ext4", "-q", "-F", "-L", "web-root"]),
        ("xfs", 300, ["mkfs.xfs", "-q", "-L", "pgdata"]),
        ("vfat", 16, ["mkfs.vfat", "-n", "EFI"]),
        ("swap", 8, ["mkswap", "-L", "swap0"]),
        ("crypto_LUKS", 32, ["cryptsetup", "luksFormat", "--type", "luks2", "--batch-mode",
                             "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000",
                             "--key-file", "-"]),
    ]
    disk = ctx.path("gpt.img")
    total = 1 + sum(size for _, size, _ in parts) + 1
    with open(disk, "wb") as f:
        f.truncate(total * MIB)
    script = "label: gpt\n" + "".join("size=%dMiB\n" % size for _, size, _ in parts)
    subprocess.run(["sfdisk", "-q", disk], input=script.encode(), check=True,
                   capture_output=True)
    offset = 1
    for i, (kind, size, command) in enumerate(parts):
        image = _mkfs(ctx.path("part%d.img" % i), size, command)
        subprocess.run(["dd", "if=" + image, "of=" + disk, "bs=1M", "seek=%d" % offset,
                        "conv=notrunc,sparse", "status=none"], check=True)
        os.unlink(image)
        offset += size
    return disk, [kind for kind, _, _ in parts]


def test_inventory_guard_and_unguard(ctx):
    gpt, kinds = _gpt_disk(ctx)
    btrfs = _mkfs(ctx.path("btrfs.img"), 128, ["mkfs.btrfs", "-q", "-L", "pool"])
    spare = lib.make_disk_image(ctx.path("spare.img"), 8)
    cfg = ctx.path("cfg")
    os.makedirs(cfg)
    with open(os.path.join(cfg, "rescue.conf"), "w") as f:
        f.write("net=none\n")
    sources = [gpt, btrfs]
    before = [lib.sha256(d) for d in sources]
    with ctx.guest("--disk", gpt, "--disk", btrfs, "--disk", spare, "--config", cfg) as guest:
        guest.wait_for(r"^rescue: ready .*\n", timeout=180)
        run = lib.console_shell(guest)

        code, out = run("rescue disks")
        assert code == 0, out
        for name, kind in zip(("vda1", "vda2", "vda3", "vda4", "vda5"), kinds):
            assert re.search(r"^  %s +[\d.]+ MiB +%s " % (name, re.escape(kind)), out, re.M), \
                "%s is not shown as %s:\n%s" % (name, kind, out)
        assert re.search(r"^  vda1 .* web-root ", out, re.M), out
        assert re.search(r"^vdb +128\.0 MiB +virtio .* guard on +0 rejected$", out, re.M), out
        assert re.search(r"^  \(disk\) +128\.0 MiB +btrfs +pool ", out, re.M), out
        assert re.search(r"^  \(disk\) +8\.0 MiB +unknown ", out, re.M), out
        assert "(the RESCUECFG config disk: not offered for rescue)" in out, out

        code, out = run("rescue disks --json | tr -d '\\n'; echo")
        inventory = json.loads(out.strip())
        by_name = {d["name"]: d for d in inventory["disks"]}
        assert by_name["vda"]["content"]["type"] == "gpt", by_name["vda"]
        assert [p["content"]["type"] for p in by_name["vda"]["partitions"]] == kinds
        assert by_name["vda"]["partitions"][1]["content"]["label"] == "pgdata"
        assert by_name["vdd"]["config_disk"] is True, by_name["vdd"]
        assert all(d["guarded"] for d in inventory["disks"] if d["hardware"]), inventory

        # Refusals, each with its reason; nothing changes.
        code, out = run("rescue unguard vda1")
        assert code == 2 and "vda1 is a partition; the guard belongs to its disk: " \
            "rescue unguard vda" in out, out
        code, out = run("rescue unguard sdz")
        assert code == 2 and "no such disk: sdz" in out, out
        code, out = run("rescue unguard --yes vdd")
        assert code == 2 and "vdd is the RESCUECFG config disk" in out, out
        code, out = run("rescue mount vda1")
        assert code == 0, out
        code, out = run("rescue unguard --yes vda")
        assert code == 2 and "vda is in use: its partition vda1 is mounted at /mnt/vda1" in out, \
            out
        code, out = run("rescue umount vda1")
        assert code == 0, out
        code, out = run("rescue unguard vdc < /dev/null")
        assert code == 2 and "needs a confirmation typed on a terminal, or --yes" in out, out

        # The spare, released with its name typed back; a wrong answer releases nothing.
        guest.sendline("rescue unguard vdc; echo unguard-rc=$?")
        guest.wait_for(r"Type vdc to release it: ", timeout=30)
        guest.sendline("yes")
        guest.wait_for(r"^Not released\.\n", timeout=30)
        guest.wait_for(r"^unguard-rc=2\n", timeout=30)
        guest.sendline("rescue unguard vdc; echo unguard-rc=$?")
        guest.wait_for(r"Type vdc to release it: ", timeout=30)
        guest.sendline("vdc")
        guest.wait_for(r"^vdc: write guard released; writes to it are possible now\. ", timeout=30)
        guest.wait_for(r"^unguard-rc=0\n", timeout=30)

        code, out = run("printf spare-was-written | dd of=/dev/vdc conv=fsync")
        assert code == 0, "a write to the released disk failed: " + out
        code, out = run("printf nope | dd of=/dev/vda conv=fsync")
        assert code != 0, "a write to a guarded disk succeeded: " + out
        code, out = run("rescue disks vda")
        assert re.search(r"^vda .* guard on +[1-9]\d* rejected$", out, re.M), out
        code, out = run("rescue guard")
        assert re.search(r"^vdc +off +\d{4}-\d\d-\d\dT[\d:]+Z +0$", out, re.M), out
        assert re.search(r"^vda +on +- +[1-9]", out, re.M), out
        code, out = run("rescue guard vdc && printf again | dd of=/dev/vdc conv=fsync")
        assert code != 0 and "vdc: write guard on" in out, out
        guest.stop(command="poweroff")
    with open(spare, "rb") as f:
        assert f.read(17) == b"spare-was-written", "the released disk did not get the write"
    assert [lib.sha256(d) for d in sources] == before, "a source disk changed"


# ------------------------------------------------------------------------
# The same commands driven through the menu, with every partition's label
# and UUID checked against util-linux's blkid on the host.

SMALL_PARTS = [
    ("ext4", 16, ["mkfs.ext4", "-q", "-F", "-L", "data", "{img}"]),
    # xfs refuses less than 300 MiB unless it runs under fstests (TEST_DIR,
    # TEST_DEV and QA_CHECK_FS set): 32 MiB is plenty for what the probe reads.
    ("xfs", 32, ["mkfs.xfs", "-q", "-f", "-L", "web", "{img}"]),
    ("vfat", 16, ["mkfs.vfat", "-n", "BOOT", "{img}"]),
    ("swap", 8, ["mkswap", "-L", "swp", "{img}"]),
    ("crypto_LUKS", 8, ["sh", "-c", "printf pw | cryptsetup luksFormat --type luks1 "
                        "--batch-mode --pbkdf-force-iterations 1000 {img} -"]),
    ("btrfs", 112, ["mkfs.btrfs", "-q", "-L", "pool", "{img}"]),
]


def _blkid(path, offset=0):
    """What blkid says about PATH at byte OFFSET: {TYPE, LABEL, UUID, ...}."""
    proc = subprocess.run(["blkid", "-p", "-O", str(offset), "-o", "export", path],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)


def _small_gpt_disk(ctx):
    """GPT with SMALL_PARTS, each made on its own file and copied in (the host has
    no device-mapper); returns (path, [(type, start_bytes, size_bytes)])."""
    env = dict(os.environ, TEST_DIR=ctx.path(), TEST_DEV="fixture", QA_CHECK_FS="1")
    start, layout = MIB, []
    for kind, size_mb, mkfs in SMALL_PARTS:
        image = lib.make_disk_image(ctx.path("small-%s.part" % kind), size_mb)
        lib.run([a.replace("{img}", image) for a in mkfs], env=env)
        layout.append((kind, image, start, size_mb * MIB))
        start += size_mb * MIB
    disk = lib.make_disk_image(ctx.path("small-gpt.img"), start // MIB + 1)
    lib.run(["sfdisk", "-q", disk], input="label: gpt\n" + "".join(
        "start=%d, size=%d, type=L\n" % (s // 512, n // 512) for _, _, s, n in layout))
    for _, image, offset, _ in layout:
        lib.run(["dd", "if=" + image, "of=" + disk, "bs=1M", "seek=%d" % (offset // MIB),
                 "conv=notrunc,sparse", "status=none"])
        os.unlink(image)
    return disk, [(kind, offset, size) for kind, _, offset, size in layout]


def _menu_unguard(guest, entry, answer):
    """The menu's unguard ENTRY for vdc, answering its question with ANSWER."""
    guest.wait_for(r"Choose [^\n]*: ", timeout=30)
    guest.sendline(entry)
    guest.wait_for(r"disk to release as a target \(e\.g\. sdb\) \(Enter alone goes back\): ")
    guest.sendline("vdc")
    guest.wait_for_line(r"\$ rescue unguard vdc")
    guest.wait_for(r"Type vdc to release it: ", timeout=30)
    guest.sendline(answer)


def test_menu_unguard_and_json_against_blkid(ctx):
    gpt, layout = _small_gpt_disk(ctx)
    whole = lib.make_ext4(ctx.path("whole.img"), 16, files={"a.txt": "hello\n"},
                          label="whole", dirty_journal=True)
    spare = lib.make_disk_image(ctx.path("spare.img"), 16)
    cfg = ctx.path("cfg")
    os.makedirs(cfg)
    sources = [gpt, whole]
    before = [lib.sha256(d) for d in sources]
    with ctx.guest("--disk", gpt + ",serial=SRC-GPT-1", "--disk", whole, "--disk", spare,
                   "--config", cfg, "--append", "rescue.net=none") as guest:
        guest.wait_for(r"^rescue: ready ", timeout=180)
        entry = guest.wait_for(lib.menu_entry(r"unguard: "), timeout=60).group(1)

        # From the menu: a wrong name releases nothing, the right one releases.
        _menu_unguard(guest, entry, "vda")
        guest.wait_for_line(r"Not released\.")
        guest.wait_for_line(r"\[exit 2\]")
        _menu_unguard(guest, entry, "vdc")
        guest.wait_for_line(r"vdc: write guard released; writes to it are possible now\. "
                            r"`rescue guard vdc` sets it again\.")
        guest.wait_for_line(r"\[exit 0\]")
        guest.wait_for(r"Choose [^\n]*: ", timeout=30)
        guest.sendline("")  # Enter alone shows the menu again, with its shell entry
        lib.menu_shell(guest)
        run = lambda command: lib.console_run(guest, command)

        code, out = run("rescue disks")
        assert code == 0, out
        for line in out.splitlines():
            assert len(line) <= 80, "longer than 80 columns: %r" % line
        for pattern in (
                r"^vda +\d+\.\d MiB +virtio +(hdd|ssd) +- #SRC-GPT-1 +guard on +0 rejected$",
                r"^  \(disk\) +16\.0 MiB +ext4 +whole +guard on +0 rejected\n"
                r" +uuid \S+  needs recovery$",
                r"^vdc +16\.0 MiB +virtio .* guard off 0 rejected\n"
                r"  \(disk\) +16\.0 MiB +unknown +- +guard off +0 rejected$",
                r"^ +uuid 5245-5343  mounted at /run/rescue/config$"):
            assert re.search(pattern, out, re.M), "no line matching %r in:\n%s" % (pattern, out)

        code, out = run("echo @@JSON; rescue disks --json | tr -d '\\n'; echo; echo @@END")
        m = re.search(r"^@@JSON\n(?P<json>.*?)\n@@END$", out, re.M | re.S)
        assert code == 0 and m, out
        disks = {d["name"]: d for d in json.loads(m.group("json"))["disks"]}
        assert disks["vda"]["serial"] == "SRC-GPT-1", disks["vda"]
        parts = disks["vda"]["partitions"]
        assert len(parts) == len(layout), parts
        for part, (kind, offset, size) in zip(parts, layout):
            expected = _blkid(gpt, offset)
            assert (part["start_bytes"], part["size_bytes"]) == (offset, size), part
            assert part["content"]["type"] == kind == expected["TYPE"], (part, expected)
            assert part["content"]["uuid"] == expected.get("UUID", ""), (part, expected)
            assert part["content"]["label"] == expected.get("LABEL", ""), (part, expected)
            assert part["guarded"] is True, part
        assert disks["vdb"]["content"]["needs_recovery"] is True, disks["vdb"]
        assert disks["vdb"]["content"]["uuid"] == _blkid(whole)["UUID"], disks["vdb"]
        assert disks["vdc"]["guarded"] is False and disks["vdc"]["content"]["type"] == ""
        assert disks["vdd"]["mounted"] == "/run/rescue/config", disks["vdd"]

        # A disk a rescue holds is refused, naming the partition.
        run("mkdir -p /run/rescue/busy && : > /run/rescue/busy/vda3")
        code, out = run("rescue unguard --yes vda")
        assert code == 2 and "vda is in use: its partition vda3 is being rescued" in out, out
        run("rm /run/rescue/busy/vda3")

        # The released disk takes a write; the release is on record for the report.
        code, out = run("printf RESCUE-TARGET-OK | dd of=/dev/vdc bs=512 conv=sync,fsync")
        assert code == 0, "a write to the released disk failed: " + out
        code, out = run("cat /run/rescue/unguarded")
        assert re.fullmatch(r"vdc \d+\n", out), out
        code, out = run("rescue guard vdc && rescue guard")
        assert code == 0 and "vdc: write guard on" in out, out
        assert re.search(r"^vdc +on +\d{4}-\d\d-\d\dT[\d:]+Z +0$", out, re.M), out
        for disk in ("vda", "vdb", "vdd"):
            code, out = run("cat /sys/block/%s/guard" % disk)
            assert out.strip() == "1", "%s lost its guard: %s" % (disk, out)
        guest.stop(command="poweroff")

    assert [lib.sha256(d) for d in sources] == before, "a source disk changed"
    with open(spare, "rb") as f:
        assert f.read(16) == b"RESCUE-TARGET-OK", "the write to the released disk is missing"
