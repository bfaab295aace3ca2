"""`rescue dump` of a tree of many small files in a 128 MiB guest, to the host's OpenSSH,
every file checked on the host (issue 18).

The tree: FILES small files, half of them in one directory, the rest spread over 200;
one inode linked from 100 directories; a path of 3,972 bytes (with the host's work
directory in front it still fits PATH_MAX there). One boot: the dump runs
with its peak memory (VmHWM) sampled every second, exits 0, stays under MEMORY_LIMIT_KB;
on the host, the volumes extract with GNU tar, `sha256sum -c` passes for every file, the
extracted tree equals the source, the hundred links are one inode, the manifest names
every path once. The source disk is unchanged. The same check with 200,000 files is the
opt-in `make test-scale` (tests/qemu/scale/test_dump_scale.py): too slow under TCG for
`make test`."""

import json
import os
import re
import subprocess
import time

import dump_fixture as fixture
import lib
from test_image_ssh import _config_disk

TIMEOUT = 600
FILES = 24000
MEMORY_LIMIT_KB = 48 << 10	# the goal is 64 MiB for ten million files
LINKED = "links/shared.txt"


def _make_tree(root, files=FILES):
    os.makedirs(root)
    crowd = os.path.join(root, "crowd")
    os.makedirs(crowd)
    for i in range(files // 2):
        with open(os.path.join(crowd, "m%06d" % i), "w") as f:
            f.write("crowd %d\n" % i)
    for i in range(files // 2):
        directory = os.path.join(root, "spread", "d%03d" % (i % 200))
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "f%06d.txt" % i), "w") as f:
            f.write("spread %d\n" % i * (i % 5 + 1))
    os.makedirs(os.path.join(root, "links"))
    with open(os.path.join(root, LINKED), "w") as f:
        f.write("one inode, a hundred names\n")
    for i in range(100):
        os.link(os.path.join(root, LINKED), os.path.join(root, "spread", "d%03d" % i, "shared"))
    deep = os.path.join(root, "deep", *["%s%02d" % ("p" * 195, i) for i in range(20)])
    os.makedirs(deep)
    with open(os.path.join(deep, "end.txt"), "w") as f:
        f.write("at the end of a long path\n")
    return os.path.relpath(os.path.join(deep, "end.txt"), root)


def _ext4(image, tree, files=FILES):
    """1 KiB blocks and enough inodes: the small files take 1 KiB each (and their inode
    256 bytes), so the disk grows with the file count."""
    lib.make_disk_image(image, max(112, files * 1536 // (1 << 20) + 64))
    epoch = int(lib.SOURCE_DATE_EPOCH)
    for directory, dirs, names in os.walk(tree):
        for name in dirs + names:
            os.utime(os.path.join(directory, name), (epoch, epoch), follow_symlinks=False)
    lib.run(["mkfs.ext4", "-q", "-F", "-b", "1024", "-N", str(files + 2000), "-d", tree,
             image], env=dict(os.environ, E2FSPROGS_FAKE_TIME=lib.SOURCE_DATE_EPOCH))
    return image


def dump_many(ctx, files, memory_limit_kb, timeout):
    """The whole check for FILES files; the dump's peak VmHWM must stay under
    MEMORY_LIMIT_KB, the console command under TIMEOUT seconds."""
    tree = ctx.path("tree")
    deep = _make_tree(tree, files)
    assert len(deep) > 3950, len(deep)
    source = _ext4(ctx.path("many.img"), tree, files)
    before = lib.sha256(source)
    cfg, client_line = _config_disk(ctx)
    sshd = lib.SshServer(ctx.path(), authorized_keys=[client_line])
    ctx.on_cleanup(sshd.stop)
    out = ctx.path("out")
    os.makedirs(out)
    guest = ctx.shell("--config", cfg, "--memory", "128", "--disk", source, "--host-port",
                      str(sshd.port), name="guest")
    # The dump in the background, its VmHWM read every second while it runs.
    # `rescue disks` while it runs: the guest is short of memory, so it says so and lists
    # the dump with what it holds (deliverable 4).
    command = ("rescue dump --compress zstd vda ssh://root@10.0.2.2:%d%s > /tmp/dump.log 2>&1 "
               "& pid=$!; sleep 3; rescue disks > /tmp/disks.txt; "
               "while kill -0 $pid 2>/dev/null; do "
               "grep VmHWM /proc/$pid/status >> /tmp/hwm 2>/dev/null; sh /tmp/sample; "
               "sleep 1; done; "
               "wait $pid; echo \"dump exit $?\"; tail -n 8 /tmp/dump.log; tail -n 1 /tmp/hwm; "
               "echo \"dump pid $pid\"; cat /tmp/disks.txt; "
               # a kill says why (the console has kernel messages off)
               "dmesg | grep -iE 'out of memory|oom-kill|killed process' | tail -n 8; "
               "sh /tmp/why; sh /tmp/vm; "
               "grep -E '^(MemAvailable|Shmem|Slab):' /proc/meminfo"
               % (sshd.port, out))
    # Each second, the guest's memory and the three largest processes; after a kill, the
    # last samples and the kernel's report (an OOM kill names the allocation that failed:
    # a fork's order-2 stack, with memory "available", is fragmentation). In scripts:
    # busybox ash takes command lines of at most 1,024 characters.
    lib.console_run(guest, "echo 'echo $(grep -E \"^(MemFree|MemAvailable|Slab|SUnreclaim|"
                    "Shmem):\" /proc/meminfo) $(grep -h VmRSS /proc/[0-9]*/status | sort -k2 -n "
                    "| tail -n 3 | tr -s \" \\n\" \" \") >> /tmp/memlog' > /tmp/sample; "
                    "echo 'tail -n 10 /tmp/memlog; dmesg | tail -n 70' > /tmp/why", timeout=30)
    # After the dump: the reserve and cache pressure it ran with, what compaction did
    # (direct: compact_stall, background: compact_daemon_wake) and the free blocks by order.
    lib.console_run(guest, "echo 'echo vm: min_free_kbytes $(cat /proc/sys/vm/min_free_kbytes) "
                    "vfs_cache_pressure $(cat /proc/sys/vm/vfs_cache_pressure) $(grep -E "
                    "\"^(compact_|pgmigrate_)\" /proc/vmstat | tr \"\\n\" \" \"); "
                    "cat /proc/buddyinfo' > /tmp/vm", timeout=30)
    started = time.monotonic()
    code, text = lib.console_run(guest, command, timeout=timeout)
    seconds = time.monotonic() - started
    with open(ctx.path("run.txt"), "w") as f:
        f.write(text)
    assert "dump exit 0" in text, text
    pid = re.search(r"dump pid (\d+)", text).group(1)
    low = re.search(r"^low memory: ([\d.]+) MiB in all, ([\d.]+) MiB available; rescue "
                    r"commands running: 1$", text, re.M)
    assert low and float(low.group(1)) < 128, text[-3000:]
    using = re.search(r"^  pid %s +rescue dump +uses ([\d.]+) MiB \(at most ([\d.]+) MiB\)$"
                      % pid, text, re.M)
    assert using and 0 < float(using.group(1)) <= float(using.group(2)), text[-3000:]
    peak = [int(kb) for kb in re.findall(r"VmHWM:\s+(\d+) kB", text)]
    assert peak and peak[-1] < memory_limit_kb, "peak %s kB:\n%s" % (peak, text)
    print("rescue dump of %d files in a 128 MiB guest: VmHWM %d kB, %.0f s"
          % (files, peak[-1], seconds))
    vm = re.search(r"^vm: .*$", text, re.M)
    assert vm, text[-3000:]
    print(vm.group(0))
    for line in re.findall(r"^Node 0, zone .*$", text, re.M):
        print(line)
    guest.stop(command="poweroff")

    detail = fixture.manifest(out, "vda")
    paths = [e["path"] for e in detail["entries"]]
    assert len(paths) == len(set(paths)), "a path named twice in the manifest"
    assert not [e for e in detail["entries"] if e["status"] != "copied"
                and e["path"] != "lost+found"]
    extracted = ctx.path("extracted")
    volumes = fixture.extract(out, "vda", extracted)
    assert len(volumes) > 1, volumes	# closed early for the manifest's sake, at least
    code, checked = fixture.sha256sum_check(out, "vda", extracted)
    assert code == 0, checked[-2000:]
    expected = files + 100 + 2
    assert checked.count(": OK") == expected, (checked.count(": OK"), expected)
    differences = fixture.compare_trees(tree, extracted, ignore={"lost+found"})
    assert not differences, "\n".join(differences[:20])
    inodes = {os.lstat(os.path.join(extracted, "spread", "d%03d" % i, "shared")).st_ino
              for i in range(100)}
    assert inodes == {os.lstat(os.path.join(extracted, LINKED)).st_ino}, inodes
    assert os.path.exists(os.path.join(extracted, deep))
    assert lib.sha256(source) == before, "the source disk changed"


def test_dump_many_small_files_in_128m(ctx):
    dump_many(ctx, FILES, MEMORY_LIMIT_KB, 480)
