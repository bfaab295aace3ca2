"""Boot-test library for tests/qemu (python3 standard library only).

A scenario is a file tests/qemu/test_NAME.py with one or more top-level
functions `def test_WHAT(ctx):` (or a single `def test(ctx):`). tests/qemu/run
runs each function in its own process with a fresh Context and a timeout
(300 s, or TIMEOUT = N at the top of the file). A function passes when it
returns; any exception fails it with the exception's text as the reason.

    import lib

    def test_ready(ctx):
        disk = lib.make_ext4(ctx.path("src.img"), 32, files={"a.txt": "hello\\n"})
        before = lib.sha256(disk)
        with ctx.guest("--disk", disk, "--append", "rescue.net=none") as guest:
            guest.wait_for(r"^rescue: ready", timeout=120)
            guest.sendline("rescue disks")
            guest.wait_for(r"vda .*ext4")
            guest.stop(command="poweroff")
        assert lib.sha256(disk) == before, "source disk changed"

Context (`ctx`): ctx.name, ctx.work (a Workdir: tests/qemu/work/NAME, removed
when the test passes, kept when it fails), ctx.path(*parts), ctx.image
(RESCUE_IMAGE or images/rescue.efi), ctx.guest(*qemu_run_args, name="guest")
starts a Guest whose files live in the work dir and which is always stopped
when the test ends. Guest args are tools/qemu-run options; without a boot
source option ctx.guest adds `--kernel ctx.image`.

Guest: the console is a unix socket (QEMU waits for us before the guest
starts, so nothing is lost); everything the guest prints is also in
WORK/NAME.console.log (raw bytes, written by QEMU), QEMU's command line and
errors are in WORK/NAME.qemu.log (guest.qemu_log). Methods:
  wait_for(regex, timeout=60)   the match; regex searches the console text
      (carriage returns removed, re.MULTILINE) after the end of the previous
      match. On timeout it raises TestFailure with the last 40 console
      lines; if QEMU ends first, GuestExited at once. What you type is echoed
      and is console output too: match on the answer, not on the command.
      A pattern ending in `.*` can match a line still being printed.
  wait_for_line(regex, timeout=60)   the same for whole lines only.
  send(text), sendline(text)   type; sendline ends with "\r" (Enter).
  output()   everything printed so far; tail(n) its last n lines.
  wait_exit(timeout)   wait for QEMU to end by itself; qemu-run's exit code
      (0 power-off, 1 guest panic with pvpanic, 124 qemu-run --timeout).
  stop(command=None, timeout=30)   type COMMAND (e.g. "poweroff") and wait,
      then kill; always reaps QEMU; returns the exit code. `with` calls it.

Networking under qemu-run is restricted: the guest reaches the host's
127.0.0.1:PORT as 10.0.2.2:PORT only for ports opened with
`--host-port PORT`; `--forward HOSTPORT:GUESTPORT` opens guest ports to the
host (bound to 127.0.0.1). DHCP then gives 10.0.2.15/24 without router or
DNS server.

Fixtures: make_ext4() builds ext4 disks without mounting (mkfs.ext4 -d);
dirty_journal=True leaves a committed, unreplayed journal transaction (see
make_ext4). blkdebug_config() writes a QEMU fault config for `--disk
FILE,faults=CONF`. ssh_keypair(), scan_host_keys() and ssh() drive the
OpenSSH client against a guest with strict host key checking; SshServer and
TcpSink are real target servers on loopback.
"""

import hashlib
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORK_BASE = os.environ.get("RESCUE_TEST_WORK", os.path.join(TOP, "tests", "qemu", "work"))
IMAGE = os.environ.get("RESCUE_IMAGE", os.path.join(TOP, "images", "rescue.efi"))
BOOT_OPTIONS = ("--kernel", "--efi-disk", "--boot-disk", "--iso", "--net-boot")

# Booting, fixture disks, sshd and the cutting proxy are shared with tools/rehearse and
# tools/run-demo: they live in tools/lib/appliance.py and are re-exported here.
sys.path.insert(0, os.path.join(TOP, "tools", "lib"))
from appliance import (  # noqa: E402
    JOURNAL_AFTER, JOURNAL_BEFORE, JOURNAL_FILE, QEMU_RUN, SOURCE_DATE_EPOCH, CuttingProxy,
    Failure, Guest, GuestExited, SshServer, _block_size, _Daemon, _deterministic_uuid,
    _dirty_journal, _end_with_parent, _fix_commit_times, _gpt, _mbr, _populate, _sparse_copy,
    blkdebug_config, fingerprint, free_port, known_hosts_line, make_ext4, run,
    scan_host_keys, sha256, ssh_keypair, wait_until)

TestFailure = Failure


# ---------------------------------------------------------------- work dirs

class Workdir:
    """tests/qemu/work/NAME, fresh for each test; kept only when it fails."""

    def __init__(self, name, base=WORK_BASE):
        self.name = name
        self.dir = os.path.join(base, name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def finish(self, passed, keep=False):
        if passed and not keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __str__(self):
        return self.dir


# ---------------------------------------------------------------- ssh


def ssh(port, key, command, known_hosts, user="root", timeout=60, input=None,
        check=False):
    """Run COMMAND over OpenSSH at 127.0.0.1:PORT; return the CompletedProcess.

    BatchMode (never asks), strict host key checking against KNOWN_HOSTS only,
    no user or system ssh config, connect and keepalive timeouts, and TIMEOUT
    for the whole command. stdout/stderr are bytes.
    """
    if not known_hosts or not os.path.exists(known_hosts):
        raise TestFailure("ssh needs a known_hosts file the test wrote, not %r" % known_hosts)
    argv = ["ssh", "-F", "/dev/null", "-p", str(port), "-i", key,
            "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + known_hosts,
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10",
            "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3",
            "-o", "LogLevel=ERROR", "%s@127.0.0.1" % user, command]
    try:
        proc = subprocess.run(argv, input=input.encode() if isinstance(input, str) else input,
                              stdin=None if input is not None else subprocess.DEVNULL,
                              capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TestFailure("ssh -p %d %r took over %g s" % (port, command, timeout))
    if check and proc.returncode != 0:
        raise TestFailure("ssh -p %d %r exited %d: %s" % (
            port, command, proc.returncode, proc.stderr.decode(errors="replace").strip()))
    return proc


# ---------------------------------------------------------------- target servers


class TcpSink:
    """A plain TCP listener on 127.0.0.1 that saves each connection's bytes.

    Connection N goes to DIRECTORY/tcp-N.bin. cut_after=BYTES closes the
    first connection after that many bytes (a dropped link); later ones run
    to the end.
    """

    def __init__(self, directory, port=None, cut_after=None):
        self.dir = str(directory)
        self.cut_after = cut_after
        self.files = []
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", port or 0))
        self._server.listen(4)
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            path = os.path.join(self.dir, "tcp-%d.bin" % len(self.files))
            self.files.append(path)
            limit = self.cut_after if len(self.files) == 1 else None
            with conn, open(path, "wb") as out:
                received = 0
                while limit is None or received < limit:
                    want = 65536 if limit is None else min(65536, limit - received)
                    data = conn.recv(want)
                    if not data:
                        break
                    out.write(data)
                    received += len(data)

    def stop(self):
        self._server.close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


# ---------------------------------------------------------------- test context

class Context:
    """What a test function gets: its name, work dir, image and guests."""

    def __init__(self, name, keep=False):
        self.name = name
        self.work = Workdir(name)
        self.image = IMAGE
        self.top = TOP
        self.keep = keep
        self._guests = []
        self._cleanups = []

    def path(self, *parts):
        return self.work.path(*parts)

    def guest(self, *args, name="guest", qemu_timeout=900):
        args = [str(a) for a in args]
        if not any(a.split("=", 1)[0] in BOOT_OPTIONS for a in args):
            args = ["--kernel", self.image] + args
        guest = Guest(args, self.work, name=name, qemu_timeout=qemu_timeout)
        self._guests.append(guest)
        return guest

    def shell(self, *args, name="guest"):
        """A guest booted to `rescue: ready` with the menu's shell open."""
        guest = self.guest(*args, name=name)
        guest.wait_for(r"^rescue: ready .*\n", timeout=180)
        menu_shell(guest)
        return guest

    def on_cleanup(self, function):
        """Call FUNCTION when the test ends, pass or fail (servers, ...)."""
        self._cleanups.append(function)
        return function

    def close(self):
        for guest in self._guests:
            guest.stop()
        for function in reversed(self._cleanups):
            try:
                function()
            except Exception:
                pass


# ---------------------------------------------------------------- console shell

def console_shell(guest, timeout=180):
    """Wait for the menu on the serial console and open its busybox shell.

    Kernel messages are silenced on the console (dmesg -n 1) so that they
    cannot split the lines the test matches. Returns a function
    run(command, timeout=120) -> (exit code, output) that runs COMMAND in
    that shell and returns what it printed (stdout and stderr) and its exit
    status.
    """
    entry = guest.wait_for(menu_entry(r"busybox shell"), timeout=timeout)
    guest.wait_for(r"^Choose ", timeout=30)
    guest.sendline(entry.group("n"))
    counter = [0]

    def run(command, timeout=120):
        counter[0] += 1
        tag = "@@%d" % counter[0]
        guest.sendline("echo %s-begin; %s 2>&1; echo %s-rc=$?" % (tag, command, tag))
        m = guest.wait_for(r"^%s-begin\n(?P<out>.*?)^%s-rc=(?P<rc>\d+)\n" % (tag, tag),
                           timeout=timeout, flags=re.MULTILINE | re.DOTALL)
        return int(m.group("rc")), m.group("out")

    run("dmesg -n 1", timeout=60)
    return run


def make_disk_image(path, size_mb):
    """A sparse file of SIZE_MB MiB; return PATH."""
    with open(path, "wb") as f:
        f.truncate(size_mb * 1024 * 1024)
    return path


def menu_shell(guest, timeout=120):
    """From the serial console's menu, open its busybox shell entry; later
    console_run(guest, COMMAND) calls run commands in it."""
    guest.console_run = console_shell(guest, timeout=timeout)


def console_run(guest, command, timeout=120):
    """Run COMMAND in the shell menu_shell opened; return (exit code, output)."""
    return guest.console_run(command, timeout=timeout)


def make_xfs(path, files=None, size_mb=300):
    """An xfs fixture at PATH (300 MiB, xfs's smallest; sparse) built with a
    mkfs.xfs protofile, nothing mounted. files: {"name": str or bytes} in the
    root directory only. Return PATH."""
    staging = tempfile.mkdtemp(prefix="xfs.", dir=os.path.dirname(os.path.abspath(path)))
    try:
        lines = ["/dev/null", "0 0", "d--755 0 0"]
        for name, content in sorted((files or {}).items()):
            source = os.path.join(staging, "file%d" % len(lines))
            with open(source, "wb") as f:
                f.write(content.encode() if isinstance(content, str) else content)
            lines.append("%s ---644 0 0 %s" % (name, source))
        lines.append("$")
        proto = os.path.join(staging, "proto")
        with open(proto, "w") as f:
            f.write("\n".join(lines) + "\n")
        make_disk_image(path, size_mb)
        run(["mkfs.xfs", "-q", "-f", "-p", proto, path])
        return path
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def make_vfat(path, size_mb=16, files=None, label="FIXTURE"):
    """A vfat fixture at PATH with FILES ({"NAME.TXT": str or bytes}, root
    directory only) copied in with mtools. Return PATH."""
    make_disk_image(path, size_mb)
    run(["mkfs.vfat", "-n", label, path])
    for name, content in sorted((files or {}).items()):
        with tempfile.NamedTemporaryFile(dir=os.path.dirname(os.path.abspath(path))) as f:
            f.write(content.encode() if isinstance(content, str) else content)
            f.flush()
            run(["mcopy", "-i", path, f.name, "::/" + name])
    return path


def make_swap(path, size_mb=8):
    """A swap signature (mkswap) on a SIZE_MB disk at PATH. Return PATH."""
    make_disk_image(path, size_mb)
    run(["mkswap", path])
    return path


def menu_entry(label_regex):
    """A pattern for the menu entry whose label starts with LABEL_REGEX, in either of the
    menu's two columns; group 1 (also named n) is its number."""
    return r"(?:^ *|  )(?P<n>\d+)\) %s" % label_regex


class SmbServer(_Daemon):
    """Samba's smbd on 127.0.0.1:PORT with one share, `rescue`, at self.share,
    writable by the Unix user `backup` (Debian has it) with password
    self.password. The guest reaches it as
    smb://backup:PASSWORD@10.0.2.2:PORT/rescue with `--host-port PORT`."""

    def __init__(self, directory, password="s3cret", port=None):
        self.port = port or free_port()
        self.password = password
        self.dir = os.path.join(str(directory), "smbd")
        self.share = os.path.join(self.dir, "share")
        for sub in ("share", "state", "cache", "lock", "pid", "private"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        shutil.chown(self.share, user="backup")
        config = os.path.join(self.dir, "smb.conf")
        d = self.dir
        with open(config, "w") as f:
            f.write("\n".join([
                "[global]", "server role = standalone server", "interfaces = 127.0.0.1",
                "bind interfaces only = yes", "smb ports = %d" % self.port,
                "disable netbios = yes", "state directory = %s/state" % d,
                "cache directory = %s/cache" % d, "lock directory = %s/lock" % d,
                "pid directory = %s/pid" % d, "private dir = %s/private" % d,
                "ncalrpc dir = %s/state/ncalrpc" % d, "log file = %s/log.%%m" % d,
                "passdb backend = tdbsam:%s/private/passdb.tdb" % d,
                "server min protocol = SMB2", "map to guest = never",
                "[rescue]", "path = " + self.share, "read only = no", "valid users = backup",
                ""]))
        run(["smbpasswd", "-c", config, "-s", "-a", "backup"],
            input="%s\n%s\n" % (password, password))
        self._start(["smbd", "--foreground", "--no-process-group", "-s", config,
                     "--debug-stdout", "-d", "1"], "smbd")


class NfsServer(_Daemon):
    """NFS-Ganesha (NFS 4.0, TCP only) on 127.0.0.1:PORT exporting self.export
    as /rescue, root not squashed. The guest reaches it as
    nfs://10.0.2.2:PORT/rescue with `--host-port PORT`."""

    def __init__(self, directory, port=None):
        self.port = port or free_port()
        self.dir = os.path.join(str(directory), "ganesha")
        self.export = os.path.join(self.dir, "export")
        os.makedirs(self.export, exist_ok=True)
        os.makedirs(os.path.join(self.dir, "recovery"), exist_ok=True)
        config = os.path.join(self.dir, "ganesha.conf")
        with open(config, "w") as f:
            f.write(
                "NFS_CORE_PARAM { Protocols = 4; NFS_Port = %d; Bind_addr = 127.0.0.1;\n"
                "  Enable_NLM = false; Enable_RQUOTA = false; Enable_UDP = false; }\n"
                "NFSV4 { Graceless = true; RecoveryBackend = fs;\n"
                "  RecoveryRoot = \"%s/recovery\"; }\n"
                "NFS_KRB5 { Active_krb5 = false; }\n"
                "EXPORT { Export_Id = 1; Path = \"%s\"; Pseudo = /rescue;\n"
                "  Access_Type = RW; Squash = No_Root_Squash; SecType = sys;\n"
                "  Protocols = 4; Transports = TCP; FSAL { Name = VFS; } }\n"
                % (self.port, self.dir, self.export))
        self._start(["ganesha.nfsd", "-F", "-f", config, "-L", "/dev/stdout",
                     "-p", os.path.join(self.dir, "ganesha.pid"), "-N", "NIV_EVENT"],
                    "ganesha")


class NbdServer(_Daemon):
    """qemu-nbd on 127.0.0.1:PORT serving the raw file PATH as the export
    NAME, persistent (it outlives each client). The guest reaches it as
    nbd://10.0.2.2:PORT/NAME with `--host-port PORT`. restart() kills it
    (SIGKILL: writes it had not taken are lost) and starts it again on the
    same port, as a server that crashed and came back."""

    def __init__(self, directory, path, name="disk", port=None):
        self.port = port or free_port()
        self.dir = str(directory)
        os.makedirs(self.dir, exist_ok=True)
        self.path = path
        self.name = name
        self._start(self._argv(), "qemu-nbd")

    def _argv(self):
        return ["qemu-nbd", "-f", "raw", "-x", self.name, "-b", "127.0.0.1",
                "-p", str(self.port), "-t", self.path]

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._log_file.close()

    def restart(self, pause=0):
        self.kill()
        time.sleep(pause)
        self._start(self._argv(), "qemu-nbd")


def nbd_tail_map(path):
    """The newest map store_nbd.c keeps in the last 1 MiB of the export file
    PATH (two 512 KiB slots, a 512-byte header each: "RSCUEMAP", version,
    sequence, length, FNV-1a 64 checksum, name), as (name, text); None when
    neither slot is whole."""
    with open(path, "rb") as f:
        f.seek(-(1 << 20), os.SEEK_END)
        tail = f.read(1 << 20)
    best = None
    for raw in (tail[:1 << 19], tail[1 << 19:]):
        if raw[:8] != b"RSCUEMAP":
            continue
        sequence, length, checksum = struct.unpack(">QQQ", raw[16:40])
        header = raw[:32] + bytes(8) + raw[40:512]
        digest = 0xcbf29ce484222325
        for byte in header + raw[512:512 + length]:
            digest = ((digest ^ byte) * 0x100000001b3) & 0xffffffffffffffff
        if digest != checksum:
            continue
        if best is None or sequence > best[0]:
            name = raw[40:296].split(b"\0")[0].decode()
            best = (sequence, name, raw[512:512 + length].decode())
    return best and best[1:]


# ---------------------------------------------------------------- imaging fixtures

def faulty_disk(path, size, bad_sectors, seed):
    """A disk image of SIZE random bytes at PATH, meant to sit behind blkdebug with
    BAD_SECTORS (512-byte units) failing. Returns the sha256 a perfect rescue has: the
    source with those sectors zeroed."""
    data = bytearray(random.Random(seed).randbytes(size))
    with open(path, "wb") as f:
        f.write(data)
    for sector in bad_sectors:
        data[sector * 512:(sector + 1) * 512] = bytes(512)
    return hashlib.sha256(data).hexdigest()


def bad_runs(bad_sectors):
    """The '-' extents a map must hold for BAD_SECTORS: (position, size) in bytes, runs of
    consecutive sectors merged."""
    runs = []
    for sector in sorted(bad_sectors):
        if runs and runs[-1][0] + runs[-1][1] == sector * 512:
            runs[-1][1] += 512
        else:
            runs.append([sector * 512, 512])
    return [tuple(run) for run in runs]


def map_extents(text, state):
    """The (position, size) extents in STATE ('+', '-', ...) of a ddrescue map TEXT."""
    return [(int(m.group(1), 16), int(m.group(2), 16))
            for m in re.finditer(r"^0x([0-9A-F]+)\s+0x([0-9A-F]+)\s+(\S)$", text, re.M)
            if m.group(3) == state]
