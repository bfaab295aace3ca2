#!/usr/bin/env python3
"""bench/carve.py: `rescue carve` against PhotoRec, foremost and scalpel, in one TCG guest,
on one disk: the real files of tests/qemu/carve_fixture.py placed in noise at known
offsets, three of them (a JPEG, a PNG, a ZIP) in two pieces with noise between. Each tool writes to the guest's RAM; recall is byte-exact (a placed file counts
when some output file has its sha256), time is the tool's run with the page cache dropped
before it; peak memory is busybox `time -v`'s maximum resident set. Debian's binaries (testdisk, foremost, scalpel) go into the guest in a
bench-only extra initramfs with their libraries, as bench/image.py ships ddrescue.

  BENCH_CARVE_MB   the disk's size (default 64)
  BENCH_RUNS       rounds, tools in alternating order (default 1)

bench/run keeps the output in bench/results/carve.txt.
"""

import os
import re
import statistics
import subprocess
import sys

from benchlib import TOP, lib, paired_ratio, ship_host_binaries, timed

sys.path.insert(0, os.path.join(TOP, "tests", "qemu"))
import carve_fixture as fixture  # noqa: E402

EFI = os.path.join(TOP, "images", "rescue.efi")
SIZE_MB = int(os.environ.get("BENCH_CARVE_MB", "64"))
RUNS = int(os.environ.get("BENCH_RUNS", "1"))
# The types of scalpel.conf (Debian's, every rule commented out) that the disk holds.
SCALPEL_TYPES = ("gif", "jpg", "png", "bmp", "tif", "pdf", "zip", "wav", "doc")


def scalpel_conf(path):
    with open("/etc/scalpel/scalpel.conf") as f, open(path, "w") as out:
        for line in f:
            words = line.lstrip("#").split()
            if line.startswith("#") and words and words[0] in SCALPEL_TYPES \
                    and len(words) >= 4:
                line = line.lstrip("#")
            out.write(line)


def ship(work):
    """The tools' cpio with their configurations added: {tool: command prefix}."""
    commands = ship_host_binaries(work.path("tools.cpio"), ["photorec", "foremost", "scalpel"],
                                  "testdisk foremost scalpel")
    conf = work.path("conf")
    os.makedirs(os.path.join(conf, "opt", "conf"), exist_ok=True)
    scalpel_conf(os.path.join(conf, "opt", "conf", "scalpel.conf"))
    subprocess.run(["cp", "/etc/foremost.conf", os.path.join(conf, "opt", "conf")], check=True)
    # PhotoRec draws with ncurses even with /cmd: it needs a terminal description.
    os.makedirs(os.path.join(conf, "opt", "terminfo", "v"), exist_ok=True)
    subprocess.run(["cp", "/lib/terminfo/v/vt100", os.path.join(conf, "opt", "terminfo", "v")],
                   check=True)
    subprocess.run("find opt | cpio -o -H newc --quiet >> %s" % work.path("tools.cpio"),
                   shell=True, cwd=conf, check=True)
    return commands


def runs(commands):
    """Each tool's command line, run in /tmp/out under busybox `time -v` for its peak
    memory, its output in /tmp/log."""
    tools = {
        "rescue carve": "rescue carve --name r vda file:///tmp/out",
        "photorec": "env TERMINFO=/opt/terminfo TERM=vt100 %s /d /tmp/out/p /cmd /dev/vda "
                    "partition_none,fileopt,everything,enable,search" % commands["photorec"],
        "foremost": "%s -Q -t all -c /opt/conf/foremost.conf -i /dev/vda -o /tmp/out/f"
                    % commands["foremost"],
        "scalpel": "%s -c /opt/conf/scalpel.conf -o /tmp/out/s /dev/vda" % commands["scalpel"],
    }
    return {tool: "(cd /tmp/out && time -v %s) > /tmp/log 2>&1 < /dev/null" % command
            for tool, command in tools.items()}


def recalled(guest, placement):
    """The names of the placed files some output file equals, byte for byte."""
    wanted = {p["sha256"]: p["name"] for p in placement}
    code, text = lib.console_run(guest, "find /tmp/out -type f -exec sha256sum {} + | cut -c1-64 "
                                 "| sort -u", timeout=600)
    return {wanted[line] for line in text.split() if line in wanted}


def peak_kib(guest):
    code, text = lib.console_run(guest, "grep 'Maximum resident set size' /tmp/log")
    found = re.findall(r"\(kbytes\): (\d+)", text)
    # busybox 1.35 takes ru_maxrss for pages and multiplies it by the page size / 1024;
    # Linux gives it in KiB already.
    return int(found[-1]) * 1024 // os.sysconf("SC_PAGE_SIZE") if found else 0


def run_tool(guest, command, placement):
    lib.console_run(guest, "rm -rf /tmp/out && mkdir /tmp/out")
    code, seconds, _ = timed(guest, command)
    peak = peak_kib(guest)
    found = recalled(guest, placement)
    if not found:
        print("bench/carve.py: %s found nothing; its output ends:\n%s" % (
            command.split()[0], lib.console_run(guest, "tail -c 600 /tmp/log")[1]))
    lib.console_run(guest, "rm -rf /tmp/out")
    return seconds, found, peak


def report(placement, results, times, peaks):
    names = {p["name"] for p in placement}
    lines = ["carve: %d MiB disk, %d placed files, %d round(s)" % (SIZE_MB, len(names), RUNS)]
    ours = results["rescue carve"]
    for tool, found in results.items():
        lines.append("  %-13s recall %2d/%d  time %6.1f s  peak memory %6.1f MiB  missed: %s"
                     % (tool, len(found), len(names), statistics.median(times[tool]),
                        max(peaks[tool]) / 1024, ", ".join(sorted(names - found)) or "-"))
    for tool in results:
        if tool != "rescue carve":
            lines.append("  rescue carve vs %s: recall %.2fx, time %.2fx (goal <= 1.0x vs "
                         "photorec)" % (tool, len(ours) / max(1, len(results[tool])),
                                        1 / paired_ratio(times, tool, "rescue carve")))
    return "\n".join(lines)


def main():
    work = lib.Workdir("bench-carve")
    files = fixture.make_files(work.path())
    split_files, splits = fixture.split_files()
    files.update(split_files)
    placement = fixture.noise_disk(work.path("disk.img"), SIZE_MB, files, seed=9,
                                   gap_sectors=(8, SIZE_MB * 90), splits=splits)
    before = lib.sha256(work.path("disk.img"))
    commands = runs(ship(work))
    times = {tool: [] for tool in commands}
    peaks = {tool: [] for tool in commands}
    results = {}
    with lib.Guest(["--kernel", EFI, "--initrd", work.path("tools.cpio"), "--disk",
                    work.path("disk.img"), "--memory", "1024", "--append", "rescue.net=none"],
                   work) as guest:
        guest.wait_for(r"^rescue: ready", timeout=300)
        lib.menu_shell(guest)
        order = list(commands)
        for round_number in range(RUNS):
            for tool in (order if round_number % 2 == 0 else list(reversed(order))):
                seconds, found, peak = run_tool(guest, commands[tool], placement)
                times[tool].append(seconds)
                peaks[tool].append(peak)
                results[tool] = found
        guest.stop(command="poweroff")
    if lib.sha256(work.path("disk.img")) != before:
        raise SystemExit("bench/carve.py: the disk changed")
    text = report(placement, results, times, peaks)
    print(text)
    work.finish(True)


if __name__ == "__main__":
    main()
