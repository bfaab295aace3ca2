"""Reading a rehearsal scenario (tools/rehearse): the TOML file, checked key by key.

Scenario(path) parses it with tomllib and checks every section; anything wrong raises
ScenarioError with the file and line ("x.toml:12: ..."). tomllib gives no positions, so
Locator finds a key's line in the text. The format is described in README.md
(Rehearsing a recovery).
"""

import os
import pwd
import re
import shlex
import subprocess
import tomllib

import appliance

SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


class ScenarioError(Exception):
    """The scenario is wrong: exit 2, nothing booted."""


class Locator:
    """Finds the line of a key in the TOML text, for messages (tomllib gives none).

    A place is (TABLE, INDEX, KEY): TABLE "" for the top level, "disk" or
    "expect.file" for arrays of tables (INDEX counts from 0), "link" for a
    table; KEY may be None for the table's header line.
    """

    HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-]+)\s*\]\]?")

    def __init__(self, text):
        self.lines = text.splitlines()
        self.tables = []  # (name, index, first line number, last line number)
        counts = {}
        current = ("", None, 1)
        for number, line in enumerate(self.lines, start=1):
            match = self.HEADER.match(line)
            if not match:
                continue
            self.tables.append(current + (number - 1,))
            name = match.group(2)
            index = None
            if match.group(1) == "[[":
                index = counts.get(name, 0)
                counts[name] = index + 1
            current = (name, index, number)
        self.tables.append(current + (len(self.lines),))

    def line(self, table, index=None, key=None):
        for name, idx, first, last in self.tables:
            if name == table and (index is None or idx == index):
                if key is None:
                    return first
                pattern = re.compile(r"^\s*(%s)\s*=|[{,]\s*(%s)\s*=" % ((re.escape(key),) * 2))
                for number in range(first, last + 1):
                    if pattern.search(self.lines[number - 1]):
                        return number
                return first
        return 1


class Scenario:
    """The parsed scenario; every problem found raises ScenarioError naming its line."""

    TOP_KEYS = {"name", "description", "runbook", "runbook_file", "operator", "appliance",
                "disk", "target", "link", "expect"}
    APPLIANCE_KEYS = {"image", "memory", "append", "accel", "timeout"}
    DISK_KEYS = {"file", "tree", "generator", "random", "size", "label", "partitioned",
                 "args", "seed", "interface", "writable", "faults"}
    FAULT_KEYS = {"sectors": {"sectors"}, "range": {"start", "count"},
                  "share": {"share", "seed"}, "file": {"path", "blocks"}}
    TARGET_KEYS = {"url", "key", "known_hosts"}
    LINK_KEYS = {"cut_at_bytes", "cut_at_seconds", "stall"}
    STALL_KEYS = {"at_bytes", "at_seconds", "seconds"}
    EXPECT_KEYS = {"runbook_exit", "budget_seconds", "file", "dump", "command"}
    FILE_KEYS = {"path", "sha256", "image_of"}
    DUMP_KEYS = {"name", "tree", "whole"}
    COMMAND_KEYS = {"run", "timeout", "name"}

    def __init__(self, path):
        self.path = path
        self.dir = os.path.dirname(os.path.abspath(path))
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError as e:
            raise ScenarioError("cannot read the scenario %s: %s" % (path, e.strerror))
        try:
            self.text = raw.decode()
            self.data = tomllib.loads(self.text)
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise ScenarioError("%s: not valid TOML: %s" % (path, e))
        self.locate = Locator(self.text)
        self._read()

    # -- helpers that name the line

    def fail(self, table, index, key, message):
        line = self.locate.line(table, index, key)
        raise ScenarioError("%s:%d: %s" % (self.path, line, message))

    def keys(self, table, index, found, allowed, where):
        for key in found:
            if key not in allowed:
                self.fail(table, index, key, "unknown key '%s' in %s (want %s)"
                          % (key, where, ", ".join(sorted(allowed))))

    def value(self, table, index, data, key, kinds, default=None, what=None):
        if key not in data:
            return default
        value, kinds = data[key], kinds if isinstance(kinds, tuple) else (kinds,)
        # TOML's true is a Python int too: only a bool is a bool.
        if not isinstance(value, kinds) or isinstance(value, bool) and bool not in kinds:
            self.fail(table, index, key, "bad %s %r: want %s" % (
                key, value, what or " or ".join(k.__name__ for k in kinds)))
        return value

    def size(self, table, index, data, key, default=None):
        """A byte count: a whole number or text like 24M, 512K, 1G."""
        value = data.get(key, default)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        match = re.fullmatch(r"(\d+)\s*([KMG]?)(?:i?B)?", str(value).strip(), re.I)
        if isinstance(value, str) and match:
            return int(match.group(1)) * SIZE_UNITS[match.group(2).upper()]
        self.fail(table, index, key, "bad %s %r: want a size such as 24M, 512K or 1048576"
                  % (key, value))

    def relative(self, path):
        return os.path.normpath(os.path.join(self.dir, os.path.expanduser(path)))

    # -- the sections

    def _read(self):
        d = self.data
        self.keys("", None, d, self.TOP_KEYS, "the scenario")
        stem = os.path.splitext(os.path.basename(self.path))[0]
        self.name = self.value("", None, d, "name", str, stem)
        if not re.fullmatch(r"[A-Za-z0-9._-]+", self.name):
            self.fail("", None, "name", "bad name %r: want letters, digits, '.', '_', '-'"
                      % self.name)
        self.description = self.value("", None, d, "description", str, "")
        self._read_appliance(self.value("", None, d, "appliance", dict, {}))
        disks = self.value("", None, d, "disk", list, [], "[[disk]] tables")
        if not disks:
            self.fail("", None, None, "no [[disk]]: a rehearsal needs a disk to rescue")
        self.disks = [self._read_disk(i, disk) for i, disk in enumerate(disks)]
        self._read_runbook(d)
        self._read_operator(d)
        self._read_target(self.value("", None, d, "target", dict, {}))
        self._read_link(self.value("", None, d, "link", dict, {}))
        self._read_expect(self.value("", None, d, "expect", dict, {}))

    def _read_appliance(self, a):
        self.keys("appliance", None, a, self.APPLIANCE_KEYS, "[appliance]")
        image = self.value("appliance", None, a, "image", str)
        self.image = self.relative(image) if image else appliance.IMAGE
        self.memory = self.value("appliance", None, a, "memory", int, 512)
        if self.memory < 128:
            self.fail("appliance", None, "memory", "bad memory %d: want MiB >= 128"
                      % self.memory)
        self.append = self.value("appliance", None, a, "append", str, "")
        for word in shlex.split(self.append):
            if word.split("=", 1)[0] in ("rescue.run", "rescue.poweroff", "rescue.target"):
                self.fail("appliance", None, "append", "append sets %s: the rehearsal "
                          "sets it (the runbook, the power-off, the target)" % word)
        self.accel = self.value("appliance", None, a, "accel", str, "tcg")
        if self.accel not in ("tcg", "kvm", "auto"):
            self.fail("appliance", None, "accel", "bad accel %r: want tcg, kvm or auto"
                      % self.accel)
        self.timeout = self.value("appliance", None, a, "timeout", int, 1800)

    def _read_disk(self, i, disk):
        where = "[[disk]] %d" % (i + 1)
        if not isinstance(disk, dict):
            self.fail("disk", i, None, "%s is not a table" % where)
        self.keys("disk", i, disk, self.DISK_KEYS, where)
        sources = [k for k in ("file", "tree", "generator", "random") if k in disk]
        if len(sources) != 1:
            self.fail("disk", i, sources[1] if len(sources) > 1 else None,
                      "%s needs exactly one of file, tree, generator, random (has %s)"
                      % (where, ", ".join(sources) or "none"))
        kind = sources[0]
        spec = {"kind": kind, "index": i, "name": "vd" + chr(ord("a") + i),
                "writable": self.value("disk", i, disk, "writable", bool, False),
                "interface": self.value("disk", i, disk, "interface", str, "virtio"),
                "seed": self.value("disk", i, disk, "seed", int, i + 1),
                "label": self.value("disk", i, disk, "label", str),
                "partitioned": self.value("disk", i, disk, "partitioned", (bool, str), False),
                "args": [str(a) for a in self.value("disk", i, disk, "args", list, [])]}
        if spec["interface"] != "virtio":
            # Faults, names (vda, vdb...) and expectations assume virtio disks.
            self.fail("disk", i, "interface", "bad interface %r: rehearsals use virtio"
                      % spec["interface"])
        if kind in ("file", "tree", "generator"):
            path = self.value("disk", i, disk, kind, str)
            spec["path"] = self.relative(path)
            exists = {"file": os.path.isfile, "tree": os.path.isdir,
                      "generator": lambda p: os.path.isfile(p) and os.access(p, os.X_OK)}[kind]
            if not exists(spec["path"]):
                self.fail("disk", i, kind, "%s: no such %s: %s" % (
                    where, {"file": "disk image", "tree": "directory",
                            "generator": "executable generator"}[kind], spec["path"]))
        spec["size"] = self.size("disk", i, disk, "random" if kind == "random" else "size",
                                 None if kind in ("file", "random") else 64 << 20)
        if kind in ("tree", "generator", "random") and (spec["size"] or 0) < 1 << 20:
            self.fail("disk", i, "size", "%s: size %d is under 1 MiB" % (where, spec["size"]))
        if spec["partitioned"] not in (False, True, "mbr", "gpt"):
            self.fail("disk", i, "partitioned", "bad partitioned %r: want false, true, mbr or "
                      "gpt" % spec["partitioned"])
        spec["faults"] = [self._read_fault(i, n, f) for n, f in enumerate(
            self.value("disk", i, disk, "faults", list, [], "a list of fault tables"))]
        return spec

    def _read_fault(self, i, n, fault):
        where = "[[disk]] %d fault %d" % (i + 1, n + 1)
        if not isinstance(fault, dict) or "kind" not in fault:
            self.fail("disk", i, "faults", "%s: want a table with a kind" % where)
        kind = fault["kind"]
        if kind not in self.FAULT_KEYS:
            self.fail("disk", i, "kind", "%s: unknown fault kind %r (want %s)"
                      % (where, kind, ", ".join(sorted(self.FAULT_KEYS))))
        self.keys("disk", i, [k for k in fault if k != "kind"], self.FAULT_KEYS[kind],
                  "%s (%s)" % (where, kind))
        if kind == "sectors":
            sectors = fault.get("sectors")
            if not sectors or not all(isinstance(s, int) and s >= 0 for s in sectors):
                self.fail("disk", i, "sectors", "%s: want sectors = [N, ...] (512-byte "
                          "units)" % where)
        elif kind == "range":
            for key in ("start", "count"):
                if not isinstance(fault.get(key), int) or fault[key] < (key == "count"):
                    self.fail("disk", i, key, "%s: want %s = a sector number" % (where, key))
        elif kind == "share":
            share = fault.get("share")
            if not isinstance(share, float) or not 0 < share < 1:
                self.fail("disk", i, "share", "%s: bad share %r: want a fraction such as "
                          "0.001" % (where, share))
        else:
            blocks = fault.get("blocks", [0])
            if not isinstance(fault.get("path"), str) or not all(
                    isinstance(b, int) and b >= 0 for b in blocks):
                self.fail("disk", i, "path", "%s: want path = \"file in the ext4\" and "
                          "blocks = [N, ...] (block numbers inside that file)" % where)
        return dict(fault)

    def _read_runbook(self, d):
        if ("runbook" in d) == ("runbook_file" in d):
            self.fail("", None, "runbook_file" if "runbook_file" in d else None,
                      "want exactly one of runbook (the text) and runbook_file")
        if "runbook" in d:
            self.runbook = self.value("", None, d, "runbook", str)
            # The file line of runbook line 1: TOML drops a newline right after the
            # opening quotes, so the text then starts on the next line.
            key_line = self.locate.line("", None, "runbook")
            opening = self.locate.lines[key_line - 1].rstrip()
            self.runbook_line = key_line + opening.endswith(('"""', "'''"))
        else:
            path = self.relative(self.value("", None, d, "runbook_file", str))
            try:
                with open(path) as f:
                    self.runbook = f.read()
            except OSError as e:
                self.fail("", None, "runbook_file", "cannot read runbook_file %s: %s"
                          % (path, e.strerror))
            self.runbook_line = None

    def _read_operator(self, d):
        """Shell lines typed at the appliance over SSH once the runbook has ended."""
        self.operator = self.value("", None, d, "operator", str)
        if self.operator is None:
            return
        check = subprocess.run(["sh", "-n"], input=self.operator, capture_output=True,
                               text=True)
        if check.returncode != 0:
            match = re.search(r"(\d+): (.*)", check.stderr)
            key_line = self.locate.line("", None, "operator")
            opening = self.locate.lines[key_line - 1].rstrip().endswith(('"""', "'''"))
            line = key_line + opening + int(match.group(1)) - 1 if match else key_line
            raise ScenarioError("%s:%d: operator: %s" % (
                self.path, line, match.group(2) if match else check.stderr.strip()))

    def _read_target(self, t):
        self.keys("target", None, t, self.TARGET_KEYS, "[target]")
        self.url = self.value("target", None, t, "url", str)
        self.key = self.value("target", None, t, "key", str)
        self.known_hosts = self.value("target", None, t, "known_hosts", str)
        if self.url is None:
            if self.key or self.known_hosts:
                self.fail("target", None, "key", "key and known_hosts are for a target url; "
                          "the private target makes its own")
            return
        match = re.fullmatch(r"ssh://(?:([^@:/]+)@)?([^@:/]+)(?::(\d+))?(/.*)", self.url)
        if not match:
            self.fail("target", None, "url", "bad url %r: want ssh://[user@]host[:port]/path"
                      % self.url)
        self.target_user = match.group(1) or pwd.getpwuid(os.geteuid()).pw_name
        self.target_host, self.target_path = match.group(2), match.group(4)
        self.target_port = int(match.group(3) or 22)
        if not self.key:
            self.fail("target", None, None, "a target url needs key = the private key the "
                      "appliance logs in with (OpenSSH format, no passphrase)")
        self.key = self.relative(self.key)
        if not os.path.isfile(self.key):
            self.fail("target", None, "key", "no such key file: %s" % self.key)
        if self.known_hosts:
            self.known_hosts = self.relative(self.known_hosts)
            if not os.path.isfile(self.known_hosts):
                self.fail("target", None, "known_hosts", "no such file: %s" % self.known_hosts)

    def _read_link(self, link):
        self.keys("link", None, link, self.LINK_KEYS, "[link]")
        events = []
        for key, trigger in (("cut_at_bytes", "at_bytes"), ("cut_at_seconds", "at_seconds")):
            for value in self.value("link", None, link, key, list, []):
                amount = (self.size("link", None, {key: value}, key) if trigger == "at_bytes"
                          else value)
                if not isinstance(amount, (int, float)) or amount < 0:
                    self.fail("link", None, key, "bad %s value %r" % (key, value))
                events.append({trigger: amount, "action": "cut"})
        for stall in self.value("link", None, link, "stall", list, [], "a list of tables"):
            if not isinstance(stall, dict):
                self.fail("link", None, "stall", "want stall = [{at_bytes = N, seconds = S}]")
            self.keys("link", None, stall, self.STALL_KEYS, "a stall")
            triggers = [k for k in ("at_bytes", "at_seconds") if k in stall]
            seconds = stall.get("seconds")
            if len(triggers) != 1 or not isinstance(seconds, (int, float)) or seconds <= 0:
                self.fail("link", None, "stall", "want stall = [{at_bytes = N or at_seconds "
                          "= T, seconds = S}]")
            at = (self.size("link", None, stall, "at_bytes") if triggers[0] == "at_bytes"
                  else stall["at_seconds"])
            events.append({triggers[0]: at, "action": "stall", "seconds": seconds})
        self.link_events = events

    def _read_expect(self, e):
        self.keys("expect", None, e, self.EXPECT_KEYS, "[expect]")
        codes = self.value("expect", None, e, "runbook_exit", (int, list), 0)
        self.runbook_exit = codes if isinstance(codes, list) else [codes]
        if not all(isinstance(c, int) and 0 <= c < 256 for c in self.runbook_exit):
            self.fail("expect", None, "runbook_exit", "bad runbook_exit %r: want exit codes"
                      % codes)
        self.budget = self.value("expect", None, e, "budget_seconds", (int, float))
        names = [d["name"] for d in self.disks]
        self.expect_files = []
        for i, f in enumerate(self.value("expect", None, e, "file", list, [])):
            self.keys("expect.file", i, f, self.FILE_KEYS, "[[expect.file]] %d" % (i + 1))
            if not isinstance(f.get("path"), str):
                self.fail("expect.file", i, None, "[[expect.file]] %d needs path = a file "
                          "on the target" % (i + 1))
            if ("sha256" in f) == ("image_of" in f):
                self.fail("expect.file", i, None, "[[expect.file]] %d needs one of sha256 "
                          "and image_of" % (i + 1))
            if "sha256" in f and not re.fullmatch(r"[0-9a-f]{64}", str(f["sha256"])):
                self.fail("expect.file", i, "sha256", "bad sha256 %r: want 64 hex digits"
                          % f["sha256"])
            if "image_of" in f and f["image_of"] not in names:
                self.fail("expect.file", i, "image_of", "image_of %r is no disk here (%s)"
                          % (f["image_of"], ", ".join(names)))
            self.expect_files.append(f)
        self.expect_dumps = []
        for i, dump in enumerate(self.value("expect", None, e, "dump", list, [])):
            self.keys("expect.dump", i, dump, self.DUMP_KEYS, "[[expect.dump]] %d" % (i + 1))
            if not isinstance(dump.get("name"), str):
                self.fail("expect.dump", i, None, "[[expect.dump]] %d needs name = what "
                          "rescue dump called it (vda, vda1)" % (i + 1))
            if "tree" in dump:
                dump["tree"] = self.relative(dump["tree"])
                if not os.path.isdir(dump["tree"]):
                    self.fail("expect.dump", i, "tree", "no such directory: %s" % dump["tree"])
            self.expect_dumps.append(dump)
        self.expect_commands = []
        for i, c in enumerate(self.value("expect", None, e, "command", list, [])):
            self.keys("expect.command", i, c, self.COMMAND_KEYS,
                      "[[expect.command]] %d" % (i + 1))
            if not isinstance(c.get("run"), str):
                self.fail("expect.command", i, None, "[[expect.command]] %d needs run = a "
                          "shell command" % (i + 1))
            self.expect_commands.append(c)
