#!/usr/bin/env python3
"""Peak memory at scale (issue 18), opt-in: not run by `make bench` or `make test`.
Host-side, as root, with the host build of rescue (build/rescue/host/rescue from
`make -C src check`). Nothing is asserted about speed; every run's output is checked.

usage: python3 bench/scale.py dump [FILES]     (default 10000000)
       python3 bench/scale.py carve | dbpages | undelete

  dump      An ext4 of FILES small files (inline data: "file N\\n" inside the inode,
            no data blocks), 100,000 to a parent of 100 directories of 1,000, and a
            tenth of them (at most 1,000,000) in one directory, made on a sparse image
            loop-mounted here by bench/mktree.c (10M files: a 12 GiB sparse image, about
            4 GB written, ~17 min). Then, against OpenSSH's sshd on 127.0.0.1 (the
            appliance's static dbclient from the build cache):
              1. rescue dump of the mounted tree, whole: peak RSS of the rescue process
                 itself (VmHWM, sampled; dbclient is its own process), wall time; the
                 receiver must hold FILES lines in NAME.sha256 and FILES files in the
                 manifest;
              2. (after 3) the same into a fresh directory, killed (SIGKILL) once the
                 target holds the sums of BENCH_SCALE_STOP_AT (default 0.5) of the files,
                 then resumed to the end: peak RSS of the resumed run, the receiver
                 checked as in 1;
              3. GNU tar -cf - of the same tree into a pipe (to cat > /dev/null):
                 its peak RSS and time;
              4. the whole dump of 1 run again: everything is on the target already.
                 BENCH_SCALE_RUNS (default whole,tar,resumed,again) picks some of them:
                 two instances can share the tree (BENCH_SCALE_KEEP=1 on both).
            BENCH_SCALE_WORK (default /var/tmp) holds the image and the receiver;
            BENCH_SCALE_KEEP=1 keeps the image for another run (reused when its file
            count matches).
  carve     rescue carve on images of N PNG files in noise (BENCH_SCALE_CARVE, default
            2000,8000,32000), beside PhotoRec 7.1 (`photorec /cmd`) on the same image;
            and at a fixed count with files 16x larger (does memory grow with the data?)
  dbpages   rescue carve --db --free on the ext4 image where a real PostgreSQL dropped a
            table of N rows (tests/db/roundtrip prepare pg; BENCH_SCALE_DB_ROWS, default
            100000,400000,1600000: about 1,500 to 25,000 pages); pages counted in what it
            wrote (PhotoRec has no database pages to compare with)
  undelete  rescue undelete on ext4 images where the kernel deleted N files (BENCH_SCALE_
            UNDELETE, default 2000,8000,32000), beside ext4magic -r on the same images

Each prints items -> peak RSS -> bytes per item over the smallest run. The figures of
2026-12-06 are in src/salvage/README.md. Times on a shared 2-core host: the 10M tree
17 min; its first dump ~1,000-5,000 files/s (the counting walk 25 min cold); the resume
15 min warm; undelete 32,000 files ~10 min (ext4magic most of it); carve 32,000 ~5 min.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESCUE = os.path.join(TOP, "build", "rescue", "host", "rescue")
sys.path.insert(0, os.path.join(TOP, "tools", "lib"))
import appliance  # noqa: E402

WORK = os.environ.get("BENCH_SCALE_WORK", "/var/tmp")


def say(text):
    print(text)
    sys.stdout.flush()


def vm_hwm(pid):
    """The peak resident set of process PID in KiB (0 when it is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            found = re.search(r"^VmHWM:\s+(\d+) kB", f.read(), re.M)
        return int(found.group(1)) if found else 0
    except OSError:
        return 0


class Measured:
    """ARGV run to its end under /usr/bin/time (or killed when STOP() says so, checked each
    0.2 s). self.peak: its peak RSS in KiB as GNU time reports it (the largest of the
    process and the children it waited for); self.own: the process's own VmHWM, sampled
    (the last sample before it ended: for the long runs, where a child such as dbclient
    must not count); wall seconds and exit status. (Not wait4 on a child of this Python:
    a forked child's maxrss starts at the parent's.)"""

    def __init__(self, argv, stop=None, **kwargs):
        started = time.monotonic()
        with tempfile.NamedTemporaryFile("r", prefix="bench-scale-time.") as report:
            proc = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", report.name] + argv,
                                    **kwargs)
            self.own, self.killed, child = 0, False, None
            while proc.poll() is None:
                child = child or first_child(proc.pid)
                if child:
                    self.own = max(self.own, vm_hwm(child))
                    if stop and not self.killed and stop():
                        os.kill(child, signal.SIGKILL)
                        self.killed = True
                time.sleep(0.2)
            self.peak = int(report.read().split()[-1])
        self.code = proc.returncode
        self.seconds = time.monotonic() - started

    def __str__(self):
        return "%7.1f MiB (%6.0f s, exit %d)" % (self.peak / 1024.0, self.seconds, self.code)

    def own_and_tree(self):
        return "%7.1f MiB own, %7.1f MiB with dbclient (%6.0f s, exit %d)" % (
            self.own / 1024.0, self.peak / 1024.0, self.seconds, self.code)


def first_child(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            children = f.read().split()
        return int(children[0]) if children else None
    except OSError:
        return None


def per_item(first, count, kib):
    """Bytes of peak RSS per item beyond the FIRST (count, KiB) run."""
    if not first or count <= first[0]:
        return ""
    return "%+.1f B/item over %d" % ((kib - first[1]) * 1024.0 / (count - first[0]), first[0])


# ---------------------------------------------------------------- dump


def build_tool(name):
    binary = os.path.join(tempfile.gettempdir(), "bench-scale-%s.%d" % (name, os.getpid()))
    appliance.run(["gcc", "-O2", "-Wall", "-o", binary, os.path.join(TOP, "bench", name + ".c")])
    return binary


def tree_image(files):
    """A loop-mounted ext4 of FILES files (reused when BENCH_SCALE_KEEP left one): its
    image path and mount point."""
    image = os.path.join(WORK, "bench-scale-%d.ext4" % files)
    mount = image + ".mnt"
    os.makedirs(mount, exist_ok=True)
    if os.path.ismount(mount):
        return image, mount
    if os.path.exists(image):
        appliance.run(["mount", "-o", "loop,ro,noload", image, mount])
        return image, mount
    with open(image, "wb") as f:
        f.truncate(max(1 << 30, files * 1300))
    # Lazy inode tables and no itable zeroing on mount: the kernel would otherwise
    # write the whole table (2.5 GB at 10M inodes) behind the tree's creation.
    appliance.run(["mkfs.ext4", "-q", "-F", "-b", "4096", "-I", "256", "-N", str(files + files // 100 + 1000),
                   "-O", "inline_data", "-E", "lazy_itable_init=1,lazy_journal_init=1,root_owner=0:0",
                   image])
    appliance.run(["mount", "-o", "loop,noinit_itable,nobarrier,commit=60", image, mount])
    started = time.monotonic()
    mktree = build_tool("mktree")
    try:
        appliance.run(["nice", "ionice", "-c3", mktree, mount, str(files),
                       str(min(1000000, files // 10))], stderr=None)
    except BaseException:
        subprocess.run(["umount", mount])
        os.unlink(image)
        os.rmdir(mount)
        raise
    finally:
        os.unlink(mktree)
    say("tree: %d files made in %.0f s" % (files, time.monotonic() - started))
    appliance.run(["umount", mount])
    appliance.run(["mount", "-o", "loop,ro,noload", image, mount])
    return image, mount


def dropbear_path(work):
    """A directory with dbclient and dropbearkey: the static dropbear of the image build."""
    import glob
    found = sorted(glob.glob(os.path.expanduser("~/.cache/rescue/build/dropbear-*/bin/dropbearmulti")),
                   key=os.path.getmtime)
    if not found:
        raise SystemExit("bench: no dropbearmulti in ~/.cache/rescue/build: run make images first")
    directory = os.path.join(work, "bin")
    os.makedirs(directory, exist_ok=True)
    for name in ("dbclient", "dropbearkey", "dropbearconvert"):
        os.symlink(found[-1], os.path.join(directory, name))
    return directory


def lines_in(path):
    count = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 24), b""):
            count += block.count(b"\n")
    return count


def manifest_files(path):
    """The regular files the manifest names (one JSON object a line or not: counted by
    their "type" member)."""
    count = 0
    pattern = re.compile(rb'"type": ?"file"')
    with open(path, "rb") as f:
        tail = b""
        for block in iter(lambda: f.read(1 << 24), b""):
            block = tail + block
            cut = block.rfind(b"\n") + 1 if b"\n" in block else len(block) - 64
            count += len(pattern.findall(block[:cut]))
            tail = block[cut:]
        count += len(pattern.findall(tail))
    return count


def received(directory, files):
    """What the receiver holds: the sha256 lines and manifest files, checked."""
    lines = lines_in(os.path.join(directory, "scale.sha256"))
    named = manifest_files(os.path.join(directory, "scale.manifest.json"))
    verdict = "ok" if lines == files and named == files else "MISSING FILES"
    return "receiver: %d sha256 lines, %d files in the manifest: %s" % (lines, named, verdict)


def part_size(directory):
    try:
        return os.path.getsize(os.path.join(directory, "scale.sha256.part"))
    except OSError:
        return 0


def volumes_done(directory):
    return sum(1 for name in os.listdir(directory) if re.match(r"scale\.\d+\.tar\.zst$", name))


def bench_dump(files):
    image, mount = tree_image(files)
    work = tempfile.mkdtemp(prefix="bench-scale.", dir=WORK)
    sshd = None
    try:
        env = dict(os.environ, PATH=dropbear_path(work) + ":" + os.environ["PATH"],
                   RESCUE_CLIENT_DIR=os.path.join(work, "client"))
        key = subprocess.run([RESCUE, "target", "key"], env=env, capture_output=True,
                             text=True).stdout
        key = [line for line in key.splitlines() if line.startswith("ssh-")]
        sshd = appliance.SshServer(work, authorized_keys=key)

        def dump(name, stop=None):
            directory = os.path.join(work, name)
            os.makedirs(directory, exist_ok=True)
            url = "ssh://root@127.0.0.1:%d%s" % (sshd.port, directory)
            with open(os.path.join(work, name + ".log"), "ab") as log:
                return directory, Measured([RESCUE, "dump", "--name", "scale", mount, url],
                                           stop=stop, env=env, stdout=log, stderr=log)

        runs = os.environ.get("BENCH_SCALE_RUNS", "whole,tar,resumed,again").split(",")
        if "whole" in runs:
            whole_dir, whole = dump("whole")
            say("dump %9d files: rescue dump %s; %s"
                % (files, whole.own_and_tree(), received(whole_dir, files)))
        if "tar" in runs:
            tar = Measured(["sh", "-c", 'exec tar -cf - -C "$1" . | cat > /dev/null', "tar",
                            mount])
            say("dump %9d files: GNU tar -cf - | cat > /dev/null %s" % (files, tar))
        if "resumed" in runs:
            cut_dir = os.path.join(work, "resumed")
            # Killed once the sums of STOP_AT of the files are on the target (a line
            # is at least 90 bytes here), then run again to the end.
            wanted = float(os.environ.get("BENCH_SCALE_STOP_AT", "0.5")) * files * 90
            cut_dir, cut = dump("resumed", stop=lambda: part_size(cut_dir) >= wanted)
            say("dump %9d files: killed with %d sums on the target (%d volumes): %s"
                % (files, lines_in(os.path.join(cut_dir, "scale.sha256.part")),
                   volumes_done(cut_dir), cut.own_and_tree()))
            _, resumed = dump("resumed")
            say("dump %9d files: resumed %s; %s"
                % (files, resumed.own_and_tree(), received(cut_dir, files)))
        if "again" in runs and "whole" in runs:
            _, again = dump("whole")
            say("dump %9d files: again (all on the target already) %s"
                % (files, again.own_and_tree()))
    finally:
        if sshd:
            sshd.stop()
        shutil.rmtree(work, ignore_errors=True)
        if os.environ.get("BENCH_SCALE_KEEP") != "1":
            appliance.run(["umount", mount])
            os.unlink(image)
            os.rmdir(mount)


# ---------------------------------------------------------------- carve, --db, undelete


class Loop:
    """IMAGE as a read-only loop device (the engines read block devices): self.device."""

    def __init__(self, image):
        self.device = subprocess.run(["losetup", "--find", "--show", "--read-only", image],
                                     capture_output=True, text=True, check=True).stdout.strip()

    def __enter__(self):
        return self.device

    def __exit__(self, *exc):
        subprocess.run(["losetup", "-d", self.device])
        return False


def counts(variable, default):
    return [int(n) for n in os.environ.get(variable, default).split(",") if n]


def png(rng, side):
    """A valid PNG of SIDE x SIDE random RGB pixels (stored, so it is as big as its data)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xffffffff)
    raw = b"".join(b"\0" + rng.randbytes(side * 3) for _ in range(side))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 0)) + chunk(b"IEND", b""))


def carve_image(path, files, side):
    """FILES PNGs of SIDE x SIDE pixels, each at a 4 KiB boundary with random bytes
    after it up to the next boundary but one."""
    import random
    rng = random.Random(files * 7 + side)
    with open(path, "wb") as f:
        for _ in range(files):
            data = png(rng, side)
            stride = (len(data) + 8191) // 4096 * 4096
            f.write(data + rng.randbytes(stride - len(data)))
    return os.path.getsize(path)


def photorec(image, out):
    """PhotoRec 7.1 as a user runs it without its menus, PNG only."""
    return Measured(["photorec", "/log", "/d", out + "/p", "/cmd", image,
                     "partition_none,fileopt,everything,disable,png,enable,search"],
                    cwd=out, env=dict(os.environ, TERM="vt100"), stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def found_files(directory, suffix):
    return sum(1 for _, _, names in os.walk(directory) for n in names if n.endswith(suffix))


def bench_carve():
    """rescue carve's memory per file found, beside PhotoRec's, and at one count with
    files 16x larger: what grows is the index, not the data."""
    first = {}
    for files, side in [(n, 24) for n in counts("BENCH_SCALE_CARVE", "2000,8000,32000")] + [
            (counts("BENCH_SCALE_CARVE", "2000,8000,32000")[0], 24 * 4)]:
        work = tempfile.mkdtemp(prefix="bench-scale-carve.", dir=WORK)
        try:
            image = os.path.join(work, "disk.img")
            size = carve_image(image, files, side)
            out = os.path.join(work, "ours")
            os.makedirs(out)
            with Loop(image) as device:
                ours = Measured([RESCUE, "carve", "--types", "png", "--name", "c", device,
                                 "file://" + out], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
            got = lines_in(os.path.join(out, "c.carve.sha256"))
            theirs_out = os.path.join(work, "theirs")
            os.makedirs(theirs_out)
            theirs = photorec(image, theirs_out)
            key = "small" if side == 24 else "large"
            line = ("carve %6d PNGs (%4d MiB, %s): rescue carve %s, %d found %s; PhotoRec %s, "
                    "%d found %s" % (files, size >> 20, key, ours, got,
                                     per_item(first.get(("ours", key)), got, ours.peak),
                                     theirs, found_files(theirs_out, ".png"),
                                     per_item(first.get(("theirs", key)), files, theirs.peak)))
            first.setdefault(("ours", key), (got, ours.peak))
            first.setdefault(("theirs", key), (files, theirs.peak))
            say(line.replace("PhotoRec %s" % theirs, "PhotoRec %7.1f MiB (%6.0f s)"
                             % (theirs.peak / 1024.0, theirs.seconds)))
        finally:
            shutil.rmtree(work, ignore_errors=True)


def bench_dbpages():
    """rescue carve --db --free on a PostgreSQL table dropped on an ext4 (tests/db/roundtrip
    prepare pg), at ROWS rows: memory per page kept."""
    first = None
    for rows in counts("BENCH_SCALE_DB_ROWS", "100000,400000,1600000"):
        work = tempfile.mkdtemp(prefix="bench-scale-db.", dir=WORK)
        try:
            os.chmod(work, 0o755)
            subprocess.run([os.path.join(TOP, "tests", "db", "roundtrip"), "prepare", "pg", work],
                           env=dict(os.environ, ROWS=str(rows), IMAGE_SIZE="%dM" % max(
                               256, rows * 3 // 1000)), check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            out = os.path.join(work, "ours")
            os.makedirs(out)
            with Loop(os.path.join(work, "disk.img")) as device:
                ours = Measured([RESCUE, "carve", "--db", "--free", "--name", "d", device,
                                 "file://" + out], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
            pages = sum(os.path.getsize(os.path.join(root, n)) // 8192
                        for root, _, names in os.walk(os.path.join(out, "d.db")) for n in names
                        if not n.endswith((".md", ".json", ".txt", ".sql")))
            say("dbpages %8d rows, %7d pages written: rescue carve --db --free %s %s"
                % (rows, pages, ours, per_item(first, pages, ours.peak)))
            first = first or (pages, ours.peak)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def deleted_tree_image(path, files):
    """An ext4 where the kernel made FILES files of 1-12 KiB in directories of 100, synced,
    then deleted them all (rm -rf), as bench/undelete.py's fixtures but larger."""
    import random
    rng = random.Random(files)
    mount = path + ".mnt"
    os.makedirs(mount)
    with open(path, "wb") as f:
        f.truncate(max(512 << 20, files * 16384 * 2))
    appliance.run(["mkfs.ext4", "-q", "-F", "-b", "4096", "-J", "size=64", path])
    appliance.run(["mount", "-o", "loop", path, mount])
    try:
        for i in range(files):
            directory = os.path.join(mount, "tree", "d%04d" % (i // 100))
            if i % 100 == 0:
                os.makedirs(directory)
            with open(os.path.join(directory, "f%03d.bin" % (i % 100)), "wb") as f:
                f.write(rng.randbytes(rng.randrange(1024, 12289)))
        appliance.run(["sync"])
        shutil.rmtree(os.path.join(mount, "tree"))
        appliance.run(["sync"])
    finally:
        appliance.run(["umount", mount])
        os.rmdir(mount)


def bench_undelete():
    """rescue undelete's memory per file recovered, beside ext4magic -r's."""
    first = {}
    for files in counts("BENCH_SCALE_UNDELETE", "2000,8000,32000"):
        work = tempfile.mkdtemp(prefix="bench-scale-undelete.", dir=WORK)
        try:
            image = os.path.join(work, "disk.img")
            deleted_tree_image(image, files)
            out = os.path.join(work, "ours")
            os.makedirs(out)
            with Loop(image) as device:
                ours = Measured([RESCUE, "undelete", "--name", "u", device, "file://" + out],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            got = lines_in(os.path.join(out, "u.sha256"))
            theirs_out = os.path.join(work, "theirs")
            theirs = Measured(["ext4magic", image, "-r", "-d", theirs_out],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
            back = found_files(theirs_out, "")
            say("undelete %6d files deleted: rescue undelete %s, %d whole %s; ext4magic -r "
                "%7.1f MiB (%6.0f s), %d files %s"
                % (files, ours, got, per_item(first.get("ours"), got, ours.peak),
                   theirs.peak / 1024.0, theirs.seconds, back,
                   per_item(first.get("theirs"), back, theirs.peak)))
            first.setdefault("ours", (got, ours.peak))
            first.setdefault("theirs", (back, theirs.peak))
        finally:
            shutil.rmtree(work, ignore_errors=True)


def main():
    if os.geteuid() != 0:
        raise SystemExit("bench/scale.py: needs root (loop mounts)")
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return
    if not os.path.exists(RESCUE):
        raise SystemExit("bench: %s missing: run make -C src check first" % RESCUE)
    case = sys.argv[1]
    if case == "dump":
        bench_dump(int(sys.argv[2]) if len(sys.argv) > 2 else 10000000)
    elif case in ("carve", "dbpages", "undelete"):
        {"carve": bench_carve, "dbpages": bench_dbpages, "undelete": bench_undelete}[case]()
    else:
        raise SystemExit("bench/scale.py: unknown case %r (dump, carve, dbpages, undelete)" % case)


if __name__ == "__main__":
    main()
