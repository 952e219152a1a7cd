#!/usr/bin/env python3
"""Summarize cowvm Google Benchmark JSON: per-operation medians and ratios.

Usage: report.py RESULT.json [MORE.json ...]

RESULT.json comes from e.g.
  bench-cow --benchmark_enable_random_interleaving=true \
            --benchmark_out=RESULT.json --benchmark_out_format=json
(interleaving spreads machine noise evenly over the benchmarks compared).

Each benchmark is reported by the median over its repetitions, divided by
its "batch" counter (operations timed per iteration) so that every figure is
a time per operation. Named ratios compare benchmarks of the same run
against goals; the exit status is 1 when a goal present in the input is
missed. A bench-vmm JSON ends with a line on its peak memory and fixture
builds (from its context).
"""
import json
import re
import sys

# (title, numerator, denominator, comparison, goal), bench-cow's then
# bench-vmm's; a ratio is printed when both benchmarks are in the input.
RATIOS = [
    ("fork 64 GiB / fork 64 MiB", "BM_Fork/65536", "BM_Fork/64", "<=", 1.5),
    ("naive 1 GiB / fork 1 GiB", "BM_NaiveFork/1024", "BM_Fork/1024", ">=",
     100.0),
    ("naive 64 MiB / fork 64 MiB", "BM_NaiveFork/64", "BM_Fork/64", None,
     None),
    ("naive 64 GiB / fork 64 GiB", "BM_NaiveFork/65536", "BM_Fork/65536",
     None, None),
    ("reset 4096 dirty / reset 1 dirty", "BM_Reset/4096", "BM_Reset/1", None,
     None),
    ("free: punch per frame / batch 256", "BM_FreeFrames/1",
     "BM_FreeFrames/256", None, None),
    # bench-vmm: real VMs (clones from a warm pool unless named otherwise).
    ("host fork 1 GiB / clone 1 GiB", "BM_HostFork/1024",
     "BM_CloneWarmPool/1024", ">=", 50.0),
    ("clone 4 GiB / clone 64 MiB", "BM_CloneWarmPool/4096",
     "BM_CloneWarmPool/64", "<=", 1.3),
    ("clone 256 MiB: fragmented / compact image", "BM_CloneFragmented/1",
     "BM_CloneFragmented/0", "<=", 2.0),
    ("fork 4 GiB / fork 64 MiB", "BM_ForkWarmPool/4096",
     "BM_ForkWarmPool/64", None, None),
    ("host fork 4 GiB / clone 4 GiB", "BM_HostFork/4096",
     "BM_CloneWarmPool/4096", None, None),
    ("host fork 1 GiB / fork 1 GiB", "BM_HostFork/1024",
     "BM_ForkWarmPool/1024", None, None),
    ("fork 1 GiB / clone 1 GiB", "BM_ForkWarmPool/1024",
     "BM_CloneWarmPool/1024", None, None),
    ("clone empty pool / warm pool, 1 GiB", "BM_CloneEmptyPool/1024",
     "BM_CloneWarmPool/1024", None, None),
    ("clone warm pool / spare, 1 GiB", "BM_CloneWarmPool/1024",
     "BM_CloneSpare/1024", None, None),
    ("host fork 1 GiB / clone from a spare 1 GiB", "BM_HostFork/1024",
     "BM_CloneSpare/1024", None, None),
    ("Firecracker-style 1 GiB / clone 1 GiB", "BM_FcRestore/1024",
     "BM_CloneWarmPool/1024", None, None),
    ("full copy 1 GiB / clone 1 GiB", "BM_FullCopy/1024",
     "BM_CloneWarmPool/1024", None, None),
    ("first write: uffd / kernel", "BM_FirstWrite/uffd",
     "BM_FirstWrite/kernel", None, None),
    ("first read: uffd / kernel", "BM_FirstRead/uffd",
     "BM_FirstRead/kernel", None, None),
    ("vmm reset 4096 dirty / 1 dirty", "BM_VmmReset/4096/0",
     "BM_VmmReset/1/0", None, None),
    ("vmm reset 1 dirty: clone that ran / never ran", "BM_VmmReset/1/1",
     "BM_VmmReset/1/0", None, None),
    ("vmm reset 1 dirty: 16 GiB / 64 MiB VM", "BM_VmmResetSize/16384",
     "BM_VmmResetSize/64", None, None),
    ("fork 1 GiB: kernel / uffd mode", "BM_ForkWarmPool/1024",
     "BM_ForkWarmPoolUffd/1024", None, None),
    ("clone 1 GiB: uffd / kernel mode", "BM_CloneWarmPoolUffd/1024",
     "BM_CloneWarmPool/1024", None, None),
    # bench-linux: static Linux programs in cowvm against the same programs
    # run natively; per system call, start to exit, per request served.
    ("getpid: cowvm / native", "BM_LinuxSyscall/getpid/cowvm",
     "BM_LinuxSyscall/getpid/native", None, None),
    ("pread 4 KiB: cowvm / native", "BM_LinuxSyscall/pread4k/cowvm",
     "BM_LinuxSyscall/pread4k/native", None, None),
    ("stdin read 4 KiB: cowvm / native", "BM_LinuxSyscall/stdin4k/cowvm",
     "BM_LinuxSyscall/stdin4k/native", None, None),
    ("getpid in cowvm: host clock / guest clock",
     "BM_LinuxSyscall/getpid/cowvm_hostclock", "BM_LinuxSyscall/getpid/cowvm",
     None, None),
    ("pread in cowvm: host clock / guest clock",
     "BM_LinuxSyscall/pread4k/cowvm_hostclock",
     "BM_LinuxSyscall/pread4k/cowvm", None, None),
    ("stdin read in cowvm: host clock / guest clock",
     "BM_LinuxSyscall/stdin4k/cowvm_hostclock",
     "BM_LinuxSyscall/stdin4k/cowvm", None, None),
    ("busybox true: cowvm cold / native",
     "BM_LinuxStart/busybox_true/cowvm_cold",
     "BM_LinuxStart/busybox_true/native", None, None),
    ("busybox true: cowvm pool / native",
     "BM_LinuxStart/busybox_true/cowvm_pool",
     "BM_LinuxStart/busybox_true/native", None, None),
    ("busybox sha256sum 1 MB: cowvm cold / native",
     "BM_LinuxStart/busybox_sha256/cowvm_cold",
     "BM_LinuxStart/busybox_sha256/native", None, None),
    ("busybox sha256sum 1 MB: cowvm pool / native",
     "BM_LinuxStart/busybox_sha256/cowvm_pool",
     "BM_LinuxStart/busybox_sha256/native", None, None),
    ("lua script: cowvm cold / native", "BM_LinuxStart/lua/cowvm_cold",
     "BM_LinuxStart/lua/native", None, None),
    ("lua script: cowvm pool / native", "BM_LinuxStart/lua/cowvm_pool",
     "BM_LinuxStart/lua/native", None, None),
    ("first run, 1 GiB read: clone made now / respawned spare",
     "BM_FirstRun1G/0", "BM_FirstRun1G/1", None, None),
    ("first run, 1 GiB read: made ahead / respawned spare",
     "BM_FirstRun1G/2", "BM_FirstRun1G/1", "<=", 1.2),
    # bench-snapfile: time ratios, so dd / save >= 0.8 is the rate goal.
    ("snapshot file 1 GiB: dd time / save time", "BM_DdSave/1024",
     "BM_SnapSave/1024", ">=", 0.8),
    ("save 1 GiB: 1% of pages changed (child) / whole",
     "BM_SnapSaveChild/1024", "BM_SnapSave/1024", None, None),
    ("open + first clone: 1 GiB / 64 MiB", "BM_SnapOpen/1024",
     "BM_SnapOpen/64", None, None),
    ("COW fault: 1000 clones in 100 processes / 10",
     "BM_FaultSpread/1000/100", "BM_FaultSpread/10/1", "<=", 2),
    ("COW fault: 100 clones in one process / 10",
     "BM_FaultSpread/100/1", "BM_FaultSpread/10/1", None, None),
    ("open elsewhere + clone, warm pool: 4 GiB / 64 MiB",
     "BM_OpenOther/4096/1", "BM_OpenOther/64/1", "<=", 1.3),
    ("open elsewhere + clone, warm: 1 GiB / Fc restore",
     "BM_OpenOther/1024/1", "BM_FcRestoreFile/1024", None, None),
    ("open elsewhere + clone, empty: 1 GiB / Fc restore",
     "BM_OpenOther/1024/0", "BM_FcRestoreFile/1024", None, None),
    ("serve per request: cowvm spare / fork server",
     "BM_LinuxServe/cowvm_spare", "BM_LinuxServe/forkserver", "<", 1),
    ("serve per request: cowvm reset / fork server",
     "BM_LinuxServe/cowvm_reset", "BM_LinuxServe/forkserver", None, None),
    ("serve per request: fresh process / cowvm spare",
     "BM_LinuxServe/fresh_process", "BM_LinuxServe/cowvm_spare", None, None),
    ("serve per request: cowvm spare / cowvm reset",
     "BM_LinuxServe/cowvm_spare", "BM_LinuxServe/cowvm_reset", None, None),
]

# (title, benchmark, comparison, goal in ns per operation): absolute goals.
GOALS = [
    ("clone from snapshot, 1 GiB, warm pool", "BM_CloneWarmPool/1024", "<=",
     150e3),
    ("open a file elsewhere + first clone, 1 GiB, warm pool",
     "BM_OpenOther/1024/1", "<=", 0.5e6),
]

# (title, benchmark, comparison benchmark, counters summed, comparison,
# goal): ratios of counters of the two medians.
COUNTER_RATIOS = [
    ("serve p99: cowvm spare / fork server", "BM_LinuxServe/cowvm_spare",
     "BM_LinuxServe/forkserver", ("p99_us",), "<", 1),
    ("serve memory per clone: cowvm spare / fork server",
     "BM_LinuxServe/cowvm_spare", "BM_LinuxServe/forkserver",
     ("mem_per_clone_kib", "table_per_clone_kib"), "<=", 1.1),
]

UNITS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def short_name(run_name):
    """BM_Fork/64/min_time:0.100/repeats:5/manual_time -> BM_Fork/64."""
    parts = [p for p in run_name.split("/")
             if not re.match(r"(min_time|repeats|iterations):", p)
             and p not in ("manual_time", "real_time")]
    return "/".join(parts)


def load(paths):
    """Map short name -> dict(median_ns, batch, label, cv)."""
    out = {}
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        batches = {}
        for b in data.get("benchmarks", []):
            if b.get("run_type") == "iteration" and "batch" in b:
                batches[b["run_name"]] = b["batch"]
        for b in data.get("benchmarks", []):
            if b.get("run_type") != "aggregate":
                continue
            name = short_name(b["run_name"])
            order = (path, b.get("family_index", 0),
                     b.get("per_family_instance_index", 0))
            entry = out.setdefault(name, {"label": b.get("label", ""),
                                          "order": order})
            agg = b.get("aggregate_name")
            if agg == "median":
                batch = b.get("batch") or batches.get(b["run_name"], 1)
                entry["batch"] = batch
                entry["median_ns"] = (b["real_time"] *
                                      UNITS[b["time_unit"]] / batch)
                entry["counters"] = {k: v for k, v in b.items()
                                     if isinstance(v, (int, float))}
            elif agg == "cv":
                entry["cv"] = b["real_time"]
    done = [(v["order"], k, v) for k, v in out.items() if "median_ns" in v]
    return {k: v for _, k, v in sorted(done)}


def memory_lines(paths):
    """One line per input whose context has bench-vmm's peak memory."""
    out = []
    for path in paths:
        with open(path) as f:
            ctx = json.load(f).get("context", {})
        if "peak_footprint_mib" not in ctx:
            continue
        out.append("%s: peak memory %s MiB (frame store %s, anonymous %s, "
                   "fork helpers %s), fixture budget %s MiB, %s builds in "
                   "%s s, %s s in all" % (
                       path, ctx["peak_footprint_mib"],
                       ctx.get("peak_frame_store_mib", "?"),
                       ctx.get("peak_anon_mib", "?"),
                       ctx.get("peak_fork_helpers_mib", "?"),
                       ctx.get("fixture_budget_mib", "?"),
                       ctx.get("fixture_builds", "?"),
                       ctx.get("fixture_build_s", "?"),
                       ctx.get("wall_s", "?")))
    return out


def verdict(value, cmp, goal):
    """(text, missed) for value against goal by cmp ('<', '<=', '>=')."""
    if not cmp:
        return "", 0
    ok = {"<": value < goal, "<=": value <= goal, ">=": value >= goal}[cmp]
    return "goal %s %g: %s" % (cmp, goal, "met" if ok else "MISSED"), not ok


def counter_sum(entry, keys):
    """The sum of counters keys of entry, or None if one is missing."""
    c = entry.get("counters", {})
    return sum(c[k] for k in keys) if all(k in c for k in keys) else None


def human(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= scale:
            return "%.3g %s" % (ns / scale, unit)
    return "%.3g ns" % ns


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    results = load(argv[1:])
    if not results:
        print("no aggregate (median) results: run with --benchmark_"
              "repetitions or Repetitions()", file=sys.stderr)
        return 2
    width = max(len(n) for n in results)
    print("%-*s  %12s  %6s  %5s  %s" % (width, "benchmark", "median/op",
                                         "batch", "cv", "note"))
    for name, r in results.items():
        cv = "%.0f%%" % (100 * r["cv"]) if "cv" in r else ""
        print("%-*s  %12s  %6d  %5s  %s" % (width, name, human(r["median_ns"]),
                                            r["batch"], cv, r["label"]))
    print()
    missed = 0
    for title, num, den, cmp, goal in RATIOS:
        if num not in results or den not in results:
            continue
        ratio = results[num]["median_ns"] / results[den]["median_ns"]
        text, miss = verdict(ratio, cmp, goal)
        missed += miss
        print("%-46s %10.3f  %s" % (title, ratio, text))
    for title, num, den, keys, cmp, goal in COUNTER_RATIOS:
        a = counter_sum(results.get(num, {}), keys)
        b = counter_sum(results.get(den, {}), keys)
        if a is None or not b:
            continue
        text, miss = verdict(a / b, cmp, goal)
        missed += miss
        print("%-46s %10.3f  %s (%.4g / %.4g)" % (title, a / b, text, a, b))
    for title, name, cmp, goal in GOALS:
        if name not in results:
            continue
        ns = results[name]["median_ns"]
        ok = ns <= goal if cmp == "<=" else ns >= goal
        missed += not ok
        print("%-46s %10s  goal %s %s: %s" % (title, human(ns), cmp,
                                              human(goal),
                                              "met" if ok else "MISSED"))
    for line in memory_lines(argv[1:]):
        print(line)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
