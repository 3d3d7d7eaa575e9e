/* SPDX-License-Identifier: GPL-2.0 */
/*
 * droplog.h - reading an instance's drop log (bpf/droplog.h): the events
 * in its ring buffer, and the count of drops the program did not log.
 * All functions return 0 (or a count) or a negative errno.
 */
#ifndef PORTCULLIS_DROPLOG_LOADER_H
#define PORTCULLIS_DROPLOG_LOADER_H

#include <stdint.h>
#include "instance.h"

struct pc_droplog;

/* Called for each event read; a non-zero return stops the read. */
typedef int (*pc_droplog_fn)(void *ctx, const struct pc_drop_event *e);

/* A reader of inst's ring buffer (inst must outlive it). */
int pc_droplog_open(struct pc_instance *inst, pc_droplog_fn fn, void *ctx,
		    struct pc_droplog **out);
/* Hand every event in the ring to fn, without waiting: the program never
 * wakes a reader (BPF_RB_NO_WAKEUP), so readers call this on a timer.
 * Returns the number of events read. */
int pc_droplog_read(struct pc_droplog *d);
void pc_droplog_close(struct pc_droplog *d);

/* Drops not logged since attach (a reader ran but the budget was spent,
 * or the ring was full), summed over CPUs. */
int pc_droplog_not_logged(struct pc_instance *inst, uint64_t *out);

/* Set every CPU's budget of events (bpf/abi.h, droplog_budget). */
int pc_droplog_set_budget(struct pc_instance *inst, uint64_t budget);
/* Tell the program whether a reader runs (droplog_on): with none, a drop
 * is neither logged nor counted. on: for PC_DROPLOG_READER_TTL_MS from
 * now (a reader calls it at each refill); the program forgets a reader
 * that let it pass. */
int pc_droplog_set_reader(struct pc_instance *inst, int on);

#endif
