"""The same image boots every way a user will boot it: rescue.efi as
EFI/BOOT/BOOTX64.EFI from a FAT disk under OVMF, and rescue.iso as a CD
under SeaBIOS and OVMF and as a disk (a USB stick) under SeaBIOS. No
boot-loader command line is involved: the kernel's built-in one must bring
the appliance to ready on the serial console."""

import os

import lib

TIMEOUT = 420
READY = r"^rescue: ready [^\n]* disks=(\d+) guarded=(\d+) [^\n]*\n"
ISO = os.path.join(lib.TOP, "images", "rescue.iso")


def _check_ready(ctx, disk, before, *boot):
    with ctx.guest(*boot, "--disk", disk) as guest:
        ready = guest.wait_for(READY, timeout=360)
        # One source disk is attached: "disks=0 guarded=0" would mean none was found,
        # which must not pass for "every disk is guarded".
        assert int(ready.group(1)) >= 1, "no disk found: " + ready.group(0)
        assert ready.group(1) == ready.group(2), "a disk is not guarded: " + ready.group(0)
    assert lib.sha256(disk) == before, "the source disk changed"


def _source(ctx):
    disk = lib.make_ext4(ctx.path("plain.img"), 16, files={"a.txt": "hello\n"})
    return disk, lib.sha256(disk)


def test_efi_from_fat_disk_ovmf(ctx):
    esp = ctx.path("esp.img")
    lib.run([os.path.join(lib.TOP, "tools", "mkesp"), ctx.image, esp])
    disk, before = _source(ctx)
    _check_ready(ctx, disk, before, "--efi-disk", esp)


def test_iso_cd_seabios(ctx):
    disk, before = _source(ctx)
    _check_ready(ctx, disk, before, "--iso", ISO, "--firmware", "bios")


def test_iso_cd_ovmf(ctx):
    disk, before = _source(ctx)
    _check_ready(ctx, disk, before, "--iso", ISO, "--firmware", "uefi")


def test_iso_as_usb_disk_seabios(ctx):
    # A copy: booting must not depend on (or change) the built image.
    stick = ctx.path("stick.img")
    lib.run(["cp", ISO, stick])
    disk, before = _source(ctx)
    _check_ready(ctx, disk, before, "--boot-disk", stick, "--firmware", "bios")
