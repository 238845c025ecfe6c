#!/usr/bin/env python3
"""Compare CleanVision's duplicate sets (run_dup.py's lines in $CV_DIR/dup_cv.txt) with the
exact_duplicate_set / near_duplicate_set columns of `itlm-inspector check --all`
($CV_DIR/ours_dup.csv)."""
import ast, csv, os
CV = os.environ.get("CV_DIR", "/tmp/cv")
cv = set()
for line in open(f"{CV}/dup_cv.txt"):
    k, rest = line.split(" ", 1)
    cv.add((k, tuple(sorted(ast.literal_eval(rest)))))
groups = {}
for r in csv.DictReader(open(f"{CV}/ours_dup.csv")):
    for k, col in [("exact_duplicates", "exact_duplicate_set"), ("near_duplicates", "near_duplicate_set")]:
        if r[col]:
            groups.setdefault((k, r[col]), []).append(r["id"])
ours = {(k, tuple(sorted(v))) for (k, _), v in groups.items()}
print("sets: CleanVision", len(cv), "ours", len(ours), "the same", len(cv & ours))
print("only CleanVision's:", sorted(cv - ours))
print("only ours:", sorted(ours - cv))
