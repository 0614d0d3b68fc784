/*
 * agent.c: schedtest's guest agent, PID 1 of every test VM.
 *
 * It mounts the pseudo file systems, reads the scenario the host put in
 * the initramfs (ST_SCN_GUEST_PATH, parsed by st_scenario_parse: the
 * format and every limit are in include/schedtest/scenario.h), applies
 * sysctls and scheduler knobs,
 * starts the scheduler under test and waits until it is attached, creates
 * the cgroups, forks the workers, runs the phases while a monitor samples
 * the run queues, /proc/schedstat and the sched_ext state, and finally
 * sends every report as framed records on the results port before leaving
 * through isa-debug-exit with the outcome.  Each step's operations
 * (scenario.h, ST_SCN_OPS) run when the step begins.
 */
#include "guest/agent.h"
#include "guest/frame.h"

#include <dirent.h>
#include <errno.h>
#include <linux/bpf.h>
#include <linux/btf.h>
#include <fcntl.h>
#include <sched.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SCHED_LOG "/tmp/scheduler.log"

/* {====================================================================
 * The scenario: every field decided by the host (scenario.h)
 * ===================================================================== */

static st_scenario spec;
/* }==================================================================== */

static int port_fd = -1;
static uint32_t rec_seq, rec_crc;
static uint64_t t_boot_ns;

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "schedtest-agent: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Send one framed record; `payload` is "type X\nkey value\n...". */
static void send_record(const char *payload, size_t len)
{
    if (port_fd < 0)
        return;
    char hdr[96];
    uint32_t crc = st_frame_crc32(0, payload, len);
    int h = snprintf(hdr, sizeof hdr, "@R %u %zu %08x\n", rec_seq, len, crc);
    rec_seq++;
    rec_crc = st_frame_crc32(rec_crc, payload, len);
    write_all(port_fd, hdr, (size_t)h);
    write_all(port_fd, payload, len);
    write_all(port_fd, "\n", 1);
}

/* A record under construction (open_memstream). */
typedef struct {
    FILE *f;
    char *buf;
    size_t len;
} rec;

static void rec_open(rec *r, const char *type)
{
    r->buf = NULL;
    r->len = 0;
    r->f = open_memstream(&r->buf, &r->len);
    fprintf(r->f, "type %s\n", type);
}

static void rec_send(rec *r)
{
    fclose(r->f);
    send_record(r->buf, r->len);
    free(r->buf);
}

static void send_trailer(void)
{
    if (port_fd < 0)
        return;
    char t[64];
    int n = snprintf(t, sizeof t, "@T %u %08x\n", rec_seq, rec_crc);
    write_all(port_fd, t, (size_t)n);
}

static void send_stage(const char *name)
{
    rec r;
    rec_open(&r, "stage");
    fprintf(r.f, "name %s\nt_ms %llu\n", name,
            (unsigned long long)((ag_now_ns() - t_boot_ns) / 1000000));
    rec_send(&r);
    if (strcmp(name, "beat") != 0)
        logmsg("stage %s", name);
}

/* Leave the VM: isa-debug-exit (ioperm, then /dev/port), else power off. */
static void __attribute__((noreturn)) vm_exit(int code)
{
    if (port_fd >= 0) {
        fsync(port_fd);
        close(port_fd);
    }
    sync();
    unsigned char b = (unsigned char)code;
    if (ioperm(0xf4, 4, 1) == 0)
        outb(b, 0xf4);
    int fd = open("/dev/port", O_WRONLY);
    if (fd >= 0) {
        if (pwrite(fd, &b, 1, 0xf4) != 1)
            logmsg("write to /dev/port failed: %s", strerror(errno));
        close(fd);
    }
    logmsg("isa-debug-exit unavailable; powering off");
    reboot(RB_POWER_OFF);
    for (;;)
        pause();
}

/* Final verdict record, trailer, exit. */
static void __attribute__((noreturn)) finish(int code, const char *reason)
{
    rec r;
    rec_open(&r, "result");
    fprintf(r.f, "status %s\n", code == ST_FRAME_EXIT_PASS ? "passed"
                                : code == ST_FRAME_EXIT_FAIL ? "failed"
                                                              : "error");
    if (reason)
        fprintf(r.f, "reason %s\n", reason);
    rec_send(&r);
    send_trailer();
    if (reason)
        logmsg("%s", reason);
    vm_exit(code);
}

/* The step operation running, "step X: operation N (kind)", so a failure
 * deep inside it (a scheduler that does not attach again) names it. */
static char op_context[ST_SCN_NAME_MAX + 64];

static void __attribute__((noreturn, format(printf, 1, 2)))
fail(const char *fmt, ...)
{
    char msg[1024];
    int n = op_context[0] ? snprintf(msg, sizeof msg, "%s: ", op_context) : 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    finish(ST_FRAME_EXIT_FAIL, msg);
}

/* {====================================================================
 * Small file helpers
 * ===================================================================== */

static int write_file(const char *path, const char *value)
{
    int fd = open(path, O_WRONLY | O_TRUNC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, value, strlen(value));
    int err = n < 0 ? -errno : 0;
    close(fd);
    return err;
}

/* Read a small file into buf (NUL-terminated, trailing newline cut). */
static int read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        buf[0] = '\0';
        return -errno;
    }
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0) {
        buf[0] = '\0';
        return -1;
    }
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return 0;
}

/* Read a whole file (malloc'ed, NUL-terminated), NULL on failure. */
static char *read_all(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    size_t cap = 16384, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 4096 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    return buf;
}

/* }==================================================================== */

static void open_port(void);

/*
 * Read the scenario.  A text the parser refuses fails the run with its
 * message; the results port is opened first so the host sees why (the
 * modules that port may need are in the scenario we could not read, so
 * the console has the message too).
 */
static void load_spec(void)
{
    char err[512];
    char *text = read_all(ST_SCN_GUEST_PATH);
    if (!text)
        snprintf(err, sizeof err, "cannot read %s: %s", ST_SCN_GUEST_PATH,
                 strerror(errno));
    else if (st_scenario_parse(&spec, text, err, sizeof err) == 0) {
        free(text);
        return;
    }
    free(text);
    logmsg("scenario %s: %s", ST_SCN_GUEST_PATH, err);
    open_port();
    fail("scenario %s: %s", ST_SCN_GUEST_PATH, err);
}

/* {====================================================================
 * Boot: mounts, modules, the results port, the guest's view of itself
 * ===================================================================== */

static void mounts(void)
{
    mkdir("/proc", 0755);
    mkdir("/sys", 0755);
    mkdir("/dev", 0755);
    mkdir("/tmp", 01777);
    mount("proc", "/proc", "proc", 0, NULL);
    mount("sysfs", "/sys", "sysfs", 0, NULL);
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    mount("tmpfs", "/tmp", "tmpfs", 0, NULL);
    mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
    mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, NULL);
    int fd = open("/dev/console", O_RDWR);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        if (fd > 2)
            close(fd);
    }
    setvbuf(stderr, NULL, _IONBF, 0);
}

/*
 * Parameters of module `path` from the kernel command line ("mod.p=v"):
 * the kernel keeps them for modprobe to pass, and we are modprobe here
 * (qemu's microvm describes virtio-mmio devices as virtio_mmio.device=).
 */
static void module_params(const char *path, const char *cmdline, char *out,
                          size_t size)
{
    char name[128];
    const char *base = strrchr(path, '/');
    snprintf(name, sizeof name, "%s", base ? base + 1 : path);
    char *dot = strstr(name, ".ko");
    if (dot)
        *dot = '\0';
    for (char *p = name; *p; p++)
        if (*p == '-')
            *p = '_';
    size_t n = strlen(name), used = 0;
    out[0] = '\0';
    for (const char *t = cmdline; *t;) {
        t += strspn(t, " ");
        size_t len = strcspn(t, " ");
        if (len > n + 1 && strncmp(t, name, n) == 0 && t[n] == '.' &&
            used + len - n + 1 < size) {
            if (used)
                out[used++] = ' ';
            memcpy(out + used, t + n + 1, len - n - 1);
            used += len - n - 1;
            out[used] = '\0';
        }
        t += len;
    }
}

static void load_modules(const char *cmdline)
{
    for (int i = 0; i < spec.nmodules; i++) {
        char params[1024];
        module_params(spec.modules[i], cmdline, params, sizeof params);
        int fd = open(spec.modules[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            logmsg("module %s: %s", spec.modules[i], strerror(errno));
            continue;
        }
        if (syscall(SYS_finit_module, fd, params, 0) != 0 && errno != EEXIST)
            logmsg("module %s: %s", spec.modules[i], strerror(errno));
        close(fd);
    }
}

/* Find /dev/vportNpM whose name is the results port; wait for probing. */
static void open_port(void)
{
    for (int tries = 0; tries < 300 && port_fd < 0; tries++) {
        DIR *d = opendir("/sys/class/virtio-ports");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char p[512], name[128];
            snprintf(p, sizeof p, "/sys/class/virtio-ports/%s/name", e->d_name);
            if (read_small(p, name, sizeof name) == 0 &&
                strcmp(name, ST_FRAME_PORT_NAME) == 0) {
                snprintf(p, sizeof p, "/dev/%s", e->d_name);
                port_fd = open(p, O_WRONLY | O_CLOEXEC);
                if (port_fd < 0)
                    logmsg("%s: %s", p, strerror(errno));
            }
        }
        if (d)
            closedir(d);
        if (port_fd < 0)
            usleep(10000);
    }
    if (port_fd < 0)
        logmsg("results port '%s' not found", ST_FRAME_PORT_NAME);
}

static int ncpus;
static char start_uptime[64]; /* guest uptime when /init started */
static uint64_t run_seed;

/* The run's seed from "schedtest.seed=N" on the command line (0: none). */
static uint64_t seed_of(const char *cmdline)
{
    const char *p = strstr(cmdline, "schedtest.seed=");
    return p ? strtoull(p + strlen("schedtest.seed="), NULL, 10) : 0;
}

static void send_hello(void)
{
    struct utsname u;
    uname(&u);
    char up[64] = "";
    read_small("/proc/uptime", up, sizeof up);
    ncpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    struct stat sb;
    int has_scx = stat("/sys/kernel/sched_ext/state", &sb) == 0;
    char cs[64] = "";
    read_small("/sys/devices/system/clocksource/clocksource0/current_clocksource",
               cs, sizeof cs);
    rec r;
    rec_open(&r, "hello");
    fprintf(r.f, "kernel %s\nuptime_ms %.0f\ncpus %d\nsched_ext %d\n"
            "clocksource %s\ninit_uptime_ms %.0f\n", u.release,
            atof(up) * 1000.0, ncpus, has_scx, cs[0] ? cs : "-",
            atof(start_uptime) * 1000.0);
    for (int c = 0; c < ncpus; c++) {
        char p[256], pkg[32], die[32], core[32], thr[128], llc[128];
        snprintf(p, sizeof p, "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", c);
        read_small(p, pkg, sizeof pkg);
        snprintf(p, sizeof p, "/sys/devices/system/cpu/cpu%d/topology/die_id", c);
        if (read_small(p, die, sizeof die) < 0)
            strcpy(die, "0");
        snprintf(p, sizeof p, "/sys/devices/system/cpu/cpu%d/topology/core_id", c);
        read_small(p, core, sizeof core);
        snprintf(p, sizeof p, "/sys/devices/system/cpu/cpu%d/topology/thread_siblings_list", c);
        read_small(p, thr, sizeof thr);
        snprintf(p, sizeof p, "/sys/devices/system/cpu/cpu%d/cache/index3/shared_cpu_list", c);
        if (read_small(p, llc, sizeof llc) < 0 || !llc[0])
            strcpy(llc, "-");
        int node = 0;
        for (int n = 0; n < 64; n++) {
            snprintf(p, sizeof p, "/sys/devices/system/cpu/cpu%d/node%d", c, n);
            if (stat(p, &sb) == 0) {
                node = n;
                break;
            }
        }
        fprintf(r.f, "cpu %d %s %s %s %d %s %s\n", c, pkg, die, core, node,
                llc, thr);
    }
    for (int n = 0; n < 64; n++) {
        char p[128], list[256];
        snprintf(p, sizeof p, "/sys/devices/system/node/node%d/cpulist", n);
        if (read_small(p, list, sizeof list) == 0)
            fprintf(r.f, "node %d %s\n", n, list);
    }
    rec_send(&r);
}

/* }==================================================================== */

/* {====================================================================
 * The scheduler under test
 * ===================================================================== */

static pid_t sched_pid = -1;
static int sched_attached;
static char sched_ops[128];

/*
 * BPF programs loaded once the scheduler attached, with the instructions
 * the verifier processed for each (ktstr's `verifier_stats`): verifier
 * cost is what a sched_ext change can silently blow up.  Read at attach
 * time, because a scheduler that dies later takes its programs with it.
 */
#define MAX_PROGS 128
#define PROG_NAME_MAX 128
static struct {
    char name[PROG_NAME_MAX];
    uint32_t verified_insns;
} progs[MAX_PROGS];
static int nprogs;

static long sys_bpf(int cmd, union bpf_attr *attr)
{
    return syscall(SYS_bpf, cmd, attr, sizeof *attr);
}

static int obj_info(int fd, void *info, uint32_t len)
{
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.info.bpf_fd = (uint32_t)fd;
    a.info.info_len = len;
    a.info.info = (uint64_t)(uintptr_t)info;
    return (int)sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &a);
}

/* Bytes that follow a struct btf_type of `kind` with `vlen` members
 * (include/uapi/linux/btf.h), or -1 for a kind this agent does not know. */
static long btf_extra(unsigned kind, unsigned vlen)
{
    switch (kind) {
    case BTF_KIND_INT: case BTF_KIND_VAR: case BTF_KIND_DECL_TAG:
        return 4;
    case BTF_KIND_PTR: case BTF_KIND_FWD: case BTF_KIND_TYPEDEF:
    case BTF_KIND_VOLATILE: case BTF_KIND_CONST: case BTF_KIND_RESTRICT:
    case BTF_KIND_FUNC: case BTF_KIND_FLOAT: case BTF_KIND_TYPE_TAG:
        return 0;
    case BTF_KIND_ARRAY:
        return (long)sizeof(struct btf_array);
    case BTF_KIND_STRUCT: case BTF_KIND_UNION:
        return (long)vlen * (long)sizeof(struct btf_member);
    case BTF_KIND_ENUM:
        return (long)vlen * (long)sizeof(struct btf_enum);
    case BTF_KIND_FUNC_PROTO:
        return (long)vlen * (long)sizeof(struct btf_param);
    case BTF_KIND_DATASEC:
        return (long)vlen * (long)sizeof(struct btf_var_secinfo);
    case BTF_KIND_ENUM64:
        return (long)vlen * (long)sizeof(struct btf_enum64);
    }
    return -1;
}

/*
 * The program's full function name from its BTF: the kernel's own name is
 * cut to 15 characters ("vtime_select_cp").  The main function is the
 * first func_info record; its type is a BTF FUNC whose name is the C
 * name, as bpftool shows it.  Leaves `out` alone when anything is missing.
 */
static void prog_btf_name(int prog_fd, const struct bpf_prog_info *info,
                          char *out, size_t size)
{
    if (!info->btf_id || !info->nr_func_info)
        return;
    struct bpf_func_info fi = {0};
    struct bpf_prog_info i2;
    memset(&i2, 0, sizeof i2);
    i2.nr_func_info = 1;
    i2.func_info_rec_size = sizeof fi;
    i2.func_info = (uint64_t)(uintptr_t)&fi;
    if (obj_info(prog_fd, &i2, sizeof i2) < 0 || !fi.type_id)
        return;
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.btf_id = info->btf_id;
    int btf_fd = (int)sys_bpf(BPF_BTF_GET_FD_BY_ID, &a);
    if (btf_fd < 0)
        return;
    struct bpf_btf_info bi;
    memset(&bi, 0, sizeof bi);
    char *data = NULL;
    if (obj_info(btf_fd, &bi, sizeof bi) < 0 || bi.btf_size < sizeof(
            struct btf_header) || bi.btf_size > (64u << 20) ||
        !(data = malloc(bi.btf_size)))
        goto out;
    uint32_t want = bi.btf_size;
    memset(&bi, 0, sizeof bi);
    bi.btf = (uint64_t)(uintptr_t)data;
    bi.btf_size = want;
    if (obj_info(btf_fd, &bi, sizeof bi) < 0 || bi.btf_size != want)
        goto out;
    struct btf_header h;
    memcpy(&h, data, sizeof h);
    if (h.magic != BTF_MAGIC || (uint64_t)h.hdr_len + h.type_off +
            h.type_len > want || (uint64_t)h.hdr_len + h.str_off +
            h.str_len > want)
        goto out;
    const char *types = data + h.hdr_len + h.type_off;
    const char *strs = data + h.hdr_len + h.str_off;
    size_t at = 0;
    for (uint32_t id = 1; at + sizeof(struct btf_type) <= h.type_len; id++) {
        struct btf_type t;
        memcpy(&t, types + at, sizeof t);
        if (id == fi.type_id) {
            if (BTF_INFO_KIND(t.info) == BTF_KIND_FUNC && t.name_off &&
                t.name_off < h.str_len &&
                memchr(strs + t.name_off, '\0', h.str_len - t.name_off))
                snprintf(out, size, "%s", strs + t.name_off);
            break;
        }
        long extra = btf_extra(BTF_INFO_KIND(t.info), BTF_INFO_VLEN(t.info));
        if (extra < 0)
            break;
        at += sizeof t + (size_t)extra;
    }
out:
    free(data);
    close(btf_fd);
}

static void read_bpf_progs(void)
{
    nprogs = 0;
    uint32_t id = 0;
    while (nprogs < MAX_PROGS) {
        union bpf_attr a;
        memset(&a, 0, sizeof a);
        a.start_id = id;
        if (sys_bpf(BPF_PROG_GET_NEXT_ID, &a) < 0)
            break; /* ENOENT: no more */
        id = a.next_id;
        memset(&a, 0, sizeof a);
        a.prog_id = id;
        int fd = (int)sys_bpf(BPF_PROG_GET_FD_BY_ID, &a);
        if (fd < 0)
            continue; /* unloaded meanwhile */
        struct bpf_prog_info info;
        memset(&info, 0, sizeof info);
        if (obj_info(fd, &info, sizeof info) == 0) {
            snprintf(progs[nprogs].name, sizeof progs[nprogs].name, "%s",
                     info.name[0] ? info.name : "(anonymous)");
            prog_btf_name(fd, &info, progs[nprogs].name,
                          sizeof progs[nprogs].name);
            progs[nprogs].verified_insns = info.verified_insns;
            nprogs++;
        }
        close(fd);
    }
}

static int scx_state(char *buf, size_t n)
{
    return read_small("/sys/kernel/sched_ext/state", buf, n);
}

/* The last lines of the scheduler's output, as repeated "key line". */
static void put_tail(FILE *f, const char *key, const char *path, size_t max)
{
    char *text = read_all(path);
    if (!text)
        return;
    size_t len = strlen(text);
    char *p = len > max ? text + len - max : text;
    char *save = NULL;
    for (char *l = strtok_r(p, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        fprintf(f, "%s %s\n", key, l);
    free(text);
}

/* The last non-empty line of `path`, for failure reasons. */
static void last_line(const char *path, char *out, size_t size)
{
    out[0] = '\0';
    char *text = read_all(path);
    if (!text)
        return;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        snprintf(out, size, "%s", l);
    free(text);
}

/* Kernel log lines about sched_ext (why a scheduler was kicked out). */
static void put_kmsg(FILE *f)
{
    int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
    if (fd < 0)
        return;
    char line[2048];
    for (;;) {
        ssize_t n = read(fd, line, sizeof line - 1);
        if (n < 0) {
            if (errno == EPIPE)
                continue;
            break;
        }
        line[n] = '\0';
        char *msg = strchr(line, ';');
        msg = msg ? msg + 1 : line;
        char *nl = strchr(msg, '\n');
        if (nl)
            *nl = '\0';
        if (strstr(msg, "sched_ext") || strstr(msg, "scx") ||
            strstr(msg, "BPF scheduler"))
            fprintf(f, "kmsg %s\n", msg);
    }
    close(fd);
}

static void send_sched(const char *exit_reason)
{
    rec r;
    rec_open(&r, "sched");
    char state[64] = "";
    int has = scx_state(state, sizeof state) == 0;
    fprintf(r.f, "binary %s\nattached %d\nstate %s\nops %s\n",
            spec.scheduler[0] ? spec.scheduler : "-", sched_attached,
            has ? state : "none", sched_ops[0] ? sched_ops : "-");
    if (exit_reason)
        fprintf(r.f, "exit_reason %s\n", exit_reason);
    for (int i = 0; i < nprogs; i++)
        fprintf(r.f, "bpf_prog %u %s\n", progs[i].verified_insns,
                progs[i].name);
    if (spec.scheduler[0])
        put_tail(r.f, "output", SCHED_LOG, 4096);
    put_kmsg(r.f);
    rec_send(&r);
}

static void start_scheduler(void)
{
    if (!spec.scheduler[0])
        return;
    char *argv[ST_SCN_MAX_SCHED_ARGS + 2];
    argv[0] = spec.scheduler;
    for (int i = 0; i < spec.nsched_args; i++)
        argv[i + 1] = spec.sched_args[i];
    argv[spec.nsched_args + 1] = NULL;
    sched_pid = fork();
    if (sched_pid == 0) {
        /* appended: a scheduler attached again keeps the first output */
        int fd = open(SCHED_LOG, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, 0);
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    struct stat sb;
    int has_scx = stat("/sys/kernel/sched_ext/state", &sb) == 0 &&
                  !spec.sched_not_scx;
    uint64_t t0 = ag_now_ns();
    uint64_t limit = (uint64_t)(has_scx ? spec.attach_timeout_ms
                                        : spec.settle_ms) * 1000000ull;
    uint64_t last_beat = t0;
    for (;;) {
        if (ag_now_ns() - last_beat > 500000000ull) {
            send_stage("beat"); /* BPF loading under TCG can take a while */
            last_beat = ag_now_ns();
        }
        int st;
        if (waitpid(sched_pid, &st, WNOHANG) == sched_pid) {
            sched_pid = -1;
            char why[600], line[400];
            last_line(SCHED_LOG, line, sizeof line);
            if (WIFEXITED(st))
                snprintf(why, sizeof why, "scheduler exited with status %d "
                         "before attaching%s%s", WEXITSTATUS(st),
                         line[0] ? ": " : "", line);
            else
                snprintf(why, sizeof why, "scheduler killed by signal %d "
                         "before attaching%s%s", WTERMSIG(st),
                         line[0] ? ": " : "", line);
            send_sched(why);
            fail("%s", why);
        }
        if (has_scx) {
            char state[64];
            if (scx_state(state, sizeof state) == 0 &&
                strcmp(state, "enabled") == 0) {
                sched_attached = 1;
                read_small("/sys/kernel/sched_ext/root/ops", sched_ops,
                           sizeof sched_ops);
                read_bpf_progs();
                /* let it settle like a non-scx scheduler would */
                usleep((useconds_t)spec.settle_ms * 1000 / 4);
                return;
            }
        }
        if (ag_now_ns() - t0 > limit) {
            if (!has_scx) {
                sched_attached = 1; /* alive for the settle time */
                return;
            }
            send_sched("scheduler did not attach in time");
            fail("scheduler did not attach within %d ms (sched_ext state "
                 "never became 'enabled')", spec.attach_timeout_ms);
        }
        usleep(10000);
    }
}

/* Mid-run check: a scheduler that exits or is kicked out is a stall. */
/*
 * Stop the scheduler: SIGINT, then up to `wait_ms` for it to exit (and
 * for sched_ext to leave the "enabled" state, the kernel's scheduler
 * taking over); SIGKILL after that.
 */
static void stop_scheduler(int wait_ms)
{
    if (sched_pid <= 0)
        return;
    kill(sched_pid, SIGINT);
    uint64_t end = ag_now_ns() + (uint64_t)wait_ms * 1000000ull;
    while (sched_pid > 0 && ag_now_ns() < end) {
        if (waitpid(sched_pid, NULL, WNOHANG) == sched_pid)
            sched_pid = -1;
        else
            usleep(10000);
    }
    if (sched_pid > 0) {
        logmsg("scheduler did not exit within %d ms of SIGINT; killing it",
               wait_ms);
        kill(sched_pid, SIGKILL);
        waitpid(sched_pid, NULL, 0);
        sched_pid = -1;
    }
    char state[64];
    while (scx_state(state, sizeof state) == 0 &&
           strcmp(state, "enabled") == 0 && ag_now_ns() < end)
        usleep(10000);
    sched_attached = 0;
}

static const char *scheduler_lost(void)
{
    if (sched_pid < 0)
        return NULL;
    static char why[600];
    int st;
    if (waitpid(sched_pid, &st, WNOHANG) == sched_pid) {
        sched_pid = -1;
        char line[400];
        last_line(SCHED_LOG, line, sizeof line);
        snprintf(why, sizeof why, "scheduler exited mid-run (%s %d)%s%s",
                 WIFEXITED(st) ? "status" : "signal",
                 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
                 line[0] ? ": " : "", line);
        return why;
    }
    char state[64];
    if (sched_attached && sched_ops[0] && scx_state(state, sizeof state) == 0
        && strcmp(state, "enabled") != 0) {
        snprintf(why, sizeof why, "sched_ext scheduler kicked out mid-run "
                 "(state %s)", state);
        return why;
    }
    return NULL;
}

/* }==================================================================== */

/* {====================================================================
 * Monitor: per-CPU run queue depth, /proc/schedstat, /proc/stat
 * ===================================================================== */

typedef struct {
    uint64_t yld, sched, goidle, ttwu, ttwu_local, run_delay, pcount;
} schedstat_t;

static void read_proc_schedstat(schedstat_t *s)
{
    memset(s, 0, sizeof *s);
    char *t = read_all("/proc/schedstat");
    if (!t)
        return;
    char *save = NULL;
    for (char *l = strtok_r(t, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (strncmp(l, "cpu", 3) != 0)
            continue;
        unsigned long long v[9];
        char *p = strchr(l, ' ');
        if (p && sscanf(p, "%llu %llu %llu %llu %llu %llu %llu %llu %llu",
                        &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                        &v[7], &v[8]) == 9) {
            s->yld += v[0];
            s->sched += v[2];
            s->goidle += v[3];
            s->ttwu += v[4];
            s->ttwu_local += v[5];
            s->run_delay += v[7];
            s->pcount += v[8];
        }
    }
    free(t);
}

/* user and system time of all CPUs, ns (USER_HZ = 100). */
static void read_proc_stat(uint64_t *user, uint64_t *sys)
{
    *user = *sys = 0;
    char buf[512];
    if (read_small("/proc/stat", buf, sizeof buf) < 0)
        return;
    unsigned long long u, n, s;
    if (sscanf(buf, "cpu %llu %llu %llu", &u, &n, &s) == 3) {
        *user = (u + n) * 10000000ull;
        *sys = s * 10000000ull;
    }
}

/*
 * Runnable tasks per CPU: every task in state R counted on the CPU it last
 * ran on (/proc/<pid>/task/<tid>/stat fields 3 and 39).  Not debugfs
 * sched/debug: reading that every 100 ms while pinned tasks ping-pong
 * crashed 6.12.117 guests (NULL deref in pick_task_fair, ~1 boot in 8;
 * 0 in 24 without it).  Returns the number of CPUs.
 */
static int read_nr_running(int *nr, int max)
{
    int n = ncpus < max ? ncpus : max;
    for (int i = 0; i < n; i++)
        nr[i] = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        /* digits only; not ourselves (PID 1 is running while it samples) */
        if (e->d_name[0] < '0' || e->d_name[0] > '9' ||
            strcmp(e->d_name, "1") == 0)
            continue;
        char p[300];
        snprintf(p, sizeof p, "/proc/%s/task", e->d_name);
        DIR *t = opendir(p);
        struct dirent *te;
        while (t && (te = readdir(t))) {
            if (te->d_name[0] < '0' || te->d_name[0] > '9')
                continue;
            char sp[600], buf[1024];
            snprintf(sp, sizeof sp, "/proc/%s/task/%s/stat", e->d_name, te->d_name);
            if (read_small(sp, buf, sizeof buf) < 0)
                continue;
            char *rp = strrchr(buf, ')'); /* comm may hold spaces */
            if (!rp || rp[1] != ' ' || rp[2] != 'R')
                continue;
            /* field 39 (processor) is the 37th after the state */
            char *q = rp + 2;
            int field = 3;
            while (*q && field < 39) {
                if (*q++ == ' ')
                    field++;
            }
            int cpu = atoi(q);
            if (cpu >= 0 && cpu < n)
                nr[cpu]++;
        }
        if (t)
            closedir(t);
    }
    if (d)
        closedir(d);
    return n;
}

static struct {
    uint64_t samples;
    double sum_imb, max_imb, sum_nr;
    uint64_t nr_points;
    int stall;
    char stall_reason[600];
} mon;

static void monitor_sample(FILE *samples, uint64_t t_ms)
{
    int nr[AG_MAX_CPUS];
    int n = read_nr_running(nr, AG_MAX_CPUS);
    if (n <= 0)
        return;
    int mx = 0, mn = INT_MAX;
    fprintf(samples, "s %llu", (unsigned long long)t_ms);
    for (int i = 0; i < n; i++) {
        fprintf(samples, " %d", nr[i]);
        mx = nr[i] > mx ? nr[i] : mx;
        mn = nr[i] < mn ? nr[i] : mn;
        mon.sum_nr += nr[i];
        mon.nr_points++;
    }
    fprintf(samples, "\n");
    double imb = (double)mx / (mn > 0 ? mn : 1);
    mon.sum_imb += imb;
    mon.max_imb = imb > mon.max_imb ? imb : mon.max_imb;
    mon.samples++;
}

/* }==================================================================== */

static int cg_write(const char *cg, const char *file, const char *value)
{
    char p[ST_SCN_NAME_MAX + 64];
    snprintf(p, sizeof p, "/sys/fs/cgroup/%s/%s", cg, file);
    return write_file(p, value);
}

static int cg_make(const char *name)
{
    char p[ST_SCN_NAME_MAX + 32];
    snprintf(p, sizeof p, "/sys/fs/cgroup/%s", name);
    return mkdir(p, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

static void setup_cgroups(void)
{
    if (spec.ncg == 0)
        return;
    write_file("/sys/fs/cgroup/cgroup.subtree_control", "+cpuset");
    write_file("/sys/fs/cgroup/cgroup.subtree_control", "+cpu");
    for (int i = 0; i < spec.ncg; i++) {
        const st_scn_cgroup *c = &spec.cg[i];
        char v[32];
        int e = cg_make(c->name);
        if (e < 0)
            fail("cgroup %s: mkdir: %s", c->name, strerror(-e));
        if (c->cpuset[0] && (e = cg_write(c->name, "cpuset.cpus",
                                          c->cpuset)) < 0)
            fail("cgroup %s: cpuset.cpus %s: %s", c->name, c->cpuset,
                 strerror(-e));
        snprintf(v, sizeof v, "%d", c->weight);
        if (c->weight > 0 && (e = cg_write(c->name, "cpu.weight", v)) < 0)
            fail("cgroup %s: cpu.weight %d: %s", c->name, c->weight,
                 strerror(-e));
    }
}

static void apply_writes(const st_scn_write *w, int n, const char *what)
{
    for (int i = 0; i < n; i++) {
        int e = write_file(w[i].path, w[i].value);
        if (e < 0)
            fail("%s: writing '%s' to %s: %s", what, w[i].value, w[i].path,
                 strerror(-e));
    }
}

/* A cpulist ("1", "0-1,3") as a cpu_set_t. */
static void cpu_set_of(const char *list, cpu_set_t *set)
{
    CPU_ZERO(set);
    char buf[ST_SCN_PATH_MAX];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int a, b;
        int n = sscanf(t, "%d-%d", &a, &b);
        if (n == 1)
            b = a;
        for (int c = a; n >= 1 && c <= b && c < CPU_SETSIZE; c++)
            CPU_SET(c, set);
    }
}

/* sched_setaffinity of the calling process to a cpulist. */
static void pin_to(const char *list)
{
    cpu_set_t set;
    cpu_set_of(list, &set);
    if (sched_setaffinity(0, sizeof set, &set) < 0)
        logmsg("affinity %s: %s", list, strerror(errno));
}

/* {====================================================================
 * Mid-run operations (scenario.h ST_SCN_OPS), run when a step begins
 * ===================================================================== */

/* The workers, for operations on a declared cgroup's workers. */
static ag_shared *run_sh;
static pid_t *run_pids;

/* Every thread of process `pid` onto `set`: a worker may have threads. */
static int set_affinity_all(pid_t pid, const cpu_set_t *set)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/task", (int)pid);
    DIR *d = opendir(p);
    if (!d)
        return sched_setaffinity(pid, sizeof *set, set) < 0 ? -errno : 0;
    int err = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' &&
            sched_setaffinity(atoi(e->d_name), sizeof *set, set) < 0 &&
            errno != ESRCH)
            err = -errno;
    closedir(d);
    return err;
}

/* Index of declared cgroup `name` (st_scenario_check made sure). */
static int cg_index(const char *name)
{
    for (int i = 0; i < spec.ncg; i++)
        if (!strcmp(spec.cg[i].name, name))
            return i;
    return -1;
}

/* The workers of declared cgroup `target` into cgroup `to`, or onto
 * cpus `to` (affinity); 0 or -errno. */
static int for_workers(const char *target, const char *to, int affinity)
{
    int cg = cg_index(target);
    cpu_set_t set;
    if (affinity)
        cpu_set_of(to, &set);
    for (int i = 0; i < run_sh->nslots; i++) {
        if (run_sh->slots[i].cgroup != cg || run_pids[i] <= 0)
            continue;
        char pid[32];
        snprintf(pid, sizeof pid, "%d", (int)run_pids[i]);
        int e = affinity ? set_affinity_all(run_pids[i], &set)
                         : cg_write(to, "cgroup.procs", pid);
        if (e < 0)
            return e;
    }
    return 0;
}

/* Apply one operation; 0 or -errno. */
static int apply_op(const st_scn_op *op)
{
    char p[ST_SCN_NAME_MAX + 32];
    switch (op->kind) {
    case ST_OP_WRITE: return write_file(op->target, op->value);
    case ST_OP_CPUSET: return cg_write(op->target, "cpuset.cpus", op->value);
    case ST_OP_WEIGHT: return cg_write(op->target, "cpu.weight", op->value);
    case ST_OP_CGROUP_ADD: {
        int e = cg_make(op->target);
        if (e == 0 && op->value[0])
            e = cg_write(op->target, "cpuset.cpus", op->value);
        return e;
    }
    case ST_OP_CGROUP_REMOVE:
        snprintf(p, sizeof p, "/sys/fs/cgroup/%s", op->target);
        return rmdir(p) < 0 ? -errno : 0;
    case ST_OP_MOVE: return for_workers(op->target, op->value, 0);
    case ST_OP_AFFINITY: return for_workers(op->target, op->value, 1);
    case ST_OP_DETACH:
        stop_scheduler(spec.attach_timeout_ms);
        return sched_pid > 0 ? -EBUSY : 0;
    case ST_OP_ATTACH:
        start_scheduler(); /* fails the run itself if it cannot attach */
        return 0;
    case ST_OP_COUNT:
        break;
    }
    return -EINVAL;
}

/* A step's operations in order, each recorded as a stimulus event
 * ("op <ms> <kind> <label> <target> <value>"); a failure fails the run
 * naming the step and the operation. */
static void apply_step(const st_scn_step *st, FILE *ev, uint64_t start_ns)
{
    for (int k = 0; k < st->nops; k++) {
        const st_scn_op *op = &st->ops[k];
        snprintf(op_context, sizeof op_context, "step %s: operation %d (%s)",
                 st->label, k + 1, st_op_name(op->kind));
        int e = apply_op(op);
        op_context[0] = '\0';
        if (e < 0)
            fail("step %s: operation %d (%s %s %s): %s", st->label, k + 1,
                 st_op_name(op->kind), op->target[0] ? op->target : "-",
                 op->value[0] ? op->value : "-", strerror(-e));
        fprintf(ev, "op %llu %s %s %s %s\n",
                (unsigned long long)((ag_now_ns() - start_ns) / 1000000),
                st_op_name(op->kind), st->label,
                op->target[0] ? op->target : "-",
                op->value[0] ? op->value : "-");
    }
}

/* }==================================================================== */

static void hang_if(const char *stage)
{
    if (strcmp(spec.fault, "hang") == 0 && strcmp(spec.fault_stage, stage) == 0) {
        logmsg("fault injection: hanging in stage %s", stage);
        for (;;)
            pause();
    }
}

static void put_list(FILE *f, const char *key, const ag_reservoir *r)
{
    fprintf(f, "%s_total %llu\n%s", key, (unsigned long long)r->total, key);
    for (uint32_t i = 0; i < r->n; i++)
        fprintf(f, " %llu", (unsigned long long)r->v[i]);
    fprintf(f, "\n");
}

static void send_worker(const ag_slot *s, int nphase)
{
    rec r;
    rec_open(&r, "worker");
    fprintf(r.f, "cgroup %s\nindex %d\nwork %s\nis_messenger %d\ncompleted %d\n",
            spec.cg[s->cgroup].name, s->index, ag_work_names[s->work],
            s->is_messenger, s->completed);
    fprintf(r.f, "work_units %llu\niterations %llu\ncpu_ns %llu\nwall_ns %llu\n"
            "off_cpu_ns %llu\nmigrations %llu\nmax_gap_ns %llu\n"
            "max_gap_cpu %d\nmax_gap_at_ns %llu\nrun_delay_ns %llu\n"
            "run_count %llu\nsched_cpu_ns %llu\ncpus_used",
            (unsigned long long)s->work_units, (unsigned long long)s->iterations,
            (unsigned long long)s->cpu_ns, (unsigned long long)s->wall_ns,
            (unsigned long long)s->off_cpu_ns, (unsigned long long)s->migrations,
            (unsigned long long)s->max_gap_ns, s->max_gap_cpu,
            (unsigned long long)s->max_gap_at_ns,
            (unsigned long long)s->run_delay_ns, (unsigned long long)s->run_count,
            (unsigned long long)s->sched_cpu_ns);
    for (int c = 0; c < AG_MAX_CPUS; c++)
        if (s->cpus_used[c / 64] & (1ull << (c % 64)))
            fprintf(r.f, " %d", c);
    fprintf(r.f, "\nphase_iterations");
    for (int p = 0; p <= nphase; p++)
        fprintf(r.f, " %llu", (unsigned long long)s->phase_units[p]);
    fprintf(r.f, "\n");
    put_list(r.f, "wake", &s->wake);
    put_list(r.f, "timer", &s->timer);
    put_list(r.f, "request", &s->request);
    rec_send(&r);
}

int main(void)
{
    t_boot_ns = ag_now_ns();
    mounts();
    read_small("/proc/uptime", start_uptime, sizeof start_uptime);
    char cmdline[4096] = "";
    read_small("/proc/cmdline", cmdline, sizeof cmdline);
    load_spec();
    load_modules(cmdline);
    open_port();
    hang_if("boot");
    send_hello();
    send_stage("booted");
    run_seed = seed_of(cmdline);
    if (strstr(cmdline, "schedtest.probe=1"))
        finish(ST_FRAME_EXIT_PASS, NULL);
    if (strcmp(spec.fault, "panic") == 0) {
        logmsg("fault injection: panic through sysrq");
        write_file("/proc/sys/kernel/sysrq", "1");
        write_file("/proc/sysrq-trigger", "c");
    }
    if (strcmp(spec.fault, "fail") == 0)
        fail("fault injection: the test fails");

    /* schedstats feed /proc/schedstat's yld/sched/ttwu counters */
    write_file("/proc/sys/kernel/sched_schedstats", "1");
    apply_writes(spec.writes, spec.nwrites, "setup");
    /* A scheduler that joins at a later phase lets one run compare the
     * kernel's built-in scheduler (the earlier phases) with it. */
    if (spec.sched_from_phase == 0)
        start_scheduler();
    setup_cgroups();
    hang_if("setup");

    /* the workers and their shared region */
    int nw = 0;
    for (int i = 0; i < spec.ncg; i++)
        nw += spec.cg[i].workers;
    if (nw > AG_MAX_WORKERS)
        fail("too many workers: %d (at most %d)", nw, AG_MAX_WORKERS);
    size_t shsize = sizeof(ag_shared) + (size_t)nw * sizeof(ag_slot);
    ag_shared *sh = mmap(NULL, shsize, PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        fail("mmap of %zu bytes for %d workers: %s", shsize, nw, strerror(errno));
    sh->nslots = nw;
    sh->seed = run_seed;
    if (spec.ncg > 0) {
        const st_work_params *p0 = &spec.cg[0].params;
        sh->spin_us = p0->spin_us;
        sh->sleep_us = p0->sleep_us;
        sh->burst_us = p0->burst_us;
        sh->work_us = p0->work_us;
    }
    int k = 0;
    for (int i = 0; i < spec.ncg; i++) {
        const st_scn_cgroup *c = &spec.cg[i];
        if ((int)c->work >= W_COUNT)
            fail("cgroup %s: work type %s is not implemented by this agent",
                 c->name, st_work_name(c->work));
        int fan = c->fanout > 0 ? c->fanout : c->workers - 1;
        int messenger = -1, in_group = 0;
        for (int j = 0; j < c->workers; j++, k++) {
            ag_slot *s = &sh->slots[k];
            s->cgroup = i;
            s->index = j;
            s->work = (ag_work)c->work;
            s->attrs = c->attrs;
            s->params = c->params;
            s->rd_fd = s->wr_fd = -1;
            if (c->work == ST_WORK_PIPE_IO && j % 2 == 1) {
                int a2b[2], b2a[2];
                if (pipe(a2b) < 0 || pipe(b2a) < 0)
                    fail("pipe: %s", strerror(errno));
                ag_slot *a = &sh->slots[k - 1];
                a->wr_fd = a2b[1];
                a->rd_fd = b2a[0];
                s->rd_fd = a2b[0];
                s->wr_fd = b2a[1];
                a->peer = k;
                s->peer = k - 1;
            }
            if (c->work == ST_WORK_FUTEX_FAN_OUT) {
                if (in_group == 0) {
                    messenger = k;
                    s->is_messenger = 1;
                }
                s->peer = messenger;
                in_group = (in_group + 1) % (fan + 1);
            }
        }
        if (c->work == ST_WORK_PIPE_IO && c->workers % 2)
            fail("cgroup %s: PipeIo needs an even number of workers", c->name);
    }
    pid_t *pids = calloc((size_t)nw, sizeof *pids);
    run_sh = sh;
    run_pids = pids;
    for (int i = 0; i < nw; i++) {
        pid_t p = fork();
        if (p < 0)
            fail("fork: %s", strerror(errno));
        if (p == 0) {
            ag_slot *s = &sh->slots[i];
            for (int j = 0; j < nw; j++) {
                ag_slot *o = &sh->slots[j];
                if (o->rd_fd >= 0 && o->rd_fd != s->rd_fd && o->rd_fd != s->wr_fd)
                    close(o->rd_fd);
                if (o->wr_fd >= 0 && o->wr_fd != s->rd_fd && o->wr_fd != s->wr_fd)
                    close(o->wr_fd);
            }
            char cp[256], pid[32];
            snprintf(cp, sizeof cp, "/sys/fs/cgroup/%s/cgroup.procs",
                     spec.cg[s->cgroup].name);
            snprintf(pid, sizeof pid, "%d", getpid());
            write_file(cp, pid);
            if (spec.cg[s->cgroup].attrs.affinity[0])
                pin_to(spec.cg[s->cgroup].attrs.affinity);
            ag_worker_main(sh, i);
            _exit(0);
        }
        pids[i] = p;
    }
    for (int i = 0; i < nw; i++) {
        if (sh->slots[i].rd_fd >= 0)
            close(sh->slots[i].rd_fd);
        if (sh->slots[i].wr_fd >= 0)
            close(sh->slots[i].wr_fd);
    }
    for (int i = 0; i < nw; i++)
        while (!sh->slots[i].ready)
            usleep(500);

    /* run: BASELINE, then every step */
    FILE *ev = NULL, *samples = NULL, *phases = NULL;
    char *evbuf = NULL, *sbuf = NULL, *pbuf = NULL;
    size_t evlen = 0, slen = 0, plen = 0;
    ev = open_memstream(&evbuf, &evlen);
    samples = open_memstream(&sbuf, &slen);
    phases = open_memstream(&pbuf, &plen);
    schedstat_t ss_start, ss_end, ss_p0, ss_p1;
    uint64_t ut0, st0, ut1, st1;
    read_proc_schedstat(&ss_start);
    ss_p0 = ss_start;
    read_proc_stat(&ut0, &st0);
    sh->start_ns = ag_now_ns();
    __atomic_store_n(&sh->go, 1, __ATOMIC_SEQ_CST);
    send_stage("workload");
    hang_if("run");
    int nphase = spec.nsteps + 1;
    uint64_t t_phase = sh->start_ns, last_beat = sh->start_ns;
    const char *lost = NULL;
    for (int ph = 0; ph < nphase && !lost; ph++) {
        const char *label = ph == 0 ? "BASELINE" : spec.steps[ph - 1].label;
        int ms = ph == 0 ? spec.duration_ms : spec.steps[ph - 1].ms;
        uint64_t it = 0;
        for (int i = 0; i < nw; i++)
            it += sh->slots[i].iterations;
        if (ph > 0 && ph == spec.sched_from_phase)
            start_scheduler(); /* before the ops: they may detach it */
        if (ph > 0)
            apply_step(&spec.steps[ph - 1], ev, sh->start_ns);
        if (ph > 0 && (ph == spec.sched_from_phase ||
                       spec.steps[ph - 1].nops > 0)) {
            /* The phase begins once its operations are done (a
             * scheduler attached), so their time counts toward neither
             * phase. */
            t_phase = ag_now_ns();
            it = 0;
            for (int i = 0; i < nw; i++)
                it += sh->slots[i].iterations;
            read_proc_schedstat(&ss_p0);
        }
        fprintf(ev, "event %llu %s %llu\n",
                (unsigned long long)((t_phase - sh->start_ns) / 1000000), label,
                (unsigned long long)it);
        for (int i = 0; i < nw; i++)
            sh->slots[i].phase_units[ph] = sh->slots[i].iterations;
        uint64_t end = t_phase + (uint64_t)ms * 1000000ull;
        uint64_t pu0, ps0;
        read_proc_stat(&pu0, &ps0);
        double nr_sum0 = mon.sum_nr;
        uint64_t nr_pts0 = mon.nr_points;
        for (;;) {
            uint64_t now = ag_now_ns();
            if (now >= end)
                break;
            if (strcmp(spec.fault, "kill_scheduler") == 0 && sched_pid > 0 &&
                now - sh->start_ns > (uint64_t)spec.duration_ms * 500000ull) {
                logmsg("fault injection: killing the scheduler mid-run");
                kill(sched_pid, SIGKILL);
                spec.fault[0] = '\0';
                usleep(50000);
            }
            if ((lost = scheduler_lost()))
                break;
            monitor_sample(samples, (now - sh->start_ns) / 1000000);
            if (now - last_beat > 500000000ull) {
                send_stage("beat");
                last_beat = now;
            }
            uint64_t left = end - ag_now_ns();
            uint64_t step = (uint64_t)spec.monitor_ms * 1000000ull;
            if (left < step)
                step = left;
            if ((int64_t)left > 0)
                usleep((useconds_t)(step / 1000));
        }
        uint64_t t_end = ag_now_ns();
        uint64_t it1 = 0;
        for (int i = 0; i < nw; i++)
            it1 += sh->slots[i].iterations;
        uint64_t pu1, ps1;
        read_proc_stat(&pu1, &ps1);
        read_proc_schedstat(&ss_p1);
        fprintf(phases, "phase %d %s %llu %llu %llu %llu %llu %llu %.3f\n", ph,
                label, (unsigned long long)(t_end - t_phase),
                (unsigned long long)(it1 - it),
                (unsigned long long)(pu1 - pu0), (unsigned long long)(ps1 - ps0),
                (unsigned long long)(ss_p1.run_delay - ss_p0.run_delay),
                (unsigned long long)(ss_p1.pcount - ss_p0.pcount),
                mon.nr_points > nr_pts0
                    ? (mon.sum_nr - nr_sum0) / (double)(mon.nr_points - nr_pts0)
                    : 0.0);
        ss_p0 = ss_p1;
        t_phase = t_end;
    }
    for (int i = 0; i < nw; i++)
        sh->slots[i].phase_units[nphase] = sh->slots[i].iterations;
    __atomic_store_n(&sh->stop, 1, __ATOMIC_SEQ_CST);
    read_proc_schedstat(&ss_end);
    read_proc_stat(&ut1, &st1);
    if (lost) {
        mon.stall = 1;
        snprintf(mon.stall_reason, sizeof mon.stall_reason, "%s", lost);
    }

    /* collect the workers (bounded: a stuck one is killed, not waited) */
    uint64_t deadline = ag_now_ns() + 3000000000ull;
    int left = nw;
    while (left > 0) {
        int st;
        pid_t p = waitpid(-1, &st, WNOHANG);
        if (p > 0) {
            for (int i = 0; i < nw; i++)
                if (pids[i] == p) {
                    pids[i] = 0;
                    left--;
                }
            continue;
        }
        if (ag_now_ns() > deadline) {
            for (int i = 0; i < nw; i++)
                if (pids[i] > 0)
                    kill(pids[i], SIGKILL);
            deadline = UINT64_MAX;
        }
        usleep(2000);
    }
    send_stage("collect");

    for (int i = 0; i < nw; i++)
        send_worker(&sh->slots[i], nphase);
    fclose(ev);
    fclose(samples);
    fclose(phases);
    rec r;
    rec_open(&r, "events");
    fwrite(evbuf, 1, evlen, r.f);
    rec_send(&r);
    rec_open(&r, "phases");
    fwrite(pbuf, 1, plen, r.f);
    rec_send(&r);
    rec_open(&r, "monitor");
    fprintf(r.f, "total_samples %llu\nmax_imbalance_ratio %.6f\n"
            "avg_imbalance_ratio %.6f\navg_nr_running %.6f\nstall_detected %d\n",
            (unsigned long long)mon.samples, mon.max_imb,
            mon.samples ? mon.sum_imb / (double)mon.samples : 0.0,
            mon.nr_points ? mon.sum_nr / (double)mon.nr_points : 0.0, mon.stall);
    if (mon.stall)
        fprintf(r.f, "stall_reason %s\n", mon.stall_reason);
    fprintf(r.f, "schedstat %llu %llu %llu %llu %llu %llu %llu\n",
            (unsigned long long)(ss_end.run_delay - ss_start.run_delay),
            (unsigned long long)(ss_end.pcount - ss_start.pcount),
            (unsigned long long)(ss_end.sched - ss_start.sched),
            (unsigned long long)(ss_end.yld - ss_start.yld),
            (unsigned long long)(ss_end.goidle - ss_start.goidle),
            (unsigned long long)(ss_end.ttwu - ss_start.ttwu),
            (unsigned long long)(ss_end.ttwu_local - ss_start.ttwu_local));
    fprintf(r.f, "cputime %llu %llu\n", (unsigned long long)(ut1 - ut0),
            (unsigned long long)(st1 - st0));
    fwrite(sbuf, 1, slen, r.f);
    rec_send(&r);
    if (lost)
        usleep(300000); /* let the kernel log why the scheduler went away */
    send_sched(lost);

    if (strcmp(spec.fault, "truncate") == 0) {
        /* a stream cut mid-record, no trailer: the host must notice */
        static const char cut[] = "@R 999 100 00000000\ntype worker\ncgr";
        write_all(port_fd, cut, sizeof cut - 1);
        vm_exit(ST_FRAME_EXIT_PASS);
    }
    stop_scheduler(1000);
    if (lost)
        finish(ST_FRAME_EXIT_FAIL, lost);
    for (int i = 0; i < nw; i++)
        if (!sh->slots[i].completed)
            fail("worker %d (%s) did not complete", i,
                 ag_work_names[sh->slots[i].work]);
    finish(ST_FRAME_EXIT_PASS, NULL);
}
