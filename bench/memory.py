"""Peak memory as the work grows (issue 18), host-side runs, printed side by side:

  dump    `rescue dump --compress none` of a tree of N small files to file:// against GNU
          tar -cf of the same tree (BENCH_MEMORY_FILES, default 10000,100000; add
          1000000 for the long run: about 4 GB of tree on the host's disk), and the
          same dump again, resumed, with everything already on the target, once with the
          earlier manifest held as a set (the default up to a million entries) and once
          matched against the walk in chunks (--resume-memory 1M: what the default does
          past a million files)
  onedir  `rescue dump` of one directory of N files (BENCH_MEMORY_DIR_FILES, default
          100000; the issue's case is 1000000) against GNU tar: the walk reads a directory
          a window of 65,536 names at a time
  direct  `rescue dump --direct` (libext2fs, never mounted) of an ext4 image (mke2fs -d,
          on a read-only loop device) whose one directory holds N empty files
          (BENCH_MEMORY_DIRECT_FILES, default 1000,100000; the issue's case is 1000000),
          with bytes per entry over the first (smallest) run: the direct walk reads a
          directory a window of entries at a time too
  image   `rescue image` resuming from a map of N bad areas (a loop device over a sparse
          file, every other 4 KiB bad, nothing left to read) against GNU ddrescue -n on
          the same map (BENCH_MEMORY_AREAS, default 1000,100000; add 1000000), and
          `rescue verify` on it; then trimming and scraping: a map of N bad sectors each
          followed by a non-trimmed and a non-scraped stretch (all readable: the loop
          device reads zeros), `rescue image` against GNU ddrescue (trimming and
          scraping on, -n off), both ending with N bad areas; `rescue verify` on ours
          (BENCH_MEMORY_TRIM=0 leaves this out; GNU ddrescue's side only up to
          BENCH_MEMORY_TRIM_DDRESCUE_MAX areas, default 100000, as it slows down faster
          than the map grows; BENCH_MEMORY_FILES= or _AREAS= with an
          empty value leaves the dump or the image runs out)
  carve   `rescue carve --types png` of a disk of N small PNGs (a different pixel each), one
          every 4 KiB in random noise (a loop device), against PhotoRec 7 with only PNG
          on (BENCH_MEMORY_CARVE_FILES, default 2000,8000,32000), and bytes per file
          found over the previous run: the carve index of what was found (the 2000-file
          disk is smaller than the scan window, so compare from 8000 on)
  disks   `rescue disks` and `rescue disks --json` on a synthetic sysfs tree (RESCUE_SYSFS)
          of N SCSI-like disks with 4 partitions each (BENCH_MEMORY_DISKS, default 1,200,1000),
          peak RSS and bytes per device (disk or partition) over the 1-disk run

Peak RSS from /usr/bin/time -v, wall time beside it; nothing is asserted. Uses the
host-built rescue (build/rescue/host/rescue, from `make -C src check`). Needs root (losetup)."""

import os
import re
import struct
import zlib
import shutil
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESCUE = os.environ.get("BENCH_RESCUE") or os.path.join(TOP, "build", "rescue", "host", "rescue")
TRIM_DDRESCUE_MAX = int(os.environ.get("BENCH_MEMORY_TRIM_DDRESCUE_MAX", "100000"))


def measured(argv, **kwargs):
    """(peak RSS in KiB, wall seconds, exit code) of ARGV."""
    done = subprocess.run(["/usr/bin/time", "-v"] + argv, capture_output=True, text=True,
                          **kwargs)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", done.stderr)
    seconds = 0.0
    for part in wall.group(1).split(":"):
        seconds = seconds * 60 + float(part)
    return rss, seconds, done.returncode


def tree_of(root, count):
    for i in range(count):
        directory = os.path.join(root, "d%05d" % (i // 1000))
        if i % 1000 == 0:
            os.makedirs(directory)
        with open(os.path.join(directory, "file-%07d.txt" % i), "w") as f:
            f.write("file %d\n" % i)


def bench_dump(work, count):
    tree, out = os.path.join(work, "tree"), os.path.join(work, "out")
    tree_of(tree, count)
    os.makedirs(out)
    ours = measured([RESCUE, "dump", "--compress", "none", tree, "file://" + out])
    again = measured([RESCUE, "dump", "--compress", "none", tree, "file://" + out])
    # The same resume matched a chunk of 64k files at a time (--resume-memory 1M), as
    # the default 16M does past a million files: the per-file cost of ten million.
    joined = measured([RESCUE, "dump", "--compress", "none", "--resume-memory", "1M", tree,
                       "file://" + out])
    tar = measured(["tar", "-cf", os.path.join(work, "tar.tar"), "-C", tree, "."])
    print("dump %8d files: rescue dump %7d KiB (%6.1f s, exit %d), resumed %7d KiB "
          "(%6.1f s, exit %d), resumed in chunks %7d KiB (%6.1f s, exit %d), GNU tar %6d KiB "
          "(%5.1f s); over the first run: %+.1f B/file, resumed %+.1f, in chunks %+.1f"
          % (count, ours[0], ours[1], ours[2], again[0], again[1], again[2], joined[0],
             joined[1], joined[2], tar[0], tar[1], *per_file(bench_dump.first, count,
                                                             ours, again, joined)))
    if not bench_dump.first:
        bench_dump.first = (count, ours[0], again[0], joined[0])
    sys.stdout.flush()


bench_dump.first = None


def per_file(first, count, *runs):
    """Bytes of peak RSS per file more than in the FIRST (smallest) run, for each of RUNS."""
    if not first or count <= first[0]:
        return [0.0] * len(runs)
    return [(run[0] - base) * 1024.0 / (count - first[0]) for run, base in zip(runs, first[1:])]


def bench_one_directory(work, count):
    tree, out = os.path.join(work, "tree"), os.path.join(work, "out")
    os.makedirs(tree)
    os.makedirs(out)
    for i in range(count):
        with open(os.path.join(tree, "file-%07d.txt" % i), "w") as f:
            f.write("file %d\n" % i)
    ours = measured([RESCUE, "dump", "--compress", "none", tree, "file://" + out])
    tar = measured(["tar", "-cf", os.path.join(work, "tar.tar"), "-C", tree, "."])
    print("onedir %8d files in one directory: rescue dump %7d KiB (%6.1f s, exit %d), "
          "GNU tar %6d KiB (%5.1f s)" % (count, ours[0], ours[1], ours[2], tar[0], tar[1]))
    sys.stdout.flush()


def ext_image_one_directory(work, count):
    """An ext4 image whose directory big/ holds COUNT empty files, made through a loop mount
    (mke2fs -d scans the whole directory for each name it adds: hours for a million)."""
    image, mounted = os.path.join(work, "fs.img"), os.path.join(work, "mnt")
    os.makedirs(mounted)
    # 1 KiB a file of inode table and directory, with room to spare.
    subprocess.run(["mke2fs", "-q", "-t", "ext4", "-N", str(count + 1024), "-F", image,
                    "%dM" % (64 + count // 512)], check=True)
    subprocess.run(["mount", "-o", "loop", image, mounted], check=True)
    try:
        os.makedirs(os.path.join(mounted, "big"))
        for i in range(count):
            os.close(os.open(os.path.join(mounted, "big", "file-%07d.txt" % i),
                             os.O_CREAT | os.O_WRONLY, 0o644))
    finally:
        subprocess.run(["umount", mounted], check=True)
    return image


def dump_direct(work, image, rescue=None):
    """Peak RSS, wall, exit of `rescue dump --direct` of IMAGE (on a read-only loop device)."""
    out = tempfile.mkdtemp(prefix="out.", dir=work)
    loop = subprocess.run(["losetup", "--find", "--show", "--read-only", image],
                          capture_output=True, text=True, check=True).stdout.strip()
    try:
        return measured([rescue or RESCUE, "dump", "--direct", "--compress", "none", loop,
                         "file://" + out])
    finally:
        subprocess.run(["losetup", "-d", loop])
        shutil.rmtree(out)


def bench_one_directory_direct(work, count):
    ours = dump_direct(work, ext_image_one_directory(work, count))
    line = ("direct %8d entries in one directory: rescue dump --direct %7d KiB (%6.1f s, "
            "exit %d)" % (count, ours[0], ours[1], ours[2]))
    first = bench_one_directory_direct.first
    if first and count > first[0]:
        line += "; %+.1f B/entry over the %d-entry run" % (
            (ours[0] - first[1]) * 1024.0 / (count - first[0]), first[0])
    if not first:
        bench_one_directory_direct.first = (count, ours[0])
    print(line)
    sys.stdout.flush()


bench_one_directory_direct.first = None


def map_of(path, areas):
    """Every other 4 KiB bad: 2 x AREAS extents, with the rescue source line verify uses."""
    with open(path, "w") as f:
        f.write("# Mapfile. Created by bench\n0x00000000     +               1\n")
        for i in range(areas):
            f.write("0x%08X  0x00001000  +\n0x%08X  0x00001000  -\n"
                    % (i * 8192, i * 8192 + 4096))


def map_to_trim(path, areas):
    """Per 8 KiB: 3.5 KiB finished, one bad sector, 2 KiB non-trimmed, 2 KiB non-scraped:
    trimming and scraping read 8 sectors an area, and N bad areas stay between."""
    with open(path, "w") as f:
        f.write("# Mapfile. Created by bench\n0x00000000     *               1\n")
        for i in range(areas):
            at = i * 8192
            f.write("0x%08X  0x00000E00  +\n0x%08X  0x00000200  -\n0x%08X  0x00000800  *\n"
                    "0x%08X  0x00000800  /\n" % (at, at + 0xE00, at + 0x1000, at + 0x1800))


def bad_areas(path):
    """The runs of '-' in the map at PATH."""
    with open(path) as f:
        return sum(1 for line in f if re.match(r"0x[0-9A-Fa-f]+\s+0x[0-9A-Fa-f]+\s+-", line))


def bench_trim(work, loop, areas):
    name = os.path.basename(loop)
    out = os.path.join(work, "trim")
    os.makedirs(out)
    with open(os.path.join(out, name + ".img"), "wb") as f:
        f.truncate(areas * 8192)
    map_to_trim(os.path.join(out, name + ".map"), areas)
    shutil.copy(os.path.join(out, name + ".map"), os.path.join(work, "theirs-trim.map"))
    ours = measured([RESCUE, "image", loop, "file://" + out])
    verify = measured([RESCUE, "verify", loop, "file://" + out])
    line = ("trim+scrape %7d areas: rescue image %7d KiB (%6.1f s, exit %d, %d bad areas "
            "after), rescue verify %7d KiB (%5.1f s, exit %d)"
            % (areas, ours[0], ours[1], ours[2], bad_areas(os.path.join(out, name + ".map")),
               verify[0], verify[1], verify[2]))
    if areas > TRIM_DDRESCUE_MAX:
        print(line + ", GNU ddrescue not run (over BENCH_MEMORY_TRIM_DDRESCUE_MAX=%d: its "
              "trimming grows faster than the map)" % TRIM_DDRESCUE_MAX)
        return
    theirs = measured(["ddrescue", "-f", loop, os.path.join(work, "t-trim.img"),
                       os.path.join(work, "theirs-trim.map")])
    print(line + ", GNU ddrescue %7d KiB (%6.1f s, %d bad areas after)"
          % (theirs[0], theirs[1], bad_areas(os.path.join(work, "theirs-trim.map"))))


def bench_image(work, areas):
    size = areas * 8192
    backing = os.path.join(work, "disk.raw")
    with open(backing, "wb") as f:
        f.truncate(size)
    loop = subprocess.run(["losetup", "--find", "--show", "--read-only", backing],
                          capture_output=True, text=True, check=True).stdout.strip()
    name = os.path.basename(loop)
    try:
        out = os.path.join(work, "img")
        os.makedirs(out)
        with open(os.path.join(out, name + ".img"), "wb") as f:
            f.truncate(size)
        map_of(os.path.join(out, name + ".map"), areas)
        shutil.copy(os.path.join(out, name + ".map"), os.path.join(work, "theirs.map"))
        ours = measured([RESCUE, "image", "--no-trim", "--no-scrape", loop, "file://" + out])
        verify = measured([RESCUE, "verify", loop, "file://" + out])
        theirs = measured(["ddrescue", "-n", "-N", "-f", loop, os.path.join(work, "t.img"),
                           os.path.join(work, "theirs.map")])
        print("image %7d bad areas: rescue image %7d KiB (%5.1f s, exit %d), rescue verify "
              "%7d KiB (%5.1f s), GNU ddrescue %7d KiB (%5.1f s)"
              % (areas, ours[0], ours[1], ours[2], verify[0], verify[1], theirs[0],
                 theirs[1]))
        sys.stdout.flush()
        if os.environ.get("BENCH_MEMORY_TRIM", "1") != "0":
            bench_trim(work, loop, areas)
    finally:
        subprocess.run(["losetup", "-d", loop])
    sys.stdout.flush()


def png_of(i):
    """A 1x1 RGB PNG whose pixel is I's three low bytes."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    pixel = bytes([0, i & 255, (i >> 8) & 255, (i >> 16) & 255])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(pixel)) + chunk(b"IEND", b""))


def bench_carve(work, count):
    backing = os.path.join(work, "disk.raw")
    with open(backing, "wb") as f:
        for i in range(count):
            png = png_of(i)
            f.write(png + os.urandom(4096 - len(png)))
    loop = subprocess.run(["losetup", "--find", "--show", "--read-only", backing],
                          capture_output=True, text=True, check=True).stdout.strip()
    try:
        out, theirs = os.path.join(work, "out"), os.path.join(work, "p")
        os.makedirs(out)
        ours = measured([RESCUE, "carve", "--types", "png", "--name", "d", loop,
                         "file://" + out])
        with open(os.path.join(out, "d.carve.sha256")) as f:
            found = sum(1 for _ in f)
        photorec = measured(["photorec", "/d", theirs, "/cmd", loop,
                             "partition_none,fileopt,everything,disable,png,enable,search"],
                            env=dict(os.environ, TERM="vt100"))
        recovered = sum(1 for top, _, files in os.walk(work) if top.startswith(theirs)
                        for name in files if name.endswith(".png"))
        line = ("carve %6d PNGs: rescue carve %7d KiB (%5.1f s, exit %d, %d found), PhotoRec "
                "%7d KiB (%5.1f s, %d found)" % (count, ours[0], ours[1], ours[2], found,
                                                 photorec[0], photorec[1], recovered))
        # Over the previous run: a disk smaller than the scan window (12 MiB: 8 MiB
        # steps and their lookahead) leaves part of it untouched, so the 2000-file
        # run's figure is not a per-file one.
        last = bench_carve.last
        if last and found > last[1]:
            line += "; %.0f B/file over the %d-file run (PhotoRec %.0f)" % (
                (ours[0] - last[0]) * 1024.0 / (found - last[1]), last[1],
                (photorec[0] - last[2]) * 1024.0 / (found - last[1]))
        bench_carve.last = (ours[0], found, photorec[0])
        print(line)
    finally:
        subprocess.run(["losetup", "-d", loop])
    sys.stdout.flush()


bench_carve.last = None


def sysfs_of(root, disks):
    """DISKS disks sd0000... of 1 GiB, each with 4 partitions, as sysfs lays them out."""
    def put(path, text):
        os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
        with open(os.path.join(root, path), "w") as f:
            f.write(text)
    for i in range(disks):
        name = "sd%04d" % i
        put("block/%s/size" % name, "2097152\n")
        put("block/%s/ro" % name, "1\n")
        put("block/%s/guard" % name, "1\n")
        put("block/%s/rejected_writes" % name, "0\n")
        put("block/%s/dev" % name, "8:%d\n" % (i * 16))
        put("block/%s/queue/rotational" % name, "1\n")
        put("block/%s/device/model" % name, "LUN %d\n" % i)
        put("block/%s/device/serial" % name, "SERIAL%06d\n" % i)
        for part in range(1, 5):
            directory = "block/%s/%s%d" % (name, name, part)
            put(directory + "/partition", "%d\n" % part)
            put(directory + "/start", "%d\n" % (2048 + (part - 1) * 500000))
            put(directory + "/size", "500000\n")
            put(directory + "/dev", "8:%d\n" % (i * 16 + part))


def bench_disks(work, disks):
    root = os.path.join(work, "sys")
    sysfs_of(root, disks)
    env = dict(os.environ, RESCUE_SYSFS=root)
    text = measured([RESCUE, "disks"], env=env)
    json_run = measured([RESCUE, "disks", "--json"], env=env)
    devices = disks * 5
    line = ("disks %5d disks (%5d devices): rescue disks %6d KiB (%5.2f s, exit %d), --json "
            "%6d KiB (%5.2f s)" % (disks, devices, text[0], text[1], text[2], json_run[0],
                                   json_run[1]))
    if bench_disks.first and devices > bench_disks.first[1]:
        line += "; %.0f B/device over the %d-disk run" % (
            (text[0] - bench_disks.first[0]) * 1024.0 / (devices - bench_disks.first[1]),
            bench_disks.first[1] // 5)
    if not bench_disks.first:
        bench_disks.first = (text[0], devices)
    print(line)
    sys.stdout.flush()


bench_disks.first = None


def counts(variable, default):
    """The comma-separated counts in the environment VARIABLE (empty: none)."""
    return [int(n) for n in os.environ.get(variable, default).split(",") if n]


def each_in_work_dir(bench, sizes):
    """BENCH(work, size) for each size, each in a fresh directory removed afterwards."""
    for size in sizes:
        work = tempfile.mkdtemp(prefix="bench-memory.", dir=os.environ.get("TMPDIR", "/var/tmp"))
        try:
            bench(work, size)
        finally:
            shutil.rmtree(work)


def main():
    if not os.path.exists(RESCUE):
        raise SystemExit("bench: %s missing: run make -C src check first" % RESCUE)
    each_in_work_dir(bench_disks, counts("BENCH_MEMORY_DISKS", "1,200,1000"))
    each_in_work_dir(bench_one_directory, counts("BENCH_MEMORY_DIR_FILES", "100000"))
    each_in_work_dir(bench_one_directory_direct, counts("BENCH_MEMORY_DIRECT_FILES",
                                                       "1000,100000"))
    each_in_work_dir(bench_dump, counts("BENCH_MEMORY_FILES", "10000,100000"))
    each_in_work_dir(bench_image, counts("BENCH_MEMORY_AREAS", "1000,100000"))
    each_in_work_dir(bench_carve, counts("BENCH_MEMORY_CARVE_FILES", "2000,8000,32000"))


if __name__ == "__main__":
    main()
