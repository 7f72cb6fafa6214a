/* File-system helpers for results: staging folders, locks, joint publish
 * (see fsutil.h).  Knows nothing of what the files hold. */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdbool.h>

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

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(p);
	return 0;
}

void fs_remove_tree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* "DIR/NAME" -> "DIR/.NAME<suffix>" (NAME without trailing slashes). */
static void beside(char *out, size_t len, const char *final, const char *suffix)
{
	char f[4096];
	snprintf(f, sizeof(f), "%s", final);
	for (size_t n = strlen(f); n > 1 && f[n - 1] == '/'; n--)
		f[n - 1] = 0;
	const char *slash = strrchr(f, '/');
	if (slash)
		snprintf(out, len, "%.*s/.%s%s", (int)(slash - f), f, slash + 1, suffix);
	else
		snprintf(out, len, ".%s%s", f, suffix);
}

int fs_stage_begin(struct fs_stage *st, const char *final, char *err, size_t errlen)
{
	char lock[4200], parent[4096];
	snprintf(st->final, sizeof(st->final), "%s", final);
	st->lock_fd = -1;
	snprintf(parent, sizeof(parent), "%s", final);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = 0;
		if (fs_mkdir_p(parent, err, errlen) < 0)
			return SIM_ERR_IO;
	}
	beside(lock, sizeof(lock), final, ".lock");
	st->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (st->lock_fd < 0) {
		snprintf(err, errlen, "%s: cannot create: %s", lock, strerror(errno));
		return SIM_ERR_IO;
	}
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "%s: another coapsim run is writing there; wait for it "
			 "or choose another folder", final);
		close(st->lock_fd);
		st->lock_fd = -1;
		return SIM_ERR_BUSY;
	}
	char sfx[32];
	snprintf(sfx, sizeof(sfx), ".part-%ld", (long)getpid());
	beside(st->part, sizeof(st->part), final, sfx);
	fs_remove_tree(st->part);
	if (mkdir(st->part, 0777) < 0) {
		snprintf(err, errlen, "%s: cannot create: %s", st->part, strerror(errno));
		close(st->lock_fd);
		st->lock_fd = -1;
		return SIM_ERR_IO;
	}
	return 0;
}

int fs_stage_publish(struct fs_stage **st, size_t n, char *err, size_t errlen)
{
	char old[4][4200], sfx[32];
	bool had[4] = {false};
	size_t set = 0, in = 0;
	int rc = 0;

	if (n > 4) {
		snprintf(err, errlen, "too many folders to publish at once");
		return SIM_ERR_INVAL;
	}
	snprintf(sfx, sizeof(sfx), ".old-%ld", (long)getpid());
	/* First every previous folder aside, then every new one in: a
	 * failure on the way puts back what was moved, so the set stays the
	 * old one whole or becomes the new one whole. */
	for (; set < n && !rc; set++) {
		struct stat sb;
		beside(old[set], sizeof(old[set]), st[set]->final, sfx);
		had[set] = lstat(st[set]->final, &sb) == 0;
		if (had[set] && !S_ISDIR(sb.st_mode)) {
			snprintf(err, errlen, "%s: not a folder; not replaced", st[set]->final);
			rc = SIM_ERR_IO;
		} else if (had[set] && rename(st[set]->final, old[set]) < 0) {
			snprintf(err, errlen, "%s: cannot replace: %s", st[set]->final,
				 strerror(errno));
			rc = SIM_ERR_IO;
		}
		if (rc)
			had[set] = false; /* not moved */
	}
	for (; !rc && in < n; in++)
		if (rename(st[in]->part, st[in]->final) < 0) {
			snprintf(err, errlen, "%s: cannot publish: %s", st[in]->final,
				 strerror(errno));
			rc = SIM_ERR_IO;
			break;
		}
	if (rc) {
		while (in-- > 0) /* take the new ones out again */
			rename(st[in]->final, st[in]->part);
		for (size_t i = 0; i < set; i++)
			if (had[i])
				rename(old[i], st[i]->final); /* the previous results back */
	}
	for (size_t i = 0; i < n; i++) {
		if (rc)
			fs_remove_tree(st[i]->part);
		else if (had[i])
			fs_remove_tree(old[i]);
		if (st[i]->lock_fd >= 0)
			close(st[i]->lock_fd);
		st[i]->lock_fd = -1;
	}
	return rc;
}

void fs_stage_abort(struct fs_stage *st)
{
	fs_remove_tree(st->part);
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	st->lock_fd = -1;
}
