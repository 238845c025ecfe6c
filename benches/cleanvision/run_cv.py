#!/usr/bin/env python3
"""Run CleanVision's image-property checks on /tmp/cv/set with default thresholds.

Outputs (all in /tmp/cv):
  issues.csv          imagelab.issues: file path + every *_score and is_*_issue column
  raw_properties.csv  per-image raw properties from imagelab.info (brightness percentiles,
                      brightness, aspect_ratio, entropy, blurriness, blurriness_grayscale_std,
                      color_space, size) -- the values the scores are derived from
  info_statistics.json  imagelab.info["statistics"] (pandas describe() of each property)
  issue_summary.csv   imagelab.issue_summary
"""
import json
import sys

import pandas as pd
from cleanvision import Imagelab

# usage: run_cv.py [DATA_DIR [OUT_PREFIX]]   (default /tmp/cv/set -> /tmp/cv/issues.csv etc.)
DATA = sys.argv[1] if len(sys.argv) > 1 else "/tmp/cv/set"
PFX = sys.argv[2] if len(sys.argv) > 2 else "/tmp/cv/"
ISSUE_TYPES = {
    "dark": {},
    "light": {},
    "blurry": {},
    "low_information": {},
    "odd_aspect_ratio": {},
    "odd_size": {},
    "grayscale": {},
}


def main():
    imagelab = Imagelab(data_path=DATA)
    imagelab.find_issues(ISSUE_TYPES)

    issues = imagelab.issues.copy()
    issues.index.name = "path"
    issues = issues.reset_index()
    score_cols = sorted(c for c in issues.columns if c.endswith("_score"))
    flag_cols = sorted(c for c in issues.columns if c.startswith("is_") and c.endswith("_issue"))
    issues = issues[["path"] + score_cols + flag_cols]
    issues.to_csv(PFX + "issues.csv", index=False, float_format="%.17g")

    # raw per-image properties (each info[issue_type] is a DataFrame indexed by path)
    raw = pd.DataFrame(index=imagelab.issues.index)
    for it in ISSUE_TYPES:
        df = imagelab.info.get(it)
        if isinstance(df, pd.DataFrame):
            for c in df.columns:
                if c not in raw.columns:
                    raw[c] = df[c]
    raw.index.name = "path"
    raw.reset_index().to_csv(PFX + "raw_properties.csv", index=False, float_format="%.17g")

    def _num(x):
        try:
            return float(x)
        except (TypeError, ValueError):
            return str(x)

    stats = {k: {kk: _num(vv) for kk, vv in v.items()}
             for k, v in imagelab.info["statistics"].items()
             if isinstance(v, pd.Series)}
    with open(PFX + "info_statistics.json", "w") as f:
        json.dump(stats, f, indent=2)

    imagelab.issue_summary.to_csv(PFX + "issue_summary.csv", index=False)
    print(f"\n{len(issues)} images checked")
    print(imagelab.issue_summary.to_string())


if __name__ == "__main__":
    sys.exit(main())
