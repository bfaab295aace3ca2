# Output helpers for boot scripts: every line goes to every active console
# (serial and VGA alike), because the operator may be watching either.

# Shell builtins only (read, echo, test): a boot step says several lines, and
# under emulation every fork shows in the boot time.
say() {
	local c active= up rest
	read -r active 2>/dev/null </sys/class/tty/console/active
	for c in $active; do
		[ -c "/dev/$c" ] && echo "$*" >"/dev/$c" 2>/dev/null
	done
	read -r up rest </proc/uptime
	echo "$up $*" >>/run/rescue/boot.log
}

warn() {
	say "rescue: warning: $*"
}

# shown TEXT: TEXT from a file or the command line as a warning can show it: control and
# other non-ASCII bytes in cat -v's notation (^[ for ESC, M-x for high bytes), cut after
# 60 bytes with "...", so a file of binary noise cannot fill the console or drive the
# terminal.
shown() {
	local text
	text=$(printf '%s' "$1" | head -c 60 | cat -v)
	[ ${#1} -gt 60 ] && text="$text..."
	printf '%s' "$text"
}

# Count whole disks and how many of them the kernel guards.
guard_counts() {
	local d total=0 guarded=0
	for d in /sys/block/*; do
		[ -e "$d/device" ] || continue
		total=$((total + 1))
		[ "$(cat "$d/guard" 2>/dev/null)" = 1 ] && guarded=$((guarded + 1))
	done
	echo "$guarded $total"
}

ipv4_addresses() {
	ip -o -4 addr show scope global 2>/dev/null | awk '{printf "%s%s=%s", sep, $2, $4; sep=","}'
}

# A machine with under 256 MiB of RAM (src/base/memory.h, MEMORY_LOW_BYTES) gets a
# warning before the ready line: the operator then knows why a big command may be killed
# and where to look (rescue disks lists what each running command holds).
memory_check() {
	local total available
	total=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
	available=$(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo)
	[ -n "$total" ] && [ "$total" -lt 256 ] || return 0
	warn "low memory: ${total} MiB in all, ${available:-?} MiB available (under 256 MiB): run one big command at a time; rescue disks shows what each command uses"
}

ready_line() {
	local up rest counts addrs
	read -r up rest </proc/uptime
	counts=$(guard_counts)
	addrs=$(ipv4_addresses)
	say "rescue: ready uptime=${up}s disks=${counts#* } guarded=${counts% *} net=${addrs:-none} ssh=$(ssh_state)"
}
