/* `coapsim keys`: the key reference made from the scenario parser's key
 * tables, and docs/scenario.md's key tables, which must be its --markdown
 * output verbatim (tests/keys_doc.sh rewrites them). */
#include <criterion/criterion.h>

#include "helpers.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define DOC "docs/scenario.md"
#define BEGIN "<!-- keys:begin "
#define END "<!-- keys:end -->\n"

/* All of a stream, NUL-terminated (heap). */
static char *slurp(FILE *f)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	size_t k;

	cr_assert_not_null(buf);
	while ((k = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += k;
		if (cap - len < 2) {
			cap *= 2;
			buf = realloc(buf, cap);
			cr_assert_not_null(buf);
		}
	}
	buf[len] = '\0';
	return buf;
}

/* The output and exit status of `coapsim ARGS`. */
static char *keys_output(const char *args, int *status)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "%s %s 2>/dev/null", test_bin(), args);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	char *out = slurp(p);
	int st = pclose(p);
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return out;
}

static size_t count(const char *s, const char *w)
{
	size_t n = 0;
	for (; (s = strstr(s, w)); s += strlen(w))
		n++;
	return n;
}

/* Where doc (at a table's begin line) first differs from want. */
static void first_difference(const char *want, const char *doc, char *buf, size_t len)
{
	size_t line = 1;
	for (;;) {
		size_t nw = strcspn(want, "\n"), nd = strcspn(doc, "\n");
		if (nw != nd || strncmp(want, doc, nw)) {
			snprintf(buf, len, "line %zu: the doc has \"%.*s\", keys prints \"%.*s\"",
				 line, (int)nd, doc, (int)nw, want);
			return;
		}
		if (!want[nw] || !doc[nd])
			break;
		want += nw + 1, doc += nd + 1, line++;
	}
	snprintf(buf, len, "line %zu: one ends early", line);
}

Test(keys, markdown_is_the_doc)
{
	int st;
	char *gen = keys_output("keys --markdown", &st);
	FILE *f = fopen(DOC, "r");
	cr_assert_not_null(f, "cannot open " DOC);
	char *doc = slurp(f);
	fclose(f);

	cr_assert_eq(st, 0);
	size_t n = count(gen, BEGIN);
	cr_assert_gt(n, 10, "one table per section");
	cr_assert_eq(count(gen, END), n);
	cr_assert_eq(count(doc, BEGIN), n,
		     DOC " has %zu key tables, `coapsim keys --markdown` prints %zu "
		     "(run make keys-doc)",
		     count(doc, BEGIN), n);
	/* Each generated table, from its begin line to its end line, is in the
	 * doc as is. */
	for (const char *t = strstr(gen, BEGIN); t; t = strstr(t + 1, BEGIN)) {
		const char *e = strstr(t, END);
		cr_assert_not_null(e);
		size_t len = (size_t)(e - t) + strlen(END);
		char *want = strndup(t, len);
		if (!strstr(doc, want)) {
			char why[512];
			size_t hl = strcspn(want, "\n");
			char *head = strndup(want, hl + 1);
			const char *at = strstr(doc, head);
			free(head);
			if (at)
				first_difference(want, at, why, sizeof(why));
			else
				snprintf(why, sizeof(why), "no such table");
			cr_assert_fail(DOC ": the table %.*s differs from `coapsim keys "
				       "--markdown` at %s (run make keys-doc)",
				       (int)hl, want, why);
		}
		free(want);
	}
	free(gen);
	free(doc);
}

Test(keys, plain_lists_every_key_with_default_and_range)
{
	int st;
	char *out = keys_output("keys", &st);

	cr_assert_eq(st, 0);
	cr_assert_not_null(strstr(out, "scenario.duration = 60s  (greater than 0)\n    "));
	cr_assert_not_null(strstr(out, "group.NAME.method = POST  (GET | POST | PUT | DELETE)\n"));
	cr_assert_not_null(strstr(out, "expect.tolerance = 1%\n"));
	cr_assert_not_null(strstr(out, "tcp.syn_retries = 6  (between 1 and 10)\n"));
	cr_assert_not_null(strstr(out, "tcp.data_retries = 15  (between 1 and 30)\n"));
	/* No Markdown in the plain listing. */
	cr_assert_null(strstr(out, "`"));
	cr_assert_null(strstr(out, "<!--"));
	free(out);
}

Test(keys, bad_argument_is_usage_error)
{
	int st;
	free(keys_output("keys --bogus", &st));
	cr_assert_eq(st, 2);
	char *out = keys_output("keys --help", &st);
	cr_assert_eq(st, 0);
	cr_assert_not_null(strstr(out, "usage: coapsim keys"));
	free(out);
}
