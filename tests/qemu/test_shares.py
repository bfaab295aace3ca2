"""nfs:// and smb:// targets against real servers on the host's loopback:
Samba's smbd (SMB 3, a user and password) and NFS-Ganesha (NFS 4.0). The
guest's kernel mounts them; `rescue target test` walks every step, `rescue
report` lands there, and the failures a user meets are named: a wrong
password, a missing directory, a port where nothing listens. Passwords never
show, not in the output and not in /proc/mounts. The source disk is unchanged."""

import os
import re
import shutil

import lib

TIMEOUT = 480


def _run(guest, command, code):
    got, text = lib.console_run(guest, command)
    assert got == code, "%s: exit %d, want %d:\n%s" % (command, got, code, text)
    return text


def test_nfs_and_smb_targets(ctx):
    disk = lib.make_ext4(ctx.path("src.img"), 16, files={"a.txt": "hello\n"})
    before = lib.sha256(disk)
    with lib.SmbServer(ctx.path(), password="s3cret,x") as smb, \
            lib.NfsServer(ctx.path()) as nfs:
        os.makedirs(os.path.join(smb.share, "reports"))
        shutil.chown(os.path.join(smb.share, "reports"), user="backup")
        smb_url = "smb://backup:s3cret%%2Cx@10.0.2.2:%d/rescue/reports" % smb.port
        nfs_url = "nfs://10.0.2.2:%d/rescue" % nfs.port
        with ctx.guest("--disk", disk, "--host-port", str(smb.port),
                       "--host-port", str(nfs.port)) as guest:
            guest.wait_for(r"^rescue: ready .*\n", timeout=180)
            lib.menu_shell(guest)
            # A wrong password first: once mounted, the share is reused.
            text = _run(guest, "rescue target test 'smb://backup:Wr0ngPw@10.0.2.2:%d/rescue'"
                        % smb.port, 3)
            assert re.search(r"^mount +FAILED .*login refused", text, re.M), text
            assert "Wr0ngPw" not in text, "the password is on the screen:\n" + text
            text = _run(guest, "rescue target test 'smb://backup:s3cret%2Cx@10.0.2.2:1/rescue'",
                        3)
            assert re.search(r"^reachable +FAILED .*port 1: Connection refused", text, re.M), text
            text = _run(guest, "rescue target test '%s/missing'" % nfs_url, 3)
            assert re.search(r"^mount +FAILED .*no such export or directory", text, re.M), text

            for url in (smb_url, nfs_url):
                text = _run(guest, "rescue target test '%s'" % url, 0)
                for step in ("reachable", "mount", "directory", "guard", "free space", "write"):
                    assert re.search(r"^%s +ok " % step, text, re.M), "%s: %s\n%s" % (
                        url, step, text)
                assert "s3cret" not in text, text
                text = _run(guest, "rescue report '%s'" % url, 0)
                assert "s3cret" not in text, text
            mounts = _run(guest, "cat /proc/mounts", 0)
            assert "s3cret" not in mounts, mounts
            assert re.search(r" /run/rescue/targets/smb-10\.0\.2\.2-%d-\w+ cifs " % smb.port,
                             mounts), mounts
            assert re.search(r" /run/rescue/targets/nfs-10\.0\.2\.2-%d-\w+ nfs4 " % nfs.port,
                             mounts), mounts
        for where in (os.path.join(smb.share, "reports"), nfs.export):
            names = sorted(n for n in os.listdir(where) if n.startswith("rescue-report-"))
            assert len(names) == 2 and names[0].endswith(".json"), (where, names)
            with open(os.path.join(where, names[1])) as f:
                assert "Write guard attestation" in f.read()
            assert not [n for n in os.listdir(where) if n.startswith(".")], os.listdir(where)
    assert lib.sha256(disk) == before, "the source disk changed"
