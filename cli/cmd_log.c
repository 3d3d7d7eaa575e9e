// SPDX-License-Identifier: GPL-2.0
/*
 * cmd_log.c - `portcullis log IFACE [--json] [--count N] [--reason R]`:
 * the frames the XDP program drops, as they happen, one line each
 * (tcpdump-like), or JSON Lines (docs/JSON.md). Reads the instance's drop
 * log ring buffer every PC_DROPLOG_REFILL_MS (the program never wakes a
 * reader), then gives every CPU a budget of PC_DROPLOG_BUDGET events for
 * the next period and says a reader runs (bpf/abi.h); says none does when
 * it ends: with no reader the program neither logs nor counts. Whenever
 * the program skipped events since the last read (budget spent, or the
 * ring full), says how many. Ends with exit 1 when the instance is
 * detached under it.
 *
 * The rule of a drop by rule is found the way explain finds it: the
 * program's own look-up in the live policy (pc_lookup) from protocol,
 * destination port and source address; its line and text come from the
 * policy file when it is unchanged since it was applied.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "cli.h"
#include "../loader/droplog.h"
#include "../loader/policy.h"
#include "../loader/rules.h"

/* --reason: the names, in enum pc_drop_reason order where they are one */
static const char *const reason_names[] = {
	[PC_DROP_RULE] = "rule",
	[PC_DROP_ICMP] = "icmp",
	[PC_DROP_OTHER] = "other",
	[PC_DROP_FRAGMENT] = "fragment",
	[PC_DROP_MALFORMED] = "malformed",
	[PC_DROP_LIMITED] = "limited",
	[PC_DROP_BLOCKED] = "blocked",
};
#define N_REASONS (sizeof(reason_names) / sizeof(reason_names[0]))

struct log_state {
	struct pc_instance *inst;
	const char *ifname;
	int filter_reason;	/* -1: every reason */
	int filter_default;	/* --reason default */
	unsigned filter_rule;	/* --reason N: rule N only (0: any) */
	long count;		/* events left to print; <0: no limit */
	uint64_t start_ns;	/* CLOCK_MONOTONIC at start: older events are stale */
	int64_t real_off_ns;	/* CLOCK_REALTIME - CLOCK_MONOTONIC */
	/* the policy the rule lines come from, for settings.version */
	uint64_t policy_version;
	int have_policy;
	struct pc_policy policy;
	int error;		/* -errno of a failed look-up, ends the loop */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *reason_name(unsigned r)
{
	return r < N_REASONS && reason_names[r] ? reason_names[r] : "unknown";
}

static int parse_reason(const char *s, struct log_state *st)
{
	char *end;
	long v;

	for (size_t i = 0; i < N_REASONS; i++)
		if (reason_names[i] && !strcmp(s, reason_names[i])) {
			st->filter_reason = (int)i;
			return 0;
		}
	if (!strcmp(s, "default")) {
		st->filter_reason = PC_DROP_RULE;
		st->filter_default = 1;
		return 0;
	}
	v = strtol(s, &end, 10);
	if (*end || end == s || v < 1 || v > PC_MAX_PREFIX_RULE)
		return -EINVAL;
	st->filter_reason = PC_DROP_RULE;
	st->filter_rule = (unsigned)v;
	return 0;
}

/* The live policy's rules, parsed again from its file when the version
 * changed; none when the file is gone or changed since it was applied. */
static void refresh_policy(struct log_state *st, const struct pc_settings *s)
{
	if (st->have_policy && st->policy_version == s->version)
		return;
	if (st->have_policy)
		pc_policy_free(&st->policy);
	st->policy_version = s->version;
	st->have_policy = !pc_live_policy(s, &st->policy);
}

/* The rule that dropped e (0: the default), by the live policy. */
static int find_rule(struct log_state *st, const struct pc_drop_event *e,
		     unsigned *rule_id)
{
	struct pc_settings s;
	struct pc_port_entry entry;
	struct pc_lpm_value lpm;
	int hit = 0, err;
	unsigned proto = e->l4proto == IPPROTO_TCP ? PC_PROTO_TCP : PC_PROTO_UDP;

	err = pc_read_lock(st->inst);
	if (err)
		return err;
	err = pc_read_settings(st->inst, &s);
	if (!err)
		err = pc_lookup(st->inst, proto, e->dport,
				e->family == 6 ? AF_INET6 : AF_INET, e->saddr,
				&entry, &lpm, &hit);
	pc_read_unlock(st->inst);
	if (err)
		return err == -EBADMSG ? 0 : err;	/* corrupt trie: as unknown */
	s.source[PC_SOURCE_LEN - 1] = '\0';
	refresh_policy(st, &s);
	*rule_id = hit ? lpm.rule_id : entry.rule_id;
	return 0;
}

static const struct pc_rule *rule_of(const struct log_state *st, unsigned id)
{
	if (!st->have_policy || id == 0 || id > st->policy.n_rules)
		return NULL;
	return &st->policy.rules[id - 1];
}

static const char *proto_name(const struct pc_drop_event *e, char *buf, size_t len)
{
	if (!e->family)
		return "non-ip";
	switch (e->l4proto) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_ICMPV6: return "icmpv6";
	}
	snprintf(buf, len, "ip-proto-%u", e->l4proto);
	return buf;
}

static int has_ports(const struct pc_drop_event *e)
{
	return e->family && (e->l4proto == IPPROTO_TCP || e->l4proto == IPPROTO_UDP) &&
	       (e->sport || e->dport);
}

/* "2026-01-02T03:04:05.123456Z" */
static void format_time(uint64_t unix_ns, char *buf, size_t len)
{
	time_t sec = (time_t)(unix_ns / 1000000000ull);
	struct tm tm;
	char t[32];

	gmtime_r(&sec, &tm);
	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06luZ", t, (unsigned long)(unix_ns % 1000000000ull / 1000));
}

static void print_json(const struct log_state *st, const struct pc_drop_event *e,
		       uint64_t unix_ns, const char *proto, const char *src,
		       const char *dst, unsigned rule_id)
{
	const struct pc_rule *r = rule_of(st, rule_id);
	json_t *o = json_object();
	char t[64];

	format_time(unix_ns, t, sizeof(t));
	json_object_set_new(o, "time", json_string(t));
	json_object_set_new(o, "interface", pc_json_str(st->ifname));
	json_object_set_new(o, "protocol", json_string(proto));
	json_object_set_new(o, "source", e->family ? json_string(src) : json_null());
	json_object_set_new(o, "destination", e->family ? json_string(dst) : json_null());
	json_object_set_new(o, "sport", has_ports(e) ? json_integer(e->sport) : json_null());
	json_object_set_new(o, "dport", has_ports(e) ? json_integer(e->dport) : json_null());
	json_object_set_new(o, "length", json_integer(e->len));
	if (e->reason == PC_DROP_RULE) {
		json_object_set_new(o, "reason", json_string(rule_id ? "rule" : "default"));
		json_object_set_new(o, "rule", rule_id ? json_integer(rule_id) : json_null());
		json_object_set_new(o, "line", r ? json_integer(r->line) : json_null());
		json_object_set_new(o, "text", r && r->text ? pc_json_str(r->text) : json_null());
	} else {
		json_object_set_new(o, "reason", json_string(reason_name(e->reason)));
	}
	json_dumpf(o, stdout, JSON_COMPACT);
	fputc('\n', stdout);
	json_decref(o);
}

static void print_text(const struct log_state *st, const struct pc_drop_event *e,
		       uint64_t unix_ns, const char *proto, const char *src,
		       const char *dst, unsigned rule_id)
{
	const struct pc_rule *r = rule_of(st, rule_id);
	time_t sec = (time_t)(unix_ns / 1000000000ull);
	struct tm tm;
	char t[16], why[96];

	localtime_r(&sec, &tm);
	strftime(t, sizeof(t), "%H:%M:%S", &tm);
	if (e->reason != PC_DROP_RULE)
		snprintf(why, sizeof(why), "%s", reason_name(e->reason));
	else if (!rule_id)
		snprintf(why, sizeof(why), "default");
	else if (r)
		snprintf(why, sizeof(why), "rule %u (line %d)", rule_id, r->line);
	else
		snprintf(why, sizeof(why), "rule %u", rule_id);
	printf("%s.%06lu %s ", t, (unsigned long)(unix_ns % 1000000000ull / 1000), proto);
	if (has_ports(e))
		printf("%s.%u > %s.%u", src, e->sport, dst, e->dport);
	else if (e->family)
		printf("%s > %s", src, dst);
	else
		printf("-");
	printf(" length %u: %s\n", e->len, why);
}

static int on_event(void *ctx, const struct pc_drop_event *e)
{
	struct log_state *st = ctx;
	char src[INET6_ADDRSTRLEN] = "", dst[INET6_ADDRSTRLEN] = "", pbuf[24];
	const char *proto = proto_name(e, pbuf, sizeof(pbuf));
	unsigned rule_id = 0;
	int af = e->family == 6 ? AF_INET6 : AF_INET;

	if (e->time_ns < st->start_ns || st->count == 0)
		return 0;	/* logged before we started, or done */
	if (st->filter_reason >= 0 && e->reason != st->filter_reason)
		return 0;
	if (e->reason == PC_DROP_RULE && has_ports(e)) {
		int err = find_rule(st, e, &rule_id);

		if (err) {
			st->error = err;
			return 1;
		}
	}
	if (st->filter_default && rule_id)
		return 0;
	if (st->filter_rule && rule_id != st->filter_rule)
		return 0;
	if (e->family) {
		inet_ntop(af, e->saddr, src, sizeof(src));
		inet_ntop(af, e->daddr, dst, sizeof(dst));
	}
	if (cli.json)
		print_json(st, e, e->time_ns + st->real_off_ns, proto, src, dst, rule_id);
	else
		print_text(st, e, e->time_ns + st->real_off_ns, proto, src, dst, rule_id);
	if (st->count > 0)
		st->count--;
	return 0;
}

static void print_not_logged(uint64_t n)
{
	if (cli.json)
		printf("{\"not_logged\":%llu}\n", (unsigned long long)n);
	else
		printf("-- %llu drops not logged (over %u a second per CPU, or the ring was full)\n",
		       (unsigned long long)n, (unsigned)PC_DROPLOG_RATE);
}

static int usage_error(const char *msg, const char *arg)
{
	cli_error("%s%s; usage: portcullis log IFACE [--json] [--count N] "
		  "[--reason rule|default|N|malformed|fragment|other|icmp|limited|blocked]",
		  msg, arg ? arg : "");
	return PC_EXIT_USAGE;
}

static int parse_args(int argc, char **argv, struct log_state *st)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "count", required_argument, NULL, 'n' },
		{ "reason", required_argument, NULL, 'r' },
		{ 0 }
	};
	char *end;
	long v;
	int c;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--json"))
			cli.json = 1;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			break;
		case 'n':
			v = strtol(optarg, &end, 10);
			if (*end || end == optarg || v < 1 || v > LONG_MAX / 2)
				return usage_error("--count wants a number of events >= 1, not ", optarg);
			st->count = v;
			break;
		case 'r':
			if (parse_reason(optarg, st))
				return usage_error("--reason: unknown reason ", optarg);
			break;
		default:
			return usage_error("unknown option ", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return usage_error("want one interface", NULL);
	st->ifname = argv[optind];
	return 0;
}

/* The inode of the instance's pinned program, or 0 when it is gone:
 * detach removes the pins, and a new attach pins a new file. */
static ino_t prog_pin(const struct pc_instance *inst)
{
	char path[sizeof(inst->pin_dir) + sizeof(PC_PIN_PROG) + 1];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", inst->pin_dir, PC_PIN_PROG);
	return stat(path, &sb) ? 0 : sb.st_ino;
}

int cmd_log(int argc, char **argv)
{
	struct log_state st = { .filter_reason = -1, .count = -1 };
	struct pc_droplog *d = NULL;
	uint64_t base = 0, now = 0;
	struct sigaction sa;
	ino_t pin;
	int ret, err, detached = 0;

	ret = parse_args(argc, argv, &st);
	if (ret)
		return ret;
	ret = cli_need_root();
	if (ret)
		return ret;
	ret = cli_open_instance(st.ifname, &st.inst);
	if (ret)
		return ret;
	pin = prog_pin(st.inst);
	err = pc_droplog_open(st.inst, on_event, &st, &d);
	if (!err)
		err = pc_droplog_not_logged(st.inst, &base);
	if (err) {
		cli_error("cannot read the drop log of %s: %s", st.ifname, strerror(-err));
		pc_droplog_close(d);
		pc_close(st.inst);
		return PC_EXIT_FAIL;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	st.start_ns = clock_ns(CLOCK_MONOTONIC);
	st.real_off_ns = (int64_t)(clock_ns(CLOCK_REALTIME) - st.start_ns);

	/* events left from an earlier reader are older than start_ns: read
	 * and dropped by on_event before the first budget is given */
	err = pc_droplog_read(d);
	while (err >= 0 && !stop && st.count != 0 && !st.error) {
		/* the reader's deadline too, each time: another reader may
		 * have ended, and one killed must not keep the log on */
		err = pc_droplog_set_budget(st.inst, PC_DROPLOG_BUDGET);
		if (!err)
			err = pc_droplog_set_reader(st.inst, 1);
		if (err)
			break;
		usleep(PC_DROPLOG_REFILL_MS * 1000);
		err = pc_droplog_read(d);
		if (err < 0 || st.error)
			break;
		err = pc_droplog_not_logged(st.inst, &now);
		if (err)
			break;
		if (now > base && st.filter_reason < 0)
			print_not_logged(now - base);
		base = now;
		if (!pin || prog_pin(st.inst) != pin) {
			detached = 1;
			break;
		}
	}
	/* no reader, no cost: the program neither logs nor counts */
	pc_droplog_set_reader(st.inst, 0);
	if (!err && st.error)
		err = st.error;
	if (err < 0)
		cli_error("reading the drop log of %s failed: %s", st.ifname, strerror(-err));
	else if (detached)
		cli_error("%s: portcullis was detached; nothing more to log", st.ifname);
	if (st.have_policy)
		pc_policy_free(&st.policy);
	pc_droplog_close(d);
	pc_close(st.inst);
	return err < 0 || detached ? PC_EXIT_FAIL : PC_EXIT_OK;
}
