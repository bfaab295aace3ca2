#!/usr/bin/env python3
"""usage: python3 bench/driver_sizes.py KERNEL_BUILD_DIR

What each storage and network driver of README's hardware table adds to the
kernel: the bytes of its objects' allocated sections (code, read-only data,
data, init code), and the same bytes compressed on their own with zstd -19
(the image's compressor): an estimate of its share of rescue.efi, a little
high, since alone it compresses worse than among the rest of the kernel.
KERNEL_BUILD_DIR is a finished build tree, RESCUE_CACHE/kernel/KEY/build.
A driver that is not built in there is named as such.
"""

import os
import struct
import subprocess
import sys

# name: objects or folders (their built-in.a) under the build tree
DRIVERS = {
    "e1000e": ["drivers/net/ethernet/intel/e1000e"],
    "igb": ["drivers/net/ethernet/intel/igb"],
    "ixgbe": ["drivers/net/ethernet/intel/ixgbe"],
    "i40e": ["drivers/net/ethernet/intel/i40e"],
    "ice": ["drivers/net/ethernet/intel/ice"],
    "tg3": ["drivers/net/ethernet/broadcom/tg3.o"],
    "bnxt_en": ["drivers/net/ethernet/broadcom/bnxt"],
    "r8169": ["drivers/net/ethernet/realtek/r8169_main.o", "drivers/net/ethernet/realtek/r8169_firmware.o",
              "drivers/net/ethernet/realtek/r8169_phy_config.o"],
    "mlx4": ["drivers/net/ethernet/mellanox/mlx4"],
    "mlx5": ["drivers/net/ethernet/mellanox/mlx5/core"],
    "ena": ["drivers/net/ethernet/amazon/ena"],
    "gve": ["drivers/net/ethernet/google/gve"],
    "e1000": ["drivers/net/ethernet/intel/e1000"],
    "8139cp": ["drivers/net/ethernet/realtek/8139cp.o"],
    "8139too": ["drivers/net/ethernet/realtek/8139too.o"],
    "vmxnet3": ["drivers/net/vmxnet3"],
    "virtio_net": ["drivers/net/virtio_net.o"],
    "megaraid_sas": ["drivers/scsi/megaraid"],
    "mpt3sas": ["drivers/scsi/mpt3sas"],
    "smartpqi": ["drivers/scsi/smartpqi"],
    "hpsa": ["drivers/scsi/hpsa.o"],
    "aacraid": ["drivers/scsi/aacraid"],
    "mptsas": ["drivers/message/fusion"],
    "vmw_pvscsi": ["drivers/scsi/vmw_pvscsi.o"],
    "sym53c8xx": ["drivers/scsi/sym53c8xx_2"],
    "ahci": ["drivers/ata/ahci.o", "drivers/ata/libahci.o"],
    "nvme": ["drivers/nvme/host"],
    "virtio_blk": ["drivers/block/virtio_blk.o"],
    "virtio_scsi": ["drivers/scsi/virtio_scsi.o"],
}
SHF_ALLOC, SHT_NOBITS = 0x2, 8


def objects(build, part):
    path = os.path.join(build, part)
    if part.endswith(".o"):
        return [path] if os.path.exists(path) else []
    archive = os.path.join(path, "built-in.a")
    if not os.path.exists(archive):
        return []
    # Thin archives: the members are paths relative to the build tree.
    names = subprocess.run(["ar", "t", archive], cwd=build, capture_output=True, text=True,
                           check=True).stdout.split()
    return [os.path.join(build, n) for n in names]


def allocated_bytes(path):
    """The contents of an ELF64 object's allocated, stored sections."""
    with open(path, "rb") as f:
        elf = f.read()
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", elf, 0x3A)
    out = []
    for i in range(shnum):
        _, kind, flags, _, offset, size = struct.unpack_from("<IIQQQQ", elf, shoff + i * shentsize)
        if flags & SHF_ALLOC and kind != SHT_NOBITS:
            out.append(elf[offset:offset + size])
    return b"".join(out)


def main(argv):
    if len(argv) != 1 or not os.path.isfile(os.path.join(argv[0], "vmlinux")):
        sys.stderr.write(__doc__)
        return 2
    build = argv[0]
    print("%-14s %10s %12s" % ("driver", "bytes", "zstd -19"))
    for name, parts in DRIVERS.items():
        files = [o for part in parts for o in objects(build, part)]
        if not files:
            print("%-14s %10s %12s" % (name, "-", "not built in"))
            continue
        raw = b"".join(allocated_bytes(o) for o in files)
        packed = subprocess.run(["zstd", "-19", "-c", "-q"], input=raw, capture_output=True,
                                check=True).stdout
        print("%-14s %10d %12d" % (name, len(raw), len(packed)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
