"""What the guest benchmarks share: the host's own tools shipped into the guest in
a bench-only extra initramfs, timing a command in the guest's shell, the client
key the guest offers the host's sshd, and the file trees and ext4 disks made of
them."""

import os
import random
import re
import statistics
import shutil
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "qemu"))
import lib  # noqa: E402,F401  (re-exported for the benchmarks)

EFI = os.path.join(TOP, "images", "rescue.efi")
SHIPPED = "/opt/host"


def ship_host_binaries(cpio, binaries, package_hint):
    """The host's BINARIES (names on PATH), their shared libraries and the dynamic loader
    under /opt/host in the cpio CPIO. {name: guest command line running it}."""
    paths = {}
    for name in binaries:
        found = shutil.which(name)
        if not found:
            raise SystemExit("bench: %s not found on the host (apt-get install %s)"
                             % (name, package_hint))
        paths[name] = found
    libraries = set()
    for found in paths.values():
        libraries.update(re.findall(r"(/\S+\.so[.\d]*) \(0x", subprocess.run(
            ["ldd", found], capture_output=True, text=True, check=True).stdout))
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, SHIPPED[1:], "lib"))
        for name, found in paths.items():
            shutil.copy(found, os.path.join(root, SHIPPED[1:], name))
        for library in libraries:
            shutil.copy(os.path.realpath(library),
                        os.path.join(root, SHIPPED[1:], "lib", os.path.basename(library)))
        subprocess.run("find opt | cpio -o -H newc --quiet > %s" % cpio, shell=True,
                       cwd=root, check=True)
    loader = [os.path.basename(l) for l in libraries if "ld-linux" in l][0]
    return {name: "%s/lib/%s --library-path %s/lib %s/%s" % (SHIPPED, loader, SHIPPED,
                                                            SHIPPED, name)
            for name in paths}


def host_version(binary):
    return subprocess.run([binary, "--version"], capture_output=True,
                          text=True).stdout.splitlines()[0]


def timed(guest, command, timeout=1800):
    """Runs COMMAND in the guest's shell after dropping caches: (exit, seconds, output)."""
    code, text = lib.console_run(
        guest, "sync; echo 3 > /proc/sys/vm/drop_caches; s=$(cut -d' ' -f1 /proc/uptime); "
        "%s; rc=$?; e=$(cut -d' ' -f1 /proc/uptime); echo BENCH $rc $s $e" % command,
        timeout=timeout)
    found = re.findall(r"^BENCH (\d+) ([\d.]+) ([\d.]+)$", text, re.M)
    if not found:
        raise SystemExit("bench: %s did not finish:\n%s" % (command, text[-2000:]))
    rc, start, end = found[-1]
    return int(rc), float(end) - float(start), text


def trust_guest_key(guest, ssh):
    """Lets the guest's client key into SSH (lib.SshServer) and its host key into the
    guest's known hosts. The ssh:// URL of SSH's directory DIRECTORY."""
    code, text = lib.console_run(guest, "rescue target key")
    key = [l for l in text.splitlines() if l.startswith("ssh-")]
    if not key:
        raise SystemExit("bench: no client key from the guest:\n" + text)
    with open(ssh.authorized_keys, "w") as f:
        f.write(key[0] + "\n")
    url = "ssh://root@10.0.2.2:%d%s" % (ssh.port, ssh.dir)
    lib.console_run(guest, "rescue target test %s" % url, timeout=120)
    return url


def dbclient(ssh, remote_command):
    """The guest's dbclient running REMOTE_COMMAND on SSH's server, with the rescue key."""
    return ("dbclient -y -i /run/rescue/client/id_ed25519 -p %d root@10.0.2.2 '%s'"
            % (ssh.port, remote_command))


def interleaved(runners, runs):
    """Runs each of RUNNERS ([(key, callable returning seconds)]) RUNS times, interleaved
    and in alternating order, so drifts in the host's load hit all alike. {key: [seconds]}."""
    times = {key: [] for key, _ in runners}
    for i in range(runs):
        for key, run in (runners if i % 2 == 0 else list(reversed(runners))):
            times[key].append(run())
    return times


def paired_ratio(times, theirs, ours):
    """The median of THEIRS' time over OURS' in each round: under TCG on a shared machine,
    identical runs swing by a third for minutes at a time; the two runs of one round
    share the same weather, so their ratio is steadier than a ratio of medians."""
    return statistics.median(t / o for t, o in zip(times[theirs], times[ours]))


WORDS = [("%x" % random.Random(7).getrandbits(24 + 4 * (i % 5))) for i in range(2000)]


def text(rng, size):
    """SIZE bytes of words with a Zipf-like spread (compresses to about a third)."""
    out = []
    length = 0
    while length < size:
        word = WORDS[int(rng.paretovariate(1.2)) % len(WORDS)]
        out.append(word)
        length += len(word) + 1
    return (" ".join(out)).encode()[:size]


def mixed_tree(directory, megabytes, seed=31):
    """Files of 4 KiB .. 8 MiB (log-uniform) up to MEGABYTES, half random, half text.
    The number of files."""
    rng = random.Random(seed)
    total, count = 0, 0
    while total < megabytes << 20:
        size = min(int(2 ** rng.uniform(12, 23)), (megabytes << 20) - total)
        folder = os.path.join(directory, "d%02d" % (count % 16))
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "f%05d" % count), "wb") as f:
            f.write(rng.randbytes(size) if count % 2 else text(rng, size))
        total += size
        count += 1
    return count


def ext4_from(directory, image, size_mb, inodes):
    """A new ext4 of SIZE_MB holding DIRECTORY (its free space zeros); its sha256."""
    with open(image, "wb") as f:
        f.truncate(size_mb << 20)
    lib.run(["mke2fs", "-q", "-F", "-t", "ext4", "-b", "1024" if inodes > 10000 else "4096",
             "-N", str(inodes), "-E", "root_owner=0:0", "-d", directory, image])
    return lib.sha256(image)
