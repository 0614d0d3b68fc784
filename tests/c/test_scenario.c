/*
 * test_scenario.c: the scenario wire format.  A scenario filling every
 * field round-trips through st_scenario_write and st_scenario_parse; the
 * reader refuses each kind of bad text with "line N: ..."; the check
 * names the field at fault.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schedtest/scenario.h"

static char err[512];

/* A scenario where every field holds something other than zero, work
 * types from `first` on (16 cgroups cannot hold all 21 at once). */
static void fill(st_scenario *s, int first)
{
    memset(s, 0, sizeof *s);
    s->duration_ms = 2000;
    s->settle_ms = 300;
    s->attach_timeout_ms = 20000;
    s->monitor_ms = 100;
    snprintf(s->scheduler, sizeof s->scheduler, "/schedtest/sched/scx %%x");
    s->nsched_args = ST_SCN_MAX_SCHED_ARGS;
    for (int i = 0; i < s->nsched_args; i++)
        snprintf(s->sched_args[i], ST_SCN_PATH_MAX, "%s",
                 i == 0 ? "" : i == 1 ? "-" : i == 2 ? "two words\nand=more"
                 : "--slice-us");
    s->sched_from_phase = 1;
    s->sched_not_scx = 1;
    s->nmodules = ST_SCN_MAX_MODULES;
    for (int i = 0; i < s->nmodules; i++)
        snprintf(s->modules[i], ST_SCN_PATH_MAX, "/lib/modules/m%d.ko", i);
    s->nwrites = ST_SCN_MAX_WRITES;
    for (int i = 0; i < s->nwrites; i++) {
        snprintf(s->writes[i].path, ST_SCN_PATH_MAX, "/proc/sys/k/x%d", i);
        snprintf(s->writes[i].value, ST_SCN_PATH_MAX, "v %d", i);
    }
    s->ncg = ST_SCN_MAX_CGROUPS;
    for (int i = 0; i < s->ncg; i++) {
        st_scn_cgroup *c = &s->cg[i];
        snprintf(c->name, sizeof c->name, "cg%d", i);
        c->workers = 2;
        c->work = (st_work)((first + i) % ST_WORK_COUNT);
        snprintf(c->cpuset, sizeof c->cpuset, "0-1,%d", i);
        c->weight = 100 + i;
        c->fanout = 1 + i;
#define ST_X(f, doc) c->params.f = (uint32_t)(ST_SCN_MAX_PARAM - i);
        ST_WORK_PARAMS(ST_X)
#undef ST_X
        c->attrs.policy = (st_sched_policy)(i % ST_POLICY_COUNT);
        int rt = c->attrs.policy == ST_POLICY_FIFO ||
                 c->attrs.policy == ST_POLICY_RR;
        c->attrs.priority = rt ? 1 + i : 0;
        c->attrs.nice = c->attrs.policy <= ST_POLICY_BATCH ? -20 + i : 0;
        snprintf(c->attrs.affinity, sizeof c->attrs.affinity, "%d", i);
        snprintf(c->attrs.comm, sizeof c->attrs.comm, "w %d%%xxxxxxxxx", i);
    }
    s->nsteps = ST_SCN_MAX_STEPS;
    for (int i = 0; i < s->nsteps; i++) {
        st_scn_step *st = &s->steps[i];
        st->ms = 500 + i;
        snprintf(st->label, sizeof st->label, "Step[%d]", i);
        st->nops = 1;
        st->ops[0].kind = ST_OP_WRITE;
        snprintf(st->ops[0].target, ST_SCN_PATH_MAX, "/tmp/f%d", i);
        snprintf(st->ops[0].value, ST_SCN_PATH_MAX, "x y");
    }
    /* every kind of operation: step 1 (the scheduler joins there) ... */
    static const struct { st_scn_op_kind k; const char *t, *v; } ops[] = {
        {ST_OP_CGROUP_ADD, "extra", "0-1"}, {ST_OP_CPUSET, "cg0", "1"},
        {ST_OP_WEIGHT, "extra", "200"}, {ST_OP_MOVE, "cg2", "extra"},
        {ST_OP_AFFINITY, "cg3", "0"}, {ST_OP_DETACH, "", ""},
        {ST_OP_ATTACH, "", ""}, {ST_OP_MOVE, "cg2", "cg2"},
        {ST_OP_CGROUP_REMOVE, "extra", ""},
    };
    st_scn_step *st = &s->steps[0];
    memset(st->ops, 0, sizeof st->ops); /* no bytes left after a NUL */
    st->nops = 9;
    for (int k = 0; k < st->nops; k++) {
        st->ops[k].kind = ops[k].k;
        snprintf(st->ops[k].target, ST_SCN_PATH_MAX, "%s", ops[k].t);
        snprintf(st->ops[k].value, ST_SCN_PATH_MAX, "%s", ops[k].v);
    }
    /* ... and a step with as many as a step holds */
    st = &s->steps[1];
    memset(st->ops, 0, sizeof st->ops);
    st->nops = ST_SCN_MAX_OPS;
    for (int k = 0; k < st->nops; k++) {
        st->ops[k].kind = ST_OP_WRITE;
        snprintf(st->ops[k].target, ST_SCN_PATH_MAX, "/tmp/o%d", k);
        snprintf(st->ops[k].value, ST_SCN_PATH_MAX, "%d", k);
    }
    s->npayloads = ST_SCN_MAX_PAYLOADS;
    for (int i = 0; i < s->npayloads; i++) {
        st_scn_payload *p = &s->payloads[i];
        snprintf(p->name, sizeof p->name, "load %d", i);
        snprintf(p->path, sizeof p->path, "/schedtest/payload/%d/prog", i);
        p->nargs = i == 0 ? ST_SCN_MAX_PAYLOAD_ARGS : i;
        for (int a = 0; a < p->nargs; a++)
            snprintf(p->args[a], ST_SCN_PATH_MAX, "arg %d", a);
        snprintf(p->cgroup, sizeof p->cgroup, "%s", i % 2 ? "cg1" : "");
        p->attrs.policy = ST_POLICY_RR;
        p->attrs.priority = 50;
        snprintf(p->attrs.affinity, sizeof p->attrs.affinity, "0-1");
        snprintf(p->attrs.comm, sizeof p->attrs.comm, "payload");
        p->from_phase = i % (s->nsteps + 1);
        p->interrupt_at_end = 1;
        p->timeout_ms = 5000;
    }
    snprintf(s->fault, sizeof s->fault, "hang");
    snprintf(s->fault_stage, sizeof s->fault_stage, "run");
}

static char *text_of(const st_scenario *s)
{
    char *text;
    size_t len;
    if (st_scenario_write(s, &text, &len, err, sizeof err) < 0)
        fail_msg("write: %s", err);
    assert_int_equal(strlen(text), len);
    return text;
}

static void test_scenario__roundtrip_every_field(void **state)
{
    (void)state;
    static st_scenario a, b;
    for (int first = 0; first < ST_WORK_COUNT; first += ST_SCN_MAX_CGROUPS) {
        fill(&a, first);
        char *text = text_of(&a);
        if (st_scenario_parse(&b, text, err, sizeof err) < 0)
            fail_msg("parse: %s", err);
        assert_memory_equal(&a, &b, sizeof a);
        /* the text is stable: writing what was read gives it back */
        char *again = text_of(&b);
        assert_string_equal(text, again);
        free(again);
        free(text);
    }
}

static void test_scenario__names(void **state)
{
    (void)state;
    for (int w = 0; w < ST_WORK_COUNT; w++) {
        assert_int_equal(st_work_from_name(st_work_name((st_work)w)), w);
        assert_int_equal(st_work_from_name(st_work_suite_name((st_work)w)),
                         w);
    }
    assert_int_equal(st_work_from_name("PipeIo"), ST_WORK_PIPE_IO);
    assert_int_equal(st_work_from_name("pipe_pingpong"), ST_WORK_PIPE_IO);
    assert_int_equal(st_work_from_name("nope"), -1);
    assert_null(st_work_name(ST_WORK_COUNT));
    for (int p = 0; p < ST_POLICY_COUNT; p++)
        assert_int_equal(st_policy_from_name(st_policy_name(
            (st_sched_policy)p)), p);
    assert_int_equal(st_policy_from_name("deadline"), -1);
    for (int k = 0; k < ST_OP_COUNT; k++)
        assert_int_equal(st_op_from_name(st_op_name((st_scn_op_kind)k)), k);
    assert_int_equal(st_op_from_name("fork"), -1);
}

/* The text of a full scenario with the first `from` replaced by `to`. */
static char *edited(const char *from, const char *to)
{
    static st_scenario s;
    fill(&s, 0);
    char *text = text_of(&s);
    char *at = strstr(text, from);
    if (!at)
        fail_msg("'%s' not in the text", from);
    size_t n = strlen(text) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    snprintf(out, n, "%.*s%s%s", (int)(at - text), text, to,
             at + strlen(from));
    free(text);
    return out;
}

/* Parsing `text` fails with a message holding `want` (and "line "). */
static void refused(char *text, const char *want, int with_line)
{
    static st_scenario s;
    int rc = st_scenario_parse(&s, text, err, sizeof err);
    free(text);
    if (rc == 0)
        fail_msg("accepted; expected '%s'", want);
    if (!strstr(err, want) || (with_line && strncmp(err, "line ", 5)))
        fail_msg("got '%s'; expected '%s'", err, want);
}

static void test_scenario__parse_errors(void **state)
{
    (void)state;
    refused(edited("\nend\n", "\nbogus 1\nend\n"),
            "unknown directive 'bogus'", 1);
    refused(edited("monitor_ms 100\n", ""), "missing directive 'monitor_ms'",
            1);
    refused(edited(" workers=2", ""), "cgroup: missing field 'workers'", 1);
    refused(edited(" workers=2", " workers=2 workers=2"), "given twice", 1);
    refused(edited(" workers=2", " wrokers=2"), "unknown field 'wrokers'", 1);
    refused(edited(" work=CpuSpin", " work=Nope"), "unknown value 'Nope'", 1);
    refused(edited("schedtest-scenario 1", "schedtest-scenario 2"),
            "line 1: scenario version 2", 1);
    refused(edited("schedtest-scenario 1", "hello"),
            "line 1: expected 'schedtest-scenario 1'", 1);
    refused(edited("duration_ms 2000", "duration_ms 2s"),
            "expected a whole number", 1);
    refused(edited("duration_ms 2000", "duration_ms 2000\nduration_ms 1"),
            "'duration_ms' given twice", 1);
    refused(edited("fault hang", "fault h%4"), "bad percent escape", 1);
    refused(edited("fault hang", "fault"), "fault: missing value", 1);
    refused(edited("\nend\n", "\nend\nmore 1\n"), "text after 'end'", 1);
    /* an item count that does not match the items */
    refused(edited("\ncgroups 16\n", "\ncgroups 15\n"),
            "unknown directive 'cgroup'", 1);
    refused(edited(" ops=9\n", " ops=10\n"), "expected 1 more 'op'", 1);
}

static void test_scenario__truncated(void **state)
{
    (void)state;
    static st_scenario s;
    fill(&s, 0);
    char *text = text_of(&s);
    /* cut at every line boundary: never accepted, always "line N" */
    size_t len = strlen(text);
    for (size_t at = 0; at + 1 < len; at++) {
        if (text[at] != '\n')
            continue;
        char *part = strndup(text, at + 1);
        int rc = st_scenario_parse(&s, part, err, sizeof err);
        free(part);
        assert_int_equal(rc, -1);
        assert_memory_equal(err, "line ", 5);
    }
    char *part = strndup(text, len / 2);
    assert_int_equal(st_scenario_parse(&s, part, err, sizeof err), -1);
    free(part);
    part = strndup(text, len - 4); /* "end\n" gone */
    assert_int_equal(st_scenario_parse(&s, part, err, sizeof err), -1);
    assert_non_null(strstr(err, "truncated"));
    free(part);
    free(text);
}

static void test_scenario__limits(void **state)
{
    (void)state;
    char want[64];
    static const struct { const char *line; int max; } counts[] = {
        {"cgroups", ST_SCN_MAX_CGROUPS}, {"steps", ST_SCN_MAX_STEPS},
        {"writes", ST_SCN_MAX_WRITES}, {"modules", ST_SCN_MAX_MODULES},
        {"sched_args", ST_SCN_MAX_SCHED_ARGS},
        {"payloads", ST_SCN_MAX_PAYLOADS},
    };
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        char from[64], to[64];
        snprintf(from, sizeof from, "\n%s %d\n", counts[i].line,
                 counts[i].max);
        snprintf(to, sizeof to, "\n%s %d\n", counts[i].line,
                 counts[i].max + 1);
        snprintf(want, sizeof want, "%s: %d is out of range (0 to %d)",
                 counts[i].line, counts[i].max + 1, counts[i].max);
        refused(edited(from, to), want, 1);
    }
    char from[64], to[64];
    snprintf(from, sizeof from, " ops=%d\n", ST_SCN_MAX_OPS);
    snprintf(to, sizeof to, " ops=%d\n", ST_SCN_MAX_OPS + 1);
    refused(edited(from, to), "step.ops: 33 is out of range", 1);
    snprintf(from, sizeof from, " nargs=%d ", ST_SCN_MAX_PAYLOAD_ARGS);
    snprintf(to, sizeof to, " nargs=%d ", ST_SCN_MAX_PAYLOAD_ARGS + 1);
    refused(edited(from, to), "payload.nargs: 64 is out of range", 1);
    snprintf(from, sizeof from, " spin_us=%d ", ST_SCN_MAX_PARAM);
    snprintf(to, sizeof to, " spin_us=%d ", ST_SCN_MAX_PARAM + 1);
    refused(edited(from, to), "cgroup.spin_us: 1000001 is out of range", 1);
    refused(edited(" workers=2", " workers=257"),
            "cgroup.workers: 257 is out of range", 1);
    /* strings one byte over their buffer */
    char name[ST_SCN_NAME_MAX + 8];
    memset(name, 'n', ST_SCN_NAME_MAX);
    snprintf(name + ST_SCN_NAME_MAX, 8, " ");
    char repl[ST_SCN_NAME_MAX + 16];
    snprintf(repl, sizeof repl, "name=%s", name);
    refused(edited("name=cg0 ", repl), "cgroup.name: longer than 63", 1);
    refused(edited("comm=w%200%25xxxxxxxxx", "comm=0123456789abcdef"),
            "cgroup.comm: longer than 15", 1);
    /* the total of workers is a check of the whole */
    refused(edited(" workers=2", " workers=256"),
            "cgroups: 286 workers in total; at most 256", 0);
}

/* st_scenario_check fails on `s` naming `want`. */
static void check_fails(const st_scenario *s, const char *want)
{
    if (st_scenario_check(s, err, sizeof err) == 0)
        fail_msg("accepted; expected '%s'", want);
    if (!strstr(err, want))
        fail_msg("got '%s'; expected '%s'", err, want);
}

static void test_scenario__check_names_the_field(void **state)
{
    (void)state;
    static st_scenario s;
    fill(&s, 0);
    assert_int_equal(st_scenario_check(&s, err, sizeof err), 0);

    fill(&s, 0);
    s.cg[ST_WORK_PIPE_IO].workers = 3;
    check_fails(&s, "cgroups[4].workers: pipe_pingpong pairs workers");
    fill(&s, 0);
    s.cg[3].attrs.priority = 0; /* cg3 is fifo */
    check_fails(&s, "cgroups[4].priority: fifo needs a priority");
    fill(&s, 0);
    s.cg[0].attrs.priority = 5; /* normal */
    check_fails(&s, "cgroups[1].priority: only fifo and rr");
    fill(&s, 0);
    s.cg[2].attrs.nice = 3; /* idle */
    check_fails(&s, "cgroups[3].nice: only normal and batch");
    fill(&s, 0);
    s.cg[1].attrs.nice = 20;
    check_fails(&s, "cgroups[2].nice: 20 is out of range");
    fill(&s, 0);
    snprintf(s.cg[1].name, sizeof s.cg[1].name, "cg0");
    check_fails(&s, "cgroups[2].name: 'cg0' is declared twice");
    fill(&s, 0);
    snprintf(s.cg[1].name, sizeof s.cg[1].name, "../x");
    check_fails(&s, "cgroups[2].name: '../x' is not a cgroup name");
    fill(&s, 0);
    snprintf(s.cg[1].attrs.affinity, ST_SCN_NAME_MAX, "all");
    check_fails(&s, "cgroups[2].affinity: 'all' is not a cpu list");
    fill(&s, 0);
    s.cg[1].attrs.comm[0] = '\t';
    check_fails(&s, "cgroups[2].comm: not printable");
    fill(&s, 0);
    snprintf(s.steps[0].ops[1].target, ST_SCN_PATH_MAX, "nope");
    check_fails(&s, "steps[1].ops[2] (cpuset).target: no cgroup 'nope'");
    fill(&s, 0);
    s.steps[0].ops[7].kind = ST_OP_WRITE; /* cg2's workers stay in extra */
    snprintf(s.steps[0].ops[7].target, ST_SCN_PATH_MAX, "/tmp/x");
    check_fails(&s, "steps[1].ops[9] (cgroup_remove).target: cgroup 'extra' "
                "still holds the workers of 'cg2'");
    fill(&s, 0);
    s.steps[0].ops[6].kind = ST_OP_DETACH;
    check_fails(&s, "steps[1].ops[7] (detach): the scheduler is detached "
                "already");
    fill(&s, 0);
    s.scheduler[0] = '\0';
    check_fails(&s, "steps[1].ops[6] (detach): no scheduler to detach");
    fill(&s, 0);
    snprintf(s.steps[0].ops[3].target, ST_SCN_PATH_MAX, "extra");
    check_fails(&s, "steps[1].ops[4] (move).target: 'extra' is not a "
                "declared cgroup");
    fill(&s, 0);
    snprintf(s.steps[0].ops[2].value, ST_SCN_PATH_MAX, "0");
    check_fails(&s, "steps[1].ops[3] (weight).value: '0' is not a weight");
    fill(&s, 0);
    snprintf(s.payloads[1].cgroup, ST_SCN_NAME_MAX, "zz");
    check_fails(&s, "payloads[2].cgroup: no declared cgroup 'zz'");
    fill(&s, 0);
    s.payloads[2].from_phase = ST_SCN_MAX_STEPS + 1;
    check_fails(&s, "payloads[3].from_phase: 17 is out of range");
    fill(&s, 0);
    s.nsteps = 0;
    check_fails(&s, "sched_from_phase: 1, but the test has 0 steps");
    fill(&s, 0);
    s.ncg = ST_SCN_MAX_CGROUPS + 1;
    check_fails(&s, "cgroups: 17; at most 16");
    fill(&s, 0);
    memset(s.fault, 'x', sizeof s.fault);
    check_fails(&s, "scenario.fault: longer than 63 bytes");
    /* the writer checks first */
    char *text = NULL;
    size_t len;
    assert_int_equal(st_scenario_write(&s, &text, &len, err, sizeof err), -1);
    assert_null(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenario__roundtrip_every_field),
        cmocka_unit_test(test_scenario__names),
        cmocka_unit_test(test_scenario__parse_errors),
        cmocka_unit_test(test_scenario__truncated),
        cmocka_unit_test(test_scenario__limits),
        cmocka_unit_test(test_scenario__check_names_the_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
