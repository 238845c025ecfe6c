#!/usr/bin/env bash
# The adversarial probe of issue 17: throws a large set of hostile inputs (broken datasets,
# outputs inside the dataset or unwritable, bad options, decisions and truth files, signals
# and concurrent runs, ~300 mutated run files) at the release binary and classifies each
# outcome: clear error, success, panic, hang (60 s), write into the dataset or an input file,
# loss of an earlier complete output set, unclear message. Prints a summary table and exits
# non-zero on any panic, hang, write or loss. Not run by CI (a few minutes on 2 cores).
#
#   cargo build --release && scripts/probe.sh [BINARY] [--keep] [--verbose] [--only GROUP,..]
#
# BINARY defaults to target/release/itlm-inspector. Everything it makes lives in one
# temporary folder (removed after unless --keep). The logic is in scripts/probe.py (python3
# standard library only).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="$here/../target/release/itlm-inspector"
if [[ $# -gt 0 && "$1" != --* ]]; then
    bin="$1"
    shift
fi
if [[ ! -x "$bin" ]]; then
    echo "probe: no binary at $bin: run \`cargo build --release\` first or pass its path" >&2
    exit 2
fi
command -v python3 >/dev/null || { echo "probe: python3 is needed" >&2; exit 2; }
exec python3 "$here/probe.py" "$bin" "$@"
