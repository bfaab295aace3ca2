# The SSH client key for ssh:// targets (DESIGN section 6): id_ed25519 or
# id_rsa on the config disk (OpenSSH format, converted into dropbear's), else
# a fresh ed25519 key made at every boot. `rescue target key` prints its
# public line for the receiver's authorized_keys; src/target_ssh.c reads the
# same files (and makes the key itself if this step did not run).

CLIENT_DIR=/run/rescue/client

client_key_make() {
	local name
	mkdir -p -m 700 $CLIENT_DIR
	for name in id_ed25519 id_rsa; do
		[ -f "$CFG_MOUNT/$name" ] || continue
		if dropbearmulti dropbearconvert openssh dropbear "$CFG_MOUNT/$name" \
			$CLIENT_DIR/id_config >/dev/null 2>&1; then
			say "rescue: ssh client key $name from the config disk"
			return 0
		fi
		rm -f $CLIENT_DIR/id_config
		warn "config disk $name: not an OpenSSH private key without a passphrase; ssh:// targets will fail until it is fixed"
		return 0
	done
	dropbearkey -t ed25519 -f $CLIENT_DIR/id_ed25519 >/dev/null 2>&1 ||
		warn "cannot generate the ssh client key"
}
