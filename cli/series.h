/* SPDX-License-Identifier: GPL-2.0 */
/*
 * series.h - which per-port series the exporter shows for one instance:
 * a hard bound whatever the policy and the traffic, and counters that
 * never go down (the rule for users is in docs/JSON.md).
 *
 * Per protocol at most `top` ports are "chosen". A port is chosen at the
 * first scrape that finds it with traffic while a slot is free (ports the
 * policy names before the others, then the busiest first) and stays chosen
 * for as long as the state lives (the exporter's life, or until the
 * interface's program is replaced). Its series is its own counter.
 * port="other" is everything else: the traffic of ports never chosen, plus,
 * for a port chosen after the first scrape and not shown as zero just
 * before, what it had counted when chosen (part of it was in "other"
 * already), so "other" never decreases, and the increases of all series
 * add up to the increase of the counters. Slots still free show ports the policy names that have no
 * traffic yet, as zero (lowest port first); such a series may disappear
 * later, always at zero.
 *
 * Functions return 0 or -ENOMEM.
 */
#ifndef PORTCULLIS_CLI_SERIES_H
#define PORTCULLIS_CLI_SERIES_H

#include <stddef.h>
#include <stdint.h>
#include "../loader/instance.h"

#define PC_PORT_OTHER PC_NUM_PORTS	/* series port of port="other" */

struct pc_chosen {
	uint32_t port;
	struct pc_counter base;	/* its counter when it was chosen */
};

struct pc_series_state {
	unsigned top;				/* slots per protocol */
	struct pc_chosen *chosen[PC_NUM_PROTOS];	/* sorted by port */
	size_t n_chosen[PC_NUM_PROTOS];
	uint8_t *is_chosen;	/* PC_PORT_STATS_ENTRIES bits, then as many
				 * for the ports shown as idle zeros */
	uint64_t scrapes;	/* selections made */
};

/* One exported series. */
struct pc_series {
	unsigned proto;
	unsigned port;		/* or PC_PORT_OTHER */
	struct pc_counter c;
};

int pc_series_init(struct pc_series_state *s, unsigned top);
void pc_series_free(struct pc_series_state *s);

/* Choose and compute this scrape's series. busy: the non-zero port
 * counters in index order (pc_snapshot busy); named: PC_PORT_STATS_ENTRIES
 * bytes, 1 where the live policy names the port. *out (malloc'd, free()
 * it) gets at most PC_NUM_PROTOS * (top + 1) series, sorted by protocol
 * then port, "other" last of each protocol. */
int pc_series_select(struct pc_series_state *s, const struct pc_port_count *busy,
		     size_t n_busy, const uint8_t *named,
		     struct pc_series **out, size_t *n_out);

#endif
