// SPDX-License-Identifier: GPL-2.0
/*
 * metrics.c - one Prometheus scrape of every instance (contract in
 * metrics.h). Each scrape lists the pin directories afresh and opens each
 * instance by its pins, so an interface detached and re-attached between
 * two scrapes is simply read again; one whose pins cannot be opened or read
 * is reported as a comment line and left out, the others are still served.
 *
 * The text format wants every sample of a family together, so all
 * instances are read first into small per-instance summaries, then the
 * families are written one after the other.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "counters.h"
#include "metrics.h"
#include "../loader/policy.h"

#define PORT_OTHER PC_NUM_PORTS		/* series key of port="other" */

struct series {
	unsigned proto;
	unsigned port;		/* or PORT_OTHER */
	struct pc_counter c;
};

struct inst_data {
	char ifname[64];
	int ok;			/* read completely */
	char why[200];		/* when not */
	struct pc_settings settings;
	struct pc_attach_info ai;
	struct series *series;
	size_t n_series;
	struct pc_counter classes[PC_NUM_PROTOS][PC_CLASS_MAX];
	struct pc_counter buckets[PC_BUCKET_MAX];
};

struct found {
	struct inst_data *v;
	char (*dirs)[600];
	size_t n, cap;
};

/* reused between scrapes: 6 MB of counters */
static struct pc_snapshot snap;

static int collect(void *ctx, const char *pin_dir, const char *ifname)
{
	struct found *f = ctx;

	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 8;
		struct inst_data *v = realloc(f->v, cap * sizeof(*v));
		char (*d)[600];

		if (!v)
			return -ENOMEM;
		f->v = v;
		d = realloc(f->dirs, cap * sizeof(*d));
		if (!d)
			return -ENOMEM;
		f->dirs = d;
		f->cap = cap;
	}
	memset(&f->v[f->n], 0, sizeof(f->v[f->n]));
	snprintf(f->v[f->n].ifname, sizeof(f->v[f->n].ifname), "%s", ifname);
	snprintf(f->dirs[f->n], sizeof(f->dirs[f->n]), "%s", pin_dir);
	f->n++;
	return 0;
}

static int series_cmp(const void *pa, const void *pb)
{
	const struct series *a = pa, *b = pb;

	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	return a->port < b->port ? -1 : a->port > b->port;
}

/* Bounded port series: named ports, the `top` busiest others (a heap of
 * `top` rows: no sort of up to 131072 candidates), and the rest summed per
 * protocol into port="other". */
static int select_series(struct inst_data *d, const uint8_t *nm, size_t n_named,
			 unsigned top)
{
	struct pc_counter other[PC_NUM_PROTOS] = { 0 };
	struct pc_top busiest = { 0 };
	struct pc_port_row r;
	int idle_named = n_named <= PC_METRICS_NAMED_IDLE_MAX;
	size_t n = 0, n_out = 0;

	for (size_t i = 0; i < PC_PORT_STATS_ENTRIES; i++)
		n_out += nm[i] && (idle_named || pc_counter_packets(&snap.ports[i]));
	d->series = calloc(n_out + top + PC_NUM_PROTOS, sizeof(*d->series));
	if (!d->series || pc_top_init(&busiest, top))
		return -ENOMEM;
	for (size_t i = 0; i < PC_PORT_STATS_ENTRIES; i++) {
		const struct pc_counter *c = &snap.ports[i];
		int busy = pc_counter_packets(c) != 0;

		if (!nm[i] && !busy)
			continue;
		r.proto = (unsigned)(i / PC_NUM_PORTS);
		r.port = (unsigned)(i % PC_NUM_PORTS);
		r.c = *c;
		if (nm[i]) {
			if (idle_named || busy) {
				d->series[n].proto = r.proto;
				d->series[n].port = r.port;
				d->series[n].c = *c;
				n++;
			}
			continue;
		}
		pc_counter_add(&other[r.proto], c);
		pc_top_offer(&busiest, &r);
	}
	/* the busiest leave "other": subtracting is exact, they were added */
	for (size_t i = 0; i < busiest.n; i++) {
		const struct pc_port_row *b = &busiest.rows[i];

		for (int o = 0; o < PC_OUT_MAX; o++) {
			other[b->proto].packets[o] -= b->c.packets[o];
			other[b->proto].bytes[o] -= b->c.bytes[o];
		}
		d->series[n].proto = b->proto;
		d->series[n].port = b->port;
		d->series[n].c = b->c;
		n++;
	}
	/* "other" always exists, zero or not, so queries on it never vanish */
	for (unsigned p = 0; p < PC_NUM_PROTOS; p++) {
		d->series[n].proto = p;
		d->series[n].port = PORT_OTHER;
		d->series[n].c = other[p];
		n++;
	}
	pc_top_free(&busiest);
	qsort(d->series, n, sizeof(*d->series), series_cmp);
	d->n_series = n;
	return 0;
}

/* The named-port set only changes when a policy is published: cached per
 * pin directory, valid while the program id and policy version hold (a
 * re-attach makes a new program, an apply a new version). */
struct named_cache {
	char pin_dir[600];
	uint32_t prog_id;
	uint64_t version, hash;
	uint8_t *named;
	size_t count;
	int seen;
};
static struct named_cache *ncache;
static size_t n_ncache;

static int named_ports(struct pc_instance *inst, const char *pin_dir,
		       const struct inst_data *d, const uint8_t **nm, size_t *count)
{
	struct named_cache *e = NULL, *grown;
	struct pc_settings after;
	int err;

	for (size_t i = 0; i < n_ncache; i++)
		if (!strcmp(ncache[i].pin_dir, pin_dir))
			e = &ncache[i];
	if (e && e->prog_id == d->ai.prog_id && e->version == d->settings.version &&
	    e->hash == d->settings.policy_hash) {
		e->seen = 1;
		*nm = e->named;
		*count = e->count;
		return 0;
	}
	if (!e) {
		grown = realloc(ncache, (n_ncache + 1) * sizeof(*ncache));
		if (!grown)
			return -ENOMEM;
		ncache = grown;
		e = &ncache[n_ncache++];
		memset(e, 0, sizeof(*e));
		snprintf(e->pin_dir, sizeof(e->pin_dir), "%s", pin_dir);
		e->named = malloc(PC_PORT_STATS_ENTRIES);
		if (!e->named) {
			n_ncache--;
			return -ENOMEM;
		}
	}
	e->seen = 1;
	e->version = 0;		/* invalid until filled */
	err = pc_named_ports(inst, e->named, &e->count);
	if (err)
		return err;
	/* a publish during the read: use it now, cache it next time */
	err = pc_read_settings(inst, &after);
	if (!err && after.version == d->settings.version) {
		e->prog_id = d->ai.prog_id;
		e->version = d->settings.version;
		e->hash = d->settings.policy_hash;
	}
	*nm = e->named;
	*count = e->count;
	return 0;
}

/* Forget instances that were not seen in the last scrape. */
static void named_cache_prune(void)
{
	size_t k = 0;

	for (size_t i = 0; i < n_ncache; i++) {
		if (ncache[i].seen) {
			ncache[i].seen = 0;
			ncache[k++] = ncache[i];
		} else {
			free(ncache[i].named);
		}
	}
	n_ncache = k;
}

static void read_instance(struct inst_data *d, const char *pin_dir, unsigned top)
{
	struct pc_instance *inst = NULL;
	const uint8_t *nm = NULL;
	size_t n_named = 0;
	const char *step = "open its pins";
	int err;

	err = pc_open_dir(pin_dir, d->ifname, &inst);
	if (!err) {
		step = "read its settings";
		err = pc_read_settings(inst, &d->settings);
	}
	if (!err) {
		step = "query its attachment";
		err = pc_attach_info(inst, &d->ai);
	}
	if (!err) {
		step = "read its counters";
		err = pc_snapshot_read(inst, &snap);
	}
	if (!err) {
		step = "read its port table";
		err = named_ports(inst, pin_dir, d, &nm, &n_named);
	}
	if (inst)
		pc_close(inst);
	if (!err) {
		memcpy(d->classes, snap.classes, sizeof(d->classes));
		memcpy(d->buckets, snap.buckets, sizeof(d->buckets));
		step = "select its port series";
		err = select_series(d, nm, n_named, top);
	}
	if (err) {
		snprintf(d->why, sizeof(d->why), "cannot %s (%s): %s", step,
			 pin_dir, strerror(-err));
		return;
	}
	d->ok = 1;
}

/* A label value: backslash, double quote and newline escaped. */
static void put_label(FILE *f, const char *name, const char *val)
{
	fprintf(f, "%s=\"", name);
	for (; *val; val++) {
		if (*val == '\\' || *val == '"')
			fputc('\\', f);
		if (*val == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*val, f);
	}
	fputc('"', f);
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

enum what { PACKETS, BYTES };

static void port_family(FILE *f, struct found *fd, enum what w)
{
	const char *name = w == PACKETS ? "portcullis_packets_total" :
					  "portcullis_bytes_total";

	family(f, name, "counter", w == PACKETS ?
	       "TCP/UDP packets by destination port and verdict (ports the policy names, the busiest others, the rest as port=\"other\")." :
	       "TCP/UDP bytes (whole frames) by destination port and verdict (ports the policy names, the busiest others, the rest as port=\"other\").");
	for (size_t i = 0; i < fd->n; i++) {
		const struct inst_data *d = &fd->v[i];

		if (!d->ok)
			continue;
		for (size_t s = 0; s < d->n_series; s++) {
			const struct series *se = &d->series[s];
			char port[16];

			if (se->port == PORT_OTHER)
				snprintf(port, sizeof(port), "other");
			else
				snprintf(port, sizeof(port), "%u", se->port);
			for (int o = 0; o < PC_OUT_MAX; o++) {
				fprintf(f, "%s{", name);
				put_label(f, "interface", d->ifname);
				fprintf(f, ",protocol=\"%s\",port=\"%s\",verdict=\"%s\"} %llu\n",
					pc_proto_name(se->proto), port,
					pc_outcome_label(o), (unsigned long long)
					(w == PACKETS ? se->c.packets[o] : se->c.bytes[o]));
			}
		}
	}
}

static void class_family(FILE *f, struct found *fd, enum what w)
{
	const char *name = w == PACKETS ? "portcullis_class_packets_total" :
					  "portcullis_class_bytes_total";

	family(f, name, "counter", w == PACKETS ?
	       "TCP/UDP packets by destination port range class (well-known 0-1023, registered 1024-49151, dynamic 49152-65535) and verdict." :
	       "TCP/UDP bytes by destination port range class and verdict.");
	for (size_t i = 0; i < fd->n; i++) {
		const struct inst_data *d = &fd->v[i];

		if (!d->ok)
			continue;
		for (unsigned p = 0; p < PC_NUM_PROTOS; p++)
			for (unsigned c = 0; c < PC_CLASS_MAX; c++)
				for (int o = 0; o < PC_OUT_MAX; o++) {
					const struct pc_counter *k = &d->classes[p][c];

					fprintf(f, "%s{", name);
					put_label(f, "interface", d->ifname);
					fprintf(f, ",protocol=\"%s\",class=\"%s\",verdict=\"%s\"} %llu\n",
						pc_proto_name(p), pc_range_class_name(c),
						pc_outcome_label(o), (unsigned long long)
						(w == PACKETS ? k->packets[o] : k->bytes[o]));
				}
	}
}

static void bucket_family(FILE *f, struct found *fd, enum what w)
{
	const char *name = w == PACKETS ? "portcullis_bucket_packets_total" :
					  "portcullis_bucket_bytes_total";

	family(f, name, "counter", w == PACKETS ?
	       "Packets not classified by port (non_ip, icmp, other, fragment, malformed) by verdict." :
	       "Bytes not classified by port (non_ip, icmp, other, fragment, malformed) by verdict.");
	for (size_t i = 0; i < fd->n; i++) {
		const struct inst_data *d = &fd->v[i];

		if (!d->ok)
			continue;
		for (unsigned b = 0; b < PC_BUCKET_MAX; b++)
			for (int o = 0; o < PC_OUT_MAX; o++) {
				const struct pc_counter *k = &d->buckets[b];

				fprintf(f, "%s{", name);
				put_label(f, "interface", d->ifname);
				fprintf(f, ",bucket=\"%s\",verdict=\"%s\"} %llu\n",
					pc_bucket_label(b), pc_outcome_label(o),
					(unsigned long long)
					(w == PACKETS ? k->packets[o] : k->bytes[o]));
			}
	}
}

/* One sample per instance: value chosen by `pick`. */
static void scalar_family(FILE *f, struct found *fd, const char *name,
			  const char *type, const char *help,
			  double (*pick)(const struct inst_data *))
{
	family(f, name, type, help);
	for (size_t i = 0; i < fd->n; i++) {
		if (!fd->v[i].ok)
			continue;
		fprintf(f, "%s{", name);
		put_label(f, "interface", fd->v[i].ifname);
		fprintf(f, "} %.17g\n", pick(&fd->v[i]));
	}
}

static double pick_version(const struct inst_data *d)
{
	return (double)d->settings.version;
}

static double pick_rules(const struct inst_data *d)
{
	return d->settings.rule_count;
}

static double pick_applied(const struct inst_data *d)
{
	return (double)d->settings.applied_unix_ns / 1e9;
}

/* version 1 is the policy published by attach; each apply adds one */
static double pick_applies(const struct inst_data *d)
{
	return d->settings.version > 1 ? (double)(d->settings.version - 1) : 0;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct inst_data *)a)->ifname,
		      ((const struct inst_data *)b)->ifname);
}

int pc_metrics_scrape(const struct pc_metrics_opts *o, char **buf, size_t *len)
{
	static char last_skips[1100];
	char skips[1024] = "", word[80];
	struct found fd = { 0 };
	double t0 = now_seconds();
	size_t skipped = 0;
	FILE *f;
	int err;

	*buf = NULL;
	f = open_memstream(buf, len);
	if (!f)
		return -ENOMEM;

	err = pc_for_each_instance(collect, &fd);
	if (err)
		fprintf(f, "# portcullis: cannot list instances under %s: %s\n",
			PC_PIN_ROOT, strerror(-err));
	for (size_t i = 0; i < fd.n; i++)
		read_instance(&fd.v[i], fd.dirs[i], o->top);
	named_cache_prune();
	/* sort after reading: dirs[] is indexed like v[] until here (v is
	 * NULL when nothing is attached, which qsort may not be given) */
	if (fd.n)
		qsort(fd.v, fd.n, sizeof(*fd.v), name_cmp);
	for (size_t i = 0; i < fd.n; i++) {
		if (fd.v[i].ok)
			continue;
		skipped++;
		fprintf(f, "# portcullis: skipped interface %s: %s\n",
			fd.v[i].ifname, fd.v[i].why);
		if (strlen(skips) + strlen(fd.v[i].ifname) + 2 < sizeof(skips)) {
			strcat(skips, " ");
			strcat(skips, fd.v[i].ifname);
		}
		snprintf(word, sizeof(word), " %s ", fd.v[i].ifname);
		if (o->log_skips && !strstr(last_skips, word))
			fprintf(stderr, "portcullis exporter: skipped interface %s: %s\n",
				fd.v[i].ifname, fd.v[i].why);
	}
	/* log a skip when it starts, not at every scrape */
	snprintf(last_skips, sizeof(last_skips), "%s ", skips);

	port_family(f, &fd, PACKETS);
	port_family(f, &fd, BYTES);
	class_family(f, &fd, PACKETS);
	class_family(f, &fd, BYTES);
	bucket_family(f, &fd, PACKETS);
	bucket_family(f, &fd, BYTES);

	family(f, "portcullis_policy_info", "gauge",
	       "The live policy of an interface: version, FNV-1a 64 hash of its file, mode (value always 1).");
	for (size_t i = 0; i < fd.n; i++) {
		const struct inst_data *d = &fd.v[i];

		if (!d->ok)
			continue;
		fprintf(f, "portcullis_policy_info{");
		put_label(f, "interface", d->ifname);
		fprintf(f, ",version=\"%llu\",hash=\"%016llx\",policy_mode=\"%s\"} 1\n",
			(unsigned long long)d->settings.version,
			(unsigned long long)d->settings.policy_hash,
			d->settings.mode == PC_MODE_AUDIT ? "audit" : "enforce");
	}
	scalar_family(f, &fd, "portcullis_policy_version", "gauge",
		      "Version of the live policy (1 at attach, +1 per apply).",
		      pick_version);
	scalar_family(f, &fd, "portcullis_policy_rules", "gauge",
		      "Rules in the live policy.", pick_rules);
	scalar_family(f, &fd, "portcullis_policy_applied_timestamp_seconds", "gauge",
		      "When the live policy was published (Unix time).", pick_applied);
	scalar_family(f, &fd, "portcullis_policy_applies_total", "counter",
		      "Policies applied since the program was attached.", pick_applies);

	family(f, "portcullis_attached", "gauge",
	       "1 when the interface's program is attached, by attach mode (native, skb, hw); 0 when its pins exist but no program is on the interface.");
	for (size_t i = 0; i < fd.n; i++) {
		const struct inst_data *d = &fd.v[i];

		if (!d->ok)
			continue;
		fprintf(f, "portcullis_attached{");
		put_label(f, "interface", d->ifname);
		fprintf(f, ",mode=\"%s\"} %d\n", d->ai.attached ?
			pc_mode_label(d->ai.mode) : "none", d->ai.attached ? 1 : 0);
	}

	family(f, "portcullis_scrape_skipped_instances", "gauge",
	       "Instances found under the pin directory that this scrape could not read.");
	fprintf(f, "portcullis_scrape_skipped_instances %zu\n", skipped);
	family(f, "portcullis_scrape_duration_seconds", "gauge",
	       "Time this scrape took to read every instance and render the metrics.");
	fprintf(f, "portcullis_scrape_duration_seconds %.6f\n", now_seconds() - t0);

	for (size_t i = 0; i < fd.n; i++)
		free(fd.v[i].series);
	free(fd.v);
	free(fd.dirs);
	if (fclose(f)) {
		free(*buf);
		*buf = NULL;
		return -ENOMEM;
	}
	return 0;
}
