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
  definition in a copy of the cluster (its other files intact): rows equal.
- vdc: the same without data checksums (block numbers from t_ctid alone): the share of
  the rows back is stated (bench/dbpages prints it too) and must be all of them.

The carve exits 0 (no page missing), the report names each file, and the sources' sha256
are unchanged. About 4 minutes under TCG (see CASES)."""

import os
import re
import shutil
import subprocess
import tempfile

import lib
from test_image_ssh import _receiver

TIMEOUT = 1500

ROUNDTRIP = os.path.join(lib.TOP, "tests", "db", "roundtrip")
# (disk, roundtrip kind, rows a table, image size). Measured 2026-12-06 (TCG, -j 1): the
# whole test in 221 s, of which the MariaDB carve (45 MiB of pages to ssh://) ~110 s and
# each PostgreSQL one ~30 s. MARIADB_ROWS / PG_ROWS / MARIADB_IMAGE / PG_IMAGE change them.
CASES = (
    ("vda", "mariadb", int(os.environ.get("MARIADB_ROWS", "150000")),
     os.environ.get("MARIADB_IMAGE", "256M")),
    ("vdb", "pg", int(os.environ.get("PG_ROWS", "100000")), os.environ.get("PG_IMAGE", "96M")),
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
    cfg, sshd, (out,) = _receiver(ctx, "out")
    url = "ssh://root@10.0.2.2:%d%s" % (sshd.port, out)
    args = ["--config", cfg, "--memory", "512", "--host-port", str(sshd.port)]
    for disk, kind, _, _ in CASES:
        args += ["--disk", os.path.join(works[disk], "disk.img")]
    guest = ctx.shell(*args)

    for disk, kind, _, _ in CASES:
        code, text = lib.console_run(guest, "rescue carve --db --free %s %s" % (disk, url),
                                     timeout=900)
        assert code == 0, text
        assert re.search(r"%s\.db/: \d+ tablespaces, \d+ relations, [1-9]\d* pages written, "
                         r"0 missing" % disk, text), text
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
        code, text = _roundtrip(ctx, "restore", kind, works[disk], prefix, rows=rows,
                                size=size)
        shares += re.findall(r"^\w+: rows back: .*$", text, re.M)
        assert code == 0, text
    with open(ctx.path("rows-back.txt"), "w") as f:
        f.write("\n".join(shares) + "\n")
    print("\n".join(shares))
