/* test_err.c: the error grammar "PROG: TAG: WHAT VALUE[: REASON]" as a user reads it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/err.h"
#include "lib/capture.h"

static int reset_command(void **state)
{
	(void)state;
	err_set_command(NULL);
	return 0;
}

static void test_fatal_at_top_level_appends_strerror(void **state)
{
	struct capture capture;
	int code;

	(void)state;
	capture_start(&capture);
	errno = EACCES;
	code = err_fatal(EXIT_SYSTEM, "unable to open %s", "/dev/sda");
	capture_stop(&capture);
	assert_int_equal(code, 3);
	assert_string_equal(capture.err, "rescue: fatal: unable to open /dev/sda: Permission denied\n");
	assert_string_equal(capture.out, "");
	capture_free(&capture);
}

/* What the kernel's file systems return for damaged metadata, in words whatever the libc:
 * musl (the appliance's) has no text for EUCLEAN and printed "No error information" when
 * a damaged xfs would not mount or an ext4 directory entry could not be read. */
static void test_corrupt_metadata_errors_are_named(void **state)
{
	struct capture capture;

	(void)state;
	assert_non_null(strstr(err_text(EUCLEAN), "metadata is corrupt"));
	assert_non_null(strstr(err_text(EBADMSG), "checksum"));
	assert_string_equal(err_text(EACCES), strerror(EACCES));
	err_set_command("dump");
	capture_start(&capture);
	errno = EUCLEAN;
	err_warn("%s: unable to stat", "dir1");
	capture_stop(&capture);
	assert_non_null(strstr(capture.err, "rescue dump: warning: dir1: unable to stat: "));
	assert_non_null(strstr(capture.err, "metadata is corrupt"));
	capture_free(&capture);
}

static void test_fatalx_names_the_command_without_reason(void **state)
{
	struct capture capture;

	(void)state;
	err_set_command("disks");
	capture_start(&capture);
	errno = EIO;
	assert_int_equal(err_fatalx(EXIT_USAGE, "unknown column: %s", "colour"), 2);
	capture_stop(&capture);
	assert_string_equal(capture.err, "rescue disks: fatal: unknown column: colour\n");
	capture_free(&capture);
}

static void test_warnings_are_tagged_and_keep_errno_of_the_failure(void **state)
{
	struct capture capture;

	(void)state;
	err_set_command("image");
	capture_start(&capture);
	errno = EIO;
	err_warn("unable to read sector %d of %s", 2048, "/dev/vda");
	err_warnx("skipping %s", "/dev/vdb");
	capture_stop(&capture);
	assert_string_equal(capture.err,
	    "rescue image: warning: unable to read sector 2048 of /dev/vda: Input/output error\n"
	    "rescue image: warning: skipping /dev/vdb\n");
	capture_free(&capture);
}

static void test_usage_error_shows_synopsis_and_hint(void **state)
{
	struct capture capture;
	int code;

	(void)state;
	err_set_command("mount");
	capture_start(&capture);
	code = err_usage("usage: rescue mount DEV\n\nLong text nobody needs here.\n",
	    "unexpected operand: %s", "/mnt");
	capture_stop(&capture);
	assert_int_equal(code, EXIT_USAGE);
	assert_string_equal(capture.err,
	    "rescue mount: fatal: unexpected operand: /mnt\n"
	    "usage: rescue mount DEV\n"
	    "Run 'rescue mount --help' for more.\n");
	capture_free(&capture);
}

static void test_overlong_message_is_cut_but_ends_the_line(void **state)
{
	struct capture capture;
	char value[4000];

	(void)state;
	memset(value, 'x', sizeof value - 1);
	value[sizeof value - 1] = '\0';
	capture_start(&capture);
	err_warnx("unable to use %s", value);
	capture_stop(&capture);
	assert_true(strncmp(capture.err, "rescue: warning: unable to use xxx", 34) == 0);
	assert_true(strlen(capture.err) < 1024);
	/* One line, ended by its only newline. */
	assert_ptr_equal(strchr(capture.err, '\n'), capture.err + strlen(capture.err) - 1);
	capture_free(&capture);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_fatal_at_top_level_appends_strerror, reset_command),
		cmocka_unit_test_setup(test_fatalx_names_the_command_without_reason, reset_command),
		cmocka_unit_test_setup(test_corrupt_metadata_errors_are_named, reset_command),
		cmocka_unit_test_setup(test_warnings_are_tagged_and_keep_errno_of_the_failure,
		    reset_command),
		cmocka_unit_test_setup(test_usage_error_shows_synopsis_and_hint, reset_command),
		cmocka_unit_test_setup(test_overlong_message_is_cut_but_ends_the_line, reset_command),
	};

	return cmocka_run_group_tests_name("err", tests, NULL, NULL);
}
