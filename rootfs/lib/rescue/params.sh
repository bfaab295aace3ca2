# Kernel command line and rescue.conf parameters.
#
# Known parameters end up as files in /run/rescue/param/NAME (ssh_key may
# repeat: one file per key, ssh_key.1, ssh_key.2, ...), where the menu and
# the `rescue` program read them. rescue.conf on the config disk supplies
# defaults; the kernel command line wins. Unknown or malformed values are
# reported and ignored.

PARAM_DIR=/run/rescue/param
PARAMS_KNOWN="ssh_key net target target_password run poweroff insecure_http"

param_set() {
	local name=$1 value=$2 n
	mkdir -p $PARAM_DIR
	if [ "$name" = ssh_key ]; then
		n=$(ls $PARAM_DIR 2>/dev/null | grep -c '^ssh_key\.')
		printf '%s\n' "$value" >"$PARAM_DIR/ssh_key.$((n + 1))"
	else
		printf '%s\n' "$value" >"$PARAM_DIR/$name"
	fi
}

param_get() {
	cat "$PARAM_DIR/$1" 2>/dev/null
}

# param_take SOURCE NAME VALUE: record one parameter if we know it.
param_take() {
	local source=$1 name=$2 value=$3
	case " $PARAMS_KNOWN " in
	*" $name "*) param_set "$name" "$value" ;;
	*) warn "unknown parameter $(shown "$name=$value") in $source (ignored)" ;;
	esac
}

params_read() {
	local word
	rm -rf $PARAM_DIR
	mkdir -p $PARAM_DIR
	# The kernel command line has no quoting we need to honour: our values
	# never contain spaces (keys are base64). It is split on blanks only:
	# with globbing off, a value holding * or ? stays as it was typed instead
	# of becoming the names of files that happen to match.
	set -f
	for word in $(cat /proc/cmdline); do
		case $word in
		rescue.*=*) word=${word#rescue.}; param_take "kernel command line" "${word%%=*}" "${word#*=}" ;;
		rescue.*) param_take "kernel command line" "${word#rescue.}" "" ;;
		esac
	done
	set +f
}

# params_merge_conf FILE: rescue.conf lines NAME=VALUE, '#' comments; the
# kernel command line, read first, keeps priority. The file is parsed by
# `rescue config --raw` (src/cli/conf_parse.c, fuzzed), which gives one
# "N NAME=VALUE" or "N !PROBLEM" line per line of the file; a NUL byte or an
# endless line stays there, and problems come back escaped.
params_merge_conf() {
	local file=$1 lines=/run/rescue/conf.lines line n entry name value
	rescue config --raw "$file" >$lines 2>/run/rescue/conf.errors
	if [ ! -s $lines ] && [ -s /run/rescue/conf.errors ]; then
		warn "rescue.conf: $(shown "$(cat /run/rescue/conf.errors)") (ignored)"
	fi
	while IFS= read -r line || [ -n "$line" ]; do
		n=${line%% *}
		entry=${line#* }
		case $entry in
		'!'*) warn "rescue.conf line $n: ${entry#!}"; continue ;;
		esac
		name=${entry%%=*} value=${entry#*=}
		if [ "$name" != ssh_key ] && [ -e "$PARAM_DIR/$name" ]; then
			continue
		fi
		param_take "rescue.conf line $n" "$name" "$value"
	done <$lines
}

valid_url() {
	case $1 in
	ssh://?*|nbd://?*|nfs://?*|smb://?*|tcp://?*:?*|file:///*) return 0 ;;
	esac
	return 1
}

params_check() {
	local v
	v=$(param_get poweroff)
	case $v in
	""|0|1) ;;
	*) warn "rescue.poweroff=$(shown "$v"): expected 0 or 1 (ignored)"; rm -f $PARAM_DIR/poweroff ;;
	esac
	# rescue.insecure_http=1 lets `rescue` fetch unpinned http:// runbooks and key
	# files (src/base/fetch.h); each such fetch warns again on every console.
	v=$(param_get insecure_http)
	case $v in
	""|0) ;;
	1) warn "rescue.insecure_http=1: http:// runbooks and key files without a #sha256= pin will be fetched unauthenticated; anyone on the path can change them" ;;
	*) warn "rescue.insecure_http=$(shown "$v"): expected 0 or 1 (ignored)"; rm -f $PARAM_DIR/insecure_http ;;
	esac
	v=$(param_get target)
	if [ -n "$v" ] && ! valid_url "$v"; then
		warn "rescue.target=$(shown "$v"): not a target URL (ssh:// nbd:// nfs:// smb:// tcp://HOST:PORT file:///PATH); ignored"
		rm -f $PARAM_DIR/target
	fi
}
