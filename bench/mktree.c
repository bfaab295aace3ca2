/*
 * usage: mktree DIR FILES ONEDIR
 *
 * Makes FILES small files in DIR for bench/scale.py: FILES - ONEDIR of them in
 * directories of 1,000 under parents of 100 directories (pNNN/dNNN/file-NNNNNNNN.txt),
 * as a mail or web server spreads them, and ONEDIR in the one directory onedir/, the
 * issue's bad case. Each holds "file N\n", which an ext4 with inline_data keeps inside
 * the inode: ten million files need no data blocks. Python's open/write/close loop
 * makes 10M files in hours; this makes them in minutes. Progress goes to stderr.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void put(const char *path, long number)
{
	char body[32];
	int length = snprintf(body, sizeof body, "file %ld\n", number);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);

	if (fd < 0 || write(fd, body, length) != length || close(fd) != 0) {
		fprintf(stderr, "mktree: fatal: unable to write %s: ", path);
		perror(NULL);
		exit(1);
	}
}

static void directory(const char *path)
{
	if (mkdir(path, 0755) != 0) {
		fprintf(stderr, "mktree: fatal: unable to make %s: ", path);
		perror(NULL);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	long total, onedir, spread;
	char path[4096];

	if (argc != 4 || (total = atol(argv[2])) <= 0 || (onedir = atol(argv[3])) < 0
	    || onedir > total) {
		fprintf(stderr, "usage: mktree DIR FILES ONEDIR\n");
		return 2;
	}
	if (chdir(argv[1]) != 0) {
		fprintf(stderr, "mktree: fatal: unable to enter %s: ", argv[1]);
		perror(NULL);
		return 1;
	}
	spread = total - onedir;
	for (long i = 0; i < spread; i++) {
		if (i % 100000 == 0) {
			snprintf(path, sizeof path, "p%03ld", i / 100000);
			directory(path);
			fprintf(stderr, "mktree: %ld of %ld files\n", i, total);
		}
		if (i % 1000 == 0) {
			snprintf(path, sizeof path, "p%03ld/d%03ld", i / 100000, i / 1000 % 100);
			directory(path);
		}
		snprintf(path, sizeof path, "p%03ld/d%03ld/file-%08ld.txt", i / 100000,
		    i / 1000 % 100, i);
		put(path, i);
	}
	if (onedir)
		directory("onedir");
	for (long i = 0; i < onedir; i++) {
		if (i % 100000 == 0)
			fprintf(stderr, "mktree: %ld of %ld files (one directory)\n", spread + i, total);
		snprintf(path, sizeof path, "onedir/file-%08ld.txt", i);
		put(path, spread + i);
	}
	fprintf(stderr, "mktree: %ld files\n", total);
	return 0;
}
