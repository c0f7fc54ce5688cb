#!/usr/bin/env bash
# Reproduce docs/img/pareto.png: run the README's search (if RUN_DIR has no pareto.html yet),
# then screenshot RUN_DIR/pareto.html with headless Chromium (offline: plotly.js is embedded).
#   scripts/render_pareto_png.sh [RUN_DIR] [PNG]
# Defaults: RUN_DIR=/tmp/guide-run, PNG=docs/img/pareto.png. Needs lowformer-nas on PATH and
# chromium (Debian: apt-get install -y chromium). On a shared machine the search runs under
# `flock $LFNAS_LOCK` (default /tmp/lfnas-cpu.lock), like every CPU-heavy command here.
set -euo pipefail
run=${1:-/tmp/guide-run}
png=${2:-docs/img/pareto.png}
lock=${LFNAS_LOCK:-/tmp/lfnas-cpu.lock}
search=(lowformer-nas search --target jetson --latency-budget 5ms --out "$run")
if [ ! -f "$run/pareto.html" ]; then
  echo "run: ${search[*]}"
  if command -v flock >/dev/null; then flock "$lock" "${search[@]}"; else "${search[@]}"; fi
fi
browser=""
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null; then browser=$b; break; fi
done
[ -n "$browser" ] || { echo "render_pareto_png: no chromium found (apt-get install -y chromium)" >&2; exit 1; }
mkdir -p "$(dirname "$png")"
profile=$(mktemp -d); trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --hide-scrollbars --window-size=1400,900 \
  --virtual-time-budget=5000 --screenshot="$png" "file://$(cd "$run" && pwd)/pareto.html" \
  2>/dev/null
ls -l "$png"
