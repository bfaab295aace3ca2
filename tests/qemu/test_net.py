"""`rescue net`: the state DHCP gave at boot (eth0 10.0.2.15/24), a static
address that replaces it, bad values named and refused with the old state
kept, DHCP again, and an interface taken down. Driven from the console
shell; the disk's sha256 is unchanged."""

import json
import re

import lib

TIMEOUT = 420


def _eth0(text):
    m = re.search(r"^eth0 +(\S+) +(\S+) *(.*)$", text, re.M)
    assert m, "no eth0 line in:\n" + text
    return m.group(1), m.group(3).split()


def test_net_show_static_dhcp_down(ctx):
    disk = lib.make_ext4(ctx.path("src.img"), 16, files={"a.txt": "hello\n"})
    before = lib.sha256(disk)
    with ctx.guest("--disk", disk) as guest:
        guest.wait_for(r"^rescue: ready .*\n", timeout=180)
        # The menu entry shows the same state.
        guest.wait_for(r"^Choose ", timeout=120)
        entry = re.search(lib.menu_entry(r"network: "), guest.output(), re.M)
        assert entry, "no network entry in the menu:\n" + guest.tail()
        guest.sendline(entry.group(1))
        guest.wait_for_line(r"\$ rescue net")
        guest.wait_for_line(r"eth0 +up +\S+ +10\.0\.2\.15/24.*")
        guest.wait_for(r"^Choose ")
        guest.sendline("")
        lib.menu_shell(guest)

        code, text = lib.console_run(guest, "rescue net")
        state, addresses = _eth0(text)
        assert code == 0 and state == "up" and "10.0.2.15/24" in addresses, text
        assert re.search(r"^lo +up +00:00:00:00:00:00 +127\.0\.0\.1/8", text, re.M), text
        assert re.search(r"^default route: none$", text, re.M), text

        code, text = lib.console_run(guest, "rescue net --json")
        shown = json.loads(text)
        eth0 = [i for i in shown["interfaces"] if i["name"] == "eth0"][0]
        assert "10.0.2.15/24" in eth0["addresses"] and eth0["state"] == "up", text

        # A static address replaces the lease; route and DNS as given.
        code, text = lib.console_run(guest, "rescue net static eth0 10.0.2.16/24 10.0.2.2 10.0.2.3")
        assert code == 0, text
        code, text = lib.console_run(guest, "rescue net")
        _, addresses = _eth0(text)
        assert "10.0.2.16/24" in addresses and "10.0.2.15/24" not in addresses, text
        assert re.search(r"^default route via 10\.0\.2\.2 dev eth0$", text, re.M), text
        assert re.search(r"^dns: 10\.0\.2\.3$", text, re.M), text

        # Bad values are named, exit 2, and change nothing.
        bad = {
            "rescue net static eth0 10.0.2.300/24": r"address '10\.0\.2\.300': not an IPv4 address",
            "rescue net static eth0 10.0.2.17/40": r"prefix '40' in '10\.0\.2\.17/40': want 1-32",
            "rescue net static eth0 10.0.2.17": r"address '10\.0\.2\.17': want ADDR/PREFIX",
            "rescue net static eth9 10.0.2.17/24": r"interface 'eth9': no such network interface",
            "rescue net static eth0 10.0.2.17/24 gateway": r"gateway 'gateway': not an IPv4",
            "rescue net down": r"wrong number of operands for 'down'",
            "rescue net frobnicate": r"unknown subcommand 'frobnicate'",
        }
        for command, message in bad.items():
            code, text = lib.console_run(guest, command + " 2>&1")
            assert code == 2, "%s: exit %d, want 2:\n%s" % (command, code, text)
            assert re.search(message, text), "%s: no %r in:\n%s" % (command, message, text)
        code, text = lib.console_run(guest, "rescue net")
        assert "10.0.2.16/24" in _eth0(text)[1], "a refused change altered eth0:\n" + text

        # DHCP gives the lease back; down takes the link down.
        code, text = lib.console_run(guest, "rescue net dhcp eth0", timeout=120)
        assert code == 0, text
        _, addresses = _eth0(text)
        assert "10.0.2.15/24" in addresses and "10.0.2.16/24" not in addresses, text
        code, text = lib.console_run(guest, "rescue net down eth0")
        assert code == 0, text
        code, text = lib.console_run(guest, "rescue net")
        state, addresses = _eth0(text)
        assert state == "down" and not any(a.startswith("10.0.2.") for a in addresses), text

        # Every change is in the journal.
        code, text = lib.console_run(guest, "rescue log --json --tail 20")
        assert "eth0 set to 10.0.2.16/24 via 10.0.2.2 dns 10.0.2.3" in text, text
        assert "dhcp on eth0: lease obtained" in text and "eth0 down" in text, text
        guest.stop(command="poweroff")
    assert lib.sha256(disk) == before, "the source disk changed"
