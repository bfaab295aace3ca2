#!/usr/bin/env python3
"""File dumps, beside the tools users would otherwise use, in one guest (QEMU TCG)
on the same mounted trees and the same link. See bench/run.

Two ext4 disks, mounted read-only in the guest:
  mixed  BENCH_DUMP_MB (default 96) MiB in files of 4 KiB to 8 MiB, half random
         bytes, half text (zstd takes it to about a third);
  small  BENCH_DUMP_FILES (default 100000) files of 0-2 KiB in directories of 100.
(BENCH_DUMP_TREES=mixed or =small runs one of them.) Each is sent to the host's sshd on loopback (lib.SshServer, reached as 10.0.2.2) by
  rescue dump --compress none      against  tar -cf - . | dbclient 'cat > f'
  rescue dump (zstd, the default)  against  tar -cf - . | zstd | dbclient 'cat > f'
with Debian's own GNU tar and zstd (binaries, libraries and loader in a bench-only
extra initramfs) and the appliance's dbclient. rescue dump also hashes every file
and writes its manifest; tar does neither. Page caches are dropped before each run.

Every result is checked on the host, so a fast wrong copy cannot win: rescue dump
must exit 0 with one sha256 line per file (and on the mixed tree the extracted
volumes pass `sha256sum -c`); tar's archive must list every file.
"""

import os
import random
import shutil
import statistics
import subprocess

from benchlib import EFI, dbclient, ext4_from, host_version, interleaved, lib, mixed_tree, \
    paired_ratio, ship_host_binaries, text, timed, trust_guest_key

TREES = os.environ.get("BENCH_DUMP_TREES", "mixed,small").split(",")
MIXED_MB = int(os.environ.get("BENCH_DUMP_MB", "96"))
SMALL_FILES = int(os.environ.get("BENCH_DUMP_FILES", "100000"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))


def make_mixed(directory):
    """Files of 4 KiB .. 8 MiB (log-uniform) up to MIXED_MB, half random, half text."""
    return mixed_tree(directory, MIXED_MB)


def make_small(directory):
    rng = random.Random(32)
    for i in range(SMALL_FILES):
        folder = os.path.join(directory, "d%04d" % (i // 100))
        if i % 100 == 0:
            os.makedirs(folder)
        with open(os.path.join(folder, "f%02d" % (i % 100)), "wb") as f:
            f.write(text(rng, rng.randrange(0, 2049)))
    return SMALL_FILES


def archive_members(path, compressed):
    listing = subprocess.run(["tar"] + (["--zstd"] if compressed else []) + ["-tf", path],
                             capture_output=True, check=True).stdout
    return sum(1 for line in listing.splitlines() if not line.endswith(b"/"))


def dump_arrived(receive, files, extract):
    """rescue dump's output in RECEIVE: one sha256 line per file; with EXTRACT, every
    volume extracted with GNU tar and `sha256sum -c` run over the tree."""
    with open(os.path.join(receive, "bench.sha256"), "rb") as f:
        if sum(1 for _ in f) != files:
            return False
    if not extract:
        return True
    tree = os.path.join(receive, "tree")
    os.makedirs(tree)
    for volume in sorted(v for v in os.listdir(receive) if v.startswith("bench.0")):
        lib.run(["tar", "-xf", os.path.join(receive, volume), "-C", tree])
    return subprocess.run(["sha256sum", "--quiet", "-c", "../bench.sha256"], cwd=tree,
                          capture_output=True).returncode == 0


def bench_tree(guest, ssh, url, host, label, mount, files, extract):
    receive_base = os.path.join(ssh.dir, "receive")
    checks = {}

    def fresh(name):
        path = os.path.join(receive_base, name)
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
        return path

    def ours(kind):
        def run():
            receive = fresh("dump-" + kind)
            rc, seconds, _ = timed(guest, "rescue dump --name bench --compress %s %s "
                                   "%s/receive/dump-%s > /tmp/d.log 2>&1"
                                   % (kind, mount, url, kind))
            checks[kind] = checks.get(kind, True) and rc == 0 and dump_arrived(
                receive, files, extract)
            shutil.rmtree(receive)
            return seconds
        return run

    def tar(compress):
        def run():
            receive = fresh("tar")
            name = os.path.join(receive, "t.tar" + (".zst" if compress else ""))
            pipe = " | %s -q -c" % host["zstd"] if compress else ""
            rc, seconds, _ = timed(guest, "(cd %s && %s -cf - .)%s | %s" % (
                mount, host["tar"], pipe, dbclient(ssh, "cat > %s" % name)))
            key = "tar" + ("+zstd" if compress else "")
            checks[key] = checks.get(key, True) and rc == 0 and archive_members(
                name, compress) == files
            shutil.rmtree(receive)
            return seconds
        return run

    tools = [("rescue dump --compress none", "none", ours("none")),
             ("tar | dbclient", "tar", tar(False)),
             ("rescue dump (zstd)", "zstd", ours("zstd")),
             ("tar | zstd | dbclient", "tar+zstd", tar(True))]
    times = interleaved([(key, run) for _, key, run in tools], RUNS)
    median = {key: statistics.median(values) for key, values in times.items()}
    print("%s (TCG guest, ext4 mounted read-only, to sshd on loopback, median of %d):"
          % (label, RUNS))
    for title, key, _ in tools:
        print("  %-30s %7.1f s  %8.0f files/s%s" % (
            title, median[key], files / median[key],
            "" if checks.get(key) else "  (RESULT WRONG)"))
    print("  ratio rescue dump / tar | dbclient throughput:        %.2fx (runs paired; %.2fx "
          "of medians) (goal >= 0.9x)" % (paired_ratio(times, "tar", "none"),
                                          median["tar"] / median["none"]))
    print("  ratio rescue dump / tar | zstd | dbclient throughput: %.2fx (runs paired; %.2fx "
          "of medians) (goal >= 0.9x)" % (paired_ratio(times, "tar+zstd", "zstd"),
                                          median["tar+zstd"] / median["zstd"]))


def main():
    work = lib.Workdir("bench-dump")
    mixed_files = make_mixed(work.path("mixed"))
    mixed_sha = ext4_from(work.path("mixed"), work.path("mixed.img"), MIXED_MB + 32, 4096)
    small_files = make_small(work.path("small"))
    small_sha = ext4_from(work.path("small"), work.path("small.img"),
                          SMALL_FILES * 3 // 1024 + 64, SMALL_FILES + 2048)
    shutil.rmtree(work.path("mixed"))
    shutil.rmtree(work.path("small"))
    host = ship_host_binaries(work.path("host.cpio"), ["tar", "zstd"], "tar zstd")
    print("against %s and %s" % (host_version("tar"), host_version("zstd")))
    ssh = lib.SshServer(work.path("ssh"))
    try:
        with lib.Guest(["--kernel", EFI, "--initrd", work.path("host.cpio"),
                        "--disk", work.path("mixed.img"), "--disk", work.path("small.img"),
                        "--host-port", str(ssh.port), "--memory", "1024"], work,
                       qemu_timeout=6 * 3600) as guest:
            guest.wait_for(r"^rescue: ready", timeout=300)
            lib.menu_shell(guest)
            for disk in ("vda", "vdb"):
                code, output = lib.console_run(
                    guest, "mkdir -p /mnt/%s && mount -o ro,noload /dev/%s /mnt/%s"
                    % (disk, disk, disk))
                if code != 0:
                    raise SystemExit("bench/dump.py: unable to mount %s:\n%s" % (disk, output))
            url = trust_guest_key(guest, ssh)
            if "mixed" in TREES:
                bench_tree(guest, ssh, url, host, "mixed tree: %d MiB in %d files"
                           % (MIXED_MB, mixed_files), "/mnt/vda", mixed_files, True)
            if "small" in TREES:
                bench_tree(guest, ssh, url, host, "small files: %d files of 0-2 KiB"
                           % small_files, "/mnt/vdb", small_files, False)
            guest.stop(command="poweroff")
    finally:
        ssh.stop()
    if lib.sha256(work.path("mixed.img")) != mixed_sha or \
            lib.sha256(work.path("small.img")) != small_sha:
        raise SystemExit("bench/dump.py: a source disk changed")
    work.finish(True)


if __name__ == "__main__":
    main()
