#!/bin/sh
# labelbench's forest vs scikit-learn's on the real lab captures (../shared/real/fit-iot-dataset),
# over SEEDS seeds (default 20): with 66 events one event is 1.5 points, so single runs are noise.
# Usage: benches/real_lab_compare.sh [OUT_DIR] [SEEDS]   (needs python3 with pandas + scikit-learn)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/tmp/labelbench-real-compare}
seeds=${2:-20}
lab="$here/../shared/real/fit-iot-dataset"
bin="$here/target/release/labelbench"
[ -x "$bin" ] || (cd "$here" && cargo build --release)
rm -rf "$out" && mkdir -p "$out"
tz=America/New_York
"$bin" new "$out/lab.labelbench.json" --capture "$lab/pcaps/*.pcap" --devices "$lab/devices.json" \
    --source "ifttt:$lab/labels/ifttt-events.csv@$tz" \
    --source "ifttt-trigger:$lab/labels/ifttt-actions.csv@$tz" \
    --source "smartthings:$lab/labels/smartthings-events.csv@$tz" \
    --source "notifications-csv:$lab/labels/android-events.csv@$tz"
"$bin" curate "$out/lab.labelbench.json" --accept-all > /dev/null
"$bin" export "$out/lab.labelbench.json" --out "$out/export" --format csv > /dev/null
reports=""
for s in $(seq 1 "$seeds"); do
    "$bin" train "$out/lab.labelbench.json" --scope global --seed "$s" --json > "$out/report-$s.json"
    reports="$reports $out/report-$s.json"
done
# shellcheck disable=SC2086
python3 "$here/benches/sklearn_compare.py" "$out/export/features.csv" $reports --threads 2
