"""The hardware people rent, as QEMU emulates it, in one boot: a disk behind
every storage controller QEMU has (AHCI, NVMe, virtio-blk, virtio-scsi, LSI
MegaRAID SAS, LSI SAS1068, VMware PVSCSI, LSI 53C895A, USB storage and UAS)
and every NIC model (virtio-net, e1000, e1000e, rtl8139, vmxnet3), each on
its own QEMU user network. Every disk must be listed by `rescue disks` with
its guard on and its sha256 unchanged; every NIC must be bound to the
expected driver and get a DHCP address through it."""

import json
import re

import lib

TIMEOUT = 300

# label: the qemu-run --disk interface, or the QEMU controller device that
# gets a scsi-hd on its first bus.
DISKS = {
    "ahci": "if=ahci", "nvme": "if=nvme", "virtio-blk": "if=virtio", "usb-storage": "if=usb",
    "virtio-scsi": "virtio-scsi-pci", "megasas": "megasas", "mptsas1068": "mptsas1068",
    "pvscsi": "pvscsi", "lsi53c895a": "lsi53c895a", "uas": "usb-uas,bus=xhci.0",
}
# QEMU NIC model: the Linux driver that must bind it. virtio-net is
# qemu-run's own card (net0, 10.0.2.0/24); the others get 10.0.N.0/24.
NICS = {"virtio-net-pci": "virtio_net", "e1000": "e1000", "e1000e": "e1000e",
        "rtl8139": "8139too", "vmxnet3": "vmxnet3"}


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
                  "-device", "scsi-hd,bus=c%s.0,drive=%s" % (drive, drive)]
    for n, model in enumerate(m for m in NICS if m != "virtio-net-pci"):
        extra += ["-netdev", "user,id=hn%d,restrict=on,net=10.0.%d.0/24" % (n, n + 3),
                  "-device", "%s,netdev=hn%d" % (model, n)]
    return options + ["--"] + extra, disks


def test_controllers_and_nics(ctx):
    args, disks = _qemu_args(ctx)
    before = {label: lib.sha256(path) for label, path in disks.items()}
    guest = ctx.guest(*args)
    ready = guest.wait_for(r"^rescue: ready [^\n]* disks=(\d+) guarded=(\d+) net=(\S+)", timeout=240)
    assert ready.group(1) == ready.group(2) == str(len(DISKS)), ready.group(0)
    lib.menu_shell(guest)

    code, text = lib.console_run(guest, "rescue disks --json")
    assert code == 0, text
    listed = {}
    for disk in json.loads(text[text.index("{"):])["disks"]:
        for item in [disk] + disk.get("partitions", []):
            label = (item.get("content") or {}).get("label")
            if label in DISKS:
                listed[label] = (disk["name"], disk.get("transport"), item["guarded"])
    missing = sorted(set(DISKS) - set(listed))
    assert not missing, "not listed: %s (listed: %s)" % (missing, listed)
    unguarded = {label: d for label, d in listed.items() if d[2] is not True}
    assert not unguarded, "not guarded: %s" % unguarded

    code, text = lib.console_run(
        guest, "for n in /sys/class/net/eth*; do echo ${n##*/} "
               "$(basename $(readlink $n/device/driver)) $(ip -4 -o addr show ${n##*/} | "
               "sed -n 's/.* inet \\([0-9.]*\\)\\/.*/\\1/p'); done")
    assert code == 0, text
    nics = {m.group(2): m.group(3) for m in re.finditer(r"^(eth\d+) (\S+) ?(\S*)$", text, re.M)}
    for model, driver in NICS.items():
        assert driver in nics, "no interface bound to %s (%s): %s" % (driver, model, text)
        assert nics[driver].startswith("10.0."), "%s got no DHCP address: %s" % (driver, text)
    guest.stop()
    changed = [label for label, path in disks.items() if lib.sha256(path) != before[label]]
    assert not changed, "disks changed: %s" % changed
