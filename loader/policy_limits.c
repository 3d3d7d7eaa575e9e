// SPDX-License-Identifier: GPL-2.0
/*
 * policy_limits.c - the statements of rate limits and scan blocking:
 *
 *   limit PROTOS PORTS [syn] rate N/s [burst M] [per source]
 *   block scanners after N ports in Ts for Ds
 *   never block from SOURCES
 *
 * PROTOS PORTS and SOURCES mean what they mean in a rule, and are read by
 * the rule parser itself: the statement is rewritten into a rule at the
 * same columns of the same line ("limit" becomes "allow", "never block
 * from" becomes "allow tcp 1 from", the sets defined so far on the lines
 * above), so that every message about them is the one a rule gets, at the
 * right FILE:LINE:COL.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "../bpf/abi.h"
#include "policy.h"

#define MAX_RATE	100000000ull	/* packets per second */
#define MAX_SCAN_PORTS	(PC_SCAN_BITS / 4)
#define MAX_WINDOW_S	3600u
#define MAX_BLOCK_S	(7u * 86400u)

struct word {
	const char *s;
	int len, col;
};

/* One statement's words (split at blanks only), with where it is. */
struct gstmt {
	const char *file;
	int line;
	const char *text;
	int len;
	struct pc_diag *diag;
	struct word w[32];
	int n;
	int end_col;		/* one blank past the last word, as rules say */
};

static int gerr(struct gstmt *g, int col, const char *fmt, ...)
{
	struct pc_diag *d = g->diag;
	char raw[sizeof(d->msg)], file[PC_DIAG_FILE_MAX];
	va_list ap;

	if (!d)
		return -EINVAL;
	d->line = g->line;
	d->col = col;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	pc_escape(raw, strlen(raw), PC_ESC_CONTROLS, d->msg, sizeof(d->msg));
	pc_escape(g->file, strlen(g->file), PC_ESC_CONTROLS, file, sizeof(file));
	snprintf(d->text, sizeof(d->text), "%s:%d:%d: %s", file, d->line, d->col, d->msg);
	return -EINVAL;
}

static int is(const struct word *w, const char *s)
{
	return (size_t)w->len == strlen(s) && !memcmp(w->s, s, w->len);
}

static const char *wstr(const struct word *w, char *buf, size_t len)
{
	snprintf(buf, len, "%.*s", w->len > 40 ? 40 : w->len, w->s);
	return buf;
}

static int split(struct gstmt *g)
{
	int i = 0;

	g->n = 0;
	while (i < g->len) {
		if (isspace((unsigned char)g->text[i])) {
			i++;
			continue;
		}
		if (g->n == (int)(sizeof(g->w) / sizeof(g->w[0])))
			return gerr(g, i + 1, "statement too long: at most %zu words",
				    sizeof(g->w) / sizeof(g->w[0]));
		g->w[g->n].s = g->text + i;
		g->w[g->n].col = i + 1;
		while (i < g->len && !isspace((unsigned char)g->text[i]))
			i++;
		g->w[g->n].len = (int)(g->text + i - g->w[g->n].s);
		g->n++;
		g->end_col = i + 2;
	}
	return 0;
}

/* A whole number lo..hi followed by exactly suffix ("" for none). */
static int number(struct gstmt *g, int k, const char *suffix, uint64_t lo,
		  uint64_t hi, const char *what, uint64_t *out)
{
	const struct word *w = &g->w[k];
	size_t sl = strlen(suffix);
	uint64_t v = 0;
	char buf[64];
	int i;

	if (k >= g->n)
		return gerr(g, g->end_col, "missing %s", what);
	for (i = 0; i < w->len && isdigit((unsigned char)w->s[i]); i++) {
		v = v * 10 + (uint64_t)(w->s[i] - '0');
		if (v > hi)
			break;
	}
	if (i == 0 || (size_t)(w->len - i) != sl || memcmp(w->s + i, suffix, sl))
		return gerr(g, w->col, "bad %s '%s': write a whole number%s%s",
			    what, wstr(w, buf, sizeof(buf)), sl ? " followed by " : "",
			    suffix);
	if (v < lo || v > hi)
		return gerr(g, w->col, "%s '%s' is out of range (%llu-%llu)", what,
			    wstr(w, buf, sizeof(buf)), (unsigned long long)lo,
			    (unsigned long long)hi);
	*out = v;
	return 0;
}

static int expect(struct gstmt *g, int k, const char *word, const char *usage)
{
	char buf[64];

	if (k >= g->n)
		return gerr(g, g->end_col, "missing '%s': write '%s'", word, usage);
	if (!is(&g->w[k], word))
		return gerr(g, g->w[k].col, "expected '%s', got '%s': write '%s'", word,
			    wstr(&g->w[k], buf, sizeof(buf)), usage);
	return 0;
}

/* Parse text as a policy of its own, with the sets of p defined on the
 * lines above g->line: the rule parser's view of a rewritten statement. */
static int parse_as_rule(struct gstmt *g, const struct pc_policy *p,
			 const char *rule, struct pc_policy *out)
{
	size_t cap = strlen(rule) + 64, len = 0;
	char *text = malloc(cap);
	int lines = 0, err;

	if (!text)
		return -ENOMEM;
#define APPEND(str, n) do {						\
		size_t n_ = (n);					\
		if (len + n_ + 1 > cap) {				\
			char *t_ = realloc(text, (cap = (len + n_) * 2 + 64)); \
			if (!t_) { free(text); return -ENOMEM; }	\
			text = t_;					\
		}							\
		memcpy(text + len, (str), n_);				\
		len += n_;						\
	} while (0)
	for (size_t i = 0; i < p->n_sets && lines < g->line - 1; i++, lines++) {
		const struct pc_set *s = &p->sets[i];

		APPEND("set ", 4);
		APPEND(s->name, strlen(s->name));
		APPEND(" =", 2);
		if (s->has_any)
			APPEND(" any", 4);
		for (size_t k = 0; k < s->n_prefixes; k++) {
			char a[INET6_ADDRSTRLEN + 8], buf[INET6_ADDRSTRLEN + 16];

			inet_ntop(s->prefixes[k].family, s->prefixes[k].addr, a, sizeof(a));
			snprintf(buf, sizeof(buf), " %s/%u", a, s->prefixes[k].len);
			APPEND(buf, strlen(buf));
		}
		APPEND("\n", 1);
	}
	for (; lines < g->line - 1; lines++)
		APPEND("\n", 1);
	APPEND(rule, strlen(rule));
#undef APPEND
	err = pc_policy_parse(g->file, text, len, out, g->diag);
	free(text);
	return err;
}

/* limit PROTOS PORTS [syn] rate N/s [burst M] [per source] */
static int stmt_limit(struct gstmt *g, struct pc_policy *p)
{
	static const char usage[] = "limit tcp|udp PORTS [syn] rate N/s [burst M] [per source]";
	struct pc_guard_policy *gp = &p->guard;
	struct pc_limit_stmt l = { .line = g->line, .col = g->w[0].col };
	struct pc_policy rp;
	uint64_t v;
	char *rule, buf[64];
	int k, tail, err;

	for (tail = 1; tail < g->n; tail++) {
		if (is(&g->w[tail], "syn") || is(&g->w[tail], "rate"))
			break;
		if (is(&g->w[tail], "from"))
			return gerr(g, g->w[tail].col,
				    "a limit takes no 'from': it applies to every source the rules allow; exempt sources with 'never block from SOURCES'");
	}
	if (tail < 3)
		return gerr(g, tail < g->n ? g->w[tail].col : g->end_col,
			    "missing protocol or ports: write '%s'", usage);
	if (tail == g->n)
		return gerr(g, g->end_col, "missing rate: write '%s'", usage);
	/* the rule parser reads PROTOS PORTS: "limit" -> "allow", same columns */
	rule = strndup(g->text, g->w[tail].s - g->text);
	if (!rule)
		return -ENOMEM;
	memcpy(rule + (g->w[0].s - g->text), "allow", 5);
	err = parse_as_rule(g, p, rule, &rp);
	free(rule);
	if (err)
		return err;
	l.protos = rp.rules[0].protos;
	l.ranges = rp.rules[0].ranges;
	l.n_ranges = rp.rules[0].n_ranges;
	rp.rules[0].ranges = NULL;
	rp.rules[0].n_ranges = 0;
	pc_policy_free(&rp);

	k = tail;
	if (is(&g->w[k], "syn")) {
		if (l.protos != PC_PROTO_BIT_TCP) {
			err = gerr(g, g->w[k].col, "'syn' limits TCP only: write 'limit tcp PORTS syn ...'");
			goto fail;
		}
		l.syn = 1;
		k++;
	}
	err = expect(g, k, "rate", usage);
	if (!err)
		err = number(g, k + 1, "/s", 1, MAX_RATE, "rate", &l.rate);
	if (err)
		goto fail;
	k += 2;
	l.burst = l.rate / 10 ? l.rate / 10 : 1;
	if (k < g->n && is(&g->w[k], "burst")) {
		err = number(g, k + 1, "", 1, MAX_RATE, "burst", &v);
		if (err)
			goto fail;
		l.burst = v;
		k += 2;
	}
	if (k < g->n && is(&g->w[k], "per")) {
		err = expect(g, k + 1, "source", usage);
		if (err)
			goto fail;
		l.per_source = 1;
		k += 2;
	}
	if (k < g->n) {
		err = gerr(g, g->w[k].col, "unexpected '%s': write '%s'",
			   wstr(&g->w[k], buf, sizeof(buf)), usage);
		goto fail;
	}
	if (gp->n_limits >= PC_MAX_LIMITS) {
		err = gerr(g, g->w[0].col, "more than %d limits: merge some", PC_MAX_LIMITS);
		goto fail;
	}
	l.text = strndup(g->text + g->w[0].col - 1,
			 g->w[g->n - 1].s + g->w[g->n - 1].len - g->w[0].s);
	err = -ENOMEM;
	if (!l.text)
		goto fail;
	if (gp->n_limits == gp->cap_limits) {
		size_t cap = gp->cap_limits ? gp->cap_limits * 2 : 4;
		struct pc_limit_stmt *n = realloc(gp->limits, cap * sizeof(*n));

		if (!n)
			goto fail;
		gp->limits = n;
		gp->cap_limits = cap;
	}
	gp->limits[gp->n_limits++] = l;
	return 0;
fail:
	free(l.ranges);
	free(l.text);
	return err;
}

/* block scanners after N ports in Ts for Ds */
static int stmt_block(struct gstmt *g, struct pc_policy *p)
{
	static const char usage[] = "block scanners after N ports in Ts for Ds";
	struct pc_guard_policy *gp = &p->guard;
	uint64_t n, t, d;
	char buf[64];
	int err;

	if (gp->scan_line)
		return gerr(g, g->w[0].col, "'block scanners' is set twice (first on line %d): keep one",
			    gp->scan_line);
	err = expect(g, 1, "scanners", usage);
	if (!err)
		err = expect(g, 2, "after", usage);
	if (!err)
		err = number(g, 3, "", 2, MAX_SCAN_PORTS, "port count", &n);
	if (!err)
		err = expect(g, 4, "ports", usage);
	if (!err)
		err = expect(g, 5, "in", usage);
	if (!err)
		err = number(g, 6, "s", 1, MAX_WINDOW_S, "window", &t);
	if (!err)
		err = expect(g, 7, "for", usage);
	if (!err)
		err = number(g, 8, "s", 1, MAX_BLOCK_S, "block time", &d);
	if (err)
		return err;
	if (g->n > 9)
		return gerr(g, g->w[9].col, "unexpected '%s': write '%s'",
			    wstr(&g->w[9], buf, sizeof(buf)), usage);
	gp->scan_line = g->line;
	gp->scan_ports = (uint32_t)n;
	gp->scan_window_s = (uint32_t)t;
	gp->block_s = (uint32_t)d;
	return 0;
}

/* never block from SOURCES */
static int stmt_never(struct gstmt *g, struct pc_policy *p)
{
	static const char usage[] = "never block from SOURCES";
	struct pc_guard_policy *gp = &p->guard;
	struct pc_policy rp;
	struct pc_prefix *n;
	const char *from_end;
	char *rule;
	int err;

	err = expect(g, 1, "block", usage);
	if (!err)
		err = expect(g, 2, "from", usage);
	if (err)
		return err;
	if (g->n == 3)
		return gerr(g, g->end_col, "missing sources after 'from': give prefixes, set names or 'any'");
	/* "never block from" -> "allow tcp 1 from": the sources keep their
	 * columns (the words take at least 16 characters, as this does) */
	rule = strndup(g->text, g->len);
	if (!rule)
		return -ENOMEM;
	from_end = g->w[2].s + g->w[2].len;
	memset(rule + (g->w[0].s - g->text), ' ', from_end - g->w[0].s);
	memcpy(rule + (g->w[0].s - g->text), "allow tcp 1", 11);
	memcpy(rule + (from_end - g->text) - 4, "from", 4);
	err = parse_as_rule(g, p, rule, &rp);
	free(rule);
	if (err)
		return err;
	if (rp.rules[0].any_source)
		gp->never_any = 1;
	n = realloc(gp->never, (gp->n_never + rp.rules[0].n_sources + 1) * sizeof(*n));
	if (!n) {
		pc_policy_free(&rp);
		return -ENOMEM;
	}
	gp->never = n;
	memcpy(n + gp->n_never, rp.rules[0].sources,
	       rp.rules[0].n_sources * sizeof(*n));
	gp->n_never += rp.rules[0].n_sources;
	if (!gp->never_line)
		gp->never_line = g->line;
	pc_policy_free(&rp);
	if (gp->n_never > PC_NEVER_ENTRIES)
		return gerr(g, g->w[3].col, "more than %d 'never block' prefixes",
			    PC_NEVER_ENTRIES);
	return 0;
}

int pc_is_guard_keyword(const char *word, int len)
{
	return (len == 5 && !memcmp(word, "limit", 5)) ||
	       (len == 5 && !memcmp(word, "block", 5)) ||
	       (len == 5 && !memcmp(word, "never", 5));
}

int pc_parse_guard_stmt(struct pc_policy *p, const char *file, int line,
			const char *stmt, int len, struct pc_diag *diag)
{
	struct gstmt g = { .file = file, .line = line, .text = stmt, .len = len,
			   .diag = diag };
	int err = split(&g);

	if (err)
		return err;
	if (is(&g.w[0], "limit"))
		return stmt_limit(&g, p);
	if (is(&g.w[0], "block"))
		return stmt_block(&g, p);
	return stmt_never(&g, p);
}

int pc_guard_used(const struct pc_policy *p)
{
	const struct pc_guard_policy *g = &p->guard;

	return g->n_limits || g->scan_line || g->never_line;
}

void pc_guard_policy_free(struct pc_guard_policy *g)
{
	for (size_t i = 0; i < g->n_limits; i++) {
		free(g->limits[i].ranges);
		free(g->limits[i].text);
	}
	free(g->limits);
	free(g->never);
	memset(g, 0, sizeof(*g));
}
