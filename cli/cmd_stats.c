// SPDX-License-Identifier: GPL-2.0
/*
 * cmd_stats.c - `portcullis stats IFACE [--json] [--top N] [--proto tcp|udp]
 *               [--port SPEC] [--classes] [--watch SECONDS [--count N]]`
 *             `portcullis stats IFACE --rules [--json]` (stats_rules.c)
 *
 * Per (protocol, port) with traffic: service name, range class, packets and
 * bytes passed, dropped and audited, sorted by packets. --classes shows the
 * range class and bucket totals instead. --watch redraws every SECONDS with
 * rates computed from two reads (--count N stops after N redraws).
 *
 * JSON schema (also in docs/JSON.md). A "counter" is
 *   { "passed":  { "packets": N, "bytes": N },
 *     "dropped": { "packets": N, "bytes": N },
 *     "audited": { "packets": N, "bytes": N },
 *     "total":   { "packets": N, "bytes": N } }
 * and the output is one object:
 *   { "interface": "eth0", "policy_version": 3, "policy_mode": "enforce",
 *     "classes": { "tcp": { "well-known": counter, "registered": counter,
 *                           "dynamic": counter }, "udp": { ... } },
 *     "buckets": { "non_ip": counter, "icmp": counter, "other": counter,
 *                  "fragment": counter, "malformed": counter,
 *                  "replies": counter (the total of "replies" below),
 *                  "limited": counter, "blocked": counter },
 *     "replies": { "tcp": counter, "udp": counter, "icmp": counter },
 *     "ports": [ { "protocol": "tcp", "port": 22, "service": "ssh" | null,
 *                  "class": "well-known", + the counter's keys }, ... ] }
 * "ports" (sorted by total packets, only ports with traffic, after --top,
 * --proto, --port) is absent with --classes; --proto also limits "classes".
 * With --watch one such object is printed per line per interval, every
 * number is a per-second rate (a JSON real) over "interval_seconds".
 *
 * Errors in JSON mode: { "error": "..." } on stdout (cli_error).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "cli.h"
#include "counters.h"
#include "../loader/policy.h"

int stats_rules(struct pc_instance *inst, const char *ifname);	/* stats_rules.c */

struct stats_opts {
	const char *ifname;
	unsigned top;		/* 0: all rows */
	unsigned proto_mask;	/* 1 << enum pc_proto */
	uint8_t *port_filter;	/* NULL: all ports */
	int classes;
	int rules;		/* --rules: per-rule counters instead */
	double watch;		/* 0: one read */
	long count;		/* redraws with --watch, 0: until interrupted */
};

/* What is shown: either totals (rate == 0) or per-second rates over
 * `seconds`. */
struct view {
	const struct pc_snapshot *snap;
	double seconds;
	int rate;
	struct pc_settings settings;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: portcullis stats IFACE [--json] [--top N] [--proto tcp|udp]\n"
		"                        [--port SPEC] [--classes] [--watch SECONDS [--count N]]\n"
		"       portcullis stats IFACE --rules [--json]\n");
}

static json_t *json_num(const struct view *v, __u64 val)
{
	return v->rate ? json_real(val / v->seconds) : json_integer((json_int_t)val);
}

/* {"passed": {"packets", "bytes"}, "dropped": .., "audited": ..,
 *  "total": ..}: one object per outcome so that jq paths read like the
 * table's columns (.passed.packets). */
static json_t *json_counter(const struct view *v, const struct pc_counter *c)
{
	static const char *const key[PC_OUT_MAX] = { "passed", "dropped", "audited" };
	json_t *o = json_object();

	for (int k = 0; k < PC_OUT_MAX; k++)
		json_object_set_new(o, key[k], json_pack("{s:o,s:o}",
			"packets", json_num(v, c->packets[k]),
			"bytes", json_num(v, c->bytes[k])));
	json_object_set_new(o, "total", json_pack("{s:o,s:o}",
		"packets", json_num(v, pc_counter_packets(c)),
		"bytes", json_num(v, pc_counter_bytes(c))));
	return o;
}

static json_t *json_header(const struct stats_opts *o, const struct view *v)
{
	json_t *root = json_object(), *cls = json_object(), *bkt = json_object();

	json_object_set_new(root, "interface", pc_json_str(o->ifname));
	json_object_set_new(root, "policy_version",
			    json_integer((json_int_t)v->settings.version));
	json_object_set_new(root, "policy_mode",
			    json_string(v->settings.mode == PC_MODE_AUDIT ?
					"audit" : "enforce"));
	if (v->rate)
		json_object_set_new(root, "interval_seconds", json_real(v->seconds));
	/* classes and buckets are a handful of objects: always there */
	for (unsigned p = 0; p < PC_NUM_PROTOS; p++) {
		json_t *per = json_object();

		if (!(o->proto_mask & (1u << p))) {
			json_decref(per);
			continue;
		}
		for (unsigned c = 0; c < PC_CLASS_MAX; c++)
			json_object_set_new(per, pc_range_class_name(c),
					    json_counter(v, &v->snap->classes[p][c]));
		json_object_set_new(cls, pc_proto_name(p), per);
	}
	for (unsigned b = 0; b < PC_BUCKET_MAX; b++) {
		struct pc_counter shown;

		if (!pc_bucket_label(b))
			continue;
		pc_bucket_shown(v->snap->buckets, b, &shown);
		json_object_set_new(bkt, pc_bucket_label(b), json_counter(v, &shown));
	}
	json_object_set_new(root, "classes", cls);
	json_object_set_new(root, "buckets", bkt);
	{	/* the "replies" bucket by protocol */
		json_t *rep = json_object();
		const char *name;
		unsigned rb;

		for (unsigned i = 0; (name = pc_reply_bucket(i, &rb)); i++)
			json_object_set_new(rep, name,
					    json_counter(v, &v->snap->buckets[rb]));
		json_object_set_new(root, "replies", rep);
	}
	return root;
}

/* One port row, reused for every port: only the values change, so 131072
 * rows cost no allocation (a tree of them all would take ~400 MB). */
struct row_tpl {
	json_t *row, *proto, *port, *svc, *cls;
	json_t *num[PC_OUT_MAX + 1][2];		/* [outcome or total][pkts, bytes] */
};

static json_t *num_new(const struct view *v)
{
	return v->rate ? json_real(0) : json_integer(0);
}

static void num_set(const struct view *v, json_t *j, __u64 val)
{
	if (v->rate)
		json_real_set(j, val / v->seconds);
	else
		json_integer_set(j, (json_int_t)val);
}

static int row_tpl_init(struct row_tpl *t, const struct view *v)
{
	static const char *const key[PC_OUT_MAX + 1] = {
		"passed", "dropped", "audited", "total"
	};

	t->row = json_object();
	t->proto = json_string("tcp");
	t->port = json_integer(0);
	t->svc = json_string("");
	t->cls = json_string("");
	if (!t->row || !t->proto || !t->port || !t->svc || !t->cls)
		return -ENOMEM;
	json_object_set(t->row, "protocol", t->proto);
	json_object_set(t->row, "port", t->port);
	json_object_set(t->row, "service", t->svc);
	json_object_set(t->row, "class", t->cls);
	for (int k = 0; k <= PC_OUT_MAX; k++) {
		json_t *o = json_object();

		t->num[k][0] = num_new(v);
		t->num[k][1] = num_new(v);
		if (!o || !t->num[k][0] || !t->num[k][1])
			return -ENOMEM;
		json_object_set(o, "packets", t->num[k][0]);
		json_object_set(o, "bytes", t->num[k][1]);
		json_object_set_new(t->row, key[k], o);
	}
	return 0;
}

static void row_tpl_free(struct row_tpl *t)
{
	json_decref(t->row);
	json_decref(t->proto);
	json_decref(t->port);
	json_decref(t->svc);
	json_decref(t->cls);
	for (int k = 0; k <= PC_OUT_MAX; k++) {
		json_decref(t->num[k][0]);
		json_decref(t->num[k][1]);
	}
}

static void row_tpl_fill(struct row_tpl *t, const struct view *v,
			 const struct pc_port_row *r)
{
	const char *svc = pc_service_name(r->proto, r->port);

	json_string_set(t->proto, pc_proto_name(r->proto));
	json_integer_set(t->port, r->port);
	if (svc) {
		json_string_set(t->svc, svc);
		json_object_set(t->row, "service", t->svc);
	} else {
		json_object_set_new(t->row, "service", json_null());
	}
	json_string_set(t->cls, pc_range_class_name(pc_range_class_of(r->port)));
	for (int k = 0; k < PC_OUT_MAX; k++) {
		num_set(v, t->num[k][0], r->c.packets[k]);
		num_set(v, t->num[k][1], r->c.bytes[k]);
	}
	num_set(v, t->num[PC_OUT_MAX][0], pc_counter_packets(&r->c));
	num_set(v, t->num[PC_OUT_MAX][1], pc_counter_bytes(&r->c));
}

/* The document is the header object with "ports" appended: the header is
 * dumped by jansson, its closing brace replaced by the streamed array of
 * rows, each row dumped by jansson too. */
static int show_json(const struct stats_opts *o, const struct view *v,
		     const struct pc_port_row *rows, size_t n)
{
	json_t *root = json_header(o, v);
	struct row_tpl t = { 0 };
	char *head, buf[2048];
	size_t len;
	int err = 0;

	head = root ? json_dumps(root, JSON_COMPACT) : NULL;
	json_decref(root);
	if (!head)
		return -ENOMEM;
	len = strlen(head);
	if (o->classes || len < 2) {
		fputs(head, stdout);
		goto end;
	}
	head[len - 1] = '\0';		/* the closing brace */
	fputs(head, stdout);
	fputs(",\"ports\":[", stdout);
	err = row_tpl_init(&t, v);
	for (size_t i = 0; i < n && !err; i++) {
		row_tpl_fill(&t, v, &rows[i]);
		len = json_dumpb(t.row, buf, sizeof(buf), JSON_COMPACT);
		if (len == 0 || len > sizeof(buf)) {
			err = -ENOMEM;
			break;
		}
		if (i)
			fputc(',', stdout);
		fwrite(buf, 1, len, stdout);
	}
	fputs("]}", stdout);
	row_tpl_free(&t);
end:
	free(head);
	if (fputc('\n', stdout) == EOF || fflush(stdout))
		err = err ? err : -EIO;
	return err;
}

/* One number column: an integer count, or a rate with one decimal. */
static void print_num(const struct view *v, __u64 val, int width)
{
	if (v->rate)
		printf(" %*.1f", width, val / v->seconds);
	else
		printf(" %*llu", width, (unsigned long long)val);
}

static void print_counter(const struct view *v, const struct pc_counter *c,
			  int audit)
{
	for (int k = 0; k < PC_OUT_MAX; k++) {
		if (k == PC_OUT_AUDIT && !audit)
			continue;
		print_num(v, c->packets[k], 12);
		print_num(v, c->bytes[k], 14);
	}
	printf("\n");
}

static void print_counter_header(const char *first, const struct view *v,
				 int audit)
{
	const char *pk = v->rate ? "PKT/S" : "PKTS";
	const char *by = v->rate ? "BYTES/S" : "BYTES";
	char a[32], b[32];

	printf("%s", first);
	for (int k = 0; k < PC_OUT_MAX; k++) {
		static const char *const word[] = { "PASS", "DROP", "AUDIT" };

		if (k == PC_OUT_AUDIT && !audit)
			continue;
		snprintf(a, sizeof(a), "%s_%s", word[k], pk);
		snprintf(b, sizeof(b), "%s_%s", word[k], by);
		printf(" %12s %14s", a, b);
	}
	printf("\n");
}

static void show_text(const struct stats_opts *o, const struct view *v,
		      const struct pc_port_row *rows, size_t n, size_t n_all)
{
	int audit = v->settings.mode == PC_MODE_AUDIT;

	printf("%s: policy version %llu, mode %s", o->ifname,
	       (unsigned long long)v->settings.version, audit ? "audit" : "enforce");
	if (v->rate)
		printf(", rates over %.1f s", v->seconds);
	printf("\n");
	if (o->classes) {
		for (unsigned p = 0; p < PC_NUM_PROTOS; p++)
			for (unsigned c = 0; c < PC_CLASS_MAX; c++)
				audit |= v->snap->classes[p][c].packets[PC_OUT_AUDIT] != 0;
		print_counter_header("PROTO CLASS/BUCKET ", v, audit);
		for (unsigned p = 0; p < PC_NUM_PROTOS; p++) {
			if (!(o->proto_mask & (1u << p)))
				continue;
			for (unsigned c = 0; c < PC_CLASS_MAX; c++) {
				printf("%-5s %-12s", pc_proto_name(p),
				       pc_range_class_name(c));
				print_counter(v, &v->snap->classes[p][c], audit);
			}
		}
		for (unsigned b = 0; b < PC_BUCKET_MAX; b++) {
			struct pc_counter shown;
			const char *name;
			unsigned rb;

			if (!pc_bucket_label(b))
				continue;
			pc_bucket_shown(v->snap->buckets, b, &shown);
			printf("%-5s %-12s", "-", pc_bucket_label(b));
			print_counter(v, &shown, audit);
			for (unsigned i = 0; b == PC_BUCKET_REPLIES_TCP &&
			     (name = pc_reply_bucket(i, &rb)); i++) {
				printf("%-5s replies/%-4s", "-", name);
				print_counter(v, &v->snap->buckets[rb], audit);
			}
		}
		return;
	}
	for (size_t i = 0; i < n; i++)
		audit |= rows[i].c.packets[PC_OUT_AUDIT] != 0;
	print_counter_header("PROTO  PORT SERVICE         CLASS      ", v, audit);
	for (size_t i = 0; i < n; i++) {
		const char *svc = pc_service_name(rows[i].proto, rows[i].port);

		printf("%-5s %5u %-15.15s %-11s", pc_proto_name(rows[i].proto),
		       rows[i].port, svc ? svc : "-",
		       pc_range_class_name(pc_range_class_of(rows[i].port)));
		print_counter(v, &rows[i].c, audit);
	}
	if (n == 0)
		printf("(no traffic%s)\n", o->port_filter || o->proto_mask != 3 ?
		       " matching the filter" : "");
	else if (n < n_all)
		printf("(%zu more ports with traffic not shown)\n", n_all - n);
}

static int show(const struct stats_opts *o, const struct view *v)
{
	struct pc_port_row *rows = NULL;
	size_t n = 0, n_all = 0;
	int err = 0;

	if (!o->classes) {
		err = pc_snapshot_rows(v->snap, o->proto_mask, o->port_filter,
				       o->top, &rows, &n, &n_all);
		if (err)
			return err;
	}
	if (cli.json)
		err = show_json(o, v, rows, n);
	else
		show_text(o, v, rows, n, n_all);
	free(rows);
	return err;
}

/* d = b - a for every counter. */
static void snapshot_delta(const struct pc_snapshot *a, const struct pc_snapshot *b,
			   struct pc_snapshot *d)
{
	for (size_t i = 0; i < PC_PORT_STATS_ENTRIES; i++)
		pc_counter_delta(&a->ports[i], &b->ports[i], &d->ports[i]);
	for (int p = 0; p < PC_NUM_PROTOS; p++)
		for (int c = 0; c < PC_CLASS_MAX; c++)
			pc_counter_delta(&a->classes[p][c], &b->classes[p][c],
					 &d->classes[p][c]);
	for (int k = 0; k < PC_BUCKET_MAX; k++)
		pc_counter_delta(&a->buckets[k], &b->buckets[k], &d->buckets[k]);
	d->taken = b->taken;
}

static void sleep_seconds(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s,
			       .tv_nsec = (long)((s - (time_t)s) * 1e9) };

	/* a signal ends the sleep early; the loop then sees `stop` */
	nanosleep(&ts, NULL);
}

/* The version line: the live settings read under the instance lock held
 * shared, so never while a publish rewrites them. */
static int read_settings(struct pc_instance *inst, struct pc_settings *out)
{
	int err = pc_read_lock(inst);

	if (err)
		return err;
	err = pc_read_settings(inst, out);
	pc_read_unlock(inst);
	return err;
}

static int watch(struct pc_instance *inst, const struct stats_opts *o)
{
	struct pc_snapshot s[2] = { 0 }, d = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	int cur = 0, err;
	long shown = 0;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	d.ports = calloc(PC_PORT_STATS_ENTRIES, sizeof(*d.ports));
	if (!d.ports)
		return -ENOMEM;
	err = pc_snapshot_read(inst, &s[cur]);
	while (!err && !stop && (!o->count || shown < o->count)) {
		struct view v = { .snap = &d, .rate = 1 };

		sleep_seconds(o->watch);
		if (stop)
			break;
		err = pc_snapshot_read(inst, &s[!cur]);
		if (!err)
			err = read_settings(inst, &v.settings);
		if (err)
			break;
		snapshot_delta(&s[cur], &s[!cur], &d);
		v.seconds = pc_snapshot_elapsed(&s[cur], &s[!cur]);
		if (v.seconds <= 0)
			v.seconds = o->watch;
		cur = !cur;
		if (!cli.json && isatty(STDOUT_FILENO))
			printf("\033[H\033[2J");	/* redraw in place */
		err = show(o, &v);
		fflush(stdout);
		shown++;
	}
	pc_snapshot_free(&s[0]);
	pc_snapshot_free(&s[1]);
	pc_snapshot_free(&d);
	return err;
}

static int parse_opts(int argc, char **argv, struct stats_opts *o)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "top", required_argument, NULL, 'n' },
		{ "proto", required_argument, NULL, 'p' },
		{ "port", required_argument, NULL, 'P' },
		{ "classes", no_argument, NULL, 'c' },
		{ "rules", no_argument, NULL, 'R' },
		{ "watch", required_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	char *end;
	int c;

	o->proto_mask = (1u << PC_PROTO_TCP) | (1u << PC_PROTO_UDP);
	/* --json anywhere on the line makes errors JSON, even early ones */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--json"))
			cli.json = 1;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "jn:p:P:cRw:C:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			cli.json = 1;
			break;
		case 'n': {
			long v = strtol(optarg, &end, 10);

			if (*end || end == optarg || v < 0 || v > INT_MAX) {
				cli_error("--top wants a count, not '%s'", optarg);
				return PC_EXIT_USAGE;
			}
			o->top = (unsigned)v;
			break;
		}
		case 'p':
			if (!strcmp(optarg, "tcp"))
				o->proto_mask = 1u << PC_PROTO_TCP;
			else if (!strcmp(optarg, "udp"))
				o->proto_mask = 1u << PC_PROTO_UDP;
			else {
				cli_error("--proto wants tcp or udp, not '%s'", optarg);
				return PC_EXIT_USAGE;
			}
			break;
		case 'P':
			free(o->port_filter);
			o->port_filter = malloc(PC_NUM_PORTS);
			if (!o->port_filter) {
				cli_error("out of memory");
				return PC_EXIT_FAIL;
			}
			if (pc_port_spec_parse(optarg, o->port_filter)) {
				cli_error("bad --port '%s': want a port, a range a-b, or a comma list of both (1-65535)",
					  optarg);
				return PC_EXIT_USAGE;
			}
			break;
		case 'c':
			o->classes = 1;
			break;
		case 'R':
			o->rules = 1;
			break;
		case 'w':
			o->watch = strtod(optarg, &end);
			if (*end || end == optarg || !(o->watch >= 0.1 && o->watch <= 86400)) {
				cli_error("--watch wants seconds between 0.1 and 86400, not '%s'",
					  optarg);
				return PC_EXIT_USAGE;
			}
			break;
		case 'C':
			o->count = strtol(optarg, &end, 10);
			if (*end || end == optarg || o->count < 1) {
				cli_error("--count wants a positive number, not '%s'", optarg);
				return PC_EXIT_USAGE;
			}
			break;
		case 'h':
			usage();
			return PC_EXIT_USAGE;
		default:
			cli_error("stats: unknown option or missing value: %s",
				  argv[optind - 1]);
			if (!cli.json)
				usage();
			return PC_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		cli_error("stats wants exactly one interface: portcullis stats IFACE [options]");
		if (!cli.json)
			usage();
		return PC_EXIT_USAGE;
	}
	if (o->classes && o->port_filter) {
		cli_error("--port selects port rows: it does not combine with --classes");
		return PC_EXIT_USAGE;
	}
	if (o->rules && (o->classes || o->port_filter || o->watch || o->top)) {
		cli_error("--rules shows every rule once: it does not combine with --classes, --port, --top or --watch");
		return PC_EXIT_USAGE;
	}
	if (o->count && !o->watch) {
		cli_error("--count only makes sense with --watch");
		return PC_EXIT_USAGE;
	}
	o->ifname = argv[optind];
	return 0;
}

int cmd_stats(int argc, char **argv)
{
	struct stats_opts o = { 0 };
	struct pc_instance *inst = NULL;
	struct pc_snapshot snap = { 0 };
	int ret, err;

	ret = parse_opts(argc, argv, &o);
	if (ret)
		goto out;
	ret = cli_need_root();
	if (ret)
		goto out;
	ret = cli_open_instance(o.ifname, &inst);
	if (ret)
		goto out;
	if (o.rules) {
		err = stats_rules(inst, o.ifname);
	} else if (o.watch) {
		err = watch(inst, &o);
	} else {
		struct view v = { .snap = &snap };

		/* one read: only the non-zero counters are needed */
		err = pc_snapshot_read_sparse(inst, &snap);
		if (!err)
			err = read_settings(inst, &v.settings);
		if (!err)
			err = show(&o, &v);
	}
	if (err) {
		cli_error("cannot read the counters of %s: %s", o.ifname, strerror(-err));
		ret = PC_EXIT_FAIL;
	}
out:
	pc_snapshot_free(&snap);
	if (inst)
		pc_close(inst);
	free(o.port_filter);
	return ret;
}
