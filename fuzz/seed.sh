#!/bin/sh
# Seeds the fuzz corpora from ../shared/real and the bundled sample project (the corpora are
# not committed). Usage, from the repository root: fuzz/seed.sh
set -eu
real=../shared/real
out=fuzz/corpus
mkdir -p "$out/capture" "$out/logs" "$out/journal"
# Captures: the small vectors whole, the first 6,000 bytes of the others (inputs stay small,
# so the fuzzer runs fast; 6,000 bytes hold 60-100 records).
cp "$real"/pcap-vectors/* "$out/capture/"
for f in "$real"/fit-iot-dataset/pcaps/*.pcap "$real"/moniotr/*.pcap "$real"/iot-sentinel/*/*.pcap \
    sample-data/pcaps/capture-20210308-05.pcap; do
    head -c 6000 "$f" > "$out/capture/$(echo "${f#../}" | tr / _)"
done
# Event logs of every kind, and registries.
for f in "$real"/fit-iot-dataset/labels/*.csv "$real"/moniotr/exp_list.txt \
    "$real"/moniotr/sample-result.csv "$real"/iot23/conn.log.labeled \
    "$real"/fit-iot-dataset/devices/devices.py \
    "$real"/fit-iot-dataset/devices.json sample-data/labels/* sample-data/devices.json; do
    head -c 3000 "$f" > "$out/logs/$(echo "${f#../}" | tr / _)"
done
# A journal of every edit kind, with undo and redo, and one with a torn last line.
python3 - "$out/journal" <<'PY'
import json, sys
d = sys.argv[1]
def ev(i, c):
    return {"id": i, "device": 0, "device_text": "dev0", "class": c, "source": 0,
            "line": i % 1000000, "raw": "", "time_text": "", "original_ns": 5,
            "precision": "minute", "duration_ns": 0, "retime_ns": None, "status": "active",
            "duplicate_of": None, "edits": []}
edits = [
    {"op": "set-status", "id": 1, "from": "active", "from_dup": None, "to": "duplicate", "to_dup": 2},
    {"op": "retime", "id": 2, "from": None, "to": 123456},
    {"op": "relabel", "id": 1000001, "from": "on", "to": "off"},
    {"op": "set-source-offset", "source": 1, "from": 0, "to": -60000000000},
    {"op": "reassign-device", "id": 1, "from": 0, "to": 3},
    {"op": "insert", "event": ev(1000000000000, "motion")},
    {"op": "remove", "event": ev(2, "motion")},
    {"op": "batch", "label": "b", "edits": [
        {"op": "retime", "id": 1, "from": None, "to": 7},
        {"op": "set-status", "id": 2, "from": "active", "from_dup": None, "to": "rejected", "to_dup": None}]},
]
lines = [json.dumps({"seq": i, "step": "apply", "edit": e}) for i, e in enumerate(edits)]
for i, l in enumerate(lines):
    open(f"{d}/one{i}.jsonl", "w").write(l + "\n")
open(f"{d}/all.jsonl", "w").write("\n".join(lines) + "\n")
undo = [lines[1],
        json.dumps({"seq": 1, "step": "undo", "edit": {"op": "retime", "id": 2, "from": 123456, "to": None}}),
        json.dumps({"seq": 2, "step": "redo", "edit": edits[1]})]
open(f"{d}/undo.jsonl", "w").write("\n".join(undo) + "\n")
open(f"{d}/torn.jsonl", "w").write(lines[0] + "\n" + lines[1][:30])
PY
echo "seeded $(ls "$out/capture" | wc -l) captures, $(ls "$out/logs" | wc -l) logs, $(ls "$out/journal" | wc -l) journals in $out"
