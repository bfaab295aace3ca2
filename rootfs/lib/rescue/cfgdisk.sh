# The configuration disk: any disk or partition labelled RESCUECFG. It is
# mounted read-only without journal replay (the guard would refuse the
# writes anyway), read for authorized_keys and rescue.conf, and never
# offered for rescue.

CFG_MOUNT=/run/rescue/config

cfgdisk_find() {
	blkid 2>/dev/null | awk -F: '/LABEL="RESCUECFG"/ {print $1; exit}'
}

cfgdisk_fstype() {
	blkid "$1" 2>/dev/null | sed -n 's/.*TYPE="\([^"]*\)".*/\1/p'
}

# Read-only without replay: a dirty journal on the config disk must not
# make us write, and must not stop us from reading it either.
cfgdisk_mount() {
	local dev=$1 type opts=ro
	type=$(cfgdisk_fstype "$dev")
	case $type in
	ext3|ext4) opts=ro,noload ;;
	xfs) opts=ro,norecovery ;;
	vfat|exfat|iso9660|ext2|ntfs*) ;;
	*) warn "config disk $dev: file system '${type:-unknown}' not supported (use vfat or ext4)"; return 1 ;;
	esac
	mkdir -p $CFG_MOUNT
	mount -t "$type" -o "$opts" "$dev" $CFG_MOUNT 2>/run/rescue/cfgdisk.err || {
		warn "config disk $dev: cannot mount $type read-only: $(cat /run/rescue/cfgdisk.err)"
		return 1
	}
}

cfgdisk_read() {
	local dev
	dev=$(cfgdisk_find)
	[ -n "$dev" ] || return 0
	echo "$dev" >/run/rescue/cfgdev
	cfgdisk_mount "$dev" || return 0
	say "rescue: config disk $dev mounted read-only at $CFG_MOUNT"
	[ -f $CFG_MOUNT/rescue.conf ] && params_merge_conf $CFG_MOUNT/rescue.conf
	return 0
}
