# The SSH server: started only when someone gave us a key (rescue.ssh_key=
# on the kernel command line, base64 of an authorized_keys line, or
# authorized_keys on the config disk). Keys only: root has no password until
# an operator sets one with `rescue ssh password`. Starting the server and
# showing its fingerprints is `rescue ssh on` (src/cmd/ssh.c), the same code
# the operator uses later; this file only collects the boot's keys.

AUTH_KEYS=/root/.ssh/authorized_keys
SSH_PORT=22

# A usable authorized_keys line has a known key type followed by a base64
# blob that decodes; options (from="...") may come first.
valid_key_line() {
	local word next=0
	for word in $1; do
		if [ $next = 1 ]; then
			echo "$word" | base64 -d >/dev/null 2>&1 && [ ${#word} -ge 60 ]
			return
		fi
		case $word in
		ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|sk-ssh-ed25519@openssh.com|sk-ecdsa-sha2-nistp256@openssh.com) next=1 ;;
		esac
	done
	return 1
}

# key_add SOURCE LINE
key_add() {
	if valid_key_line "$2"; then
		echo "$2" >>$AUTH_KEYS
	else
		warn "$1: not an SSH public key line (ignored)"
	fi
}

ssh_collect_keys() {
	local f line n
	mkdir -p -m 700 /root/.ssh
	: >$AUTH_KEYS
	chmod 600 $AUTH_KEYS
	for f in /run/rescue/param/ssh_key.*; do
		[ -f "$f" ] || continue
		n=${f##*.}
		# busybox base64 -d skips junk silently: check the alphabet first.
		line=
		grep -q '^[A-Za-z0-9+/]*=*$' "$f" && line=$(base64 -d <"$f" 2>/dev/null | head -n1)
		if [ -z "$line" ]; then
			warn "rescue.ssh_key #$n: not valid base64 (ignored)"
			continue
		fi
		key_add "rescue.ssh_key #$n" "$line"
	done
	[ -f "$CFG_MOUNT/authorized_keys" ] || return 0
	n=0
	while IFS= read -r line || [ -n "$line" ]; do
		n=$((n + 1))
		case $line in ''|'#'*) continue ;; esac
		key_add "authorized_keys line $n on the config disk" "$line"
	done <"$CFG_MOUNT/authorized_keys"
}

ssh_key_count() {
	local n
	n=$(grep -c . $AUTH_KEYS 2>/dev/null)
	echo "${n:-0}"
}

# Host keys are made fresh at every boot (the appliance has no disk of its
# own), so their fingerprints must be shown before anyone connects.
ssh_start() {
	local line
	ssh_collect_keys
	if [ "$(ssh_key_count)" = 0 ]; then
		say "rescue: ssh off (no key given: rescue.ssh_key= or authorized_keys on a RESCUECFG disk)"
		return 0
	fi
	if ! rescue ssh on >/dev/null 2>/run/rescue/ssh_on.err; then
		warn "cannot start the SSH server: $(cat /run/rescue/ssh_on.err)"
		return 0
	fi
	rescue ssh fingerprints 2>/dev/null | while read -r line; do
		say "rescue: ssh host key $line"
	done
}

ssh_state() {
	local pid
	pid=$(cat /run/dropbear/dropbear.pid 2>/dev/null)
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		echo "on:$SSH_PORT:$(ssh_key_count)keys"
	else
		echo off
	fi
}
