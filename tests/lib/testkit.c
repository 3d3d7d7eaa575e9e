// SPDX-License-Identifier: GPL-2.0
/*
 * testkit.c - policy building, BPF_PROG_TEST_RUN and counter checking for
 * the kernel-program tests (see testkit.h). Full tables are read with the
 * loader's pc_read_*_stats (the code the CLI uses); a single entry is read
 * straight from the map fd, so a fast per-frame check does not depend on
 * the loader either.
 */
#include "testkit.h"
#include "packet.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void tk_require_root(const char *prog)
{
	if (geteuid() != 0) {
		fprintf(stderr, "%s: error: needs root (CAP_BPF, CAP_NET_ADMIN, "
			"CAP_SYS_ADMIN) to load and run XDP programs\n", prog);
		exit(1);
	}
}

int tk_policy(const char *text, struct pc_policy *pol, struct pc_compiled **c)
{
	struct pc_diag diag;
	int err;

	memset(&diag, 0, sizeof(diag));
	err = pc_policy_parse("test.policy", text, strlen(text), pol, &diag);
	if (err) {
		fprintf(stderr, "policy does not parse: %s\n--- policy\n%s---\n",
			diag.text, text);
		return err;
	}
	err = pc_compile(pol, c, &diag);
	if (err) {
		fprintf(stderr, "policy does not compile (%s): %s\n", strerror(-err),
			diag.text);
		pc_policy_free(pol);
		return err;
	}
	return 0;
}

int tk_run(int prog_fd, const uint8_t *frame, size_t len, uint32_t *action)
{
	uint8_t out[PKT_MAX + 64];
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = frame,
		.data_size_in = (__u32)len,
		.data_out = out,
		.data_size_out = sizeof(out),
		.repeat = 1,
	);
	int err;

	err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (err)
		return -errno;
	*action = opts.retval;
	/* a filter looks, it never rewrites */
	if (opts.data_size_out != len || memcmp(out, frame, len)) {
		fprintf(stderr, "tk_run: the program changed the frame (%zu bytes in, %u out)\n",
			len, opts.data_size_out);
		return -EILSEQ;
	}
	return 0;
}

int tk_counters_init(struct tk_counters *c)
{
	memset(c->buckets, 0, sizeof(c->buckets));
	c->ports = calloc(PC_PORT_STATS_ENTRIES, sizeof(*c->ports));
	return c->ports ? 0 : -ENOMEM;
}

void tk_counters_free(struct tk_counters *c)
{
	free(c->ports);
	c->ports = NULL;
}

int tk_counters_read(struct pc_instance *inst, struct tk_counters *c)
{
	int err = pc_read_port_stats(inst, c->ports);

	if (err)
		return err;
	return pc_read_bucket_stats(inst, c->buckets);
}

void tk_counters_add(struct tk_counters *c, const struct ref_result *r)
{
	struct pc_counter *e = r->in_ports ? &c->ports[r->index] : &c->buckets[r->index];

	e->packets[r->outcome]++;
	e->bytes[r->outcome] += r->bytes;
}

int tk_read_entry(struct pc_instance *inst, int in_ports, uint32_t index,
		  struct pc_counter *out)
{
	int ncpus = libbpf_num_possible_cpus();
	int fd = in_ports ? inst->port_stats_fd : inst->bucket_stats_fd;
	struct pc_counter *per;
	int err = 0;

	if (ncpus <= 0)
		return ncpus ? ncpus : -EINVAL;
	per = calloc((size_t)ncpus, sizeof(*per));
	if (!per)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &index, per)) {
		err = -errno;
		goto out;
	}
	memset(out, 0, sizeof(*out));
	for (int cpu = 0; cpu < ncpus; cpu++)
		for (int s = 0; s < PC_OUT_MAX; s++) {
			out->packets[s] += per[cpu].packets[s];
			out->bytes[s] += per[cpu].bytes[s];
		}
out:
	free(per);
	return err;
}

int tk_checker_init(struct tk_checker *k, struct pc_instance *inst)
{
	int err;

	memset(k, 0, sizeof(*k));
	k->inst = inst;
	err = tk_counters_init(&k->shadow);
	if (!err)
		err = tk_counters_init(&k->got);
	if (!err)
		err = tk_counters_read(inst, &k->shadow);
	return err;
}

void tk_checker_free(struct tk_checker *k)
{
	tk_counters_free(&k->shadow);
	tk_counters_free(&k->got);
}

static const char *const slot_name[PC_OUT_MAX] = { "pass", "drop", "audit" };
static const char *const bucket_name[PC_BUCKET_MAX] = {
	"non_ip", "icmp", "other", "fragment", "malformed",
};

static void entry_name(int in_ports, uint32_t index, char *buf, size_t len)
{
	if (in_ports)
		snprintf(buf, len, "port_stats[%s/%u]", index >= PC_NUM_PORTS ? "udp" : "tcp",
			 index % PC_NUM_PORTS);
	else
		snprintf(buf, len, "bucket_stats[%s]",
			 index < PC_BUCKET_MAX ? bucket_name[index] : "?");
}

/* Print how got differs from want for one entry; returns 1 if it does. */
static int diff_entry(const char *what, int in_ports, uint32_t index,
		      const struct pc_counter *want, const struct pc_counter *got)
{
	char name[64];

	if (!memcmp(want, got, sizeof(*want)))
		return 0;
	entry_name(in_ports, index, name, sizeof(name));
	for (int s = 0; s < PC_OUT_MAX; s++)
		if (want->packets[s] != got->packets[s] || want->bytes[s] != got->bytes[s])
			fprintf(stderr, "  %s: %s slot %s: want %llu pkts %llu bytes, "
				"got %llu pkts %llu bytes\n", what, name, slot_name[s],
				(unsigned long long)want->packets[s],
				(unsigned long long)want->bytes[s],
				(unsigned long long)got->packets[s],
				(unsigned long long)got->bytes[s]);
	return 1;
}

int tk_check_all(struct tk_checker *k, const char *what)
{
	int bad = 0, err;

	err = tk_counters_read(k->inst, &k->got);
	if (err) {
		fprintf(stderr, "%s: reading counters: %s\n", what, strerror(-err));
		return err;
	}
	for (uint32_t i = 0; i < PC_BUCKET_MAX; i++)
		bad += diff_entry(what, 0, i, &k->shadow.buckets[i], &k->got.buckets[i]);
	for (uint32_t i = 0; i < PC_PORT_STATS_ENTRIES && bad < 8; i++)
		bad += diff_entry(what, 1, i, &k->shadow.ports[i], &k->got.ports[i]);
	if (bad) {
		/* resynchronise so one fault is reported once */
		memcpy(k->shadow.ports, k->got.ports,
		       PC_PORT_STATS_ENTRIES * sizeof(*k->got.ports));
		memcpy(k->shadow.buckets, k->got.buckets, sizeof(k->got.buckets));
		k->failures++;
		return -1;
	}
	return 0;
}

int tk_check(struct tk_checker *k, const char *what, const uint8_t *frame,
	     size_t len, const struct ref_result *want, int full)
{
	struct pc_counter got, *exp;
	uint32_t action = ~0u;
	int bad = 0, err;
	char desc[200];

	k->frames++;
	err = tk_run(k->inst->prog_fd, frame, len, &action);
	if (err) {
		fprintf(stderr, "%s: BPF_PROG_TEST_RUN failed: %s\n", what, strerror(-err));
		k->failures++;
		return err;
	}
	tk_counters_add(&k->shadow, want);
	ref_describe(want, desc, sizeof(desc));
	if (action == XDP_ABORTED || action != (uint32_t)want->action) {
		fprintf(stderr, "FAIL %s: program returned %s (%u), want %s\n", what,
			action == XDP_ABORTED ? "XDP_ABORTED" : action == XDP_PASS ?
			"XDP_PASS" : action == XDP_DROP ? "XDP_DROP" : "?", action, desc);
		bad = 1;
	}
	if (full) {
		if (tk_check_all(k, what))
			bad = 1;
		else
			goto out;
	} else {
		exp = want->in_ports ? &k->shadow.ports[want->index] :
				       &k->shadow.buckets[want->index];
		err = tk_read_entry(k->inst, want->in_ports, want->index, &got);
		if (err) {
			fprintf(stderr, "%s: reading counter: %s\n", what, strerror(-err));
			bad = 1;
		} else if (diff_entry(what, want->in_ports, want->index, exp, &got)) {
			*exp = got;
			bad = 1;
		}
		/* buckets are few: always check every one */
		for (uint32_t i = 0; i < PC_BUCKET_MAX; i++) {
			if (want->in_ports == 0 && want->index == i)
				continue;
			if (tk_read_entry(k->inst, 0, i, &got))
				continue;
			if (diff_entry(what, 0, i, &k->shadow.buckets[i], &got)) {
				k->shadow.buckets[i] = got;
				bad = 1;
			}
		}
	}
	if (bad) {
		fprintf(stderr, "  %s: expected %s; frame (%zu bytes):\n", what, desc, len);
		pkt_hexdump(stderr, frame, len);
		k->failures++;
		return -1;
	}
out:
	return 0;
}

static void print_prefix(FILE *f, const struct pc_prefix *p)
{
	char buf[INET6_ADDRSTRLEN];

	inet_ntop(p->family, p->addr, buf, sizeof(buf));
	fprintf(f, "%s/%u", buf, p->len);
}

void tk_policy_print(FILE *f, const struct pc_policy *pol)
{
	fprintf(f, "policy: default %s icmp %s other %s fragments %s mode %s, %zu rules\n",
		pc_verdict_name(pol->default_verdict), pc_verdict_name(pol->icmp_verdict),
		pc_verdict_name(pol->other_verdict), pc_verdict_name(pol->fragment_verdict),
		pol->mode == PC_MODE_AUDIT ? "audit" : "enforce", pol->n_rules);
	for (size_t i = 0; i < pol->n_rules; i++) {
		const struct pc_rule *r = &pol->rules[i];

		fprintf(f, "  %zu: %s %s%s%s ", i + 1, pc_verdict_name(r->verdict),
			r->protos & PC_PROTO_BIT_TCP ? "tcp" : "",
			r->protos == (PC_PROTO_BIT_TCP | PC_PROTO_BIT_UDP) ? "," : "",
			r->protos & PC_PROTO_BIT_UDP ? "udp" : "");
		for (size_t j = 0; j < r->n_ranges; j++)
			fprintf(f, "%s%u-%u", j ? "," : "", r->ranges[j].lo, r->ranges[j].hi);
		fprintf(f, " from ");
		if (r->any_source)
			fprintf(f, "any");
		for (size_t j = 0; j < r->n_sources; j++) {
			fprintf(f, "%s", j || r->any_source ? "," : "");
			print_prefix(f, &r->sources[j]);
		}
		fprintf(f, "\n");
	}
}
