#!/usr/bin/env python3
"""The Python baseline of bench_pool.sh: json.load every sidecar under a
directory and collect the distinct values `schedtest stats list-values
--json` reports (same keys, same order, null last)."""
import json, os, sys

DIMS = {"kernel": "kernel_version", "commit": "project_commit",
        "kernel_commit": "kernel_commit", "source": "run_source",
        "resolve_source": "resolve_source", "cpu_budget": "cpu_budget",
        "scheduler": "scheduler", "topology": "topology", "work_type": "work_type"}
vals = {d: set() for d in DIMS}
root = sys.argv[1]

def load(path):
    with open(path, "rb") as f:
        sc = json.load(f)
    for d, k in DIMS.items():
        vals[d].add(sc.get(k))

def walk(path, depth):
    # run dirs and one level below them, like the pool; scandir's d_type
    # avoids a stat per entry
    for e in os.scandir(path):
        if e.name.startswith("."):
            continue
        if e.name.endswith(".json") and ".ktstr." in e.name:
            load(e.path)
        elif depth < 2 and e.is_dir():
            walk(e.path, depth + 1)

walk(root, 0)
out = {}
for d in DIMS:
    v = vals[d]
    out[d] = sorted(x for x in v if x is not None) + ([None] if None in v else [])
print(json.dumps(out, sort_keys=True))
