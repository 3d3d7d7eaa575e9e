/* SPDX-License-Identifier: GPL-2.0 */
/*
 * walk_probe.h - what a test passes to walk_probe.bpf.c and gets back
 * (BPF_PROG_TEST_RUN's data in and out). Host byte order but addr.
 */
#ifndef PC_TEST_WALK_PROBE_H
#define PC_TEST_WALK_PROBE_H

#include <linux/types.h>

struct walk_probe_io {
	__u32 gen;		/* the generation to read */
	__u32 index;		/* pc_port_index(gen, proto, port) */
	__u32 is_v6;
	__u32 result;		/* out: the deciding slot (walk_probe.bpf.c) */
	union {			/* the source, network order */
		__u8 addr[16];
		__u32 addr32;	/* IPv4 */
		__u64 addr64[2];
	};
};

_Static_assert(sizeof(struct walk_probe_io) == 32, "walk_probe_io layout");

#endif
