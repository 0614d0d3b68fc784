/*
 * vm.c: launch qemu, watch it, decide the outcome (schedtest/vm.h).
 *
 * Measured facts this code relies on (docs/vm.md): under TCG a microvm
 * boots fastest but needs tsc_early_khz= or it hangs in a few % of boots
 * and shows no NUMA, so NUMA topologies use -M pc; isa-debug-exit gives
 * rc 2*code+1 and pvpanic with -action panic=exit-failure rc 1; a
 * virtio-serial port moves results ~200x faster than a UART.
 */
#include "schedtest/vm.h"

#include "schedtest/error.h"
#include "schedtest/fs.h"
#include "guest/frame.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_QEMU "qemu-system-x86_64"

typedef struct {
    char *p;
    size_t len;
} vrec;

struct st_vm {
    st_vm_opts o;
    st_vm_accel accel;
    char *accel_why;
    char *dir;             /* the caller's workdir, or scratch.path */
    st_fs_scratch scratch; /* ours when opts->workdir was NULL */
    char *console_path, *results_path, *stderr_path;
    pid_t pid;
    int exited, status, killed;
    st_vm_outcome outcome;
    char reason[1024];
    char stage[16];
    st_vm_limits lim;
    /* results stream */
    int rfd;
    char *rbuf;
    size_t rlen, rcap, rpos;
    vrec *recs;
    size_t nrecs, rcaprec;
    uint32_t crc_all;
    int trailer_ok, corrupt;
    char corrupt_why[256];
    /* console */
    off_t console_size, console_streamed;
    char *errtext;
    /* host timestamps, ms since launch */
    double t0, t_last_activity;
    long t_booted, t_workload, t_collect, t_exit;
    /* the guest's own clock (ms since the agent started), from its stage
     * records and heartbeats */
    long guest_workload, guest_last;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

const char *st_vm_outcome_name(st_vm_outcome o)
{
    static const char *const names[] = {"running", "passed", "failed",
                                        "panic", "hang", "truncated",
                                        "start_failed"};
    return (unsigned)o < sizeof names / sizeof names[0] ? names[o] : "?";
}

const char *st_vm_clock_name(st_vm_clock c)
{
    return c == ST_VM_CLOCK_VIRTUAL ? "virtual" : "host";
}

const char *st_vm_accel_name(st_vm_accel a)
{
    return a == ST_VM_ACCEL_KVM ? "kvm" : a == ST_VM_ACCEL_TCG ? "tcg" : "auto";
}

static int or1(int v) { return v > 0 ? v : 1; }

int st_vm_topology_cpus(const st_vm_topology *t)
{
    return or1(t->llcs) * or1(t->cores) * or1(t->threads);
}

int st_vm_topology_name(char **out, const st_vm_topology *t)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%dn%dl%dc%dt", or1(t->numa), or1(t->llcs),
             or1(t->cores), or1(t->threads));
    *out = strdup(buf);
    return *out ? 0 : st_error_set(ST_ENOMEM, "out of memory");
}

/* Host TSC rate in kHz, for tsc_early_khz= on microvm (0 if unknown). */
static long host_tsc_khz(void)
{
    FILE *f = fopen("/sys/devices/system/cpu/cpu0/tsc_freq_khz", "r");
    long khz = 0;
    if (f) {
        if (fscanf(f, "%ld", &khz) != 1)
            khz = 0;
        fclose(f);
        if (khz > 0)
            return khz;
    }
    f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return 0;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        double mhz;
        if (sscanf(line, "cpu MHz : %lf", &mhz) == 1 ||
            sscanf(line, "cpu MHz\t: %lf", &mhz) == 1) {
            khz = (long)(mhz * 1000.0 + 0.5);
            break;
        }
    }
    fclose(f);
    return khz;
}

/* {====================================================================
 * argv
 * ===================================================================== */

typedef struct {
    char **v;
    size_t n, cap;
    int oom;
} argvb;

static void add(argvb *a, const char *s)
{
    if (a->oom)
        return;
    if (a->n + 2 > a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        char **v = realloc(a->v, cap * sizeof *v);
        if (!v) {
            a->oom = 1;
            return;
        }
        a->v = v;
        a->cap = cap;
    }
    if (!(a->v[a->n] = strdup(s))) {
        a->oom = 1;
        return;
    }
    a->v[++a->n] = NULL;
}

static void addf(argvb *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(argvb *a, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    add(a, buf);
}

void st_vm_argv_free(char **argv)
{
    if (!argv)
        return;
    for (char **p = argv; *p; p++)
        free(*p);
    free(argv);
}

static const char *machine_of(const st_vm_opts *o)
{
    if (o->machine)
        return o->machine;
    return or1(o->topo.numa) > 1 ? "pc" : "microvm";
}

/*
 * The virtual clock's options: qemu's instruction counter with idle time
 * skipped (sleep=off; align=off, since aligning to host time is what we
 * leave behind), and an RTC that starts at a fixed date and follows the
 * virtual clock, so the guest's wall time at boot (mixed into the
 * kernel's RNG) is the same in every run.
 */
static void add_virtual_clock(argvb *a, const st_vm_opts *o)
{
    add(a, "-icount");
    addf(a, "shift=%d,align=off,sleep=off", o->icount_shift);
    add(a, "-rtc");
    add(a, "base=2024-01-01T00:00:00,clock=vm");
}

/* A clock/accelerator pair qemu can run, and a shift and seed in range. */
static int check_clock(const st_vm_opts *o, st_vm_accel accel)
{
    if (o->clock == ST_VM_CLOCK_VIRTUAL && accel == ST_VM_ACCEL_KVM)
        return st_error_set(ST_EINVAL, "vm: the virtual clock needs TCG: "
                            "qemu's instruction counter (-icount) does not "
                            "exist under KVM; use the host clock with KVM "
                            "or accel tcg");
    if (o->clock == ST_VM_CLOCK_VIRTUAL &&
        (o->icount_shift < 0 || o->icount_shift > ST_VM_MAX_SHIFT))
        return st_error_set(ST_EINVAL, "vm: icount shift %d: expected 0 to "
                            "%d", o->icount_shift, ST_VM_MAX_SHIFT);
    if (o->seed > ST_VM_MAX_SEED)
        return st_error_set(ST_EINVAL, "vm: seed %lld: expected 0 to %lld",
                            o->seed, ST_VM_MAX_SEED);
    return 0;
}

/*
 * The results port's virtio transport.  On pc/q35, virtio-pci hands the
 * guest's queue notifications to qemu's main-loop thread through an
 * ioeventfd even under TCG, so when the guest sees its write completed
 * depends on host timing: measured, the same seed then gave different
 * metrics.  Handled in the vCPU thread (ioeventfd=off), runs replay.
 */
static const char *results_device(int microvm, st_vm_clock clock)
{
    if (microvm)
        return "virtio-serial-device";
    return clock == ST_VM_CLOCK_VIRTUAL ? "virtio-serial-pci,ioeventfd=off"
                                        : "virtio-serial-pci";
}

/* The kernel command line: ours, then the test's words. */
static void kernel_cmdline(char *cmd, size_t size, const st_vm_opts *o,
                           int microvm)
{
    /* tsc=reliable: the TCG guest's TSC is the host's (icount's virtual
     * ns under the virtual clock), constant and in sync across vCPUs;
     * without it the kernel falls back to hpet (slow
     * to read) on multi-socket pc or to refined-jiffies (4 ms steps) on
     * microvm, and every latency sample is quantised */
    /* oops=panic: an oops in a worker would otherwise leave a guest that
     * looks hung; as a panic it ends at once with the oops in the reason */
    int n = snprintf(cmd, size, "console=ttyS0 quiet panic=-1 "
                     "oops=panic tsc=reliable");
    /* under icount the guest TSC counts virtual ns: 1 GHz exactly, not
     * the host's rate */
    long khz = !microvm ? 0
               : o->clock == ST_VM_CLOCK_VIRTUAL ? 1000000 : host_tsc_khz();
    if (khz > 0)
        n += snprintf(cmd + n, size - (size_t)n, " tsc_early_khz=%ld", khz);
    /* the agent seeds its own random choices from the run's seed */
    if (o->seed >= 0)
        n += snprintf(cmd + n, size - (size_t)n, " schedtest.seed=%lld",
                      o->seed);
    if (o->kargs && *o->kargs)
        snprintf(cmd + n, size - (size_t)n, " %s", o->kargs);
}

int st_vm_argv(char ***out, const st_vm_opts *o, st_vm_accel accel,
               const char *console_path, const char *results_path)
{
    *out = NULL;
    if (!o->kernel || !o->initramfs)
        return st_error_set(ST_EINVAL, "vm: kernel and initramfs are required");
    int rc = check_clock(o, accel);
    if (rc < 0)
        return rc;
    int numa = or1(o->topo.numa), llcs = or1(o->topo.llcs);
    int cores = or1(o->topo.cores), threads = or1(o->topo.threads);
    if (llcs % numa != 0)
        return st_error_set(ST_EINVAL, "vm: topology %dn%dl: the LLC count "
                            "(%d) must be a multiple of the NUMA node count "
                            "(%d); LLCs are counted in total", numa, llcs,
                            llcs, numa);
    int cpus = llcs * cores * threads;
    if (cpus > 255)
        return st_error_set(ST_EINVAL, "vm: %d vCPUs is more than qemu's "
                            "255 for this machine", cpus);
    int mem = o->memory_mb > 0 ? o->memory_mb : 512;
    mem = (mem + numa - 1) / numa * numa;
    const char *machine = machine_of(o);
    int microvm = strcmp(machine, "microvm") == 0;

    argvb a = {0};
    add(&a, o->qemu ? o->qemu : DEFAULT_QEMU);
    add(&a, "-accel");
    add(&a, accel == ST_VM_ACCEL_KVM ? "kvm" : "tcg");
    add(&a, "-cpu");
    add(&a, accel == ST_VM_ACCEL_KVM ? "host" : "max");
    if (o->clock == ST_VM_CLOCK_VIRTUAL)
        add_virtual_clock(&a, o);
    if (o->seed >= 0) {
        /* the guest's random numbers (RDRAND under TCG, virtio-rng) */
        add(&a, "-seed");
        addf(&a, "%lld", o->seed);
    }
    add(&a, "-M");
    add(&a, machine);
    add(&a, "-m");
    addf(&a, "%d", mem);
    add(&a, "-smp");
    addf(&a, "%d,sockets=%d,dies=1,cores=%d,threads=%d", cpus, llcs, cores,
         threads);
    if (numa > 1) {
        int per = cpus / numa;
        for (int n = 0; n < numa; n++) {
            add(&a, "-object");
            addf(&a, "memory-backend-ram,id=mem%d,size=%dM", n, mem / numa);
            add(&a, "-numa");
            addf(&a, "node,nodeid=%d,cpus=%d-%d,memdev=mem%d", n, n * per,
                 (n + 1) * per - 1, n);
        }
        for (int i = 0; i < numa; i++)
            for (int j = i + 1; j < numa; j++) {
                add(&a, "-numa");
                addf(&a, "dist,src=%d,dst=%d,val=20", i, j);
            }
    }
    add(&a, "-nodefaults");
    add(&a, "-no-user-config");
    add(&a, "-display");
    add(&a, "none");
    add(&a, "-no-reboot");
    add(&a, "-serial");
    addf(&a, "file:%s", console_path);
    add(&a, "-device");
    add(&a, results_device(microvm, o->clock));
    add(&a, "-chardev");
    addf(&a, "file,id=results,path=%s", results_path);
    add(&a, "-device");
    add(&a, "virtserialport,chardev=results,name=" ST_FRAME_PORT_NAME);
    add(&a, "-device");
    add(&a, "isa-debug-exit,iobase=0xf4,iosize=0x04");
    add(&a, "-device");
    add(&a, "pvpanic");
    add(&a, "-action");
    add(&a, "panic=exit-failure");
    add(&a, "-kernel");
    add(&a, o->kernel);
    add(&a, "-initrd");
    add(&a, o->initramfs);
    char cmd[4096];
    kernel_cmdline(cmd, sizeof cmd, o, microvm);
    add(&a, "-append");
    add(&a, cmd);
    if (a.oom) {
        st_vm_argv_free(a.v);
        return st_error_set(ST_ENOMEM, "vm: out of memory building argv");
    }
    *out = a.v;
    return 0;
}

/* }==================================================================== */

/* Run `argv` to completion with stdout captured (for -version). */
static int capture(char **out, char *const argv[])
{
    int p[2];
    if (pipe(p) < 0)
        return st_error_set_errno(ST_EIO, errno, "pipe");
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return st_error_set_errno(ST_EIO, errno, "fork");
    }
    if (pid == 0) {
        dup2(p[1], 1);
        int nul = open("/dev/null", O_RDWR);
        dup2(nul, 0);
        dup2(nul, 2);
        close(p[0]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    char buf[4096];
    size_t len = 0;
    ssize_t r;
    while ((r = read(p[0], buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)r;
    close(p[0]);
    buf[len] = '\0';
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return st_error_set(ST_EVMSTART, "%s -version failed; is qemu-system-x86 "
                            "installed (make deps)?", argv[0]);
    char *nl = strchr(buf, '\n');
    if (nl)
        *nl = '\0';
    *out = strdup(buf);
    return *out ? 0 : st_error_set(ST_ENOMEM, "out of memory");
}

int st_vm_qemu_version(char **out, const char *qemu)
{
    static char *cached;
    if (!cached) {
        char *argv[] = {(char *)(qemu ? qemu : DEFAULT_QEMU), "-version", NULL};
        int rc = capture(&cached, argv);
        if (rc < 0)
            return rc;
    }
    *out = strdup(cached);
    return *out ? 0 : st_error_set(ST_ENOMEM, "out of memory");
}

/* {====================================================================
 * Launch, poll, watchdog
 * ===================================================================== */

static char *path_in(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/*
 * An out-of-range input is an error rather than a silent default: an
 * overflowed run hint used to come out negative and give a bogus 30 s run
 * bound.
 */
static int check_bounds(const st_vm_opts *o)
{
    st_vm_timeouts t = o->timeouts;
    const struct {
        const char *name;
        int ms;
    } in[] = {{"run_hint_ms", o->run_hint_ms}, {"timeouts.boot", t.boot},
              {"timeouts.setup", t.setup},     {"timeouts.run", t.run},
              {"timeouts.silence", t.silence}, {"timeouts.grace", t.grace}};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        if (in[i].ms < 0 || in[i].ms > ST_VM_MAX_MS)
            return st_error_set(ST_ERANGE, "vm: %s is %d ms; expected 0 to "
                                "%d ms (a day)", in[i].name, in[i].ms,
                                ST_VM_MAX_MS);
    return 0;
}

/*
 * Host seconds one busy guest second costs under the virtual clock, per
 * shift: examples/scx_vtime's perf_pingpong_vs_hog on a 2-core TCG host,
 * the fastest of three boots (docs/vm.md "Clocks"); a kernel-heavy
 * workload, so a user-space spin costs less.  A shift past the table
 * costs no more than its last entry.
 */
static const double virtual_cost[] = {4.7, 2.8, 1.4, 0.6};

int st_vm_clock_slowdown(st_vm_clock clock, int icount_shift)
{
    if (clock != ST_VM_CLOCK_VIRTUAL)
        return 1;
    int n = (int)(sizeof virtual_cost / sizeof virtual_cost[0]);
    int i = icount_shift < 0 ? 0 : icount_shift >= n ? n - 1 : icount_shift;
    /* x3: room for a loaded host (parallel VMs, builds) before a slow
     * run looks like a hang; at least 3 since boot and BPF loading are
     * not idle time the clock can skip */
    double f = 3.0 * virtual_cost[i];
    return f < 3.0 ? 3 : (int)(f + 0.999);
}

/* explicit_ms, else derived_ms, times the clock's slowdown, in 64 bits and
 * clamped: bounded inputs (check_bounds) times 15 can pass INT_MAX. */
static int bound_ms(int explicit_ms, int64_t derived_ms, int slow)
{
    int64_t v = (explicit_ms > 0 ? explicit_ms : derived_ms) * (int64_t)slow;
    return v > INT_MAX ? INT_MAX : (int)v;
}

void st_vm_limits_of(st_vm_limits *out, const st_vm_opts *o)
{
    const st_vm_timeouts *t = &o->timeouts;
    int64_t run = o->run_hint_ms > 0 ? o->run_hint_ms : 5000;
    int slow = st_vm_clock_slowdown(o->clock, o->icount_shift);
    out->slowdown = slow;
    out->guest_run = bound_ms(t->run, 2 * run + 20000, 1);
    out->host.boot = bound_ms(t->boot, 30000, slow);
    out->host.setup = bound_ms(t->setup, 30000, slow);
    out->host.run = bound_ms(out->guest_run, 0, slow);
    out->host.silence = bound_ms(t->silence, 15000, slow);
    out->host.grace = bound_ms(t->grace, 1000, 1);
}

static int launch(st_vm *vm)
{
    char **argv;
    int rc = st_vm_argv(&argv, &vm->o, vm->accel, vm->console_path,
                        vm->results_path);
    if (rc < 0)
        return rc;
    /* the files exist before qemu so the reader can open them at once */
    int fds[2] = {open(vm->console_path, O_WRONLY | O_CREAT | O_TRUNC, 0644),
                  open(vm->results_path, O_WRONLY | O_CREAT | O_TRUNC, 0644)};
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    int errfd = open(vm->stderr_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (errfd < 0) {
        st_vm_argv_free(argv);
        return st_error_set_errno(ST_EIO, errno, "vm: %s", vm->stderr_path);
    }
    pid_t parent = getpid();
    vm->t0 = now_ms();
    pid_t pid = fork();
    if (pid < 0) {
        close(errfd);
        st_vm_argv_free(argv);
        return st_error_set_errno(ST_EVMSTART, errno, "vm: fork");
    }
    if (pid == 0) {
        /* own process group (so the watchdog kills qemu and its threads
         * together); die with schedtest even on SIGKILL */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        int nul = open("/dev/null", O_RDONLY);
        dup2(nul, 0);
        dup2(errfd, 1);
        dup2(errfd, 2);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGINT, SIG_IGN); /* Ctrl-C is schedtest's to handle */
        execvp(argv[0], argv);
        dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);
    close(errfd);
    st_vm_argv_free(argv);
    vm->pid = pid;
    vm->t_last_activity = vm->t0;
    vm->rfd = open(vm->results_path, O_RDONLY | O_CLOEXEC);
    return 0;
}

static void vm_init(st_vm *vm)
{
    vm->rfd = -1;
    vm->pid = -1;
    vm->outcome = ST_VM_RUNNING;
    vm->t_booted = vm->t_workload = vm->t_collect = vm->t_exit = -1;
    vm->guest_workload = vm->guest_last = -1;
    snprintf(vm->stage, sizeof vm->stage, "boot");
}

static int vm_alloc(st_vm **out, const st_vm_opts *opts)
{
    st_vm *vm = calloc(1, sizeof *vm);
    if (!vm)
        return st_error_set(ST_ENOMEM, "out of memory");
    vm->o = *opts;
    vm_init(vm);
    vm->scratch = (st_fs_scratch)ST_FS_SCRATCH_INIT;
    int rc = check_bounds(&vm->o);
    if (rc < 0) {
        free(vm);
        return rc;
    }
    st_vm_limits_of(&vm->lim, &vm->o);
    if (opts->workdir) {
        vm->dir = strdup(opts->workdir);
        rc = vm->dir ? st_fs_mkdir_p(vm->dir, 0755) : ST_ENOMEM;
    } else {
        rc = st_fs_scratch_new(&vm->scratch, ST_FS_SCRATCH_VM);
        vm->dir = vm->scratch.path;
    }
    if (rc < 0) {
        if (opts->workdir)
            free(vm->dir);
        free(vm);
        return rc;
    }
    vm->console_path = path_in(vm->dir, "console.log");
    vm->results_path = path_in(vm->dir, "results.bin");
    vm->stderr_path = path_in(vm->dir, "qemu.stderr");
    *out = vm;
    return 0;
}

static void kill_group(st_vm *vm)
{
    if (vm->pid <= 0 || vm->exited)
        return;
    kill(-vm->pid, SIGTERM);
    double end = now_ms() + vm->lim.host.grace;
    while (now_ms() < end) {
        int st;
        if (waitpid(vm->pid, &st, WNOHANG) == vm->pid) {
            vm->exited = 1;
            vm->status = st;
            break;
        }
        usleep(5000);
    }
    if (!vm->exited) {
        kill(-vm->pid, SIGKILL);
        int st;
        if (waitpid(vm->pid, &st, 0) == vm->pid) {
            vm->exited = 1;
            vm->status = st;
        }
    }
    vm->killed = 1;
    vm->t_exit = (long)(now_ms() - vm->t0);
}

static void corrupt(st_vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void corrupt(st_vm *vm, const char *fmt, ...)
{
    if (vm->corrupt)
        return;
    vm->corrupt = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(vm->corrupt_why, sizeof vm->corrupt_why, fmt, ap);
    va_end(ap);
}

static const char *payload_get(const char *p, size_t len, const char *key,
                               char *buf, size_t size)
{
    size_t k = strlen(key);
    for (const char *l = p; l < p + len;) {
        const char *nl = memchr(l, '\n', (size_t)(p + len - l));
        size_t ll = nl ? (size_t)(nl - l) : (size_t)(p + len - l);
        if (ll > k && memcmp(l, key, k) == 0 && l[k] == ' ') {
            size_t vl = ll - k - 1 < size - 1 ? ll - k - 1 : size - 1;
            memcpy(buf, l + k + 1, vl);
            buf[vl] = '\0';
            return buf;
        }
        if (!nl)
            break;
        l = nl + 1;
    }
    return NULL;
}

static void on_record(st_vm *vm, const char *p, size_t len)
{
    char type[32], name[32], tms[32];
    long t = (long)(now_ms() - vm->t0);
    if (!payload_get(p, len, "type", type, sizeof type))
        return;
    if (strcmp(type, "stage") != 0 ||
        !payload_get(p, len, "name", name, sizeof name))
        return;
    /* t_ms: the guest's ms since the agent started (heartbeats too) */
    long guest = payload_get(p, len, "t_ms", tms, sizeof tms)
                     ? strtol(tms, NULL, 10) : -1;
    if (guest >= 0)
        vm->guest_last = guest;
    if (strcmp(name, "booted") == 0 && vm->t_booted < 0) {
        vm->t_booted = t;
        snprintf(vm->stage, sizeof vm->stage, "setup");
    } else if (strcmp(name, "workload") == 0 && vm->t_workload < 0) {
        vm->t_workload = t;
        vm->guest_workload = guest;
        snprintf(vm->stage, sizeof vm->stage, "run");
    } else if (strcmp(name, "collect") == 0 && vm->t_collect < 0) {
        vm->t_collect = t;
        snprintf(vm->stage, sizeof vm->stage, "collect");
    }
}

/* Parse every complete frame in rbuf[rpos..rlen). */
static void parse_frames(st_vm *vm)
{
    while (!vm->corrupt && !vm->trailer_ok && vm->rpos < vm->rlen) {
        char *start = vm->rbuf + vm->rpos;
        size_t avail = vm->rlen - vm->rpos;
        char *nl = memchr(start, '\n', avail);
        if (!nl) {
            if (avail > 128)
                corrupt(vm, "garbage after record %zu", vm->nrecs);
            return;
        }
        char hdr[128];
        size_t hl = (size_t)(nl - start);
        if (hl >= sizeof hdr) {
            corrupt(vm, "garbage after record %zu", vm->nrecs);
            return;
        }
        memcpy(hdr, start, hl);
        hdr[hl] = '\0';
        unsigned seq, crc, count;
        size_t len;
        if (sscanf(hdr, "@R %u %zu %x", &seq, &len, &crc) == 3) {
            if (avail < hl + 1 + len + 1)
                return; /* not all there yet */
            char *payload = nl + 1;
            if (seq != vm->nrecs) {
                corrupt(vm, "record %u arrived where %zu was expected", seq,
                        vm->nrecs);
                return;
            }
            if (st_frame_crc32(0, payload, len) != crc || payload[len] != '\n') {
                corrupt(vm, "record %u is damaged (checksum mismatch)", seq);
                return;
            }
            if (vm->nrecs == vm->rcaprec) {
                size_t cap = vm->rcaprec ? vm->rcaprec * 2 : 32;
                vrec *r = realloc(vm->recs, cap * sizeof *r);
                if (!r) {
                    corrupt(vm, "out of memory");
                    return;
                }
                vm->recs = r;
                vm->rcaprec = cap;
            }
            vrec *r = &vm->recs[vm->nrecs];
            r->p = malloc(len + 1);
            if (!r->p) {
                corrupt(vm, "out of memory");
                return;
            }
            memcpy(r->p, payload, len);
            r->p[len] = '\0';
            r->len = len;
            vm->nrecs++;
            vm->crc_all = st_frame_crc32(vm->crc_all, payload, len);
            vm->rpos += hl + 1 + len + 1;
            on_record(vm, r->p, r->len);
        } else if (sscanf(hdr, "@T %u %x", &count, &crc) == 2) {
            if (count != vm->nrecs || crc != vm->crc_all) {
                corrupt(vm, "trailer says %u records, %zu arrived intact",
                        count, vm->nrecs);
                return;
            }
            vm->trailer_ok = 1;
            vm->rpos += hl + 1;
        } else {
            corrupt(vm, "unreadable frame header after record %zu", vm->nrecs);
            return;
        }
    }
}

static void read_results(st_vm *vm)
{
    if (vm->rfd < 0)
        vm->rfd = open(vm->results_path, O_RDONLY | O_CLOEXEC);
    if (vm->rfd < 0)
        return;
    for (;;) {
        if (vm->rcap - vm->rlen < 65536) {
            size_t cap = vm->rcap ? vm->rcap * 2 : 262144;
            char *b = realloc(vm->rbuf, cap);
            if (!b)
                return;
            vm->rbuf = b;
            vm->rcap = cap;
        }
        ssize_t n = read(vm->rfd, vm->rbuf + vm->rlen, vm->rcap - vm->rlen - 1);
        if (n <= 0)
            break;
        vm->rlen += (size_t)n;
        vm->t_last_activity = now_ms();
    }
    parse_frames(vm);
}

static void check_console(st_vm *vm)
{
    struct stat sb;
    if (stat(vm->console_path, &sb) == 0 && sb.st_size != vm->console_size) {
        vm->console_size = sb.st_size;
        vm->t_last_activity = now_ms();
    }
}

static void hang(st_vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hang(st_vm *vm, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(vm->reason, sizeof vm->reason, fmt, ap);
    va_end(ap);
    kill_group(vm);
    vm->outcome = ST_VM_HANG;
    /* the last console lines say where the guest was */
    char *tail;
    if (n > 0 && (size_t)n < sizeof vm->reason &&
        st_vm_console_tail(vm, &tail, 3) == 0) {
        for (char *p = tail; *p; p++)
            if (*p == '\n')
                *p = '|';
        if (*tail)
            snprintf(vm->reason + n, sizeof vm->reason - (size_t)n,
                     "; last console lines: %s", tail);
        free(tail);
    }
}

/* Why the host clock says the VM hangs, in the stage it is in. */
static void host_time_watchdog(st_vm *vm, double now)
{
    const st_vm_timeouts *t = &vm->lim.host;
    double el = now - vm->t0;
    /* under the virtual clock the bounds were scaled; say so, so a user
     * reading "30000 ms" after 4 minutes is not confused */
    char scaled[64] = "";
    if (vm->lim.slowdown > 1)
        snprintf(scaled, sizeof scaled, " (x%d for the virtual clock)",
                 vm->lim.slowdown);
    if (vm->t_booted < 0 && el > t->boot)
        hang(vm, "hang in stage boot: the guest agent did not report within "
             "%d ms of launch%s", t->boot, scaled);
    else if (vm->t_booted >= 0 && vm->t_workload < 0 &&
             el - (double)vm->t_booted > t->setup)
        hang(vm, "hang in stage setup: the workload did not start within %d "
             "ms of boot%s (scheduler attach, cgroups)", t->setup, scaled);
    else if (vm->t_workload >= 0 && el - (double)vm->t_workload > t->run)
        hang(vm, "hang in stage %s: the run did not end within %d ms%s",
             vm->stage, t->run, scaled);
    else if (vm->t_booted >= 0 && now - vm->t_last_activity > t->silence)
        /* only once the agent speaks: a quiet kernel may print nothing
         * for the whole boot, which has its own bound */
        hang(vm, "hang in stage %s: no console output and no record for "
             "%d ms%s", vm->stage, t->silence, scaled);
}

/*
 * The guest's clock went past the run's bound while the agent kept
 * sending heartbeats: a hang however slow the host is (the agent ends
 * every phase on its own clock, so a healthy run never gets there).
 */
static void guest_time_watchdog(st_vm *vm)
{
    if (vm->guest_workload < 0 || vm->t_collect >= 0)
        return;
    long ran = vm->guest_last - vm->guest_workload;
    if (ran > vm->lim.guest_run)
        hang(vm, "hang in stage %s: the guest's clock ran %ld ms past the "
             "workload's start without the run ending (bound %d ms of "
             "guest time)", vm->stage, ran, vm->lim.guest_run);
}

static void watchdog(st_vm *vm)
{
    guest_time_watchdog(vm);
    if (vm->outcome == ST_VM_RUNNING)
        host_time_watchdog(vm, now_ms());
}

/* The console line that explains a panic, if any. */
static int find_panic_line(const st_vm *vm, char *buf, size_t size)
{
    char *tail;
    if (st_vm_console_tail(vm, &tail, 400) < 0)
        return 0;
    int found = 0;
    for (char *l = tail; l && *l;) {
        char *nl = strchr(l, '\n');
        if (nl)
            *nl = '\0';
        /* the first BUG:/Oops line says what, RIP: where, the panic
         * line why the kernel stopped */
        if (!found && (strstr(l, "BUG:") || strstr(l, "Oops:") ||
                       strstr(l, "Kernel panic"))) {
            snprintf(buf, size, "%s", l);
            found = 1;
        } else if (found == 1 && strstr(l, "RIP:") && strlen(buf) + 3 < size) {
            snprintf(buf + strlen(buf), size - strlen(buf), " | %s", l);
            found = 2;
        }
        if (found && strstr(l, "Kernel panic") && !strstr(buf, "Kernel panic")
            && strlen(buf) + 3 < size)
            snprintf(buf + strlen(buf), size - strlen(buf), " | %s", l);
        l = nl ? nl + 1 : NULL;
    }
    free(tail);
    return found;
}

static void read_stderr(st_vm *vm)
{
    free(vm->errtext);
    size_t len;
    if (st_fs_read_file(&vm->errtext, &len, vm->stderr_path) < 0)
        vm->errtext = strdup("");
    st_error_clear();
}

/* The agent's verdict record ("type result"), if it arrived. */
static const vrec *agent_result(const st_vm *vm)
{
    for (size_t i = vm->nrecs; i-- > 0;)
        if (strncmp(vm->recs[i].p, "type result\n", 12) == 0)
            return &vm->recs[i];
    return NULL;
}

static void decide(st_vm *vm)
{
    read_results(vm);
    check_console(vm);
    read_stderr(vm);
    if (vm->outcome == ST_VM_HANG)
        return;
    int rc = WIFEXITED(vm->status) ? WEXITSTATUS(vm->status)
                                   : 128 + WTERMSIG(vm->status);
    const vrec *res = agent_result(vm);
    char status[32] = "", reason[900] = "";
    if (res) {
        payload_get(res->p, res->len, "status", status, sizeof status);
        payload_get(res->p, res->len, "reason", reason, sizeof reason);
    }
    int silent = vm->console_size == 0 && vm->nrecs == 0;
    char pline[512];
    if (rc == 2 * ST_FRAME_EXIT_PASS + 1 || rc == 2 * ST_FRAME_EXIT_FAIL + 1 ||
        rc == 2 * ST_FRAME_EXIT_ERROR + 1 || (rc == 0 && res)) {
        if (!vm->trailer_ok) {
            vm->outcome = ST_VM_TRUNCATED;
            snprintf(vm->reason, sizeof vm->reason,
                     "results truncated: %s", vm->corrupt ? vm->corrupt_why
                     : "the stream ended without its trailer");
            if (!vm->corrupt)
                snprintf(vm->reason, sizeof vm->reason, "results truncated: "
                         "the stream ended without its trailer after %zu "
                         "records", vm->nrecs);
        } else if (strcmp(status, "passed") == 0) {
            vm->outcome = ST_VM_PASSED;
        } else {
            vm->outcome = ST_VM_FAILED;
            snprintf(vm->reason, sizeof vm->reason, "%s",
                     reason[0] ? reason : "the guest agent reported failure");
        }
        snprintf(vm->stage, sizeof vm->stage, "exit");
    } else if (silent) {
        vm->outcome = ST_VM_START_FAILED;
        snprintf(vm->reason, sizeof vm->reason, "qemu failed to start "
                 "(exit status %d): %.900s", rc, vm->errtext);
    } else if (rc == 1 || find_panic_line(vm, pline, sizeof pline)) {
        vm->outcome = ST_VM_PANIC;
        if (find_panic_line(vm, pline, sizeof pline))
            snprintf(vm->reason, sizeof vm->reason, "guest kernel panic in "
                     "stage %s: %s", vm->stage, pline);
        else
            snprintf(vm->reason, sizeof vm->reason, "guest kernel panic in "
                     "stage %s (pvpanic)", vm->stage);
    } else if (rc == 0) {
        vm->outcome = ST_VM_TRUNCATED;
        snprintf(vm->reason, sizeof vm->reason, "the guest powered off or "
                 "rebooted in stage %s before the agent reported (%zu records)",
                 vm->stage, vm->nrecs);
    } else {
        vm->outcome = ST_VM_START_FAILED;
        snprintf(vm->reason, sizeof vm->reason, "qemu exited with status %d "
                 "in stage %s: %.800s", rc, vm->stage, vm->errtext);
    }
    /* strip a trailing newline from stderr-based reasons */
    size_t n = strlen(vm->reason);
    while (n && vm->reason[n - 1] == '\n')
        vm->reason[--n] = '\0';
}

int st_vm_poll(st_vm *vm, int wait_ms)
{
    double end = now_ms() + (wait_ms > 0 ? wait_ms : 0);
    for (;;) {
        if (vm->outcome != ST_VM_RUNNING)
            return 1;
        if (vm->o.interrupted && vm->o.interrupted()) {
            kill_group(vm);
            vm->outcome = ST_VM_HANG;
            snprintf(vm->reason, sizeof vm->reason, "interrupted in stage %s",
                     vm->stage);
            read_stderr(vm);
            return st_error_set(ST_EINTR, "vm: interrupted (Ctrl-C, SIGTERM "
                                "or SIGHUP); qemu was killed in stage %s",
                                vm->stage);
        }
        int st;
        pid_t r = waitpid(vm->pid, &st, WNOHANG);
        if (r == vm->pid) {
            vm->exited = 1;
            vm->status = st;
            vm->t_exit = (long)(now_ms() - vm->t0);
            decide(vm);
            return 1;
        }
        read_results(vm);
        check_console(vm);
        watchdog(vm);
        if (vm->outcome != ST_VM_RUNNING) {
            read_results(vm);
            read_stderr(vm);
            return 1;
        }
        double left = end - now_ms();
        if (left <= 0)
            return 0;
        usleep((useconds_t)(left < 10 ? left * 1000 : 10000));
    }
}

int st_vm_wait(st_vm *vm)
{
    for (;;) {
        int rc = st_vm_poll(vm, 100);
        if (rc != 0)
            return rc < 0 ? rc : 0;
    }
}

void st_vm_kill(st_vm *vm)
{
    if (!vm->exited && vm->pid > 0) {
        kill_group(vm);
        if (vm->outcome == ST_VM_RUNNING) {
            vm->outcome = ST_VM_HANG;
            snprintf(vm->reason, sizeof vm->reason, "killed by the caller in "
                     "stage %s", vm->stage);
        }
    }
}

void st_vm_free(st_vm *vm)
{
    if (!vm)
        return;
    st_vm_kill(vm);
    if (vm->rfd >= 0)
        close(vm->rfd);
    for (size_t i = 0; i < vm->nrecs; i++)
        free(vm->recs[i].p);
    free(vm->recs);
    free(vm->rbuf);
    free(vm->errtext);
    free(vm->accel_why);
    if (!vm->scratch.path)
        free(vm->dir);
    else if (getenv("SCHEDTEST_KEEP_VM"))
        st_fs_scratch_keep(&vm->scratch);
    else
        st_fs_scratch_remove(&vm->scratch);
    free(vm->console_path);
    free(vm->results_path);
    free(vm->stderr_path);
    free(vm);
}

/* }==================================================================== */

/* {====================================================================
 * Acceleration
 * ===================================================================== */

static int kvm_usable(char *why, size_t size)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, size, "/dev/kvm: %s", strerror(errno));
        return 0;
    }
    int v = ioctl(fd, KVM_GET_API_VERSION, 0);
    close(fd);
    if (v != KVM_API_VERSION) {
        snprintf(why, size, "/dev/kvm answers API version %d, not %d", v,
                 KVM_API_VERSION);
        return 0;
    }
    return 1;
}

int st_vm_resolve_accel(st_vm_accel *out, char **why, const char *qemu,
                        const char *kernel, const char *initramfs)
{
    static int cached = -1;
    static char cached_why[512];
    if (cached < 0) {
        char w[256];
        if (!kvm_usable(w, sizeof w)) {
            cached = ST_VM_ACCEL_TCG;
            snprintf(cached_why, sizeof cached_why, "tcg: KVM unusable (%s)", w);
        } else {
            /* A tiny probe boot: a broken nested KVM shows up as "KVM
             * internal error" on stderr and a guest that never reports. */
            st_vm_opts po = {0};
            po.qemu = qemu;
            po.kernel = kernel;
            po.initramfs = initramfs;
            po.kargs = "schedtest.probe=1";
            po.topo.llcs = 1;
            po.memory_mb = 256;
            po.timeouts.boot = 6000;
            po.timeouts.silence = 6000;
            po.timeouts.grace = 200;
            st_vm *vm;
            int rc = vm_alloc(&vm, &po);
            if (rc < 0)
                return rc;
            vm->accel = ST_VM_ACCEL_KVM;
            int ok = 0;
            if (launch(vm) == 0) {
                while (st_vm_poll(vm, 50) == 0) {
                    read_stderr(vm);
                    if (strstr(vm->errtext, "KVM internal error") ||
                        strstr(vm->errtext, "failed to initialize kvm") ||
                        strstr(vm->errtext, "KVM_")) {
                        st_vm_kill(vm);
                        break;
                    }
                }
                ok = vm->outcome == ST_VM_PASSED;
                read_stderr(vm);
            }
            cached = ok ? ST_VM_ACCEL_KVM : ST_VM_ACCEL_TCG;
            if (ok)
                snprintf(cached_why, sizeof cached_why,
                         "kvm: a probe boot under KVM passed in %ld ms",
                         st_vm_wall_ms(vm));
            else {
                char first[200] = "";
                sscanf(vm->errtext, "%199[^\n]", first);
                snprintf(cached_why, sizeof cached_why,
                         "tcg: a probe boot under KVM failed after %ld ms "
                         "(%s%s%s)", st_vm_wall_ms(vm),
                         st_vm_outcome_name(vm->outcome), first[0] ? ": " : "",
                         first);
            }
            st_vm_free(vm);
            st_error_clear();
        }
    }
    *out = (st_vm_accel)cached;
    if (why)
        *why = strdup(cached_why);
    return 0;
}

/* A random seed in 0..ST_VM_MAX_SEED, for a run that was given none. */
static long long random_seed(void)
{
    uint32_t v;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        v = (uint32_t)(ts.tv_nsec ^ (ts.tv_sec << 20) ^ getpid());
    }
    return (long long)v;
}

/* The accelerator the VM runs under, and why. */
static int choose_accel(st_vm *vm)
{
    const st_vm_opts *o = &vm->o;
    if (o->clock == ST_VM_CLOCK_VIRTUAL && o->accel != ST_VM_ACCEL_KVM) {
        vm->accel = ST_VM_ACCEL_TCG;
        vm->accel_why = strdup(o->accel == ST_VM_ACCEL_AUTO
                                   ? "tcg: the virtual clock needs TCG"
                                   : "tcg: requested");
        return 0;
    }
    if (o->accel == ST_VM_ACCEL_AUTO)
        return st_vm_resolve_accel(&vm->accel, &vm->accel_why, o->qemu,
                                   o->kernel, o->initramfs);
    vm->accel = o->accel;
    vm->accel_why = strdup(o->accel == ST_VM_ACCEL_KVM ? "kvm: requested"
                                                       : "tcg: requested");
    return 0;
}

int st_vm_start(st_vm **out, const st_vm_opts *opts)
{
    *out = NULL;
    if (!opts->kernel || !opts->initramfs)
        return st_error_set(ST_EINVAL, "vm: kernel and initramfs are required");
    if (opts->clock == ST_VM_CLOCK_VIRTUAL && opts->accel == ST_VM_ACCEL_KVM)
        return check_clock(opts, ST_VM_ACCEL_KVM);
    if (access(opts->kernel, R_OK) < 0)
        return st_error_set_errno(ST_ENOENT, errno, "vm: kernel %s", opts->kernel);
    st_vm *vm;
    int rc = vm_alloc(&vm, opts);
    if (rc < 0)
        return rc;
    if (vm->o.seed < 0)
        vm->o.seed = random_seed();
    rc = choose_accel(vm);
    if (rc == 0)
        rc = launch(vm);
    if (rc < 0) {
        st_vm_free(vm);
        return rc;
    }
    *out = vm;
    return 0;
}

/* }==================================================================== */

st_vm_outcome st_vm_get_outcome(const st_vm *vm) { return vm->outcome; }
const char *st_vm_reason(const st_vm *vm) { return vm->reason; }
const char *st_vm_stage(const st_vm *vm) { return vm->stage; }
const char *st_vm_stderr(const st_vm *vm) { return vm->errtext ? vm->errtext : ""; }
st_vm_accel st_vm_get_accel(const st_vm *vm) { return vm->accel; }
const char *st_vm_accel_reason(const st_vm *vm)
{
    return vm->accel_why ? vm->accel_why : "";
}
int st_vm_pid(const st_vm *vm) { return vm->pid; }
long long st_vm_seed(const st_vm *vm) { return vm->o.seed; }
const char *st_vm_workdir(const st_vm *vm) { return vm->dir; }
size_t st_vm_record_count(const st_vm *vm) { return vm->nrecs; }

const char *st_vm_record(const st_vm *vm, size_t i, size_t *len)
{
    if (i >= vm->nrecs)
        return NULL;
    if (len)
        *len = vm->recs[i].len;
    return vm->recs[i].p;
}

long st_vm_stage_ms(const st_vm *vm, const char *stage)
{
    if (strcmp(stage, "booted") == 0 || strcmp(stage, "boot") == 0)
        return vm->t_booted;
    if (strcmp(stage, "workload") == 0 || strcmp(stage, "run") == 0)
        return vm->t_workload;
    if (strcmp(stage, "collect") == 0)
        return vm->t_collect;
    if (strcmp(stage, "exit") == 0)
        return vm->t_exit;
    return -1;
}

long st_vm_wall_ms(const st_vm *vm)
{
    return vm->t_exit >= 0 ? vm->t_exit : (long)(now_ms() - vm->t0);
}

int st_vm_console_read(st_vm *vm, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    int fd = open(vm->console_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *out = strdup("");
        return *out ? 0 : st_error_set(ST_ENOMEM, "out of memory");
    }
    off_t size = lseek(fd, 0, SEEK_END);
    size_t n = size > vm->console_streamed ? (size_t)(size - vm->console_streamed) : 0;
    char *buf = malloc(n + 1);
    if (!buf) {
        close(fd);
        return st_error_set(ST_ENOMEM, "out of memory");
    }
    ssize_t r = n ? pread(fd, buf, n, vm->console_streamed) : 0;
    close(fd);
    if (r < 0)
        r = 0;
    buf[r] = '\0';
    vm->console_streamed += r;
    *out = buf;
    *len = (size_t)r;
    return 0;
}

int st_vm_console_tail(const st_vm *vm, char **out, int lines)
{
    *out = NULL;
    int fd = open(vm->console_path, O_RDONLY | O_CLOEXEC);
    off_t size = fd >= 0 ? lseek(fd, 0, SEEK_END) : 0;
    off_t from = size > 32768 ? size - 32768 : 0;
    size_t n = (size_t)(size - from);
    char *buf = malloc(n + 1);
    if (!buf) {
        if (fd >= 0)
            close(fd);
        return st_error_set(ST_ENOMEM, "out of memory");
    }
    ssize_t r = fd >= 0 && n ? pread(fd, buf, n, from) : 0;
    if (fd >= 0)
        close(fd);
    if (r < 0)
        r = 0;
    buf[r] = '\0';
    /* drop carriage returns; keep the last `lines` lines */
    size_t w = 0;
    for (ssize_t i = 0; i < r; i++)
        if (buf[i] != '\r')
            buf[w++] = buf[i];
    buf[w] = '\0';
    while (w && buf[w - 1] == '\n')
        buf[--w] = '\0';
    char *p = buf + w;
    int seen = 0;
    while (p > buf) {
        if (p[-1] == '\n' && ++seen >= lines)
            break;
        p--;
    }
    *out = strdup(p);
    free(buf);
    return *out ? 0 : st_error_set(ST_ENOMEM, "out of memory");
}

/* {====================================================================
 * The folded result
 * ===================================================================== */

static void put_file_str(st_fold_node *o, const char *key, const char *path)
{
    char *s;
    size_t len;
    if (st_fs_read_file(&s, &len, path) == 0) {
        while (len && (s[len - 1] == '\n' || s[len - 1] == ' '))
            s[--len] = '\0';
        st_fold_set_str(o, key, s);
        free(s);
    }
    st_error_clear();
}

static st_fold_node *host_context(const st_vm *vm)
{
    st_fold_node *h = st_fold_obj();
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    int got_model = 0, got_vendor = 0;
    while (f && fgets(line, sizeof line, f) && !(got_model && got_vendor)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        char *v = colon + 2 <= line + strlen(line) ? colon + 2 : colon + 1;
        v[strcspn(v, "\n")] = '\0';
        if (!got_model && strncmp(line, "model name", 10) == 0) {
            st_fold_set_str(h, "cpu_model", v);
            got_model = 1;
        } else if (!got_vendor && strncmp(line, "vendor_id", 9) == 0) {
            st_fold_set_str(h, "cpu_vendor", v);
            got_vendor = 1;
        }
    }
    if (f)
        fclose(f);
    f = fopen("/proc/meminfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        long long v;
        if (sscanf(line, "MemTotal: %lld", &v) == 1)
            st_fold_set_int(h, "total_memory_kb", v);
        else if (sscanf(line, "HugePages_Total: %lld", &v) == 1)
            st_fold_set_int(h, "hugepages_total", v);
        else if (sscanf(line, "HugePages_Free: %lld", &v) == 1)
            st_fold_set_int(h, "hugepages_free", v);
        else if (sscanf(line, "Hugepagesize: %lld", &v) == 1)
            st_fold_set_int(h, "hugepages_size_kb", v);
    }
    if (f)
        fclose(f);
    put_file_str(h, "thp_enabled", "/sys/kernel/mm/transparent_hugepage/enabled");
    put_file_str(h, "thp_defrag", "/sys/kernel/mm/transparent_hugepage/defrag");
    st_fold_node *tun = st_fold_obj();
    char **names;
    size_t n;
    if (st_fs_list(&names, &n, "/proc/sys/kernel") == 0) {
        for (size_t i = 0; i < n; i++)
            if (strncmp(names[i], "sched_", 6) == 0) {
                char p[512];
                snprintf(p, sizeof p, "/proc/sys/kernel/%s", names[i]);
                put_file_str(tun, names[i], p);
            }
        st_fs_list_free(names);
    }
    st_error_clear();
    st_fold_set(h, "sched_tunables", tun);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    st_fold_set_int(h, "online_cpus", online);
    int nodes = 0;
    if (st_fs_list(&names, &n, "/sys/devices/system/node") == 0) {
        for (size_t i = 0; i < n; i++)
            nodes += strncmp(names[i], "node", 4) == 0 &&
                     names[i][4] >= '0' && names[i][4] <= '9';
        st_fs_list_free(names);
    }
    st_error_clear();
    st_fold_set_int(h, "numa_nodes", nodes ? nodes : 1);
    struct utsname u;
    if (uname(&u) == 0) {
        st_fold_set_str(h, "kernel_name", u.sysname);
        st_fold_set_str(h, "kernel_release", u.release);
        st_fold_set_str(h, "arch", u.machine);
    }
    put_file_str(h, "kernel_cmdline", "/proc/cmdline");
    st_fold_set_str(h, "accelerator", st_vm_accel_name(vm->accel));
    char *qv;
    if (st_vm_qemu_version(&qv, vm->o.qemu) == 0) {
        st_fold_set_str(h, "qemu_version", qv);
        free(qv);
    }
    st_error_clear();
    st_fold_set_int(h, "vm_vcpus", st_vm_topology_cpus(&vm->o.topo));
    /* what the timings were measured in, and how to replay the run */
    st_fold_set_str(h, "clock", st_vm_clock_name(vm->o.clock));
    if (vm->o.clock == ST_VM_CLOCK_VIRTUAL)
        st_fold_set_int(h, "icount_shift", vm->o.icount_shift);
    if (vm->o.seed >= 0)
        st_fold_set_int(h, "seed", vm->o.seed);
    st_fold_set_int(h, "vm_memory_mb", vm->o.memory_mb > 0 ? vm->o.memory_mb : 512);
    return h;
}

int st_vm_result(st_fold_node **out, const st_vm *vm)
{
    *out = NULL;
    const char **p = calloc(vm->nrecs + 1, sizeof *p);
    size_t *l = calloc(vm->nrecs + 1, sizeof *l);
    if (!p || !l) {
        free(p);
        free(l);
        return st_error_set(ST_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < vm->nrecs; i++) {
        p[i] = vm->recs[i].p;
        l[i] = vm->recs[i].len;
    }
    st_fold_node *r;
    int rc = st_fold_records(&r, p, l, vm->nrecs);
    free(p);
    free(l);
    if (rc < 0)
        return rc;
    st_fold_set_str(r, "outcome", st_vm_outcome_name(vm->outcome));
    st_fold_set_str(r, "reason", vm->reason);
    if (vm->outcome == ST_VM_HANG)
        st_fold_set_str(r, "stage", vm->stage);
    else
        st_fold_set_str(r, "stage", vm->stage);
    char *tail;
    if (st_vm_console_tail(vm, &tail, 30) == 0) {
        st_fold_set_str(r, "console_tail", tail);
        free(tail);
    }
    st_fold_set_str(r, "accelerator", st_vm_accel_name(vm->accel));
    st_fold_set_str(r, "accelerator_reason", st_vm_accel_reason(vm));
    char *qv;
    if (st_vm_qemu_version(&qv, vm->o.qemu) == 0) {
        st_fold_set_str(r, "qemu_version", qv);
        free(qv);
    }
    st_error_clear();
    st_fold_set_int(r, "boot_ms", vm->t_booted);
    st_fold_set_int(r, "workload_ms", vm->t_workload);
    st_fold_set_int(r, "wall_ms", st_vm_wall_ms(vm));
    st_fold_set_str(r, "machine", machine_of(&vm->o));
    char *topo;
    if (st_vm_topology_name(&topo, &vm->o.topo) == 0) {
        st_fold_set_str(r, "topology", topo);
        free(topo);
    }
    int vcpus = st_vm_topology_cpus(&vm->o.topo);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    st_fold_set_int(r, "vcpus", vcpus);
    st_fold_set_int(r, "cpu_budget", online < vcpus ? online : vcpus);
    st_fold_set_str(r, "qemu_stderr", st_vm_stderr(vm));
    st_fold_set(r, "host", host_context(vm));
    *out = r;
    return 0;
}
