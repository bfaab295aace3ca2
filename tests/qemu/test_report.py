"""rescue report: the journal, the inventory and the guard attestation land
on a real OpenSSH target as text and JSON. Driven by a runbook from the
RESCUECFG disk, which also carries the client key and the target's
known_hosts, the way an operator would prepare it. Failing report targets
are named and journaled. Disks never change."""

import json
import os
import re
import shutil

import lib

TIMEOUT = 480


def test_report_to_ssh_and_file_targets(ctx):
    plain = lib.make_ext4(ctx.path("plain.img"), 16, files={"a.txt": "hello\n"})
    parted = lib.make_ext4(ctx.path("parted.img"), 24, files={"b.txt": "world\n"},
                           partitioned="gpt", label="parted")
    disks = [plain, parted]
    before = [lib.sha256(d) for d in disks]
    cfg = ctx.path("cfg")
    os.makedirs(cfg)
    private, public = lib.ssh_keypair(ctx.path(), name="client")
    shutil.copy(private, os.path.join(cfg, "id_ed25519"))
    with open(public) as f:
        client_line = f.read().strip()
    with lib.SshServer(ctx.path(), authorized_keys=[client_line]) as server:
        reports = ctx.path("reports")
        os.makedirs(reports)
        with open(os.path.join(cfg, "known_hosts"), "w") as f:
            f.write(lib.known_hosts_line(server.port, server.host_key_line, host="10.0.2.2") + "\n")
        target = "ssh://root@10.0.2.2:%d%s" % (server.port, reports)
        with open(os.path.join(cfg, "post-mortem.run"), "w") as f:
            f.write("version\n"
                    "- report ssh://root@10.0.2.2:1/nowhere   # nothing listens there\n"
                    "- report gopher://example                # not a target\n"
                    "report %s\n" % target)
        with ctx.guest("--disk", plain, "--disk", parted, "--config", cfg,
                       "--host-port", str(server.port),
                       "--append", "rescue.run=post-mortem.run rescue.poweroff=1 "
                       "rescue.target=ssh://u:hunter2@10.0.2.2:1/default") as guest:
            guest.wait_for(r"^rescue: ready .*\n", timeout=180)
            final = guest.wait_for(r"^rescue: runbook post-mortem\.run exit (\d+)\n", timeout=240)
            assert final.group(1) == "0", final.group(0)
            guest.wait_exit(timeout=120)
            console = guest.output()
        names = sorted(os.listdir(reports))
    assert len(names) == 2, "expected one .txt and one .json report, found %s" % names
    txt = [n for n in names if n.endswith(".txt")][0]
    assert re.match(r"rescue-report-rescue-\d{8}T\d{6}Z\.txt$", txt), txt
    with open(os.path.join(reports, txt)) as f:
        text = f.read()
    with open(os.path.join(reports, txt[:-4] + ".json")) as f:
        report = json.load(f)
    assert "Write guard attestation" in text and "Timeline" in text, text[:500]
    assert "hunter2" not in text and "hunter2" not in json.dumps(report), "a password leaked"
    assert "rescue.ssh_key=" not in report["kernel_command_line"] or \
        "rescue.ssh_key=(key)" in report["kernel_command_line"]
    assert "u:***@10.0.2.2" in report["kernel_command_line"], report["kernel_command_line"]
    # Every hardware disk and partition, guarded since boot, nothing rejected.
    attested = {a["device"]: a for a in report["attestation"]}
    for dev in ("vda", "vdb", "vdb1"):
        assert dev in attested, "no attestation for %s: %s" % (dev, sorted(attested))
        assert attested[dev]["guarded_since_boot"] is True, attested[dev]
        assert attested[dev]["rejected_writes"] == 0, attested[dev]
    # The journal: the runbook's lines in order, the failures with their reasons.
    commands = [(e["command"], e["exit"], e["summary"]) for e in report["journal"]]
    assert commands[0][:2] == ("rescue version", 0), commands
    assert commands[1][0] == "rescue report ssh://root@10.0.2.2:1/nowhere", commands
    assert commands[1][1] == 3 and "10.0.2.2" in commands[1][2], commands
    assert commands[2][:2] == ("rescue report gopher://example", 2), commands
    assert "gopher://example" in commands[2][2], commands
    # The inventory is rescue disks --json, embedded as JSON.
    inventory = report["inventory"]
    assert isinstance(inventory, dict) and "disks" in inventory, str(inventory)[:300]
    assert {d["name"] for d in inventory["disks"]} >= {"vda", "vdb"}, inventory
    assert "wrote %s/%s" % (target, txt) in console.replace("\r", ""), "no verified-write line"
    # The report cannot hold its own exit (its entry is journaled when it ends); the runbook
    # prints every line's exit after it, the closing report's too.
    exits = re.findall(r"^rescue: runbook post-mortem\.run line (\d) exit (\d+)\r?$", console,
                       re.M)
    assert exits == [("1", "0"), ("2", "3"), ("3", "2"), ("4", "0")], exits
    assert [lib.sha256(d) for d in disks] == before, "a source disk changed"
