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

/* Write s with & < > " ' escaped for XML and HTML text and attributes;
 * control characters other than tab are dropped. */
void fs_put_markup(FILE *f, const char *s);

#endif
