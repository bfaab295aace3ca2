/* dbscan.c: the database-page engine run by hand on a host, before `rescue carve --db`
 * exists: reads a device or image, feeds it to dbpages in 1 MiB chunks, and writes what
 * it found into a directory through a file:// store.
 *
 *   usage: dbscan [-i] [-p] [-r RANGES] SOURCE DIRECTORY [PREFIX]
 *
 * -i InnoDB only, -p PostgreSQL only (default both); -r reads only the byte ranges listed
 * in the file RANGES, one "OFFSET LENGTH" a line (a file system's free space, as `rescue
 * carve --free` will); PREFIX defaults to "SOURCE.db-" with SOURCE's base name. Exit 0 when every file is complete, 1 with losses, 2 usage, 3 when
 * the source or the directory failed. Built by `make -C src dbscan`.
 */
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "salvage/dbpages.h"
#include "target/store.h"
#include "target/target.h"

enum { CHUNK = 1 << 20 };

static ssize_t read_fd(void *context, void *buffer, size_t size, uint64_t position)
{
	return pread(*(int *)context, buffer, size, (off_t)position);
}

/* Feeds LENGTH bytes from AT (UINT64_MAX: to the end). */
static int scan_range(int fd, struct dbpages *pages, uint64_t at, uint64_t length)
{
	static unsigned char buffer[CHUNK];
	uint64_t end = length == UINT64_MAX ? UINT64_MAX : at + length;
	ssize_t got = 0;

	while (at < end && (got = read_fd(&fd, buffer, end - at < CHUNK ? end - at : CHUNK,
	    at)) > 0) {
		if (dbpages_feed(pages, buffer, (size_t)got, at) != 0)
			return -1;
		at += (uint64_t)got;
	}
	return got < 0 ? -1 : 0;
}

static int scan(int fd, struct dbpages *pages, const char *ranges)
{
	unsigned long long at, length;
	FILE *list;
	int result = 0;

	if (ranges == NULL)
		return scan_range(fd, pages, 0, UINT64_MAX);
	list = fopen(ranges, "r");
	if (list == NULL)
		return -1;
	while (result == 0 && fscanf(list, "%llu %llu", &at, &length) == 2)
		result = scan_range(fd, pages, at, length);
	fclose(list);
	return result;
}

int main(int argc, char **argv)
{
	unsigned engines = DBPAGES_INNODB | DBPAGES_PG;
	char url[4200], why[1024], prefix[512];
	struct dbpages_summary summary;
	struct dbpages *pages;
	struct target target;
	struct store *store;
	const char *ranges = NULL;
	int option, fd, transient, result;

	while ((option = getopt(argc, argv, "ipr:")) != -1) {
		if (option == 'r')
			ranges = optarg;
		else
			engines = option == 'i' ? DBPAGES_INNODB : option == 'p' ? DBPAGES_PG : 0;
	}
	if (engines == 0 || argc - optind < 2 || argc - optind > 3) {
		fprintf(stderr, "usage: dbscan [-i] [-p] [-r RANGES] SOURCE DIRECTORY [PREFIX]\n");
		return 2;
	}
	fd = open(argv[optind], O_RDONLY);
	if (fd < 0) {
		perror(argv[optind]);
		return 3;
	}
	pages = dbpages_open(engines);
	if (pages == NULL || scan(fd, pages, ranges) != 0) {
		perror("dbscan: unable to scan");
		return 3;
	}
	snprintf(prefix, sizeof prefix, "%s.db-", basename(argv[optind]));
	snprintf(url, sizeof url, "file://%s", argv[optind + 1]);
	if (target_parse(url, &target, why, sizeof why) != 0
	    || (store = store_open(&target, "dbscan", why, sizeof why, &transient)) == NULL) {
		fprintf(stderr, "dbscan: %s\n", why);
		return 3;
	}
	result = dbpages_write(pages, &(struct dbpages_output){ .read = read_fd, .source = &fd,
	    .store = store, .prefix = argc - optind == 3 ? argv[optind + 2] : prefix,
	    .give_up = 0, .log = stdout }, &summary);
	if (result < 0)
		fprintf(stderr, "dbscan: %s\n", summary.failure);
	printf("%u tablespaces, %u relations, %u btree indexes, %llu pages written, %llu missing, "
	    "%llu wrong checksums\n", summary.tablespaces, summary.relations, summary.indexes,
	    (unsigned long long)summary.pages_written, (unsigned long long)summary.pages_missing,
	    (unsigned long long)summary.bad_checksums);
	store_close(store);
	dbpages_close(pages);
	close(fd);
	return result < 0 ? 3 : result;
}
