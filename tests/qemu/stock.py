"""Debian's own pieces for boot tests and benchmarks: the stock 6.1 kernel
(what a hoster's rescue system or a customer's server runs), Debian's
kexec-tools with its libraries, and small initramfs images around them.

stock_kernel() downloads the image package of linux-image-amd64 once into
RESCUE_CACHE/bench/stock (shared with bench/); make_initramfs() packs a
directory; hoster_root() fills one with busybox (ours, static), Debian's
/usr/sbin/kexec and every library it links, and an /init script.
"""

import fcntl
import glob
import os
import shutil
import subprocess

import lib

CACHE = os.environ.get("RESCUE_CACHE", os.path.expanduser("~/.cache/rescue"))


def stock_kernel():
    """vmlinuz of Debian's linux-image-amd64, downloaded once into the cache."""
    out = os.path.join(CACHE, "bench", "stock")
    os.makedirs(out, exist_ok=True)
    # Tests run in parallel: one download at a time, the others reuse it.
    with open(os.path.join(out, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = glob.glob(os.path.join(out, "boot", "vmlinuz-*"))
        if found:
            return found[0]
        depends = lib.run(["apt-cache", "depends", "linux-image-amd64"]).stdout
        package = [l.split()[-1] for l in depends.splitlines()
                   if "Depends:" in l and "linux-image-" in l][0]
        lib.run(["apt-get", "download", package], cwd=out)
        deb = glob.glob(os.path.join(out, "*.deb"))[0]
        lib.run(["dpkg-deb", "-x", deb, out])
        return glob.glob(os.path.join(out, "boot", "vmlinuz-*"))[0]


def busybox():
    """Our static busybox (tools/build-package caches it)."""
    built = lib.run([os.path.join(lib.TOP, "tools", "build-package"), "busybox"]).stdout
    return os.path.join(built.strip().splitlines()[-1], "bin", "busybox")


def _libraries(program):
    """The shared objects PROGRAM loads, its loader among them (from ldd)."""
    found = []
    for line in lib.run(["ldd", program]).stdout.splitlines():
        words = line.split()
        path = words[2] if len(words) > 2 and words[1] == "=>" else words[0]
        if path.startswith("/"):
            found.append(path)
    return found


def _install(root, source, dest=None):
    target = os.path.join(root, (dest or source).lstrip("/"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copy(source, target)
    return target


def hoster_root(root, init, files=()):
    """A root directory for a stock-kernel initramfs: busybox, Debian's
    kexec with its libraries, FILES ((source, dest) pairs) and INIT as /init."""
    for sub in ("bin", "dev", "proc", "sys", "tmp"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    _install(root, busybox(), "/bin/busybox")
    for name in ("sh", "mount", "echo", "cat", "sed", "poweroff", "sleep"):
        os.symlink("busybox", os.path.join(root, "bin", name))
    kexec = shutil.which("kexec") or "/usr/sbin/kexec"
    _install(root, kexec, "/bin/kexec")
    for library in _libraries(kexec):
        _install(root, library)
    for source, dest in files:
        _install(root, source, dest)
    with open(os.path.join(root, "init"), "w") as f:
        f.write(init)
    os.chmod(os.path.join(root, "init"), 0o755)
    return root


def make_initramfs(root, path):
    """Pack ROOT into the newc cpio archive PATH; return PATH."""
    with open(path, "wb") as out:
        subprocess.run("find . | sort | cpio -o -H newc --quiet -R 0:0", shell=True, cwd=root,
                       stdout=out, check=True)
    return path
