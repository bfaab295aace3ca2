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
   an e2image that e2fsck accepts. An xfs with the same tree (hard link, xattrs, sparse
   file, fifo, device) arrives whole. Bad input fails with exit 3.
3. Bad input through the whole command: a directory loop in a corrupt ext4 (mounted, and
   with --direct) is one manifest entry and the rest verifies; a disk whose superblocks are
   all wiped is refused by each mode with a clear error; a target that fills up mid-dump
   stops with exit 3 and "target full", and once there is room the same command finishes
   and the receiver's check passes; a tcp:// stream extracts to the source tree; a guest
   killed mid-volume boots again and the same command finishes, the whole volumes kept.
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
    xfs = fixture.xfs_with_tree(ctx.path("xfs.img"), tree)
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
    assert re.search(r"database: PostgreSQL 15 .*all copied whole", text), text
    extracted = ctx.path("xfs-extracted")
    fixture.extract(out, "vdb", extracted, compress="gzip")
    code, checked = fixture.sha256sum_check(out, "vdb", extracted)
    assert code == 0, checked
    differences = fixture.compare_trees(tree, extracted, ignore={"srv/fifo", "srv/null",
                                                                 fixture.HARD_LINK})
    assert not differences, "\n".join(differences)
    assert os.lstat(os.path.join(extracted, fixture.BIG)).st_ino == \
        os.lstat(os.path.join(extracted, fixture.HARD_LINK)).st_ino
    assert os.lstat(os.path.join(extracted, fixture.SPARSE)).st_blocks * 512 < 1 << 20
    assert subprocess.run(["test", "-p", os.path.join(extracted, "srv/fifo")]).returncode == 0

    for command, pattern in [
            ("rescue dump /dev/nosuch %s" % url, r"nosuch: no such device"),
            ("rescue dump vda nbd://10.0.2.2:1/x", r"nbd:// holds one disk image"),
            ("rescue dump vda %s/no/such/dir" % url, r"no such directory")]:
        code, text = lib.console_run(guest, command, timeout=120)
        assert code == 3 and re.search(pattern, text), "%s: exit %d:\n%s" % (command, code, text)
    guest.stop(command="poweroff")
    assert (lib.sha256(source), lib.sha256(xfs)) == before, "a source disk changed"


LOOP = "srv/data/back"


def _wiped_ext4(path):
    """An ext4 with its primary superblock and every backup zeroed."""
    lib.make_ext4(path, 24, files={"a.txt": "gone\n"})
    listing = subprocess.run(["dumpe2fs", path], capture_output=True, text=True).stdout
    block_size = lib._block_size(path)
    blocks = [int(b) for b in re.findall(r"superblock at (\d+)", listing, re.I)]
    assert len(blocks) >= 2, listing
    with open(path, "r+b") as f:
        for block in blocks:
            offset = 1024 if block == 0 else block * block_size
            f.seek(offset)
            f.write(bytes(1024))
    return path


def _entries(directory, name):
    return {e["path"]: e for e in fixture.manifest(directory, name)["entries"]}


def _verified(out, name, extracted, tree, compress="zstd"):
    """Extracts NAME's volumes from OUT, checks them with sha256sum -c and against TREE."""
    fixture.extract(out, name, extracted, compress=compress)
    code, checked = fixture.sha256sum_check(out, name, extracted)
    assert code == 0, checked
    differences = fixture.compare_trees(tree, extracted, ignore={
        fixture.HARD_LINK, "lost+found", "srv/fifo", "srv/null", LOOP})
    assert not differences, "\n".join(differences)


def test_dump_loop_wiped_superblocks_full_target_tcp(ctx):
    tree = fixture.make_tree(ctx.path("tree"), small_files=40)
    source = fixture.ext4_with_tree(ctx.path("src.img"), tree)
    lib.run(["debugfs", "-w", "-R", "ln /srv /" + LOOP, source])
    for directory in ("srv", "srv/data"):  # as they were before the link went in
        lib.run(["debugfs", "-w", "-R", "sif /%s mtime @%d" % (directory, os.stat(
            os.path.join(tree, directory)).st_mtime), source])
    wiped = _wiped_ext4(ctx.path("wiped.img"))
    before = lib.sha256(source), lib.sha256(wiped)
    cfg, client_line = _config_disk(ctx)
    sshd = _sshd(ctx, client_line)
    os.makedirs(ctx.path("tcp"))
    sink = lib.TcpSink(ctx.path("tcp"))
    ctx.on_cleanup(sink.stop)
    out = ctx.path("out")
    os.makedirs(out)
    url = "ssh://root@10.0.2.2:%d%s" % (sshd.port, out)
    guest = _guest(ctx, [source, wiped], cfg, [sshd.port, sink.port], "guest")

    # The loop, through the kernel's mount and through libext2fs: one entry, named.
    code, text = lib.console_run(guest, "rescue dump vda %s" % url, timeout=600)
    assert code == 1 and "directory loop" in text, "exit %d:\n%s" % (code, text)
    entries = _entries(out, "vda")
    assert entries[LOOP]["status"] == "failed", entries[LOOP]
    assert entries[LOOP]["reason"].startswith("directory loop"), entries[LOOP]
    assert not [e for p, e in entries.items() if e["status"] != "copied" and p != LOOP]
    _verified(out, "vda", ctx.path("mounted"), tree)
    code, text = lib.console_run(guest, "rescue dump --direct --name direct vda %s" % url,
                                 timeout=600)
    assert code == 1, "exit %d:\n%s" % (code, text)
    entry = _entries(out, "direct")[LOOP]
    assert entry["status"] == "partial" and \
        entry["reason"] == "directory loop: already reached as srv", entry
    _verified(out, "direct", ctx.path("direct"), tree)

    # No superblock anywhere: each mode says so, nothing is written.
    for command, pattern in [
            ("rescue dump vdb %s" % url, r"unable to dump vdb: it holds no file system we know"),
            ("rescue dump --direct vdb %s" % url, r"no backup superblock worked either"),
            ("rescue dump --metadata vdb %s" % url, r"no ext2/3/4 superblock found")]:
        code, text = lib.console_run(guest, command, timeout=120)
        assert code == 3 and re.search(pattern, text), "%s: exit %d:\n%s" % (command, code, text)
    assert not [f for f in os.listdir(out) if f.startswith("vdb")], os.listdir(out)

    # A target that fills up (at the 4 MiB file): exit 3, named; the databases, sent
    # first, are safe in the finished volumes; with room again the same command finishes.
    dump = "rescue dump --volume-size 16K --exclude %s vda file:///tmp/s" % LOOP
    code, text = lib.console_run(guest, "mkdir /tmp/s && mount -t tmpfs -o size=2m tmpfs /tmp/s"
                                 " && " + dump, timeout=600)
    assert code == 3 and "target full" in text, "exit %d:\n%s" % (code, text)
    assert re.search(r"vda\.\d{3}\.tar\.zst\.part: an interrupted volume", text), text
    assert re.search(r"PostgreSQL 15 at \S+: 4 files, all copied whole", text), text
    assert re.search(r"^volumes: vda\.001\.tar\.zst", text, re.M), text
    code, text = lib.console_run(guest, "mount -o remount,size=32m /tmp/s && " + dump,
                                 timeout=600)
    assert code == 0 and "resuming from its manifest" in text, "exit %d:\n%s" % (code, text)
    full = ctx.path("full")
    os.makedirs(full)
    code, text = lib.console_run(guest, "tar -cf - -C /tmp/s . | dbclient -y -i "
                                 "/run/rescue/client/id_config -p %d root@10.0.2.2 "
                                 "'tar -xf - -C %s'" % (sshd.port, full), timeout=300)
    assert code == 0, text
    assert [f for f in os.listdir(full) if f.endswith(".part")], os.listdir(full)
    _verified(full, "vda", ctx.path("full-extracted"), tree)

    # tcp://: one volume as a plain stream, the manifest kept in the guest.
    code, text = lib.console_run(guest, "rescue dump --exclude %s vda tcp://10.0.2.2:%d"
                                 % (LOOP, sink.port), timeout=600)
    assert code == 0 and "/run/rescue/tcp" in text, "exit %d:\n%s" % (code, text)
    assert len(sink.files) == 1, sink.files
    streamed = ctx.path("streamed")
    os.makedirs(streamed)
    subprocess.run(["tar", "--xattrs", "--xattrs-include=*", "-xpf", sink.files[0], "-C",
                    streamed], check=True, capture_output=True)
    differences = fixture.compare_trees(tree, streamed, ignore={
        fixture.HARD_LINK, "lost+found", "srv/fifo", "srv/null", LOOP})
    assert not differences, "\n".join(differences)

    # A power cut mid-volume (QEMU killed, over a slow link): a new boot resumes, the
    # volumes already whole stay as they were, the cut one is left as .part.
    slow = lib.CuttingProxy(sshd.port, cuts=0, rate=256 << 10)
    ctx.on_cleanup(slow.stop)
    killed = ctx.path("killed")
    os.makedirs(killed)
    guest.stop(command="poweroff")
    guest = _guest(ctx, [source, wiped], cfg, [sshd.port, slow.port], "guest2")
    lib.console_run(guest, "rescue dump --volume-size 16K --exclude %s vda "
                    "ssh://root@10.0.2.2:%d%s > /tmp/run.log 2>&1 &" % (LOOP, slow.port, killed))

    def whole_and_big_part():  # the 4 MiB file's volume, well under way
        names = os.listdir(killed)
        return "vda.001.tar.zst" in names and any(
            n.endswith(".part") and os.path.getsize(os.path.join(killed, n)) > 256 << 10
            for n in names)

    lib.wait_until(whole_and_big_part, 300, "a whole volume and a .part on the host")
    guest.stop()
    whole = {n: lib.sha256(os.path.join(killed, n)) for n in os.listdir(killed)
             if n.endswith(".tar.zst")}
    guest = _guest(ctx, [source, wiped], cfg, [sshd.port], "guest3")
    code, text = lib.console_run(guest, "rescue dump --volume-size 16K --exclude %s vda "
                                 "ssh://root@10.0.2.2:%d%s" % (LOOP, sshd.port, killed),
                                 timeout=600)
    assert code == 0 and "resuming from its manifest" in text, "exit %d:\n%s" % (code, text)
    assert re.search(r"\.tar\.zst\.part: an interrupted volume", text), text
    assert all(lib.sha256(os.path.join(killed, n)) == sha for n, sha in whole.items()), \
        "a whole volume was written again"
    _verified(killed, "vda", ctx.path("killed-extracted"), tree)
    guest.stop(command="poweroff")
    assert (lib.sha256(source), lib.sha256(wiped)) == before, "a source disk changed"
