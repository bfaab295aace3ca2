/* netmount.c: mounting nfs:// and smb:// targets (see netmount.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "target/netmount.h"
#include "target/target_ops.h"

enum { REACH_TIMEOUT = 10 };

/* A network share holds no devices or programs of ours. */
#define NETMOUNT_FLAGS (MS_NODEV | MS_NOSUID | MS_NOEXEC)

/* The numeric address the TCP connection reached, for the kernel (it resolves nothing). */
static int reach(const struct target *target, char *address, size_t size, char *why,
    size_t why_size)
{
	struct sockaddr_storage peer;
	socklen_t length = sizeof peer;
	const void *raw;
	int fd;

	fd = target_tcp_connect(target->host, target_port(target), REACH_TIMEOUT, why, why_size);
	if (fd < 0)
		return -1;
	if (getpeername(fd, (struct sockaddr *)&peer, &length) != 0) {
		snprintf(why, why_size, "host %s: %s", target->host, err_text(errno));
		close(fd);
		return -1;
	}
	close(fd);
	raw = peer.ss_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)&peer)->sin6_addr
	    : (const void *)&((struct sockaddr_in *)&peer)->sin_addr;
	if (inet_ntop(peer.ss_family, raw, address, (socklen_t)size) == NULL) {
		snprintf(why, why_size, "host %s: %s", target->host, err_text(errno));
		return -1;
	}
	return 0;
}

/* The share is the first component of an smb:// path, the rest a directory inside it. */
static void smb_split(const char *path, char *share, size_t share_size, const char **inside)
{
	const char *start = path + (path[0] == '/'), *slash = strchr(start, '/');
	size_t length = slash ? (size_t)(slash - start) : strlen(start);

	snprintf(share, share_size, "%.*s", (int)length, start);
	*inside = slash ? slash : "";
}

/* cifs reads "," as the end of an option; a comma inside a value is written twice. */
static int append_escaped(char *data, size_t size, const char *key, const char *value)
{
	size_t used = strlen(data);
	const char *c;

	if (snprintf(data + used, size - used, ",%s=", key) >= (int)(size - used))
		return -1;
	used = strlen(data);
	for (c = value; *c; c++) {
		if (used + 3 >= size)
			return -1;
		data[used++] = *c;
		if (*c == ',')
			data[used++] = ',';
	}
	data[used] = '\0';
	return 0;
}

int netmount_options(const struct target *target, const char *address, char *data,
    size_t data_size)
{
	unsigned port = target_port(target);

	if (target->scheme == TARGET_NFS)
		return snprintf(data, data_size, "vers=4.0,addr=%s,port=%u,proto=tcp,hard,timeo=600",
		    address, port) >= (int)data_size ? -1 : 0;
	if (snprintf(data, data_size, "ip=%s,port=%u,vers=3.0,uid=0,gid=0,file_mode=0644,"
	    "dir_mode=0755,hard", address, port) >= (int)data_size)
		return -1;
	if (target->user[0] == '\0') {
		size_t used = strlen(data);

		return snprintf(data + used, data_size - used, ",guest") >= (int)(data_size - used)
		    ? -1 : 0;
	}
	if (append_escaped(data, data_size, "username", target->user) != 0)
		return -1;
	return append_escaped(data, data_size, "password", target->password);
}

/* One mount point per server, port, share or export and user, so two commands with the
 * same target share a mount and two users never share one. */
static void mount_point(const struct target *target, const char *share, char *dir,
    size_t size)
{
	uint32_t hash = 2166136261u;	/* FNV-1a over what tells mounts apart */
	const char *parts[] = { share, "\n", target->user }, *c;
	size_t i;

	for (i = 0; i < sizeof parts / sizeof parts[0]; i++)
		for (c = parts[i]; *c; c++)
			hash = (hash ^ (unsigned char)*c) * 16777619u;
	snprintf(dir, size, "%s/%s-%s-%u-%08x", RESCUE_TARGET_MOUNTS,
	    target_scheme_name(target->scheme), target->host, target_port(target), hash);
}

/* Whether DIR is a mount point now, from mountinfo (field 5 is the mount point). */
static int is_mounted(const char *dir)
{
	char line[PATH_MAX * 2], point[PATH_MAX];
	FILE *file = fopen("/proc/self/mountinfo", "re");
	int found = 0;

	if (file == NULL)
		return 0;
	while (!found && fgets(line, sizeof line, file))
		if (sscanf(line, "%*s %*s %*s %*s %4095s", point) == 1 && strcmp(point, dir) == 0)
			found = 1;
	fclose(file);
	return found;
}

static int make_dirs(const char *dir)
{
	char path[PATH_MAX], *slash;

	snprintf(path, sizeof path, "%s", dir);
	for (slash = strchr(path + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			return -1;
		*slash = '/';
	}
	return mkdir(path, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* What mount(2)'s errno means for a network share, in words a user can act on. */
static void mount_failed(const struct target *target, const char *source, int error,
    char *why, size_t why_size)
{
	const char *meaning;

	switch (error) {
	case EACCES:
	case EPERM:
	case EKEYREJECTED:
		meaning = target->scheme == TARGET_SMB ? "login refused (user or password wrong?)"
		    : "access refused by the server (is this host allowed by the export?)";
		break;
	case ENOENT:
	case ENXIO:
		meaning = target->scheme == TARGET_SMB ? "no such share or directory"
		    : "no such export or directory";
		break;
	case ENODEV:
		meaning = "this kernel has no client for it";
		break;
	case ETIMEDOUT:
	case EHOSTDOWN:
		meaning = "the server does not answer";
		break;
	default:
		meaning = err_text(error);
	}
	snprintf(why, why_size, "unable to mount %s from %s port %u: %s", source, target->host,
	    target_port(target), meaning);
}

int netmount_dir(const struct target *target, char *dir, size_t dir_size, char *why,
    size_t why_size)
{
	char address[INET6_ADDRSTRLEN], share[PATH_MAX], point[PATH_MAX];
	char source[PATH_MAX + 300], data[1024];
	const char *inside = "", *type = target->scheme == TARGET_NFS ? "nfs4" : "cifs";
	int rc;

	if (target->scheme != TARGET_NFS && target->scheme != TARGET_SMB) {
		snprintf(why, why_size, "%s is not an nfs:// or smb:// target", target->display);
		return -1;
	}
	if (target->scheme == TARGET_SMB)
		smb_split(target->path, share, sizeof share, &inside);
	else
		snprintf(share, sizeof share, "%s", target->path);
	mount_point(target, share, point, sizeof point);
	if (!is_mounted(point)) {
		if (reach(target, address, sizeof address, why, why_size) != 0)
			return -1;
		if (target->scheme == TARGET_NFS)
			snprintf(source, sizeof source, "%s:%s", address, target->path);
		else
			snprintf(source, sizeof source, "//%s/%s", address, share);
		if (netmount_options(target, address, data, sizeof data) != 0) {
			snprintf(why, why_size, "the mount options for %s are too long", target->display);
			return -1;
		}
		if (make_dirs(point) != 0) {
			snprintf(why, why_size, "unable to make %s: %s", point, err_text(errno));
			return -1;
		}
		rc = mount(source, point, type, NETMOUNT_FLAGS, data);
		memset(data, 0, sizeof data);	/* it held the password */
		if (rc != 0) {
			mount_failed(target, target->scheme == TARGET_NFS ? target->path : share,
			    errno, why, why_size);
			rmdir(point);
			return -1;
		}
	}
	/* For nfs the whole path was mounted; for smb the directory inside the share. */
	if (snprintf(dir, dir_size, "%s%s", point, target->scheme == TARGET_SMB ? inside : "")
	    >= (int)dir_size) {
		snprintf(why, why_size, "the path of %s is too long", target->display);
		return -1;
	}
	return 0;
}
