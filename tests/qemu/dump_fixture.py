"""The file trees `rescue dump` is tested on, and how the receiver checks what arrived.

make_tree() writes a tree with what a server's disk holds and what trips archivers: many
small files, a 4 MiB incompressible file, a sparse file, symbolic links (short and long),
a 255-byte name, a name that is not UTF-8, extended attributes, a PostgreSQL data
directory and an SQLite database. ext4_with_tree() puts it into an ext4 image and adds
what mkfs.ext4 -d cannot copy: a hard link, a fifo and a device node; xfs_with_tree()
does the same for an xfs.

extract() unpacks the volumes on the host with GNU tar, as the README tells a user to;
compare_trees() then says how the extracted tree differs from the source's.
"""

import glob
import json
import os
import random
import sqlite3
import stat
import subprocess
import tempfile

import lib

BIG = "srv/data/big.bin"
BIG_SIZE = 4 << 20
SPARSE = "srv/data/sparse.img"
HARD_LINK = "srv/data/big.bin.link"
NON_UTF8 = b"srv/caf\xe9-latin1.txt"
LONG_NAME = "srv/" + "n" * 255


def make_tree(root, small_files=300):
    rng = random.Random(5)
    os.makedirs(root)

    def put(name, content):
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(content)

    for i in range(small_files):
        put("home/u%d/mail/%04d.eml" % (i % 7, i), ("message %d\n" % i).encode() * (i % 13 + 1))
    put(BIG, bytes(rng.getrandbits(8) for _ in range(BIG_SIZE)))
    with open(os.path.join(root, SPARSE), "wb") as f:
        f.truncate(8 << 20)
        f.seek(3 << 20)
        f.write(b"island in the middle\n")
    put("var/lib/postgresql/15/main/PG_VERSION", b"15\n")
    put("var/lib/postgresql/15/main/global/pg_control", bytes(range(256)) * 32)
    put("var/lib/postgresql/15/main/base/5/1259", b"heap page\n" * 800)
    put("var/lib/postgresql/15/main/pg_wal/000000010000000000000001", b"wal\n" * 4096)
    database = os.path.join(root, "srv/app/app.sqlite3")
    os.makedirs(os.path.dirname(database), exist_ok=True)
    with sqlite3.connect(database) as connection:
        connection.execute("create table members (name text)")
        connection.executemany("insert into members values (?)", [("m%d" % i,) for i in range(500)])
    connection.close()
    put(LONG_NAME, b"a name of 255 bytes\n")
    with open(os.path.join(root.encode(), NON_UTF8), "wb") as f:
        f.write(b"latin-1 name\n")
    os.symlink("data/big.bin", os.path.join(root, "srv/big-short-link"))
    os.symlink("/" + "/".join(["deep"] * 30) + "/target", os.path.join(root, "srv/long-link"))
    os.setxattr(os.path.join(root, "srv/data"), "user.purpose", b"rescue test")
    os.setxattr(os.path.join(root, BIG), "user.checksum", b"not really")
    os.chmod(os.path.join(root, "home/u1/mail"), 0o700)
    os.chmod(os.path.join(root, SPARSE), 0o600)
    # make_ext4 dates everything SOURCE_DATE_EPOCH: so does the tree it is compared with.
    epoch = int(lib.SOURCE_DATE_EPOCH)
    for directory, dirs, names in os.walk(root.encode()):
        for name in dirs + names:
            os.utime(os.path.join(directory, name), (epoch, epoch), follow_symlinks=False)
    os.utime(root, (epoch, epoch))
    return root


def ext4_with_tree(image, tree, size_mb=64, **kwargs):
    lib.make_ext4(image, size_mb, files=tree, **kwargs)
    # debugfs's mknod takes a name in the current directory, not a path.
    script = ["ln /%s /%s" % (BIG, HARD_LINK), "sif /%s links_count 2" % BIG,
              "cd /srv", "mknod fifo p", "mknod null c 1 3",
              "sif fifo mtime %s" % lib.SOURCE_DATE_EPOCH,
              "sif null mtime %s" % lib.SOURCE_DATE_EPOCH]
    subprocess.run(["debugfs", "-w", "-f", "-", image], input="\n".join(script) + "\n",
                   text=True, check=True, capture_output=True,
                   env=dict(os.environ, E2FSPROGS_FAKE_TIME=lib.SOURCE_DATE_EPOCH))
    check = subprocess.run(["e2fsck", "-fn", image], capture_output=True, text=True)
    if check.returncode != 0 and "needs_recovery" not in check.stdout + check.stderr:
        raise lib.TestFailure("the fixture %s has errors:\n%s" % (image, check.stdout))
    return image


def xfs_with_tree(image, tree, size_mb=300):
    """An xfs holding TREE, with the hard link, fifo and device node ext4_with_tree adds.
    mkfs.xfs's protofile (xfsprogs 6.1) makes no hard links, xattrs or times, so the tree
    is copied in through a loop mount on the host (cp -a), unmounted before return."""
    lib.make_disk_image(image, size_mb)
    lib.run(["mkfs.xfs", "-q", "-f", image])
    mount = tempfile.mkdtemp(prefix="xfs-mnt.", dir=os.path.dirname(os.path.abspath(image)))
    lib.run(["mount", "-o", "loop", image, mount])
    try:
        lib.run(["cp", "-a", tree + "/.", mount])
        os.link(os.path.join(mount, BIG), os.path.join(mount, HARD_LINK))
        os.mkfifo(os.path.join(mount, "srv/fifo"))
        os.mknod(os.path.join(mount, "srv/null"), 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        epoch = int(lib.SOURCE_DATE_EPOCH)
        for name in ("srv/fifo", "srv/null", "srv/data", "srv", "."):
            os.utime(os.path.join(mount, name), (epoch, epoch))
    finally:
        lib.run(["umount", mount])
        os.rmdir(mount)
    return image


def file_blocks(image, path):
    """The file system blocks of PATH in the ext4 IMAGE, in file order."""
    out = subprocess.run(["debugfs", "-R", "blocks /%s" % path, image], check=True,
                         capture_output=True, text=True).stdout
    return [int(word) for word in out.split()]


def extract(directory, name, into, compress="zstd"):
    suffix = {"zstd": ".tar.zst", "gzip": ".tar.gz", "none": ".tar"}[compress]
    os.makedirs(into)
    volumes = sorted(glob.glob(os.path.join(directory, name + ".[0-9]*" + suffix)))
    for volume in volumes:
        subprocess.run(["tar", "--xattrs", "--xattrs-include=*", "-xpf", volume, "-C", into],
                       check=True, capture_output=True)
    return volumes


def sha256sum_check(directory, name, tree):
    """`sha256sum -c` as the README shows it; returns (exit code, output)."""
    done = subprocess.run(["sha256sum", "-c", os.path.join(directory, name + ".sha256")],
                          cwd=tree, capture_output=True)
    return done.returncode, done.stdout.decode(errors="replace") + done.stderr.decode(
        errors="replace")


def manifest(directory, name):
    with open(os.path.join(directory, name + ".manifest.json"), "rb") as f:
        return json.loads(f.read().decode())


def _describe(root):
    """path -> (type, mode, mtime, content or link target, xattrs) of every entry."""
    described = {}
    root = root.encode()
    for directory, dirs, names in os.walk(root):
        for name in dirs + names:
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, root)
            st = os.lstat(path)
            kind = st.st_mode & 0o170000
            if os.path.islink(path):
                content = os.readlink(path)
            elif kind == 0o100000:
                with open(path, "rb") as f:
                    content = f.read()
            elif kind in (0o020000, 0o060000):
                content = st.st_rdev
            else:
                content = None
            try:
                xattrs = {a: os.getxattr(path, a, follow_symlinks=False)
                          for a in os.listxattr(path, follow_symlinks=False)
                          if a.startswith("user.")}
            except OSError:
                xattrs = {}
            described[relative] = (kind, st.st_mode & 0o7777, st.st_uid, st.st_gid,
                                   int(st.st_mtime), content, xattrs)
    return described


def compare_trees(expected_root, actual_root, ignore=()):
    """The differences between the two trees, as lines (empty when they are equal)."""
    expected, actual = _describe(expected_root), _describe(actual_root)
    lines = []
    for path in sorted(set(expected) | set(actual)):
        if path in ignore or path.decode(errors="replace") in ignore:
            continue
        if path not in actual:
            lines.append("missing: %r" % path)
        elif path not in expected:
            lines.append("extra: %r" % path)
        elif expected[path] != actual[path]:
            e, a = expected[path], actual[path]
            fields = [n for n, x, y in zip(("type", "mode", "uid", "gid", "mtime", "content",
                                           "xattrs"), e, a) if x != y]
            lines.append("differs: %r (%s)" % (path, ", ".join(fields)))
    return lines
