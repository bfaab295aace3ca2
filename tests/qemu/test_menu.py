"""The menu on the serial console, driven the way a person at a hoster's
console would: the header, an entry that asks for its operand, Ctrl-C on a
stuck action (the menu survives and the journal records the interruption),
the busybox shell and back. The disk never changes."""

import re
import socket
import threading

import lib

TIMEOUT = 300


def _entry(menu_text, label_regex):
    m = re.search(lib.menu_entry(label_regex), menu_text, re.M)
    assert m, "no menu entry matching %r in:\n%s" % (label_regex, menu_text)
    return m.group(1)


class _Staller:
    """Accepts connections on loopback and never answers: a target that hangs."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.held = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self):
        for conn in self.held:
            conn.close()
        self.sock.close()


def test_menu_over_serial(ctx):
    disk = lib.make_ext4(ctx.path("src.img"), 16, files={"a.txt": "hello\n"})
    before = lib.sha256(disk)
    staller = _Staller()
    try:
        with ctx.guest("--disk", disk, "--host-port", str(staller.port),
                       "--append", "rescue.target=ssh://backup:s3cret@10.0.2.2/srv") as guest:
            guest.wait_for(r"^rescue: ready .*\n", timeout=180)
            # The header: host, addresses, guard, SSH and the default target without
            # its password.
            guest.wait_for(r"^rescue \S+ on rescue\n", timeout=60)
            guest.wait_for(r"^net: +eth0 10\.0\.2\.15/24\n", timeout=30)
            guest.wait_for(r"^disks: 1 guarded of 1, 0 writes rejected +ssh: off\n", timeout=30)
            guest.wait_for(r"^target: ssh://backup:\*\*\*@10\.0\.2\.2/srv\n", timeout=30)
            guest.wait_for(r"^Choose 1-\d+, q to quit, Enter for the menu: ", timeout=30)
            # (The kernel itself prints its command line at boot; what we print must not.)
            menu = guest.output().split("rescue: ready", 1)[1]
            assert "s3cret" not in menu, "the target's password is on the screen"
            runbook = _entry(menu, r"runbook")
            log = _entry(menu, r"log")
            shell = _entry(menu, r"busybox shell")

            # An entry that needs an operand asks for it; Enter alone goes back.
            guest.sendline(runbook)
            guest.wait_for(r"runbook file, name on RESCUECFG, or URL \(Enter alone goes back\): ")
            guest.sendline("")
            guest.wait_for(r"^Not done\.\n", timeout=30)
            guest.wait_for(r"^Choose [^\n]*: ", timeout=30)

            # A runbook URL that hangs: Ctrl-C stops the action, not the menu.
            # (Pinned: plain http without a pin would be refused before connecting; the
            # '#' gets the word quoted as a shell would need it.)
            url = "http://10.0.2.2:%d/stuck.run#sha256=%s" % (staller.port, "0" * 64)
            guest.sendline(runbook)
            guest.wait_for(r"\(Enter alone goes back\): ", timeout=30)
            guest.sendline(url)
            guest.wait_for(r"^\$ rescue runbook '%s'\n" % re.escape(url), timeout=30)
            lib.wait_until(lambda: staller.held, 60, "the guest's connection")
            guest.send("\x03")
            guest.wait_for(r"^\[stopped by signal 2: Interrupt\]\n", timeout=30)
            guest.wait_for(r"^Choose [^\n]*: ", timeout=30)

            # The journal has the interrupted command, as the menu saw it end.
            guest.sendline(log)
            guest.wait_for(r"menu +[\d.]+s +exit signal 2 +rescue runbook '%s'\n" % re.escape(url),
                           timeout=30)
            guest.wait_for(r"^\[exit 0\]\n", timeout=30)
            # Type only once the prompt is there: typed ahead, the echo lands
            # before the prompt and the next line no longer starts with "$ ".
            guest.wait_for(r"^Choose [^\n]*: ", timeout=30)

            # The busybox shell, and back to the menu with exit.
            guest.sendline(shell)
            guest.wait_for(r"^\$ sh -l\n", timeout=30)
            guest.sendline("echo shell-$((6*7))")
            guest.wait_for(r"^shell-42\r?\n", timeout=30)
            guest.sendline("exit")
            guest.wait_for(r"^\[exit 0\]\n", timeout=30)
            guest.wait_for(r"^Choose ", timeout=30)
    finally:
        staller.close()
    assert lib.sha256(disk) == before, "the source disk changed"
