#!/usr/bin/env python3
"""Compare CleanVision's duplicate sets (run_dup.py's lines in $CV_DIR/dup_cv.txt) with the
exact_duplicates_of / near_duplicates_of columns of `itlm-inspector check --all`
($CV_DIR/ours_dup.csv)."""
import ast, csv, os
CV = os.environ.get("CV_DIR", "/tmp/cv")
cv = set()
for line in open(f"{CV}/dup_cv.txt"):
    k, rest = line.split(" ", 1)
    cv.add((k, tuple(sorted(ast.literal_eval(rest)))))
ours = set()
for r in csv.DictReader(open(f"{CV}/ours_dup.csv")):
    for k in ["exact_duplicates", "near_duplicates"]:
        if r[k + "_of"]:
            ours.add((k, tuple(sorted([r["id"]] + r[k + "_of"].split(";")))))
print("sets: CleanVision", len(cv), "ours", len(ours), "the same", len(cv & ours))
print("only CleanVision's:", sorted(cv - ours))
print("only ours:", sorted(ours - cv))
