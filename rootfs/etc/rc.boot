#!/bin/sh
# sysinit: everything between the kernel handing over and `rescue: ready`.
# Each step reports on every console and carries on after a failure: a bad
# parameter, a broken config disk or a missing network never stops the boot.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
. /lib/rescue/console.sh
. /lib/rescue/guard.sh
. /lib/rescue/params.sh
. /lib/rescue/cfgdisk.sh
. /lib/rescue/net.sh
. /lib/rescue/ssh.sh
. /lib/rescue/client.sh
. /lib/rescue/runbook.sh

# Daemon messages (dropbear's logins among them) go to a file in RAM,
# rotated at 512 KiB.
start_syslog() {
	syslogd -O /run/rescue/syslog -s 512 -b 1
}

# mdev takes every block device that appears from now on. Those already
# there have their nodes from devtmpfs and need only the guard check, made
# here in this shell: `mdev -s` forked a hook for each device, loop and nbd
# devices included, and took a tenth of the boot.
start_hotplug() {
	local d
	echo /sbin/mdev >/proc/sys/kernel/hotplug
	for d in /sys/class/block/*; do
		[ -e "$d" ] && guard_check "${d##*/}"
	done
}

main() {
	local net_pid
	start_syslog
	start_hotplug
	params_read
	cfgdisk_read
	params_check
	# DHCP waits on the network, the SSH keys on the CPU: both at once. The
	# ready line still waits for the network, so the address it gives is
	# the one the operator can use.
	net_start &
	net_pid=$!
	client_key_make
	ssh_start
	wait $net_pid
	memory_check
	ready_line
	runbook_start
}

main
