"""`rescue target test` against real receivers: OpenSSH's sshd on the host's
loopback (reached as 10.0.2.2) with the appliance's client key authorised
from `rescue target key`; then the failures a user meets: a wrong user, a key
the server does not know, a closed port, a missing directory, malformed URLs,
and a file:// target on a guarded disk. The host key fingerprint shown (and
journaled) is the server's own. Every disk's sha256 is unchanged."""

import os
import re

import lib

TIMEOUT = 600


def _steps(text):
    """{step: (status, detail)} from `rescue target test` output."""
    steps = {}
    for line in text.splitlines():
        m = re.match(r"^(parse|reachable|host key|authentication|directory|guard|free space|"
                     r"write|verdict) +(ok|FAILED|skipped)\b *(.*)$", line)
        if m:
            steps[m.group(1)] = (m.group(2), m.group(3))
    return steps


def _expect(guest, url, code, step, status, detail=None):
    """Run `rescue target test URL`; the exit code and STEP's status must be as given."""
    got, text = lib.console_run(guest, "rescue target test '%s'" % url)
    steps = _steps(text)
    assert got == code, "%s: exit %d, want %d:\n%s" % (url, got, code, text)
    assert step in steps, "%s: no '%s' step in:\n%s" % (url, step, text)
    assert steps[step][0] == status, "%s: %s is %s, want %s:\n%s" % (
        url, step, steps[step][0], status, text)
    if detail:
        assert re.search(detail, steps[step][1]), "%s: %s detail %r lacks %r" % (
            url, step, steps[step][1], detail)
    return steps, text


def _expect_asked(guest, url, user, answer, code, step, status, detail=None):
    """Like _expect, for a login the server refuses: the command asks for USER's
    password on the console, and ANSWER is typed (without echo)."""
    guest.sendline("echo ASK-BEGIN; rescue target test '%s'; echo ASK-END EXIT=$?" % url)
    begin = guest.wait_for(r"^ASK-BEGIN\n", timeout=60)
    guest.wait_for(r"password for %s@10\.0\.2\.2 \(Enter alone: none\): $" % user, timeout=60)
    guest.sendline(answer)
    end = guest.wait_for(r"^ASK-END EXIT=(\d+)\n", timeout=120)
    text = guest.output()[begin.end():end.start()]
    steps = _steps(text)
    assert int(end.group(1)) == code, "%s: exit %s, want %d:\n%s" % (url, end.group(1), code, text)
    assert steps.get(step, ("missing",))[0] == status, "%s: %s not %s:\n%s" % (url, step, status, text)
    if detail:
        assert re.search(detail, steps[step][1]), "%s: %r lacks %r" % (url, steps[step][1], detail)
    return steps, text


def test_target_ssh_and_file(ctx):
    source = lib.make_ext4(ctx.path("src.img"), 16, files={"a.txt": "hello\n"})
    before = lib.sha256(source)
    receive = ctx.path("receive")
    os.makedirs(receive)
    server = lib.SshServer(ctx.path())
    ctx.on_cleanup(server.stop)
    port = server.port
    url = "ssh://root@10.0.2.2:%d%s" % (port, receive)

    guest = ctx.guest("--disk", source, "--host-port", str(port))
    guest.wait_for(r"^rescue: ready .*\n", timeout=180)

    # From the menu: the entry asks for the URL and prints the command line it runs.
    guest.wait_for(r"^Choose ", timeout=120)
    entry = re.search(lib.menu_entry(r"test a target"), guest.output(), re.M)
    assert entry, "no target entry in the menu:\n" + guest.tail()
    guest.sendline(entry.group(1))
    guest.wait_for(r"target URL \(e\.g\. ssh://user@host/dir\) \(Enter alone goes back\): $")
    guest.sendline("file:///tmp")
    guest.wait_for_line(r"\$ rescue target file:///tmp")
    guest.wait_for_line(r"write +ok +1 MiB written, read back equal, removed .*", timeout=60)
    guest.wait_for_line(r"verdict +ok")
    guest.wait_for(r"^Choose ")
    guest.sendline("")
    lib.menu_shell(guest)

    # The client key, authorised on the receiver as a user would paste it.
    code, text = lib.console_run(guest, "rescue target key")
    key = re.search(r"^(ssh-ed25519 [A-Za-z0-9+/=]+)( \S+)?$", text, re.M)
    assert code == 0 and key, "no public key line from rescue target key: %r" % text

    # Not authorised yet: the login is refused, a password is asked for on the
    # console (Enter alone skips it), nothing else is tried.
    steps, _ = _expect_asked(guest, url, "root", "", 3, "authentication", "FAILED")
    assert steps["host key"][0] == "ok" and steps["write"][0] == "skipped", steps
    with open(server.authorized_keys, "w") as f:
        f.write(key.group(1) + " rescue-appliance\n")

    # Every step ok; the fingerprint trusted on first use is the server's own.
    steps, text = _expect(guest, url, 0, "write", "ok", r"1 MiB written, read back equal, removed")
    for step in ("reachable", "host key", "authentication", "directory", "free space"):
        assert steps[step][0] == "ok", "%s not ok:\n%s" % (step, text)
    assert steps["verdict"][0] == "ok", text
    assert os.listdir(receive) == [], "the probe was left behind: %s" % os.listdir(receive)

    # Wrong user, closed port, missing directory.
    # A password typed at the prompt is tried, never echoed, never journaled.
    _expect_asked(guest, "ssh://nosuchuser@10.0.2.2:%d%s" % (port, receive), "nosuchuser",
                  "typed-s3cret", 3, "authentication", "FAILED", r"user nosuchuser")
    assert "typed-s3cret" not in guest.output(), "the typed password was echoed"
    _expect(guest, "ssh://root@10.0.2.2:1%s" % receive, 3, "reachable", "FAILED",
            r"host 10\.0\.2\.2 port 1")
    _expect(guest, url + "/missing", 3, "directory", "FAILED", r"missing does not exist")

    # Malformed URLs are named and exit 2, passwords never shown.
    _expect(guest, "ssh://root@10.0.2.2:99999/x", 2, "parse", "FAILED", r"bad port '99999'")
    _expect(guest, "gopher://host/x", 2, "parse", "FAILED", r"unknown scheme 'gopher'")
    code, text = lib.console_run(guest, "rescue target test 'ssh://root:hunter2@10.0.2.2:1/x'")
    assert code == 3 and "hunter2" not in text and "root:***@" in text, text

    # file:// in RAM is fine; on a guarded disk, even mounted, it is refused.
    _expect(guest, "file:///tmp", 0, "write", "ok")
    code, text = lib.console_run(guest, "mkdir -p /mnt/t && mount -t ext4 -o ro,noload /dev/vda /mnt/t")
    assert code == 0, "cannot mount the source read-only: " + text
    _expect(guest, "file:///mnt/t", 3, "guard", "FAILED", r"vda.*guarded")
    lib.console_run(guest, "umount /mnt/t")

    # The journal names the fingerprint trusted on first use, and the failures.
    fingerprint = lib.fingerprint(server.host_key_line)
    code, journal = lib.console_run(guest, "rescue log --json --tail 12")
    assert fingerprint in journal, "fingerprint %s not journaled:\n%s" % (fingerprint, journal)
    assert "authentication failed" in journal, journal
    assert "hunter2" not in journal and "typed-s3cret" not in journal, journal
    guest.stop(command="poweroff")
    assert lib.sha256(source) == before, "the source disk changed"


def test_target_config_disk_key_and_known_hosts(ctx):
    """A RESCUECFG disk with id_ed25519 (OpenSSH format) and known_hosts: the
    appliance logs in with that key, accepts only the listed host key, and
    names an unlisted or changed host key."""
    source = lib.make_ext4(ctx.path("src.img"), 16, files={"a.txt": "hello\n"})
    before = lib.sha256(source)
    receive = ctx.path("receive")
    os.makedirs(receive)
    cfg = ctx.path("cfg")
    os.makedirs(cfg)
    private, public = lib.ssh_keypair(cfg)
    with open(public) as f:
        public_line = f.read().strip()
    os.unlink(public)
    servers = [lib.SshServer(ctx.path("s%d" % i), authorized_keys=[public_line]) for i in range(3)]
    for server in servers:
        ctx.on_cleanup(server.stop)
    listed, changed, unlisted = servers
    with open(os.path.join(cfg, "known_hosts"), "w") as f:
        f.write(lib.known_hosts_line(listed.port, listed.host_key_line, host="10.0.2.2") + "\n")
        # The changed server is listed with the first one's key.
        f.write(lib.known_hosts_line(changed.port, listed.host_key_line, host="10.0.2.2") + "\n")

    args = ["--disk", source, "--config", cfg]
    for server in servers:
        args += ["--host-port", str(server.port)]
    guest = ctx.guest(*args)
    guest.wait_for(r"^rescue: ssh client key id_ed25519 from the config disk\n", timeout=180)
    guest.wait_for(r"^rescue: ready .*\n", timeout=180)
    lib.menu_shell(guest)

    code, text = lib.console_run(guest, "rescue target key")
    assert code == 0 and public_line.split()[1] in text, "not the config disk's key: " + text

    def url(server):
        return "ssh://root@10.0.2.2:%d%s" % (server.port, receive)

    steps, text = _expect(guest, url(listed), 0, "write", "ok")
    assert "matches known_hosts on the config disk" in steps["host key"][1], text
    _expect(guest, url(changed), 3, "host key", "FAILED", r"changed")
    _expect(guest, url(unlisted), 3, "host key", "FAILED",
            r"no key for 10\.0\.2\.2 port %d" % unlisted.port)
    assert os.listdir(receive) == [], os.listdir(receive)
    guest.stop(command="poweroff")
    assert lib.sha256(source) == before, "the source disk changed"
