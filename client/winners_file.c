#include "winners_file.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int winners_file_open(struct winners_file *w, const char *path)
{
	memset(w, 0, sizeof(*w));
	if ((size_t)snprintf(w->path, sizeof(w->path), "%s", path) >= sizeof(w->path) ||
	    (size_t)snprintf(w->tmp, sizeof(w->tmp), "%s.tmp", path) >= sizeof(w->tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	w->fp = fopen(w->tmp, "w");
	return w->fp != NULL ? 0 : -1;
}

int winners_file_add(struct winners_file *w, const char *document)
{
	if (fprintf(w->fp, "%s\n", document) < 0)
		return -1;
	w->count++;
	return 0;
}

int winners_file_commit(struct winners_file *w)
{
	FILE *fp = w->fp;
	int rc = 0, saved = 0;

	w->fp = NULL;
	if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
		saved = errno;
		rc = -1;
	}
	if (fclose(fp) != 0 && rc == 0) {
		saved = errno;
		rc = -1;
	}
	if (rc == 0 && rename(w->tmp, w->path) != 0) {
		saved = errno;
		rc = -1;
	}
	if (rc != 0) {
		unlink(w->tmp);
		errno = saved;
	}
	return rc;
}

void winners_file_abort(struct winners_file *w)
{
	if (w->fp == NULL)
		return;
	fclose(w->fp);
	w->fp = NULL;
	unlink(w->tmp);
}
