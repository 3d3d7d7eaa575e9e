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
	memset(c->slots, 0, sizeof(c->slots));
	c->ports = calloc(PC_PORT_STATS_ENTRIES, sizeof(*c->ports));
	c->slot_of = calloc(PC_PORT_STATS_ENTRIES, sizeof(*c->slot_of));
	return c->ports && c->slot_of ? 0 : -ENOMEM;
}

void tk_counters_free(struct tk_counters *c)
{
	free(c->ports);
	free(c->slot_of);
	c->ports = NULL;
	c->slot_of = NULL;
}

static int read_slot_of(struct pc_instance *inst, uint16_t *slot_of)
{
	const struct pc_port_entry *e = NULL;
	int err = pc_live_ports_view(inst, &e);

	for (uint32_t i = 0; !err && i < PC_PORT_STATS_ENTRIES; i++)
		slot_of[i] = (uint16_t)pc_entry_slot(&e[i]);
	return err;
}

int tk_counters_read(struct pc_instance *inst, struct tk_counters *c)
{
	int err = pc_read_port_stats(inst, c->ports);

	/* back to the program's halves: audited packets passed */
	for (uint32_t i = 0; !err && i < PC_PORT_STATS_ENTRIES; i++) {
		struct pc_counter *e = &c->ports[i];

		e->packets[PC_OUT_PASS] += e->packets[PC_OUT_AUDIT];
		e->packets[PC_OUT_AUDIT] = 0;
		memset(e->bytes, 0, sizeof(e->bytes));
	}
	if (!err)
		err = pc_read_slot_stats(inst, c->slots, NULL);
	if (!err)
		err = read_slot_of(inst, c->slot_of);
	if (err)
		return err;
	return pc_read_bucket_stats(inst, c->buckets);
}

int tk_checker_sync_slots(struct tk_checker *k)
{
	return read_slot_of(k->inst, k->shadow.slot_of);
}

void tk_counters_add(struct tk_counters *c, const struct ref_result *r)
{
	struct pc_counter *e;

	if (r->in_ports) {
		c->ports[r->index].packets[r->outcome == PC_OUT_DROP ? PC_OUT_DROP
								     : PC_OUT_PASS]++;
		/* a slot: bytes, and audited packets (bpf/abi.h rule 8) */
		e = &c->slots[c->slot_of[r->index] % PC_COUNTER_SLOTS];
		e->bytes[r->outcome] += r->bytes;
		if (r->outcome == PC_OUT_AUDIT)
			e->packets[PC_OUT_AUDIT]++;
		return;
	}
	e = &c->buckets[r->index];
	e->packets[r->outcome]++;
	e->bytes[r->outcome] += r->bytes;
}

static int read_slot(struct pc_instance *inst, unsigned s, struct pc_counter *out);

int tk_read_entry(struct pc_instance *inst, int in_ports, uint32_t index,
		  struct pc_counter *out)
{
	struct pc_counter b[PC_BUCKET_MAX];
	const struct pc_counter_carry *cy;
	int err;

	memset(out, 0, sizeof(*out));
	if (!in_ports) {
		err = pc_read_bucket_stats(inst, b);
		if (!err && index < PC_BUCKET_MAX)
			*out = b[index];
		return err;
	}
	err = read_slot(inst, 0, &b[0]);	/* maps the rows */
	if (err)
		return err;
	cy = inst->carry;
	for (int cpu = 0; cpu < inst->ncpus; cpu++) {
		const struct pc_counter_row *r = (const void *)((const char *)inst->rows +
			(size_t)cpu * sizeof(struct pc_counter_row));

		out->packets[PC_OUT_PASS] += r->port[index][0];
		out->packets[PC_OUT_DROP] += r->port[index][1];
	}
	out->packets[PC_OUT_PASS] += (uint64_t)cy->port[index][0] << 32;
	out->packets[PC_OUT_DROP] += (uint64_t)cy->port[index][1] << 32;
	return 0;
}

/* Slot s summed over CPUs. */
static int read_slot(struct pc_instance *inst, unsigned s, struct pc_counter *out)
{
	static struct pc_counter all[PC_COUNTER_SLOTS];
	int err = pc_read_slot_stats(inst, all, NULL);

	if (!err)
		*out = all[s % PC_COUNTER_SLOTS];
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
	if (in_ports == 2)
		snprintf(buf, len, "slot[%u]", index);
	else if (in_ports)
		snprintf(buf, len, "port[%s/%u]", index >= PC_NUM_PORTS ? "udp" : "tcp",
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
	for (uint32_t i = 0; i < PC_COUNTER_SLOTS; i++)
		bad += diff_entry(what, 2, i, &k->shadow.slots[i], &k->got.slots[i]);
	for (uint32_t i = 0; i < PC_PORT_STATS_ENTRIES && bad < 8; i++)
		bad += diff_entry(what, 1, i, &k->shadow.ports[i], &k->got.ports[i]);
	if (bad) {
		/* resynchronise so one fault is reported once */
		memcpy(k->shadow.ports, k->got.ports,
		       PC_PORT_STATS_ENTRIES * sizeof(*k->got.ports));
		memcpy(k->shadow.buckets, k->got.buckets, sizeof(k->got.buckets));
		memcpy(k->shadow.slots, k->got.slots, sizeof(k->got.slots));
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
		if (want->in_ports) {	/* and the port's slot */
			unsigned sl = k->shadow.slot_of[want->index] % PC_COUNTER_SLOTS;

			if (!read_slot(k->inst, sl, &got) &&
			    diff_entry(what, 2, sl, &k->shadow.slots[sl], &got)) {
				k->shadow.slots[sl] = got;
				bad = 1;
			}
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
