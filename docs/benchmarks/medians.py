#!/usr/bin/env python3
"""Print criterion's medians (ns per iteration) as JSON: {"<group dir>/<function>": ns}.

Usage: medians.py [target/criterion] > medians.json   (run after `cargo bench`)
"""
import json, pathlib, sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
medians = {}
for estimates in sorted(root.glob("*/*/new/estimates.json")):
    key = f"{estimates.parent.parent.parent.name}/{estimates.parent.parent.name}"
    medians[key] = json.loads(estimates.read_text())["median"]["point_estimate"]
json.dump(medians, sys.stdout, indent=1)
print()
