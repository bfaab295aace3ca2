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
The source disks are unchanged."""

import json
import os
import re
import subprocess

import dump_fixture as fixture
import lib
from test_image_ssh import _config_disk

TIMEOUT = 900
SCRIPT = os.path.join(lib.TOP, "tests", "fixtures", "make-deleted-tree")


def _deleted_tree(ctx, name, *flags):
    image, expected = ctx.path(name + ".img"), ctx.path(name + "-expected")
    subprocess.run([SCRIPT] + list(flags) + [image, expected], check=True)
    with open(ctx.path("deleted.json")) as f:
        return image, expected, json.load(f)


def _same(expected, extracted, path):
    with open(os.path.join(expected, path), "rb") as a, \
            open(os.path.join(extracted, path), "rb") as b:
        return a.read() == b.read()


def _check_whole(ctx, out, expected, deleted):
    extracted = ctx.path("vda-tree")
    fixture.extract(out, "vda-undeleted", extracted)
    code, checked = fixture.sha256sum_check(out, "vda-undeleted", extracted)
    assert code == 0, checked
    for path in deleted["files"]:
        assert os.path.exists(os.path.join(extracted, path)), "%s not recovered" % path
        assert _same(expected, extracted, path), "%s differs from what was deleted" % path
    assert checked.count(": OK") == len(deleted["files"]), checked
    for path, target in deleted["links"].items():
        assert os.readlink(os.path.join(extracted, path)) == target, path
    with open(os.path.join(out, "vda-undeleted.undelete.json")) as f:
        origins = {e["path"]: e for e in json.load(f)["files"]}
    big = origins["srv/app/data/big.bin"]
    assert big["state"] == "whole" and big["inode_from"]["transaction"] > 0, big
    assert deleted["before"] - 600 <= big["inode_from"]["committed"] <= deleted["after"], big


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
    sums = {disk: lib.sha256(disk) for disk in (whole, filled, not_ext)}
    cfg, client_line = _config_disk(ctx)
    sshd = lib.SshServer(ctx.path(), authorized_keys=[client_line])
    ctx.on_cleanup(sshd.stop)
    out = ctx.path("out")
    os.makedirs(out)
    url = "ssh://root@10.0.2.2:%d%s" % (sshd.port, out)
    guest = ctx.shell("--disk", whole, "--disk", filled, "--disk", not_ext, "--config", cfg,
                      "--memory", "512", "--host-port", str(sshd.port))

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

    guest.stop(command="poweroff")
    for disk, before in sums.items():
        assert lib.sha256(disk) == before, "%s changed" % disk
