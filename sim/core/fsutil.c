#include "fsutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "sim.h"

int fs_mkdir_p(const char *path, char *err, size_t errlen)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf)) {
		snprintf(err, errlen, "%s: cannot create: bad path", path);
		return SIM_ERR_IO;
	}
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != 0)
			continue;
		char c = buf[i];
		buf[i] = 0;
		if (mkdir(buf, 0777) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "%s: cannot create: %s", buf, strerror(errno));
			return SIM_ERR_IO;
		}
		buf[i] = c;
	}
	struct stat st;
	if (stat(path, &st) < 0) {
		snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
		return SIM_ERR_IO;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: cannot create: not a directory", path);
		return SIM_ERR_IO;
	}
	return 0;
}

int fs_commit(const char *tmp, const char *final, char *err, size_t errlen)
{
	if (rename(tmp, final) < 0) {
		snprintf(err, errlen, "%s: cannot write: %s", final, strerror(errno));
		remove(tmp);
		return SIM_ERR_IO;
	}
	return 0;
}

void fs_put_markup(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&apos;", f); break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\t' || *s == '\n')
				fputc(*s, f);
		}
	}
}
