# Networking: DHCP on every wired interface by default; rescue.net=none;
# rescue.net=IFACE:ADDR/PREFIX:GATEWAY[:DNS] for a static address; or the
# kernel's own ip= syntax (ip=dhcp, ip=off, or
# ip=CLIENT:SERVER:GATEWAY:NETMASK:HOSTNAME:DEVICE:AUTOCONF[:DNS0]).

wired_interfaces() {
	local i
	for i in /sys/class/net/*; do
		[ "$(cat "$i/type" 2>/dev/null)" = 1 ] || continue
		[ -d "$i/wireless" ] && continue
		echo "${i##*/}"
	done
}

# Wait for each interface's first lease in parallel; an interface without
# a lease after a few tries keeps trying in the background.
net_dhcp() {
	local i pids=
	for i in $(wired_interfaces); do
		ip link set "$i" up
		udhcpc -i "$i" -b -t 4 -T 2 -A 10 -x hostname:rescue \
			-s /usr/share/udhcpc/default.script -p "/run/udhcpc.$i.pid" >/dev/null 2>&1 &
		pids="$pids $!"
	done
	[ -n "$pids" ] || { warn "no wired network interface found"; return 0; }
	wait $pids
}

# mask_to_prefix 255.255.255.0 -> 24
mask_to_prefix() {
	local prefix=0 octet
	for octet in $(echo "$1" | tr . ' '); do
		case $octet in
		255) prefix=$((prefix + 8)) ;; 254) prefix=$((prefix + 7)) ;;
		252) prefix=$((prefix + 6)) ;; 248) prefix=$((prefix + 5)) ;;
		240) prefix=$((prefix + 4)) ;; 224) prefix=$((prefix + 3)) ;;
		192) prefix=$((prefix + 2)) ;; 128) prefix=$((prefix + 1)) ;;
		esac
	done
	echo $prefix
}

valid_ipv4() {
	echo "$1" | grep -Eq '^([0-9]{1,3}\.){3}[0-9]{1,3}$'
}

# net_static IFACE ADDR/PREFIX GATEWAY DNS
net_static() {
	local iface=$1 addr=$2 gw=$3 dns=$4
	[ -e "/sys/class/net/$iface" ] || { warn "network: no interface '$iface'"; return 1; }
	valid_ipv4 "${addr%/*}" && [ "${addr#*/}" != "$addr" ] ||
		{ warn "network: '$addr' is not ADDR/PREFIX"; return 1; }
	ip link set "$iface" up
	ip addr add "$addr" dev "$iface" || { warn "network: cannot set $addr on $iface"; return 1; }
	if [ -n "$gw" ]; then
		ip route add default via "$gw" dev "$iface" || warn "network: cannot add default route via $gw"
	fi
	[ -z "$dns" ] || echo "nameserver $dns" >/etc/resolv.conf
}

# The kernel's ip= parameter, for users who already have it in a PXE or
# GRUB entry.
net_kernel_ip() {
	local v=$1 client gw mask dev dns
	case $v in
	dhcp|on|any|both) net_dhcp; return ;;
	off|none) return ;;
	esac
	IFS=: read -r client _ gw mask _ dev _ dns _ <<IPEOF
$v
IPEOF
	valid_ipv4 "$client" || { warn "ip=$(shown "$v"): no valid client address (DHCP instead)"; net_dhcp; return; }
	[ -n "$dev" ] || dev=$(wired_interfaces | head -n1)
	net_static "$dev" "$client/$(mask_to_prefix "${mask:-255.255.255.0}")" "$gw" "$dns"
}

kernel_ip_param() {
	tr ' ' '\n' </proc/cmdline | sed -n 's/^ip=//p' | tail -n1
}

net_start() {
	local v iface addr gw dns
	ip link set lo up
	v=$(param_get net)
	if [ -z "$v" ] && [ -n "$(kernel_ip_param)" ]; then
		net_kernel_ip "$(kernel_ip_param)"
		return 0
	fi
	case ${v:-dhcp} in
	dhcp) net_dhcp ;;
	none) say "rescue: network off (rescue.net=none)" ;;
	*:*/*)
		IFS=: read -r iface addr gw dns <<NETEOF
$v
NETEOF
		net_static "$iface" "$addr" "$gw" "$dns" || warn "rescue.net=$(shown "$v") not applied"
		;;
	*) warn "rescue.net=$(shown "$v"): expected dhcp, none or IFACE:ADDR/PREFIX:GATEWAY[:DNS]; using DHCP"; net_dhcp ;;
	esac
	return 0
}
