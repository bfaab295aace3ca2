"""`rescue undelete` against ext4magic 0.3.2 (-r and -m) and extundelete 0.2.4 (Debian), on
the host, on the same images: file systems where the host's kernel wrote an application
tree and deleted it (tests/fixtures/make-deleted-tree, as root: ext4 with mke2fs's
defaults, 4 KiB blocks, without metadata_csum, ext3, a wrapped 1 MiB journal, the
freed space taken again by a file deleted later, inline_data with extended attributes,
and a journal on an external device, which ext4magic is given with -j; extundelete has
no way to be told of one).

For each tool: files recovered byte-exact (found anywhere in its output by content), of
those how many at their original path, and time; printed with the ratios against rescue.
Each tool reads a copy of the image (ext4magic and extundelete open it read-only, but
that is theirs to say): the copy's sha256 is checked afterwards anyway. Nothing is
asserted: a benchmark reports.

usage: python3 bench/undelete.py     (root; apt-get install ext4magic extundelete)
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(TOP, "tests", "fixtures", "make-deleted-tree")

FIXTURES = [
    ("ext4 defaults (1 KiB blocks)", []),
    ("ext4 4 KiB blocks", ["-b", "4096"]),
    ("ext4 no metadata_csum", ["-O", "^metadata_csum"]),
    ("ext3", ["-t", "ext3"]),
    ("ext4 wrapped journal", ["--wrap", "-J", "size=1"]),
    ("ext4 blocks taken again", ["--reuse"]),
    ("ext4 inline_data, xattrs", ["--xattrs", "-O", "inline_data"]),
    ("ext4 external journal", ["--external-journal", "JOURNAL"]),
]


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def build_rescue(work):
    """The host build of rescue from src/ (the unit tests' objects)."""
    build = os.path.join(work, "build")
    subprocess.run(["make", "-s", "-j2", "-C", os.path.join(TOP, "src"), "O=" + build,
                    build + "/host/rescue"], check=True, stdout=subprocess.DEVNULL)
    return build + "/host/rescue"


def make_fixture(work, name, options):
    """The fixture's directory, image, deletion window, {path: sha256} and its external
    journal's image (None: the journal is inside)."""
    directory = os.path.join(work, name.replace(" ", "_").replace("(", "").replace(")", "")
                             .replace(",", ""))
    os.makedirs(directory)
    journal = os.path.join(directory, "journal.img") if "JOURNAL" in options else None
    options = [journal if o == "JOURNAL" else o for o in options]
    flags = options[:2] if journal else [o for o in options if o.startswith("--")]
    mkfs = [] if journal else [o for o in options if not o.startswith("--")]
    image, expected = os.path.join(directory, "image"), os.path.join(directory, "expected")
    subprocess.run([SCRIPT] + flags + [image, expected] + mkfs, check=True)
    with open(os.path.join(directory, "deleted.json")) as f:
        deleted = json.load(f)
    window = (deleted["before"] - 3600, deleted["after"] + 60)
    return directory, image, window, {path: sha256(os.path.join(expected, path))
                                      for path in deleted["files"]}, journal


def run_rescue(rescue, image, out, journal=None):
    target = os.path.join(out, "target")
    os.makedirs(target)
    subprocess.run([rescue, "undelete"] + (["--journal", journal] if journal else [])
                   + [image, "file://" + target], capture_output=True)
    tree = os.path.join(out, "tree")
    os.makedirs(tree)
    for volume in sorted(os.listdir(target)):
        if ".tar." in volume and not volume.endswith(".part"):
            subprocess.run(["tar", "--xattrs", "--xattrs-include=*", "-xpf",
                            os.path.join(target, volume), "-C", tree],
                           check=True)
    return tree


def run_ext4magic(mode, image, out, window=None, journal=None):
    """Once as a new user runs it (its default window: the last 24 hours), once with the
    deletion window given as -a/-b: each does better on some images. An external journal
    is given with -j."""
    times = ["-a", str(window[0]), "-b", str(window[1])] if window else []
    times += ["-j", journal] if journal else []
    subprocess.run(["ext4magic", image, mode] + times + ["-d", out], capture_output=True,
                   stdin=subprocess.DEVNULL, timeout=900)
    return out


def run_extundelete(image, out):
    """-o takes a path relative to the working directory (an absolute one fails with "No
    such file or directory while creating directory")."""
    subprocess.run(["extundelete", image, "--restore-all", "-o", os.path.basename(out)],
                   cwd=os.path.dirname(out), capture_output=True, stdin=subprocess.DEVNULL,
                   timeout=900)
    return out


def score(root, expected):
    """(byte-exact anywhere, byte-exact at the original path) of EXPECTED {path: sha256}
    in the tree ROOT (a path counts when ROOT/.../PATH ends with it, whatever prefix the
    tool puts in front)."""
    found = {}
    for directory, _, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            if os.path.isfile(path) and not os.path.islink(path):
                found.setdefault(sha256(path), []).append(os.path.relpath(path, root))
    exact = at_path = 0
    for path, digest in expected.items():
        places = found.get(digest, [])
        exact += bool(places)
        at_path += any(p == path or p.endswith("/" + path) for p in places)
    return exact, at_path


def measure(tool, run, image, out, expected):
    before = sha256(image)
    started = time.monotonic()
    root = run(image, out)
    seconds = time.monotonic() - started
    exact, at_path = score(root, expected)
    unchanged = sha256(image) == before
    return {"tool": tool, "exact": exact, "at_path": at_path, "seconds": seconds,
            "image_unchanged": unchanged}


def ratio(ours, theirs):
    return "%.2fx" % (ours / theirs) if theirs else ("inf" if ours else "-")


def main():
    if os.geteuid() != 0:
        raise SystemExit("bench/undelete.py: needs root (the fixtures are loop-mounted)")
    for tool in ("ext4magic", "extundelete"):
        if not shutil.which(tool):
            raise SystemExit("bench/undelete.py: %s not found (apt-get install %s)"
                             % (tool, tool))
    work = tempfile.mkdtemp(prefix="bench-undelete.")
    results = []
    try:
        rescue = build_rescue(work)
        for name, options in FIXTURES:
            directory, image, window, expected, journal = make_fixture(work, name, options)
            tools = [
                ("rescue undelete", lambda i, o: run_rescue(rescue, i, o, journal)),
                ("ext4magic -r", lambda i, o: run_ext4magic("-r", i, o, None, journal)),
                ("ext4magic -m", lambda i, o: run_ext4magic("-m", i, o, None, journal)),
                ("ext4magic -r -a -b", lambda i, o: run_ext4magic("-r", i, o, window, journal)),
                ("ext4magic -m -a -b", lambda i, o: run_ext4magic("-m", i, o, window, journal)),
                ("extundelete", run_extundelete),
            ]
            rows = []
            for tool, run in tools:
                copy = os.path.join(directory, "copy.img")
                shutil.copyfile(image, copy)
                out = os.path.join(directory, tool.replace(" ", "_").replace("-", ""))
                os.makedirs(out)
                rows.append(measure(tool, run, copy, out, expected))
                os.unlink(copy)
            results.append((name, len(expected), rows))
            report(name, len(expected), rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(TOP, "bench", "results"), exist_ok=True)
    with open(os.path.join(TOP, "bench", "results", "undelete.json"), "w") as f:
        json.dump(results, f, indent=1)


def report(name, total, rows):
    ours = rows[0]
    print("%s: %d files deleted" % (name, total))
    for row in rows:
        line = "  %-18s %2d byte-exact, %2d at their path, %6.2f s%s" % (
            row["tool"], row["exact"], row["at_path"], row["seconds"],
            "" if row["image_unchanged"] else "  IMAGE CHANGED")
        if row is not ours:
            line += "   rescue: %s at path, %s the time" % (
                ratio(ours["at_path"], row["at_path"]), ratio(ours["seconds"], row["seconds"]))
        print(line)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
