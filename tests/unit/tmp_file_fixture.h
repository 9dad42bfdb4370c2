/* A cmocka fixture for tests of one file: a fresh temporary folder holding one path (not yet
 * created), removed with the file after the test. The including test defines TMP_FILE_NAME
 * (the file's name) and TMP_FILE_PREFIX (the folder's, "/tmp/tp0-<module>-") first. */
#ifndef TP0_TESTS_TMP_FILE_FIXTURE_H
#define TP0_TESTS_TMP_FILE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct tmp {
	char dir[32];
	char path[64];
};

static int setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "%sXXXXXX", TMP_FILE_PREFIX);
	if (mkdtemp(t->dir) == NULL) {
		free(t);
		return -1;
	}
	snprintf(t->path, sizeof(t->path), "%s/%s", t->dir, TMP_FILE_NAME);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tmp *t = *state;

	unlink(t->path);
	rmdir(t->dir);
	free(t);
	return 0;
}

#endif
