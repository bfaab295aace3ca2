"""The hardware people rent, as QEMU emulates it, in one boot: a disk behind
every storage controller QEMU has (AHCI, NVMe, virtio-blk, virtio-scsi, LSI
MegaRAID SAS, LSI SAS1068, VMware PVSCSI, LSI 53C895A, USB storage and UAS)
and every NIC model (virtio-net, e1000, e1000e, rtl8139, vmxnet3), each on
its own QEMU user network. Every disk must be listed by `rescue disks` with
its guard on and its sha256 unchanged; every NIC must be bound to the
expected driver and get a DHCP address through it.

Every disk gets a WWN, as real SAS disks have one: QEMU's default is 0, and
Linux's mptsas (Debian's stock kernel too) groups SAS phys into ports by the
attached SAS address and skips address 0, so behind QEMU's LSI SAS1068
(mptsas1068) a disk without a WWN never becomes a SAS end device and never
appears (its eight phys do)."""

import json
import re
import time

import lib

TIMEOUT = 300

# label: the qemu-run --disk interface, or the QEMU controller device that
# gets a scsi-hd on its first bus.
DISKS = {
    "ahci": "if=ahci", "nvme": "if=nvme", "virtio-blk": "if=virtio", "usb-storage": "if=usb",
    "virtio-scsi": "virtio-scsi-pci", "megasas": "megasas", "mptsas1068": "mptsas1068",
    "pvscsi": "pvscsi", "lsi53c895a": "lsi53c895a", "uas": "usb-uas,bus=xhci.0",
}
# NAA-5 style WWNs (SAS addresses) for the SCSI disks, one apart.
WWN = 0x5000c50015ea7100
# QEMU NIC model: the Linux driver that must bind it. virtio-net is
# qemu-run's own card (net0, 10.0.2.0/24); the others get 10.0.N.0/24.
NICS = {"virtio-net-pci": "virtio_net", "e1000": "e1000", "e1000e": "e1000e",
        "rtl8139": "8139cp", "vmxnet3": "vmxnet3"}


def _qemu_args(ctx):
    """qemu-run options and the raw QEMU arguments after `--`; the disks by label."""
    options, extra, disks = [], [], {}
    for n, (label, how) in enumerate(DISKS.items()):
        disks[label] = lib.make_ext4(ctx.path(label + ".img"), 8, files={"who": label + "\n"},
                                     label=label)
        if how.startswith("if="):
            options += ["--disk", disks[label] + "," + how]
            continue
        drive = "hw%d" % n
        extra += ["-drive", "file=%s,if=none,id=%s,format=raw,cache=unsafe" % (disks[label], drive),
                  "-device", "%s,id=c%s" % (how, drive),
                  "-device", "scsi-hd,bus=c%s.0,drive=%s,wwn=0x%x" % (drive, drive, WWN + n)]
    for n, model in enumerate(m for m in NICS if m != "virtio-net-pci"):
        extra += ["-netdev", "user,id=hn%d,restrict=on,net=10.0.%d.0/24" % (n, n + 3),
                  "-device", "%s,netdev=hn%d" % (model, n)]
    return options + ["--"] + extra, disks


def _listed(guest):
    """{label: (disk name, transport, guarded)} for the fixture disks `rescue disks` lists."""
    code, text = lib.console_run(guest, "rescue disks --json")
    assert code == 0, text
    listed = {}
    for disk in json.loads(text[text.index("{"):])["disks"]:
        for item in [disk] + disk.get("partitions", []):
            label = (item.get("content") or {}).get("label")
            if label in DISKS:
                listed[label] = (disk["name"], disk.get("transport"), item["guarded"])
    return listed


def _nics(guest):
    """{driver: IPv4 address or ""} for every ethN."""
    code, text = lib.console_run(
        guest, "for n in /sys/class/net/eth*; do echo ${n##*/} "
               "$(basename $(readlink $n/device/driver)) $(ip -4 -o addr show ${n##*/} | "
               "sed -n 's/.* inet \\([0-9.]*\\)\\/.*/\\1/p'); done")
    assert code == 0, text
    return {m.group(2): m.group(3) for m in re.finditer(r"^(eth\d+) (\S+) ?(\S*)$", text, re.M)}


def _poll(probe, done, seconds=60):
    """PROBE() again every 3 s until DONE(value) or SECONDS pass; the last value."""
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(3)


def test_controllers_and_nics(ctx):
    args, disks = _qemu_args(ctx)
    before = {label: lib.sha256(path) for label, path in disks.items()}
    guest = ctx.guest(*args)
    ready = guest.wait_for(r"^rescue: ready [^\n]* disks=(\d+) guarded=(\d+) ", timeout=240)
    assert ready.group(1) == ready.group(2), ready.group(0)
    lib.menu_shell(guest)
    # USB disks and slow SCSI hosts may come after the ready line, and DHCP
    # goes on in the background on the extra cards: look again for a while.
    expected = set(DISKS)
    listed = _poll(lambda: _listed(guest), lambda l: expected <= set(l))
    missing = sorted(expected - set(listed))
    assert not missing, "not listed: %s (listed: %s)" % (missing, listed)
    unguarded = {label: d for label, d in listed.items() if d[2] is not True}
    assert not unguarded, "not guarded: %s" % unguarded
    want = set(NICS.values())
    nics = _poll(lambda: _nics(guest), lambda n: all(n.get(d) for d in want))
    for model, driver in NICS.items():
        assert nics.get(driver, "").startswith("10.0."), \
            "%s: no interface bound to %s with a DHCP address: %s" % (model, driver, nics)
    guest.stop()
    changed = [label for label, path in disks.items() if lib.sha256(path) != before[label]]
    assert not changed, "disks changed: %s" % changed
