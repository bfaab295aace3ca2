"""Authenticated fetches in the appliance (src/base/fetch.h), one boot: https servers on
the host's loopback with certificates from a test CA made for the run
(tests/lib/tls_server.py), the CA given to the guest as ca.pem on RESCUECFG.
rescue.run=https://... runs a runbook from the good server; the expired, wrong-name and
self-signed servers and a wrong pin are refused with their reason and run nothing;
`rescue ssh add-key --url` takes a key from the good server and refuses the self-signed
one; rescue.insecure_http=1 warns at boot and on each unpinned http fetch (console and
journal), and without it unpinned http is refused. The source disk never changes."""

import hashlib
import os
import shutil
import subprocess
import sys

import lib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import tls_server  # noqa: E402

TIMEOUT = 420
FINAL = r"^rescue: runbook %s exit (?P<code>\d+)\n"


def _key(ctx):
    key = ctx.path("id_ed25519")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tls-added",
                    "-f", key], check=True)
    with open(key + ".pub") as f:
        return f.read()


def test_fetches_are_verified(ctx):
    disk = lib.make_ext4(ctx.path("src.img"), 16, files={"a.txt": "hello\n"})
    before = lib.sha256(disk)
    tls = ctx.path("tls")
    os.makedirs(tls)
    ports, stop = tls_server.start(tls, ["10.0.2.2"])
    www = os.path.join(tls, "www")
    runbook = b"version\n"
    with open(os.path.join(www, "good.run"), "wb") as f:
        f.write(runbook)
    good_sha = hashlib.sha256(runbook).hexdigest()
    public = _key(ctx)
    with open(os.path.join(www, "keys.pub"), "w") as f:
        f.write(public)
    cfg = ctx.path("cfg")
    os.makedirs(cfg)
    shutil.copy(os.path.join(tls, "ca.pem"), os.path.join(cfg, "ca.pem"))
    forwards = []
    for port in ports.values():
        forwards += ["--host-port", str(port)]
    url = {kind: "https://10.0.2.2:%d/good.run" % port for kind, port in ports.items()}
    url["http"] = "http://10.0.2.2:%d/good.run" % ports["http"]
    try:
        with ctx.guest("--disk", disk, "--config", cfg, *forwards, "--append",
                       "rescue.insecure_http=1 rescue.run=%s" % url["good"]) as guest:
            guest.wait_for(r"rescue: warning: rescue\.insecure_http=1: http:// runbooks",
                           timeout=180)
            guest.wait_for(r"^rescue: ready .*\n", timeout=180)
            guest.wait_for(r"^rescue: runbook good\.run line 1: rescue version\n", timeout=60)
            final = guest.wait_for(FINAL % r"good\.run", timeout=60)
            assert final.group("code") == "0", final.group(0)
            lib.menu_shell(guest)
            for kind, reason in (("expired", "the server's certificate has expired"),
                                 ("wrongname", "the server's certificate is for another "
                                  "name, not 10.0.2.2"),
                                 ("selfsigned", "the server's certificate is not signed by "
                                  "a trusted authority")):
                code, text = lib.console_run(guest, "rescue runbook %s" % url[kind])
                assert code == 3, (kind, code, text)
                assert "refused 10.0.2.2: " + reason in text, (kind, text)
                assert "line 1" not in text, (kind, text)
            # A pin that does not match: nothing of it is used, even from a good server.
            code, text = lib.console_run(guest, "rescue runbook %s#sha256=%s"
                                         % (url["good"], "0" * 64))
            assert code == 3 and "line 1" not in text, text
            assert "its SHA-256 is %s, not the pinned %s" % (good_sha, "0" * 64) in text, text
            # Keys: from the good server added, from the self-signed one refused.
            keys = url["good"].replace("good.run", "keys.pub")
            code, text = lib.console_run(guest, "rescue ssh add-key --url %s" % keys)
            assert code == 0, text
            code, text = lib.console_run(guest, "grep -c tls-added /root/.ssh/authorized_keys")
            assert code == 0 and text.strip().endswith("1"), text
            code, text = lib.console_run(guest, "rescue ssh add-key --url %s"
                                         % url["selfsigned"].replace("good.run", "keys.pub"))
            assert code == 3 and "not signed by a trusted authority" in text, text
            # Opted in: unpinned http runs, warned on the consoles and in the journal.
            code, text = lib.console_run(guest, "rescue runbook %s" % url["http"])
            assert code == 0, text
            assert "WARNING: fetching %s over plain http without a pin" % url["http"] in text, text
            code, text = lib.console_run(guest, "grep -c 'fetch (insecure http)' "
                                         "/run/rescue/journal.tsv")
            assert code == 0 and text.strip().endswith("1"), text
            # Without the opt-in the same URL is refused; pinned it runs.
            lib.console_run(guest, "rm /run/rescue/param/insecure_http")
            code, text = lib.console_run(guest, "rescue runbook %s" % url["http"])
            assert code == 2 and "plain http can be changed by anyone on the path" in text, text
            code, text = lib.console_run(guest, "rescue runbook %s#sha256=%s"
                                         % (url["http"], good_sha))
            assert code == 0 and "WARNING" not in text, text
            guest.stop(command="poweroff")
    finally:
        stop()
    assert lib.sha256(disk) == before, "the source disk changed"
