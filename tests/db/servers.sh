# servers.sh: start and stop private MariaDB and PostgreSQL servers for the database-page
# tests, each in a data directory of its own, listening on a unix socket only (never on the
# network, never as a system service). Sourced by make-fixtures and roundtrip.
#
#   mariadb_start DATADIR [mariadbd options...]   mariadb_sql DATADIR SQL   mariadb_stop DATADIR
#   pg_start DATADIR [initdb options...]          pg_sql DATADIR SQL         pg_stop DATADIR
#
# DATADIR is created when it is empty. PostgreSQL refuses to run as root: as root it runs
# as the postgres user (the Debian package creates it), so DATADIR's parent must be
# reachable by that user.

MARIADBD=${MARIADBD:-$(command -v mariadbd || echo /usr/sbin/mariadbd)}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}

have_mariadb() { [ -x "$MARIADBD" ] && command -v mariadb-install-db >/dev/null; }
have_pg() { [ -n "$PG_BIN" ] && [ -x "$PG_BIN/postgres" ]; }

mariadb_start() {
	local dir=$1; shift
	# A temporary directory of its own: servers started at the same time with /tmp
	# could pick one name for a temporary table (seen: mariadb-install-db failing with
	# "Unknown table 'mysql.tmp_user_sys'" while another server ran). Made outside DIR's
	# file system: a data directory on a test's ext4 must not have the server's temporary
	# files take the blocks a DROP freed (seen once: 2 pages of a dropped table lost).
	local tmp
	mkdir -p "$dir"
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/mariadb-tmp.XXXXXX") || return 1
	echo "$tmp" >"$dir.tmpdir"
	if [ ! -d "$dir/mysql" ]; then
		mariadb-install-db --no-defaults --datadir="$dir" --user="$(id -un)" \
		    --auth-root-authentication-method=normal --skip-test-db \
		    --tmpdir="$tmp" --innodb-log-file-size=16M >"$dir.install.log" 2>&1 \
		    || { cat "$dir.install.log" >&2; return 1; }
	fi
	"$MARIADBD" --no-defaults --datadir="$dir" --socket="$dir.sock" --skip-networking \
	    --tmpdir="$tmp" \
	    --pid-file="$dir.pid" --user="$(id -un)" --log-error="$dir.err" \
	    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
	    --innodb-buffer-pool-size=64M --innodb-log-file-size=16M "$@" &
	local i
	for i in $(seq 1 300); do	# up to a minute on a busy machine
		mariadb --no-defaults --socket="$dir.sock" -uroot -e 'SELECT 1' >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	echo "servers.sh: mariadbd did not start in $dir:" >&2
	tail -n 20 "$dir.err" >&2
	return 1
}

mariadb_sql() {
	local dir=$1; shift
	mariadb --no-defaults --socket="$dir.sock" -uroot --batch --skip-column-names -e "$*"
}

mariadb_stop() {
	local dir=$1 pid
	pid=$(cat "$dir.pid" 2>/dev/null) || return 0
	mariadb-admin --no-defaults --socket="$dir.sock" -uroot shutdown >/dev/null 2>&1
	while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
	[ -f "$dir.tmpdir" ] && rm -rf "$(cat "$dir.tmpdir")" "$dir.tmpdir"
	return 0
}

# Runs a PostgreSQL program as the user that owns the cluster.
pg_as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_start() {
	local dir=$1; shift
	if [ ! -f "$dir/PG_VERSION" ]; then
		mkdir -p "$dir"
		[ "$(id -u)" = 0 ] && chown postgres "$dir"
		pg_as_owner "$PG_BIN/initdb" -D "$dir" -U postgres --auth=trust --no-sync \
		    --encoding=UTF8 --locale=C "$@" >"$dir.initdb.log" 2>&1 \
		    || { cat "$dir.initdb.log" >&2; return 1; }
	fi
	pg_as_owner "$PG_BIN/pg_ctl" -D "$dir" -w -l "$dir/server.log" \
	    -o "-k $dir -c listen_addresses='' -c fsync=off" start >/dev/null \
	    || { tail -n 20 "$dir/server.log" >&2; return 1; }
}

pg_sql() {
	local dir=$1; shift
	"$PG_BIN/psql" -h "$dir" -U postgres -X -q -t -A -v ON_ERROR_STOP=1 -c "$*" postgres
}

pg_stop() {
	pg_as_owner "$PG_BIN/pg_ctl" -D "$1" -w -m fast stop >/dev/null
}
