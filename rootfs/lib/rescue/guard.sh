# The second line of the write guard, for each block device: sourced by the
# mdev hook (hotplug-block) for devices that appear later, and by rc.boot
# for those already there when it made mdev the hotplug helper.
#
# The kernel guards disks before their uevent is sent. If a real disk is
# unguarded all the same (a kernel without the guard patch), its read-only
# flag is set at once, and every console hears of it when even that fails.
# Every disk is logged in /run/rescue/hotplug.log.

# guard_check NAME: NAME as in /sys/class/block (vda, vda1, nvme0n1p2).
guard_check() {
	local name=$1 dev disk guard= why log=/run/rescue/hotplug.log
	case $name in
	loop*|nbd*|dm-*|zram*|ram*|md*) return 0 ;;
	esac
	dev=/sys/class/block/$name
	disk=$dev
	# A partition's parent directory in sysfs is its disk.
	[ -f "$dev/partition" ] && disk=$dev/..
	read -r guard 2>/dev/null <"$disk/guard"
	if [ "$guard" = 1 ]; then
		echo "add $name guarded by the kernel" >>$log
	elif why=$(blockdev --setro "/dev/$name" 2>&1); then
		echo "add $name NOT guarded by the kernel: read-only flag set" >>$log
	else
		# Neither line holds: the operator must know before touching the disk.
		echo "add $name NOT guarded by the kernel, and blockdev --setro failed: $why" >>$log
		warn "disk $name is NOT guarded by the kernel and blockdev --setro /dev/$name failed" \
			"(${why:-no reason given}): it is NOT write-protected"
	fi
}
