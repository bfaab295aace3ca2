/* report: write the session's timeline, disk inventory and guard attestation to a target
 *
 * usage: rescue report [TARGET]
 *
 * Writes two files into the target directory (the default target, rescue.target=, when
 * TARGET is not given), named after the host and the time:
 *
 *   rescue-report-HOST-YYYYMMDDTHHMMSSZ.txt    for people
 *   rescue-report-HOST-YYYYMMDDTHHMMSSZ.json   for scripts: {"rescue_version", "host",
 *       "generated", "uptime_seconds", "kernel_command_line", "journal": [...],
 *       "inventory": {the output of rescue disks --json}, "attestation": [...]}
 *
 * The journal is every rescue command of this session (see rescue log). The attestation
 * says, for every disk and partition the machine has, whether the write guard has been on
 * since boot (nobody ran rescue unguard on it), whether it is on now, and how many writes
 * the guard rejected. SSH keys given on the kernel command line and passwords in URLs are
 * left out. Each file is written under a temporary name, read back, then renamed, so a file
 * with the final name is complete.
 *
 * Targets: ssh://[user@]host[:port]/dir and file:///dir (see rescue target test).
 *
 * Exit codes: 0 both files written and verified, 2 usage error or no target, 3 the target
 * failed (the message names it) or the facts could not be gathered.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/journal.h"
#include "base/json.h"
#include "base/paths.h"
#include "base/spawn.h"
#include "cli/command.h"
#include "cli/opt.h"
#include "disk/block.h"
#include "disk/session.h"
#include "target/target.h"
#include "version.h"
#include "usage/report.h"

static int report_main(int argc, char **argv);

const struct command command_report = {
	.name = "report",
	.summary = COMMAND_SUMMARY,
	.usage = COMMAND_USAGE,
	.menu_label = "report: timeline to a target",
	.menu_rank = 95,
	.menu_prompt = "target URL (Enter alone: the default target)",
	.run = report_main,
};

/* Runs `rescue disks` (with ARGUMENT) as a child of this program and keeps what it printed;
 * on failure the text says so, and the report goes on: a report without an inventory is
 * still worth having after a disaster. */
static char *inventory(const char *argument, int *ok)
{
	char self[4096] = "/proc/self/exe";
	char *argv[] = { self, "disks", (char *)argument, NULL };
	struct spawn_request request = { .argv = argv, .flags = SPAWN_STDERR,
	    .timeout_seconds = 120 };
	struct spawn_result result;

	*ok = 0;
	if (spawn_run(&request, &result) != 0)
		return strdup("unable to run rescue disks\n");
	*ok = spawn_exit_code(&result) == 0 && !result.truncated;
	return result.output;
}

static void write_attestation_text(FILE *out, const struct attestation *list, size_t count)
{
	size_t i;

	fprintf(out, "%-16s %-18s %-9s %s\n", "DEVICE", "GUARDED SINCE BOOT", "GUARD NOW",
	    "WRITES REJECTED");
	for (i = 0; i < count; i++)
		fprintf(out, "%-16s %-18s %-9s %llu%s%s\n", list[i].name,
		    list[i].guarded_since_boot ? "yes" : "no", list[i].guarded ? "on" : "off",
		    list[i].rejected_writes, list[i].unguarded_at[0] ? "  unguarded at " : "",
		    list[i].unguarded_at);
}

static void write_attestation_json(FILE *out, const struct attestation *list, size_t count)
{
	size_t i;

	fputs("[", out);
	for (i = 0; i < count; i++) {
		fprintf(out, "%s{", i ? "," : "");
		json_member_string(out, "device", list[i].name, 0);
		fprintf(out, ",\"partition\":%s,\"guarded_since_boot\":%s,\"guarded\":%s,"
		    "\"rejected_writes\":%llu,\"unguarded_at\":", list[i].partition ? "true" : "false",
		    list[i].guarded_since_boot ? "true" : "false",
		    list[i].guarded ? "true" : "false", list[i].rejected_writes);
		if (list[i].unguarded_at[0])
			json_string(out, list[i].unguarded_at);
		else
			fputs("null", out);
		fputs("}", out);
	}
	fputs("]", out);
}

static void write_journal_json(FILE *out, const char *journal_text)
{
	char *copy = strdup(journal_text ? journal_text : ""), *line, *cursor;
	struct journal_entry entry;
	int first = 1;

	fputs("[", out);
	for (cursor = copy; cursor && (line = strsep(&cursor, "\n")) != NULL;) {
		if (*line == '\0' || journal_parse_line(line, &entry) != 0)
			continue;
		fprintf(out, "%s\n", first ? "" : ",");
		journal_entry_json(out, &entry);
		first = 0;
	}
	fputs("]", out);
	free(copy);
}

static void write_text(FILE *out, const struct session_facts *facts)
{
	fprintf(out, "rescue report\n=============\n\n");
	fprintf(out, "host:       %s\nversion:    rescue %s\ngenerated:  %s\nuptime:     %lds\n"
	    "boot:       %s\n\n", facts->host, RESCUE_VERSION, facts->generated,
	    facts->uptime_seconds, facts->command_line);
	fprintf(out, "Timeline (UTC start, seconds, exit, origin, command, summary)\n"
	    "-------------------------------------------------------------\n%s\n",
	    facts->journal[0] ? facts->journal : "(no commands yet)\n");
	fprintf(out, "Disks\n-----\n%s\n", facts->inventory_text);
	fprintf(out, "Write guard attestation\n-----------------------\n");
	write_attestation_text(out, facts->attestation, facts->attestation_count);
}

static void write_json(FILE *out, const struct session_facts *facts)
{
	fputs("{", out);
	json_member_string(out, "rescue_version", RESCUE_VERSION, 0);
	json_member_string(out, "host", facts->host, 1);
	json_member_string(out, "generated", facts->generated, 1);
	fprintf(out, ",\"uptime_seconds\":%ld", facts->uptime_seconds);
	json_member_string(out, "kernel_command_line", facts->command_line, 1);
	fputs(",\"journal\":", out);
	write_journal_json(out, facts->journal);
	fputs(",\"inventory\":", out);
	if (facts->inventory_ok)
		fputs(facts->inventory_json, out);
	else
		json_string(out, facts->inventory_json);
	fputs(",\"attestation\":", out);
	write_attestation_json(out, facts->attestation, facts->attestation_count);
	fputs("}\n", out);
}

/* Renders with WRITER into memory and hands the bytes to the target. */
static int put_rendered(const struct target *target, const char *name,
    void (*writer)(FILE *, const struct session_facts *), const struct session_facts *facts)
{
	char *data = NULL;
	size_t size = 0;
	FILE *memory = open_memstream(&data, &size);
	int rc;

	if (memory == NULL)
		return err_fatal(EXIT_SYSTEM, "unable to render %s", name);
	writer(memory, facts);
	if (fclose(memory) != 0) {
		free(data);
		return err_fatal(EXIT_SYSTEM, "unable to render %s", name);
	}
	rc = target_put_file(target, name, data, size);
	if (rc == 0)
		printf("wrote %s/%s (%zu bytes, read back and verified)\n", target->display, name,
		    size);
	free(data);
	return rc == 0 ? EXIT_OK : EXIT_SYSTEM;
}

static int choose_target(struct opt_parser *opts, struct target *target)
{
	const char *url = opts->operand_count ? opts->operands[0] : target_default();
	char why[256];

	if (url == NULL)
		return err_usage(command_report.usage,
		    "no target given and no default target (rescue.target=) set");
	if (target_parse(url, target, why, sizeof why) != 0) {
		char shown[1024];

		journal_redact(url, shown, sizeof shown);
		return err_usage(command_report.usage, "not a target URL: %s: %s", shown, why);
	}
	return EXIT_OK;
}

static int report_main(int argc, char **argv)
{
	struct opt_parser opts = opt_parser(&command_report, argc, argv, NULL, NULL);
	struct session_facts facts = { 0 };
	struct target target;
	char name[512];
	int code, text_ok;

	if (opt_no_options(&opts, 0, 1) != 0)
		return opts.exit_code;
	code = choose_target(&opts, &target);
	if (code != EXIT_OK)
		return code;
	if (session_facts_gather(&facts, block_sysfs_root()) != 0) {
		code = err_fatal(EXIT_SYSTEM, "unable to gather the facts for the report");
		goto out;
	}
	facts.inventory_text = inventory(NULL, &text_ok);
	facts.inventory_json = inventory("--json", &facts.inventory_ok);
	snprintf(name, sizeof name, "rescue-report-%s-%s.txt", facts.host, facts.stamp);
	code = put_rendered(&target, name, write_text, &facts);
	snprintf(name, sizeof name, "rescue-report-%s-%s.json", facts.host, facts.stamp);
	if (code == EXIT_OK)
		code = put_rendered(&target, name, write_json, &facts);
	if (code == EXIT_OK)
		journal_summary("report rescue-report-%s-%s.{txt,json} written to %s%s", facts.host,
		    facts.stamp, target.display, facts.inventory_ok ? "" : " (without inventory)");
out:
	session_facts_free(&facts);
	return code;
}
