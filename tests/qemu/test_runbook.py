"""Runbooks: rescue.run= names a file on the RESCUECFG disk or a URL; its
lines run unattended and are journaled, the run stops at the first exit
worse than 1, the last line is `rescue: runbook NAME exit N`, and
rescue.poweroff=1 then powers the machine off. A runbook with unknown
commands runs nothing and the menu still comes up. Disks never change."""

import functools
import hashlib
import http.server
import os
import threading

import lib

TIMEOUT = 420
FINAL = r"^rescue: runbook %s exit (?P<code>\d+)\n"


def _source(ctx):
    disk = lib.make_ext4(ctx.path("src.img"), 16, files={"a.txt": "hello\n"})
    return disk, lib.sha256(disk)


def test_runbook_from_config_disk_powers_off(ctx):
    disk, before = _source(ctx)
    cfg = ctx.path("cfg")
    os.makedirs(cfg)
    with open(os.path.join(cfg, "nightly.run"), "w") as f:
        f.write("# what the night shift runs\n"
                "rescue version\n"
                "- log --bogus        # exit 2, but the line says go on\n"
                "log --tail 2\n"
                "log --tail nope      # exit 2: the runbook stops here\n"
                "version\n")
    with ctx.guest("--disk", disk, "--config", cfg,
                   "--append", "rescue.run=nightly.run rescue.poweroff=1") as guest:
        guest.wait_for(r"^rescue: ready .*\n", timeout=180)
        guest.wait_for(r"^rescue: runbook nightly\.run line 2: rescue version\n", timeout=60)
        guest.wait_for(r"^rescue: runbook nightly\.run line 3: rescue log --bogus\n", timeout=60)
        # The journal, read by the runbook itself, holds the lines before it.
        guest.wait_for(r"^rescue: runbook nightly\.run line 4: rescue log --tail 2\n", timeout=60)
        guest.wait_for(r" runbook +[\d.]+s +exit 2 +rescue log --bogus\n", timeout=60)
        guest.wait_for(r"^rescue: runbook nightly\.run line 5: rescue log --tail nope\n",
                       timeout=60)
        final = guest.wait_for(FINAL % r"nightly\.run", timeout=60)
        assert final.group("code") == "2", final.group(0)
        guest.wait_for(r"^rescue: powering off \(rescue\.poweroff=1\)\n", timeout=30)
        code = guest.wait_exit(timeout=120)
        log = guest.output()
    assert "line 6" not in log, "the runbook went on after an exit 2"
    assert code == 0, "qemu-run exit %s: the guest did not power off cleanly" % code
    assert lib.sha256(disk) == before, "the source disk changed"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_runbook_from_url_with_unknown_command_runs_nothing(ctx):
    disk, before = _source(ctx)
    served = ctx.path("www")
    os.makedirs(served)
    broken = b"version\nfrobnicate /dev/vda\nlog \"unclosed\n"
    with open(os.path.join(served, "broken.run"), "wb") as f:
        f.write(broken)
    broken_sha = hashlib.sha256(broken).hexdigest()
    with open(os.path.join(served, "good.run"), "w") as f:
        f.write("version\n")
    good_sha = hashlib.sha256(b"version\n").hexdigest()
    handler = functools.partial(_Quiet, directory=served)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with ctx.guest("--disk", disk, "--host-port", str(port), "--append",
                       "rescue.run=http://10.0.2.2:%d/broken.run#sha256=%s"
                       % (port, broken_sha)) as guest:
            guest.wait_for(r"^rescue: ready .*\n", timeout=180)
            guest.wait_for(r"runbook broken\.run line 2: unknown command: frobnicate\n",
                           timeout=60)
            guest.wait_for(r"runbook broken\.run line 3: a quote is not closed: log\n",
                           timeout=30)
            final = guest.wait_for(FINAL % r"broken\.run", timeout=30)
            assert final.group("code") == "2", final.group(0)
            # No power-off was asked for: the menu comes up and still works.
            entry = guest.wait_for(lib.menu_entry(r"log: "),
                                   timeout=60)
            guest.wait_for(r"^Choose ", timeout=30)
            log = guest.output()
            assert "rescue: runbook broken.run line 1:" not in log, "a line ran"
            # The journal has the failed runbook, with the reason as its summary.
            guest.sendline(entry.group("n"))
            # (Quoted: '#' would start a comment in a shell.)
            guest.wait_for(r"exit 2 +rescue runbook 'http://10\.0\.2\.2:%d/broken\.run#sha256=%s'\n"
                           % (port, broken_sha), timeout=30)
            guest.wait_for(r"^ +rescue runbook: fatal: runbook broken\.run: 2 lines to fix, "
                           r"nothing was run\n", timeout=30)
            # Plain http needs a pin (https is tested in test_fetch_tls.py): the right pin
            # runs the runbook, a wrong one refuses it before a line is read, none is refused.
            guest.wait_for(r"^Choose ", timeout=30)
            guest.sendline("")
            lib.menu_shell(guest)
            url = "http://10.0.2.2:%d/good.run" % port
            code, text = lib.console_run(guest, "rescue runbook %s#sha256=%s" % (url, good_sha))
            assert code == 0 and "rescue: runbook good.run line 1: rescue version" in text, text
            assert "not pinned" not in text, text
            code, text = lib.console_run(guest, "rescue runbook %s#sha256=%s" % (url, "0" * 64))
            assert code == 3 and "line 1" not in text, text
            assert "its SHA-256 is %s, not the pinned %s" % (good_sha, "0" * 64) in text, text
            code, text = lib.console_run(guest, "rescue runbook %s" % url)
            assert code == 2 and "refused %s: plain http can be changed" % url in text, text
            assert "line 1" not in text, text
    finally:
        server.shutdown()
    assert lib.sha256(disk) == before, "the source disk changed"
