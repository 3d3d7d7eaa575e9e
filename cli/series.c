// SPDX-License-Identifier: GPL-2.0
/*
 * series.c - the exporter's bounded, monotonic choice of per-port series
 * (contract and rule in series.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "counters.h"
#include "series.h"

/* bitmaps of PC_PORT_STATS_ENTRIES bits: is_chosen, then shown_idle
 * (ports shown as an idle zero at the last scrape) */
#define BITMAP_BYTES (PC_PORT_STATS_ENTRIES / 8)

static int bit(const uint8_t *m, size_t i)
{
	return m[i / 8] >> (i % 8) & 1;
}

static void set_bit(uint8_t *m, size_t i)
{
	m[i / 8] |= (uint8_t)(1u << (i % 8));
}

int pc_series_init(struct pc_series_state *s, unsigned top)
{
	memset(s, 0, sizeof(*s));
	s->top = top;
	s->is_chosen = calloc(2, BITMAP_BYTES);
	for (unsigned p = 0; p < PC_NUM_PROTOS && s->is_chosen; p++) {
		s->chosen[p] = calloc(top ? top : 1, sizeof(*s->chosen[p]));
		if (!s->chosen[p]) {
			pc_series_free(s);
			return -ENOMEM;
		}
	}
	return s->is_chosen ? 0 : -ENOMEM;
}

void pc_series_free(struct pc_series_state *s)
{
	for (unsigned p = 0; p < PC_NUM_PROTOS; p++)
		free(s->chosen[p]);
	free(s->is_chosen);
	memset(s, 0, sizeof(*s));
}

static int chosen_cmp(const void *a, const void *b)
{
	const struct pc_chosen *x = a, *y = b;

	return x->port < y->port ? -1 : x->port > y->port;
}

static void choose(struct pc_series_state *s, const uint8_t *shown_idle,
		   const struct pc_port_row *r)
{
	struct pc_chosen *c = &s->chosen[r->proto][s->n_chosen[r->proto]++];
	size_t i = (size_t)r->proto * PC_NUM_PORTS + r->port;

	c->port = r->port;
	/* nothing shown yet, or shown as zero at the last scrape: none of its
	 * count was ever in a sample of "other", all of it is its own. Else
	 * "other" keeps what the port has now: it showed part of it, and the
	 * rest, counted since the last scrape, is not an increase of the new
	 * series (a series' first sample never is) */
	if (!s->scrapes || bit(shown_idle, i))
		memset(&c->base, 0, sizeof(c->base));
	else
		c->base = r->c;
	set_bit(s->is_chosen, i);
}

/* Fill free slots of every protocol from ports with traffic (every entry
 * of busy has some), named ones first, busiest first within each kind. */
static int choose_new(struct pc_series_state *s, const struct pc_port_count *busy,
		      size_t n_busy, const uint8_t *named, const uint8_t *shown_idle)
{
	for (unsigned p = 0; p < PC_NUM_PROTOS; p++) {
		size_t room = s->top - s->n_chosen[p];
		struct pc_top kind[2];

		if (!room)
			continue;
		if (pc_top_init(&kind[0], room))
			return -ENOMEM;
		if (pc_top_init(&kind[1], room)) {
			pc_top_free(&kind[0]);
			return -ENOMEM;
		}
		for (size_t i = 0; i < n_busy; i++) {
			const struct pc_port_count *b = &busy[i];
			struct pc_port_row r;

			if (b->index / PC_NUM_PORTS != p || bit(s->is_chosen, b->index))
				continue;
			r.proto = p;
			r.port = b->index % PC_NUM_PORTS;
			r.c = b->c;
			pc_top_offer(&kind[named[b->index] ? 0 : 1], &r);
		}
		for (int k = 0; k < 2; k++) {
			pc_top_sort(&kind[k]);
			for (size_t i = 0; i < kind[k].n && s->n_chosen[p] < s->top; i++)
				choose(s, shown_idle, &kind[k].rows[i]);
			pc_top_free(&kind[k]);
		}
		qsort(s->chosen[p], s->n_chosen[p], sizeof(*s->chosen[p]), chosen_cmp);
	}
	return 0;
}

static int series_port_cmp(const void *a, const void *b)
{
	const struct pc_series *x = a, *y = b;

	return x->port < y->port ? -1 : x->port > y->port;
}

static void add_min(struct pc_counter *a, const struct pc_counter *c,
		    const struct pc_counter *base)
{
	for (int o = 0; o < PC_OUT_MAX; o++) {
		a->packets[o] += c->packets[o] < base->packets[o] ?
				 c->packets[o] : base->packets[o];
		a->bytes[o] += c->bytes[o] < base->bytes[o] ?
			       c->bytes[o] : base->bytes[o];
	}
}

int pc_series_select(struct pc_series_state *s, const struct pc_port_count *busy,
		     size_t n_busy, const uint8_t *named,
		     struct pc_series **out, size_t *n_out)
{
	uint8_t *shown_idle = s->is_chosen + BITMAP_BYTES;
	struct pc_series *v;
	size_t n = 0, b = 0;
	int err;

	err = choose_new(s, busy, n_busy, named, shown_idle);
	if (err)
		return err;
	memset(shown_idle, 0, BITMAP_BYTES);
	v = calloc((size_t)PC_NUM_PROTOS * (s->top + 1), sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (unsigned p = 0; p < PC_NUM_PROTOS; p++) {
		struct pc_counter other = { 0 };
		size_t k = 0, first = n, idle = s->top - s->n_chosen[p];

		/* busy and chosen are both in port order: one merge walk */
		for (; b < n_busy && busy[b].index / PC_NUM_PORTS == p; b++) {
			uint32_t port = busy[b].index % PC_NUM_PORTS;

			while (k < s->n_chosen[p] && s->chosen[p][k].port < port) {
				v[n].proto = p;	/* chosen, no count now */
				v[n++].port = s->chosen[p][k++].port;
			}
			if (k < s->n_chosen[p] && s->chosen[p][k].port == port) {
				add_min(&other, &busy[b].c, &s->chosen[p][k].base);
				v[n].proto = p;
				v[n].port = port;
				v[n++].c = busy[b].c;
				k++;
			} else {
				pc_counter_add(&other, &busy[b].c);
			}
		}
		while (k < s->n_chosen[p]) {
			v[n].proto = p;
			v[n++].port = s->chosen[p][k++].port;
		}
		/* free slots: named ports without traffic, as zero */
		for (uint32_t port = 1; idle && port < PC_NUM_PORTS; port++) {
			size_t i = (size_t)p * PC_NUM_PORTS + port;

			if (!named[i] || bit(s->is_chosen, i))
				continue;
			set_bit(shown_idle, i);
			v[n].proto = p;
			v[n++].port = port;
			idle--;
		}
		qsort(v + first, n - first, sizeof(*v), series_port_cmp);
		v[n].proto = p;
		v[n].port = PC_PORT_OTHER;
		v[n++].c = other;
	}
	s->scrapes++;
	*out = v;
	*n_out = n;
	return 0;
}
