/* crypt() over musl's SHA-512 and SHA-256 crypt (src/crypt/crypt_sha*.c), for a libc.a
 * that lacks it. Other methods (DES, MD5, blowfish) are refused with "*", which never
 * equals a stored hash, so such a password simply does not log in. */
char *__crypt_sha512(const char *key, const char *setting, char *output);
char *__crypt_sha256(const char *key, const char *setting, char *output);
char *crypt(const char *key, const char *salt);

char *crypt(const char *key, const char *salt)
{
	static char output[128];	/* musl's own buffer size: enough for every method */
	static char refused[] = "*";

	if (salt[0] == '$' && salt[1] == '6' && salt[2] == '$')
		return __crypt_sha512(key, salt, output);
	if (salt[0] == '$' && salt[1] == '5' && salt[2] == '$')
		return __crypt_sha256(key, salt, output);
	return refused;
}
