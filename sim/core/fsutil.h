/* Small file-system helpers shared by the writers. */
#ifndef COAPSIM_FSUTIL_H
#define COAPSIM_FSUTIL_H

#include <stddef.h>
#include <stdio.h>

/* mkdir -p.  Returns 0 or SIM_ERR_IO with "PATH: cannot create: REASON"
 * in err. */
int fs_mkdir_p(const char *path, char *err, size_t errlen);

/* Move a finished temporary file into place (rename(2), atomic on one file
 * system).  Returns 0 or SIM_ERR_IO with the reason in err. */
int fs_commit(const char *tmp, const char *final, char *err, size_t errlen);

/* A results folder written whole or not at all.  fs_stage_begin takes
 * an exclusive lock beside `final` (".NAME.lock" in its parent: a second
 * run into the same folder is refused at once) and makes an empty
 * temporary folder beside it (".NAME.part-PID"), where everything is
 * written.  fs_stage_publish swaps n (at most 4) staged folders into
 * place together: every previous one aside, every new one in, and the
 * previous ones removed only then; a failure on the way leaves them all
 * as they were.  fs_stage_abort removes a staged folder and leaves
 * `final` as it was.  Returns 0, SIM_ERR_IO, or SIM_ERR_BUSY (locked)
 * with the reason in err. */
struct fs_stage {
	char final[4096], part[4200];
	int lock_fd;
};
int fs_stage_begin(struct fs_stage *st, const char *final, char *err, size_t errlen);
int fs_stage_publish(struct fs_stage **st, size_t n, char *err, size_t errlen);
void fs_stage_abort(struct fs_stage *st);

/* rm -rf path (no error if it does not exist). */
void fs_remove_tree(const char *path);

/* Write s with & < > " ' escaped for XML and HTML text and attributes;
 * control characters other than tab are dropped. */
void fs_put_markup(FILE *f, const char *s);

#endif
