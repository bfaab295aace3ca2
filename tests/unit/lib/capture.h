/* capture.h: runs code with stdout and stderr going to files, to assert on what a user sees. */
#ifndef TEST_CAPTURE_H
#define TEST_CAPTURE_H

struct capture {
	int saved_stdin, saved_stdout, saved_stderr;
	char *out;	/* what was written to stdout, NUL-terminated; free with capture_free */
	char *err;
};

void capture_start(struct capture *capture);
void capture_stop(struct capture *capture);
void capture_free(struct capture *capture);
char *read_whole_file(const char *path);

#endif
