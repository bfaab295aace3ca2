# usage.awk: turns the comment at the top of cmd/NAME.c into gen/usage/NAME.h.
#
# The comment is the command's documentation (toybox keeps it there too); its first line is
# "/* NAME: summary", the rest is the usage text that --help prints. Generating the header
# keeps one copy of the text. Run as: awk -v name=NAME -f usage.awk cmd/NAME.c
function escape(text) {
	gsub(/\\/, "\\\\", text)
	gsub(/"/, "\\\"", text)
	return text
}

function fail(message) {
	print "usage.awk: cmd/" name ".c: " message > "/dev/stderr"
	failed = 1
	exit 1
}

NR == 1 {
	prefix = "/* " name ": "
	if (substr($0, 1, length(prefix)) != prefix)
		fail("the first line must be \"" prefix "summary\"")
	summary = substr($0, length(prefix) + 1)
	next
}
/^ \*\// { closed = 1; exit }
{
	sub(/^ \*( |$)/, "")
	if (usage == "" && $0 == "")
		next
	usage = usage "\t\"" escape($0) "\\n\" \\\n"
}

END {
	if (failed)
		exit 1
	if (!closed)
		fail("the top comment has no end")
	print "/* Generated from the top comment of cmd/" name ".c by usage.awk; edit that. */"
	print "#define COMMAND_SUMMARY \"" escape(summary) "\""
	printf "#define COMMAND_USAGE \\\n%s\t\"\"\n", usage
}
