// SPDX-License-Identifier: GPL-2.0
/*
 * bench_droplog.c - what the drop log (issue 18, bpf/droplog.h) costs a
 * dropped frame, with BPF_PROG_TEST_RUN: portcullis under
 * BENCH_BASE_POLICY, bench_prog's denied IPv4 TCP frame, in each state of
 * the log, interleaved within every round:
 *
 *   allowed       the allowed IPv4 TCP frame: no drop path, for scale
 *   no reader     droplog_on.until_ns 0 (log off): one load and a test
 *   budget spent  a reader runs but its budget is spent (a flood): a
 *                 look-up, the coarse clock and a not-logged count
 *   event         a reader with budget: every frame writes an event to
 *                 the ring, drained between sub-runs as a reader would
 *
 * Each state is set (budget, reader deadline) before each sub-run. The
 * overheads are paired per round against "no reader". Prints a markdown
 * table and one TARGET line per target, for tests/bench/run.sh.
 *
 * Usage: bench_droplog [--quick] [--rounds N] [--cpu N]
 */
#include <getopt.h>
#include "tests/bench/benchlib.h"
#include "loader/droplog.h"

/* the ring holds PC_DROPLOG_RING_BYTES / 64 = 1,024 events: a sub-run of
 * the event state must not fill it */
#define REPEAT 1000

enum state { ST_ALLOWED, ST_OFF, ST_SPENT, ST_EVENT, ST_MAX };
static const char *const state_name[ST_MAX] = {
	"allowed frame (no drop path)", "denied, no reader (log off)",
	"denied, reader, budget spent", "denied, reader, event written",
};

static int rounds = 15, subruns = 20;
static struct pkt allow_frame, deny_frame;
static struct pc_instance *inst;
static struct pc_droplog *ring;
static unsigned long events_read;

static int on_event(void *ctx, const struct pc_drop_event *e)
{
	(void)ctx; (void)e;
	events_read++;
	return 0;
}

static void set_state(enum state s)
{
	int err = pc_droplog_set_budget(inst, s == ST_EVENT ? REPEAT + 1 : 0);

	if (!err)
		err = pc_droplog_set_reader(inst, s == ST_SPENT || s == ST_EVENT);
	if (err)
		bench_die("drop log state: %s", strerror(-err));
}

static double measure(enum state s)
{
	__u32 action;
	double sum = 0;

	for (int i = 0; i < subruns; i++) {
		set_state(s);
		sum += bench_test_run(inst->prog_fd,
				      s == ST_ALLOWED ? &allow_frame : &deny_frame,
				      REPEAT, &action);
		if (action != (s == ST_ALLOWED ? XDP_PASS : XDP_DROP))
			bench_die("%s: the program returned %s", state_name[s],
				  bench_action_name(action));
		if (s == ST_EVENT && pc_droplog_read(ring) < 0)
			bench_die("reading the ring failed");
	}
	return sum / subruns;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "cpu", required_argument, NULL, 'c' },
		{ 0 }
	};
	double *v[ST_MAX], *d[ST_MAX];
	struct bench_stat st[ST_MAX], ov[ST_MAX];
	unsigned long want_events;
	int o, cpu = 0, err;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'q':
			rounds = 3;
			subruns = 3;
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'c':
			cpu = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [--quick] [--rounds N] [--cpu N]\n", argv[0]);
			return 2;
		}
	}
	if (rounds < 1)
		bench_die("--rounds must be positive");
	/* the budget is per CPU and BPF_PROG_TEST_RUN runs on the caller's */
	bench_start(cpu);
	bench_frame(SH_V4_TCP_ALLOW, &allow_frame);
	bench_frame(SH_V4_TCP_DENY, &deny_frame);
	inst = bench_portcullis(BENCH_BASE_POLICY);
	err = pc_droplog_open(inst, on_event, NULL, &ring);
	if (err)
		bench_die("drop log reader: %s", strerror(-err));

	for (int s = 0; s < ST_MAX; s++) {
		v[s] = calloc(rounds, sizeof(double));
		d[s] = calloc(rounds, sizeof(double));
		if (!v[s] || !d[s])
			bench_die("out of memory");
	}
	for (int r = 0; r < rounds; r++)
		for (int s = 0; s < ST_MAX; s++)
			v[s][r] = measure(s);
	set_state(ST_OFF);
	/* every frame of the event state was an event the reader got */
	want_events = (unsigned long)rounds * subruns * REPEAT;
	if (events_read != want_events)
		bench_die("the reader got %lu events, not %lu", events_read, want_events);
	for (int s = 0; s < ST_MAX; s++) {
		for (int r = 0; r < rounds; r++)
			d[s][r] = v[s][r] - v[ST_OFF][r];
		st[s] = bench_stat_of(v[s], rounds);
		ov[s] = bench_stat_of(d[s], rounds);
	}

	printf("\n### Drop log cost (BPF_PROG_TEST_RUN, ns per frame: median ±half-range, (median difference to \"no reader\", paired per round))\n\n");
	printf("policy: `default allow; deny tcp,udp 23`; the IPv4 TCP frame to port 80 (allowed) and to 23 (denied).\n\n");
	printf("| state | ns per frame | vs no reader |\n|---|---|---|\n");
	for (int s = 0; s < ST_MAX; s++)
		printf("| %s | %.1f ±%.0f%% | %+.1f |\n", state_name[s], st[s].median,
		       bench_spread_pct(st[s]), ov[s].median);
	printf("\nrounds %d, %d sub-runs x repeat %d each, pinned to CPU %d; %lu events read\n\n",
	       rounds, subruns, REPEAT, cpu, events_read);
	bench_target("drop log off: a denied frame <= an allowed one + 2 ns",
		     -ov[ST_ALLOWED].median <= 2.0, "%+.1f ns (target <= +2)",
		     -ov[ST_ALLOWED].median);
	bench_target("drop log, budget spent: <= +10 ns a frame over no reader",
		     ov[ST_SPENT].median <= 10.0, "%+.1f ns (target <= +10)",
		     ov[ST_SPENT].median);

	pc_droplog_close(ring);
	pc_close(inst);
	for (int s = 0; s < ST_MAX; s++) {
		free(v[s]);
		free(d[s]);
	}
	return 0;
}
