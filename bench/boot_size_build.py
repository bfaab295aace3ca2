#!/usr/bin/env python3
"""Image size, boot time and build time of the appliance, each beside the
thing it is compared with. See bench/run."""

import os
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "qemu"))
import lib  # noqa: E402
from stock import stock_kernel  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
EFI = os.path.join(TOP, "images", "rescue.efi")


def busybox_initramfs(path):
    """A busybox-only initramfs whose /init prints one line and powers off."""
    busybox = subprocess.run([os.path.join(TOP, "tools", "build-package"), "busybox"],
                             capture_output=True, text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, "bin"))
        subprocess.run(["cp", os.path.join(busybox, "bin", "busybox"), os.path.join(root, "bin")],
                       check=True)
        os.symlink("busybox", os.path.join(root, "bin", "sh"))
        with open(os.path.join(root, "init"), "w") as f:
            f.write("#!/bin/sh\n/bin/busybox echo stock: first userspace line\n"
                    "/bin/busybox poweroff -f\n")
        os.chmod(os.path.join(root, "init"), 0o755)
        os.makedirs(os.path.join(root, "dev"))
        subprocess.run("find . | cpio -o -H newc --quiet > %s" % path, shell=True, cwd=root,
                       check=True)
    return path


def time_boot(work, args, marker):
    """Seconds of wall time from starting QEMU to MARKER on the console."""
    start = time.monotonic()
    with lib.Guest(args, work) as guest:
        guest.wait_for(marker, timeout=300)
        elapsed = time.monotonic() - start
    return elapsed


def bench_boot(work):
    initrd = busybox_initramfs(os.path.join(str(work), "stock-initrd.cpio"))
    stock = [time_boot(work, ["--kernel", stock_kernel(), "--initrd", initrd], r"stock: first userspace line")
             for _ in range(RUNS)]
    ours = [time_boot(work, ["--kernel", EFI], r"^rescue: ready") for _ in range(RUNS)]
    s, o = statistics.median(stock), statistics.median(ours)
    print("boot time (TCG, median of %d): rescue.efi to ready %.1f s, stock Debian 6.1 + busybox "
          "to first line %.1f s: ratio %.2fx (goal <= 0.5x)" % (RUNS, o, s, o / s))


def bench_size():
    size = os.path.getsize(EFI)
    print("image size: rescue.efi %.1f MiB of a 16 MiB budget: ratio %.2fx (goal <= 1.0x)"
          % (size / 2**20, size / (16 * 2**20)))
    iso = os.path.join(TOP, "images", "rescue.iso")
    if os.path.exists(iso):
        print("image size: rescue.iso %.1f MiB" % (os.path.getsize(iso) / 2**20))


def bench_build():
    start = time.monotonic()
    subprocess.run([os.path.join(TOP, "tools", "build-image")], check=True, capture_output=True)
    warm = time.monotonic() - start
    print("build time: warm rebuild with nothing changed %.1f s" % warm)
    if os.environ.get("BENCH_COLD") == "1":
        with tempfile.TemporaryDirectory() as cache:
            start = time.monotonic()
            subprocess.run([os.path.join(TOP, "tools", "build-image")], check=True,
                           capture_output=True, env=dict(os.environ, RESCUE_CACHE=cache))
            print("build time: cold build in an empty cache %.1f s" % (time.monotonic() - start))
        subprocess.run([os.path.join(TOP, "tools", "build-image")], check=True, capture_output=True)


def main():
    work = lib.Workdir("bench", base=os.path.join(TOP, "bench", "results"))
    bench_size()
    bench_build()
    bench_boot(work)
    work.finish(True)


if __name__ == "__main__":
    main()
