/* What the two config harnesses share: the input as a file the loaders can open by path (a
 * memfd, through /proc/self/fd: nothing left on disk), and an environment with none of the
 * overrides in it, so only the input decides. */
#ifndef TP0_FUZZ_CONFIG_H
#define TP0_FUZZ_CONFIG_H

#define _GNU_SOURCE /* memfd_create */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define check(cond) ((cond) ? (void)0 : abort())

/* Unsets every variable whose name starts with one of prefixes (NULL-terminated). */
static void fuzz_clear_env(const char *const *prefixes)
{
	extern char **environ;

	for (size_t i = 0; environ[i] != NULL;) {
		const char *eq = strchr(environ[i], '=');
		size_t name_len = eq != NULL ? (size_t)(eq - environ[i]) : strlen(environ[i]);
		int cleared = 0;

		for (const char *const *p = prefixes; *p != NULL && !cleared; p++) {
			if (strncmp(environ[i], *p, strlen(*p)) == 0) {
				char name[256];

				check(name_len < sizeof(name));
				memcpy(name, environ[i], name_len);
				name[name_len] = '\0';
				check(unsetenv(name) == 0);
				cleared = 1; /* environ shifted: look at index i again */
			}
		}
		if (!cleared)
			i++;
	}
}

/* The input as the memfd's whole content; path is its /proc/self/fd name. */
static void fuzz_write_file(const uint8_t *data, size_t size, char *path, size_t cap)
{
	static int fd = -1;

	if (fd < 0) {
		fd = memfd_create("fuzz-config", MFD_CLOEXEC);
		check(fd >= 0);
	}
	check(ftruncate(fd, 0) == 0);
	for (size_t done = 0; done < size;) {
		ssize_t n = pwrite(fd, data + done, size - done, (off_t)done);

		check(n > 0);
		done += (size_t)n;
	}
	check((size_t)snprintf(path, cap, "/proc/self/fd/%d", fd) < cap);
}

#endif
