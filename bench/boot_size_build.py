#!/usr/bin/env python3
"""Image size, boot time and build time of the appliance, each beside the
thing it is compared with. See bench/run.

usage: bench/boot_size_build.py [--against EARLIER.efi]

--against: only the image sizes and the boot time of images/rescue.efi against
EARLIER.efi (before a kernel or init change), booted in turn BENCH_RUNS times."""

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


def time_boot(work, args, markers):
    """Seconds of wall time from starting QEMU to each of MARKERS on the console,
    with each match."""
    start = time.monotonic()
    seen = []
    with lib.Guest(args, work) as guest:
        for marker in markers:
            match = guest.wait_for(marker, timeout=300)
            seen.append((time.monotonic() - start, match))
    return seen


def median_of(runs, index, value=lambda t, m: t):
    return statistics.median(value(*run[index]) for run in runs)


def bench_boot(work):
    initrd = busybox_initramfs(os.path.join(str(work), "stock-initrd.cpio"))
    stock, ours = [], []
    # Alternating, so that a stretch of heavy load on the host hits both.
    for _ in range(RUNS):
        stock.append(time_boot(work, ["--kernel", stock_kernel(), "--initrd", initrd],
                               [r"Linux version", r"stock: first userspace line"]))
        ours.append(time_boot(work, ["--kernel", EFI], [
            r"Linux version", r"\[ *([\d.]+)\] Run /init as init process",
            r"^rescue: ready uptime=([\d.]+)s"]))
    s, o = median_of(stock, 1), median_of(ours, 2)
    print("boot time (TCG, median of %d): rescue.efi to ready %.1f s, stock Debian 6.1 + busybox "
          "to first line %.1f s: ratio %.2fx (goal <= 0.5x)" % (RUNS, o, s, o / s))
    # Where the time goes: before the kernel's first line it is firmware,
    # loading and decompressing the image; then the kernel's own clock.
    kernel_time = lambda t, m: float(m.group(1))
    print("boot profile (medians): rescue.efi: first kernel line at %.1f s wall, /init at "
          "%.2f s and ready at %.2f s of kernel uptime; stock: first kernel line at %.1f s wall"
          % (median_of(ours, 0), median_of(ours, 1, kernel_time), median_of(ours, 2, kernel_time),
             median_of(stock, 0)))


def bench_boot_ssh(work):
    """Boot to ready with SSH on (a key on the command line: the host keys are made and
    dropbear started before the ready line). With BENCH_BASELINE_EFI set to an earlier
    build, the two images boot in turn, for a before/after on the same load; BENCH_SMP sets
    the guest's CPUs (default 1, as the boot tests use)."""
    private, public = lib.ssh_keypair(str(work), name="bench_key")
    smp = os.environ.get("BENCH_SMP", "1")
    images = [("rescue.efi", EFI)]
    if os.environ.get("BENCH_BASELINE_EFI"):
        images.append(("baseline", os.environ["BENCH_BASELINE_EFI"]))
    seen = {name: [] for name, _ in images}
    for _ in range(RUNS):
        for name, efi in images:
            (wall, match), = time_boot(work, ["--kernel", efi, "--smp", smp, "--ssh-key", public],
                                       [r"^rescue: ready uptime=([\d.]+)s .*ssh=on"])
            seen[name].append((wall, float(match.group(1))))
    for name, runs in seen.items():
        print("boot time with SSH on (TCG, %s CPU, median of %d): %s to ready %.2f s wall, "
              "%.2f s of uptime (uptimes %s)" % (
                  smp, RUNS, name, statistics.median(w for w, _ in runs),
                  statistics.median(u for _, u in runs),
                  " ".join("%.2f" % u for _, u in runs)))
    if "baseline" in seen:
        ours = statistics.median(u for _, u in seen["rescue.efi"])
        before = statistics.median(u for _, u in seen["baseline"])
        print("boot time with SSH on: rescue.efi against the baseline %.2fx of uptime to ready "
              "(%+.2f s)" % (ours / before, ours - before))


def bench_against(work, baseline):
    """Boot time of rescue.efi against BASELINE (an earlier rescue.efi, say before a
    kernel config change), booted alternately: wall time to `rescue: ready` and the
    kernel's uptime then, each also with -icount (guest time counts instructions, so
    host load moves it less)."""
    markers = [r"^rescue: ready uptime=([\d.]+)s"]
    uptime = lambda t, m: float(m.group(1))
    for extra in ([], ["--", "-icount", "shift=3,sleep=on"]):
        runs = {EFI: [], baseline: []}
        for _ in range(RUNS):
            for efi in (baseline, EFI):
                runs[efi].append(time_boot(work, ["--kernel", efi] + extra, markers))
        new, old = runs[EFI], runs[baseline]
        # With -icount the guest's uptime is the figure that holds still; without, wall.
        measure = uptime if extra else (lambda t, m: t)
        print("boot time%s (TCG, median of %d, alternating): rescue.efi ready at %.2f s wall "
              "(uptime %.2f s), %s at %.2f s (uptime %.2f s): ratio %.2fx (%s)"
              % (" with -icount" if extra else "", RUNS, median_of(new, 0),
                 median_of(new, 0, uptime), baseline, median_of(old, 0),
                 median_of(old, 0, uptime), median_of(new, 0, measure) / median_of(old, 0, measure),
                 "uptime" if extra else "wall"))
        for efi in (EFI, baseline):
            print("  %s: wall %s, uptime %s" % (efi, " ".join("%.2f" % r[0][0] for r in runs[efi]),
                                               " ".join(r[0][1].group(1) for r in runs[efi])))


def bench_size():
    size = os.path.getsize(EFI)
    print("image size: rescue.efi %.1f MiB of a 12 MiB budget: ratio %.2fx (goal <= 1.0x)"
          % (size / 2**20, size / (12 * 2**20)))
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


PARTS = {"size": lambda work: bench_size(), "build": lambda work: bench_build(),
         "boot": bench_boot, "boot-ssh": bench_boot_ssh}


def main():
    """usage: bench/boot_size_build.py [size|build|boot|boot-ssh]... (default: all, in
    that order), or bench/boot_size_build.py --against EARLIER.efi (size, then boot time
    of the two images booted alternately)"""
    work = None
    if len(sys.argv) == 3 and sys.argv[1] == "--against":
        work = lib.Workdir("bench", base=os.path.join(TOP, "bench", "results"))
        bench_size()
        print("image size: %s %.1f MiB" % (sys.argv[2], os.path.getsize(sys.argv[2]) / 2**20))
        bench_against(work, sys.argv[2])
        work.finish(True)
        return
    wanted = sys.argv[1:] or list(PARTS)
    unknown = [w for w in wanted if w not in PARTS]
    if unknown:
        sys.exit("boot_size_build.py: fatal: unknown part %s (want %s, or --against "
                 "EARLIER.efi)" % (", ".join(unknown), ", ".join(PARTS)))
    work = lib.Workdir("bench", base=os.path.join(TOP, "bench", "results"))
    for part in wanted:
        PARTS[part](work)
    work.finish(True)

if __name__ == "__main__":
    main()
