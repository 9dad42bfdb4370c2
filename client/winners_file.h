/* winners_file: the agency's winners' documents, one a line, kept in a file beside its data
 * (winners.file, default winners-<id>.csv in the folder of bets.file), so an operator still has
 * them after the run. Written to <path>.tmp and renamed over <path> once every page has come:
 * the file is either the last draw's whole list or absent, never half of one. */
#ifndef TP0_CLIENT_WINNERS_FILE_H
#define TP0_CLIENT_WINNERS_FILE_H

#include <limits.h>
#include <stdio.h>

struct winners_file {
	FILE *fp;
	char path[PATH_MAX];
	char tmp[PATH_MAX + 8];
	unsigned count;
};

/* 0, or -1 with errno (nothing is left behind). */
int winners_file_open(struct winners_file *w, const char *path);
/* 0, or -1 with errno. */
int winners_file_add(struct winners_file *w, const char *document);
/* Flushes, syncs, closes and renames into place. 0, or -1 with errno (the temp file is removed). */
int winners_file_commit(struct winners_file *w);
/* Gives up: closes and removes the temp file. Safe on a file never opened. */
void winners_file_abort(struct winners_file *w);

#endif
