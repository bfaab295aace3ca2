/* url.c: target URLs (DESIGN section 6) and the default target: parsing, the schemes and
 * their default ports. Everything else in target/ builds on this file; it calls nothing
 * there.
 *
 * The URL grammar is the usual one, kept strict so that a typo is named rather than
 * guessed at:  SCHEME://[USER[:PASSWORD]@]HOST[:PORT][/PATH]  with HOST a name, an IPv4
 * address or an [IPv6] address in brackets; USER, PASSWORD and PATH may hold %XX escapes.
 * For nbd:// the path holds the export name (without its slash).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/paths.h"
#include "target/target.h"
#include "target/target_ops.h"

/* Moves RESCUE_PARAM_DIR for tests, as RESCUE_SYSFS moves sysfs. */
#define PARAM_DIR_ENV "RESCUE_PARAM_DIR"

static const struct {
	const char *name;
	enum target_scheme scheme;
	unsigned default_port;
} schemes[] = {
	{ "ssh", TARGET_SSH, 22 },
	{ "nbd", TARGET_NBD, 10809 },
	{ "nfs", TARGET_NFS, 2049 },
	{ "smb", TARGET_SMB, 445 },
	{ "tcp", TARGET_TCP, 0 },
	{ "file", TARGET_FILE, 0 },
};

const char *target_scheme_name(enum target_scheme scheme)
{
	size_t i;

	for (i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
		if (schemes[i].scheme == scheme)
			return schemes[i].name;
	return "?";
}

unsigned target_port(const struct target *target)
{
	size_t i;

	if (target->port)
		return target->port;
	for (i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
		if (schemes[i].scheme == target->scheme)
			return schemes[i].default_port;
	return 0;
}

static int why_set(char *why, size_t why_size, const char *format, const char *value)
{
	snprintf(why, why_size, format, value);
	return -1;
}

static int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes %XX escapes of TEXT[0..LENGTH) into OUT; -1 for a bad escape, a NUL byte or an
 * overflow. */
static int percent_decode(const char *text, size_t length, char *out, size_t size)
{
	size_t used = 0, i;

	for (i = 0; i < length; i++) {
		int c = (unsigned char)text[i];

		if (c == '%') {
			if (i + 2 >= length || hex_value(text[i + 1]) < 0
			    || hex_value(text[i + 2]) < 0)
				return -1;
			c = hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]);
			i += 2;
			if (c == 0)
				return -1;
		}
		if (used + 1 >= size)
			return -1;
		out[used++] = (char)c;
	}
	out[used] = '\0';
	return 0;
}

static int scheme_parse(const char *url, struct target *target, const char **rest, char *why,
    size_t why_size)
{
	const char *end = strstr(url, "://");
	size_t i, length;

	if (end == NULL)
		return why_set(why, why_size,
		    "no scheme in '%s' (want ssh://, nbd://, nfs://, smb://, tcp:// or file:///)", url);
	length = (size_t)(end - url);
	for (i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
		if (strlen(schemes[i].name) == length && strncmp(url, schemes[i].name, length) == 0) {
			target->scheme = schemes[i].scheme;
			*rest = end + 3;
			return 0;
		}
	snprintf(why, why_size, "unknown scheme '%.*s' (want ssh, nbd, nfs, smb, tcp or file)",
	    (int)(length > 32 ? 32 : length), url);
	return -1;
}

/* USER[:PASSWORD] from the part before '@'. */
static int userinfo_parse(const char *text, size_t length, struct target *target, char *why,
    size_t why_size)
{
	const char *colon = memchr(text, ':', length);
	size_t user_length = colon ? (size_t)(colon - text) : length;

	if (target->scheme != TARGET_SSH && target->scheme != TARGET_SMB)
		return why_set(why, why_size, "a user is not allowed in %s:// URLs",
		    target_scheme_name(target->scheme));
	if (user_length == 0)
		return why_set(why, why_size, "empty user name before '@'%s", "");
	if (percent_decode(text, user_length, target->user, sizeof target->user) != 0)
		return why_set(why, why_size, "bad user name (a broken %%XX escape or too long)%s", "");
	if (strpbrk(target->user, " \t\n/@:") != NULL || target->user[0] == '-')
		return why_set(why, why_size, "bad user name '%s'", target->user);
	if (colon && percent_decode(colon + 1, length - user_length - 1, target->password,
	    sizeof target->password) != 0)
		return why_set(why, why_size, "bad password (a broken %%XX escape or too long)%s", "");
	if (colon && target->password[0] == '\0')
		return why_set(why, why_size, "empty password after ':'%s", "");
	return 0;
}

static int host_char_ok(int c)
{
	return isalnum(c) || c == '.' || c == '-' || c == '_';
}

static int port_parse(const char *text, size_t length, struct target *target, char *why,
    size_t why_size)
{
	char port[16];
	unsigned long value;
	size_t i;

	snprintf(port, sizeof port, "%.*s", (int)(length > 15 ? 15 : length), text);
	for (i = 0; i < length; i++)
		if (!isdigit((unsigned char)text[i]))
			return why_set(why, why_size, "bad port '%s' (want 1-65535)", port);
	value = length > 0 && length < 6 ? strtoul(port, NULL, 10) : 0;
	if (value < 1 || value > 65535)
		return why_set(why, why_size, "bad port '%s' (want 1-65535)", port);
	target->port = (unsigned)value;
	return 0;
}

/* HOST[:PORT], HOST being a name, an IPv4 address or [IPv6]. */
static int hostport_parse(const char *text, size_t length, struct target *target, char *why,
    size_t why_size)
{
	const char *host = text, *after;
	size_t host_length, i;

	if (length > 0 && text[0] == '[') {
		const char *close = memchr(text, ']', length);

		if (close == NULL)
			return why_set(why, why_size, "no ']' after the IPv6 address in '%s'", target->display);
		host = text + 1;
		host_length = (size_t)(close - host);
		after = close + 1;
		for (i = 0; i < host_length; i++)
			if (!isxdigit((unsigned char)host[i]) && host[i] != ':' && host[i] != '.')
				return why_set(why, why_size, "bad IPv6 address in '%s'", target->display);
		if (after < text + length && *after != ':')
			return why_set(why, why_size, "unexpected text after ']' in '%s'", target->display);
	} else {
		const char *colon = memchr(text, ':', length);

		host_length = colon ? (size_t)(colon - text) : length;
		after = text + host_length;
		for (i = 0; i < host_length; i++)
			if (!host_char_ok((unsigned char)host[i])) {
				char bad[64];

				snprintf(bad, sizeof bad, "%.*s", (int)(host_length > 60 ? 60 : host_length), host);
				return why_set(why, why_size, "bad host '%s'", bad);
			}
	}
	if (host_length == 0)
		return why_set(why, why_size, "no host in '%s'", target->display);
	if (host_length >= sizeof target->host)
		return why_set(why, why_size, "host name too long in '%s'", target->display);
	memcpy(target->host, host, host_length);
	target->host[host_length] = '\0';
	if (after < text + length)
		return port_parse(after + 1, (size_t)(text + length - after - 1), target, why, why_size);
	return 0;
}

/* What each scheme needs from the path, checked once the path is decoded. */
static int path_check(struct target *target, char *why, size_t why_size)
{
	const char *path = target->path;

	switch (target->scheme) {
	case TARGET_TCP:
		if (path[0] && strcmp(path, "/") != 0)
			return why_set(why, why_size, "tcp:// takes no path, got '%s'", path);
		target->path[0] = '\0';
		if (target->port == 0)
			return why_set(why, why_size, "no port in '%s' (tcp://HOST:PORT)", target->display);
		return 0;
	case TARGET_NBD:
		memmove(target->path, path + (path[0] == '/'), strlen(path + (path[0] == '/')) + 1);
		return 0;
	case TARGET_NFS:
	case TARGET_SMB:
		if (path[0] == '\0' || strcmp(path, "/") == 0)
			return why_set(why, why_size, "no %s in the URL",
			    target->scheme == TARGET_NFS ? "export (nfs://HOST/EXPORT)" : "share (smb://HOST/SHARE)");
		return 0;
	case TARGET_SSH:
		if (path[0] == '\0')
			return why_set(why, why_size, "no directory in '%s' (ssh://HOST/DIR)", target->display);
		return 0;
	case TARGET_FILE:
		return 0;
	}
	return 0;
}

/* The path with its %XX escapes decoded; trailing slashes go (but "/" stays). */
static int path_parse(const char *text, struct target *target, char *why, size_t why_size)
{
	size_t length;

	if (percent_decode(text, strlen(text), target->path, sizeof target->path) != 0)
		return why_set(why, why_size, "bad path '%s' (a broken %%XX escape or too long)", text);
	length = strlen(target->path);
	while (length > 1 && target->path[length - 1] == '/')
		target->path[--length] = '\0';
	if (strstr(target->path, "\n") != NULL)
		return why_set(why, why_size, "a newline in the path '%s'", text);
	return path_check(target, why, why_size);
}

/* The URL as the user wrote it, with the password (if any) replaced by "***". */
static void display_make(const char *url, const char *authority, size_t authority_length,
    struct target *target)
{
	const char *at = NULL, *colon, *c;

	for (c = authority; c < authority + authority_length; c++)
		if (*c == '@')
			at = c;
	colon = at ? memchr(authority, ':', (size_t)(at - authority)) : NULL;
	if (colon == NULL) {
		snprintf(target->display, sizeof target->display, "%s", url);
		return;
	}
	snprintf(target->display, sizeof target->display, "%.*s:***%s",
	    (int)(colon - url), url, at);
}

static int password_from_config(struct target *target);

int target_parse(const char *url, struct target *target, char *why, size_t why_size)
{
	const char *rest, *slash, *at = NULL, *c;
	size_t authority_length;

	memset(target, 0, sizeof *target);
	snprintf(why, why_size, "%s", "");
	for (c = url; *c; c++)
		if (isspace((unsigned char)*c) || iscntrl((unsigned char)*c))
			return why_set(why, why_size, "a space or control character in '%s'", url);
	if (strlen(url) >= sizeof target->display - 8)
		return why_set(why, why_size, "URL too long (%s...)", "");
	if (scheme_parse(url, target, &rest, why, why_size) != 0)
		return -1;
	slash = strchr(rest, '/');
	authority_length = slash ? (size_t)(slash - rest) : strlen(rest);
	display_make(url, rest, authority_length, target);
	if (target->scheme == TARGET_FILE) {
		if (authority_length != 0)
			return why_set(why, why_size,
			    "file:// URLs have no host: want file:///PATH, got '%s'", target->display);
		return path_parse(rest, target, why, why_size);
	}
	for (c = rest; c < rest + authority_length; c++)
		if (*c == '@')
			at = c;
	if (at && userinfo_parse(rest, (size_t)(at - rest), target, why, why_size) != 0)
		return -1;
	if (at)
		authority_length -= (size_t)(at + 1 - rest), rest = at + 1;
	if (hostport_parse(rest, authority_length, target, why, why_size) != 0)
		return -1;
	if (path_parse(slash ? slash : "", target, why, why_size) != 0)
		return -1;
	if (target->password[0] == '\0')
		password_from_config(target);
	return 0;
}

static const char *param_dir(void)
{
	const char *dir = getenv(PARAM_DIR_ENV);

	return dir && *dir ? dir : RESCUE_PARAM_DIR;
}

/* The first line of a parameter file into VALUE; -1 when there is none. */
static int param_read(const char *name, char *value, size_t size)
{
	char path[PATH_MAX];
	FILE *file;
	size_t length;

	snprintf(path, sizeof path, "%s/%s", param_dir(), name);
	file = fopen(path, "re");
	if (file == NULL)
		return -1;
	if (fgets(value, (int)size, file) == NULL)
		value[0] = '\0';
	fclose(file);
	length = strcspn(value, "\r\n");
	value[length] = '\0';
	return value[0] ? 0 : -1;
}

/* rescue.conf's target_password= (params.sh puts it in the parameter directory) serves
 * ssh:// and smb:// URLs that carry no password of their own. */
static int password_from_config(struct target *target)
{
	if (target->scheme != TARGET_SSH && target->scheme != TARGET_SMB)
		return -1;
	return param_read("target_password", target->password, sizeof target->password);
}

const char *target_default(void)
{
	static char url[PATH_MAX + 512];

	return param_read("target", url, sizeof url) == 0 ? url : NULL;
}
