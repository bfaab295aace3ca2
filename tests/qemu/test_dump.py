"""`rescue dump` of real file systems to the host's OpenSSH sshd, checked on the host with
GNU tar and sha256sum as the README tells a user to.

1. An ext4 with failing sectors inside one file (QEMU blkdebug), sent through a proxy that
   cuts the connection twice: exit 1; that file is partial with exactly the bad blocks
   missing (zeros in the archive), every other file passes `sha256sum -c`, the extracted
   tree equals the source's (content, modes, owners, times, links, xattrs, fifo, device),
   the databases are found and named first in the archive. The same command again sends
   only the partial file, in a new volume.
2. The same ext4 with its primary superblock destroyed and a journal that needs recovery,
   read with --direct through a backup superblock: the same tree arrives. --metadata sends
   an e2image that e2fsck accepts. An xfs arrives whole. Bad input fails with exit 3.
The source disks are unchanged."""

import os
import re
import subprocess

import dump_fixture as fixture
import lib
from test_image_ssh import _config_disk

TIMEOUT = 1500


def _guest(ctx, disks, cfg, ports, name):
    args = ["--config", cfg, "--memory", "512"]
    for disk in disks:
        args += ["--disk", disk]
    for port in ports:
        args += ["--host-port", str(port)]
    return ctx.shell(*args, name=name)


def _bad_blocks(image):
    """Two failing sectors inside the big file (its 100th block and a later one): the
    blocks holding them are what the dump must report missing."""
    blocks = fixture.file_blocks(image, fixture.BIG)
    block_size = lib._block_size(image)
    chosen = [100, 2500]
    sectors = [blocks[i] * (block_size // 512) + 1 for i in chosen]
    # The mounted read fails a whole page (4 KiB) at a time: the missing range is the
    # page around each bad block, in file offsets.
    missing = []
    for i in chosen:
        start = i * block_size // 4096 * 4096
        missing.append([start, start + 4096])
    return sectors, missing


def _sshd(ctx, client_line):
    sshd = lib.SshServer(ctx.path(), authorized_keys=[client_line])
    ctx.on_cleanup(sshd.stop)
    return sshd


def test_dump_ext4_bad_sectors_cuts_and_resume(ctx):
    tree = fixture.make_tree(ctx.path("tree"))
    source = fixture.ext4_with_tree(ctx.path("src.img"), tree)
    before = lib.sha256(source)
    sectors, missing = _bad_blocks(source)
    faults = lib.blkdebug_config(ctx.path("faults.conf"), sectors)
    cfg, client_line = _config_disk(ctx)
    sshd = _sshd(ctx, client_line)
    proxy = lib.CuttingProxy(sshd.port, cuts=2, low=512 << 10, high=1536 << 10, seed=3)
    ctx.on_cleanup(proxy.stop)
    out = ctx.path("out")
    os.makedirs(out)
    url = "ssh://root@10.0.2.2:%d%s" % (proxy.port, out)

    guest = _guest(ctx, [source + ",faults=" + faults], cfg, [proxy.port], "guest")
    code, text = lib.console_run(guest, "rescue dump --compress zstd vda %s" % url, timeout=900)
    with open(ctx.path("run1.txt"), "w") as f:
        f.write(text)
    assert code == 1, "exit %d, want 1 (a partial file):\n%s" % (code, text)
    assert proxy.cut_count == 2 and len(re.findall("reconnected", text)) >= 2, text
    assert re.search(r"database: PostgreSQL 15 at var/lib/postgresql/15/main: 4 files, all "
                     r"copied whole", text), text
    assert re.search(r"database: SQLite 3\.\d+\.\d+ at srv/app/app\.sqlite3", text), text

    detail = fixture.manifest(out, "vda")
    entries = {e["path"]: e for e in detail["entries"]}
    big = entries[fixture.BIG]
    assert big["status"] == "partial" and big["missing"] == missing, big
    assert entries[fixture.HARD_LINK]["link_to"] == fixture.BIG, entries[fixture.HARD_LINK]
    others = [e for e in detail["entries"] if e["status"] != "copied"
              and e["path"] not in (fixture.BIG, fixture.HARD_LINK)]
    assert not others, others
    order = [e["path"] for e in detail["entries"]]
    assert order.index("var/lib/postgresql/15/main/PG_VERSION") < order.index("home"), order[:12]

    extracted = ctx.path("extracted")
    volumes = fixture.extract(out, "vda", extracted)
    assert len(volumes) == 1, volumes
    code, checked = fixture.sha256sum_check(out, "vda", extracted)
    assert code == 0, checked
    assert checked.count(": OK") == sum(1 for e in detail["entries"] if e["type"] == "file"
                                        and e["status"] == "copied"), checked
    with open(os.path.join(tree, fixture.BIG), "rb") as f:
        data = bytearray(f.read())
    for start, end in missing:
        data[start:end] = bytes(end - start)
    with open(os.path.join(extracted, fixture.BIG), "rb") as f:
        assert f.read() == bytes(data), "the partial file is not the source with zeros"
    differences = fixture.compare_trees(tree, extracted, ignore={
        fixture.BIG, fixture.HARD_LINK, "lost+found", "srv/fifo", "srv/null"})
    assert not differences, "\n".join(differences)
    st_big = os.lstat(os.path.join(extracted, fixture.BIG))
    assert st_big.st_ino == os.lstat(os.path.join(extracted, fixture.HARD_LINK)).st_ino
    assert os.path.getsize(os.path.join(extracted, fixture.SPARSE)) == 8 << 20
    assert os.lstat(os.path.join(extracted, fixture.SPARSE)).st_blocks * 512 < 1 << 20, \
        "the sparse file arrived without its holes"
    assert subprocess.run(["test", "-p", os.path.join(extracted, "srv/fifo")]).returncode == 0
    assert os.lstat(os.path.join(extracted, "srv/null")).st_rdev == os.makedev(1, 3)

    # Again: only the partial file (and its link) are sent, in volume 2.
    code, text = lib.console_run(guest, "rescue dump vda %s" % url, timeout=600)
    assert code == 1 and "resuming from its manifest" in text, text
    detail = fixture.manifest(out, "vda")
    second = [e["path"] for e in detail["entries"] if e["volume"] == 2]
    assert sorted(second) == sorted([fixture.BIG, fixture.HARD_LINK]), second
    guest.stop(command="poweroff")
    assert lib.sha256(source) == before, "the source disk changed"


def test_dump_direct_backup_superblock_metadata_xfs(ctx):
    tree = fixture.make_tree(ctx.path("tree"), small_files=40)
    source = fixture.ext4_with_tree(ctx.path("src.img"), tree, dirty_journal=True)
    with open(source, "r+b") as f:
        f.seek(1024)
        f.write(bytes(1024))
    xfs = lib.make_xfs(ctx.path("xfs.img"), files={"a.txt": "xfs file\n", "b.bin": os.urandom(70000)})
    before = lib.sha256(source), lib.sha256(xfs)
    cfg, client_line = _config_disk(ctx)
    sshd = _sshd(ctx, client_line)
    out = ctx.path("out")
    os.makedirs(out)
    url = "ssh://root@10.0.2.2:%d%s" % (sshd.port, out)

    guest = _guest(ctx, [source, xfs], cfg, [sshd.port], "guest")
    code, text = lib.console_run(guest, "rescue dump --direct vda %s" % url, timeout=900)
    assert code == 0, "exit %d:\n%s" % (code, text)
    assert "backup superblock" in text, text
    extracted = ctx.path("extracted")
    fixture.extract(out, "vda", extracted)
    code, checked = fixture.sha256sum_check(out, "vda", extracted)
    assert code == 0, checked
    differences = fixture.compare_trees(tree, extracted, ignore={
        fixture.HARD_LINK, "lost+found", "srv/fifo", "srv/null", lib.JOURNAL_FILE})
    assert not differences, "\n".join(differences)
    with open(os.path.join(extracted, lib.JOURNAL_FILE), "rb") as f:
        assert f.read() == lib.JOURNAL_BEFORE, "the journal was replayed"

    code, text = lib.console_run(guest, "rescue dump --metadata vda %s" % url, timeout=600)
    assert code == 0, text
    raw = ctx.path("meta.raw")
    subprocess.run(["zstd", "-q", "-d", os.path.join(out, "vda.e2image.zst"), "-o", raw],
                   check=True)
    listing = subprocess.run(["debugfs", "-c", "-s", "8193", "-b", "1024", "-R", "ls -l /srv/data",
                              raw], capture_output=True, text=True).stdout
    assert "big.bin" in listing, listing

    code, text = lib.console_run(guest, "rescue dump --compress gzip vdb %s" % url, timeout=600)
    assert code == 0, text
    extracted = ctx.path("xfs-extracted")
    fixture.extract(out, "vdb", extracted, compress="gzip")
    with open(os.path.join(extracted, "a.txt")) as f:
        assert f.read() == "xfs file\n"
    code, checked = fixture.sha256sum_check(out, "vdb", extracted)
    assert code == 0 and checked.count(": OK") == 2, checked

    for command, pattern in [
            ("rescue dump /dev/nosuch %s" % url, r"nosuch: no such device"),
            ("rescue dump vda nbd://10.0.2.2:1/x", r"nbd:// holds one disk image"),
            ("rescue dump vda %s/no/such/dir" % url, r"no such directory")]:
        code, text = lib.console_run(guest, command, timeout=120)
        assert code == 3 and re.search(pattern, text), "%s: exit %d:\n%s" % (command, code, text)
    guest.stop(command="poweroff")
    assert (lib.sha256(source), lib.sha256(xfs)) == before, "a source disk changed"
