/* session.c: gathers what a report states about this session (see session.h). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/journal.h"
#include "base/paths.h"
#include "disk/block.h"
#include "disk/guard.h"
#include "disk/session.h"

static char *read_text(const char *path)
{
	FILE *file = fopen(path, "re");
	char *text = NULL;
	size_t size = 0;
	FILE *memory;
	char buffer[8192];
	size_t got;

	if (file == NULL)
		return errno == ENOENT ? strdup("") : NULL;
	memory = open_memstream(&text, &size);
	if (memory == NULL) {
		fclose(file);
		return NULL;
	}
	while ((got = fread(buffer, 1, sizeof buffer, file)) > 0)
		fwrite(buffer, 1, got, memory);
	fclose(file);
	fclose(memory);
	return text;
}

/* Keys on the command line are public, but they identify people, and base64 blobs make a
 * report unreadable; passwords in URLs must never be written anywhere. */
void session_redact_command_line(const char *command_line, char *text, size_t size)
{
	char *copy = strdup(command_line), *word, *cursor = copy, shown[1024];
	size_t used = 0;

	text[0] = '\0';
	if (copy == NULL)
		return;
	while ((word = strtok_r(cursor, " \t\n", &cursor)) != NULL && used + 1 < size) {
		if (strncmp(word, "rescue.ssh_key=", 15) == 0)
			snprintf(shown, sizeof shown, "rescue.ssh_key=(key)");
		else
			journal_redact(word, shown, sizeof shown);
		used += (size_t)snprintf(text + used, size - used, "%s%s", used ? " " : "", shown);
		if (used >= size)
			used = size - 1;
	}
	free(copy);
}

static unsigned long long read_number(const char *directory, const char *file, int *found)
{
	char path[4096], text[64] = "";
	FILE *stream;

	snprintf(path, sizeof path, "%s/%s", directory, file);
	stream = fopen(path, "re");
	*found = stream != NULL && fgets(text, sizeof text, stream) != NULL;
	if (stream)
		fclose(stream);
	return *found ? strtoull(text, NULL, 10) : 0;
}

/* The guard belongs to the disk: a partition is guarded when its disk is, and releasing the
 * disk released the partition (DISK is NULL for a disk itself). */
static int attestation_add(struct attestation **list, size_t *count, const char *directory,
    const char *name, const struct attestation *disk, const char *unguarded_file)
{
	struct attestation *grown = realloc(*list, (*count + 1) * sizeof **list), *entry;
	int found;

	if (grown == NULL)
		return -1;
	*list = grown;
	entry = &grown[(*count)++];
	memset(entry, 0, sizeof *entry);
	snprintf(entry->name, sizeof entry->name, "%s", name);
	entry->partition = disk != NULL;
	entry->rejected_writes = read_number(directory, "rejected_writes", &found);
	if (disk) {
		entry->guarded = disk->guarded;
		memcpy(entry->unguarded_at, disk->unguarded_at, sizeof entry->unguarded_at);
	} else {
		entry->guarded = read_number(directory, "guard", &found) == 1;
		guard_released_at(unguarded_file, name, entry->unguarded_at, sizeof entry->unguarded_at);
	}
	entry->guarded_since_boot = entry->guarded && entry->unguarded_at[0] == '\0';
	return 0;
}

/* Partitions are the subdirectories of a disk's sysfs directory that have a "partition"
 * file; they are listed in name order, as the kernel numbers them. */
static int add_partitions(const char *disk_directory, struct attestation **list, size_t *count,
    const char *unguarded_file)
{
	struct attestation disk = (*list)[*count - 1];
	struct dirent **entries;
	char directory[4400], marker[4500];
	struct stat status;
	int n, i, rc = 0;

	n = scandir(disk_directory, &entries, NULL, alphasort);
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		snprintf(directory, sizeof directory, "%s/%s", disk_directory, entries[i]->d_name);
		snprintf(marker, sizeof marker, "%s/partition", directory);
		if (entries[i]->d_name[0] != '.' && stat(marker, &status) == 0 && rc == 0)
			rc = attestation_add(list, count, directory, entries[i]->d_name, &disk,
			    unguarded_file);
		free(entries[i]);
	}
	free(entries);
	return rc;
}

/* Every hardware disk and its partitions: the devices the promise is about. */
int session_attestation(const char *sysfs_root, const char *unguarded_file,
    struct attestation **list, size_t *count)
{
	struct block_device device;
	char **names, directory[4096];
	int n, i, rc = 0;

	*list = NULL;
	*count = 0;
	n = block_names(sysfs_root, &names);
	if (n < 0)
		return -1;
	for (i = 0; i < n && rc == 0; i++) {
		if (block_device_read(sysfs_root, names[i], &device) != 0 || !device.hardware)
			continue;
		snprintf(directory, sizeof directory, "%s/block/%s", sysfs_root, names[i]);
		rc = attestation_add(list, count, directory, names[i], NULL, unguarded_file);
		if (rc == 0)
			rc = add_partitions(directory, list, count, unguarded_file);
	}
	block_names_free(names, n);
	return rc;
}

static void gather_time(struct session_facts *facts)
{
	time_t now = time(NULL);
	struct timespec uptime;
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(facts->generated, sizeof facts->generated, "%Y-%m-%dT%H:%M:%SZ", &tm);
	strftime(facts->stamp, sizeof facts->stamp, "%Y%m%dT%H%M%SZ", &tm);
	clock_gettime(CLOCK_BOOTTIME, &uptime);
	facts->uptime_seconds = (long)uptime.tv_sec;
}

int session_facts_gather(struct session_facts *facts, const char *sysfs_root)
{
	char *command_line;

	if (gethostname(facts->host, sizeof facts->host - 1) != 0 || facts->host[0] == '\0')
		snprintf(facts->host, sizeof facts->host, "unknown");
	facts->host[strcspn(facts->host, "/ ")] = '\0';
	gather_time(facts);
	command_line = read_text("/proc/cmdline");
	session_redact_command_line(command_line ? command_line : "", facts->command_line,
	    sizeof facts->command_line);
	free(command_line);
	facts->journal = read_text(journal_path());
	if (facts->journal == NULL)
		return -1;
	return session_attestation(sysfs_root, RESCUE_UNGUARDED_FILE, &facts->attestation,
	    &facts->attestation_count);
}

void session_facts_free(struct session_facts *facts)
{
	free(facts->journal);
	free(facts->attestation);
	free(facts->inventory_text);
	free(facts->inventory_json);
	memset(facts, 0, sizeof *facts);
}
