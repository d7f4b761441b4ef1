#!/usr/bin/env python3
"""Run the hand-off and queue figures in many fresh processes, in every regime, and
print one table per regime: the distribution of threadkit / peer over the processes.

Usage: docs/benchmarks/fresh.py [--processes N] [--regimes idle,one-cpu,busy]
                                [--figures F,F,...] [--runs R] [--millis M]
                                [--out DIR] [--from DIR]

It builds benches/fresh.rs once and copies the binary into DIR/bin, so that every
process measures the same build (DIR/build.txt records `git describe --dirty`). Then,
N times over, it runs every figure in every regime, each in a new process
(`THREADKIT_BENCH_REGIME` set), appending the JSON line each prints to
DIR/results.jsonl: one pass through all of them is a few minutes, so a slow spell of
the machine hits every figure and regime alike.

The tables give, per figure and peer, the ratio threadkit / peer of each process's
medians (threadkit and its peers take turns in one process), as min / median / max over
the processes, the medians of the absolute figures, the p50 and p99 of one hand-off
where the figure has a latency, the target of each row and the verdict. For the queue
figures one more row compares with the best of crossbeam, kanal and flume in each
process. Above each table: the machine's own park/unpark and spin round trips, min /
median / max over the same processes, so a reader can tell what kind of machine (and
machine state) produced the figures.

--processes  processes per figure and regime (default 10)
--figures    comma-separated names (default: all; `fresh -- list` names them)
--runs, --millis  passed to each process (defaults 5 and 150)
--from DIR   print the tables of an earlier DIR/results.jsonl, running nothing
"""
import json, os, pathlib, shutil, statistics, subprocess, sys, time

ROOT = pathlib.Path(__file__).resolve().parents[2]

# Targets per (figure, peer): {regime: (median at most, worst at most)}; None: no bound.
TARGETS = {
    ("event/ping-pong", "naive"): {"idle": (0.5, 1.0), "one-cpu": (None, 1.0), "busy": (None, 1.0)},
    ("condition/ping-pong", "parking_lot"): {"idle": (0.5, 1.0), "one-cpu": (None, 1.2), "busy": (None, 1.2)},
    ("semaphore/hand-off", "naive"): {"idle": (None, 1.0), "one-cpu": (None, 1.0), "busy": (None, 1.0)},
    ("barrier/round-2", "std"): {"idle": (0.5, None), "one-cpu": (None, 1.0), "busy": (None, 1.0)},
}
QUEUES = ["spsc-1", "spsc-16", "spsc-1024", "2p2c-64", "4p4c-64", "ping-pong"]
for name in QUEUES:
    best = {"idle": (1.0, 1.2), "busy": (None, 1.0)}
    if name in ("ping-pong", "spsc-1024"):
        best["one-cpu"] = (None, 1.0)
    TARGETS[(f"queue/{name}", "best")] = best


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def fmt_ns(v):
    if v is None:
        return "–"
    return f"{v / 1000:.2f} µs" if v >= 1000 else f"{v:.0f} ns"


def build(out):
    """Builds benches/fresh.rs and copies it to out/bin/fresh."""
    cmd = ["cargo", "bench", "--no-run", "--bench", "fresh", "--message-format=json"]
    built = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True)
    exe = None
    for line in built.stdout.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg.get("executable") and \
                msg["target"]["name"] == "fresh":
            exe = msg["executable"]
    if exe is None:
        sys.exit("cargo did not report the fresh bench's executable")
    (out / "bin").mkdir(parents=True, exist_ok=True)
    shutil.copy(exe, out / "bin" / "fresh")
    describe = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                              capture_output=True, text=True).stdout.strip()
    (out / "build.txt").write_text(describe + "\n")
    return out / "bin" / "fresh"


def run(exe, out, processes, regimes, figures, runs, millis):
    results = out / "results.jsonl"
    for p in range(processes):
        for regime in regimes:
            for figure in figures:
                env = dict(os.environ, THREADKIT_BENCH_REGIME=regime)
                cmd = [str(exe), figure, "--runs", str(runs), "--millis", str(millis)]
                done = subprocess.run(cmd, env=env, capture_output=True, text=True)
                if done.returncode != 0:
                    sys.exit(f"{figure} ({regime}) failed:\n{done.stderr}")
                line = done.stdout.strip().splitlines()[-1]
                with results.open("a") as f:
                    f.write(line + "\n")
        log(f"pass {p + 1}/{processes} done ({time.strftime('%H:%M:%S')})")
    return results


def spread(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    return values[0], statistics.median(values), values[-1]


def fmt_spread(s, digits=3):
    if s is None:
        return "–"
    return " / ".join(f"{v:.{digits}f}" for v in s)


def verdict(s, target):
    if target is None or s is None:
        return ""
    median_max, worst_max = target
    failed = []
    if median_max is not None and s[1] > median_max:
        failed.append(f"median > {median_max}")
    if worst_max is not None and s[2] > worst_max:
        failed.append(f"worst > {worst_max}")
    return "**miss**: " + ", ".join(failed) if failed else "pass"


def target_text(target):
    if target is None:
        return ""
    median_max, worst_max = target
    parts = []
    if median_max is not None:
        parts.append(f"median ≤ {median_max}")
    if worst_max is not None:
        parts.append(f"worst ≤ {worst_max}")
    return ", ".join(parts)


def report(results):
    lines = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    regimes = []
    for line in lines:
        if line["regime"] not in regimes:
            regimes.append(line["regime"])
    for regime in regimes:
        mine = [line for line in lines if line["regime"] == regime]
        park = spread(line["park_round_trip_ns"] for line in mine)
        spin = spread(line["spin_round_trip_ns"] for line in mine)
        counts = {}
        for line in mine:
            counts[line["figure"]] = counts.get(line["figure"], 0) + 1
        print(f"\n### {regime} ({mine[0]['cpus']} CPUs; {min(counts.values())}-"
              f"{max(counts.values())} processes per figure)\n")
        print(f"Machine: park/unpark round trip {' / '.join(fmt_ns(v) for v in park)}, "
              f"spin round trip {' / '.join(fmt_ns(v) for v in spin) if spin else '– (one CPU)'} "
              "(min / median / max over the processes).\n")
        print("| figure | ÷ peer | ratio min / median / max | threadkit | peer | "
              "hand-off p50 threadkit / peer | p99 threadkit / peer | target | verdict |")
        print("|---|---|---|---|---|---|---|---|---|")
        figures = []
        for line in mine:
            if line["figure"] not in figures:
                figures.append(line["figure"])
        for figure in figures:
            runs = [line for line in mine if line["figure"] == figure]
            imps = list(runs[0]["imps"])
            peers = imps[1:] + (["best"] if figure.startswith("queue/") else [])
            for peer in peers:
                ratios, tk, pe, lat = [], [], [], {"p50": ([], []), "p99": ([], [])}
                for line in runs:
                    me = line["imps"]["threadkit"]
                    if peer == "best":
                        other = min((line["imps"][p] for p in imps[1:]),
                                    key=lambda imp: imp["median_ns"])
                    else:
                        other = line["imps"][peer]
                    ratios.append(me["median_ns"] / other["median_ns"])
                    tk.append(me["median_ns"])
                    pe.append(other["median_ns"])
                    if "hand_off_ns" in me:
                        for q in lat:
                            lat[q][0].append(me["hand_off_ns"][q])
                            lat[q][1].append(other["hand_off_ns"][q])
                s = spread(ratios)
                target = TARGETS.get((figure, peer), {}).get(regime)
                lat_text = {
                    q: (f"{fmt_ns(statistics.median(a))} / {fmt_ns(statistics.median(b))}"
                        if a else "–")
                    for q, (a, b) in lat.items()
                }
                label = "best of crossbeam, kanal, flume" if peer == "best" else peer
                print(f"| {figure} | {label} | {fmt_spread(s)} | {fmt_ns(statistics.median(tk))} | "
                      f"{fmt_ns(statistics.median(pe))} | {lat_text['p50']} | {lat_text['p99']} | "
                      f"{target_text(target)} | {verdict(s, target)} |")


def main():
    args = sys.argv[1:]
    opts = {"--processes": "10", "--regimes": "idle,one-cpu,busy", "--figures": "",
            "--runs": "5", "--millis": "150", "--out": "", "--from": ""}
    while args:
        key = args.pop(0)
        if key not in opts or not args:
            sys.exit(__doc__)
        opts[key] = args.pop(0)
    if opts["--from"]:
        report(pathlib.Path(opts["--from"]) / "results.jsonl")
        return
    out = pathlib.Path(opts["--out"] or ROOT / "target" / "bench-fresh" / time.strftime("%Y%m%d-%H%M%S"))
    out.mkdir(parents=True, exist_ok=True)
    exe = build(out)
    figures = [f for f in opts["--figures"].split(",") if f] or \
        subprocess.run([str(exe), "list"], capture_output=True, text=True, check=True).stdout.split()
    log(f"measuring into {out}")
    results = run(exe, out, int(opts["--processes"]), opts["--regimes"].split(","), figures,
                  opts["--runs"], opts["--millis"])
    report(results)


if __name__ == "__main__":
    main()
