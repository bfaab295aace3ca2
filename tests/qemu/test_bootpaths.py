"""Every way a hoster's customer boots the appliance, with the text
tools/bootconfig prints (what the README tells users is what runs here):
BIOS iPXE (QEMU's option ROM, Debian's ipxe-qemu) with the #!ipxe script
over TFTP and over HTTP from the host's loopback; PXELINUX; UEFI: Debian's
ipxe.efi under OVMF with the same script, and OVMF's own PXE client loading
rescue.efi with no command line at all (the RESCUECFG disk gives the key);
kexec from Debian's stock kernel with Debian's kexec-tools, kexec_load and
kexec_file_load; a GRUB one-shot entry set with grub-reboot. Each boot
reaches `rescue: ready` with SSH open to the key and a login checked against
the host key fingerprints on the console; every disk's sha256 is unchanged
(the GRUB disk: changed only where GRUB itself cleared next_entry). Bad
input: what tools/bootconfig refuses, a mangled key in an iPXE script, kexec
without a command line, a GRUB entry naming a missing file."""

import base64
import functools
import http.server
import os
import re
import shutil
import subprocess
import threading

import lib
import stock

TIMEOUT = 300
BOOTCONFIG = os.path.join(lib.TOP, "tools", "bootconfig")
READY = (r"^rescue: ready uptime=\S+ disks=(?P<disks>\d+) guarded=(?P<guarded>\d+) "
         r"net=(?P<net>\S+) ssh=(?P<ssh>\S+)$")


def _bootconfig(*args):
    return lib.run([BOOTCONFIG] + [str(a) for a in args]).stdout


def _source(ctx):
    disk = lib.make_ext4(ctx.path("src.img"), 16, files={"a.txt": "hello\n"}, label="src")
    return disk, lib.sha256(disk)


def _key(ctx):
    return lib.ssh_keypair(ctx.path())


def _login(ctx, guest, port, key, disks=1):
    """Wait for ready (host key fingerprints first), log in over SSH with KEY
    checking the host key, return what `cat /proc/cmdline` and
    `rescue disks --json` printed."""
    fingerprints = []
    while True:
        m = guest.wait_for(r"^rescue: (ssh host key \S+ (?P<fp>SHA256:\S+)|ready [^\n]*)\n",
                           timeout=240)
        if not m.group("fp"):
            break
        fingerprints.append(m.group("fp"))
    ready = re.match(READY, m.group(0).strip())
    assert ready, "unexpected ready line: %s" % m.group(0)
    assert ready.group("ssh") == "on:22:1keys", "SSH not open to the one key: " + m.group(0)
    assert ready.group("disks") == ready.group("guarded") == str(disks), m.group(0)
    known_hosts = lib.scan_host_keys(port, ctx.path("known_hosts"), fingerprints)
    out = lib.ssh(port, key, "cat /proc/cmdline; rescue disks --json", known_hosts, check=True)
    return out.stdout.decode()


def _tftp_root(ctx, *formats, key_pub, extra=(), options=()):
    """A TFTP/HTTP root with rescue.efi and tools/bootconfig's files for FORMATS."""
    root = ctx.path("tftp")
    os.makedirs(root, exist_ok=True)
    shutil.copy(ctx.image, os.path.join(root, "rescue.efi"))
    if formats:
        _bootconfig("--key", key_pub, *options, "-o", root, *formats)
    for source in extra:
        shutil.copy(source, root)
    return root


def _web_server(ctx, directory):
    """An HTTP server on 127.0.0.1 serving DIRECTORY; returns (port, the paths requested)."""
    requested = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requested.append(self.path)

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=directory))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ctx.on_cleanup(server.shutdown)
    return server.server_address[1], requested


def _network_boot(ctx, qemu_args, key, key_on_cmdline=True, disks=1):
    disk, before = _source(ctx)
    port = lib.free_port()
    guest = ctx.guest(*qemu_args, "--disk", disk, "--forward", "%d:22" % port)
    out = _login(ctx, guest, port, key, disks=disks)
    console = guest.output()
    guest.stop()
    assert ("rescue.ssh_key=" in out) == key_on_cmdline, "kernel command line: " + out
    assert lib.sha256(disk) == before, "the source disk changed"
    return console


def test_bootconfig_bad_input(ctx):
    """No QEMU: what tools/bootconfig refuses, with the value named and exit 2
    (3 for a file it cannot read), and that a good key comes out whole."""
    key, pub = _key(ctx)
    line = open(pub).read().strip()
    kind, blob = line.split()[:2]
    cases = [
        (["--key", key, "ipxe"], 2, "is a private key"),
        (["--key", "%s %s" % (kind, blob[:40]), "ipxe"], 2, "the key data is not a ssh-ed25519 key"),
        (["--key", "ssh-rsa %s" % blob, "ipxe"], 2, "the key data is not a ssh-rsa key"),
        (["--key", "hello", "ipxe"], 2, "--key 'hello': not an SSH public key line"),
        (["--key", ctx.path("none.pub"), "ipxe"], 3, "unable to read key file"),
        (["--key", pub, "--net", "eth0:10.0.0.300/24:10.0.0.1", "ipxe"], 2,
         "--net 'eth0:10.0.0.300/24:10.0.0.1'"),
        (["--key", pub, "--target", "gopher://x", "ipxe"], 2, "--target 'gopher://x'"),
        (["--key", pub, "--target", "ssh://u:pa$$@h/d", "ipxe"], 2, "do not survive boot loaders"),
        (["--key", pub, "grubby"], 2, "unknown format 'grubby'"),
        (["--key", pub], 2, "no FORMAT given"),
    ]
    for args, code, message in cases:
        proc = subprocess.run([BOOTCONFIG] + args, capture_output=True, text=True)
        assert proc.returncode == code and message in proc.stderr, (args, proc.returncode,
                                                                    proc.stderr)
        assert proc.stdout == "", "printed something for %s: %s" % (args, proc.stdout)
    script = _bootconfig("--key", line, "--net", "eth0:192.0.2.10/24:192.0.2.1", "ipxe")
    word = re.search(r"rescue\.ssh_key=(\S+)", script).group(1)
    assert base64.b64decode(word).decode() == line, script
    assert "rescue.net=eth0:192.0.2.10/24:192.0.2.1" in script, script


def test_ipxe_bios_tftp(ctx):
    key, pub = _key(ctx)
    root = _tftp_root(ctx, "ipxe", key_pub=pub)
    _network_boot(ctx, ["--net-boot", "--tftp", root, "--bootfile", "boot.ipxe"], key)


def test_ipxe_bios_http(ctx):
    key, pub = _key(ctx)
    # A second key mangled in a hand-edited script: named, the good one still works.
    junk = "rescue.ssh_key=c3NoLWVkMjU1MTkgQUFBQUMzTnph"
    root = _tftp_root(ctx, "ipxe", key_pub=pub, options=("--append", junk))
    web, requested = _web_server(ctx, root)
    # No TFTP: the script and the kernel can only come over HTTP.
    console = _network_boot(ctx, ["--net-boot", "--host-port", web,
                                  "--bootfile", "http://10.0.2.2:%d/boot.ipxe" % web], key)
    assert requested[:2] == ["/boot.ipxe", "/rescue.efi"], requested
    assert re.search(r"rescue\.ssh_key #2: not an SSH public key line", console), console[-2000:]


def test_pxelinux_bios(ctx):
    key, pub = _key(ctx)
    root = _tftp_root(ctx, "pxelinux", key_pub=pub, extra=(
        "/usr/lib/PXELINUX/pxelinux.0", "/usr/lib/syslinux/modules/bios/ldlinux.c32"))
    _network_boot(ctx, ["--net-boot", "--tftp", root, "--bootfile", "pxelinux.0"], key)


def test_ipxe_efi_ovmf(ctx):
    key, pub = _key(ctx)
    root = _tftp_root(ctx, "ipxe", key_pub=pub)
    esp = ctx.path("ipxe-esp.img")
    lib.run([os.path.join(lib.TOP, "tools", "mkesp"), "/usr/lib/ipxe/ipxe.efi", esp])
    # The ESP holding ipxe.efi is a disk too, and guarded.
    _network_boot(ctx, ["--efi-disk", esp, "--tftp", root, "--bootfile", "boot.ipxe"], key,
                  disks=2)


def test_ovmf_pxe_no_cmdline(ctx):
    key, pub = _key(ctx)
    root = _tftp_root(ctx, key_pub=pub)
    config = ctx.path("config")
    os.makedirs(config)
    shutil.copy(pub, os.path.join(config, "authorized_keys"))
    # No option ROM: OVMF's own virtio-net driver and PXE client load rescue.efi.
    _network_boot(ctx, ["--firmware", "uefi", "--net-boot", "--net-rom", "none", "--tftp", root,
                        "--bootfile", "rescue.efi", "--config", config], key,
                  key_on_cmdline=False, disks=2)


# ---------------------------------------------------------------- kexec

HOSTER_INIT = """#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "hoster rescue system: $(cat /proc/version)"
sh /kexec.sh
echo "hoster rescue system: kexec failed with exit $?"
poweroff -f
"""


def _kexec(ctx, file_load):
    key, pub = _key(ctx)
    script = _bootconfig("--key", pub, "--image", "/rescue.efi", "kexec")
    if file_load:
        assert "kexec_file_load instead: kexec -s -l" in script, script
        script = script.replace("kexec -l ", "kexec -s -l ")
    with open(ctx.path("kexec.sh"), "w") as f:
        f.write(script)
    root = stock.hoster_root(ctx.path("hoster"), HOSTER_INIT, files=(
        (ctx.image, "/rescue.efi"), (ctx.path("kexec.sh"), "/kexec.sh")))
    initrd = stock.make_initramfs(root, ctx.path("hoster.cpio"))
    disk, before = _source(ctx)
    port = lib.free_port()
    guest = ctx.guest("--kernel", stock.stock_kernel(), "--initrd", initrd,
                      "--append", "console=ttyS0,115200 quiet", "--disk", disk,
                      "--forward", "%d:22" % port)
    guest.wait_for(r"^hoster rescue system: Linux version 6\.1\.\S+ \(debian-kernel", timeout=120)
    out = _login(ctx, guest, port, key)
    guest.stop()
    assert "rescue.ssh_key=" in out, out
    assert lib.sha256(disk) == before, "the source disk changed"


def test_kexec_load(ctx):
    _kexec(ctx, file_load=False)


def test_kexec_file_load(ctx):
    _kexec(ctx, file_load=True)


def test_kexec_no_cmdline(ctx):
    """A user who forgets --command-line: the built-in one boots to ready, and
    the console says why SSH stayed off."""
    with open(ctx.path("kexec.sh"), "w") as f:
        f.write("kexec -l /rescue.efi && kexec -e\n")
    root = stock.hoster_root(ctx.path("hoster"), HOSTER_INIT, files=(
        (ctx.image, "/rescue.efi"), (ctx.path("kexec.sh"), "/kexec.sh")))
    initrd = stock.make_initramfs(root, ctx.path("hoster.cpio"))
    disk, before = _source(ctx)
    with ctx.guest("--kernel", stock.stock_kernel(), "--initrd", initrd,
                   "--append", "console=ttyS0,115200 quiet", "--disk", disk) as guest:
        guest.wait_for(r"^rescue: ssh off \(no key given: rescue\.ssh_key= or authorized_keys "
                       r"on a RESCUECFG disk\)", timeout=120)
        ready = guest.wait_for(r"^rescue: ready [^\n]*\n", timeout=60).group(0)
    assert re.match(READY, ready.strip()).group("ssh") == "off", ready
    assert lib.sha256(disk) == before, "the source disk changed"


# ---------------------------------------------------------------- GRUB one-shot

# What Debian's /etc/grub.d/00_header writes for grub-reboot (abridged: no
# recordfail, no theme), with the serial terminal so GRUB shows on ttyS0.
GRUB_HEADER = """serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
if [ -s $prefix/grubenv ]; then
  set have_grubenv=true
  load_env
fi
if [ "${next_entry}" ] ; then
   set default="${next_entry}"
   set next_entry=
   save_env next_entry
   set boot_once=true
else
   set default="0"
fi
set timeout=1
menuentry 'Debian GNU/Linux' --id normal {
\tlinux /boot/vmlinuz console=ttyS0,115200 quiet
\tinitrd /boot/initrd.img
}
"""
NORMAL_INIT = """#!/bin/sh
mount -t proc proc /proc
echo "normal system: $(cat /proc/version)"
poweroff -f
"""
GRUB_MODULES = ("part_msdos ext2 fat normal linux search search_fs_file loadenv test echo "
                "serial terminal configfile").split()
GRUBENV = b"# GRUB Environment Block\n"


def _boot_tree(ctx, pub, image_path):
    """/boot as Debian leaves it after `grub-reboot rescue`: a normal entry
    (Debian's stock kernel) and the tools/bootconfig entry (--image
    IMAGE_PATH) in grub.cfg, grubenv with next_entry=rescue. Returns the root."""
    root = ctx.path("root")
    grub = os.path.join(root, "boot", "grub")
    os.makedirs(grub)
    shutil.copy(ctx.image, os.path.join(root, "boot", "rescue.efi"))
    shutil.copy(stock.stock_kernel(), os.path.join(root, "boot", "vmlinuz"))
    normal = stock.hoster_root(ctx.path("normal"), NORMAL_INIT)
    stock.make_initramfs(normal, os.path.join(root, "boot", "initrd.img"))
    entry = _bootconfig("--key", pub, "--image", image_path, "-o", ctx.path("grub.d"),
                        "grub").strip()
    # What update-grub does with /etc/grub.d/41_rescue: run it, keep its output.
    rescue_entry = lib.run(["sh", entry]).stdout
    with open(os.path.join(grub, "grub.cfg"), "w") as f:
        f.write(GRUB_HEADER + rescue_entry)
    lib.run(["grub-editenv", os.path.join(grub, "grubenv"), "create"])
    lib.run(["grub-reboot", "--boot-directory", os.path.join(root, "boot"), "rescue"])
    with open(os.path.join(grub, "grubenv"), "rb") as f:
        assert b"\nnext_entry=rescue\n" in f.read(), "grub-reboot did not set next_entry"
    return root


def _grub_image(ctx, platform, modules):
    image = ctx.path("grub-" + platform)
    lib.run(["grub-mkimage", "-O", platform, "-o", image, "-p", "(hd0,msdos1)/boot/grub"] +
            GRUB_MODULES + modules)
    with open(image, "rb") as f:
        return f.read()


def _grub_disk_bios(ctx, pub, image_path="/boot/rescue.efi"):
    """GRUB in the MBR and its gap, /boot on ext4 in partition 1."""
    root = _boot_tree(ctx, pub, image_path)
    disk = lib.make_ext4(ctx.path("grub.img"), 40, files=root, partitioned="mbr", label="root")
    core = _grub_image(ctx, "i386-pc", ["biosdisk"])
    assert len(core) < 2047 * 512, "core.img does not fit before the partition"
    with open("/usr/lib/grub/i386-pc/boot.img", "rb") as f:
        boot = f.read()
    # boot.img's code (not the partition table) in the MBR; it loads core.img
    # from sector 1, as grub-install leaves it.
    with open(disk, "r+b") as f:
        f.write(boot[:440])
        f.seek(512)
        f.write(core)
    return disk


def _grub_disk_uefi(ctx, pub):
    """An EFI system partition (FAT, MBR type 0xEF) holding GRUB as
    EFI/BOOT/BOOTX64.EFI and /boot beside it, grubenv included."""
    root = _boot_tree(ctx, pub, "/boot/rescue.efi")
    efi = os.path.join(root, "EFI", "BOOT")
    os.makedirs(efi)
    with open(os.path.join(efi, "BOOTX64.EFI"), "wb") as f:
        f.write(_grub_image(ctx, "x86_64-efi", []))
    size = 40 << 20
    fat = ctx.path("esp.fat")
    lib.run(["mkfs.vfat", "-C", "-n", "ESP", "-i", "45535031", fat, str((size >> 10) - 2048)])
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    lib.run(["mcopy", "-s", "-i", fat] + [os.path.join(root, e) for e in sorted(os.listdir(root))]
            + ["::/"], env=env)
    disk = ctx.path("grub.img")
    with open(disk, "wb") as f:
        f.truncate(size)
        f.write(lib._mbr(size // 512, 2048, os.path.getsize(fat) // 512, 0xEF))
    lib._sparse_copy(fat, disk, 2048 * 512)
    return disk


def _changed_sectors(before, after):
    with open(before, "rb") as a, open(after, "rb") as b:
        old, new = a.read(), b.read()
    changed = [i for i in range(0, len(old), 512) if old[i:i + 512] != new[i:i + 512]]
    return old, new, changed


def _grub_one_shot(ctx, disk, key, firmware):
    shutil.copy(disk, ctx.path("grub.before.img"))
    port = lib.free_port()
    boot = ["--boot-disk", disk + ",rw", "--firmware", firmware]

    # First boot: GRUB takes next_entry, clears it, starts the appliance.
    guest = ctx.guest(*boot, "--forward", "%d:22" % port, name="first")
    out = _login(ctx, guest, port, key)
    guest.stop()
    assert "rescue.ssh_key=" in out and "BOOT_IMAGE=/boot/rescue.efi" in out, out
    old, new, changed = _changed_sectors(ctx.path("grub.before.img"), disk)
    # The string is in GRUB's own image too: the block is the one holding next_entry.
    at = next((m.start() for m in re.finditer(re.escape(GRUBENV), old)
               if b"\nnext_entry=rescue\n" in old[m.start():m.start() + 1024]), -1)
    assert at >= 0, "no grubenv with next_entry=rescue on the disk before the boot"
    assert b"\nnext_entry=\n" in new[at:at + 1024], "GRUB did not clear next_entry"
    outside = [s for s in changed if not at <= s < at + 1024]
    assert not outside, "bytes changed outside grubenv at %s" % outside[:8]
    after_first = lib.sha256(disk)

    # Second boot: the normal entry.
    guest = ctx.guest(*boot, name="second")
    guest.wait_for(r"^normal system: Linux version 6\.1\.\S+ \(debian-kernel", timeout=120)
    assert "rescue: " not in guest.output(), "the appliance started again"
    guest.stop()
    assert lib.sha256(disk) == after_first, "the second boot changed the disk"


def test_grub_one_shot_bios(ctx):
    key, pub = _key(ctx)
    _grub_one_shot(ctx, _grub_disk_bios(ctx, pub), key, "bios")


def test_grub_one_shot_uefi(ctx):
    key, pub = _key(ctx)
    _grub_one_shot(ctx, _grub_disk_uefi(ctx, pub), key, "uefi")


def test_grub_wrong_path(ctx):
    """An entry naming a file that is not there: GRUB's own error shows on the
    console, and nothing else boots. (The appliance never runs here: the disk
    is GRUB's own, which clears next_entry in it.)"""
    key, pub = _key(ctx)
    disk = _grub_disk_bios(ctx, pub, image_path="/boot/rescue-typo.efi")
    with ctx.guest("--boot-disk", disk + ",rw") as guest:
        guest.wait_for(r"error: no such device: /boot/rescue-typo\.efi", timeout=60)
        guest.wait_for(r"error: file `/boot/rescue-typo\.efi' not found", timeout=30)
    assert "rescue: " not in guest.output(), "the appliance started anyway"
