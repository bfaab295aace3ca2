/* carve_expect.h: what the carving validators' tests share: a file read whole, and the
 * checks every format goes through (found whole with its exact length, noise after it
 * changing nothing, cut in half asked for more or named truncated). */
#ifndef RESCUE_TEST_CARVE_EXPECT_H
#define RESCUE_TEST_CARVE_EXPECT_H

#include <stddef.h>

#include "salvage/carve.h"

struct blob {
	unsigned char *data;
	size_t size;
};

/* PATH whole (4 KiB of room after it); fails the test when it cannot be read. */
struct blob read_file(const char *path);
/* The output of the shell COMMAND, whole. */
struct blob command_output(const char *command);
const struct carve_format *format_named(const char *type);
/* NAMED_TYPE: the type the validator names the file by its content, or NULL. */
void expect_whole(const char *type, struct blob blob, const char *named_type);
void expect_cut(const char *type, struct blob blob);

#endif
