/* run_ok.h: runs a host tool a test needs (mkfs.ext4, debugfs, mke2fs) and fails the test,
 * with the tool's own output, when it does not exit 0. */
#ifndef TEST_RUN_OK_H
#define TEST_RUN_OK_H

#define ARGV(...) ((char *const[]){ __VA_ARGS__, NULL })

void run_ok(char *const *argv);

#endif
