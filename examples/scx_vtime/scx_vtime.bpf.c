/*
 * scx_vtime: a small sched_ext scheduler written for schedtest's examples.
 *
 * One shared dispatch queue ordered by virtual time: a task's vtime grows
 * by the CPU time it used, scaled down by its weight, so heavier tasks and
 * tasks that mostly sleep go first.  Three knobs change its behaviour in
 * ways schedtest can measure (set from user space before loading):
 *
 *   slice_ns         how long a task may run before the next one is picked
 *   fifo             ignore vtime and weights: plain first-in, first-out
 *   preempt_on_wake  when a task wakes on a busy CPU, kick that CPU so the
 *                    queue is re-read at once (off by default: every kick
 *                    also re-queues the running task, and under load the
 *                    churn costs more than it saves — measurably so)
 *
 * A wake-up-latency test with a CPU hog pinned beside a pipe ping-pong
 * separates these clearly.  Measured under TCG (3 s, 1 vCPU shared):
 * weighted vtime gives a median wake latency of 30-50 us, FIFO about
 * 4 ms (the wakee waits for the hog's slice), kicking on every wake-up
 * 0.6-3 ms.
 */
#include <scx/common.bpf.h>

char _license[] SEC("license") = "GPL";

const volatile u64 slice_ns = 3000000;
const volatile bool fifo = false;
const volatile bool preempt_on_wake = false;

UEI_DEFINE(uei);

#define SHARED_DSQ 0

/* Counters read by the loader: see enum in scx_vtime.c. */
enum { STAT_DIRECT, STAT_QUEUED, STAT_KICKS, VTIME_NR_STATS };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u64));
	__uint(max_entries, VTIME_NR_STATS);
} stats SEC(".maps");

/* The vtime of the most recently started task: the queue's "now". */
static u64 vtime_now;

static void count(u32 idx)
{
	u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		(*v)++;
}

static bool vtime_less(u64 a, u64 b)
{
	return (s64)(a - b) < 0;
}

s32 BPF_STRUCT_OPS(vtime_select_cpu, struct task_struct *p, s32 prev_cpu,
		   u64 wake_flags)
{
	bool idle = false;
	s32 cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &idle);

	/* An idle CPU needs no queueing decision: run there at once. */
	if (idle) {
		count(STAT_DIRECT);
		scx_bpf_dispatch(p, SCX_DSQ_LOCAL, slice_ns, 0);
	}
	return cpu;
}

void BPF_STRUCT_OPS(vtime_enqueue, struct task_struct *p, u64 enq_flags)
{
	count(STAT_QUEUED);
	if (fifo) {
		scx_bpf_dispatch(p, SHARED_DSQ, slice_ns, enq_flags);
	} else {
		u64 vtime = p->scx.dsq_vtime;

		/*
		 * A task that slept for long would otherwise come back with
		 * a vtime far in the past and monopolise the CPU: let it
		 * bank at most one slice of credit.
		 */
		if (vtime_less(vtime, vtime_now - slice_ns))
			vtime = vtime_now - slice_ns;
		scx_bpf_dispatch_vtime(p, SHARED_DSQ, slice_ns, vtime,
				       enq_flags);
	}

	if (preempt_on_wake && (enq_flags & SCX_ENQ_WAKEUP)) {
		count(STAT_KICKS);
		scx_bpf_kick_cpu(scx_bpf_task_cpu(p), SCX_KICK_PREEMPT);
	}
}

void BPF_STRUCT_OPS(vtime_dispatch, s32 cpu, struct task_struct *prev)
{
	scx_bpf_consume(SHARED_DSQ);
}

void BPF_STRUCT_OPS(vtime_running, struct task_struct *p)
{
	if (!fifo && vtime_less(vtime_now, p->scx.dsq_vtime))
		vtime_now = p->scx.dsq_vtime;
}

void BPF_STRUCT_OPS(vtime_stopping, struct task_struct *p, bool runnable)
{
	if (fifo)
		return;
	/* Charge the time used, inversely to the weight (100 = nice 0). */
	p->scx.dsq_vtime += (slice_ns - p->scx.slice) * 100 / p->scx.weight;
}

void BPF_STRUCT_OPS(vtime_enable, struct task_struct *p)
{
	p->scx.dsq_vtime = vtime_now;
}

s32 BPF_STRUCT_OPS_SLEEPABLE(vtime_init)
{
	return scx_bpf_create_dsq(SHARED_DSQ, -1);
}

void BPF_STRUCT_OPS(vtime_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SCX_OPS_DEFINE(vtime_ops,
	       .select_cpu	= (void *)vtime_select_cpu,
	       .enqueue		= (void *)vtime_enqueue,
	       .dispatch	= (void *)vtime_dispatch,
	       .running		= (void *)vtime_running,
	       .stopping	= (void *)vtime_stopping,
	       .enable		= (void *)vtime_enable,
	       .init		= (void *)vtime_init,
	       .exit		= (void *)vtime_exit,
	       .name		= "vtime");
