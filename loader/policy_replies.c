// SPDX-License-Identifier: GPL-2.0
/*
 * policy_replies.c - the `replies` statements of the policy language:
 *
 *   replies allow|deny                 (absent: allow)
 *   replies timeout tcp|udp SECONDS    (1..65535; defaults 300 and 30)
 *   replies table FLOWS                (1024..1048576; default 16384: the
 *                                       table's size; an apply with another
 *                                       swaps in a new table, flows kept)
 *
 * Called by policy.c with the statement's words; returns 0, or -1 with
 * *col (1-based, the offending word) and msg set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../bpf/abi.h"
#include "policy.h"

static int word_is(const struct pc_word *w, const char *s)
{
	return (size_t)w->len == strlen(s) && !memcmp(w->s, s, w->len);
}

static int err_at(int *col, int at, char *msg, size_t len, const char *text,
		  const struct pc_word *w)
{
	*col = at;
	if (w)
		snprintf(msg, len, text, w->len > 40 ? 40 : w->len, w->s);
	else
		snprintf(msg, len, "%s", text);
	return -1;
}

static int twice(int *col, int at, char *msg, size_t len, const char *what,
		 int first)
{
	*col = at;
	snprintf(msg, len, "'%s' is set twice (first on line %d): keep one",
		 what, first);
	return -1;
}

static int timeout_stmt(struct pc_policy *p, int line, const struct pc_word *w,
			size_t n, int end_col, int *col, char *msg, size_t len)
{
	unsigned proto;
	unsigned long v;
	char num[16], *end;

	if (n < 3)
		return err_at(col, end_col, msg, len,
			      "missing protocol: write 'replies timeout tcp SECONDS' or 'replies timeout udp SECONDS'", NULL);
	if (word_is(&w[2], "tcp"))
		proto = PC_PROTO_TCP;
	else if (word_is(&w[2], "udp"))
		proto = PC_PROTO_UDP;
	else
		return err_at(col, w[2].col, msg, len,
			      "unknown protocol '%.*s': replies timeouts are for tcp or udp", &w[2]);
	if (p->reply_timeout_line[proto])
		return twice(col, w[0].col, msg, len, proto ? "replies timeout udp" :
			     "replies timeout tcp", p->reply_timeout_line[proto]);
	if (n < 4)
		return err_at(col, end_col, msg, len,
			      "missing seconds: write e.g. 'replies timeout tcp 300'", NULL);
	snprintf(num, sizeof(num), "%.*s", w[3].len > 15 ? 15 : w[3].len, w[3].s);
	v = strtoul(num, &end, 10);
	if (w[3].len > 15 || *end || num[0] < '0' || num[0] > '9' ||
	    v < 1 || v > PC_REPLY_TIMEOUT_MAX)
		return err_at(col, w[3].col, msg, len,
			      "bad timeout '%.*s': seconds from 1 to 65535", &w[3]);
	if (n > 4)
		return err_at(col, w[4].col, msg, len,
			      "unexpected '%.*s' after the timeout", &w[4]);
	p->reply_timeout_s[proto] = (uint32_t)v;
	p->reply_timeout_line[proto] = line;
	return 0;
}

static int table_stmt(struct pc_policy *p, int line, const struct pc_word *w,
		      size_t n, int end_col, int *col, char *msg, size_t len)
{
	unsigned long v;
	char num[16], *end;

	if (p->reply_table_line)
		return twice(col, w[0].col, msg, len, "replies table",
			     p->reply_table_line);
	if (n < 3)
		return err_at(col, end_col, msg, len,
			      "missing size: write e.g. 'replies table 65536' (flows)", NULL);
	snprintf(num, sizeof(num), "%.*s", w[2].len > 15 ? 15 : w[2].len, w[2].s);
	v = strtoul(num, &end, 10);
	if (w[2].len > 15 || *end || num[0] < '0' || num[0] > '9' ||
	    v < PC_REPLY_FLOWS_MIN || v > PC_REPLY_FLOWS_MAX)
		return err_at(col, w[2].col, msg, len,
			      "bad table size '%.*s': flows from 1024 to 1048576", &w[2]);
	if (n > 3)
		return err_at(col, w[3].col, msg, len,
			      "unexpected '%.*s' after the table size", &w[3]);
	p->reply_table = (uint32_t)v;
	p->reply_table_line = line;
	p->reply_table_col = w[0].col;
	return 0;
}

int pc_stmt_replies(struct pc_policy *p, int line, const struct pc_word *w,
		    size_t n, int end_col, int *col, char *msg, size_t len)
{
	if (n < 2)
		return err_at(col, end_col, msg, len,
			      "missing verdict: write 'replies allow', 'replies deny', 'replies timeout tcp|udp SECONDS' or 'replies table FLOWS'", NULL);
	if (word_is(&w[1], "timeout"))
		return timeout_stmt(p, line, w, n, end_col, col, msg, len);
	if (word_is(&w[1], "table"))
		return table_stmt(p, line, w, n, end_col, col, msg, len);
	if (!word_is(&w[1], "allow") && !word_is(&w[1], "deny"))
		return err_at(col, w[1].col, msg, len,
			      "unknown word '%.*s' after replies: expected allow, deny, timeout or table", &w[1]);
	if (p->replies_line)
		return twice(col, w[0].col, msg, len, "replies", p->replies_line);
	if (n > 2)
		return err_at(col, w[2].col, msg, len,
			      "unexpected '%.*s' after replies", &w[2]);
	p->replies_verdict = word_is(&w[1], "allow") ? PC_ALLOW : PC_DENY;
	p->replies_line = line;
	return 0;
}
