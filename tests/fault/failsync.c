/* failsync: an LD_PRELOAD shim for the durability tests, never linked into a program.
 *
 * In the process named "storage" only (the supervisor hands its environment to every child,
 * so the others load it too and must be left alone), fdatasync and fsync succeed
 * TP0_FAIL_SYNC_AFTER times, counted together, and every call after that fails with EIO.
 *   TP0_FAIL_SYNC_ONCE=1  only the first of them fails and later calls succeed again, as Linux
 *                         reports a writeback error once and then marks the pages clean: a
 *                         program that retries would be told its data is safe.
 *   TP0_FAIL_SYNC_DROP=1  the failing call also cuts its file back to the size it had when its
 *                         last successful sync began: the bytes the kernel may have thrown away.
 *                         An acknowledgement that did not wait for its sync loses its bets.
 * Each injected failure is reported on stderr with "failsync:". Without TP0_FAIL_SYNC_AFTER
 * every call goes straight to libc. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FAILSYNC_PROCESS "storage"
#define FAILSYNC_FDS 1024 /* descriptors whose synced size is tracked */

typedef int (*sync_fn)(int fd);

static sync_fn real_fdatasync, real_fsync;
static bool active, once, drop;
static unsigned long after;
static atomic_ulong calls;
/* Per descriptor: 1 + its size when its last successful sync began; 0 when never synced. */
static _Atomic long long synced_end[FAILSYNC_FDS];

static void report(const char *text)
{
	ssize_t n = write(STDERR_FILENO, text, strlen(text));

	(void)n; /* nowhere left to say it */
}

static bool flag(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && strcmp(v, "1") == 0;
}

__attribute__((constructor)) static void failsync_init(void)
{
	const char *v = getenv("TP0_FAIL_SYNC_AFTER");
	char *end;
	char line[160];

	if (v == NULL || strcmp(program_invocation_short_name, FAILSYNC_PROCESS) != 0)
		return;
	errno = 0;
	after = strtoul(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || v[0] == '-') {
		snprintf(line, sizeof(line), "failsync: TP0_FAIL_SYNC_AFTER=\"%s\" is not a count: "
		         "nothing injected\n", v);
		report(line);
		return;
	}
	once = flag("TP0_FAIL_SYNC_ONCE");
	drop = flag("TP0_FAIL_SYNC_DROP");
	active = true;
}

static int intercept(sync_fn real, const char *name, int fd)
{
	unsigned long n;
	long long before = -1, kept;
	struct stat st;
	char line[200];
	int rc;

	if (real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (!active)
		return real(fd);
	n = atomic_fetch_add(&calls, 1) + 1;
	/* Before the call: what was written by then is what a successful sync covers. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		before = (long long)st.st_size;
	if (n <= after || (once && n > after + 1)) {
		rc = real(fd);
		if (rc == 0 && before >= 0 && fd >= 0 && fd < FAILSYNC_FDS)
			atomic_store(&synced_end[fd], before + 1);
		return rc;
	}
	kept = fd >= 0 && fd < FAILSYNC_FDS ? atomic_load(&synced_end[fd]) - 1 : -1;
	if (drop && kept >= 0 && before > kept && ftruncate(fd, (off_t)kept) == 0)
		snprintf(line, sizeof(line),
		         "failsync: pid %d: %s(fd %d), call %lu: EIO; cut %lld bytes back to %lld\n",
		         (int)getpid(), name, fd, n, before - kept, kept);
	else
		snprintf(line, sizeof(line), "failsync: pid %d: %s(fd %d), call %lu: EIO\n",
		         (int)getpid(), name, fd, n);
	report(line);
	errno = EIO;
	return -1;
}

/* Another library's constructor may sync before ours has run. */
static sync_fn lookup(sync_fn *real, const char *name)
{
	if (*real == NULL)
		*real = (sync_fn)dlsym(RTLD_NEXT, name);
	return *real;
}

int fdatasync(int fd)
{
	return intercept(lookup(&real_fdatasync, "fdatasync"), "fdatasync", fd);
}

int fsync(int fd)
{
	return intercept(lookup(&real_fsync, "fsync"), "fsync", fd);
}
