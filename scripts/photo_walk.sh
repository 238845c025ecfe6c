#!/usr/bin/env bash
# Photo walk (issue 14): the window under Xvfb on a colour photo folder.
#   load -> "use a linear head on EfficientNet-Lite0" -> Start -> wait for the run ->
#   embedding map (other plots off) -> lasso a cluster -> "duplicates (N)" -> open a copy.
#
# Usage: scripts/photo_walk.sh [DATASET] [OUTDIR]
#   DATASET  an image folder with train/ and test/ class folders (default /tmp/pl/dupset;
#            it is only read). The coordinates below were found at 1280x800 on that set
#            (8 classes, truth.csv next to it, 3 copies: exact, half-size, JPEG q70;
#            `scripts/photo_like_set.py SKIMAGE_DATA /tmp/pl/dupset --copies` makes such a set,
#            its truth.csv names the copies as mislabelled, kind "random").
#   OUTDIR   where the screenshots go (default /tmp/photo_walk)
# Env: BIN (default /tmp/walkbin2/itlm-inspector), DISP (X display number, default 98),
#      XDG_DATA_HOME (where the EfficientNet-Lite0 weights are installed, default /tmp/sk/share),
#      ITLM_CACHE_DIR / ITLM_DATA_DIR (default OUTDIR/cache and OUTDIR/data, emptied at
#      every start; given ones must be empty for a first-run layout: the notes above the
#      plots move the map otherwise).
# Needs: Xvfb, xdotool, ImageMagick (import, compare), python3.
set -u
DATASET=${1:-/tmp/pl/dupset}
OUT=${2:-/tmp/photo_walk}
BIN=${BIN:-/tmp/walkbin2/itlm-inspector}
DISP=${DISP:-98}
export XDG_DATA_HOME=${XDG_DATA_HOME:-/tmp/sk/share}
# The default data and cache folders are the walk's own, emptied at every start: a saved run
# of the set left by an earlier walk adds a note ("This dataset has a saved run") that moves
# every control below it, and the clicks then land elsewhere while the screen still changes.
[ -n "${ITLM_CACHE_DIR:-}" ] || { ITLM_CACHE_DIR="$OUT/cache"; rm -rf "$ITLM_CACHE_DIR"; }
[ -n "${ITLM_DATA_DIR:-}" ] || { ITLM_DATA_DIR="$OUT/data"; rm -rf "$ITLM_DATA_DIR"; }
export ITLM_CACHE_DIR ITLM_DATA_DIR
export DISPLAY=:$DISP
mkdir -p "$OUT" "$ITLM_CACHE_DIR" "$ITLM_DATA_DIR"
# The app keeps its window state (model choice, View toggles, panel widths) in
# $XDG_DATA_HOME/itlm-inspector/app.ron; a second start then skips the hint and moves the
# panels. Start from a fresh data home that only links the installed weights.
XDG_SRC=$XDG_DATA_HOME
export XDG_DATA_HOME="$OUT/xdg"
rm -rf "$XDG_DATA_HOME"; mkdir -p "$XDG_DATA_HOME/itlm-inspector"
ln -s "$XDG_SRC/itlm-inspector/weights" "$XDG_DATA_HOME/itlm-inspector/weights"

fail=0
note() { echo "photo_walk: $*"; }
bad() { echo "photo_walk: FAIL: $*"; fail=1; }
shot() { import -display "$DISPLAY" -window root "$OUT/$1.png"; }
# pixels that differ between two screenshots
diffpx() { compare -metric AE "$OUT/$1.png" "$OUT/$2.png" null: 2>&1 | cut -d' ' -f1; }
expect_change() { # name_before name_after what
  local n; n=$(diffpx "$1" "$2")
  if [ "${n%.*}" -gt 200 ] 2>/dev/null; then note "$3: $n pixels changed"; else bad "$3: screen did not change ($n px)"; fi
}
expect_region_change() { # name_before name_after WxH+X+Y what: a change inside that region
  local n
  convert "$OUT/$1.png" -crop "$3" +repage "$OUT/region_a.png"
  convert "$OUT/$2.png" -crop "$3" +repage "$OUT/region_b.png"
  n=$(compare -metric AE "$OUT/region_a.png" "$OUT/region_b.png" null: 2>&1 | cut -d' ' -f1)
  if [ "${n%.*}" -gt 200 ] 2>/dev/null; then note "$4: $n pixels changed there"; else bad "$4: no change there ($n px)"; fi
}
alive() { kill -0 "$APP" 2>/dev/null || { bad "the app died ($1)"; finish; }; }
click() { xdotool mousemove "$1" "$2" click 1; sleep "${3:-0.8}"; }
finish() {
  [ -n "${APP:-}" ] && kill "$APP" 2>/dev/null
  [ -n "${XVFB:-}" ] && kill "$XVFB" 2>/dev/null
  [ $fail = 0 ] && note "OK, screenshots in $OUT" || note "some checks failed, screenshots in $OUT"
  exit $fail
}

Xvfb ":$DISP" -screen 0 1280x800x24 >"$OUT/xvfb.log" 2>&1 &
XVFB=$!
sleep 2
"$BIN" "$DATASET" >"$OUT/app.log" 2>&1 &
APP=$!
for _ in $(seq 30); do xdotool search --name itlm >/dev/null 2>&1 && break; sleep 1; done
WIN=$(xdotool search --name itlm | head -1)
[ -n "$WIN" ] || { bad "no itlm window"; finish; }
sleep 4
xdotool windowfocus "$WIN"
shot 01_loaded; alive loaded

# (1) the blue hint's button "use a linear head on EfficientNet-Lite0" (right end of the hint row)
click 966 138 1.5
shot 02_head; alive head
expect_change 01_loaded 02_head "linear-head button"

# (2) Start (the model box now reads "linear head on EfficientNet-Lite0")
click 343 115 2
shot 03_started
expect_change 02_head 03_started "Start"
# wait for the run: the autosave file appears when it finishes; then the screen settles
done_run=0
for i in $(seq 30); do
  sleep 10; alive "running, ${i}0 s"
  shot "04_run_$(printf %02d "$i")"
  if ls "$ITLM_DATA_DIR"/runs/*/run-*.itlm >/dev/null 2>&1; then
    sleep 3; shot 04_run_settle
    if [ "$(diffpx "04_run_$(printf %02d "$i")" 04_run_settle)" = 0 ]; then done_run=1; break; fi
  fi
done
[ $done_run = 1 ] && note "run finished after about ${i}0 s" || bad "run did not finish in 300 s"
cp "$OUT/04_run_settle.png" "$OUT/photo_head_run.png"

# (3) View menu: turn off loss histogram, metrics, confusion (the menu closes after each click)
for y in 41 64 87 110; do click 194 14 0.7; click 187 $y 0.7; done
click 45 295 1   # "Dismiss all" under the notes (3 notes on a first run)
shot 05_map; alive map
expect_change 04_run_settle 05_map "plots off, map on top"
click 210 237 0.6  # colour the map by "given class" (the map's colour row, under its title)
click 48 260 0.6   # shift-drag tool: lasso (wrapped under the colour row at 1280 px)
shot 06_lasso_tool
# a 12-point free-hand outline around the top-left cluster (hubble_deep_field)
PTS=$(python3 -c '
import math
for i in range(13):
    a = 2 * math.pi * i / 12
    print(int(240 + 45 * math.cos(a)), int(355 + 42 * math.sin(a)))')
set -- $PTS
xdotool mousemove "$1" "$2"; sleep 0.1
xdotool keydown shift; sleep 0.05; xdotool mousedown 1; sleep 0.05
echo "$PTS" | while read -r x y; do xdotool mousemove "$x" "$y"; sleep 0.05; done
sleep 0.5; shot 07_lasso_drawing   # the outline is drawn only while dragging
xdotool mouseup 1; sleep 0.05; xdotool keyup shift; sleep 1
shot 08_lasso_selected; alive lasso
expect_change 06_lasso_tool 08_lasso_selected "lasso selection (grid shows 'N selected')"
# (a tooltip alone changes the screen: the grid's selection bar, under its filters, must)
expect_region_change 06_lasso_tool 08_lasso_selected 740x50+540+297 "lasso selection in the grid's bar"
# the second lasso, over the same selection, shows the outline and the count
set -- $PTS
xdotool mousemove "$1" "$2"; sleep 0.1
xdotool keydown shift; sleep 0.05; xdotool mousedown 1; sleep 0.05
echo "$PTS" | while read -r x y; do xdotool mousemove "$x" "$y"; sleep 0.05; done
sleep 0.5; shot photo_map_lasso
xdotool mouseup 1; sleep 0.05; xdotool keyup shift; sleep 1

# (4) duplicates
click 722 335 0.7   # "select none" (the selection bar under the grid's filters)
click 618 266 1.2   # "duplicates (N images)" in the grid bar
shot 09_duplicates; alive duplicates
expect_change 08_lasso_selected 09_duplicates "duplicates filter"
click 805 197 0.8   # Kept tab (moves the path box's neighbours)
click 1000 266 0.4  # path filter
xdotool type --delay 60 copy; sleep 1.2
click 609 197 1     # Trimmed (3): the copies are trimmed on this set
shot 10_copies
click 596 380 1.2   # open the first copy
xdotool mousemove 1080 627
for _ in $(seq 10); do xdotool click 5; sleep 0.05; done   # scroll the detail panel to "1 copy in the set"
sleep 1; shot photo_duplicates; alive detail
expect_change 10_copies photo_duplicates "detail panel with the copy"
# The walk decides nothing: a journal means a click landed on a decision button (a layout
# change had moved "select none" onto "Accept predicted").
if find "$ITLM_DATA_DIR" -name decisions.csv | grep -q .; then
  bad "a click decided samples (a journal was written): the coordinates are stale"
else
  note "no decisions made by the walk's clicks"
fi
finish
