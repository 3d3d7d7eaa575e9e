/* SPDX-License-Identifier: GPL-2.0 */
/*
 * testkit.h - shared by the BPF_PROG_TEST_RUN tests (tests/bpf/): build a
 * policy with the loader's own parser and compiler, run frames through the
 * real program, and check verdicts and counters against the reference
 * classifier.
 *
 * Counter checking keeps a shadow: the counters the program should have
 * produced so far (every expected increment added). After each frame the
 * entry the frame should have hit and all buckets are compared with the
 * shadow; on request the whole port table too, which proves that nothing
 * else changed. Functions return 0 or -errno (tk_check: -1 on a mismatch,
 * after printing what differed).
 */
#ifndef PC_TEST_TESTKIT_H
#define PC_TEST_TESTKIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "../../loader/instance.h"
#include "refclass.h"

/* Fail loudly (message, exit 1) unless root with a BPF-capable kernel. */
void tk_require_root(const char *prog);

/* Parse and compile policy text with the loader's code. On a parse or
 * compile error prints the diagnostic and returns -EINVAL / -errno. */
int tk_policy(const char *text, struct pc_policy *pol, struct pc_compiled **c);

/* One BPF_PROG_TEST_RUN of frame; *action = the program's return value.
 * -EILSEQ (with a message) when the program changed the frame: a filter
 * must pass frames unchanged. Frames up to PKT_MAX bytes. */
int tk_run(int prog_fd, const uint8_t *frame, size_t len, uint32_t *action);

/* The counters as the program keeps them (bpf/abi.h rule 8): per port
 * packets[PC_OUT_PASS] passed (audited included) and packets[PC_OUT_DROP]
 * dropped, nothing else; per counter slot and per bucket everything.
 * slot_of: each port's slot in the live port table (tk_counters_read,
 * tk_checker_sync_slots). */
struct tk_counters {
	struct pc_counter *ports;	/* PC_PORT_STATS_ENTRIES */
	struct pc_counter slots[PC_COUNTER_SLOTS];
	struct pc_counter buckets[PC_BUCKET_MAX];
	uint16_t *slot_of;		/* PC_PORT_STATS_ENTRIES */
};

int tk_counters_init(struct tk_counters *c);	/* zeroed */
void tk_counters_free(struct tk_counters *c);
/* Read both tables from the instance (summed over CPUs). */
int tk_counters_read(struct pc_instance *inst, struct tk_counters *c);
/* Add the increment the reference says the frame causes. */
void tk_counters_add(struct tk_counters *c, const struct ref_result *r);

/* A checker: an instance plus its shadow counters. */
struct tk_checker {
	struct pc_instance *inst;
	struct tk_counters shadow, got;
	unsigned long frames, failures;
};

/* Reads the instance's current counters as the starting shadow. */
int tk_checker_init(struct tk_checker *k, struct pc_instance *inst);
/* After a publish: the shadow learns the ports' new counter slots. */
int tk_checker_sync_slots(struct tk_checker *k);
void tk_checker_free(struct tk_checker *k);

/* Run frame through the program; want is the expected result (usually the
 * reference's). Checks the action, that it is never XDP_ABORTED, the
 * counter entry want names (+1 packet, +len bytes in want->outcome's slot)
 * and every bucket; full != 0 also compares the whole port table. what
 * names the case in messages. Returns 0, -1 on a mismatch, -errno when the
 * frame could not be run. */
int tk_check(struct tk_checker *k, const char *what, const uint8_t *frame,
	     size_t len, const struct ref_result *want, int full);

/* Compare the whole port table with the shadow now; 0 or -1. */
int tk_check_all(struct tk_checker *k, const char *what);

/* One counter entry summed over CPUs, as tk_counters holds it (a port's
 * two halves, a bucket), straight from the rows. */
int tk_read_entry(struct pc_instance *inst, int in_ports, uint32_t index,
		  struct pc_counter *out);

/* Print the parsed rules and settings of a policy (for mismatch reports). */
void tk_policy_print(FILE *f, const struct pc_policy *pol);

#endif
