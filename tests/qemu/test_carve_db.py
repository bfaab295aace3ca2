"""`rescue carve --db --free` in the appliance against databases the real servers wrote and
dropped, to the host's OpenSSH over ssh://, brought back as the RESTORE.md it wrote says.
One boot, three ext4 disks made by tests/db/roundtrip (loop-mounted by the host's kernel,
each server's data directory on it, written by Debian's mariadb-server and postgresql-15):

- vda: MariaDB, two tables (customers: text; orders: BLOB) of 150,000 rows each,
  slow shutdown, DROP DATABASE. Each space-N.ibd is imported into a fresh MariaDB
  (CREATE TABLE, DISCARD TABLESPACE, copy, IMPORT TABLESPACE): row count and a
  checksum over all rows equal to the original's.
- vdb: PostgreSQL 15 with data checksums (initdb -k), a table of 100,000 rows (a tenth
  updated), CHECKPOINT, DROP TABLE: the relation file put under a table of the same
  definition in a copy of the cluster (its other files intact): rows equal. Beside it
  a table of 300 rows whose long texts (3-19 KB of random base64) are TOASTed, dropped
  too: its heap and TOAST relations (pg-3atts, pg-toast) linked by the report, every
  toasted value complete, put back with RESTORE.md's binary-upgrade commands as written
  (the TOAST relation gets its old OID): rows equal.
- vdc: the same without data checksums (block numbers from t_ctid alone): the share of
  the rows back is stated; all of them, or, when the server's own files took some of
  the freed blocks again after the DROP (1 run in 3 lost 8 of 1551), those blocks named
  missing (exit 1) and at least 99% of the rows back.

- vdd: an SQLite database (20,000 rows, written by the SQLite library) with three of its
  pages overwritten, in noise: `carve --db` writes it as found (byte for byte), and
  RESTORE.md's command for Debian's sqlite3 shell (`.dump` kept past its ROLLBACK; the
  `.recover` it names needs a shell with sqlite_dbpage, which Debian's lacks) brings
  back rows, each equal to the original; the share is stated.

The carve exits 0 (no page missing), the report names each file, and the sources' sha256
are unchanged. About 4 minutes under TCG (see CASES)."""

import os
import random
import re
import shutil
import sqlite3
import subprocess
import tempfile

import lib
from test_image_ssh import _receiver

TIMEOUT = 1500

ROUNDTRIP = os.path.join(lib.TOP, "tests", "db", "roundtrip")
# (disk, roundtrip kind, rows a table, image size). Measured 2026-12-06 (TCG, -j 1): the
# whole test in 221 s, of which the MariaDB carve (45 MiB of pages to ssh://) ~110 s and
# each PostgreSQL one ~30 s. MARIADB_ROWS / PG_ROWS / MARIADB_IMAGE / PG_IMAGE /
# PG_TOAST_IMAGE (vdb) / TOAST_ROWS (tests/db/roundtrip, 300) change them.
CASES = (
    ("vda", "mariadb", int(os.environ.get("MARIADB_ROWS", "150000")),
     os.environ.get("MARIADB_IMAGE", "256M")),
    # 160M: with the TOASTed table's 3 MB and their WAL, 96M ran out of space (the
    # server stopped: "No space left on device" writing pg_wal).
    ("vdb", "pg", int(os.environ.get("PG_ROWS", "100000")),
     os.environ.get("PG_TOAST_IMAGE", "160M")),
    ("vdc", "pg-plain", int(os.environ.get("PG_ROWS", "100000")),
     os.environ.get("PG_IMAGE", "96M")),
)


def _roundtrip(ctx, phase, kind, work, *extra, rows, size):
    env = dict(os.environ, ROWS=str(rows), IMAGE_SIZE=size)
    done = subprocess.run([ROUNDTRIP, phase, kind, work] + list(extra), env=env,
                          capture_output=True, text=True, timeout=900)
    with open(ctx.path("roundtrip-%s-%s.log" % (phase, kind)), "w") as f:
        f.write(done.stdout + done.stderr)
    return done.returncode, done.stdout + done.stderr


SQLITE_ROWS = 20000
SQLITE_OVERWRITTEN = (40, 41, 200)   # page indexes (from 0) replaced by noise
SQLITE_OFFSET = 3 * 1024 * 1024 + 7 * 512


def _sqlite_rows():
    return {i: ("note %d" % i, "body of note %d " % i * (1 + i % 5))
            for i in range(1, SQLITE_ROWS + 1)}


def _sqlite_disk(ctx):
    """A database the SQLite library wrote, three of its pages overwritten with noise, at
    SQLITE_OFFSET of a 16 MiB disk of noise. Returns (disk, the damaged file's bytes)."""
    path = ctx.path("notes.db")
    db = sqlite3.connect(path)
    db.execute("PRAGMA page_size=4096")
    db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT, body TEXT)")
    db.executemany("INSERT INTO notes VALUES (?, ?, ?)",
                   [(i, t, b) for i, (t, b) in _sqlite_rows().items()])
    db.commit()
    db.close()
    noise = random.Random(12)
    with open(path, "rb") as f:
        damaged = bytearray(f.read())
    for page in SQLITE_OVERWRITTEN:
        damaged[page * 4096:(page + 1) * 4096] = noise.randbytes(4096)
    disk = bytearray(noise.randbytes(16 << 20))
    disk[SQLITE_OFFSET:SQLITE_OFFSET + len(damaged)] = damaged
    with open(ctx.path("sqlite.img"), "wb") as f:
        f.write(disk)
    return ctx.path("sqlite.img"), bytes(damaged)


def _sqlite_back(out, damaged):
    """The carved file checked, RESTORE.md's command for Debian's sqlite3 run on it;
    returns the rows back, each checked against the original."""
    folder = os.path.join(out, "vdd.carve", "sqlite")
    name = "f%d.sqlite" % SQLITE_OFFSET
    with open(os.path.join(folder, name), "rb") as f:
        assert f.read() == damaged, "the SQLite file is not the file as found"
    with open(os.path.join(out, "vdd.db", "RESTORE.md")) as f:
        restore = f.read()
    assert "`vdd.carve/sqlite/`" in restore and ".recover" in restore, restore
    command = re.search(r"^    (sqlite3 f<offset>\.sqlite \.dump .*\\\n.*)$", restore, re.M)
    assert command, restore
    shell = command.group(1).replace("f<offset>.sqlite", name).replace("\\\n", "")
    subprocess.run(shell, shell=True, cwd=folder, check=True, capture_output=True)
    db = sqlite3.connect(os.path.join(folder, "recovered.db"))
    back = db.execute("SELECT id, title, body FROM notes").fetchall()
    db.close()
    original = _sqlite_rows()
    for row in back:
        assert original[row[0]] == (row[1], row[2]), "row %d differs" % row[0]
    assert 0 < len(back) < SQLITE_ROWS, len(back)
    return "notes (SQLite, .dump): rows back: %d of %d (%.1f%%)" % (
        len(back), SQLITE_ROWS, 100.0 * len(back) / SQLITE_ROWS)


def test_dropped_databases_back_from_free_blocks(ctx):
    # The servers' unix sockets live beside their data directories: the work dir's path
    # is too long for one (107 bytes), so the databases are made under /tmp.
    base = tempfile.mkdtemp(prefix="rescue-carve-db-")
    os.chmod(base, 0o755)  # PostgreSQL runs as postgres and must reach its data
    ctx.on_cleanup(lambda: shutil.rmtree(base, ignore_errors=True))
    works, sums = {}, {}
    for disk, kind, rows, size in CASES:
        works[disk] = os.path.join(base, kind)
        code, text = _roundtrip(ctx, "prepare", kind, works[disk], rows=rows, size=size)
        assert code == 0, text
        image = os.path.join(works[disk], "disk.img")
        sums[image] = lib.sha256(image)
    sqlite_disk, damaged = _sqlite_disk(ctx)
    sums[sqlite_disk] = lib.sha256(sqlite_disk)
    cfg, sshd, (out,) = _receiver(ctx, "out")
    url = "ssh://root@10.0.2.2:%d%s" % (sshd.port, out)
    args = ["--config", cfg, "--memory", "512", "--host-port", str(sshd.port)]
    for disk, kind, _, _ in CASES:
        args += ["--disk", os.path.join(works[disk], "disk.img")]
    guest = ctx.shell(*(args + ["--disk", sqlite_disk]))

    missing = {}
    for disk, kind, _, _ in CASES:
        code, text = lib.console_run(guest, "rescue carve --db --free %s %s" % (disk, url),
                                     timeout=900)
        summary = re.search(r"%s\.db/: \d+ tablespaces, \d+ relations, [1-9]\d* pages "
                            r"written, (\d+) missing" % disk, text)
        assert summary, text
        missing[disk] = int(summary.group(1))
        # Exit 1 says pages are missing; only allowed where the issue asks for a share.
        assert code == (1 if missing[disk] else 0), text
        assert kind == "pg-plain" or missing[disk] == 0, text
    code, text = lib.console_run(guest, "rescue carve --db vdd %s" % url, timeout=600)
    assert code == 0 and re.search(r"vdd: 1 files: sqlite 1", text), text
    guest.stop(command="poweroff")
    for image, before in sums.items():
        assert lib.sha256(image) == before, "%s changed" % image

    shares = []
    for disk, kind, rows, size in CASES:
        prefix = os.path.join(out, disk + ".db") + "/"
        with open(prefix + "report.txt") as f:
            report = f.read()
        assert os.path.exists(prefix + "RESTORE.md"), prefix
        if kind == "mariadb":
            assert len(re.findall(r"^%s\.db/space-\d+\.ibd  innodb" % disk, report,
                                  re.M)) >= 2, report
        else:
            assert re.search(r"^%s\.db/pg-6atts  postgresql" % disk, report, re.M), report
        if kind == "pg":
            toasted = re.search(r"toasted values (\d+) in %s\.db/pg-toast \(TOAST relation "
                                r"OID \d+\): complete (\d+), partial 0, missing 0$" % disk,
                                report, re.M)
            assert toasted and toasted.group(1) == toasted.group(2), report
        code, text = _roundtrip(ctx, "restore", kind, works[disk], prefix, rows=rows,
                                size=size)
        shares += re.findall(r"^\w+: rows back: .*$", text, re.M)
        if kind == "pg-plain" and missing[disk]:
            # Blocks the server's own files took again after the DROP (seen in 1 of 3
            # runs: 8 of 1551): named missing in the report, the rest must come back.
            back = re.search(r"rows back: (\d+) of (\d+)", text)
            assert re.search(r"missing %d: " % missing[disk], report), report
            assert back and int(back.group(1)) >= 0.99 * int(back.group(2)), text
        else:
            assert code == 0, text
    shares.append(_sqlite_back(out, damaged))
    with open(ctx.path("rows-back.txt"), "w") as f:
        f.write("\n".join(shares) + "\n")
    print("\n".join(shares))
