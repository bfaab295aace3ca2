# Shared helpers for the host-side build scripts. Sourced, never run.
#
# Every script that builds something agrees on where the cache lives and how
# errors are reported, so that a failure in the middle of a long build says
# which step failed and with what value.

set -eu

RESCUE_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RESCUE_CACHE=${RESCUE_CACHE:-$HOME/.cache/rescue}
RESCUE_LOCK=$RESCUE_TOP/tools/sources.lock
RESCUE_JOBS=${RESCUE_JOBS:-$(nproc)}

# Builds must not depend on the clock or the host: every timestamp baked
# into an output comes from here.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
export TZ=UTC LC_ALL=C

prog=${prog:-$(basename "$0")}

die() {
	echo "$prog: fatal: $*" >&2
	exit 1
}

note() {
	echo "$prog: $*" >&2
}

# lock_field NAME FIELD: print one column of NAME's line in the lock file.
# Columns: name kind package version file sha256.
lock_field() {
	local name=$1 field=$2 line
	line=$(awk -v n="$name" '$1 == n && $1 !~ /^#/' "$RESCUE_LOCK")
	[ -n "$line" ] || die "no entry for '$name' in $RESCUE_LOCK"
	set -- $line
	case $field in
	kind) echo "$2" ;; package) echo "$3" ;; version) echo "$4" ;;
	file) echo "$5" ;; sha256) echo "$6" ;;
	*) die "unknown lock field '$field'" ;;
	esac
}

lock_line() {
	awk -v n="$1" '$1 == n' "$RESCUE_LOCK"
}

sha256_of() {
	sha256sum "$1" | cut -d' ' -f1
}
