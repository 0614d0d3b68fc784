/*
 * scx_vtime: loader for the scx_vtime BPF scheduler (scx_vtime.bpf.c).
 *
 *   scx_vtime [--slice-us N] [--fifo] [--preempt] [--stats-interval S]
 *
 * Loads and attaches the scheduler, then waits until SIGINT/SIGTERM or
 * until the kernel ejects it; prints its counters and the kernel's exit
 * reason.  Exit status: 0 after a normal stop, non-zero when the kernel
 * ejected the scheduler (the reason is printed on stderr).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <scx/common.h>

#include "scx_vtime.bpf.skel.h"

enum { STAT_DIRECT, STAT_QUEUED, STAT_KICKS, VTIME_NR_STATS };

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void read_stats(struct scx_vtime *skel, unsigned long long *out)
{
	int nr_cpus = libbpf_num_possible_cpus();
	unsigned long long values[nr_cpus > 0 ? nr_cpus : 1];

	memset(out, 0, VTIME_NR_STATS * sizeof(*out));
	for (unsigned int i = 0; i < VTIME_NR_STATS; i++) {
		if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.stats), &i,
					values) < 0)
			continue;
		for (int c = 0; c < nr_cpus; c++)
			out[i] += values[c];
	}
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [--slice-us N] [--fifo] [--preempt] "
		"[--stats-interval SECONDS]\n", prog);
}

int main(int argc, char **argv)
{
	unsigned long long slice_us = 3000;
	int fifo = 0, preempt = 0, interval = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--slice-us") && i + 1 < argc) {
			char *end;

			slice_us = strtoull(argv[++i], &end, 10);
			if (*end || slice_us < 50 || slice_us > 1000000) {
				fprintf(stderr, "scx_vtime: --slice-us wants 50 "
					"to 1000000, got %s\n", argv[i]);
				return 2;
			}
		} else if (!strcmp(argv[i], "--fifo")) {
			fifo = 1;
		} else if (!strcmp(argv[i], "--preempt")) {
			preempt = 1;
		} else if (!strcmp(argv[i], "--stats-interval") && i + 1 < argc) {
			interval = atoi(argv[++i]);
		} else {
			usage(argv[0]);
			return 2;
		}
	}

	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	struct scx_vtime *skel = SCX_OPS_OPEN(vtime_ops, scx_vtime);
	skel->rodata->slice_ns = slice_us * 1000;
	skel->rodata->fifo = fifo;
	skel->rodata->preempt_on_wake = preempt;
	SCX_OPS_LOAD(skel, vtime_ops, scx_vtime, uei);
	struct bpf_link *link = SCX_OPS_ATTACH(skel, vtime_ops, scx_vtime);

	printf("scx_vtime: attached (slice %llu us, %s, %s)\n", slice_us,
	       fifo ? "fifo" : "weighted vtime",
	       preempt ? "preempt on wake" : "no preemption");
	fflush(stdout);

	unsigned long long s[VTIME_NR_STATS];
	int ticks = 0;
	while (!stop && !UEI_EXITED(skel, uei)) {
		sleep(1);
		if (interval > 0 && ++ticks % interval == 0) {
			read_stats(skel, s);
			printf("scx_vtime: direct %llu queued %llu kicks %llu\n",
			       s[STAT_DIRECT], s[STAT_QUEUED], s[STAT_KICKS]);
			fflush(stdout);
		}
	}

	read_stats(skel, s);
	printf("scx_vtime: direct %llu queued %llu kicks %llu\n",
	       s[STAT_DIRECT], s[STAT_QUEUED], s[STAT_KICKS]);
	bpf_link__destroy(link);
	long ecode = UEI_REPORT(skel, uei);
	scx_vtime__destroy(skel);
	/* A user-requested stop reports SCX_EXIT_UNREG: exit 0 then. */
	return stop ? 0 : (int)(ecode ? ecode : 1);
}
