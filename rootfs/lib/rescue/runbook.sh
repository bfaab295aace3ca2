# rescue.run=NAME|URL: the runbook runs once boot is ready, before the menu
# starts on the consoles, so its lines are not mixed with the menu's. Its
# output goes to every console; `rescue runbook` prints the final
# "rescue: runbook NAME exit N" line itself. rescue.poweroff=1 then powers
# off whatever the outcome: tests and rehearsals wait for that.

runbook_start() {
	local run code
	run=$(param_get run)
	[ -n "$run" ] || return 0
	say "rescue: runbook $run starting"
	# The pipeline's status is the reader's; the runbook's own exit code is
	# in its last line, which is what a watcher looks for.
	(cd /root && rescue runbook "$run" </dev/null 2>&1) | while IFS= read -r line; do
		say "$line"
	done
	if [ "$(param_get poweroff)" = 1 ]; then
		say "rescue: powering off (rescue.poweroff=1)"
		poweroff
	fi
}
