#!/bin/sh
# sysinit: everything between the kernel handing over and `rescue: ready`.
# Each step reports on every console and carries on after a failure: a bad
# parameter, a broken config disk or a missing network never stops the boot.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
. /lib/rescue/console.sh
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

start_hotplug() {
	echo /sbin/mdev >/proc/sys/kernel/hotplug
	mdev -s
}

main() {
	start_syslog
	start_hotplug
	params_read
	cfgdisk_read
	params_check
	client_key_make
	net_start
	ssh_start
	memory_check
	ready_line
	runbook_start
}

main
