#!/usr/bin/env python3
"""CleanVision's exact and near duplicates (md5, phash 8) of DATA: one line per set."""
import sys
from cleanvision import Imagelab
lab = Imagelab(data_path=sys.argv[1])
lab.find_issues({"exact_duplicates": {}, "near_duplicates": {}})
print(lab.issue_summary)
for k in ["exact_duplicates", "near_duplicates"]:
    for s in lab.info[k]["sets"]:
        print(k, sorted(p.replace(sys.argv[1] + "/", "") for p in s))
