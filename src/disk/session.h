/* session.h: the facts of this rescue session that a report records: which machine, when,
 * how it was booted, what was done (the journal), and what the write guard did. */
#ifndef RESCUE_SESSION_H
#define RESCUE_SESSION_H

#include <stddef.h>

/* One disk or partition as the guard attestation states it. */
struct attestation {
	char name[64];
	int partition;
	int guarded;			/* the guard is on now */
	int guarded_since_boot;		/* on now and never released with rescue unguard */
	char unguarded_at[32];		/* UTC time of the last unguard, "" if none */
	unsigned long long rejected_writes;
};

struct session_facts {
	char host[128];
	char generated[32];		/* UTC, ISO 8601 */
	char stamp[32];			/* UTC, YYYYMMDDTHHMMSSZ, for file names */
	long uptime_seconds;
	char command_line[4096];	/* /proc/cmdline without keys and passwords */
	char *journal;			/* the journal file's text, "" when empty */
	struct attestation *attestation;
	size_t attestation_count;
	/* Filled by the report command itself. */
	char *inventory_text;
	char *inventory_json;
	int inventory_ok;		/* inventory_json is rescue disks --json output */
};

int session_facts_gather(struct session_facts *facts, const char *sysfs_root);
void session_facts_free(struct session_facts *facts);
void session_redact_command_line(const char *command_line, char *text, size_t size);
int session_attestation(const char *sysfs_root, const char *unguarded_file,
    struct attestation **list, size_t *count);

#endif
