/* test_ssh.c: what `rescue ssh` relies on: key lines accepted or refused as a user pastes
 * them, fingerprints equal to OpenSSH's (ssh-keygen on this host computes the reference),
 * and root's hash replaced in a shadow file without touching the other lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "target/sshkey.h"

/* A real key from the host's ssh-keygen: its public line and the fingerprint ssh-keygen
 * itself prints for it. */
struct host_key {
	char line[4096];
	char fingerprint[128];
};

static char scratch[64];

static void shell(const char *command, char *output, size_t size)
{
	FILE *pipe = popen(command, "r");
	size_t got;

	assert_non_null(pipe);
	got = fread(output, 1, size - 1, pipe);
	output[got] = '\0';
	assert_int_equal(pclose(pipe), 0);
	output[strcspn(output, "\n")] = '\0';
}

static void host_key_make(const char *type, const char *bits, struct host_key *key)
{
	char command[512], output[512];

	snprintf(command, sizeof command, "rm -f %s/k %s/k.pub && ssh-keygen -q -t %s %s -N '' "
	    "-C 'alice@laptop two words' -f %s/k && cat %s/k.pub", scratch, scratch, type, bits,
	    scratch, scratch);
	shell(command, key->line, sizeof key->line);
	snprintf(command, sizeof command, "ssh-keygen -l -E sha256 -f %s/k.pub", scratch);
	shell(command, output, sizeof output);
	/* "256 SHA256:... alice@laptop two words (ED25519)" */
	sscanf(output, "%*s %127s", key->fingerprint);
}

static int scratch_make(void **state)
{
	(void)state;
	snprintf(scratch, sizeof scratch, "/tmp/rescue-ssh-XXXXXX");
	assert_non_null(mkdtemp(scratch));
	return 0;
}

static int scratch_remove(void **state)
{
	char command[128];

	(void)state;
	snprintf(command, sizeof command, "rm -rf %s", scratch);
	assert_int_equal(system(command), 0);
	return 0;
}

static void test_sha256_matches_the_standard_vectors(void **state)
{
	unsigned char digest[32];
	char text[48];
	static char million[1000000];

	(void)state;
	sshkey_sha256("abc", 3, digest);
	sshkey_base64_encode(digest, 32, text, sizeof text);
	assert_string_equal(text, "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0");
	/* 56 bytes: the padding needs a second block. */
	sshkey_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, digest);
	sshkey_base64_encode(digest, 32, text, sizeof text);
	assert_string_equal(text, "JI1qYdIGOLjlwCaTDD5gOaM85Flk/yFn9uzt1BnbBsE");
	memset(million, 'a', sizeof million);
	sshkey_sha256(million, sizeof million, digest);
	sshkey_base64_encode(digest, 32, text, sizeof text);
	assert_string_equal(text, "zcduXJkU+5KBocfihNc+Z/GAmkiklyAOBG05zMcRLNA");
}

static void test_base64_is_strict(void **state)
{
	unsigned char out[64];

	(void)state;
	assert_int_equal(sshkey_base64_decode("aGVsbG8gd29ybGQ=", out, sizeof out), 11);
	assert_memory_equal(out, "hello world", 11);
	assert_int_equal(sshkey_base64_decode("aGVsbG8gd29ybGQ", out, sizeof out), 11);
	assert_int_equal(sshkey_base64_decode("aGVs bG8=", out, sizeof out), -1);
	assert_int_equal(sshkey_base64_decode("%%%notbase64", out, sizeof out), -1);
	assert_int_equal(sshkey_base64_decode("a", out, sizeof out), -1);
	assert_int_equal(sshkey_base64_decode("", out, sizeof out), -1);
	assert_int_equal(sshkey_base64_decode("aGVsbG8gd29ybGQ=", out, 4), -1);
}

static void test_fingerprints_equal_ssh_keygen(void **state)
{
	static const char *const kinds[][3] = {
		{ "ed25519", "", "ED25519" },
		{ "ecdsa", "-b 256", "ECDSA" },
		{ "ecdsa", "-b 521", "ECDSA" },
		{ "rsa", "-b 2048", "RSA" },
	};
	static struct host_key key;
	static struct sshkey parsed;
	char why[256], fingerprint[SSHKEY_FINGERPRINT_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		host_key_make(kinds[i][0], kinds[i][1], &key);
		assert_int_equal(sshkey_parse(key.line, &parsed, why, sizeof why), 0);
		assert_string_equal(sshkey_kind(parsed.type), kinds[i][2]);
		assert_string_equal(parsed.comment, "alice@laptop two words");
		assert_int_equal(sshkey_fingerprint(parsed.blob, fingerprint, sizeof fingerprint), 0);
		assert_string_equal(fingerprint, key.fingerprint);
	}
}

static void test_key_lines_with_options_and_blanks_are_accepted(void **state)
{
	static struct host_key key;
	static struct sshkey parsed;
	char line[5000], why[256];

	(void)state;
	host_key_make("ed25519", "", &key);
	snprintf(line, sizeof line, "from=\"10.0.0.1, 10.0.0.2\",no-pty  %s\r\n", key.line);
	assert_int_equal(sshkey_parse(line, &parsed, why, sizeof why), 0);
	assert_string_equal(parsed.type, "ssh-ed25519");
	assert_string_equal(parsed.comment, "alice@laptop two words");
	/* No comment at all. */
	snprintf(line, sizeof line, "  %.*s", (int)(strstr(key.line, " alice") - key.line),
	    key.line);
	assert_int_equal(sshkey_parse(line, &parsed, why, sizeof why), 0);
	assert_string_equal(parsed.comment, "");
}

static void test_junk_lines_are_refused_with_a_reason(void **state)
{
	static struct host_key key;
	static struct sshkey parsed;
	char line[5000], why[256], *blob;

	(void)state;
	assert_int_equal(sshkey_parse("this is not a key", &parsed, why, sizeof why), -1);
	assert_non_null(strstr(why, "no known key type"));
	assert_int_equal(sshkey_parse("ssh-ed25519 !!!", &parsed, why, sizeof why), -1);
	assert_non_null(strstr(why, "not base64"));
	assert_int_equal(sshkey_parse("ssh-ed25519", &parsed, why, sizeof why), -1);
	assert_non_null(strstr(why, "no key data"));
	assert_int_equal(sshkey_parse("# a comment", &parsed, why, sizeof why), -1);
	assert_int_equal(sshkey_parse("", &parsed, why, sizeof why), -1);
	/* Base64 that decodes, but to "hello world": no key. */
	assert_int_equal(sshkey_parse("ssh-rsa aGVsbG8gd29ybGQ=", &parsed, why, sizeof why), -1);
	assert_non_null(strstr(why, "not a ssh-rsa key"));
	host_key_make("ed25519", "", &key);
	/* A real ed25519 blob under another type name. */
	blob = strchr(key.line, ' ') + 1;
	snprintf(line, sizeof line, "ssh-rsa %s", blob);
	assert_int_equal(sshkey_parse(line, &parsed, why, sizeof why), -1);
	/* Cut short in the middle, as a bad paste does. */
	snprintf(line, sizeof line, "ssh-ed25519 %.20s", blob);
	assert_int_equal(sshkey_parse(line, &parsed, why, sizeof why), -1);
}

static void shadow_write(const char *path, const char *text)
{
	FILE *file = fopen(path, "w");

	assert_non_null(file);
	fputs(text, file);
	assert_int_equal(fclose(file), 0);
}

static void shadow_expect(const char *path, const char *text)
{
	char content[1024];
	FILE *file = fopen(path, "r");
	size_t got;

	assert_non_null(file);
	got = fread(content, 1, sizeof content - 1, file);
	content[got] = '\0';
	fclose(file);
	assert_string_equal(content, text);
}

static void test_shadow_hash_is_replaced_and_nothing_else(void **state)
{
	char path[128], why[256];
	struct stat node;

	(void)state;
	snprintf(path, sizeof path, "%s/shadow", scratch);
	shadow_write(path, "daemon:*:19000:0:99999:7:::\nroot:*:19000:0:99999:7:::\n"
	    "nobody:*:19000:0:99999:7:::\n");
	assert_int_equal(shadow_has_password(path, "root"), 0);
	assert_int_equal(shadow_set_hash(path, "root", "$6$salt$hash", 20400, why, sizeof why), 0);
	shadow_expect(path, "daemon:*:19000:0:99999:7:::\nroot:$6$salt$hash:20400:0:99999:7:::\n"
	    "nobody:*:19000:0:99999:7:::\n");
	assert_int_equal(shadow_has_password(path, "root"), 1);
	assert_int_equal(stat(path, &node), 0);
	assert_int_equal(node.st_mode & 0777, 0600);
	/* And back to no password; a last line without newline and fewer fields work too. */
	shadow_write(path, "nobody:*:1\nroot:$6$x$y");
	assert_int_equal(shadow_set_hash(path, "root", "*", 20401, why, sizeof why), 0);
	shadow_expect(path, "nobody:*:1\nroot:*:20401\n");
	assert_int_equal(shadow_has_password(path, "root"), 0);
	/* rootx is not root. */
	shadow_write(path, "rootx:*:1:::::\n");
	assert_int_equal(shadow_set_hash(path, "root", "*", 1, why, sizeof why), -1);
	assert_non_null(strstr(why, "no user root"));
	assert_int_equal(shadow_has_password(path, "root"), -1);
	/* A hash that would break the format is refused. */
	assert_int_equal(shadow_set_hash(path, "rootx", "a:b", 1, why, sizeof why), -1);
	shadow_expect(path, "rootx:*:1:::::\n");
	/* No file: named in the reason, nothing created. */
	snprintf(path, sizeof path, "%s/missing", scratch);
	assert_int_equal(shadow_set_hash(path, "root", "*", 1, why, sizeof why), -1);
	assert_non_null(strstr(why, path));
	assert_int_equal(access(path, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_matches_the_standard_vectors),
		cmocka_unit_test(test_base64_is_strict),
		cmocka_unit_test(test_fingerprints_equal_ssh_keygen),
		cmocka_unit_test(test_key_lines_with_options_and_blanks_are_accepted),
		cmocka_unit_test(test_junk_lines_are_refused_with_a_reason),
		cmocka_unit_test(test_shadow_hash_is_replaced_and_nothing_else),
	};

	return cmocka_run_group_tests(tests, scratch_make, scratch_remove);
}
