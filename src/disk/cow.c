/* cow.c: the --cow option of repair, parsed; sizes in both directions. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk/cow.h"

int size_parse(const char *text, unsigned long long *bytes)
{
	static const char units[] = "KMGT";
	unsigned long long value, scale = 1;
	const char *unit;
	char *end;

	if (!isdigit((unsigned char)text[0]))
		return -1;
	errno = 0;
	value = strtoull(text, &end, 10);
	if (errno != 0)
		return -1;
	if (*end) {
		unit = strchr(units, toupper((unsigned char)*end));
		if (unit == NULL)
			return -1;
		scale = 1ULL << (10 * (unit - units + 1));
		end++;
		/* "2G", "2GB" and "2GiB" all mean 2 x 1024^3. */
		if (strcmp(end, "") != 0 && strcasecmp(end, "B") != 0 && strcasecmp(end, "iB") != 0)
			return -1;
	}
	if (value == 0 || value > ~0ULL / scale)
		return -1;
	*bytes = value * scale;
	return 0;
}

void size_format(unsigned long long bytes, char *text, size_t size)
{
	static const char *const units[] = { "bytes", "KiB", "MiB", "GiB", "TiB" };
	double value = (double)bytes;
	int unit = 0;

	while (value >= 1024 && unit < 4) {
		value /= 1024;
		unit++;
	}
	if (unit == 0)
		snprintf(text, size, "%llu bytes", bytes);
	else
		snprintf(text, size, "%.1f %s", value, units[unit]);
}

static int fail(char *why, size_t why_size, const char *reason)
{
	snprintf(why, why_size, "%s", reason);
	return -1;
}

static int parse_file(const char *rest, struct cow_spec *spec, char *why, size_t why_size)
{
	const char *query = strchr(rest, '?');
	size_t length = query ? (size_t)(query - rest) : strlen(rest);

	if (rest[0] != '/' || length < 2)
		return fail(why, why_size, "file:// needs an absolute path (file:///run/cow)");
	if (length >= sizeof spec->path)
		return fail(why, why_size, "the path is too long");
	spec->kind = COW_FILE;
	memcpy(spec->path, rest, length);
	spec->path[length] = '\0';
	if (query && (strncmp(query, "?size=", 6) != 0 || size_parse(query + 6, &spec->size) != 0))
		return fail(why, why_size, "expected ?size=SIZE after the path (e.g. ?size=2G)");
	return 0;
}

static int parse_nbd(const char *rest, struct cow_spec *spec, char *why, size_t why_size)
{
	size_t host_length = strcspn(rest, ":/");
	const char *cursor = rest + host_length;
	char *end;

	if (host_length == 0 || host_length >= sizeof spec->host)
		return fail(why, why_size, "no host after nbd://");
	spec->kind = COW_NBD;
	memcpy(spec->host, rest, host_length);
	spec->host[host_length] = '\0';
	spec->port = NBD_DEFAULT_PORT;
	if (*cursor == ':') {
		unsigned long port = strtoul(cursor + 1, &end, 10);

		if (end == cursor + 1 || port == 0 || port > 65535 || (*end && *end != '/'))
			return fail(why, why_size, "the port is not a number from 1 to 65535");
		spec->port = (unsigned)port;
		cursor = end;
	}
	if (*cursor == '/')
		snprintf(spec->export_name, sizeof spec->export_name, "%s", cursor + 1);
	return 0;
}

int cow_parse(const char *text, struct cow_spec *spec, char *why, size_t why_size)
{
	memset(spec, 0, sizeof *spec);
	if (strncmp(text, "file://", 7) == 0)
		return parse_file(text + 7, spec, why, why_size);
	if (strncmp(text, "nbd://", 6) == 0)
		return parse_nbd(text + 6, spec, why, why_size);
	if (strstr(text, "://"))
		return fail(why, why_size, "only file:// and nbd:// can hold a copy-on-write store");
	spec->kind = COW_RAM;
	if (size_parse(text, &spec->size) != 0)
		return fail(why, why_size, "not a size (e.g. 512M or 2G), file:///path or "
		    "nbd://host:port/export");
	if (spec->size < COW_MIN_SIZE)
		return fail(why, why_size, "smaller than the least a repair needs (64K)");
	return 0;
}

unsigned long long cow_default_size(unsigned long long mem_available,
    unsigned long long tmpfs_free)
{
	unsigned long long size = mem_available / 2, margin = 32ULL << 20;

	if (tmpfs_free > margin && size > tmpfs_free - margin)
		size = tmpfs_free - margin;
	else if (tmpfs_free <= margin)
		size = 0;
	if (size > COW_DEFAULT_CAP)
		size = COW_DEFAULT_CAP;
	return size / COW_CHUNK_SIZE * COW_CHUNK_SIZE;
}
