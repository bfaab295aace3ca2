/* fuzz_sshkey: authorized_keys lines as they come from RESCUECFG, rescue.ssh_key= (after
 * base64) or `rescue ssh add-key --url`, through sshkey_parse and the fingerprint of what
 * it accepted. */
#include "fuzz.h"
#include "target/sshkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sshkey key;
	char *line = fuzz_text(data, size), why[256], fingerprint[SSHKEY_FINGERPRINT_MAX];

	if (line == NULL)
		return 0;
	if (sshkey_parse(line, &key, why, sizeof why) == 0) {
		if (sshkey_fingerprint(key.blob, fingerprint, sizeof fingerprint) != 0)
			abort();	/* an accepted key always has a fingerprint */
		sshkey_kind(key.type);
	}
	free(line);
	return 0;
}
