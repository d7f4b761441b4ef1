#!/usr/bin/env python3
"""Turn criterion medians into threadkit/peer ratios: a Markdown table per regime, and
optionally an SVG chart.

Usage: ratios.py [--regime R] [--svg OUT.svg] RUN=medians.json [RUN=medians.json ...]

Each medians.json maps "<group dir>/<function>" to criterion's median in ns, e.g.
{"lock_uncontended/threadkit": 5.6, "event_ping-pong_idle/naive": 13000.0, ...}; make one
per run with `medians.py` (beside this file) after `cargo bench`. R is the regime of the
runs (idle, one-cpu, busy, pinned; default idle): the threaded groups are read from
`<group>_<R>`, and the single-thread groups (which run in the idle regime only) appear in
the idle table only. `run.py` runs every regime and calls this module.
"""
import json, math, statistics, sys

REGIMES = ["idle", "one-cpu", "busy", "pinned"]

# Groups that do not depend on the regime: measured in the idle regime only,
# under their plain names.
SINGLE_THREAD = {
    "lock_uncontended", "lock_try_lock_for-zero", "rlock_uncontended", "rlock_nested-2",
    "semaphore_uncontended", "event_is_set",
    # benches/local.rs: none depends on the regime (first-access and thread-exit spawn
    # threads, but one at a time).
    "local_get_or-hit", "local_stack-push-pop", "local_first-access", "local_thread-exit",
}

# (group, threadkit function, peer function, label, {regime: target ratio}).
# Targets: issue 8 (hand-offs in every regime) for one-cpu and busy and for the idle
# hand-offs; the earlier lock-family and Semaphore/Event/Barrier targets, which were set
# for the pinned figures, stay on the pinned ones; issue 7 for try_lock_for(ZERO).
ROWS = [
    ("lock_uncontended", "threadkit", "std", "Lock uncontended / std", {"idle": 1.10}),
    ("lock_uncontended", "threadkit", "parking_lot", "Lock uncontended / parking_lot", {"idle": 1.10}),
    ("lock_try_lock_for-zero", "threadkit", "try_lock", "try_lock_for(ZERO), held / try_lock", {"idle": 3.0}),
    ("lock_try_lock_for-zero", "threadkit-until-now", "try_lock", "try_lock_until(past), held / try_lock", {}),
    ("lock_try_lock_for-zero", "threadkit", "parking_lot", "try_lock_for(ZERO), held / parking_lot's", {}),
    ("rlock_uncontended", "threadkit", "parking_lot", "RLock / ReentrantMutex", {"idle": 1.10}),
    ("rlock_nested-2", "threadkit", "parking_lot", "RLock nested / ReentrantMutex", {"idle": 1.10}),
    ("semaphore_uncontended", "threadkit", "naive", "Semaphore uncontended / naive", {"idle": 0.50}),
    ("semaphore_uncontended", "threadkit", "threadkit-lock", "Semaphore uncontended / threadkit Lock", {"idle": 2.00}),
    ("event_is_set", "threadkit", "naive", "Event is_set / naive", {"idle": 0.50}),
    ("lock_contended-2", "threadkit", "parking_lot", "Lock 2 threads / parking_lot",
     {"one-cpu": 1.20, "busy": 1.20, "pinned": 1.10}),
    ("lock_contended-2", "threadkit", "std", "Lock 2 threads / std", {"pinned": 1.00}),
    ("lock_contended-4", "threadkit", "parking_lot", "Lock 4 threads / parking_lot", {"one-cpu": 1.20, "busy": 1.20}),
    ("lock_contended-4", "threadkit", "std", "Lock 4 threads / std", {}),
    ("condition_ping-pong", "threadkit", "parking_lot", "Condition ping-pong / parking_lot",
     {"idle": 1.00, "one-cpu": 1.20, "busy": 1.20, "pinned": 1.20}),
    ("condition_ping-pong", "threadkit", "std", "Condition ping-pong / std", {}),
    ("event_ping-pong", "threadkit", "naive", "Event ping-pong / naive",
     {"idle": 0.50, "one-cpu": 1.00, "busy": 1.00, "pinned": 1.00}),
    ("semaphore_hand-off", "threadkit", "naive", "Semaphore hand-off / naive", {"one-cpu": 1.00, "busy": 1.00}),
    ("barrier_round-2", "threadkit", "std", "Barrier 2 threads / std",
     {"idle": 0.50, "one-cpu": 1.00, "busy": 1.00, "pinned": 1.00}),
    ("barrier_round-4", "threadkit", "std", "Barrier 4 threads / std", {"pinned": 1.00}),
]

# BoundedQueue (benches/queue.rs), issue 9: per group, against crossbeam's bounded channel,
# the naive Mutex<VecDeque> + 2 Condvars queue, and std's sync_channel (no target; in the
# MPMC groups its receiver sits behind a Mutex, `std-mutex-rx`). A target may be a
# (target, bar) pair: a median above the target but within the bar is reported as such.
# Idle: <= 1.0 x crossbeam (bar 1.2) and <= 0.5 x naive in every group; one CPU: the
# ping-pong and SPSC 1024 <= 1.0 x crossbeam, the ping-pong <= 1.2 x naive; busy: <= 1.0 x
# crossbeam in every group.
QUEUE_GROUPS = [
    ("spsc-1", "SPSC cap 1", "std"),
    ("spsc-16", "SPSC cap 16", "std"),
    ("spsc-1024", "SPSC cap 1024", "std"),
    ("2p2c-64", "2P2C cap 64", "std-mutex-rx"),
    ("4p4c-64", "4P4C cap 64", "std-mutex-rx"),
    ("ping-pong", "ping-pong cap 1", "std"),
]


def queue_rows():
    """The ROWS of the queue groups, with the issue-9 targets."""
    rows = []
    for name, label, std in QUEUE_GROUPS:
        crossbeam = {"idle": (1.00, 1.20), "busy": 1.00}
        naive = {"idle": 0.50}
        if name in ("ping-pong", "spsc-1024"):
            crossbeam["one-cpu"] = 1.00
        if name == "ping-pong":
            naive["one-cpu"] = 1.20
        rows += [
            (f"queue_{name}", "threadkit", "crossbeam", f"Queue {label} / crossbeam", crossbeam),
            (f"queue_{name}", "threadkit", "naive", f"Queue {label} / naive", naive),
            (f"queue_{name}", "threadkit", std, f"Queue {label} / {std}", {}),
        ]
    return rows


ROWS += queue_rows()

# Local and LocalStack (benches/local.rs), issue 10: a get_or hit <= 1.0 x the thread_local
# crate's ThreadLocal (bar 1.2), LocalStack push + pop <= 3.0 x a std thread_local!
# RefCell<Vec>; the first access in a new thread and the thread-exit cost are reported
# (thread-exit: against a thread that used no Local, `none`, and ThreadLocal, which drops
# nothing at exit).
ROWS += [
    ("local_get_or-hit", "threadkit", "thread_local", "Local get_or hit / ThreadLocal", {"idle": (1.00, 1.20)}),
    ("local_get_or-hit", "threadkit", "std", "Local get_or hit / thread_local!", {}),
    ("local_stack-push-pop", "threadkit", "std", "LocalStack push+pop / thread_local! RefCell<Vec>", {"idle": 3.00}),
    ("local_stack-push-pop", "threadkit", "thread_local", "LocalStack push+pop / ThreadLocal<RefCell<Vec>>", {}),
    ("local_first-access", "threadkit", "thread_local", "Local first access / ThreadLocal", {}),
    ("local_first-access", "threadkit", "std", "Local first access / thread_local! (lazy)", {}),
    ("local_thread-exit", "threadkit-1", "none", "Thread exit, 1 Local / no Local", {}),
    ("local_thread-exit", "threadkit-8", "none", "Thread exit, 8 Locals / no Local", {}),
    ("local_thread-exit", "threadkit-1", "thread_local-1", "Thread exit, 1 Local / 1 ThreadLocal", {}),
    ("local_thread-exit", "threadkit-8", "thread_local-8", "Thread exit, 8 Locals / 8 ThreadLocals", {}),
]


def group_dir(group, regime):
    return group if group in SINGLE_THREAD else f"{group}_{regime}"


def rows_for(regime, runs):
    """[(label, [ratio per run], median, target)] for the rows every run has.
    `runs` is a list of medians dicts, one per run of this regime."""
    rows = []
    for group, ours, peer, label, targets in ROWS:
        if group in SINGLE_THREAD and regime != "idle":
            continue
        d = group_dir(group, regime)
        ratios = [r[f"{d}/{ours}"] / r[f"{d}/{peer}"] for r in runs
                  if f"{d}/{ours}" in r and f"{d}/{peer}" in r]
        if ratios:
            rows.append((label, ratios, statistics.median(ratios), targets.get(regime)))
    return rows


def fmt_ratio(x):
    """Three decimals, or two significant digits below 0.01 (0.00016, not 0.000)."""
    return f"{x:.3f}" if x >= 0.01 else f"{x:.2g}"


def target_and_bar(target):
    """(target, bar) of a row's target: a number, a (target, bar) pair, or None."""
    if target is None or isinstance(target, (int, float)):
        return target, None
    return target


def verdict(median, target):
    """PASS at or below the target, "within bar" at or below the bar, else FAIL."""
    goal, bar = target_and_bar(target)
    if goal is None:
        return ""
    if median <= goal:
        return "PASS"
    return f"within bar ({bar:.2f})" if bar is not None and median <= bar else "**FAIL**"


def fmt_target(target):
    goal, bar = target_and_bar(target)
    if goal is None:
        return ""
    return f"≤ {goal:.2f}" + ("" if bar is None else f" (bar {bar:.2f})")


def table(rows, names):
    """A Markdown table: one column per run, the median, the target and the verdict."""
    out = ["| ratio (threadkit / peer) | " + " | ".join(names) + " | median | target | result |",
           "|---|" + "---:|" * (len(names) + 2) + "---|"]
    for label, ratios, median, target in rows:
        cells = [fmt_ratio(x) for x in ratios] + [""] * (len(names) - len(ratios))
        out.append(f"| {label} | {' | '.join(cells)} | **{fmt_ratio(median)}** | {fmt_target(target)} "
                   f"| {verdict(median, target)} |")
    return "\n".join(out)


def main(argv):
    regime, svg = "idle", None
    while argv and argv[0].startswith("--"):
        if argv[0] == "--regime":
            regime, argv = argv[1], argv[2:]
        elif argv[0] == "--svg":
            svg, argv = argv[1], argv[2:]
        else:
            sys.exit(__doc__)
    if regime not in REGIMES or not argv:
        sys.exit(__doc__)
    runs = [arg.split("=", 1) for arg in argv]
    rows = rows_for(regime, [json.load(open(path)) for _, path in runs])
    print(table(rows, [name for name, _ in runs]))
    if svg:
        write_svg(svg, rows, f"regime {regime}")


def write_svg(path, rows, title=""):
    """Horizontal bars of the median ratio on a log scale, one dot per run, and a
    tick at each target."""
    left, width, bar, gap = 290, 420, 14, 8
    lo, hi = 0.01, 16.0
    clamp = lambda v: min(max(v, lo), hi)
    x = lambda v: left + width * (math.log10(clamp(v)) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
    height = 40 + len(rows) * (bar + gap) + 30
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 20}" height="{height}" '
           'font-family="sans-serif" font-size="11">',
           f'<text x="{left}" y="16" font-size="12">{title}: threadkit time / peer time (median of runs; '
           'log scale; dots: single runs; red tick: target; dashed: bar)</text>']
    for v in (0.01, 0.1, 0.5, 1, 2, 5, 10):
        svg.append(f'<line x1="{x(v):.1f}" y1="26" x2="{x(v):.1f}" y2="{height - 24}" stroke="#ccc"/>')
        svg.append(f'<text x="{x(v):.1f}" y="{height - 10}" text-anchor="middle">{v:g}</text>')
    for i, (label, ratios, median, target) in enumerate(rows):
        y = 32 + i * (bar + gap)
        target, bar_limit = target_and_bar(target)
        colour = "#4a7" if target is None or median <= target else (
            "#da4" if bar_limit is not None and median <= bar_limit else "#d44")
        svg.append(f'<text x="{left - 6}" y="{y + bar - 3}" text-anchor="end">{label}</text>')
        svg.append(f'<rect x="{left}" y="{y}" width="{x(median) - left:.1f}" height="{bar}" fill="{colour}" opacity="0.6"/>')
        for r in ratios:
            svg.append(f'<circle cx="{x(r):.1f}" cy="{y + bar / 2}" r="2.5" fill="#222"/>')
        if target is not None:
            svg.append(f'<line x1="{x(target):.1f}" y1="{y - 2}" x2="{x(target):.1f}" y2="{y + bar + 2}" '
                       'stroke="#c00" stroke-width="2"/>')
        if bar_limit is not None:
            svg.append(f'<line x1="{x(bar_limit):.1f}" y1="{y - 2}" x2="{x(bar_limit):.1f}" y2="{y + bar + 2}" '
                       'stroke="#c00" stroke-width="1" stroke-dasharray="2,2"/>')
    svg.append("</svg>")
    open(path, "w").write("\n".join(svg) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
