// SPDX-License-Identifier: GPL-2.0
/*
 * policy.c - the policy language of SPEC section 3: text -> struct pc_policy.
 * Pure user space; service names resolve through /etc/services
 * (getservbyname).
 *
 * A statement is one line; '#' starts a comment. Lines are cut into tokens:
 * words, ',' and '='. Commas and blanks both separate list items, so a
 * comma is only an error where it separates nothing (trailing, doubled).
 *
 * Port decisions made here (the SPEC leaves them open):
 *  - Port 0 is never a real port: it is an error in a rule, and the range
 *    classes start at 1 (well-known = 1-1023, registered = 1024-49151,
 *    dynamic = 49152-65535). pc_range_class_of() still files port 0 under
 *    well-known for counting, as SPEC section 2 does.
 *  - A service name known for only one of a rule's protocols gives that port
 *    for all of them; one with different ports per protocol is an error
 *    (a rule has one port list for all its protocols).
 *
 * Errors: -EINVAL with diag = "FILE:LINE:COL: message", LINE and COL 1-based
 * and pointing at the offending token (for something missing: just past the
 * last token). Returns 0, -EINVAL, -ENOMEM, or -errno for unreadable files.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "../bpf/abi.h"
#include "policy.h"

enum tok_kind { T_WORD, T_COMMA, T_EQ };

struct tok {
	enum tok_kind kind;
	const char *s;
	int len;
	int col;
};

/* Parser state for one file. */
struct ps {
	const char *file;
	struct pc_diag *diag;
	struct pc_policy *p;
	int line;
	const char *stmt;	/* the current line, comment stripped */
	int stmt_len;
	struct tok *toks;
	size_t n_toks, cap_toks;
	int end_col;		/* just past the last token of the line */
	int seen_line[5];	/* default, icmp, other, fragments, mode */
	/* names of every "set" statement in the file, for "used before" */
	struct fwd_set { char *name; int line; } *fwd;
	size_t n_fwd, cap_fwd;
	size_t cap_rules, cap_sets;	/* allocated sizes of p->rules, p->sets */
};

static int perr(struct ps *ps, int col, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* UTF-8: the length of the character at s (n bytes left), or 0 when the
 * bytes there are not one: a stray continuation byte, a cut sequence, an
 * overlong form, a surrogate, or beyond U+10FFFF (what jansson refuses). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t need;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return need;
}

size_t pc_escape(const char *s, size_t len, unsigned flags, char *out, size_t outlen)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t need = 0, put = 0;

	for (size_t i = 0; i < len;) {
		size_t n = utf8_len(u + i, len - i);
		int esc = !n || ((flags & PC_ESC_CONTROLS) && (u[i] < 0x20 || u[i] == 0x7f));
		char hex[5];
		const char *piece = s + i;
		size_t plen = n;

		if (esc) {
			snprintf(hex, sizeof(hex), "\\x%02x", u[i]);
			piece = hex;
			plen = 4;
			n = 1;
		}
		/* all of a piece or none of it: the cut never splits one */
		if (outlen && put == need && put + plen < outlen) {
			memcpy(out + put, piece, plen);
			put += plen;
		}
		need += plen;
		i += n;
	}
	if (outlen)
		out[put] = 0;
	return need;
}

static int perr(struct ps *ps, int col, const char *fmt, ...)
{
	struct pc_diag *d = ps->diag;
	char raw[sizeof(d->msg)], file[PC_DIAG_FILE_MAX];
	va_list ap;

	if (!d)
		return -EINVAL;
	d->line = ps->line;
	d->col = col;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	/* tokens and file names are the user's bytes: shown escaped */
	pc_escape(raw, strlen(raw), PC_ESC_CONTROLS, d->msg, sizeof(d->msg));
	pc_escape(ps->file, strlen(ps->file), PC_ESC_CONTROLS, file, sizeof(file));
	snprintf(d->text, sizeof(d->text), "%s:%d:%d: %s", file, d->line,
		 d->col, d->msg);
	return -EINVAL;
}

uint64_t pc_fnv1a64(const void *buf, size_t len)
{
	const uint8_t *b = buf;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

const char *pc_verdict_name(unsigned verdict)
{
	return verdict == PC_ALLOW ? "allow" :
	       verdict == PC_DENY || verdict == PC_DENY_AUDIT ? "deny" : "?";
}

const char *pc_proto_name(unsigned proto)
{
	return proto == PC_PROTO_TCP ? "tcp" : proto == PC_PROTO_UDP ? "udp" : "?";
}

const char *pc_range_class_name(unsigned cls)
{
	switch (cls) {
	case PC_CLASS_WELL_KNOWN: return "well-known";
	case PC_CLASS_REGISTERED: return "registered";
	case PC_CLASS_DYNAMIC: return "dynamic";
	}
	return "?";
}

unsigned pc_range_class_of(unsigned port)
{
	if (port <= 1023)
		return PC_CLASS_WELL_KNOWN;
	if (port <= 49151)
		return PC_CLASS_REGISTERED;
	return PC_CLASS_DYNAMIC;
}

/* ---- small helpers ---- */

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *n;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	while (ncap < need)
		ncap *= 2;
	n = realloc(*arr, ncap * elem);
	if (!n)
		return -ENOMEM;
	*arr = n;
	*cap = ncap;
	return 0;
}

static int tok_is(const struct tok *t, const char *word)
{
	return t->kind == T_WORD && (size_t)t->len == strlen(word) &&
	       !memcmp(t->s, word, t->len);
}

/* Copy of a token's text, truncated for messages, never inside a UTF-8
 * character (perr escapes what is not UTF-8). */
static const char *tstr(const struct tok *t, char *buf, size_t len)
{
	size_t n = (size_t)t->len < len - 1 ? (size_t)t->len : len - 1;

	while (n > 0 && n < (size_t)t->len && ((unsigned char)t->s[n] & 0xc0) == 0x80)
		n--;

	memcpy(buf, t->s, n);
	buf[n] = 0;
	return buf;
}

static int is_ident(const char *s, int len)
{
	if (len <= 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (int i = 1; i < len; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

static int tokenize(struct ps *ps)
{
	const char *s = ps->stmt;
	int n = ps->stmt_len, i = 0;

	ps->n_toks = 0;
	ps->end_col = 1;
	while (i < n) {
		struct tok t;

		if (isspace((unsigned char)s[i])) {
			i++;
			continue;
		}
		t.s = s + i;
		t.col = i + 1;
		if (s[i] == ',' || s[i] == '=') {
			t.kind = s[i] == ',' ? T_COMMA : T_EQ;
			t.len = 1;
			i++;
		} else {
			t.kind = T_WORD;
			while (i < n && !isspace((unsigned char)s[i]) &&
			       s[i] != ',' && s[i] != '=')
				i++;
			t.len = (int)(s + i - t.s);
		}
		if (grow((void **)&ps->toks, &ps->cap_toks, ps->n_toks + 1,
			 sizeof(*ps->toks)))
			return -ENOMEM;
		ps->toks[ps->n_toks++] = t;
		ps->end_col = i + 2;	/* one blank past the token */
	}
	return 0;
}

/* ---- list items ---- */

/* Walk a list of words separated by commas and/or blanks, from toks[*i] up
 * to (not including) index end. Calls item() per word. Commas that separate
 * nothing are errors. */
static int walk_list(struct ps *ps, size_t *i, size_t end,
		     int (*item)(struct ps *, const struct tok *, void *), void *ctx,
		     const char *what)
{
	int prev_comma = 0, any = 0, err;

	for (; *i < end; (*i)++) {
		const struct tok *t = &ps->toks[*i];

		if (t->kind == T_COMMA) {
			if (!any)
				return perr(ps, t->col, "unexpected ',' before the first %s", what);
			if (prev_comma)
				return perr(ps, t->col, "empty %s between commas: remove one ','", what);
			prev_comma = 1;
			continue;
		}
		if (t->kind == T_EQ)
			return perr(ps, t->col, "unexpected '=' in a list of %ss", what);
		err = item(ps, t, ctx);
		if (err)
			return err;
		prev_comma = 0;
		any = 1;
	}
	if (prev_comma) {
		const struct tok *t = &ps->toks[*i - 1];

		return perr(ps, t->col, "trailing ',' after the last %s: remove it or add a %s",
			    what, what);
	}
	return 0;
}

/* ---- prefixes and sources ---- */

struct src_list {
	struct pc_prefix *v;
	size_t n, cap;
	int any;
};

static int src_add(struct src_list *l, const struct pc_prefix *p)
{
	if (grow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v)))
		return -ENOMEM;
	l->v[l->n++] = *p;
	return 0;
}

static void format_prefix(const struct pc_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(p->family, p->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, p->len);
}

static int parse_prefix(struct ps *ps, const struct tok *t, struct pc_prefix *out)
{
	char buf[128], addr[128];
	const char *slash;
	int alen, maxlen;
	unsigned long plen;

	memset(out, 0, sizeof(*out));
	tstr(t, buf, sizeof(buf));
	if ((size_t)t->len >= sizeof(buf))
		return perr(ps, t->col, "bad prefix '%.40s...': too long",
			    tstr(t, addr, 41));
	slash = strchr(buf, '/');
	alen = slash ? (int)(slash - buf) : t->len;
	memcpy(addr, buf, alen);
	addr[alen] = 0;
	out->family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	maxlen = out->family == AF_INET ? 32 : 128;
	if (inet_pton(out->family, addr, out->addr) != 1)
		return perr(ps, t->col, "bad prefix '%s': '%s' is not an %s address", buf,
			    addr, out->family == AF_INET ? "IPv4" : "IPv6");
	if (!slash) {
		plen = maxlen;
	} else {
		const char *ls = slash + 1;
		int lcol = t->col + alen + 1;
		char *endp;

		if (!*ls)
			return perr(ps, lcol, "bad prefix '%s': missing length after '/'", buf);
		if (!isdigit((unsigned char)*ls))
			return perr(ps, lcol, "bad prefix '%s': length '%s' is not a number",
				    buf, ls);
		errno = 0;
		plen = strtoul(ls, &endp, 10);
		if (*endp)
			return perr(ps, lcol, "bad prefix '%s': length '%s' is not a number",
				    buf, ls);
		if (errno || plen > (unsigned long)maxlen)
			return perr(ps, lcol,
				    "bad prefix '%s': length /%s is out of range for %s (0-%d)",
				    buf, ls, out->family == AF_INET ? "IPv4" : "IPv6", maxlen);
	}
	out->len = (uint8_t)plen;
	/* host bits must be zero: a typo in the address would otherwise
	 * silently widen or move the rule */
	{
		struct pc_prefix net = *out;
		int bytes = maxlen / 8;

		for (int b = 0; b < bytes; b++) {
			int keep = (int)plen - b * 8;
			uint8_t mask = keep >= 8 ? 0xff : keep <= 0 ? 0 :
				       (uint8_t)(0xff << (8 - keep));

			net.addr[b] &= mask;
		}
		if (memcmp(net.addr, out->addr, 16)) {
			char nb[64];

			format_prefix(&net, nb, sizeof(nb));
			return perr(ps, t->col,
				    "bad prefix '%s': host bits are set; the network is %s", buf, nb);
		}
	}
	return 0;
}

static struct pc_set *find_set(struct pc_policy *p, const char *s, int len)
{
	for (size_t i = 0; i < p->n_sets; i++)
		if (strlen(p->sets[i].name) == (size_t)len && !memcmp(p->sets[i].name, s, len))
			return &p->sets[i];
	return NULL;
}

static int source_item(struct ps *ps, const struct tok *t, void *ctx)
{
	struct src_list *l = ctx;
	struct pc_prefix pfx;
	char buf[64];
	int err;

	if (tok_is(t, "any")) {
		l->any = 1;
		return 0;
	}
	if (is_ident(t->s, t->len)) {
		struct pc_set *set = find_set(ps->p, t->s, t->len);

		if (!set) {
			for (size_t i = 0; i < ps->n_fwd; i++) {
				if (strlen(ps->fwd[i].name) != (size_t)t->len ||
				    memcmp(ps->fwd[i].name, t->s, t->len))
					continue;
				if (ps->fwd[i].line == ps->line)
					return perr(ps, t->col, "set '%s' cannot contain itself",
						    tstr(t, buf, sizeof(buf)));
				return perr(ps, t->col,
						    "set '%s' is used before its definition on line %d: move the set above this line",
						    tstr(t, buf, sizeof(buf)), ps->fwd[i].line);
			}
			return perr(ps, t->col,
				    "unknown set '%s': define it first with 'set %s = PREFIXES'",
				    tstr(t, buf, sizeof(buf)), buf);
		}
		if (set->has_any)
			l->any = 1;
		for (size_t i = 0; i < set->n_prefixes; i++)
			if (src_add(l, &set->prefixes[i]))
				return -ENOMEM;
		return 0;
	}
	err = parse_prefix(ps, t, &pfx);
	if (err)
		return err;
	return src_add(l, &pfx);
}

/* ---- ports ---- */

struct port_ctx {
	struct pc_port_range *v;
	size_t n, cap;
	uint8_t protos;
};

static int port_add(struct port_ctx *pc, unsigned lo, unsigned hi)
{
	if (grow((void **)&pc->v, &pc->cap, pc->n + 1, sizeof(*pc->v)))
		return -ENOMEM;
	pc->v[pc->n].lo = (uint16_t)lo;
	pc->v[pc->n].hi = (uint16_t)hi;
	pc->n++;
	return 0;
}

/* A decimal port number s[0..len). */
static int port_number(struct ps *ps, const char *s, int len, int col, unsigned *out)
{
	unsigned long v = 0;

	if (len == 0)
		return perr(ps, col, "missing port number");
	for (int i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return perr(ps, col, "bad port '%.*s': expected a number 1-65535",
				    len, s);
		if (v <= 65535)
			v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0)
		return perr(ps, col, "port 0 is not a real port: use 1-65535");
	if (v > 65535)
		return perr(ps, col, "port %.*s is above 65535", len, s);
	*out = (unsigned)v;
	return 0;
}

static int service_port(struct ps *ps, const struct tok *t, uint8_t protos,
			unsigned *out)
{
	char name[64];
	int port[2] = { -1, -1 };
	const char *pn[2] = { "tcp", "udp" };

	tstr(t, name, sizeof(name));
	for (int i = 0; i < 2; i++) {
		struct servent *se;

		if (!(protos & (1u << i)))
			continue;
		se = getservbyname(name, pn[i]);
		if (se)
			port[i] = ntohs((uint16_t)se->s_port);
	}
	endservent();
	if (port[0] < 0 && port[1] < 0) {
		if (!strcmp(name, "any") || !strcmp(name, "all"))
			return perr(ps, t->col, "'%s' is not a port: use 1-65535 for every port",
				    name);
		return perr(ps, t->col,
			    "unknown service '%s' for %s: use a port number or a name from /etc/services",
			    name, protos == 3 ? "tcp,udp" : protos == 1 ? "tcp" : "udp");
	}
	if (port[0] >= 0 && port[1] >= 0 && port[0] != port[1])
		return perr(ps, t->col,
			    "service '%s' is tcp port %d but udp port %d: write one rule per protocol",
			    name, port[0], port[1]);
	*out = (unsigned)(port[0] >= 0 ? port[0] : port[1]);
	if (*out == 0)
		return perr(ps, t->col, "service '%s' resolves to port 0, which is not a real port",
			    name);
	return 0;
}

static int port_item(struct ps *ps, const struct tok *t, void *ctx)
{
	static const struct { const char *name; unsigned lo, hi; } classes[] = {
		{ "well-known", 1, 1023 },
		{ "registered", 1024, 49151 },
		{ "dynamic", 49152, 65535 },
	};
	struct port_ctx *pc = ctx;
	const char *dash;
	unsigned lo, hi;
	int err;

	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (tok_is(t, classes[i].name))
			return port_add(pc, classes[i].lo, classes[i].hi);
	if (isdigit((unsigned char)t->s[0])) {
		dash = memchr(t->s, '-', t->len);
		if (!dash) {
			err = port_number(ps, t->s, t->len, t->col, &lo);
			return err ? err : port_add(pc, lo, lo);
		}
		err = port_number(ps, t->s, (int)(dash - t->s), t->col, &lo);
		if (err)
			return err;
		err = port_number(ps, dash + 1, (int)(t->s + t->len - dash - 1),
				  t->col + (int)(dash - t->s) + 1, &hi);
		if (err)
			return err;
		if (lo > hi)
			return perr(ps, t->col, "empty port range %u-%u: write the lower port first (%u-%u)",
				    lo, hi, hi, lo);
		return port_add(pc, lo, hi);
	}
	err = service_port(ps, t, pc->protos, &lo);
	return err ? err : port_add(pc, lo, lo);
}

/* ---- statements ---- */

static int parse_verdict_word(const struct tok *t, uint8_t *v)
{
	if (tok_is(t, "allow"))
		*v = PC_ALLOW;
	else if (tok_is(t, "deny"))
		*v = PC_DENY;
	else
		return -1;
	return 0;
}

static int expect_end(struct ps *ps, size_t i, const char *after)
{
	char buf[64];

	if (i < ps->n_toks)
		return perr(ps, ps->toks[i].col, "unexpected '%s' after %s",
			    tstr(&ps->toks[i], buf, sizeof(buf)), after);
	return 0;
}

/* default|icmp|other|fragments allow|deny; mode enforce|audit */
static int stmt_scalar(struct ps *ps, int which, const char *kw, uint8_t *dst)
{
	const struct tok *t0 = &ps->toks[0];
	char buf[64];

	if (ps->seen_line[which])
		return perr(ps, t0->col, "'%s' is set twice (first on line %d): keep one",
			    kw, ps->seen_line[which]);
	if (ps->n_toks < 2) {
		if (which == 4)
			return perr(ps, ps->end_col, "missing mode: write 'mode enforce' or 'mode audit'");
		return perr(ps, ps->end_col, "missing verdict: write '%s allow' or '%s deny'",
			    kw, kw);
	}
	if (which == 4) {
		if (tok_is(&ps->toks[1], "enforce"))
			*dst = PC_MODE_ENFORCE;
		else if (tok_is(&ps->toks[1], "audit"))
			*dst = PC_MODE_AUDIT;
		else
			return perr(ps, ps->toks[1].col, "unknown mode '%s': expected enforce or audit",
				    tstr(&ps->toks[1], buf, sizeof(buf)));
	} else if (parse_verdict_word(&ps->toks[1], dst)) {
		return perr(ps, ps->toks[1].col, "unknown verdict '%s': expected allow or deny",
			    tstr(&ps->toks[1], buf, sizeof(buf)));
	}
	ps->seen_line[which] = ps->line;
	if (which == 0)
		ps->p->default_line = ps->line;
	else if (which == 2)
		ps->p->other_line = ps->line;
	return expect_end(ps, 2, kw);
}

/* counters ports|classes: the counter layout (bpf/abi.h), chosen at attach */
static int stmt_counters(struct ps *ps)
{
	const struct tok *t0 = &ps->toks[0];
	char buf[64];

	if (ps->p->counters_line)
		return perr(ps, t0->col, "'counters' is set twice (first on line %d): keep one",
			    ps->p->counters_line);
	if (ps->n_toks < 2)
		return perr(ps, ps->end_col,
			    "missing layout: write 'counters ports' or 'counters classes'");
	if (tok_is(&ps->toks[1], "ports"))
		ps->p->counters = PC_COUNTERS_PORTS;
	else if (tok_is(&ps->toks[1], "classes"))
		ps->p->counters = PC_COUNTERS_CLASSES;
	else
		return perr(ps, ps->toks[1].col, "unknown layout '%s': expected ports or classes",
			    tstr(&ps->toks[1], buf, sizeof(buf)));
	ps->p->counters_line = ps->line;
	return expect_end(ps, 2, "counters");
}

static const char *const reserved[] = {
	"allow", "deny", "from", "any", "set", "default", "icmp", "other",
	"fragments", "mode", "tcp", "udp", "well-known", "registered", "dynamic",
};

static int stmt_set(struct ps *ps)
{
	struct pc_policy *p = ps->p;
	struct src_list l = { 0 };
	const struct tok *name;
	struct pc_set *set;
	char buf[64];
	size_t i = 3;
	int err;

	if (ps->n_toks < 2 || ps->toks[1].kind != T_WORD)
		return perr(ps, ps->n_toks < 2 ? ps->end_col : ps->toks[1].col,
			    "missing set name: write 'set NAME = PREFIXES'");
	name = &ps->toks[1];
	if (!is_ident(name->s, name->len))
		return perr(ps, name->col,
			    "bad set name '%s': use letters, digits, '_' and '-', starting with a letter",
			    tstr(name, buf, sizeof(buf)));
	for (size_t k = 0; k < sizeof(reserved) / sizeof(reserved[0]); k++)
		if (tok_is(name, reserved[k]))
			return perr(ps, name->col, "'%s' is a keyword and cannot name a set",
				    reserved[k]);
	set = find_set(p, name->s, name->len);
	if (set)
		return perr(ps, name->col, "set '%s' is defined twice (first on line %d): rename one",
			    tstr(name, buf, sizeof(buf)), set->line);
	if (ps->n_toks < 3 || ps->toks[2].kind != T_EQ)
		return perr(ps, ps->n_toks < 3 ? ps->end_col : ps->toks[2].col,
			    "expected '=' after the set name: write 'set %s = PREFIXES'",
			    tstr(name, buf, sizeof(buf)));
	if (ps->n_toks == 3)
		return perr(ps, ps->end_col, "empty set '%s': list prefixes, set names or 'any'",
			    tstr(name, buf, sizeof(buf)));
	err = walk_list(ps, &i, ps->n_toks, source_item, &l, "prefix");
	if (err)
		goto fail;
	err = -ENOMEM;
	if (grow((void **)&p->sets, &ps->cap_sets, p->n_sets + 1, sizeof(*p->sets)))
		goto fail;
	set = &p->sets[p->n_sets];
	memset(set, 0, sizeof(*set));
	set->name = strndup(name->s, name->len);
	if (!set->name)
		goto fail;
	set->line = ps->line;
	set->prefixes = l.v;
	set->n_prefixes = l.n;
	set->has_any = l.any;
	p->n_sets++;
	return 0;
fail:
	free(l.v);
	return err;
}

static int stmt_rule(struct ps *ps, uint8_t verdict)
{
	struct pc_policy *p = ps->p;
	struct port_ctx pc = { 0 };
	struct src_list l = { 0 };
	struct pc_rule *r;
	size_t i = 1, from = ps->n_toks;
	char buf[64];
	int err = 0, want_proto = 1;
	int s0, s1;

	/* protocols: tcp / udp separated by commas or blanks */
	for (; i < ps->n_toks; i++) {
		const struct tok *t = &ps->toks[i];

		if (t->kind == T_COMMA) {
			if (want_proto)
				return perr(ps, t->col, "expected a protocol (tcp or udp) before ','");
			want_proto = 1;
			continue;
		}
		if (tok_is(t, "tcp"))
			pc.protos |= PC_PROTO_BIT_TCP;
		else if (tok_is(t, "udp"))
			pc.protos |= PC_PROTO_BIT_UDP;
		else if (want_proto)
			goto bad_proto;
		else
			break;
		want_proto = 0;
	}
	if (!pc.protos) {
		if (i >= ps->n_toks)
			return perr(ps, ps->end_col,
				    "missing protocol: write '%s tcp|udp|tcp,udp PORTS [from SOURCES]'",
				    pc_verdict_name(verdict));
		goto bad_proto;
	}
	for (size_t k = i; k < ps->n_toks; k++)
		if (tok_is(&ps->toks[k], "from")) {
			from = k;
			break;
		}
	if (i == from) {
		int col = from < ps->n_toks ? ps->toks[from].col : ps->end_col;

		return perr(ps, col, "missing ports: give numbers, ranges a-b, service names or a range class after '%s'",
			    pc.protos == 3 ? "tcp,udp" : pc.protos == 1 ? "tcp" : "udp");
	}
	err = walk_list(ps, &i, from, port_item, &pc, "port");
	if (err)
		goto fail;
	if (from < ps->n_toks) {
		i = from + 1;
		if (i == ps->n_toks) {
			err = perr(ps, ps->toks[from].col,
				   "missing source list after 'from': give prefixes, set names or 'any'");
			goto fail;
		}
		err = walk_list(ps, &i, ps->n_toks, source_item, &l, "source");
		if (err)
			goto fail;
	} else {
		l.any = 1;
	}

	err = -ENOMEM;
	if (grow((void **)&p->rules, &ps->cap_rules, p->n_rules + 1,
		 sizeof(*p->rules)))
		goto fail;
	r = &p->rules[p->n_rules];
	memset(r, 0, sizeof(*r));
	/* the statement as written, blanks trimmed */
	s0 = 0;
	s1 = ps->stmt_len;
	while (s0 < s1 && isspace((unsigned char)ps->stmt[s0]))
		s0++;
	while (s1 > s0 && isspace((unsigned char)ps->stmt[s1 - 1]))
		s1--;
	r->text = strndup(ps->stmt + s0, s1 - s0);
	if (!r->text)
		goto fail;
	r->line = ps->line;
	r->col = ps->toks[0].col;
	r->verdict = verdict;
	r->protos = pc.protos;
	r->ranges = pc.v;
	r->n_ranges = pc.n;
	r->any_source = l.any;
	if (l.any) {
		free(l.v);
		l.v = NULL;
		l.n = 0;
	}
	r->sources = l.v;
	r->n_sources = l.n;
	p->n_rules++;
	return 0;

bad_proto:
	{
		const struct tok *t = &ps->toks[i];

		tstr(t, buf, sizeof(buf));
		if (pc.protos && isdigit((unsigned char)buf[0]))
			return perr(ps, t->col,
				    "expected a protocol after ',', got '%s': separate the protocols from the ports with a blank",
				    buf);
		if (!strcmp(buf, "icmp") || !strcmp(buf, "icmpv6") || !strcmp(buf, "ipv6-icmp"))
			return perr(ps, t->col,
				    "unknown protocol '%s': rules take tcp, udp or tcp,udp; use 'icmp allow|deny' for ICMP",
				    buf);
		return perr(ps, t->col, "unknown protocol '%s': rules take tcp, udp or tcp,udp",
			    buf);
	}
fail:
	free(pc.v);
	free(l.v);
	return err;
}

/* replies ...: words handed to policy_replies.c */
static int stmt_replies(struct ps *ps)
{
	struct pc_word w[5];
	size_t n = ps->n_toks < 5 ? ps->n_toks : 5;
	char msg[200];
	int col;

	for (size_t i = 0; i < n; i++)
		w[i] = (struct pc_word){ ps->toks[i].s, ps->toks[i].len, ps->toks[i].col };
	if (pc_stmt_replies(ps->p, ps->line, w, n, ps->end_col, &col, msg, sizeof(msg)))
		return perr(ps, col, "%s", msg);
	return 0;
}

static int statement(struct ps *ps)
{
	const struct tok *t0 = &ps->toks[0];
	struct pc_policy *p = ps->p;
	uint8_t v;
	char buf[64];

	if (t0->kind != T_WORD)
		return perr(ps, t0->col, "unexpected '%c' at the start of a statement", t0->s[0]);
	if (!parse_verdict_word(t0, &v))
		return stmt_rule(ps, v);
	if (tok_is(t0, "set"))
		return stmt_set(ps);
	if (pc_is_guard_keyword(t0->s, t0->len))	/* policy_limits.c */
		return pc_parse_guard_stmt(p, ps->file, ps->line, ps->stmt, ps->stmt_len, ps->diag);
	if (tok_is(t0, "default"))
		return stmt_scalar(ps, 0, "default", &p->default_verdict);
	if (tok_is(t0, "icmp"))
		return stmt_scalar(ps, 1, "icmp", &p->icmp_verdict);
	if (tok_is(t0, "other"))
		return stmt_scalar(ps, 2, "other", &p->other_verdict);
	if (tok_is(t0, "fragments"))
		return stmt_scalar(ps, 3, "fragments", &p->fragment_verdict);
	if (tok_is(t0, "mode"))
		return stmt_scalar(ps, 4, "mode", &p->mode);
	if (tok_is(t0, "replies"))
		return stmt_replies(ps);
	if (tok_is(t0, "counters"))
		return stmt_counters(ps);
	return perr(ps, t0->col,
		    "unknown keyword '%s': a statement starts with allow, deny, set, default, icmp, other, fragments, mode or replies",
		    tstr(t0, buf, sizeof(buf)));
}

/* Iterate the lines of text: sets ps->stmt/stmt_len (comment stripped) and
 * ps->line. Returns 0 at the end. */
struct line_iter {
	const char *text;
	size_t len, pos;
	int line;
};

static int next_line(struct line_iter *it, const char **s, int *n)
{
	const char *nl, *hash;
	size_t rest;

	if (it->pos >= it->len)
		return 0;
	rest = it->len - it->pos;
	*s = it->text + it->pos;
	nl = memchr(*s, '\n', rest);
	*n = nl ? (int)(nl - *s) : (int)rest;
	it->pos += (size_t)*n + (nl ? 1 : 0);
	it->line++;
	hash = memchr(*s, '#', *n);
	if (hash)
		*n = (int)(hash - *s);
	return 1;
}

/* A UTF-8 byte order mark some editors write at the start of a file */
static size_t bom_len(const char *text, size_t len)
{
	return len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3) ? 3 : 0;
}

/* Pre-scan: every "set NAME" with its line, so a use before the
 * definition can say where the definition is. */
static int scan_sets(struct ps *ps, const char *text, size_t len)
{
	struct line_iter it = { text, len, bom_len(text, len), 0 };
	const char *s;
	int n;

	while (next_line(&it, &s, &n)) {
		ps->stmt = s;
		ps->stmt_len = n;
		if (tokenize(ps))
			return -ENOMEM;
		if (ps->n_toks >= 2 && tok_is(&ps->toks[0], "set") &&
		    ps->toks[1].kind == T_WORD) {
			struct fwd_set *f;

			if (grow((void **)&ps->fwd, &ps->cap_fwd, ps->n_fwd + 1,
				 sizeof(*ps->fwd)))
				return -ENOMEM;
			f = &ps->fwd[ps->n_fwd];
			f->name = strndup(ps->toks[1].s, ps->toks[1].len);
			if (!f->name)
				return -ENOMEM;
			f->line = it.line;
			ps->n_fwd++;
		}
	}
	return 0;
}

void pc_policy_free(struct pc_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_rules; i++) {
		free(p->rules[i].ranges);
		free(p->rules[i].sources);
		free(p->rules[i].text);
	}
	free(p->rules);
	for (size_t i = 0; i < p->n_sets; i++) {
		free(p->sets[i].name);
		free(p->sets[i].prefixes);
	}
	free(p->sets);
	free(p->file);
	pc_guard_policy_free(&p->guard);
	memset(p, 0, sizeof(*p));
}

int pc_policy_parse(const char *file, const char *text, size_t len,
		    struct pc_policy *out, struct pc_diag *diag)
{
	struct pc_policy p;
	struct ps ps;
	/* a BOM is skipped (columns of line 1 count after it); the hash is
	 * still of every byte of the file */
	struct line_iter it = { text, len, bom_len(text, len), 0 };
	const char *s;
	int n, err = 0;

	memset(&p, 0, sizeof(p));
	memset(&ps, 0, sizeof(ps));
	if (!file)
		file = "<policy>";
	ps.file = file;
	ps.diag = diag;
	ps.p = &p;
	p.default_verdict = p.icmp_verdict = p.other_verdict = p.fragment_verdict = PC_ALLOW;
	p.mode = PC_MODE_ENFORCE;
	p.hash = pc_fnv1a64(text, len);
	p.file = strdup(file);
	if (!p.file) {
		err = -ENOMEM;
		goto out;
	}
	err = scan_sets(&ps, text, len);
	if (err)
		goto out;
	while (next_line(&it, &s, &n)) {
		ps.line = it.line;
		ps.stmt = s;
		ps.stmt_len = n;
		err = tokenize(&ps);
		if (err)
			goto out;
		if (ps.n_toks == 0)
			continue;
		err = statement(&ps);
		if (err)
			goto out;
	}
out:
	for (size_t i = 0; i < ps.n_fwd; i++)
		free(ps.fwd[i].name);
	free(ps.fwd);
	free(ps.toks);
	if (err) {
		if (err == -ENOMEM && diag) {
			diag->line = diag->col = 0;
			snprintf(diag->msg, sizeof(diag->msg), "out of memory");
			pc_escape(file, strlen(file), PC_ESC_CONTROLS, diag->text,
				  sizeof(diag->text) - 16);
			strcat(diag->text, ": out of memory");
		}
		pc_policy_free(&p);
		return err;
	}
	*out = p;
	return 0;
}

static const char *file_kind(mode_t m)
{
	return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" :
	       S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device" :
	       S_ISSOCK(m) ? "a socket" : "not a regular file";
}

static int read_fail(const char *path, int err, struct pc_diag *diag,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int read_fail(const char *path, int err, struct pc_diag *diag,
		     const char *fmt, ...)
{
	char file[PC_DIAG_FILE_MAX];
	va_list ap;

	if (!diag)
		return err;
	diag->line = diag->col = 0;
	va_start(ap, fmt);
	vsnprintf(diag->msg, sizeof(diag->msg), fmt, ap);
	va_end(ap);
	pc_escape(path, strlen(path), PC_ESC_CONTROLS, file, sizeof(file));
	snprintf(diag->text, sizeof(diag->text), "%s: %s", file, diag->msg);
	return err;
}

int pc_policy_read(const char *path, char **buf_out, size_t *len_out,
		   struct pc_diag *diag)
{
	size_t len = 0, cap;
	struct stat st;
	char *buf;
	int fd, err;

	/* O_NONBLOCK: opening a FIFO must not wait for a writer */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		err = -errno;
		return read_fail(path, err, diag, "cannot read policy: %s", strerror(-err));
	}
	if (fstat(fd, &st)) {
		err = -errno;
		close(fd);
		return read_fail(path, err, diag, "cannot read policy: %s", strerror(-err));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return read_fail(path, S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL, diag,
				 "not a policy file: %s; give a regular file",
				 file_kind(st.st_mode));
	}
	if ((uint64_t)st.st_size > PC_POLICY_MAX_BYTES) {
		close(fd);
		return read_fail(path, -EFBIG, diag,
				 "policy file too large: %lld bytes, the limit is %u MiB",
				 (long long)st.st_size, PC_POLICY_MAX_BYTES >> 20);
	}
	/* the size may change while we read: read at most the limit + 1 */
	cap = (size_t)st.st_size + 1;
	buf = malloc(cap + 1);
	if (!buf) {
		close(fd);
		return read_fail(path, -ENOMEM, diag, "out of memory reading the policy");
	}
	for (;;) {
		ssize_t got;

		if (len == cap && cap <= PC_POLICY_MAX_BYTES) {
			size_t ncap = cap * 2 > PC_POLICY_MAX_BYTES + 1 ?
				      PC_POLICY_MAX_BYTES + 1 : cap * 2;
			char *nb = realloc(buf, ncap + 1);

			if (!nb) {
				err = read_fail(path, -ENOMEM, diag,
						"out of memory reading the policy");
				goto fail;
			}
			buf = nb;
			cap = ncap;
		}
		if (len == cap)
			break;
		got = read(fd, buf + len, cap - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err = read_fail(path, -errno, diag, "cannot read policy: %s",
					strerror(errno));
			goto fail;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	if (len > PC_POLICY_MAX_BYTES) {
		err = read_fail(path, -EFBIG, diag,
				"policy file too large: more than the limit of %u MiB",
				PC_POLICY_MAX_BYTES >> 20);
		goto fail;
	}
	close(fd);
	buf[len] = 0;
	*buf_out = buf;
	*len_out = len;
	return 0;
fail:
	close(fd);
	free(buf);
	return err;
}

int pc_policy_load(const char *path, struct pc_policy *out, struct pc_diag *diag)
{
	char *buf;
	size_t len;
	int err = pc_policy_read(path, &buf, &len, diag);

	if (err)
		return err;
	err = pc_policy_parse(path, buf, len, out, diag);
	free(buf);
	return err;
}
