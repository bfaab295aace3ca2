"""`rescue dump` of 200,000 small files in a 128 MiB guest, every file checked on the
host (issue 18, "a few hundred thousand small files"): test_dump_many.py's check at the
size the issue names. Opt-in (`make test-scale`): under TCG it takes far longer than a
boot test in `make test` may. RESCUE_SCALE_FILES changes the count."""

import os

from test_dump_many import dump_many

TIMEOUT = 7200
FILES = int(os.environ.get("RESCUE_SCALE_FILES", "200000"))
MEMORY_LIMIT_KB = 48 << 10	# the same bound as at 24,000 files: no growth with the count


def test_dump_scale(ctx):
    dump_many(ctx, FILES, MEMORY_LIMIT_KB, TIMEOUT - 600)
