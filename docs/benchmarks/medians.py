#!/usr/bin/env python3
"""Print criterion's medians (ns per iteration) as JSON: {"<group dir>/<function>": ns}.

Usage: medians.py [--since EPOCH_SECONDS] [target/criterion] > medians.json
(run after `cargo bench`). With --since, only the estimates written at or after
that time, i.e. by the last run (criterion keeps every group it ever measured).
Group directories are criterion's: `event/ping-pong/idle` is `event_ping-pong_idle`.
"""
import json, pathlib, sys


def medians(root="target/criterion", since=None):
    """{"<group dir>/<function>": median ns} from criterion's `new/estimates.json`."""
    found = {}
    for estimates in sorted(pathlib.Path(root).glob("*/*/new/estimates.json")):
        if since is not None and estimates.stat().st_mtime < since:
            continue
        key = f"{estimates.parent.parent.parent.name}/{estimates.parent.parent.name}"
        found[key] = json.loads(estimates.read_text())["median"]["point_estimate"]
    return found


def main(argv):
    since = None
    if argv[:1] == ["--since"]:
        since, argv = float(argv[1]), argv[2:]
    json.dump(medians(argv[0] if argv else "target/criterion", since), sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
