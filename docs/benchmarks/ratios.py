#!/usr/bin/env python3
"""Turn criterion medians into threadkit/peer ratios: a Markdown table and an SVG chart.

Usage: ratios.py OUT.svg RUN=medians.json [RUN=medians.json ...]

Each medians.json maps "<group dir>/<function>" to criterion's median in ns, e.g.
{"lock_uncontended/threadkit": 5.6, "lock_uncontended/std": 5.5, ...}; make one per
run with `medians.py` (beside this file) after `cargo bench`.
"""
import json, statistics, sys

# (group directory, peer, target ratio, label)
TARGETS = [
    ("lock_uncontended", "std", 1.10, "Lock uncontended / std"),
    ("lock_uncontended", "parking_lot", 1.10, "Lock uncontended / parking_lot"),
    ("lock_contended-2", "parking_lot", 1.10, "Lock 2 threads / parking_lot"),
    ("lock_contended-2", "std", 1.00, "Lock 2 threads / std"),
    ("lock_contended-4", "parking_lot", None, "Lock 4 threads / parking_lot"),
    ("lock_contended-4", "std", None, "Lock 4 threads / std"),
    ("rlock_uncontended", "parking_lot", 1.10, "RLock / ReentrantMutex"),
    ("rlock_nested-2", "parking_lot", 1.10, "RLock nested / ReentrantMutex"),
    ("condition_ping-pong", "parking_lot", 1.20, "Condition ping-pong / parking_lot"),
    ("condition_ping-pong", "std", None, "Condition ping-pong / std"),
    ("semaphore_uncontended", "naive", 0.50, "Semaphore / naive"),
    ("semaphore_uncontended", "threadkit-lock", 2.00, "Semaphore / threadkit Lock"),
    ("event_is_set", "naive", 0.50, "Event is_set / naive"),
    ("event_ping-pong", "naive", 1.00, "Event ping-pong / naive"),
    ("barrier_round-2", "std", 1.00, "Barrier 2 threads / std"),
    ("barrier_round-4", "std", 1.00, "Barrier 4 threads / std"),
]


def main():
    out, runs = sys.argv[1], [arg.split("=", 1) for arg in sys.argv[2:]]
    data = {name: json.load(open(path)) for name, path in runs}
    rows = []
    for group, peer, target, label in TARGETS:
        ratios = [data[r][f"{group}/threadkit"] / data[r][f"{group}/{peer}"] for r, _ in runs]
        rows.append((label, ratios, statistics.median(ratios), target))

    names = [r for r, _ in runs]
    print("| ratio (threadkit / peer) | " + " | ".join(names) + " | median | target | result |")
    print("|---|" + "---:|" * (len(names) + 2) + "---|")
    for label, ratios, median, target in rows:
        verdict = "" if target is None else ("PASS" if median <= target else "**FAIL**")
        cells = " | ".join(f"{x:.3f}" for x in ratios)
        goal = "" if target is None else f"≤ {target:.2f}"
        print(f"| {label} | {cells} | **{median:.3f}** | {goal} | {verdict} |")
    write_svg(out, rows)


def write_svg(path, rows):
    """Horizontal bars of the median ratio on a log scale, one dot per run, and a
    tick at each target."""
    import math
    left, width, bar, gap = 260, 420, 14, 8
    lo, hi = 0.01, 4.0
    x = lambda v: left + width * (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
    height = 40 + len(rows) * (bar + gap) + 30
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 20}" height="{height}" '
           'font-family="sans-serif" font-size="11">',
           f'<text x="{left}" y="16" font-size="12">threadkit time / peer time (median of runs; '
           'log scale; dots: single runs; red tick: target)</text>']
    for v in (0.01, 0.1, 0.5, 1, 2):
        svg.append(f'<line x1="{x(v):.1f}" y1="26" x2="{x(v):.1f}" y2="{height - 24}" stroke="#ccc"/>')
        svg.append(f'<text x="{x(v):.1f}" y="{height - 10}" text-anchor="middle">{v:g}</text>')
    for i, (label, ratios, median, target) in enumerate(rows):
        y = 32 + i * (bar + gap)
        colour = "#4a7" if target is None or median <= target else "#d44"
        svg.append(f'<text x="{left - 6}" y="{y + bar - 3}" text-anchor="end">{label}</text>')
        svg.append(f'<rect x="{left}" y="{y}" width="{x(median) - left:.1f}" height="{bar}" fill="{colour}" opacity="0.6"/>')
        for r in ratios:
            svg.append(f'<circle cx="{x(r):.1f}" cy="{y + bar / 2}" r="2.5" fill="#222"/>')
        if target is not None:
            svg.append(f'<line x1="{x(target):.1f}" y1="{y - 2}" x2="{x(target):.1f}" y2="{y + bar + 2}" '
                       'stroke="#c00" stroke-width="2"/>')
    svg.append("</svg>")
    open(path, "w").write("\n".join(svg) + "\n")


if __name__ == "__main__":
    main()
