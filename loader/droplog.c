// SPDX-License-Identifier: GPL-2.0
/*
 * droplog.c - reading the drop log: libbpf's ring buffer reader over the
 * pinned droplog map, the per-CPU not_logged counts summed, and the
 * per-CPU budget of events and the reader flag the reader gives the
 * program.
 * Returns 0 (or a count) or -errno.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "droplog.h"

struct pc_droplog {
	struct ring_buffer *rb;
	pc_droplog_fn fn;
	void *ctx;
};

static int on_sample(void *ctx, void *data, size_t size)
{
	struct pc_droplog *d = ctx;

	if (size < sizeof(struct pc_drop_event))
		return 0;	/* not ours: skip rather than misread */
	return d->fn(d->ctx, data);
}

int pc_droplog_open(struct pc_instance *inst, pc_droplog_fn fn, void *ctx,
		    struct pc_droplog **out)
{
	struct pc_droplog *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	d->fn = fn;
	d->ctx = ctx;
	d->rb = ring_buffer__new(inst->droplog_fd, on_sample, d, NULL);
	if (!d->rb) {
		int err = -errno;

		free(d);
		return err ? err : -EINVAL;
	}
	*out = d;
	return 0;
}

int pc_droplog_read(struct pc_droplog *d)
{
	int n = ring_buffer__consume(d->rb);

	return n == -EINTR ? 0 : n;	/* a signal: the caller's loop decides */
}

void pc_droplog_close(struct pc_droplog *d)
{
	if (!d)
		return;
	ring_buffer__free(d->rb);
	free(d);
}

int pc_droplog_not_logged(struct pc_instance *inst, uint64_t *out)
{
	struct pc_droplog_state *st = calloc(inst->ncpus, sizeof(*st));
	__u32 key = 0;
	uint64_t sum = 0;

	if (!st)
		return -ENOMEM;
	if (bpf_map_lookup_elem(inst->droplog_state_fd, &key, st)) {
		int err = -errno;

		free(st);
		return err;
	}
	for (int i = 0; i < inst->ncpus; i++)
		sum += st[i].not_logged;
	free(st);
	*out = sum;
	return 0;
}

int pc_droplog_set_budget(struct pc_instance *inst, uint64_t budget)
{
	uint64_t *v = calloc(inst->ncpus, sizeof(*v));
	__u32 key = 0;
	int err = 0;

	if (!v)
		return -ENOMEM;
	for (int i = 0; i < inst->ncpus; i++)
		v[i] = budget;
	/* one write of every CPU's value; the program's compare and exchange
	 * never takes an event from a value it did not see */
	if (bpf_map_update_elem(inst->droplog_budget_fd, &key, v, BPF_ANY))
		err = -errno;
	free(v);
	return err;
}

int pc_droplog_set_reader(struct pc_instance *inst, int on)
{
	struct pc_droplog_on v = { 0 };
	struct timespec ts;
	__u32 key = 0;

	if (on) {
		/* the program's coarse clock lags this one: never early */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		v.until_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec +
			     PC_DROPLOG_READER_TTL_MS * 1000000ull;
	}

	if (bpf_map_update_elem(inst->droplog_on_fd, &key, &v, BPF_ANY))
		return -errno;
	return 0;
}
