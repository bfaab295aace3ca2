/* sshkey.c: public key lines, fingerprints and the shadow file (see sshkey.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "target/sshkey.h"

static void why_set(char *why, size_t size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static void why_set(char *why, size_t size, const char *format, ...)
{
	va_list args;

	va_start(args, format);
	vsnprintf(why, size, format, args);
	va_end(args);
}

/* ---------------------------------------------------------------- SHA-256 (FIPS 180-4) */

static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

static uint32_t rotate_right(uint32_t value, int bits)
{
	return (value >> bits) | (value << (32 - bits));
}

static void sha256_block(uint32_t state[8], const unsigned char block[64])
{
	uint32_t w[64], v[8], t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16
		    | (uint32_t)block[4 * i + 2] << 8 | block[4 * i + 3];
	for (; i < 64; i++)
		w[i] = w[i - 16] + (rotate_right(w[i - 15], 7) ^ rotate_right(w[i - 15], 18)
		    ^ (w[i - 15] >> 3)) + w[i - 7] + (rotate_right(w[i - 2], 17)
		    ^ rotate_right(w[i - 2], 19) ^ (w[i - 2] >> 10));
	memcpy(v, state, sizeof v);
	for (i = 0; i < 64; i++) {
		t1 = v[7] + (rotate_right(v[4], 6) ^ rotate_right(v[4], 11) ^ rotate_right(v[4], 25))
		    + ((v[4] & v[5]) ^ (~v[4] & v[6])) + sha256_k[i] + w[i];
		t2 = (rotate_right(v[0], 2) ^ rotate_right(v[0], 13) ^ rotate_right(v[0], 22))
		    + ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
		memmove(v + 1, v, 7 * sizeof v[0]);
		v[4] += t1;
		v[0] = t1 + t2;
	}
	for (i = 0; i < 8; i++)
		state[i] += v[i];
}

void sshkey_sha256(const void *data, size_t length, unsigned char digest[32])
{
	uint32_t state[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f,
	    0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
	const unsigned char *bytes = data;
	unsigned char tail[128] = { 0 };
	size_t done = 0, rest, tail_size;
	uint64_t bits = (uint64_t)length * 8;
	int i;

	for (; length - done >= 64; done += 64)
		sha256_block(state, bytes + done);
	rest = length - done;
	memcpy(tail, bytes + done, rest);
	tail[rest] = 0x80;
	tail_size = rest + 9 <= 64 ? 64 : 128;
	for (i = 0; i < 8; i++)
		tail[tail_size - 1 - i] = (unsigned char)(bits >> (8 * i));
	sha256_block(state, tail);
	if (tail_size == 128)
		sha256_block(state, tail + 64);
	for (i = 0; i < 32; i++)
		digest[i] = (unsigned char)(state[i / 4] >> (24 - 8 * (i % 4)));
}

/* ---------------------------------------------------------------- base64 */

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

long sshkey_base64_decode(const char *text, unsigned char *out, size_t size)
{
	size_t length = strlen(text), i, used = 0, padding = 0;
	uint32_t group = 0;
	int count = 0;

	while (padding < 2 && length > 0 && text[length - 1] == '=') {
		length--;
		padding++;
	}
	if (length == 0 || length % 4 == 1 || (padding && (length + padding) % 4 != 0))
		return -1;
	for (i = 0; i < length; i++) {
		const char *c = text[i] ? strchr(base64_alphabet, text[i]) : NULL;

		if (c == NULL)
			return -1;
		group = group << 6 | (uint32_t)(c - base64_alphabet);
		if (++count == 4) {
			if (used + 3 > size)
				return -1;
			out[used++] = (unsigned char)(group >> 16);
			out[used++] = (unsigned char)(group >> 8);
			out[used++] = (unsigned char)group;
			group = 0;
			count = 0;
		}
	}
	if (count && used + (size_t)count - 1 > size)
		return -1;
	if (count == 2)
		out[used++] = (unsigned char)(group >> 4);
	if (count == 3) {
		out[used++] = (unsigned char)(group >> 10);
		out[used++] = (unsigned char)(group >> 2);
	}
	return (long)used;
}

/* Unpadded, as OpenSSH prints fingerprints. */
void sshkey_base64_encode(const unsigned char *data, size_t length, char *out, size_t size)
{
	size_t i, used = 0;

	for (i = 0; i < length && used + 5 <= size; i += 3) {
		uint32_t group = (uint32_t)data[i] << 16;
		size_t have = length - i < 3 ? length - i : 3;

		if (have > 1)
			group |= (uint32_t)data[i + 1] << 8;
		if (have > 2)
			group |= data[i + 2];
		out[used++] = base64_alphabet[group >> 18 & 63];
		out[used++] = base64_alphabet[group >> 12 & 63];
		if (have > 1)
			out[used++] = base64_alphabet[group >> 6 & 63];
		if (have > 2)
			out[used++] = base64_alphabet[group & 63];
	}
	if (size)
		out[used < size ? used : size - 1] = '\0';
}

/* ---------------------------------------------------------------- key lines */

static const char *const key_types[][2] = {
	{ "ssh-ed25519", "ED25519" },
	{ "ssh-rsa", "RSA" },
	{ "ecdsa-sha2-nistp256", "ECDSA" },
	{ "ecdsa-sha2-nistp384", "ECDSA" },
	{ "ecdsa-sha2-nistp521", "ECDSA" },
	{ "sk-ssh-ed25519@openssh.com", "ED25519-SK" },
	{ "sk-ecdsa-sha2-nistp256@openssh.com", "ECDSA-SK" },
};

const char *sshkey_kind(const char *type)
{
	size_t i;

	for (i = 0; i < sizeof key_types / sizeof key_types[0]; i++)
		if (strcmp(type, key_types[i][0]) == 0)
			return key_types[i][1];
	return NULL;
}

/* The decoded blob must name the same type: 4 bytes of length, then the name. */
static int blob_check(const char *type, const char *blob, char *why, size_t why_size)
{
	static unsigned char decoded[SSHKEY_BLOB_MAX];
	long length = sshkey_base64_decode(blob, decoded, sizeof decoded);
	size_t name_length;

	if (length < 0) {
		why_set(why, why_size, "the key data is not base64");
		return -1;
	}
	name_length = strlen(type);
	if ((size_t)length < 4 + name_length + 16 || decoded[0] || decoded[1]
	    || ((size_t)decoded[2] << 8 | decoded[3]) != name_length
	    || memcmp(decoded + 4, type, name_length) != 0) {
		why_set(why, why_size, "the key data is not a %s key (cut short or mistyped?)", type);
		return -1;
	}
	return 0;
}

/* Options come first and may hold quoted blanks (from="a, b"); the type is the first word
 * outside quotes that names a key type. */
static const char *find_type(const char *line, size_t *length)
{
	const char *c = line;
	int quoted = 0;

	while (*c) {
		const char *start;

		while (*c == ' ' || *c == '\t')
			c++;
		start = c;
		while (*c && (quoted || (*c != ' ' && *c != '\t'))) {
			if (*c == '"')
				quoted = !quoted;
			c++;
		}
		*length = (size_t)(c - start);
		if (*length && *length < sizeof ((struct sshkey *)0)->type) {
			char word[sizeof ((struct sshkey *)0)->type];

			memcpy(word, start, *length);
			word[*length] = '\0';
			if (sshkey_kind(word))
				return start;
		}
	}
	return NULL;
}

int sshkey_parse(const char *line, struct sshkey *key, char *why, size_t why_size)
{
	const char *type, *blob, *comment;
	size_t type_length, blob_length, comment_length;

	memset(key, 0, sizeof *key);
	line += strspn(line, " \t");
	if (line[0] == '\0' || line[0] == '\n' || line[0] == '#') {
		why_set(why, why_size, "an empty line or a comment");
		return -1;
	}
	type = find_type(line, &type_length);
	if (type == NULL) {
		why_set(why, why_size, "no known key type (ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, ...)");
		return -1;
	}
	memcpy(key->type, type, type_length);
	blob = type + type_length;
	blob += strspn(blob, " \t");
	blob_length = strcspn(blob, " \t\r\n");
	if (blob_length == 0 || blob_length >= sizeof key->blob) {
		why_set(why, why_size, blob_length ? "the key data is too long" : "no key data after %s",
		    key->type);
		return -1;
	}
	memcpy(key->blob, blob, blob_length);
	comment = blob + blob_length;
	comment += strspn(comment, " \t");
	comment_length = strcspn(comment, "\r\n");
	while (comment_length && (comment[comment_length - 1] == ' ' || comment[comment_length - 1] == '\t'))
		comment_length--;
	snprintf(key->comment, sizeof key->comment, "%.*s", (int)comment_length, comment);
	return blob_check(key->type, key->blob, why, why_size);
}

int sshkey_fingerprint(const char *blob, char *fingerprint, size_t size)
{
	static unsigned char decoded[SSHKEY_BLOB_MAX];
	unsigned char digest[32];
	char text[48];
	long length = sshkey_base64_decode(blob, decoded, sizeof decoded);

	if (length < 0)
		return -1;
	sshkey_sha256(decoded, (size_t)length, digest);
	sshkey_base64_encode(digest, sizeof digest, text, sizeof text);
	snprintf(fingerprint, size, "SHA256:%s", text);
	return 0;
}

/* ---------------------------------------------------------------- /etc/shadow */

/* Reads all of PATH into a NUL-terminated buffer (free it), or NULL. */
static char *file_read(const char *path)
{
	FILE *file = fopen(path, "re");
	char *text = NULL;
	size_t size = 0, used = 0, got;

	if (file == NULL)
		return NULL;
	do {
		if (used + 4096 + 1 > size) {
			char *bigger = realloc(text, size + 8192);

			if (bigger == NULL) {
				free(text);
				fclose(file);
				return NULL;
			}
			text = bigger;
			size += 8192;
		}
		got = fread(text + used, 1, 4096, file);
		used += got;
	} while (got > 0);
	fclose(file);
	text[used] = '\0';
	return text;
}

/* The line of USER ("USER:") in TEXT, or NULL. */
static char *user_line(char *text, const char *user)
{
	size_t length = strlen(user);
	char *line = text;

	while (line && *line) {
		if (strncmp(line, user, length) == 0 && line[length] == ':')
			return line;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return NULL;
}

int shadow_has_password(const char *path, const char *user)
{
	char *text = file_read(path), *line;
	int has;

	if (text == NULL)
		return -1;
	line = user_line(text, user);
	has = line == NULL ? -1 : line[strlen(user) + 1] == '$';
	free(text);
	return has;
}

/* USER:HASH:DAY, then the fields after the third (from its ':') as they were. */
static int write_replaced(FILE *out, const char *text, const char *line, const char *user,
    const char *hash, long day)
{
	const char *end = line + strcspn(line, "\n"), *rest = line;
	int colons = 0;

	while (rest < end && !(*rest == ':' && ++colons == 3))
		rest++;
	fwrite(text, 1, (size_t)(line - text), out);
	fprintf(out, "%s:%s:%ld", user, hash, day);
	fwrite(rest, 1, (size_t)(end - rest), out);
	fputc('\n', out);
	if (*end)
		fputs(end + 1, out);
	return ferror(out) ? -1 : 0;
}

int shadow_set_hash(const char *path, const char *user, const char *hash, long day,
    char *why, size_t why_size)
{
	char temporary[4096], *text, *line;
	FILE *out = NULL;
	int fd, rc = -1;

	if (strchr(hash, ':') || strchr(hash, '\n')) {
		why_set(why, why_size, "the hash holds ':' or a newline");
		return -1;
	}
	text = file_read(path);
	if (text == NULL) {
		why_set(why, why_size, "cannot read %s: %s", path, err_text(errno));
		return -1;
	}
	line = user_line(text, user);
	if (line == NULL) {
		why_set(why, why_size, "no user %s in %s", user, path);
		goto out;
	}
	snprintf(temporary, sizeof temporary, "%s.rescue-new", path);
	fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	out = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (out == NULL) {
		why_set(why, why_size, "cannot create %s: %s", temporary, err_text(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	if (write_replaced(out, text, line, user, hash, day) != 0 || fflush(out) != 0
	    || fsync(fileno(out)) != 0) {
		why_set(why, why_size, "cannot write %s: %s", temporary, err_text(errno));
		goto out;
	}
	if (rename(temporary, path) != 0) {
		why_set(why, why_size, "cannot rename %s to %s: %s", temporary, path, err_text(errno));
		goto out;
	}
	rc = 0;
out:
	if (out)
		fclose(out);
	if (rc != 0 && out)
		unlink(temporary);
	explicit_bzero(text, strlen(text));
	free(text);
	return rc;
}
