"""`rescue undelete` in the appliance, on ext4 file systems where the host's kernel wrote a
small application tree and deleted it (tests/fixtures/make-deleted-tree; needs root for
the loop mount), recovering to the host's OpenSSH sshd. One boot:

1. vda (ext4, mke2fs defaults: 64bit, metadata_csum, a CSUM_V3 journal): the list names
   every deleted file at its path, whole; recovered to ssh://, the archive extracts on the
   host, `sha256sum -c` passes, and every deleted file is byte-exact at its original path
   (the symbolic links with their targets);
   NAME.undelete.json names the journal transaction each inode came from.
2. vdb (the same, then the freed space filled by a new file): exit 1; the files whose
   blocks were taken again are partial or failed in the manifest, never copied; what is
   copied is byte-exact.
3. Bad input: a window that selects nothing (exit 2, the count named), a disk that is not
   ext (exit 2, named).
4. The other fixtures, each recovered to ssh:// and every deleted file byte-exact at its
   path with `sha256sum -c` passing: vdd ext4 without metadata_csum (4 KiB blocks, a
   journal without checksums), vde ext3 (indirect blocks, a v2 journal without
   checksums), vdf a 1 MiB journal that went round before the deletion, vdg ext4 with
   1 KiB blocks and inline_data (small files and directories inside their inodes) whose
   files had extended attributes (in the inode, in an attribute block, a POSIX ACL): the
   archive carries them; vdh's journal is on vdi, an external journal device (mke2fs -O
   journal_dev), found by its UUID without being named; naming another device as
   --journal is refused.
5. Corrupt journals, after e2fsprogs' j_corrupt_* cases: vdj's journal superblock has no
   magic (j_corrupt_sb_magic): exit 3 with the reason; vdk's log has a descriptor and a
   commit block whose checksums fail, revoke blocks whose r_count runs past the block and
   a journal copy whose bytes changed (j_corrupt_descr_csum, _commit_csum,
   _revoke_rcount, _journal_block): the run ends with exit 0 or 1, the damage counted in
   its description, and whatever it copied is byte-exact.
The source disks are unchanged."""

import base64
import glob
import json
import os
import re
import struct
import subprocess

import dump_fixture as fixture
import lib
from test_image_ssh import _config_disk

TIMEOUT = 900
SCRIPT = os.path.join(lib.TOP, "tests", "fixtures", "make-deleted-tree")


def _deleted_tree(ctx, name, *flags, mkfs=()):
    image, expected = ctx.path(name + ".img"), ctx.path(name + "-expected")
    subprocess.run([SCRIPT] + list(flags) + [image, expected] + list(mkfs), check=True)
    with open(ctx.path("deleted.json")) as f:
        return image, expected, json.load(f)


def _journal_blocks(image):
    """(file-system block size, the journal's first block, its length in blocks); the
    journal mke2fs makes at this size is one extent (checked)."""
    def debugfs(request):
        return subprocess.run(["debugfs", "-R", request, image], check=True,
                              capture_output=True, text=True).stdout
    size = int(re.search(r"Block size:\s+(\d+)", debugfs("stats")).group(1))
    first = int(debugfs("bmap <8> 0").split()[0])
    with open(image, "rb") as f:
        f.seek(first * size)
        superblock = f.read(1024)
    length = struct.unpack(">I", superblock[16:20])[0]
    assert int(debugfs("bmap <8> %d" % (length - 1)).split()[0]) == first + length - 1
    return size, first, length


def _wipe_journal_magic(image):
    size, first, _ = _journal_blocks(image)
    with open(image, "r+b") as f:
        f.seek(first * size)
        f.write(b"\0\0\0\0")


def _damage_journal(image):
    """e2fsprogs' j_corrupt_descr_csum, _commit_csum, _revoke_rcount and _journal_block on
    a kernel-written CSUM_V3 log: the last descriptor's checksum and the last commit's
    (the deletion's transaction), every revoke block's r_count, and the last copy the
    first descriptor names. Returns what was done, for the assertion messages."""
    size, first, length = _journal_blocks(image)
    blocks = {}     # kind -> [journal block numbers], in the log's order
    with open(image, "rb") as f:
        for number in range(1, length):
            f.seek((first + number) * size)
            magic, kind, _ = struct.unpack(">III", f.read(12))
            if magic == 0xc03b3998:
                blocks.setdefault(kind, []).append(number)
    assert len(blocks.get(1, [])) >= 2 and blocks.get(2), blocks

    def flip(number, offset, data=None):
        with open(image, "r+b") as f:
            f.seek((first + number) * size + offset)
            old = f.read(len(data) if data else 1)
            f.seek((first + number) * size + offset)
            f.write(data or bytes([old[0] ^ 0xff]))

    flip(blocks[1][-1], size - 1)           # the descriptor tail's checksum
    flip(blocks[2][-1], 16)                 # the commit header's h_chksum[0]
    for number in blocks.get(5, []):
        flip(number, 12, struct.pack(">I", 0xfffffff0))
    # The first transaction's copies lie between its descriptor and its commit.
    commit = min(n for n in blocks[2] if n > blocks[1][0])
    flip(commit - 1, 100, b"garbage in a journal copy")
    return {"descriptors": len(blocks[1]), "commits": len(blocks[2]),
            "revokes": len(blocks.get(5, [])), "copies in the first": commit - blocks[1][0] - 1}


def _same(expected, extracted, path):
    with open(os.path.join(expected, path), "rb") as a, \
            open(os.path.join(extracted, path), "rb") as b:
        return a.read() == b.read()


def _check_whole(ctx, out, expected, deleted, disk="vda", exact=True):
    extracted = ctx.path(disk + "-tree")
    fixture.extract(out, disk + "-undeleted", extracted)
    code, checked = fixture.sha256sum_check(out, disk + "-undeleted", extracted)
    assert code == 0, checked
    for path in deleted["files"]:
        assert os.path.exists(os.path.join(extracted, path)), "%s: %s not recovered" % (disk, path)
        assert _same(expected, extracted, path), "%s: %s differs" % (disk, path)
    if exact:       # the wrapped journal's churn files were deleted too, and come back
        assert checked.count(": OK") == len(deleted["files"]), checked
    for path, target in deleted["links"].items():
        assert os.readlink(os.path.join(extracted, path)) == target, (disk, path)
    with open(os.path.join(out, disk + "-undeleted.undelete.json")) as f:
        origins = {e["path"]: e for e in json.load(f)["files"]}
    big = origins["srv/app/data/big.bin"]
    assert big["state"] == "whole" and big["inode_from"]["transaction"] > 0, big
    assert deleted["before"] - 600 <= big["inode_from"]["committed"] <= deleted["after"], big


def _archived_xattrs(out, name):
    """path -> {attribute: value} from the pax headers of NAME's archives."""
    import io
    import tarfile
    found = {}
    for volume in sorted(glob.glob(os.path.join(out, name + ".[0-9]*.tar.zst"))):
        data = subprocess.run(["zstd", "-dc", volume], check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            for member in archive.getmembers():
                for key, value in member.pax_headers.items():
                    if key.startswith("LIBARCHIVE.xattr."):
                        value += "=" * (-len(value) % 4)
                        found.setdefault(member.name, {})[key[17:]] = base64.b64decode(value)
    return found


def _check_damaged(ctx, out, expected, code, text):
    assert code in (0, 1), (code, text)
    assert re.search(r"left out as damaged or stale: [1-9]\d* descriptor, [1-9]\d* commit, "
                     r"\d+ revoke blocks, [1-9]\d* copies", text), text
    extracted = ctx.path("vdk-tree")
    fixture.extract(out, "vdk-undeleted", extracted)
    code, checked = fixture.sha256sum_check(out, "vdk-undeleted", extracted)
    assert code == 0, checked
    for entry in fixture.manifest(out, "vdk-undeleted")["entries"]:
        if entry["type"] == "file" and entry["status"] == "copied" \
                and os.path.exists(os.path.join(expected, entry["path"])):
            assert _same(expected, extracted, entry["path"]), entry["path"]


def _check_overwritten(ctx, out, expected):
    extracted = ctx.path("vdb-tree")
    fixture.extract(out, "vdb-undeleted", extracted)
    entries = fixture.manifest(out, "vdb-undeleted")["entries"]
    statuses = {e["path"]: e["status"] for e in entries if e["type"] == "file"}
    assert statuses["srv/app/data/big.bin"] == "failed", statuses
    assert statuses["srv/app/logs/app.log"] != "copied", statuses
    for path, status in statuses.items():
        if status == "copied":
            assert _same(expected, extracted, path), "%s copied but not byte-exact" % path
    code, checked = fixture.sha256sum_check(out, "vdb-undeleted", extracted)
    assert code == 0, checked


def test_undelete_lists_and_recovers_at_paths(ctx):
    whole, whole_expected, deleted = _deleted_tree(ctx, "whole")
    filled, filled_expected, _ = _deleted_tree(ctx, "filled", "--fill")
    not_ext = lib.make_disk_image(ctx.path("zeros.img"), 8)
    others = {      # disk -> (image, expected, deleted.json)
        "vdd": _deleted_tree(ctx, "nocsum", mkfs=("-O", "^metadata_csum", "-b", "4096")),
        "vde": _deleted_tree(ctx, "ext3", mkfs=("-t", "ext3")),
        "vdf": _deleted_tree(ctx, "wrapped", "--wrap", mkfs=("-J", "size=1")),
        "vdg": _deleted_tree(ctx, "inline", "--xattrs", mkfs=("-b", "1024", "-O", "inline_data")),
        "vdh": _deleted_tree(ctx, "external", "--external-journal", ctx.path("journal.img")),
    }
    sb_magic, _, _ = _deleted_tree(ctx, "sb-magic")
    _wipe_journal_magic(sb_magic)
    damaged, damaged_expected, _ = _deleted_tree(ctx, "damaged")
    damage = _damage_journal(damaged)
    disks = [whole, filled, not_ext] + [others[d][0] for d in sorted(others)] \
        + [ctx.path("journal.img"), sb_magic, damaged]
    sums = {disk: lib.sha256(disk) for disk in disks}
    cfg, client_line = _config_disk(ctx)
    sshd = lib.SshServer(ctx.path(), authorized_keys=[client_line])
    ctx.on_cleanup(sshd.stop)
    out = ctx.path("out")
    os.makedirs(out)
    url = "ssh://root@10.0.2.2:%d%s" % (sshd.port, out)
    disk_args = [a for disk in disks for a in ("--disk", disk)]
    guest = ctx.shell(*disk_args, "--config", cfg, "--memory", "512",
                      "--host-port", str(sshd.port))

    code, text = lib.console_run(guest, "rescue undelete vda", timeout=300)
    assert code == 0, text
    for path in deleted["files"]:
        assert re.search(r"^whole .*  %s$" % re.escape(path), text, re.M), (path, text)
    assert "srv/kept.txt" not in text, text

    code, text = lib.console_run(guest, "rescue undelete vda %s" % url, timeout=600)
    assert code == 0, text
    assert re.search(r"vda-undeleted: 20 recovered whole, 0 partial", text), text
    _check_whole(ctx, out, whole_expected, deleted)

    code, text = lib.console_run(guest, "rescue undelete vdb %s" % url, timeout=600)
    assert code == 1, text
    _check_overwritten(ctx, out, filled_expected)

    code, text = lib.console_run(guest, "rescue undelete --after 2099-01-01 vda", timeout=300)
    assert code == 2 and re.search(r"selects none of the 20 deleted files", text), text
    code, text = lib.console_run(guest, "rescue undelete vdc", timeout=120)
    assert code == 2 and re.search(r"/dev/vdc is not an ext2/3/4 file system", text), text

    for disk in sorted(others):
        code, text = lib.console_run(guest, "rescue undelete %s %s" % (disk, url), timeout=600)
        # The churn before vdf's deletion reused its own files' blocks: their older versions
        # are not recoverable (exit 1); the tree's files all are.
        assert code == 0 or (disk == "vdf" and code == 1), (disk, text)
        if disk == "vdh":
            assert "on the external device /dev/vdi" in text, text
        _, expected, deleted = others[disk]
        _check_whole(ctx, out, expected, deleted, disk=disk, exact=disk != "vdf")
    archived = _archived_xattrs(out, "vdg-undeleted")
    for path, attributes in others["vdg"][2]["xattrs"].items():
        for name, value in attributes.items():
            assert archived.get(path, {}).get(name) == bytes.fromhex(value), (path, name, archived)
    code, text = lib.console_run(guest, "rescue undelete --journal vda vdh", timeout=120)
    assert code == 3 and "/dev/vda is not an external journal device" in text, text

    code, text = lib.console_run(guest, "rescue undelete vdj", timeout=120)
    assert code == 3 and re.search(r"journal of /dev/vdj: .*bad magic number", text), text
    code, text = lib.console_run(guest, "rescue undelete vdk %s" % url, timeout=600)
    _check_damaged(ctx, out, damaged_expected, code, text + str(damage))

    guest.stop(command="poweroff")
    for disk, before in sums.items():
        assert lib.sha256(disk) == before, "%s changed" % disk
