#!/usr/bin/env python3
"""Run the benchmarks in every regime, interleaved, and print one table per regime.

Usage: docs/benchmarks/run.py [--rounds N] [--regimes idle,one-cpu,busy] [--quick]
                              [--out DIR] [--svg DIR] [--from DIR] [-- CRITERION ARGS...]

It builds the bench binaries (lock, primitives, queue, local, cpu) once and copies them into
DIR/bin (DIR/build.txt records `git describe --dirty`), so every run measures the same
build. Round k then runs, for each regime in turn, the binaries as `cargo bench`
would, with THREADKIT_BENCH_REGIME set (see benches/common/mod.rs): the regimes of one
round are measured minutes apart, so a slow spell of the machine hits every regime alike.
After each run it saves criterion's medians of the groups that run measured
(`<regime>-r<k>.json`, by medians.py), benches/cpu.rs's figures (`cpu-<regime>-r<k>.json`)
and the log (`log-<regime>-r<k>.txt`) in DIR (default: <target dir>/bench-runs/<time>).

Then it prints, per regime, in Markdown:
- the threadkit / peer ratios of criterion's medians, one column per round, their median,
  the target and the verdict (ratios.py holds the rows and targets), and
- CPU time per hand-off (benches/cpu.rs): threadkit / peer ratios per round (each round's
  figure is the median of the bench's own interleaved rounds), their median and target,
  and the absolute figures.

--regimes   comma-separated, of idle, one-cpu, busy, pinned (default idle,one-cpu,busy;
            `pinned` reproduces the earlier pinned figures)
--quick     a smoke run: --warm-up-time 0.3 --measurement-time 0.5, 3 CPU rounds
--svg DIR   also draw DIR/ratios-<regime>.svg
--from DIR  print the tables of an earlier run's DIR, running nothing
Arguments after `--` go to every bench binary (criterion filters, e.g. `-- ping-pong`).
A full round of the three default regimes takes about 12 minutes on a 2-CPU machine
(the queue bench's 24 functions add about 100 s per regime; the local bench's 14, which
run in the idle regime only, about 60 s).
"""
import glob, json, os, pathlib, re, shutil, statistics, subprocess, sys, time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import medians as medians_mod  # noqa: E402
import ratios  # noqa: E402

BENCHES = ["lock", "primitives", "queue", "local", "cpu"]

# (figure, pairs, peer, label, {regime: target}) for benches/cpu.rs; the issue-8 targets
# are for 8 threads in 4 pairs on the 2 CPUs of an otherwise idle machine.
CPU_ROWS = [
    ("condition", 4, "parking_lot", "Condition, 8 threads / parking_lot", {"idle": 1.50}),
    ("condition", 4, "std", "Condition, 8 threads / std", {}),
    ("event", 4, "naive", "Event, 8 threads / naive", {"idle": 1.50}),
    ("semaphore", 4, "naive", "Semaphore, 8 threads / naive", {}),
    ("condition", 1, "parking_lot", "Condition, 2 threads / parking_lot", {}),
    ("condition", 1, "std", "Condition, 2 threads / std", {}),
    ("event", 1, "naive", "Event, 2 threads / naive", {}),
    ("semaphore", 1, "naive", "Semaphore, 2 threads / naive", {}),
]


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def fmt_ns(v):
    return f"{v / 1000:.2f} µs" if v >= 1000 else f"{v:.0f} ns"


def target_dir():
    meta = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"],
                          check=True, capture_output=True, text=True).stdout
    return pathlib.Path(json.loads(meta)["target_directory"])


def build(out):
    """Builds the bench binaries once and copies them into DIR/bin, so that every regime
    and round measures the same build even if the tree or target/ changes meanwhile."""
    log("building the benches ...")
    messages = subprocess.run(["cargo", "bench", "--no-run", "--message-format=json"]
                              + [f"--bench={b}" for b in BENCHES],
                              check=True, stdout=subprocess.PIPE, text=True).stdout
    exes = {}
    for line in messages.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg.get("executable") \
                and msg["target"]["name"] in BENCHES and "bench" in msg["target"]["kind"]:
            exes[msg["target"]["name"]] = msg["executable"]
    missing = set(BENCHES) - set(exes)
    if missing:
        sys.exit(f"cargo built no executable for {sorted(missing)}")
    bin_dir = out / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, exe in exes.items():
        shutil.copy2(exe, bin_dir / name)
    rev = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True).stdout.strip()
    (out / "build.txt").write_text(f"git {rev or '?'}\nbuilt {time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n")
    log(f"built {rev or '?'}; binaries in {bin_dir}")
    return {name: bin_dir / name for name in BENCHES}


def run_benches(out, regimes, rounds, bench_args, cpu_rounds):
    criterion = target_dir() / "criterion"
    exes = build(out)
    package_root = pathlib.Path(__file__).resolve().parents[2]
    for k in range(1, rounds + 1):
        for regime in regimes:
            load = os.getloadavg()
            if load[0] > 0.5:
                log(f"warning: load average {load[0]:.2f} before the run: the machine is not idle")
            log(f"round {k}/{rounds}, regime {regime} (load {load[0]:.2f}) ...")
            env = dict(os.environ, THREADKIT_BENCH_REGIME=regime,
                       THREADKIT_CPU_JSON=str(out / f"cpu-{regime}-r{k}.json"),
                       CRITERION_HOME=str(criterion))
            if cpu_rounds:
                env["THREADKIT_CPU_ROUNDS"] = str(cpu_rounds)
            started = time.time()
            with open(out / f"log-{regime}-r{k}.txt", "w") as logfile:
                logfile.write(f"# load average before: {load}\n")
                logfile.flush()
                for name in BENCHES:
                    # What `cargo bench` runs: the binary with `--bench`, from the package root.
                    subprocess.run([str(exes[name]), "--bench"] + bench_args, cwd=package_root,
                                   env=env, stdout=logfile, stderr=subprocess.STDOUT, check=True)
            found = medians_mod.medians(criterion, since=started)
            (out / f"{regime}-r{k}.json").write_text(json.dumps(found, indent=1) + "\n")
            log(f"  {time.time() - started:.0f} s, {len(found)} criterion medians")


def saved_runs(out, pattern):
    """{regime: [(round, data)]} from files named like `<pattern>` with {regime} and {k}."""
    found = {}
    regex = re.compile(re.escape(pattern).replace(r"\{regime\}", r"(?P<regime>[a-z-]+)")
                       .replace(r"\{k\}", r"(?P<k>\d+)") + "$")
    for path in glob.glob(str(out / "*.json")):
        m = regex.match(pathlib.Path(path).name)
        if m:
            found.setdefault(m["regime"], []).append((int(m["k"]), json.load(open(path))))
    return {regime: sorted(runs, key=lambda r: r[0]) for regime, runs in found.items()}


def cpu_table(regime, runs):
    """The CPU-per-hand-off table of one regime; `runs` are benches/cpu.rs JSON files."""
    def fig(run, key, field):
        case = run["cases"].get(key)
        return statistics.median(case[field]) if case and case[field] else None

    rows = []
    for figure, pairs, peer, label, targets in CPU_ROWS:
        ours_key, peer_key = f"{figure}/{pairs}-pairs/threadkit", f"{figure}/{pairs}-pairs/{peer}"
        cpu, wall, ours_abs, peer_abs = [], [], [], []
        for run in runs:
            o, p = fig(run, ours_key, "cpu_ns"), fig(run, peer_key, "cpu_ns")
            if o is None or p is None:
                continue
            cpu.append(o / p)
            ours_abs.append(o)
            peer_abs.append(p)
            wall.append(fig(run, ours_key, "wall_ns") / fig(run, peer_key, "wall_ns"))
        if cpu:
            rows.append((label, cpu, statistics.median(cpu), targets.get(regime),
                         statistics.median(ours_abs), statistics.median(peer_abs), statistics.median(wall)))
    if not rows:
        return ""
    n = len(runs)
    out = ["| CPU per hand-off (threadkit / peer) | " + " | ".join(f"r{k}" for k in range(1, n + 1))
           + " | median | target | result | threadkit CPU | peer CPU | wall ratio |",
           "|---|" + "---:|" * (n + 2) + "---|---:|---:|---:|"]
    for label, ratios_, median, target, ours, peer, wall in rows:
        verdict = "" if target is None else ("PASS" if median <= target else "**FAIL**")
        cells = [ratios.fmt_ratio(x) for x in ratios_] + [""] * (n - len(ratios_))
        goal = "" if target is None else f"≤ {target:.2f}"
        out.append(f"| {label} | {' | '.join(cells)} | **{ratios.fmt_ratio(median)}** | {goal} | {verdict} "
                   f"| {fmt_ns(ours)} | {fmt_ns(peer)} | {ratios.fmt_ratio(wall)} |")
    return "\n".join(out)


def report(out, regimes, svg_dir):
    crit = saved_runs(out, "{regime}-r{k}.json")
    cpu = saved_runs(out, "cpu-{regime}-r{k}.json")
    for regime in regimes:
        runs = crit.get(regime, [])
        cpu_runs = cpu.get(regime, [])
        if not runs and not cpu_runs:
            continue
        print(f"\n## Regime: {regime} ({len(runs)} round(s), {out})\n")
        rows = ratios.rows_for(regime, [data for _, data in runs])
        if rows:
            print(ratios.table(rows, [f"r{k}" for k, _ in runs]))
            if svg_dir:
                pathlib.Path(svg_dir).mkdir(parents=True, exist_ok=True)
                ratios.write_svg(str(pathlib.Path(svg_dir) / f"ratios-{regime}.svg"), rows, f"regime {regime}")
        table = cpu_table(regime, [data for _, data in cpu_runs])
        if table:
            print("\n" + table)


def main(argv):
    rounds, regimes, quick, out, svg_dir, from_dir = 1, ["idle", "one-cpu", "busy"], False, None, None, None
    bench_args = []
    if "--" in argv:
        i = argv.index("--")
        argv, bench_args = argv[:i], argv[i + 1:]
    while argv:
        opt = argv.pop(0)
        if opt == "--rounds":
            rounds = int(argv.pop(0))
        elif opt == "--regimes":
            regimes = argv.pop(0).split(",")
        elif opt == "--quick":
            quick = True
        elif opt == "--out":
            out = pathlib.Path(argv.pop(0))
        elif opt == "--svg":
            svg_dir = argv.pop(0)
        elif opt == "--from":
            from_dir = pathlib.Path(argv.pop(0))
        else:
            sys.exit(__doc__)
    if any(r not in ratios.REGIMES for r in regimes):
        sys.exit(f"unknown regime in {regimes}; expected some of {ratios.REGIMES}")
    if from_dir:
        report(from_dir, regimes, svg_dir)
        return
    out = out or target_dir() / "bench-runs" / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    if quick:
        bench_args = ["--warm-up-time", "0.3", "--measurement-time", "0.5"] + bench_args
    run_benches(out, regimes, rounds, bench_args, 3 if quick else None)
    report(out, regimes, svg_dir)


if __name__ == "__main__":
    main(sys.argv[1:])
