"""The appliance under QEMU, from the host: one machinery for the boot tests
(tests/qemu/lib.py imports it), tools/rehearse (users' rehearsals) and
tools/run-demo. Python 3 standard library only.

Guest(args, workdir) runs tools/qemu-run in the background with the console
on a unix socket and waits for console lines (wait_for, wait_for_line), types
(send, sendline) and ends QEMU (wait_exit, stop); everything the guest prints
is also in WORKDIR/NAME.console.log.

Fixture disks: make_ext4() (a file system from a dict or a directory, without
mounting; a dirty journal, MBR or GPT on request), blkdebug_config() (QEMU
fault injection: sectors whose reads fail).

Servers on the host's loopback, reached by the guest as 10.0.2.2:PORT when
qemu-run has `--host-port PORT`: SshServer (OpenSSH's sshd as a target),
CuttingProxy (a TCP proxy that cuts or freezes connections at random byte
counts), LinkProxy (one that cuts and stalls the link on a schedule).
ssh_keypair(), fingerprint() and known_hosts_line() handle the keys.

Failure is raised when something checked does not hold; GuestExited when
QEMU ended while something was still awaited on the console.
"""

import codecs
import ctypes
import hashlib
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import uuid
import zlib

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QEMU_RUN = os.path.join(TOP, "tools", "qemu-run")
IMAGE = os.environ.get("RESCUE_IMAGE", os.path.join(TOP, "images", "rescue.efi"))
SOURCE_DATE_EPOCH = os.environ.get("SOURCE_DATE_EPOCH", "1700000000")

# ---------------------------------------------------------------- errors

class Failure(AssertionError):
    """A check failed; the message is the reason the runner prints."""


class GuestExited(Failure):
    """QEMU ended while a test was still waiting for console output."""


def run(argv, **kwargs):
    """Run a host command; fail with its name, arguments and stderr."""
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    proc = subprocess.run(argv, text=True, **kwargs)
    if proc.returncode != 0:
        raise Failure("%s exited %d: %s" % (" ".join(argv), proc.returncode,
                                            (proc.stderr or "").strip()[-500:]))
    return proc


# ---------------------------------------------------------------- small helpers

def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def wait_until(predicate, timeout, what, interval=0.1):
    """Poll PREDICATE until it returns a true value; fail naming WHAT."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Failure("timeout after %g s waiting for %s" % (timeout, what))
        time.sleep(interval)


# ---------------------------------------------------------------- the guest

def _end_with_parent():
    """Runs in the child: qemu-run (and so QEMU) ends when the test process dies.

    qemu-run stays in the test's process group, so the runner's kill of the
    group reaches it too; this covers a test process killed on its own.
    """
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Guest:
    """tools/qemu-run in the background with its console on a unix socket.

    args: qemu-run options (strings). workdir: where NAME.console.log and
    NAME.qemu.log go. qemu_timeout: qemu-run kills QEMU after this many
    seconds whatever the test does (a last line of defence). program: a
    wrapper that passes its options on to qemu-run (tools/run-demo).
    """

    def __init__(self, args, workdir, name="guest", qemu_timeout=900, program=QEMU_RUN):
        self.name = name
        self.console_log = os.path.join(str(workdir), name + ".console.log")
        self.qemu_log = os.path.join(str(workdir), name + ".qemu.log")
        # Unix socket paths are limited to 108 bytes: keep them short.
        self._sockdir = tempfile.mkdtemp(prefix="rescue-guest.")
        self._sockpath = os.path.join(self._sockdir, "console")
        self._text = ""
        self._pos = 0
        self._eof = False
        self._cond = threading.Condition()
        self._sock = None
        self._reader = None
        self.returncode = None
        # A --timeout in ARGS comes later and wins over ours; raw QEMU
        # arguments after "--" stay last.
        args = [str(a) for a in args]
        raw = args[args.index("--"):] if "--" in args else []
        argv = [program, "--timeout", str(qemu_timeout)] + args[:len(args) - len(raw)] + [
            "--serial-socket", self._sockpath, "--log", self.console_log] + raw
        self._qemu_log_file = open(self.qemu_log, "w")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self._qemu_log_file, stderr=subprocess.STDOUT,
                                     preexec_fn=_end_with_parent)
        try:
            self._connect()
        except BaseException:
            self.stop()
            raise
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _connect(self):
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise GuestExited("qemu-run exited %d before the console opened: %s"
                                  % (self.proc.returncode, self._qemu_log_tail()))
            if os.path.exists(self._sockpath):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.connect(self._sockpath)
                    self._sock = sock
                    return
                except OSError:
                    sock.close()
            if time.monotonic() > deadline:
                raise Failure("console socket %s did not open in 60 s" % self._sockpath)
            time.sleep(0.05)

    def _read(self):
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        while True:
            try:
                data = self._sock.recv(65536)
            except OSError:
                data = b""
            text = decoder.decode(data, final=not data).replace("\r", "")
            with self._cond:
                self._text += text
                if not data:
                    self._eof = True
                self._cond.notify_all()
            if not data:
                return

    def _qemu_log_tail(self):
        try:
            with open(self.qemu_log) as f:
                return " | ".join(f.read().strip().splitlines()[-5:])
        except OSError:
            return "(no qemu log)"

    def output(self):
        """Everything the guest printed so far (carriage returns removed)."""
        with self._cond:
            return self._text

    def tail(self, lines=40):
        return "\n".join(self.output().splitlines()[-lines:])

    def wait_for(self, pattern, timeout=60, flags=re.MULTILINE):
        """Wait until PATTERN appears after the previous match; return the match."""
        regex = re.compile(pattern, flags)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                match = regex.search(self._text, self._pos)
                if match:
                    self._pos = match.end()
                    return match
                left = deadline - time.monotonic()
                if self._eof:
                    try:
                        self.proc.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        pass
                    raise GuestExited(
                        "guest %s ended (qemu-run exit %s) before /%s/ appeared; "
                        "last 40 console lines:\n%s"
                        % (self.name, self.proc.returncode, pattern, self.tail_unlocked()))
                if left <= 0:
                    raise Failure(
                        "timeout after %g s waiting for /%s/ on guest %s; "
                        "last 40 console lines:\n%s"
                        % (timeout, pattern, self.name, self.tail_unlocked()))
                self._cond.wait(min(left, 1.0))

    def wait_for_line(self, pattern, timeout=60):
        """Like wait_for, but only complete lines count: PATTERN matches a
        whole line (as with re.fullmatch), so `.*` cannot stop at a line the
        guest is still printing."""
        line = re.compile(r"^(?:%s)\n" % pattern, re.MULTILINE)
        match = self.wait_for(line.pattern, timeout)
        return re.fullmatch(pattern, match.group(0)[:-1])

    def tail_unlocked(self, lines=40):
        return "\n".join(self._text.splitlines()[-lines:])

    def send(self, text):
        if self._sock is None:
            raise Failure("guest %s has no console to type into" % self.name)
        self._sock.sendall(text.encode() if isinstance(text, str) else text)

    def sendline(self, text):
        self.send(text + "\r")

    def wait_exit(self, timeout=60):
        """Wait for QEMU to end by itself (guest power-off); return qemu-run's exit code."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Failure("guest %s still running after %g s; last 40 console lines:\n%s"
                              % (self.name, timeout, self.tail()))
        self._close()
        return self.returncode

    def stop(self, command=None, timeout=30):
        """End the guest and reap QEMU; return qemu-run's exit code.

        With COMMAND (e.g. "poweroff"), type it and give the guest TIMEOUT
        seconds to power off by itself before QEMU is killed.
        """
        if self.proc.poll() is None and command is not None and self._sock is not None:
            try:
                self.sendline(command)
                self.proc.wait(timeout=timeout)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait()
        self.returncode = self.proc.returncode
        self._close()
        return self.returncode

    def _signal(self, signum):
        try:
            self.proc.send_signal(signum)
        except ProcessLookupError:
            pass

    def _close(self):
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._reader is not None:
            self._reader.join(timeout=5)
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._qemu_log_file.close()
        shutil.rmtree(self._sockdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


# ---------------------------------------------------------------- fixture disks

def _deterministic_uuid(text):
    return str(uuid.UUID(bytes=hashlib.sha256(text.encode()).digest()[:16], version=4))


def _populate(directory, files):
    for name, content in (files or {}).items():
        target = os.path.join(directory, name.lstrip("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(content.encode() if isinstance(content, str) else content)


def _block_size(image):
    out = run(["dumpe2fs", "-h", image]).stdout
    return int(re.search(r"^Block size:\s+(\d+)", out, re.M).group(1))


JOURNAL_FILE = "JOURNALED"
JOURNAL_BEFORE = b"before journal replay\n"
JOURNAL_AFTER = b"after  journal replay\n"


def _dirty_journal(image, replays):
    """Commit a journal transaction that rewrites files' first blocks, unreplayed.

    debugfs's journal commands (jo = open, jw = write a transaction, jc =
    close) write real descriptor + data + commit blocks and set the
    needs_recovery feature, exactly what a crash after a commit leaves. The
    file system itself still holds the old content: a mount with noload (or
    `e2fsck -n`) shows it; journal replay (a normal mount, `e2fsck -y`) writes
    the new content into place.
    """
    bsize = _block_size(image)
    tmp = tempfile.mkdtemp(prefix="journal.")
    try:
        script = ["jo"]
        for index, (name, content) in enumerate(sorted(replays.items())):
            out = run(["debugfs", "-R", "bmap /%s 0" % name.lstrip("/"), image]).stdout
            block = int(out.split()[0])
            if len(content) > bsize:
                raise Failure("dirty journal content for %s is over one block (%d bytes)"
                                  % (name, bsize))
            data = os.path.join(tmp, "block%d" % index)
            with open(data, "wb") as f:
                f.write(content.ljust(bsize, b"\0"))
            script.append("jw -b %d %s" % (block, data))
        script.append("jc")
        with open(os.path.join(tmp, "script"), "w") as f:
            f.write("\n".join(script) + "\n")
        run(["debugfs", "-w", "-f", os.path.join(tmp, "script"), image],
            env=dict(os.environ, E2FSPROGS_FAKE_TIME=SOURCE_DATE_EPOCH))
        if "needs_recovery" not in run(["dumpe2fs", "-h", image]).stdout:
            raise Failure("debugfs left no needs_recovery flag on %s" % image)
        _fix_commit_times(image, bsize)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _fix_commit_times(image, bsize):
    """debugfs stamps commit blocks with the clock; use SOURCE_DATE_EPOCH.

    The journal has no checksum feature, so the commit block's time fields
    (h_commit_sec at byte 48, h_commit_nsec at 56) can be rewritten in place.
    """
    dump = run(["debugfs", "-R", "logdump", image]).stdout
    for journal_block in re.findall(r"\(commit block\) at block (\d+)", dump):
        out = run(["debugfs", "-R", "bmap <8> %s" % journal_block, image]).stdout
        with open(image, "r+b") as f:
            f.seek(int(out.split()[0]) * bsize + 48)
            f.write(struct.pack(">QI", int(SOURCE_DATE_EPOCH), 0))


def _sparse_copy(src, dst, offset):
    with open(src, "rb") as fin, open(dst, "r+b") as fout:
        position = offset
        for chunk in iter(lambda: fin.read(1 << 20), b""):
            if chunk.count(0) != len(chunk):
                fout.seek(position)
                fout.write(chunk)
            position += len(chunk)


def _mbr(disk_sectors, start, count, type_id):
    entry = struct.pack("<B3sB3sII", 0, b"\0\0\0", type_id, b"\0\0\0", start, count)
    return b"\0" * 440 + b"RSCU" + b"\0\0" + entry + b"\0" * 48 + b"\x55\xaa"


def _gpt(path, disk_sectors, start, count, name):
    """Write a protective MBR and primary + backup GPT with one Linux partition."""
    linux = uuid.UUID("0fc63daf-8483-4772-8e79-3d69d8477de4").bytes_le
    part_guid = uuid.UUID(_deterministic_uuid(path + "part")).bytes_le
    entry = (linux + part_guid + struct.pack("<QQQ", start, start + count - 1, 0) +
             name.encode("utf-16-le")[:72].ljust(72, b"\0"))
    entries = entry.ljust(128 * 128, b"\0")
    entries_crc = zlib.crc32(entries)
    disk_guid = uuid.UUID(_deterministic_uuid(path + "disk")).bytes_le
    last = disk_sectors - 1

    def header(current, backup, table):
        fields = struct.pack("<8sIIIIQQQQ16sQIII", b"EFI PART", 0x10000, 92, 0, 0,
                             current, backup, 34, last - 33, disk_guid, table, 128, 128,
                             entries_crc)
        crc = zlib.crc32(fields)
        return (fields[:16] + struct.pack("<I", crc) + fields[20:]).ljust(512, b"\0")

    protective = struct.pack("<B3sB3sII", 0, b"\0\0\x02", 0xEE, b"\xff\xff\xff", 1,
                             min(last, 0xFFFFFFFF))
    with open(path, "r+b") as f:
        f.write(b"\0" * 446 + protective + b"\0" * 48 + b"\x55\xaa")
        f.write(header(1, last, 2))
        f.write(entries)
        f.seek((last - 32) * 512)
        f.write(entries)
        f.write(header(last, 1, last - 32))


def make_ext4(path, size_mb, files=None, dirty_journal=False, label=None,
              partitioned=False):
    """Build an ext4 fixture disk at PATH without mounting anything; return PATH.

    files: {"dir/name": bytes or str} or the path of a directory to copy in.
    dirty_journal: True adds a file JOURNALED holding JOURNAL_BEFORE and a
      committed, unreplayed journal transaction that turns it into
      JOURNAL_AFTER; a dict {"name": bytes} journals new first blocks for
      existing files instead. The needs_recovery flag is set, so the kernel
      refuses a read-only mount without `noload`.
    partitioned: False (the file system is the whole disk), True or "mbr"
      (one Linux partition at 1 MiB), or "gpt".
    Timestamps come from SOURCE_DATE_EPOCH and the UUID from PATH, so the
    same call makes the same bytes.
    """
    path = os.path.abspath(path)
    staging = tempfile.mkdtemp(prefix="ext4.", dir=os.path.dirname(path))
    try:
        root = os.path.join(staging, "root")
        if isinstance(files, str):
            shutil.copytree(files, root, symlinks=True)
        else:
            os.makedirs(root)
            _populate(root, files)
        replays = {}
        if dirty_journal is True:
            _populate(root, {JOURNAL_FILE: JOURNAL_BEFORE})
            replays = {JOURNAL_FILE: JOURNAL_AFTER}
        elif dirty_journal:
            replays = dict(dirty_journal)
        # mkfs.ext4 -d copies the staged files' dates: make them the epoch.
        epoch = int(SOURCE_DATE_EPOCH)
        for directory, dirs, names in os.walk(root):
            for name in dirs + names:
                os.utime(os.path.join(directory, name), (epoch, epoch), follow_symlinks=False)
        os.utime(root, (epoch, epoch))
        scheme = "mbr" if partitioned is True else partitioned
        if scheme not in (False, None, "mbr", "gpt"):
            raise Failure("make_ext4: bad partitioned '%s' (want False, True, mbr or gpt)"
                              % partitioned)
        total = size_mb * 1024 * 1024
        fs_bytes = total - (2 * 1024 * 1024 if scheme else 0)
        fs_image = os.path.join(staging, "fs.img") if scheme else path
        with open(fs_image, "wb") as f:
            f.truncate(fs_bytes)
        fs_uuid = _deterministic_uuid(path)
        mkfs = ["mkfs.ext4", "-q", "-F", "-U", fs_uuid, "-E",
                "hash_seed=%s,root_owner=0:0" % fs_uuid, "-d", root]
        if label:
            mkfs += ["-L", label]
        env = dict(os.environ, E2FSPROGS_FAKE_TIME=SOURCE_DATE_EPOCH)
        run(mkfs + [fs_image], env=env)
        if replays:
            _dirty_journal(fs_image, replays)
        if scheme:
            with open(path, "wb") as f:
                f.truncate(total)
            start, count = 2048, fs_bytes // 512
            if scheme == "mbr":
                with open(path, "r+b") as f:
                    f.write(_mbr(total // 512, start, count, 0x83))
            else:
                _gpt(path, total // 512, start, count, label or "fixture")
            _sparse_copy(fs_image, path, start * 512)
        return path
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def blkdebug_config(path, sectors, errno=5):
    """Write a QEMU blkdebug config failing reads of each 512-byte SECTOR.

    Use as `--disk IMAGE,faults=PATH`. One [inject-error] group fails the
    request that contains its sector, every time (once = off).
    """
    groups = ['[inject-error]\nevent = "read_aio"\niotype = "read"\nerrno = "%d"\n'
              'sector = "%d"\nonce = "off"\n' % (errno, sector) for sector in sectors]
    with open(path, "w") as f:
        f.write("\n".join(groups))
    return path


# ---------------------------------------------------------------- ssh

def ssh_keypair(directory, name="id_ed25519"):
    """Make an ed25519 key pair in DIRECTORY; return (private, public) paths."""
    private = os.path.join(str(directory), name)
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "rescue-test", "-f", private])
    return private, private + ".pub"


def fingerprint(public_key_line):
    """SHA256:... fingerprint of one public key line."""
    out = run(["ssh-keygen", "-l", "-E", "sha256", "-f", "-"], input=public_key_line).stdout
    return out.split()[1]


def scan_host_keys(port, known_hosts, fingerprints):
    """Write KNOWN_HOSTS with the host keys at 127.0.0.1:PORT whose SHA256
    fingerprints are in FINGERPRINTS (as printed on the guest console).

    Keys are trusted only when their fingerprint was seen out of band; a
    mismatch fails the test.
    """
    scan = subprocess.run(["ssh-keyscan", "-T", "10", "-p", str(port), "127.0.0.1"],
                          capture_output=True, text=True, timeout=60)
    wanted = set(fingerprints)
    lines = []
    for line in scan.stdout.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        host, key = line.split(None, 1)
        if fingerprint(key) in wanted:
            lines.append("%s %s" % (host, key))
    if not lines:
        raise Failure("no host key at 127.0.0.1:%d matches %s (ssh-keyscan: %s)"
                      % (port, sorted(wanted), scan.stderr.strip()[-300:]))
    with open(known_hosts, "w") as f:
        f.write("\n".join(lines) + "\n")
    return known_hosts


def known_hosts_line(port, public_key_line, host="127.0.0.1"):
    """A known_hosts line for a server with the public key PUBLIC_KEY_LINE."""
    kind, blob = public_key_line.split()[:2]
    return "[%s]:%d %s %s" % (host, port, kind, blob)


# ---------------------------------------------------------------- target servers and links

class _Daemon:
    """A server process on a 127.0.0.1 port, stopped on exit; subclasses start it."""

    def _start(self, argv, name):
        self.log = os.path.join(self.dir, name + ".log")
        self._log_file = open(self.log, "w")
        self.proc = subprocess.Popen(argv, stdout=self._log_file, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        wait_until(lambda: self._listening() or self.proc.poll() is not None, 30,
                   "%s on 127.0.0.1:%d" % (name, self.port))
        if self.proc.poll() is not None:
            raise Failure("%s on port %d exited %d; see %s"
                              % (name, self.port, self.proc.returncode, self.log))

    def _listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log_file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


class SshServer(_Daemon):
    """OpenSSH's sshd on 127.0.0.1 as a rescue target (keys only, root allowed).

    authorized_keys: public key lines allowed to log in. The guest reaches it
    as ssh://root@10.0.2.2:PORT/... when the guest runs with
    `--host-port PORT`. host_key_line is its public key, for a known_hosts file.
    """

    def __init__(self, directory, authorized_keys=(), port=None):
        directory = str(directory)
        self.port = port or free_port()
        self.dir = os.path.join(directory, "sshd")
        os.makedirs(self.dir, exist_ok=True)
        host_key = os.path.join(self.dir, "ssh_host_ed25519_key")
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", host_key])
        with open(host_key + ".pub") as f:
            self.host_key_line = f.read().strip()
        self.authorized_keys = os.path.join(self.dir, "authorized_keys")
        with open(self.authorized_keys, "w") as f:
            f.write("".join(line.strip() + "\n" for line in authorized_keys))
        self.config = os.path.join(self.dir, "sshd_config")
        with open(self.config, "w") as f:
            f.write("\n".join([
                "Port %d" % self.port, "ListenAddress 127.0.0.1", "HostKey " + host_key,
                "PidFile " + os.path.join(self.dir, "sshd.pid"),
                "AuthorizedKeysFile " + self.authorized_keys,
                "PermitRootLogin prohibit-password", "PasswordAuthentication no",
                "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no",
                "Subsystem sftp internal-sftp", "LogLevel VERBOSE", ""]))
        os.makedirs("/run/sshd", exist_ok=True)
        self._start(["/usr/sbin/sshd", "-D", "-e", "-f", self.config], "sshd")


class _Proxy:
    """What the two proxies share: a listening socket on 127.0.0.1 whose connections a
    subclass's _accept() forwards, each as a link {"sockets": (client, upstream), ...} in
    self._live, and stop(), which closes the listener and every link's sockets. The guest
    reaches a proxy as 10.0.2.2:PORT with `--host-port PORT`."""

    def _listen(self, port=None):
        self._lock = threading.Lock()
        self._live = []
        self._stopped = False
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", port or 0))
        self._server.listen(8)
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @staticmethod
    def _shutdown(sockets):
        """Shuts SOCKETS down both ways; the peers see the link close."""
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        # _stopped also ends the pumps a CuttingProxy(freeze=True) holds frozen.
        self._stopped = True
        self._server.close()
        with self._lock:
            for link in self._live:
                for sock in link["sockets"]:
                    try:
                        sock.close()
                    except OSError:
                        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


class CuttingProxy(_Proxy):
    """A TCP proxy on 127.0.0.1:self.port to 127.0.0.1:TARGET_PORT that breaks
    connections, as a flaky network does, to test reconnecting clients.

    The first CUTS connections that carry enough data each break after a random
    number of bytes (both directions counted) between LOW and HIGH (seeded by
    SEED, so a failure can be replayed): with freeze=False the proxy closes both
    sides at once; with freeze=True it stops forwarding and holds the sockets
    open, so only the client's own timeouts find out. Later connections run to
    the end. cut_now() breaks every current connection. self.cut_count says how
    many were broken; self.connections how many were accepted. RATE (bytes per
    second and direction, per connection) slows the link down. The guest reaches
    it as 10.0.2.2:PORT with `--host-port PORT`.
    """

    def __init__(self, target_port, cuts=3, low=1 << 20, high=16 << 20, seed=1,
                 freeze=False, port=None, rate=None):
        import random
        self.target_port = target_port
        self.rate = rate
        self.cuts_left = cuts
        self.freeze = freeze
        self.cut_count = 0
        self.connections = 0
        self._random = random.Random(seed)
        self._low, self._high = low, high
        self._listen(port)

    def _accept(self):
        while not self._stopped:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self.connections += 1
                link = {"sockets": (client, upstream), "bytes": 0, "broken": False,
                        "limit": self._random.randint(self._low, self._high)}
                self._live.append(link)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(link, source, sink),
                                 daemon=True).start()

    def _break(self, link):
        """Breaks LINK (called with the lock held)."""
        if link["broken"]:
            return
        link["broken"] = True
        if not self.freeze:
            self._shutdown(link["sockets"])

    def _pump(self, link, source, sink):
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            with self._lock:
                if data and not link["broken"] and self.cuts_left > 0:
                    link["bytes"] += len(data)
                    if link["bytes"] >= link["limit"]:
                        self.cuts_left -= 1
                        self.cut_count += 1
                        self._break(link)
                broken = link["broken"]
            if broken and self.freeze:
                while link["broken"] and not self._stopped:
                    time.sleep(0.2)    # frozen: hold the sockets until stop()
                return
            if not data or broken:
                break
            if self.rate:
                time.sleep(len(data) / self.rate)
            try:
                sink.sendall(data)
            except OSError:
                break
        self._shutdown((source, sink))

    def cut_now(self):
        with self._lock:
            for link in self._live:
                if not link["broken"]:
                    self.cut_count += 1
                    self._break(link)


class LinkProxy(_Proxy):
    """A TCP proxy on 127.0.0.1:self.port to HOST:PORT whose link fails on a
    schedule, as a flaky line does overnight.

    events: dicts {"at_bytes": N} or {"at_seconds": T}, each with "action":
    "cut" (every open connection is closed at once, both sides) or "stall"
    with "seconds": S (nothing is forwarded for S seconds; the connections stay
    open, so only the client's own timeouts can notice). Bytes count both
    directions over all connections; seconds run from the first connection.
    self.log lists what happened as (seconds since the first connection,
    bytes so far, text); self.bytes is the running count. The guest reaches
    it as 10.0.2.2:PORT with `--host-port PORT`.
    """

    def __init__(self, host, port, events=()):
        self.target = (host, port)
        self.bytes = 0
        self.log = []
        self._pending = sorted((e for e in events if "at_bytes" in e),
                               key=lambda e: e["at_bytes"])
        self._timed = sorted((e for e in events if "at_seconds" in e),
                             key=lambda e: e["at_seconds"])
        self._started = None
        self._stalled_until = 0.0
        self._listen()

    def _note(self, text):
        """Records TEXT (called with the lock held)."""
        self.log.append((time.monotonic() - (self._started or time.monotonic()),
                         self.bytes, text))

    def _fire(self, event):
        """Applies EVENT (called with the lock held)."""
        if event["action"] == "stall":
            self._stalled_until = time.monotonic() + event["seconds"]
            self._note("stalled for %g s" % event["seconds"])
            return
        live = [link for link in self._live if not link["closed"]]
        for link in live:
            link["closed"] = True
            self._shutdown(link["sockets"])
        self._note("cut %d connection%s" % (len(live), "" if len(live) == 1 else "s"))

    def _clock(self):
        while not self._stopped and self._timed:
            with self._lock:
                due = [e for e in self._timed
                       if time.monotonic() - self._started >= e["at_seconds"]]
                for event in due:
                    self._timed.remove(event)
                    self._fire(event)
            time.sleep(0.2)

    def _accept(self):
        while not self._stopped:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
                upstream.settimeout(None)
            except OSError as e:
                with self._lock:
                    self._note("cannot reach %s:%d: %s" % (self.target + (e.strerror,)))
                client.close()
                continue
            with self._lock:
                if self._started is None:
                    self._started = time.monotonic()
                    threading.Thread(target=self._clock, daemon=True).start()
                link = {"sockets": (client, upstream), "closed": False}
                self._live.append(link)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(link, source, sink),
                                 daemon=True).start()

    def _pump(self, link, source, sink):
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            with self._lock:
                if data and not link["closed"]:
                    self.bytes += len(data)
                    while self._pending and self._pending[0]["at_bytes"] <= self.bytes:
                        self._fire(self._pending.pop(0))
                closed = link["closed"]
            if not data or closed:
                break
            while time.monotonic() < self._stalled_until and not self._stopped:
                time.sleep(0.1)
            try:
                sink.sendall(data)
            except OSError:
                break
        with self._lock:
            link["closed"] = True
        self._shutdown((source, sink))
