"""`make run` (tools/run-demo), driven through its serial console as a user would type:
`rescue image vda` and `rescue dump vda1` need no target on the command line (the demo
sets rescue.target= to a private sshd on the host's loopback) and what they send arrives
whole; the demo disk holds a deleted file whose bytes are still in the free space; the
demo disk is unchanged afterwards."""

import os
import subprocess

import dump_fixture as fixture
import lib

TIMEOUT = 420
RUN_DEMO = os.path.join(lib.TOP, "tools", "run-demo")


def test_demo_image_and_dump_as_typed(ctx):
    demo = ctx.path("demo")
    os.environ["RESCUE_DEMO_DIR"] = demo
    os.environ["RESCUE_DEMO_SSH_PORT"] = str(lib.free_port())
    guest = lib.Guest([], ctx.work, name="demo", program=RUN_DEMO)
    ctx.on_cleanup(guest.stop)
    guest.wait_for(r"^rescue: ready .*\n", timeout=180)
    disk = os.path.join(demo, "demo-disk.img")
    before = lib.sha256(disk)
    lib.menu_shell(guest)
    received = os.path.join(demo, "received")

    code, text = lib.console_run(guest, "rescue image vda", timeout=300)
    assert code == 0, "exit %d:\n%s" % (code, text)
    assert lib.sha256(os.path.join(received, "vda.img")) == before, "vda.img differs"

    code, text = lib.console_run(guest, "rescue dump vda1", timeout=300)
    assert code == 0, "exit %d:\n%s" % (code, text)
    extracted = ctx.path("extracted")
    fixture.extract(received, "vda1", extracted)
    code, checked = fixture.sha256sum_check(received, "vda1", extracted)
    assert code == 0 and "var/www/html/index.html: OK" in checked, checked
    guest.stop(command="poweroff")

    # The deleted file: gone from its directory, its inode listed as deleted, its bytes
    # still on the disk.
    assert not os.path.exists(os.path.join(extracted, "home/alice/thesis-final.txt"))
    assert os.path.exists(os.path.join(extracted, "home/alice/notes.txt"))
    partition = ctx.path("server.ext4")
    subprocess.run(["dd", "if=" + disk, "of=" + partition, "bs=512", "skip=2048",
                    "count=100352", "status=none"], check=True)
    lsdel = lib.run(["debugfs", "-R", "lsdel", partition]).stdout
    assert "1 deleted inodes found" in lsdel, lsdel
    with open(disk, "rb") as f:
        assert b"Chapter 7: what the backups did not hold" in f.read(), \
            "the deleted file's bytes are not on the demo disk"
    assert lib.sha256(disk) == before, "the demo disk changed"
