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

import codecs
import ctypes
import hashlib
import os
import random
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
WORK_BASE = os.environ.get("RESCUE_TEST_WORK", os.path.join(TOP, "tests", "qemu", "work"))
IMAGE = os.environ.get("RESCUE_IMAGE", os.path.join(TOP, "images", "rescue.efi"))
SOURCE_DATE_EPOCH = os.environ.get("SOURCE_DATE_EPOCH", "1700000000")
BOOT_OPTIONS = ("--kernel", "--efi-disk", "--boot-disk", "--iso", "--net-boot")


class TestFailure(AssertionError):
    """A check failed; the message is the reason the runner prints."""


class GuestExited(TestFailure):
    """QEMU ended while a test was still waiting for console output."""


def run(argv, **kwargs):
    """Run a host command; fail with its name, arguments and stderr."""
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    proc = subprocess.run(argv, text=True, **kwargs)
    if proc.returncode != 0:
        raise TestFailure("%s exited %d: %s" % (" ".join(argv), proc.returncode,
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
            raise TestFailure("timeout after %g s waiting for %s" % (timeout, what))
        time.sleep(interval)


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
    seconds whatever the test does (a last line of defence).
    """

    def __init__(self, args, workdir, name="guest", qemu_timeout=900):
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
        argv = [QEMU_RUN, "--timeout", str(qemu_timeout)] + args[:len(args) - len(raw)] + [
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
                raise TestFailure("console socket %s did not open in 60 s" % self._sockpath)
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
                    raise TestFailure(
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
            raise TestFailure("guest %s has no console to type into" % self.name)
        self._sock.sendall(text.encode() if isinstance(text, str) else text)

    def sendline(self, text):
        self.send(text + "\r")

    def wait_exit(self, timeout=60):
        """Wait for QEMU to end by itself (guest power-off); return qemu-run's exit code."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure("guest %s still running after %g s; last 40 console lines:\n%s"
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
                raise TestFailure("dirty journal content for %s is over one block (%d bytes)"
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
            raise TestFailure("debugfs left no needs_recovery flag on %s" % image)
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
            raise TestFailure("make_ext4: bad partitioned '%s' (want False, True, mbr or gpt)"
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
        raise TestFailure("no host key at 127.0.0.1:%d matches %s (ssh-keyscan: %s)"
                          % (port, sorted(wanted), scan.stderr.strip()[-300:]))
    with open(known_hosts, "w") as f:
        f.write("\n".join(lines) + "\n")
    return known_hosts


def known_hosts_line(port, public_key_line, host="127.0.0.1"):
    """A known_hosts line for a server with the public key PUBLIC_KEY_LINE."""
    kind, blob = public_key_line.split()[:2]
    return "[%s]:%d %s %s" % (host, port, kind, blob)


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
            raise TestFailure("%s on port %d exited %d; see %s"
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


class CuttingProxy:
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
        self._lock = threading.Lock()
        self._live = []
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", port or 0))
        self._server.listen(8)
        self.port = self._server.getsockname()[1]
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

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
        if self.freeze:
            return
        for sock in link["sockets"]:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

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
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut_now(self):
        with self._lock:
            for link in self._live:
                if not link["broken"]:
                    self.cut_count += 1
                    self._break(link)

    def stop(self):
        self._stopped = True
        self._server.close()
        with self._lock:
            for link in self._live:
                link["broken"] = False
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
