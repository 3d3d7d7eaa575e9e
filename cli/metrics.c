// SPDX-License-Identifier: GPL-2.0
/*
 * metrics.c - one Prometheus scrape of every instance (contract in
 * metrics.h). Each scrape lists the pin directories afresh; an instance
 * found before is read through what was kept of it (struct kept), unless
 * its pinned program changed, so an interface detached and re-attached
 * between two scrapes is simply read again; one whose pins cannot be
 * opened or read is reported as a comment line and left out, the others
 * are still served.
 *
 * The text format wants every sample of a family together, so all
 * instances are read first into small per-instance summaries, then the
 * families are written one after the other.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "counters.h"
#include "metrics.h"
#include "series.h"
#include "../loader/policy.h"
#include "../loader/rules.h"

/* portcullis_rule_packets_total: rules 1..PC_RULE_SERIES_MAX each get a
 * series, the rules after them are summed in rule="other" (bounded by the
 * number of rules, and by this cap for a policy of thousands) */
#define PC_RULE_SERIES_MAX 200

/* One instance as this scrape read it. */
struct inst_data {
	char ifname[256];
	int ok;			/* read completely */
	char why[800];		/* when not */
	struct pc_settings settings;
	struct pc_attach_info ai;
	struct pc_series *series;
	size_t n_series;
	struct pc_counter classes[PC_NUM_PROTOS][PC_CLASS_MAX];
	struct pc_counter buckets[PC_BUCKET_MAX];
	struct pc_rule_counts rules;	/* per-rule counters (rules.h) */
};

struct found {
	struct inst_data *v;
	char (*dirs)[600];
	size_t n, cap;
};

/* What the exporter keeps of an instance between scrapes: the instance
 * open (its counter-summing program is loaded once, in it), the ports its
 * policy names (read again only when the policy version changes) and the
 * chosen port series. Valid while the pinned program is the one opened: a
 * detach and re-attach pins a new one, and then all of it is dropped. An
 * instance no scrape finds any more is closed at once, so a detached
 * program and its maps are not kept alive. */
struct kept {
	char pin_dir[600];
	struct pc_instance *inst;
	uint32_t prog_id;
	uint8_t *named;		/* PC_PORT_STATS_ENTRIES bytes */
	uint64_t named_version, named_hash;
	int named_valid;
	struct pc_series_state series;
	int seen;		/* found by this scrape */
};
static struct kept **kept;
static size_t n_kept;

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

static void kept_free(struct kept *k)
{
	pc_close(k->inst);
	free(k->named);
	pc_series_free(&k->series);
	free(k);
}

/* Close what the last scrape did not find. */
static void kept_prune(void)
{
	size_t j = 0;

	for (size_t i = 0; i < n_kept; i++) {
		if (kept[i]->seen) {
			kept[i]->seen = 0;
			kept[j++] = kept[i];
		} else {
			kept_free(kept[i]);
		}
	}
	n_kept = j;
}

static uint32_t prog_id_of(int fd)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/* The id of the program pinned in pin_dir, 0 when there is none. */
static uint32_t pinned_prog_id(const char *pin_dir)
{
	char path[700];
	uint32_t id;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, PC_PIN_PROG);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	id = prog_id_of(fd);
	close(fd);
	return id;
}

/* The kept state of pin_dir, opened afresh when there is none or the
 * pinned program changed. */
static int kept_get(const char *pin_dir, const char *ifname, unsigned top,
		    struct kept **out)
{
	uint32_t id = pinned_prog_id(pin_dir);
	struct kept *k = NULL, **grown;
	size_t i;
	int err;

	for (i = 0; i < n_kept && strcmp(kept[i]->pin_dir, pin_dir); i++)
		;
	if (i < n_kept) {
		if (id && kept[i]->prog_id == id) {
			kept[i]->seen = 1;
			*out = kept[i];
			return 0;
		}
		kept_free(kept[i]);	/* replaced (or going): start over */
		kept[i] = kept[--n_kept];
	}
	if (!id)
		return -ENOENT;
	grown = realloc(kept, (n_kept + 1) * sizeof(*kept));
	if (!grown)
		return -ENOMEM;
	kept = grown;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	snprintf(k->pin_dir, sizeof(k->pin_dir), "%s", pin_dir);
	k->named = malloc(PC_PORT_STATS_ENTRIES);
	err = k->named ? pc_series_init(&k->series, top) : -ENOMEM;
	if (!err)
		err = pc_open_dir(pin_dir, ifname, &k->inst);
	/* the id of the program opened, which a re-attach since the look-up
	 * may have made another than id */
	if (!err)
		k->prog_id = prog_id_of(k->inst->prog_fd);
	if (err) {
		kept_free(k);
		return err;
	}
	k->seen = 1;
	kept[n_kept++] = k;
	*out = k;
	return 0;
}

/* The named-port set changes only when a policy is published: read again
 * when the version or hash differs from the one read. */
static int named_ports(struct kept *k, const struct pc_settings *now)
{
	struct pc_settings after;
	size_t count;
	int err;

	if (k->named_valid && k->named_version == now->version &&
	    k->named_hash == now->policy_hash)
		return 0;
	k->named_valid = 0;
	err = pc_named_ports(k->inst, k->named, &count);
	if (err)
		return err;
	/* a publish during the read: use it now, read it again next time */
	err = pc_read_settings(k->inst, &after);
	if (!err && after.version == now->version) {
		k->named_version = now->version;
		k->named_hash = now->policy_hash;
		k->named_valid = 1;
	}
	return 0;
}

static void read_instance(struct inst_data *d, const char *pin_dir, unsigned top)
{
	struct pc_snapshot snap = { 0 };
	struct kept *k = NULL;
	const char *step = "open its pins";
	int err;

	err = kept_get(pin_dir, d->ifname, top, &k);
	if (!err) {
		step = "read its settings";
		err = pc_read_settings(k->inst, &d->settings);
	}
	if (!err) {
		step = "query its attachment";
		err = pc_attach_info(k->inst, &d->ai);
	}
	if (!err) {
		step = "read its counters";
		/* one read of the counters for the port and the rule series,
		 * the rules' table of the same version: a publish waits */
		err = pc_read_lock(k->inst);
		if (!err) {
			err = pc_snapshot_read_sparse(k->inst, &snap);
			if (!err) {
				step = "read its rule counters";
				err = pc_rule_counts_of(k->inst, snap.busy, snap.n_busy,
							&d->rules);
			}
			pc_read_unlock(k->inst);
		}
	}
	if (!err) {
		step = "read its port table";
		err = named_ports(k, &d->settings);
	}
	if (!err) {
		memcpy(d->classes, snap.classes, sizeof(d->classes));
		memcpy(d->buckets, snap.buckets, sizeof(d->buckets));
		step = "select its port series";
		err = pc_series_select(&k->series, snap.busy, snap.n_busy, k->named,
				       &d->series, &d->n_series);
	}
	pc_snapshot_free(&snap);
	if (err) {
		/* hold nothing of an instance that cannot be read */
		if (k)
			k->seen = 0;
		snprintf(d->why, sizeof(d->why), "cannot %s (%s): %s", step,
			 pin_dir, strerror(-err));
		return;
	}
	d->ok = 1;
}

/* Length of the valid UTF-8 sequence at s (1-4), 0 when the byte there
 * does not start one: overlong forms, surrogates and code points above
 * U+10FFFF are invalid too (RFC 3629). */
static int utf8_len(const unsigned char *s)
{
	unsigned cp, n, min;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f, min = 0x80;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f, min = 0x800;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	for (unsigned i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;	/* also stops at the NUL */
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return (int)n;
}

/* Text made safe for a label value (and a comment line): backslash,
 * double quote and newline escaped as the text format wants, and every
 * byte that is not part of valid UTF-8 written as the four characters
 * \xHH (its backslash escaped too), so a scrape is always valid UTF-8. */
static void put_escaped(FILE *f, const char *val)
{
	const unsigned char *s = (const unsigned char *)val;

	while (*s) {
		int n = utf8_len(s);

		if (!n) {
			fprintf(f, "\\\\x%02x", *s++);
		} else if (*s == '\\' || *s == '"') {
			fputc('\\', f);
			fputc(*s++, f);
		} else if (*s == '\n') {
			fputs("\\n", f);
			s++;
		} else {
			fwrite(s, 1, (size_t)n, f);
			s += n;
		}
	}
}

static void put_label(FILE *f, const char *name, const char *val)
{
	fprintf(f, "%s=\"", name);
	put_escaped(f, val);
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
	       "TCP/UDP packets by destination port and verdict (at most --top ports per protocol, chosen for good, the rest as port=\"other\")." :
	       "TCP/UDP bytes (whole frames) by destination port and verdict (at most --top ports per protocol, chosen for good, the rest as port=\"other\").");
	for (size_t i = 0; i < fd->n; i++) {
		const struct inst_data *d = &fd->v[i];

		if (!d->ok)
			continue;
		for (size_t s = 0; s < d->n_series; s++) {
			const struct pc_series *se = &d->series[s];
			char port[16];

			if (se->port == PC_PORT_OTHER)
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
	       "Packets not classified by port (non_ip, icmp, other, fragment, malformed), passed as replies to the host's own flows (replies: the total of portcullis_replies_packets_total), or dropped over a rate limit (limited) or from a blocked source (blocked), by verdict." :
	       "Bytes not classified by port (non_ip, icmp, other, fragment, malformed), passed as replies to the host's own flows (replies: the total of portcullis_replies_bytes_total), or dropped over a rate limit (limited) or from a blocked source (blocked), by verdict.");
	for (size_t i = 0; i < fd->n; i++) {
		const struct inst_data *d = &fd->v[i];

		if (!d->ok)
			continue;
		for (unsigned b = 0; b < PC_BUCKET_MAX; b++) {
			struct pc_counter k;

			if (!pc_bucket_label(b))
				continue;
			pc_bucket_shown(d->buckets, b, &k);
			for (int o = 0; o < PC_OUT_MAX; o++) {
				fprintf(f, "%s{", name);
				put_label(f, "interface", d->ifname);
				fprintf(f, ",bucket=\"%s\",verdict=\"%s\"} %llu\n",
					pc_bucket_label(b), pc_outcome_label(o),
					(unsigned long long)
					(w == PACKETS ? k.packets[o] : k.bytes[o]));
			}
		}
	}
}

/* The "replies" bucket by protocol: they only ever pass. */
static void replies_family(FILE *f, struct found *fd, enum what w)
{
	const char *name = w == PACKETS ? "portcullis_replies_packets_total" :
					  "portcullis_replies_bytes_total";
	const char *proto;
	unsigned rb;

	family(f, name, "counter", w == PACKETS ?
	       "Packets the policy denies that passed as replies to the host's own flows (tcp, udp; icmp: ICMP/ICMPv6 errors quoting such a flow)." :
	       "Bytes of the packets the policy denies that passed as replies to the host's own flows (tcp, udp; icmp: ICMP/ICMPv6 errors quoting such a flow).");
	for (size_t i = 0; i < fd->n; i++) {
		const struct inst_data *d = &fd->v[i];

		if (!d->ok)
			continue;
		for (unsigned r = 0; (proto = pc_reply_bucket(r, &rb)); r++) {
			fprintf(f, "%s{", name);
			put_label(f, "interface", d->ifname);
			fprintf(f, ",protocol=\"%s\"} %llu\n", proto,
				(unsigned long long)(w == PACKETS ?
				d->buckets[rb].packets[PC_OUT_PASS] :
				d->buckets[rb].bytes[PC_OUT_PASS]));
		}
	}
}

static void rule_sample(FILE *f, const struct inst_data *d, const char *rule,
			const struct pc_counter *c)
{
	for (int o = 0; o < PC_OUT_MAX; o++) {
		fprintf(f, "portcullis_rule_packets_total{");
		put_label(f, "interface", d->ifname);
		fprintf(f, ",rule=\"%s\",verdict=\"%s\"} %llu\n", rule,
			pc_outcome_label(o), (unsigned long long)c->packets[o]);
	}
}

/* Packets each rule decided: rule = its number, "default", "source" (the
 * ports whose rules have sources: what rules past PC_RULE_COUNTERS
 * decided, not split per rule), "other" (rules
 * past PC_RULE_SERIES_MAX). */
static void rule_family(FILE *f, struct found *fd)
{
	char id[16];

	family(f, "portcullis_rule_packets_total", "counter",
	       "Packets each rule of the live policy decided, by verdict (rule: number, default, source, other).");
	for (size_t i = 0; i < fd->n; i++) {
		const struct inst_data *d = &fd->v[i];
		struct pc_counter rest = { 0 };

		if (!d->ok)
			continue;
		for (uint32_t r = 1; r <= d->rules.n_rules; r++) {
			if (r > PC_RULE_SERIES_MAX) {
				for (int o = 0; o < PC_OUT_MAX; o++)
					rest.packets[o] += d->rules.rule[r].packets[o];
				continue;
			}
			snprintf(id, sizeof(id), "%u", r);
			rule_sample(f, d, id, &d->rules.rule[r]);
		}
		rule_sample(f, d, "default", &d->rules.rule[0]);
		if (d->rules.n_source_ports)
			rule_sample(f, d, "source", &d->rules.by_source);
		if (d->rules.n_rules > PC_RULE_SERIES_MAX)
			rule_sample(f, d, "other", &rest);
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
	char skips[1024] = "", word[300];
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
	kept_prune();
	/* sort after reading: dirs[] is indexed like v[] until here (v is
	 * NULL when nothing is attached, which qsort may not be given) */
	if (fd.n)
		qsort(fd.v, fd.n, sizeof(*fd.v), name_cmp);
	for (size_t i = 0; i < fd.n; i++) {
		if (fd.v[i].ok)
			continue;
		skipped++;
		fputs("# portcullis: skipped interface ", f);
		put_escaped(f, fd.v[i].ifname);
		fputs(": ", f);
		put_escaped(f, fd.v[i].why);
		fputc('\n', f);
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
	replies_family(f, &fd, PACKETS);
	replies_family(f, &fd, BYTES);
	rule_family(f, &fd);

	/* a state set: both series always there, so an apply that changes
	 * the mode makes no new series */
	family(f, "portcullis_policy_mode", "gauge",
	       "1 for the mode of the live policy (enforce or audit), 0 for the other.");
	for (size_t i = 0; i < fd.n; i++) {
		const struct inst_data *d = &fd.v[i];

		if (!d->ok)
			continue;
		for (int audit = 0; audit < 2; audit++) {
			fprintf(f, "portcullis_policy_mode{");
			put_label(f, "interface", d->ifname);
			fprintf(f, ",mode=\"%s\"} %d\n", audit ? "audit" : "enforce",
				(d->settings.mode == PC_MODE_AUDIT) == audit);
		}
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

	for (size_t i = 0; i < fd.n; i++) {
		free(fd.v[i].series);
		pc_rule_counts_free(&fd.v[i].rules);
	}
	free(fd.v);
	free(fd.dirs);
	if (fclose(f)) {
		free(*buf);
		*buf = NULL;
		return -ENOMEM;
	}
	return 0;
}
