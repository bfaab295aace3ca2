"""`rescue ssh` through the real image, as an operator and a colleague use it:
log in with a boot key (host key checked against the console's fingerprints)
into the menu and run commands; add a second key from the console and log in
with it; junk refused; a root password set from the console logs in, and
`--off` refuses it again; a reverse tunnel to a real OpenSSH jump host on the
host's loopback, through which the host reaches the appliance. Every disk's
sha256 is unchanged."""

import functools
import hashlib
import http.server
import json
import os
import re
import subprocess
import threading
import time

import lib

TIMEOUT = 600
PASSWORD = "c0rrect horse:battery"


def _boot(ctx, disk, key_public, port, host_ports):
    args = ["--disk", disk, "--ssh-key", key_public, "--forward", "%d:22" % port]
    for host_port in host_ports:
        args += ["--host-port", str(host_port)]
    guest = ctx.guest(*args)
    fingerprints = []
    while True:
        m = guest.wait_for(r"^rescue: (ssh host key (?P<kind>\S+) (?P<fp>SHA256:\S+)|"
                           r"ready [^\n]* ssh=(?P<ssh>\S+))\n", timeout=180)
        if m.group("fp"):
            fingerprints.append(m.group("fp"))
        else:
            assert m.group("ssh") == "on:22:1keys", m.group(0)
            break
    assert len(fingerprints) == 2, "want ED25519 and ECDSA host keys: %s" % fingerprints
    return guest, fingerprints


def _ssh_argv(port, key, known_hosts, *extra):
    return ["ssh", "-F", "/dev/null", "-p", str(port), "-i", key, "-o", "IdentitiesOnly=yes",
            "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + known_hosts,
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10",
            "-o", "LogLevel=ERROR"] + list(extra) + ["root@127.0.0.1"]


def _password_ssh(port, known_hosts, password, command):
    """Log in with a password only (sshpass types it); return the CompletedProcess."""
    argv = ["sshpass", "-p", password] + _ssh_argv(
        port, "/dev/null", known_hosts, "-o", "PubkeyAuthentication=no",
        "-o", "PreferredAuthentications=password,keyboard-interactive",
        "-o", "NumberOfPasswordPrompts=1") + [command]
    return subprocess.run(argv, capture_output=True, timeout=90, stdin=subprocess.DEVNULL)


def _menu_over_ssh(port, key, known_hosts):
    """An interactive login: the menu's header, then q."""
    argv = _ssh_argv(port, key, known_hosts, "-tt")
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        time.sleep(8)
        out, _ = proc.communicate(b"q\n", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return out.decode(errors="replace").replace("\r", "")


def _web_server(ctx, directory):
    """A plain HTTP server on 127.0.0.1 serving DIRECTORY; returns its port."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ctx.on_cleanup(server.shutdown)
    return server.server_address[1]


def _children(pid):
    """The pids whose parent is PID (host /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def _status(port, key, known_hosts):
    proc = lib.ssh(port, key, "rescue ssh status --json", known_hosts, check=True)
    return json.loads(proc.stdout.decode())


def test_ssh_keys_password_reverse(ctx):
    disk = lib.make_ext4(ctx.path("src.img"), 16, files={"a.txt": "hello\n"})
    before = lib.sha256(disk)
    key_a, pub_a = lib.ssh_keypair(ctx.path(), name="id_a")
    key_b, pub_b = lib.ssh_keypair(ctx.path(), name="id_b")
    key_c, pub_c = lib.ssh_keypair(ctx.path(), name="id_c")
    key_d, pub_d = lib.ssh_keypair(ctx.path(), name="id_d")
    line_a, line_b, line_c, line_d = (open(p).read().strip() for p in (pub_a, pub_b, pub_c, pub_d))
    port = lib.free_port()
    jump = lib.SshServer(ctx.path())
    ctx.on_cleanup(jump.stop)
    www = ctx.path("www")
    os.makedirs(www)
    with open(os.path.join(www, "keys"), "w") as f:
        f.write("# team keys\n%s\nssh-rsa not-base64!\n" % line_c)
    web = _web_server(ctx, www)

    guest, fingerprints = _boot(ctx, disk, pub_a, port, (jump.port, web))
    known_hosts = lib.scan_host_keys(port, ctx.path("known_hosts"), fingerprints)

    # Key A from the boot: status names it, the host keys match the console.
    state = _status(port, key_a, known_hosts)
    assert state["server"] == "on" and state["port"] == 22, state
    assert [k["fingerprint"] for k in state["keys"]] == [lib.fingerprint(line_a)], state
    assert sorted(k["fingerprint"] for k in state["host_keys"]) == sorted(fingerprints), state
    assert state["password_logins"] is False and state["reverse"] is None, state
    assert state["sessions"] >= 1, "this very session is not counted: %s" % state
    disks = json.loads(lib.ssh(port, key_a, "rescue disks --json", known_hosts,
                               check=True).stdout.decode())
    assert "vda" in json.dumps(disks), disks
    printed = lib.ssh(port, key_a, "rescue ssh fingerprints", known_hosts, check=True)
    assert sorted(re.findall(r"SHA256:\S+", printed.stdout.decode())) == sorted(fingerprints)

    # An interactive login lands in the menu, whose header shows SSH running.
    menu = _menu_over_ssh(port, key_a, known_hosts)
    assert re.search(r"^disks: 1 guarded of 1, 0 writes rejected +ssh: running", menu, re.M), menu
    assert re.search(r"\) ssh: server, keys", menu), menu

    # Key B is not authorised yet, then is after add-key on the console.
    assert lib.ssh(port, key_b, "true", known_hosts).returncode != 0, "key B let in too early"
    # From the serial menu: the ssh entry asks what to do; add-key asks for the line.
    entry = guest.wait_for(lib.menu_entry(r"ssh: "), timeout=120).group(1)
    guest.wait_for(r"^Choose ", timeout=30)
    guest.sendline(entry)
    guest.wait_for(r"status, on, off, add-key, password, fingerprints or reverse URL "
                   r"\(Enter alone goes back\): $", timeout=30)
    guest.sendline("add-key")
    guest.wait_for(r"^\$ rescue ssh add-key\n", timeout=30)
    guest.wait_for(r"paste the public key line: $", timeout=30)
    guest.sendline(line_d)
    guest.wait_for_line(r"added: ED25519 %s rescue-test" % re.escape(lib.fingerprint(line_d)),
                        timeout=30)
    guest.wait_for_line(r"\[exit 0\]", timeout=30)
    lib.ssh(port, key_d, "true", known_hosts, check=True)
    guest.wait_for(r"^Choose ", timeout=30)
    guest.sendline("")		# the menu again, with its busybox shell entry
    lib.menu_shell(guest)
    code, text = lib.console_run(guest, "rescue ssh add-key %s" % line_b)
    assert code == 0 and "added: ED25519 %s" % lib.fingerprint(line_b) in text, text
    who = lib.ssh(port, key_b, "rescue version", known_hosts, check=True)
    assert who.stdout.decode().startswith("rescue "), who.stdout
    code, text = lib.console_run(guest, "rescue ssh add-key '%s'" % line_b)
    assert code == 0 and "already authorised" in text, text

    # Junk is refused and named; nothing is added.
    code, text = lib.console_run(guest, "rescue ssh add-key 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB"
                                 "cutshort junk@paste'")
    assert code == 2, (code, text)
    assert re.search(r"rescue ssh: warning: unable to add line 1 of the command line: the key "
                     r"data is not a ssh-ed25519 key", text), text
    code, text = lib.console_run(guest, "echo 'not a key at all' | rescue ssh add-key")
    assert code == 2 and "line 1 of stdin: no known key type" in text, text
    assert len(_status(port, key_a, known_hosts)["keys"]) == 3

    # From a URL: the good line is added, the junk one named; exit 1 (some refused).
    # Plain http needs a pin (https with a CA is tested in test_fetch_tls.py).
    url_keys = "http://10.0.2.2:%d/keys" % web
    code, text = lib.console_run(guest, "rescue ssh add-key --url %s" % url_keys)
    assert code == 2 and "refused %s: plain http" % url_keys in text, (code, text)
    with open(os.path.join(www, "keys"), "rb") as f:
        keys_sha = hashlib.sha256(f.read()).hexdigest()
    code, text = lib.console_run(guest, "rescue ssh add-key --url %s#sha256=%s"
                                 % (url_keys, keys_sha))
    assert code == 1, (code, text)
    assert "line 3 of %s#sha256=%s: the key data is not base64" % (url_keys, keys_sha) \
        in text, text
    lib.ssh(port, key_c, "true", known_hosts, check=True)
    code, text = lib.console_run(guest, "rescue ssh add-key --url http://10.0.2.2:%d/none"
                                 "#sha256=%s" % (web, keys_sha))
    assert code == 3 and "unable to fetch" in text and "answered 404" in text, text
    # Pinned by SHA-256: a file that is not the one pinned lets no key in.
    code, text = lib.console_run(guest, "rescue ssh add-key --url %s#sha256=%s" % (url_keys, "0" * 64))
    assert code == 3 and "not the pinned " + "0" * 64 in text, text

    # At the terminal: asked twice without echo; a mismatch and Ctrl-C change nothing
    # and leave the terminal echoing again.
    guest.sendline("rescue ssh password; echo PW-EXIT=$?")
    guest.wait_for(r"new root password: $", timeout=30)
    guest.sendline("first-try")
    guest.wait_for(r"the same again: $", timeout=30)
    guest.sendline("second-try")
    mismatch = guest.wait_for(r"(?s)(.*?)^PW-EXIT=(\d+)\n", timeout=30)
    assert mismatch.group(2) == "2" and "the two entries differ" in mismatch.group(1), \
        mismatch.group(0)
    assert "first-try" not in mismatch.group(0) and "second-try" not in mismatch.group(0), \
        "the password was echoed: %r" % mismatch.group(0)
    guest.sendline("rescue ssh password; echo PW-EXIT=$?")
    guest.wait_for(r"new root password: $", timeout=30)
    guest.send("half\x03")
    stopped = guest.wait_for(r"(?s)(.*?)^PW-EXIT=(\d+)\n", timeout=30)
    assert stopped.group(2) == "2" and "interrupted, nothing changed" in stopped.group(1), \
        stopped.group(0)
    code, text = lib.console_run(guest, "stty -a 2>/dev/null | tr ' ' '\\n' | grep -x -e echo -e icanon")
    assert code == 0 and text.split() == ["icanon", "echo"], "terminal not restored: %r" % text

    # A password: refused from a non-terminal without --stdin, set with it.
    code, text = lib.console_run(guest, "rescue ssh password </dev/null")
    assert code == 2 and "stdin is not a terminal" in text, text
    assert _password_ssh(port, known_hosts, PASSWORD, "true").returncode != 0
    code, text = lib.console_run(guest, "echo '%s' | rescue ssh password --stdin" % PASSWORD)
    assert code == 0 and "password logins on" in text, text
    logged = _password_ssh(port, known_hosts, PASSWORD, "rescue ssh status --json")
    assert logged.returncode == 0, logged.stderr
    assert json.loads(logged.stdout.decode())["password_logins"] is True
    assert _password_ssh(port, known_hosts, "wrong", "true").returncode != 0
    code, text = lib.console_run(guest, "rescue ssh password --off")
    assert code == 0 and "keys only" in text, text
    assert _password_ssh(port, known_hosts, PASSWORD, "true").returncode != 0, \
        "password still accepted after --off"
    code, journal = lib.console_run(guest, "rescue log")
    assert "root password set" in journal and PASSWORD not in journal, journal

    # off stops the server (this console is no session of it), on starts it again with
    # the same host keys, so known_hosts still holds.
    code, text = lib.console_run(guest, "rescue ssh off")
    assert code == 0 and re.search(r"^ssh server stopped \(0 open sessions stay connected\)$",
                                   text, re.M), text
    assert lib.ssh(port, key_a, "true", known_hosts, timeout=30).returncode != 0
    code, text = lib.console_run(guest, "rescue ssh on; rescue ssh status")
    assert code == 0 and re.search(r"^ssh server started on port 22 \(pid \d+\): 4 authorised "
                                   r"keys, password logins off$", text, re.M), text
    assert re.search(r"^server: +on, port 22, pid \d+, 0 open sessions$", text, re.M), text
    assert re.search(r"^reverse: +off$", text, re.M), text
    lib.ssh(port, key_a, "true", known_hosts, check=True)

    # Reverse tunnel: refused until the client key is authorised on the jump host.
    remote = lib.free_port()
    url = "ssh://root@10.0.2.2:%d" % jump.port
    code, text = lib.console_run(guest, "rescue ssh reverse %s --remote-port %d" % (url, remote))
    client = re.search(r"^(ssh-ed25519 [A-Za-z0-9+/=]+)", text, re.M)
    assert code == 3 and client and "unable to log in to the jump host" in text, text
    with open(jump.authorized_keys, "w") as f:
        f.write(client.group(1) + " rescue-appliance\n")
    code, text = lib.console_run(guest, "rescue ssh reverse %s --remote-port %d" % (url, remote),
                                 timeout=180)
    assert code == 0, text
    assert "on the jump host: ssh -p %d root@localhost" % remote in text, text
    assert sorted(re.findall(r"check the host key: \S+ (SHA256:\S+)", text)) == sorted(fingerprints)
    # Through the tunnel, the host key is still the appliance's own.
    tunnel_known = lib.scan_host_keys(remote, ctx.path("known_hosts.tunnel"), fingerprints)
    state = _status(remote, key_a, tunnel_known)
    assert state["reverse"] and ": up (" in state["reverse"]["state"], state
    # The jump host drops the link: the supervisor connects again by itself.
    for child in _children(jump.proc.pid):
        os.kill(child, 15)
    lib.wait_until(lambda: lib.ssh(remote, key_a, "true", tunnel_known, timeout=30).returncode
                   == 0, 90, "the tunnel to come back", interval=2)
    again = _status(remote, key_a, tunnel_known)["reverse"]["state"]
    assert ": up (" in again and again != state["reverse"]["state"], (again, state)
    code, text = lib.console_run(guest, "rescue ssh reverse --stop")
    assert code == 0 and "reverse tunnel stopped" in text, text
    lib.wait_until(lambda: lib.ssh(remote, key_a, "true", tunnel_known, timeout=30).returncode
                   != 0, 30, "the tunnel to close")

    guest.stop(command="poweroff")
    assert lib.sha256(disk) == before, "the source disk changed"
