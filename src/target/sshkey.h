/* sshkey.h: OpenSSH public key lines and their fingerprints, and root's password in
 * /etc/shadow, for `rescue ssh`.
 *
 * An authorized_keys line is [OPTIONS] TYPE BLOB [COMMENT]. A line is accepted when TYPE is
 * a key type OpenSSH knows, BLOB is strict base64 that decodes, and the decoded blob starts
 * with the same type name (the SSH wire format: a 32-bit length, then the name), so a
 * truncated or mistyped paste is refused before it is stored.
 * The fingerprint is what `ssh-keygen -l` prints: "SHA256:" and the unpadded base64 of the
 * SHA-256 of the decoded blob.
 */
#ifndef RESCUE_SSHKEY_H
#define RESCUE_SSHKEY_H

#include <stddef.h>

enum { SSHKEY_BLOB_MAX = 16384, SSHKEY_FINGERPRINT_MAX = 64 };

struct sshkey {
	char type[48];
	char blob[SSHKEY_BLOB_MAX];	/* base64, as in the line */
	char comment[256];		/* "" when the line has none */
};

/* 0 and KEY filled when LINE is a public key line; -1 with WHY ("unknown key type 'x'"). */
int sshkey_parse(const char *line, struct sshkey *key, char *why, size_t why_size);

/* "SHA256:..." of a base64 blob; -1 when the blob is not base64. */
int sshkey_fingerprint(const char *blob, char *fingerprint, size_t size);

/* The short name of a key type as ssh-keygen shows it: ED25519, ECDSA, RSA, ... */
const char *sshkey_kind(const char *type);

/* Strict base64 (RFC 4648, padding optional at the end): the byte count, or -1. */
long sshkey_base64_decode(const char *text, unsigned char *out, size_t size);
void sshkey_base64_encode(const unsigned char *data, size_t length, char *out, size_t size);
void sshkey_sha256(const void *data, size_t length, unsigned char digest[32]);

/* Root's password in a shadow(5) file. shadow_set_hash replaces USER's hash (and the day
 * of the last change) by writing a new file beside PATH and renaming it over PATH, so a
 * crash never leaves half a file; the other lines stay as they were.
 * 0, or -1 with WHY. shadow_has_password: 1 when USER has a crypt hash ("$..."), 0 when
 * the account has none ("*", "!", ""), -1 when PATH or USER cannot be read. */
int shadow_set_hash(const char *path, const char *user, const char *hash, long day,
    char *why, size_t why_size);
int shadow_has_password(const char *path, const char *user);

#endif
