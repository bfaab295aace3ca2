# A private apt configuration that adds deb-src entries for exactly the
# archives this host already uses, so that no mirror name is ever written
# into the repository and the system's own apt state is never touched.
# Sourced after common.sh.

APT_DIR=$RESCUE_CACHE/apt

# Turn the host's deb822 .sources files and one-line sources.list into the
# same archives with both binary and source types.
apt_derive_sources() {
	local parts=$APT_DIR/sources.list.d f
	rm -rf "$parts" && mkdir -p "$parts" "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		sed -E 's/^Types:.*/Types: deb deb-src/' "$f" >"$parts/$(basename "$f")"
	done
	: >"$APT_DIR/sources.list"
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		sed -nE 's/^deb(-src)?[[:space:]]+/deb /p' "$f" | sort -u | while read -r line; do
			echo "$line"
			echo "deb-src ${line#deb }"
		done >>"$APT_DIR/sources.list"
	done
	grep -rqs 'deb-src' "$parts" "$APT_DIR/sources.list" ||
		die "found no Debian archive in /etc/apt to derive deb-src entries from"
}

rapt() {
	local cmd=$1
	shift
	"$cmd" -q \
		-o Dir::Etc::SourceParts="$APT_DIR/sources.list.d" \
		-o Dir::Etc::SourceList="$APT_DIR/sources.list" \
		-o Dir::State::Lists="$APT_DIR/lists" \
		-o Dir::Cache="$APT_DIR/cache" \
		-o APT::Sandbox::User=root \
		"$@"
}

# Refresh the private package lists at most once per run of a script.
apt_update() {
	[ "${APT_UPDATED:-}" = 1 ] && return 0
	apt_derive_sources
	note "updating private apt lists (deb + deb-src) in $APT_DIR"
	rapt apt-get update >"$APT_DIR/update.log" 2>&1 ||
		die "apt-get update failed, see $APT_DIR/update.log"
	APT_UPDATED=1
}

apt_ready() {
	ls "$APT_DIR"/lists/*Sources* >/dev/null 2>&1 || apt_update
}
