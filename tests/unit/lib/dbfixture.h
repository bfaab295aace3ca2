/* dbfixture.h: the data files real MariaDB and PostgreSQL servers wrote for the
 * database-page tests (tests/db/make-fixtures, run by `make check` into the build tree). */
#ifndef RESCUE_TEST_DBFIXTURE_H
#define RESCUE_TEST_DBFIXTURE_H

#include <stddef.h>

/* The fixture file ENGINE/NAME ("mariadb/full.ibd") read whole, malloc'd, with its size;
 * NULL after printing why the test skips (the server was not installed). */
unsigned char *dbfixture_read(const char *engine, const char *name, size_t *size);

/* The fixture's path, for tests that hand the file to the code under test. */
void dbfixture_path(const char *engine, const char *name, char *path, size_t path_size);

#endif
