/* test_netmount.c: the mount(2) data for nfs:// and smb:// targets, and the refusals that
 * come before any mount (a mount itself needs the guest: tests/qemu/test_shares.py). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "target/netmount.h"

static struct target parsed(const char *url)
{
	struct target target;
	char why[256];

	if (target_parse(url, &target, why, sizeof why) != 0)
		fail_msg("%s refused: %s", url, why);
	return target;
}

static void test_nfs_options_name_the_address_and_port(void **state)
{
	struct target target = parsed("nfs://server.example:20490/srv/rescue");
	char data[512];

	(void)state;
	assert_int_equal(netmount_options(&target, "10.0.2.2", data, sizeof data), 0);
	assert_string_equal(data, "vers=4.0,addr=10.0.2.2,port=20490,proto=tcp,hard,timeo=600");
	target = parsed("nfs://server.example/srv");
	assert_int_equal(netmount_options(&target, "10.0.2.2", data, sizeof data), 0);
	assert_non_null(strstr(data, ",port=2049,"));
}

static void test_smb_options_escape_commas_and_log_in_as_guest_without_user(void **state)
{
	struct target target = parsed("smb://backup:a%2Cb@10.0.2.2:44501/rescue/web1");
	char data[512];

	(void)state;
	assert_int_equal(netmount_options(&target, "10.0.2.2", data, sizeof data), 0);
	assert_string_equal(data, "ip=10.0.2.2,port=44501,vers=3.0,uid=0,gid=0,file_mode=0644,"
	    "dir_mode=0755,hard,username=backup,password=a,,b");
	target = parsed("smb://10.0.2.2/rescue");
	assert_int_equal(netmount_options(&target, "10.0.2.2", data, sizeof data), 0);
	assert_non_null(strstr(data, ",port=445,"));
	assert_non_null(strstr(data, ",guest"));
	assert_null(strstr(data, "username"));
	/* Too small a buffer is an error, never a cut password. */
	target = parsed("smb://backup:s3cret@10.0.2.2/rescue");
	assert_int_equal(netmount_options(&target, "10.0.2.2", data, 100), -1);
}

static void test_other_schemes_are_refused_by_name(void **state)
{
	struct target target = parsed("ssh://backup@10.0.2.2/srv");
	char dir[256], why[256];

	(void)state;
	assert_int_equal(netmount_dir(&target, dir, sizeof dir, why, sizeof why), -1);
	assert_string_equal(why, "ssh://backup@10.0.2.2/srv is not an nfs:// or smb:// target");
}

static void test_an_unreachable_server_is_named_before_any_mount(void **state)
{
	/* Port 1 on loopback: nothing listens there, the connection is refused at once. */
	struct target target = parsed("smb://backup:pw@127.0.0.1:1/rescue");
	char dir[256], why[256];

	(void)state;
	assert_int_equal(netmount_dir(&target, dir, sizeof dir, why, sizeof why), -1);
	assert_non_null(strstr(why, "host 127.0.0.1 port 1: Connection refused"));
	assert_null(strstr(why, "pw"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nfs_options_name_the_address_and_port),
		cmocka_unit_test(test_smb_options_escape_commas_and_log_in_as_guest_without_user),
		cmocka_unit_test(test_other_schemes_are_refused_by_name),
		cmocka_unit_test(test_an_unreachable_server_is_named_before_any_mount),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
