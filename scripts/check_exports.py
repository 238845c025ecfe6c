"""Load one export folder of scripts/check_exports.sh with the real libraries and check it
against the run's own samples.csv. Exits non-zero on the first mismatch."""
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd

out = sys.argv[1]
run = os.path.join(out, "run")
samples = pd.read_csv(os.path.join(run, "samples.csv"), keep_default_na=False)
n = len(samples)
classes = sorted(set(samples["given"]))

# --- cleanlab's table -------------------------------------------------------------------
issues = pd.read_csv(os.path.join(out, "label_issues.csv"), keep_default_na=False)
assert list(issues.columns) == [
    "path", "is_label_issue", "label_score", "given_label", "predicted_label"
], issues.columns
assert issues["is_label_issue"].dtype == bool, issues.dtypes
assert issues["label_score"].dtype == float, issues.dtypes
assert len(issues) == n
assert (issues["path"].values == samples["path"].values).all(), "not in dataset order"
assert (issues["given_label"].values == samples["given"].values).all()
assert (issues["predicted_label"].values == samples["predicted"].values).all()
assert np.allclose(issues["label_score"], samples["p_given"].astype(float), atol=1e-6)
dec = pd.read_csv(os.path.join(run, "decisions.csv"), keep_default_na=False)
decided = dict(zip(dec["path"], dec["decision"]))
want = [
    (decided[p] != "keep") if p in decided else (k == 0)
    for p, k in zip(samples["path"], samples["kept"].astype(int))
]
assert (issues["is_label_issue"].values == np.array(want)).all()
print(f"pandas: {n} rows, {int(issues['is_label_issue'].sum())} label issues "
      f"({int((samples['kept'] == 0).sum())} flagged, decisions {decided and len(decided)})")

import cleanlab
from cleanlab.rank import get_label_quality_scores

# pred_probs holding p(given) in the given column and the rest on the prediction (or spread):
# cleanlab's self-confidence score of it must be our label_score.
idx = {c: i for i, c in enumerate(sorted(set(samples["given"]) | set(samples["predicted"])))}
k = len(idx)
labels = np.array([idx[g] for g in issues["given_label"]])
pred = np.array([idx[p] for p in issues["predicted_label"]])
p = issues["label_score"].to_numpy()
probs = np.zeros((n, k))
for i in range(n):
    probs[i, labels[i]] = p[i]
    if pred[i] != labels[i]:
        probs[i, pred[i]] = 1 - p[i]
    else:
        others = [j for j in range(k) if j != labels[i]]
        probs[i, others] = (1 - p[i]) / len(others)
scores = get_label_quality_scores(labels, probs, method="self_confidence")
assert np.allclose(scores, p, atol=1e-6)
print(f"cleanlab {cleanlab.__version__}: self_confidence scores equal label_score")
try:
    from cleanlab import Datalab

    lab = Datalab(data={"label": labels}, label_name="label", verbosity=0)
    lab.find_issues(pred_probs=probs, issue_types={"label": {}})
    cols = list(lab.get_issues("label").columns)
    assert cols == list(issues.columns[1:]), cols
    print(f"cleanlab Datalab label issues columns: {cols} (ours: path + the same)")
except ImportError as e:
    print(f"cleanlab Datalab not checked: {e}")

# --- FiftyOne --------------------------------------------------------------------------
import fiftyone as fo

fo_dir = os.path.join(out, "fiftyone")
name = "itlm-check-" + os.path.basename(out)
if fo.dataset_exists(name):
    fo.delete_dataset(name)
ds = fo.Dataset.from_dir(
    dataset_dir=fo_dir,
    dataset_type=fo.types.FiftyOneImageClassificationDataset,
    name=name,
)
assert len(ds) == n, (len(ds), n)
by_path = {s.ground_truth["itlm_path"]: s for s in ds}
assert len(by_path) == n
for path, given, kept in zip(samples["path"], samples["given"], samples["kept"].astype(int)):
    s = by_path[path]
    gt = s.ground_truth
    assert gt.label == given, (path, gt.label, given)
    assert ("flagged" in gt.tags) == (kept == 0), (path, gt.tags)
    assert os.path.isfile(s.filepath)
label_tags = ds.count_label_tags()
print(f"fiftyone {fo.__version__}: from_dir loaded {len(ds)} samples; label tags {label_tags}; "
      f"classes {ds.default_classes or ds.info.get('classes')}")
assert label_tags.get("flagged", 0) == int((samples["kept"] == 0).sum())
ds.delete()
# The loader script: the sidecar's sample tags.
code = (
    "import sys; sys.path.insert(0, %r); import load_fiftyone as l; "
    "ds = l.load(%r); print(ds.count_sample_tags()); ds.delete()" % (fo_dir, name)
)
r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
assert r.returncode == 0, r.stderr
sample_tags = eval(r.stdout.strip().splitlines()[-1])
print(f"load_fiftyone.py: sample tags {sample_tags}")
assert sample_tags == label_tags, (sample_tags, label_tags)

# --- the report ------------------------------------------------------------------------
import html5lib

html = open(os.path.join(out, "report.html"), "rb").read()
html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(html)
for needle in [b"<script", b"http://", b"https://"]:
    assert needle not in html, needle
print(f"report: {len(html)} bytes, html5lib strict parse OK, no script or external resource")
