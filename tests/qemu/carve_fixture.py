"""Disks for `rescue carve`: real files placed in noise at known offsets, and the check.

make_files() gathers one file of each built-in type: pictures and documents Debian ships
in /usr/share, and what is made here with the tools that make them (sqlite3, tarfile,
zipfile for ODF and OOXML, gzip, zstd, a BMP written by hand). noise_disk() writes them
into random bytes at 512-byte-aligned offsets and returns the placement;
recall() compares a carving's files with it, byte for byte.
"""

import gzip
import hashlib
import io
import json
import os
import random
import shutil
import sqlite3
import struct
import subprocess
import tarfile
import wave
import zipfile
import zlib

SHIPPED = {
    "jpg": ["/usr/share/doc/syslinux-common/examples/syslinux_splash.jpg"],
    "png": ["/usr/share/doc/syslinux-common/logo/syslinux-100.png"],
    "gif": ["/usr/share/doc/libxslt1-dev/html/processing.gif",
            "/usr/share/doc/libxslt1-dev/html/node.gif"],
    "pdf": ["/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf",
            "/usr/share/doc/libtasn1-doc/libtasn1.pdf"],
    "elf": ["/usr/bin/true"],
    "ogg": ["/usr/share/sounds/freedesktop/stereo/complete.oga"],
}


def _first(paths):
    for path in paths:
        if os.path.exists(path) and os.path.getsize(path) < (2 << 20):
            with open(path, "rb") as f:
                return f.read()
    raise FileNotFoundError("none of %s (install the package that ships it)" % paths)


def _sqlite(directory):
    path = os.path.join(directory, "members.sqlite")
    with sqlite3.connect(path) as connection:
        connection.execute("create table members (name text, note text)")
        connection.executemany("insert into members values (?, ?)",
                               [("m%d" % i, "x" * (i % 50)) for i in range(2000)])
    connection.close()
    with open(path, "rb") as f:
        return f.read()


def _tar():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for i in range(3):
            data = ("file %d\n" % i).encode() * (100 * (i + 1))
            info = tarfile.TarInfo("etc/app/conf%d" % i)
            info.size, info.mtime = len(data), 1700000000
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _zip(members, first_stored=None):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if first_stored:
            archive.writestr(zipfile.ZipInfo(first_stored[0], (2020, 1, 1, 0, 0, 0)),
                             first_stored[1], compress_type=zipfile.ZIP_STORED)
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data,
                             compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def _bmp(width=37, height=20):
    row = (width * 3 + 3) // 4 * 4
    pixels = bytes((x * 7 + y * 3) % 256 for y in range(height) for x in range(row))
    header = struct.pack("<2sIHHI", b"BM", 54 + len(pixels), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(pixels), 2835, 2835,
                       0, 0)
    return header + info + pixels


def _wav(frames=4000):
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"".join(struct.pack("<h", (i * 37) % 20000 - 10000)
                                 for i in range(frames)))
    return buffer.getvalue()


def _tool(argv, data=b""):
    return subprocess.run(argv, input=data, stdout=subprocess.PIPE, check=True).stdout


MBOX = (b"From alice@example.org Mon Jan  1 00:00:00 2024\nFrom: alice@example.org\n"
        b"To: ops@example.org\nSubject: the keys\n\nThey are in the binder.\n\n"
        b"From ops@example.org Mon Jan  1 00:05:00 2024\nFrom: ops@example.org\n"
        b"Subject: re: the keys\n\nThanks.\n")


def _zstd(data):
    return subprocess.run(["zstd", "-q", "-c", "-19"], input=data, stdout=subprocess.PIPE,
                          check=True).stdout


def make_files(directory):
    """One file of each built-in type: {name: (type, bytes)}."""
    rng = random.Random(11)
    text = b"".join(b"line %d of a log that compresses well\n" % i for i in range(3000))
    files = {name: (kind, _first(paths)) for kind, paths in SHIPPED.items()
             for name in [kind + "-shipped"]}
    files["sqlite"] = ("sqlite", _sqlite(directory))
    files["tar"] = ("tar", _tar())
    files["gz"] = ("gz", gzip.compress(text, mtime=0))
    files["zst"] = ("zst", _zstd(text))
    files["bmp"] = ("bmp", _bmp())
    files["wav"] = ("wav", _wav())
    files["webp"] = ("webp", _tool(["cwebp", "-quiet", SHIPPED["png"][0], "-o", "-"]))
    files["xz"] = ("xz", _tool(["xz", "-c"], text))
    files["bz2"] = ("bz2", _tool(["bzip2", "-c"], text))
    files["mbox"] = ("mbox", MBOX)
    files["odt"] = ("odt", _zip([("content.xml", b"<office:document-content/>" * 20)],
                                ("mimetype", b"application/vnd.oasis.opendocument.text")))
    files["docx"] = ("docx", _zip([("[Content_Types].xml", b"<Types/>"),
                                   ("word/document.xml", b"<w:document/>" * 40)]))
    files["zip"] = ("zip", _zip([("notes/%d.txt" % i, bytes(rng.getrandbits(8)
                                                            for _ in range(300)))
                                 for i in range(4)]))
    return files


def _rechunked_png(png, size):
    """PNG with its image data in IDAT chunks of SIZE bytes (the same picture, another
    file: recall is counted by sha256)."""
    at, chunks, idat = 8, [], b""
    while at < len(png):
        length, kind = struct.unpack(">I4s", png[at:at + 8])
        body = png[at + 8:at + 8 + length]
        at += 12 + length
        if kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            chunks += [(b"IDAT", idat[i:i + size]) for i in range(0, len(idat), size)]
            chunks.append((kind, body))
        else:
            chunks.append((kind, body))
    return png[:8] + b"".join(struct.pack(">I", len(body)) + kind + body + struct.pack(
        ">I", zlib.crc32(kind + body)) for kind, body in chunks)


def split_files():
    """Files to place in two pieces (noise_disk's SPLITS): a second JPEG from Debian, its
    PNG with the image data in other chunks, and a ZIP of text, with where each is split
    and the noise between."""
    words = [b"backup", b"restore", b"sector", b"spool", b"journal", b"the", b"night"]
    rng = random.Random(5)
    text = b" ".join(rng.choice(words) for _ in range(12000))
    files = {
        "jpg-split": ("jpg", _first(["/usr/share/doc/syslinux-common/examples/"
                                     "m16-640x640-syslinux.jpg"])),
        "png-split": ("png", _rechunked_png(_first(SHIPPED["png"]), 16384)),
        "zip-split": ("zip", _zip([("notes/a.txt", text), ("notes/b.txt", text[::-1])])),
    }
    splits = {"jpg-split": (3 * 4096, 64 << 10), "png-split": (9 * 4096, 1 << 20),
              "zip-split": (2 * 4096, 200 << 10)}
    return files, splits


# A type no built-in validator knows, for a rule: found at any byte, as rules are.
RULE = "note  n  8000  RESCUE-NOTE\\x3a  END-OF-NOTE\n"
NOTE = b"RESCUE-NOTE: the backup key is in the blue binder\n" * 20 + b"END-OF-NOTE"


# Text ends where the text does: as a file system leaves it, zeros fill its last sector.
SLACK_ZEROED = {"mbox"}


def noise_disk(path, size_mb, files, seed=3, gap_sectors=(8, 200), shift=None, splits=None):
    """Writes FILES into noise at sector-aligned offsets (plus SHIFT[name] bytes):
    [{name, type, offset, length, sha256}] in the order placed. SPLITS[name] =
    (FIRST, GAP) places that file in two pieces, as a nearly full file system does: at a
    4 KiB block, its first FIRST bytes, then GAP bytes of noise, then the rest (the entry
    gets "resume", where the rest starts)."""
    shift, splits = shift or {}, splits or {}
    rng = random.Random(seed)
    size = size_mb << 20
    with open(path, "wb") as f:
        f.write(rng.randbytes(size))
    placement, offset = [], 1 << 20
    with open(path, "r+b") as f:
        for name, (kind, data) in sorted(files.items()):
            offset += rng.randint(*gap_sectors) * 512 + shift.get(name, 0)
            first, gap = splits.get(name, (len(data), 0))
            if name in splits:
                offset += -offset % 4096
            if offset + len(data) + gap > size:
                raise ValueError("%s does not fit in %d MiB" % (name, size_mb))
            f.seek(offset)
            f.write(data[:first])
            f.seek(offset + first + gap)
            f.write(data[first:])
            if name in SLACK_ZEROED:
                f.write(bytes(-len(data) % 512))
            placement.append({"name": name, "type": kind, "offset": offset,
                              "length": len(data),
                              "sha256": hashlib.sha256(data).hexdigest()})
            if name in splits:
                placement[-1]["resume"] = offset + first + gap
            offset += (len(data) + gap + 511) // 512 * 512 - shift.get(name, 0)
    return placement


def recall(placement, target_dir, name):
    """For each placed file, whether the carving has it byte for byte at its offset:
    ({placed name: path or None}, the manifest)."""
    with open(os.path.join(target_dir, name + ".carve.json")) as f:
        manifest = json.load(f)
    by_offset = {entry["offset"]: entry for entry in manifest["files"]}
    found = {}
    for placed in placement:
        entry = by_offset.get(placed["offset"])
        path = os.path.join(target_dir, entry["path"]) if entry else None
        if path and os.path.exists(path):
            with open(path, "rb") as f:
                if hashlib.sha256(f.read()).hexdigest() != placed["sha256"]:
                    path = None
        else:
            path = None
        found[placed["name"]] = path
    return found, manifest


def copy_tree_clean(directory):
    if os.path.isdir(directory):
        shutil.rmtree(directory)
    os.makedirs(directory)
