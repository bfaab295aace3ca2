"""`rescue image` to an ssh:// target: the host's own OpenSSH sshd (nothing but its sftp
subsystem on the receiving side), reached through a proxy that breaks the connection at
random points. The source has real failing sectors (QEMU blkdebug).

The run reconnects after every cut and ends with the host's vda.img equal to the source
with the failing sectors zeroed and vda.map's bad areas exactly those sectors. A guest
killed mid-run (QEMU gone, as by a power cut) boots again and the same command resumes
from the map on the host to the same result. A disk with free space (zeros) arrives with
those zeros as holes in the host's file, also when a run ends inside them and the next
resumes; --no-sparse sends every byte. Wrong credentials, a missing directory and
a host where nothing listens fail at once with exit 3 and a message naming the target
without its password. The source disk is unchanged."""

import hashlib
import os
import re
import shutil
import time

import lib
from test_image import BAD, SIZE_MB, _bad_runs, _make_source, _map_extents

TIMEOUT = 1200


def _check_host_files(directory, expected_sha):
    with open(os.path.join(directory, "vda.map")) as f:
        text = f.read()
    assert "# rescue source: vda size %d sector 512" % (SIZE_MB << 20) in text, text
    assert _map_extents(text, "-") == _bad_runs(), "bad areas differ:\n" + text
    for state in "?*/":
        assert not _map_extents(text, state), "state %s left:\n%s" % (state, text)
    assert lib.sha256(os.path.join(directory, "vda.img")) == expected_sha, \
        "the image on the host is not the source with its bad sectors zeroed"
    assert os.path.exists(os.path.join(directory, "vda.map.bak")), "no vda.map.bak kept"


def _config_disk(ctx):
    """A RESCUECFG directory with the client key the guest logs in with."""
    cfg = ctx.path("cfg")
    os.makedirs(cfg)
    private, public = lib.ssh_keypair(ctx.path(), name="client")
    shutil.copy(private, os.path.join(cfg, "id_ed25519"))
    with open(public) as f:
        return cfg, f.read().strip()


def _receiver(ctx, *names):
    """The config disk with the guest's key, the host's sshd that lets it in, and fresh
    directories NAMES on the host to image into."""
    cfg, client_line = _config_disk(ctx)
    directories = [ctx.path(name) for name in names]
    for directory in directories:
        os.makedirs(directory)
    sshd = lib.SshServer(ctx.path(), authorized_keys=[client_line])
    ctx.on_cleanup(sshd.stop)
    return cfg, sshd, directories


def _guest(ctx, source, faults, cfg, ports, name):
    args = ["--disk", source + ",faults=" + faults, "--config", cfg, "--memory", "512"]
    for port in ports:
        args += ["--host-port", str(port)]
    return ctx.shell(*args, name=name)


def test_image_ssh_cuts_reboot_and_refusals(ctx):
    source = ctx.path("src.img")
    expected_sha = _make_source(source)
    before = lib.sha256(source)
    faults = lib.blkdebug_config(ctx.path("faults.conf"), BAD)
    cfg, sshd, (first, second) = _receiver(ctx, "first", "second")
    # Cut after 1-6 MiB on a connection, four times: the 32 MiB image (plus SSH's own
    # bytes) cannot get through without them.
    proxy = lib.CuttingProxy(sshd.port, cuts=4, low=1 << 20, high=6 << 20, seed=11)
    ctx.on_cleanup(proxy.stop)
    url = "ssh://root@10.0.2.2:%d" % proxy.port
    # A slow link, so that a run outlasts the 30 s between map saves.
    slow = lib.CuttingProxy(sshd.port, cuts=0, rate=512 << 10)
    ctx.on_cleanup(slow.stop)
    slow_url = "ssh://root@10.0.2.2:%d" % slow.port

    # 1. Cut four times: every cut is reported and reconnected, nothing is lost.
    guest = _guest(ctx, source, faults, cfg, [proxy.port, slow.port], "guest")
    started = time.monotonic()
    code, text = lib.console_run(guest, "rescue image vda %s%s" % (url, first), timeout=900)
    with open(ctx.path("first-run.txt"), "w") as f:
        f.write(text)
    assert code == 1, "exit %d, want 1 (bad areas):\n%s" % (code, text)
    assert proxy.cut_count == 4, "the proxy cut %d times:\n%s" % (proxy.cut_count, text)
    reconnected = len(re.findall(r"reconnected", text))
    assert reconnected >= 4, "%d reconnects for 4 cuts:\n%s" % (reconnected, text)
    assert re.search(r"reconnecting in 1 s \(attempt 1\)", text), text
    _check_host_files(first, expected_sha)
    print("first run with 4 cuts: %.0f s" % (time.monotonic() - started))

    # 2. The guest dies mid-run (QEMU killed once the map on the host claims rescued
    # bytes): a new boot resumes from that map.
    lib.console_run(guest, "rescue image vda %s%s > /tmp/run.log 2>&1 &" % (slow_url, second))
    map_path = os.path.join(second, "vda.map")

    def claims_progress():
        if not os.path.exists(map_path):
            return False
        with open(map_path) as f:
            text = f.read()
        return bool(_map_extents(text, "+")) and bool(_map_extents(text, "?"))

    lib.wait_until(claims_progress, 300, "a map on the host with rescued and untried bytes")
    guest.stop()
    with open(map_path) as f:
        killed_map = f.read()
    guest = _guest(ctx, source, faults, cfg, [proxy.port], "guest2")
    code, text = lib.console_run(guest, "rescue image vda %s%s" % (url, second), timeout=900)
    assert code == 1 and "resuming from its map" in text, "exit %d:\n%s" % (code, text)
    _check_host_files(second, expected_sha)
    print("map on the host when the guest was killed:\n" + killed_map)

    # 3. Refusals: fast, exit 3, the target named, no password shown, nothing written.
    for target, pattern in [
            ("ssh://ghost:hunter2@10.0.2.2:%d%s" % (proxy.port, first),
             r"ssh://ghost:\*\*\*@10\.0\.2\.2:%d.*(auth|denied|refused)" % proxy.port),
            ("%s/no/such/dir" % url, r"/no/such/dir: no such directory"),
            ("ssh://root:hunter2@10.0.2.2:1%s" % first,
             r"ssh://root:\*\*\*@10\.0\.2\.2:1/.*(refused|unreachable|timed out|no route)")]:
        started = time.monotonic()
        code, text = lib.console_run(guest, "rescue image vda '%s'" % target, timeout=120)
        took = time.monotonic() - started
        assert code == 3, "%s: exit %d, want 3:\n%s" % (target, code, text)
        assert re.search(pattern, text, re.I), "%s: message lacks %r:\n%s" % (target, pattern, text)
        assert "hunter2" not in text, "the password shows:\n" + text
        assert took < 60, "%s took %.0f s to fail" % (target, took)
    _check_host_files(first, expected_sha)
    code, text = lib.console_run(guest, "rescue log --tail 8")
    assert "hunter2" not in text, text
    guest.stop(command="poweroff")
    assert lib.sha256(source) == before, "the source disk changed"


def _sparse_source(path):
    """32 MiB: 8 MiB of data, zeros with one 4 KiB block of data at 16 MiB, zeros to the end.
    Its sha256 and that of its first 28 MiB."""
    data = bytearray(32 << 20)
    data[:8 << 20] = os.urandom(8 << 20)
    data[16 << 20:(16 << 20) + 4096] = os.urandom(4096)
    with open(path, "wb") as f:
        f.write(data)
    return lib.sha256(path), hashlib.sha256(data[:28 << 20]).hexdigest()


def test_image_ssh_leaves_zeros_as_holes(ctx):
    source = ctx.path("sparse.img")
    whole_sha, part_sha = _sparse_source(source)
    cfg, sshd, (sparse, dense) = _receiver(ctx, "sparse", "dense")
    url = "ssh://root@10.0.2.2:%d" % sshd.port
    guest = ctx.shell("--disk", source, "--config", cfg, "--memory", "512",
                      "--host-port", str(sshd.port), name="guest")
    image = os.path.join(sparse, "vda.img")

    # 1. A run that ends inside the zeros at 28 MiB: the file is as long as the map says,
    # though the zeros before it were never sent.
    code, text = lib.console_run(guest, "rescue image vda %s%s --size 28M" % (url, sparse),
                                 timeout=600)
    assert code == 0, "exit %d:\n%s" % (code, text)
    assert re.search(r"\d+ bytes of zeros were not sent", text), text
    assert os.path.getsize(image) == 28 << 20, os.path.getsize(image)
    assert lib.sha256(image) == part_sha, "the first 28 MiB differ from the source's"

    # 2. The same disk whole: resumes from that map, ends as the source, holes kept.
    code, text = lib.console_run(guest, "rescue image vda %s%s" % (url, sparse), timeout=600)
    assert code == 0 and "resuming from its map" in text, "exit %d:\n%s" % (code, text)
    assert lib.sha256(image) == whole_sha, "the image differs from the source"
    allocated = os.stat(image).st_blocks * 512
    assert allocated < (9 << 20), "%d bytes allocated for 8 MiB and 4 KiB of data" % allocated

    # 3. --no-sparse: every byte sent and allocated.
    code, text = lib.console_run(guest, "rescue image vda %s%s --no-sparse" % (url, dense),
                                 timeout=600)
    assert code == 0 and "zeros were not sent" not in text, "exit %d:\n%s" % (code, text)
    dense_image = os.path.join(dense, "vda.img")
    assert lib.sha256(dense_image) == whole_sha, "the --no-sparse image differs"
    assert os.stat(dense_image).st_blocks * 512 >= 32 << 20, "holes in the --no-sparse image"
    guest.stop(command="poweroff")
    assert lib.sha256(source) == whole_sha, "the source disk changed"
