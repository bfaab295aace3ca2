"""Builds are reproducible: the initramfs built twice from the same inputs
is the same bytes (sorted entries, fixed owners and times)."""

import filecmp
import os

import lib


def test_initramfs_twice(ctx):
    mk = os.path.join(lib.TOP, "tools", "mkinitramfs")
    rescue = os.path.join(lib.TOP, "build", "rescue", "rescue")
    first, second = ctx.path("first.cpio"), ctx.path("second.cpio")
    lib.run([mk, first, rescue])
    # A different clock must not matter either.
    os.utime(rescue)
    lib.run([mk, second, rescue])
    assert os.path.getsize(first) > 1024 * 1024, "initramfs suspiciously small"
    assert filecmp.cmp(first, second, shallow=False), "two initramfs builds differ"
