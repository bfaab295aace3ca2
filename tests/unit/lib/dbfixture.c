/* dbfixture.c: see dbfixture.h. */
#include <stdio.h>
#include <stdlib.h>

#include "lib/dbfixture.h"

#ifndef RESCUE_DB_FIXTURES
#define RESCUE_DB_FIXTURES "../build/rescue/fixtures/db"
#endif

void dbfixture_path(const char *engine, const char *name, char *path, size_t path_size)
{
	snprintf(path, path_size, "%s/%s/%s", RESCUE_DB_FIXTURES, engine, name);
}

unsigned char *dbfixture_read(const char *engine, const char *name, size_t *size)
{
	char path[4096];
	unsigned char *data = NULL;
	FILE *file;
	long length;

	dbfixture_path(engine, name, path, sizeof path);
	file = fopen(path, "rb");
	if (file == NULL) {
		fprintf(stderr, "skipped: no %s (tests/db/make-fixtures found no %s server; "
		    "install %s)\n", path, engine,
		    engine[0] == 'm' ? "mariadb-server" : "postgresql-15");
		return NULL;
	}
	if (fseek(file, 0, SEEK_END) == 0 && (length = ftell(file)) > 0
	    && fseek(file, 0, SEEK_SET) == 0 && (data = malloc((size_t)length)) != NULL
	    && fread(data, 1, (size_t)length, file) == (size_t)length)
		*size = (size_t)length;
	else {
		free(data);
		data = NULL;
		fprintf(stderr, "unable to read %s\n", path);
		abort();
	}
	fclose(file);
	return data;
}
