#!/usr/bin/env bash
# Frame times of the window under Xvfb (issues 14 and 16), driven by xdotool.
#
# Usage: scripts/frame_drive.sh map|grid RUN.itlm [BINARY] [STATS_FILE]
#   map   1600x1000 screen: scroll the left column to the embedding map, then 3 times: each of
#         the four colourings with the pointer swept across the map (hover), and a drag (pan).
#         The coordinates were found on a 20000-sample Fashion-MNIST run (first start, default
#         panels).
#   grid  1280x800 screen: 3 times: the tau slider dragged back and forth, the four tabs, the
#         ten rounds, the grid scrolled (found on the 10-round 100k run that
#         `itlm-inspector bench --only scale --scale-n 100000 --scratch DIR` leaves).
#   BINARY defaults to target/release/itlm-inspector; STATS_FILE to /tmp/frame_drive.txt.
# Prints the stats file (frame CPU and our UI code's p50/p95, `ITLM_FRAME_STATS`).
# Needs: Xvfb, xdotool. Uses display :96 and fresh data/cache folders under /tmp/frame_drive.
set -u
MODE=$1; RUN=$2; BIN=${3:-target/release/itlm-inspector}; STATS=${4:-/tmp/frame_drive.txt}
W=/tmp/frame_drive
rm -rf "$W"; mkdir -p "$W/xdg" "$W/data" "$W/cache"; rm -f "$STATS"
export DISPLAY=:96 XDG_DATA_HOME=$W/xdg ITLM_DATA_DIR=$W/data ITLM_CACHE_DIR=$W/cache
case $MODE in map) SCREEN=1600x1000x24 ;; grid) SCREEN=1280x800x24 ;; *) echo "map or grid"; exit 2 ;; esac
Xvfb :96 -screen 0 $SCREEN >"$W/xvfb.log" 2>&1 & XVFB=$!
sleep 2
ITLM_FRAME_STATS=$STATS "$BIN" "$RUN" >"$W/app.log" 2>&1 & APP=$!
sleep 15
if [ "$MODE" = map ]; then
  # scroll outside the plot, so the wheel moves the column
  xdotool mousemove 240 600; for _ in $(seq 15); do xdotool click 5; sleep 0.1; done; sleep 1
  for _ in 1 2 3; do
    for c in "359 551" "458 551" "527 551" "56 574"; do
      xdotool mousemove $c click 1; sleep 0.3
      for x in $(seq 60 12 540); do xdotool mousemove $x $(( 640 + (x * 7) % 250 )); sleep 0.02; done
    done
    xdotool mousemove 300 760 mousedown 1
    for x in $(seq 300 -4 200) $(seq 200 4 300); do xdotool mousemove $x 760; sleep 0.02; done
    xdotool mouseup 1; sleep 0.3
  done
else
  for _ in 1 2 3; do
    xdotool mousemove 83 138 mousedown 1
    for x in $(seq 83 -2 20) $(seq 20 3 105) $(seq 105 -2 60); do xdotool mousemove $x 138; sleep 0.03; done
    xdotool mouseup 1; sleep 0.3
    for t in 747 840 947 628; do xdotool mousemove $t 245 click 1; sleep 0.4; done
    for r in 126 198 271 343 415 488 560 632 705 773; do xdotool mousemove $r 184 click 1; sleep 0.25; done
    xdotool mousemove 880 600; for _ in $(seq 8); do xdotool click 5; sleep 0.05; done
  done
fi
sleep 4   # the stats file is rewritten every few seconds
kill $APP $XVFB 2>/dev/null
grep -E "frames|p50|p95" "$STATS" | grep -v training
