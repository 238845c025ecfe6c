#!/usr/bin/env bash
# Issue 13's real check of the window, under Xvfb, with the keyboard only (xdotool):
#  1. a Fashion-MNIST copy with 40% systematic noise (N training images, in a temp folder);
#  2. open it in the window, Space starts a run, wait until the saved run says "finished";
#  3. open the Review tab (Ctrl+4) and review 50 samples: K keep, X exclude,
#     R accept the predicted class, digits relabel, one Backspace undo (back to the undone
#     sample), Right and Left back to it, Right skip; every key is checked against the decisions journal (decisions.csv);
#  4. kill -9 the window; the journal is unchanged; reopen the saved run in a new window;
#  5. export from the reopened window (Ctrl+E "All files" -> labels.csv; Export menu ->
#     "Cleaned dataset folder"): labels.csv carries the same 50 decisions, the cleaned folder
#     holds exactly clean.txt + kept + relabelled (under the new class) - excluded;
#  6. `report` writes the HTML report; headless Chromium screenshots it (when installed).
# Screenshots of each step are left in OUT/shots. Exits non-zero on the first failed check.
#   scripts/review_walk.sh [N=3000]
# Env: BIN (default target/release/itlm-inspector), OUT (default a new /tmp/review_walk.XXXX),
#      FM (default /usr/share/datasets/fashion-mnist), RUN_TIMEOUT (seconds, default 1200).
# Needs Xvfb, xdotool, ImageMagick (import, compare, convert), python3; chromium optional.
# The window runs at 1280x800.
set -uo pipefail
N=${1:-3000}
BIN=$(realpath "${BIN:-target/release/itlm-inspector}")
FM=${FM:-/usr/share/datasets/fashion-mnist}
RUN_TIMEOUT=${RUN_TIMEOUT:-1200}
OUT=${OUT:-$(mktemp -d /tmp/review_walk.XXXX)}
mkdir -p "$OUT/shots"
SHOTS=$OUT/shots
fail() { echo "FAILED: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
for t in Xvfb xdotool import compare convert python3; do
  command -v $t >/dev/null || { echo "missing tool: $t (apt-get install xvfb xdotool imagemagick)" >&2; exit 2; }
done
[ -x "$BIN" ] || { echo "no binary at $BIN (cargo build --release, or BIN=...)" >&2; exit 2; }

# --- a display of our own, a home of our own (fresh settings, runs under $OUT/data) ---
D=97
while [ -e /tmp/.X11-unix/X$D ] || [ -e /tmp/.X$D-lock ]; do D=$((D + 1)); done
Xvfb :$D -screen 0 1280x800x24 -nolisten tcp >"$OUT/xvfb.log" 2>&1 &
XPID=$!
APP=
cleanup() {
  [ -n "$APP" ] && kill -9 "$APP" 2>/dev/null
  kill "$XPID" 2>/dev/null
}
trap cleanup EXIT
export DISPLAY=:$D HOME=$OUT/home ITLM_DATA_DIR=$OUT/data
export XDG_DATA_HOME=$OUT/home/.local/share XDG_CONFIG_HOME=$OUT/home/.config
mkdir -p "$HOME"
sleep 2
shot() { import -window root "$SHOTS/$1.png"; echo "  screenshot $SHOTS/$1.png"; }

# --- 1. the noisy copy ---
"$BIN" corrupt "$FM" --out "$OUT/fm" --noise systematic --rate 0.4 --limit "$N" >"$OUT/corrupt.log" 2>&1 \
  || fail "corrupt: $(tail -3 "$OUT/corrupt.log")"
ok "copy $OUT/fm: $N images, $(grep -c ',systematic$' "$OUT/fm/truth.csv") truly bad"
find "$OUT/fm" -type f -printf '%P %s %T@\n' | sort >"$OUT/fm.before"

start_app() { # $1: path to open, $2: log name
  "$BIN" gui "$1" >"$OUT/$2.log" 2>&1 &
  APP=$!
  W=
  for _ in $(seq 1 60); do
    W=$(xdotool search --name itlm 2>/dev/null | head -1)
    [ -n "$W" ] && break
    sleep 1
  done
  [ -n "$W" ] || fail "no window appeared for $1 ($(tail -3 "$OUT/$2.log"))"
  sleep 4
  xdotool mousemove 1270 790 # the pointer off the grid (no hover tooltips)
  xdotool windowfocus --sync "$W"
}
key() { xdotool key --window "$W" "$@"; }

# Ctrl+4 opens the Review tab. Sent through XTEST to the focused window (`xdotool key` without
# --window: winit ignores the modifier state of the synthetic events --window sends).
open_review() {
  key Escape; sleep 0.3
  xdotool windowfocus --sync "$W"
  xdotool key --clearmodifiers ctrl+4; sleep 1
  echo "  Review tab: Ctrl+4"
}

# --- 2. open, Space, wait for the finished run ---
start_app "$OUT/fm" app1
shot 01_open
key space
RUN=
for _ in $(seq 1 60); do
  RUN=$(ls "$OUT"/data/runs/*/run-001.itlm 2>/dev/null | head -1)
  [ -n "$RUN" ] && break
  sleep 2
done
[ -n "$RUN" ] || fail "Space did not start a run (no run-001.itlm autosaved in 120 s)"
shot 02_running
t0=$(date +%s)
while :; do
  "$BIN" report "$RUN" --out "$OUT/probe.html" --force >/dev/null 2>&1 && grep -q '(finished)' "$OUT/probe.html" && break
  [ $(($(date +%s) - t0)) -lt "$RUN_TIMEOUT" ] || fail "the run did not finish in $RUN_TIMEOUT s"
  sleep 10
done
rm -f "$OUT/probe.html"
sleep 2
ok "run finished: $RUN ($(($(date +%s) - t0)) s after it was first saved)"
shot 03_finished
JOURNAL=$(dirname "$RUN")/decisions.csv

# --- 3. review 50 samples with the keyboard ---
open_review
shot 04_review
rows() { if [ -f "$JOURNAL" ]; then echo $(($(wc -l <"$JOURNAL") - 1)); else echo 0; fi; }
expect=0
press() { # key, rows it must add to the journal
  key "$1"; sleep 0.45
  expect=$((expect + $2))
  local r; r=$(rows)
  [ "$r" -eq "$expect" ] || fail "after key '$1' the journal has $r rows, expected $expect ($JOURNAL)"
}
decide() { for k in "$@"; do press "$k" 1; done; }
decide r x k r 8 r x r k 3
shot 05_after10
decide r r x k r 2 r x r r k r 4 r x r r k r 0
shot 06_after30
press BackSpace 1 # undo: a "clear" row
[ "$(tail -1 "$JOURNAL" | cut -d, -f2)" = clear ] || fail "Backspace did not journal a clear: $(tail -1 "$JOURNAL")"
undone=$(tail -1 "$JOURNAL" | cut -d, -f1)
shot 07_undo
# Backspace goes back to the undone sample; Right leaves it, Left returns to it.
press Right 0
press Left 0
press x 1
[ "$(tail -1 "$JOURNAL" | cut -d, -f1)" = "$undone" ] || fail "Backspace then Right, Left did not end on the undone sample $undone"
press Right 0 # skip one
decide r r x r k r 6 r r x r k r r 9 r x r r k
sleep 1
shot 08_after50
summary() { # journal -> "rows decided excluded kept relabelled"
  python3 - "$1" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
last = {}
for r in rows:
    last[r["path"]] = r
d = [r["decision"] for r in last.values() if r["decision"] != "clear"]
print(len(rows), len(d), d.count("exclude"), d.count("keep"), d.count("relabel"))
PY
}
read -r R1 D1 X1 K1 L1 < <(summary "$JOURNAL")
echo "  journal before the kill: $R1 rows, $D1 decided ($X1 excluded, $K1 kept, $L1 relabelled)"
# 8 K presses and 33 relabels (R, digits); a relabel to the class a sample is labelled is a keep.
[ "$R1 $D1 $X1" = "52 50 9" ] && [ $((K1 + L1)) -eq 41 ] && [ "$K1" -ge 8 ] \
  || fail "expected 52 rows, 50 decided (9 excluded, 41 kept or relabelled, at least 8 kept)"
cp "$JOURNAL" "$OUT/decisions.before-kill.csv"

# --- 4. kill -9, reopen the saved run ---
kill -9 "$APP"
wait "$APP" 2>/dev/null
APP=
sleep 1
cmp -s "$JOURNAL" "$OUT/decisions.before-kill.csv" || fail "the journal changed at the kill"
ok "killed with -9; the journal holds all $R1 rows"
start_app "$RUN" app2
shot 09_reopened
cmp -s "$JOURNAL" "$OUT/decisions.before-kill.csv" || echo "  note: reopening rewrote the journal (compaction)"
read -r R2 D2 X2 K2 L2 < <(summary "$JOURNAL")
[ "$D2 $X2 $K2 $L2" = "$D1 $X1 $K1 $L1" ] || fail "the journal after reopening says $D2 decided, before $D1"

# --- 5. exports from the reopened window ---
EXP=$HOME/itlm-inspector/fm
key Escape; sleep 0.2
key ctrl+e; sleep 1
# (no Escape here: outside the Review tab it closes the export window)
key shift+Tab; sleep 0.2; key shift+Tab; sleep 0.3 # "Export now" (Cancel is last)
shot 10_export_all
key Return
for _ in $(seq 1 30); do [ -f "$EXP/labels.csv" ] && break; sleep 1; done
[ -f "$EXP/labels.csv" ] || fail "Ctrl+E, Export now wrote no labels.csv in $EXP"
python3 - "$EXP/labels.csv" "$OUT/decisions.before-kill.csv" <<'PY' || fail "labels.csv does not carry the journal's decisions"
import csv, sys
labels = {r["path"]: r for r in csv.DictReader(open(sys.argv[1]))}
last = {}
for r in csv.DictReader(open(sys.argv[2])):
    last[r["path"]] = r
want = {p: r for p, r in last.items() if r["decision"] != "clear"}
got = {p: r for p, r in labels.items() if r["decision"]}
bad = [p for p, r in want.items()
       if p not in got or got[p]["decision"] != r["decision"]
       or (r["decision"] == "relabel" and got[p]["label"] != r["label"])
       or (r["decision"] == "exclude" and got[p]["label"] != "")]
print(f"  labels.csv: {len(labels)} rows, {len(got)} with a decision; {len(want) - len(bad)} of the {len(want)} journal decisions match")
sys.exit(1 if bad or len(got) != len(want) else 0)
PY
ok "the reopened window exported all $D1 decisions (labels.csv)"
sleep 1
key Escape; sleep 0.2
key Tab; sleep 0.2; key Return; sleep 0.6 # the Export menu (first widget)
# Tab down the menu to its third item, "Cleaned dataset folder...": the focus ring's change
# against the open menu spans from the Export button (y 4) to the focused item's bottom
# (item 1: 47 px high, item 2: 70, item 3: 93).
t=$(mktemp -d); import -window root "$t/b.png"; found=
for i in $(seq 1 12); do
  key Tab; sleep 0.3
  import -window root "$t/f.png"
  compare "$t/b.png" "$t/f.png" -compose src -highlight-color white -lowlight-color black "$t/d.png" 2>/dev/null
  h=$(convert "$t/d.png" -trim info: 2>/dev/null | awk '{print $3}' | cut -dx -f2)
  if [ "$h" -ge 86 ] 2>/dev/null && [ "$h" -le 100 ]; then found=$i; break; fi
done
rm -rf "$t"
[ -n "$found" ] || fail "the Export menu's \"Cleaned dataset folder\" item was not reached with Tab"
echo "  Export menu: Cleaned dataset folder focused after $found Tab, Enter"
key Return; sleep 1
key shift+Tab; sleep 0.2; key shift+Tab; sleep 0.3
shot 11_export_clean
key Return
for _ in $(seq 1 60); do [ -d "$EXP/cleaned" ] && break; sleep 1; done
sleep 3
[ -d "$EXP/cleaned" ] || fail "no cleaned folder in $EXP"
python3 - "$EXP" "$OUT/decisions.before-kill.csv" "$OUT/fm" <<'PY' || fail "the cleaned folder is not clean.txt + decisions"
import csv, os, sys
exp, journal, src = sys.argv[1:4]
c = os.path.join(exp, "cleaned")
got = {(d, f) for d in os.listdir(c) if os.path.isdir(os.path.join(c, d)) for f in os.listdir(os.path.join(c, d))}
want = {}
for l in open(os.path.join(exp, "clean.txt")):
    if not l.startswith("#") and l.strip():
        p = l.split("\t")[0].strip()
        want[p] = p.split("/")[0]
last = {}
for r in csv.DictReader(open(journal)):
    last[r["path"]] = r
for p, r in last.items():
    if r["decision"] == "exclude":
        want.pop(p, None)
    elif r["decision"] == "keep":
        want[p] = p.split("/")[0]
    elif r["decision"] == "relabel":
        want[p] = r["label"]
w = {(cl, os.path.basename(p)) for p, cl in want.items()}
linked = all(os.stat(os.path.join(c, want[p], os.path.basename(p))).st_ino == os.stat(os.path.join(src, p)).st_ino
             for p, r in last.items() if r["decision"] == "relabel")
print(f"  cleaned/: {len(got)} files, expected {len(w)}; missing {len(w - got)}, extra {len(got - w)}; relabelled ones hard-linked under their new class: {linked}")
sys.exit(0 if got == w and linked else 1)
PY
ok "cleaned folder checked"
shot 12_exported

# --- nothing written into the dataset folder ---
find "$OUT/fm" -type f -printf '%P %s %T@\n' | sort >"$OUT/fm.after"
cmp -s "$OUT/fm.before" "$OUT/fm.after" || fail "the dataset folder changed: $(diff "$OUT/fm.before" "$OUT/fm.after" | head -3)"
ok "the dataset folder is untouched"

# --- 6. the report ---
"$BIN" report "$RUN" --out "$OUT/report.html" >"$OUT/report.log" 2>&1 || fail "report: $(tail -3 "$OUT/report.log")"
grep -q "$D1 of the [0-9]* flagged samples reviewed" "$OUT/report.html" || fail "the report does not say $D1 reviewed"
ok "report $OUT/report.html ($(wc -c <"$OUT/report.html") bytes) summarises the $D1 decisions"
CHROME=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -n "$CHROME" ]; then
  timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --screenshot="$SHOTS/13_report.png" \
    --window-size=1280,4200 "file://$OUT/report.html" >/dev/null 2>&1 || fail "chromium could not render the report"
  echo "  screenshot $SHOTS/13_report.png"
else
  echo "  (no chromium: the report was not rendered)"
fi
echo "PASSED: 50 decisions by keyboard, $R1 journal rows; after kill -9 and reopening: $D2 decided ($X2 excluded, $K2 kept, $L2 relabelled). Output in $OUT"
