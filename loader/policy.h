/* SPDX-License-Identifier: GPL-2.0 */
/*
 * policy.h - the policy language (SPEC section 3): parse a policy file into
 * rules. Pure user space, no kernel access.
 *
 * Errors are reported as "FILE:LINE:COL: message" (1-based line and column
 * of the offending token) in struct pc_diag; the caller prints them.
 */
#ifndef PORTCULLIS_POLICY_H
#define PORTCULLIS_POLICY_H

#include <stddef.h>
#include <stdint.h>

#define PC_PROTO_BIT_TCP 1u
#define PC_PROTO_BIT_UDP 2u

struct pc_prefix {
	uint8_t family;		/* AF_INET or AF_INET6 */
	uint8_t len;		/* prefix length, host bits are zero */
	uint8_t addr[16];	/* network order; IPv4 in addr[0..3] */
};

struct pc_port_range {
	uint16_t lo, hi;	/* inclusive, 1 <= lo <= hi */
};

struct pc_rule {
	int line, col;		/* where the statement starts */
	uint8_t verdict;	/* enum pc_verdict */
	uint8_t protos;		/* PC_PROTO_BIT_* */
	int any_source;		/* 1: no "from", or "from any" among sources */
	struct pc_port_range *ranges;
	size_t n_ranges;
	struct pc_prefix *sources;	/* empty when any_source */
	size_t n_sources;
	char *text;		/* the statement as written, comment stripped */
};

struct pc_set {
	char *name;
	int line;
	struct pc_prefix *prefixes;
	size_t n_prefixes;
	int has_any;
};

/* limit PROTOS PORTS [syn] rate N/s burst M [per source] (policy_limits.c) */
struct pc_limit_stmt {
	int line, col;
	uint8_t protos;			/* PC_PROTO_BIT_* */
	struct pc_port_range *ranges;
	size_t n_ranges;
	int syn, per_source;
	uint64_t rate;			/* packets per second, >= 1 */
	uint64_t burst;			/* packets, >= 1 */
	char *text;
};

/* The limit, block and never statements of a policy (policy_limits.c). */
struct pc_guard_policy {
	struct pc_limit_stmt *limits;
	size_t n_limits, cap_limits;
	int scan_line;			/* 0: no 'block scanners' */
	uint32_t scan_ports;
	uint32_t scan_window_s, block_s;
	int never_line;			/* 0: no 'never block' */
	struct pc_prefix *never;
	size_t n_never;
	int never_any;
};

struct pc_policy {
	char *file;		/* name used in messages */
	uint8_t default_verdict, icmp_verdict, other_verdict, fragment_verdict;
	uint8_t mode;		/* enum pc_mode */
	struct pc_rule *rules;	/* in file order; rule_id = index + 1 */
	size_t n_rules;
	struct pc_set *sets;
	size_t n_sets;
	uint64_t hash;		/* FNV-1a 64 of the file's bytes */
	/* where "default" and "other" were set (0: absent), for warnings */
	int default_line, other_line;
	/* replies (policy_replies.c): verdict, idle seconds by enum pc_proto
	 * (0: the default), where each was set (0: absent) */
	uint8_t replies_verdict;
	uint32_t reply_timeout_s[2];
	int replies_line, reply_timeout_line[2];
	uint32_t reply_table;	/* `replies table N`: flows, 0 = the default */
	int reply_table_line, reply_table_col;
	struct pc_guard_policy guard;	/* limits, scan blocking */
	/* counters ports|classes: enum pc_counters, where set (0: absent) */
	uint8_t counters;
	int counters_line;
};

/* One word of a statement, as policy.c hands it to the parsers of
 * statements in files of their own. col: 1-based. */
struct pc_word {
	const char *s;
	int len, col;
};

/* "replies allow|deny", "replies timeout tcp|udp SECONDS", "replies
 * table FLOWS" (w[0] is
 * "replies"; n words, at most 5 looked at). 0, or -1 with *col (end_col
 * for something missing) and msg saying what is wrong. */
int pc_stmt_replies(struct pc_policy *p, int line, const struct pc_word *w,
		    size_t n, int end_col, int *col, char *msg, size_t msglen);

#define PC_DIAG_FILE_MAX 4096
struct pc_diag {
	int line, col;
	char msg[256];
	/* formatted "FILE:LINE:COL: msg", FILE escaped (pc_escape) and whole
	 * up to PC_DIAG_FILE_MAX bytes */
	char text[PC_DIAG_FILE_MAX + 512];
};

/* Parse text (len bytes, need not be NUL-terminated) named file.
 * Returns 0 and fills *out, or -EINVAL and fills *diag (out untouched). */
int pc_policy_parse(const char *file, const char *text, size_t len,
		    struct pc_policy *out, struct pc_diag *diag);

/* The largest policy file read (docs/DESIGN.md): a policy of a million
 * prefixes takes about 20 MiB of text. */
#define PC_POLICY_MAX_BYTES (64u << 20)

/* Read a policy file whole into *buf (malloc'd, *len bytes, NUL added).
 * Only a regular file of at most PC_POLICY_MAX_BYTES: a directory gives
 * -EISDIR, a FIFO, device or socket -EINVAL, a larger file -EFBIG, at
 * once (opened O_NONBLOCK, so a FIFO never blocks). Other failures
 * -errno. diag->text (may be NULL) says what and what to do. */
int pc_policy_read(const char *path, char **buf, size_t *len, struct pc_diag *diag);

/* Read (pc_policy_read) and parse a file. -errno (with diag->text saying
 * what) when the file cannot be read, -EINVAL on a syntax or semantic
 * error. */
int pc_policy_load(const char *path, struct pc_policy *out, struct pc_diag *diag);

/* Escape s[0..len) for display: valid UTF-8 is kept, every other byte is
 * written as the four characters \xNN, and with PC_ESC_CONTROLS control
 * characters (0x00-0x1f, 0x7f) too, so that nothing read from outside can
 * drive a terminal. Writes at most outlen - 1 bytes and a NUL to out (out
 * may be NULL when outlen is 0), never cutting a character or an escape;
 * returns the length the whole escaped text needs, as snprintf does. */
#define PC_ESC_CONTROLS 1u
size_t pc_escape(const char *s, size_t len, unsigned flags, char *out, size_t outlen);

void pc_policy_free(struct pc_policy *p);

/* policy_limits.c: a 'limit', 'block' or 'never' statement (the line's
 * text, comment stripped) into p->guard. 0, -ENOMEM, or -EINVAL with
 * diag set to FILE:LINE:COL. */
int pc_parse_guard_stmt(struct pc_policy *p, const char *file, int line,
			const char *stmt, int len, struct pc_diag *diag);
int pc_is_guard_keyword(const char *word, int len);
void pc_guard_policy_free(struct pc_guard_policy *g);
/* Does the policy have any limit, block or never statement? */
int pc_guard_used(const struct pc_policy *p);

/* FNV-1a 64 of a buffer. */
uint64_t pc_fnv1a64(const void *buf, size_t len);

/* "allow"/"deny", "tcp"/"udp", range class names. */
const char *pc_verdict_name(unsigned verdict);
const char *pc_proto_name(unsigned proto);	/* enum pc_proto */
const char *pc_range_class_name(unsigned cls);	/* enum pc_range_class */
unsigned pc_range_class_of(unsigned port);

#endif
