#!/usr/bin/env bash
# COBA and CUBA (Brette et al. 2007) at N neurons for SIM_S simulated seconds, and Song,
# Miller & Abbott 2000 STDP for SONG_S seconds: snn-wgpu's examples, Brian2 C++ standalone
# and Brian2 runtime (Cython), one after the other in each round so that all see the same
# machine load. Prints every JSON line (tagged with `model` and `who`), then the medians over
# the rounds. The standalone projects are compiled once, untimed, under $BUILD_DIR.
# Brian2's standalone program times its main loop in CPU time (std::clock), so the table
# compares CPU seconds per simulated second (one thread each); wall time where measured.
#
#   peers/compare_benchmarks.sh
#   ROUNDS=5 N=4000 SIM_S=1 SONG_ROUNDS=1 SONG_S=100 peers/compare_benchmarks.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
N=${N:-4000}
SIM_S=${SIM_S:-1}
SONG_ROUNDS=${SONG_ROUNDS:-1}
SONG_S=${SONG_S:-100}
PY=${PY:-peers/.venv/bin/python}
BUILD_DIR=${BUILD_DIR:-target/peers}
mkdir -p "$BUILD_DIR"
for ex in coba cuba song_stdp; do
  [ -x "target/release/examples/$ex" ] || cargo build --release --example "$ex"
done
LOG="$BUILD_DIR/compare.jsonl"
: > "$LOG"
tag() { # model who: adds both keys to the JSON line on stdin, prints it and logs it
  "$PY" -c 'import json,sys; d=json.loads(sys.stdin.read()); d["model"]=sys.argv[1]; d["who"]=sys.argv[2]; print(json.dumps(d))' "$1" "$2" | tee -a "$LOG"
}
# Compile the standalone projects (untimed).
for m in coba cuba; do
  "$PY" "peers/brian2_$m.py" --n "$N" --seconds "$SIM_S" --mode cpp_standalone --build-dir "$BUILD_DIR/sa_$m" > /dev/null
done
"$PY" peers/brian2_song.py --seconds "$SONG_S" --mode cpp_standalone --build-dir "$BUILD_DIR/sa_song" > /dev/null
for r in $(seq "$ROUNDS"); do
  for m in coba cuba; do
    nice "target/release/examples/$m" --n "$N" --seconds "$SIM_S" | tag "$m" snn-wgpu
    nice "$PY" "peers/brian2_$m.py" --n "$N" --seconds "$SIM_S" --mode cpp_standalone --build-dir "$BUILD_DIR/sa_$m" | tag "$m" brian2-standalone
    nice "$PY" "peers/brian2_$m.py" --n "$N" --seconds "$SIM_S" --mode runtime | tag "$m" brian2-runtime
  done
done
for r in $(seq "$SONG_ROUNDS"); do
  nice target/release/examples/song_stdp --seconds "$SONG_S" --out "$BUILD_DIR/song_weights.png" | tag song snn-wgpu
  nice "$PY" peers/brian2_song.py --seconds "$SONG_S" --mode cpp_standalone --build-dir "$BUILD_DIR/sa_song" | tag song brian2-standalone
  nice "$PY" peers/brian2_song.py --seconds "$SONG_S" --mode runtime | tag song brian2-runtime
done
"$PY" - "$LOG" <<'PYEOF'
import collections, json, statistics, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    d = json.loads(line)
    rows[(d["model"], d["who"])].append(d)
keys = ["rate_hz", "cv_isi", "out_rate_hz", "frac_w_below_0.1", "frac_w_above_0.9", "mean_w_over_gmax"]
def med(ds, k):
    xs = [d[k] / d["sim_s"] for d in ds if d.get(k) is not None]
    return f"{statistics.median(xs):.3f}" if xs else ""
print("| model | simulator | runs | CPU s per simulated s | wall s per simulated s | " + " | ".join(keys) + " |")
print("|---|---|---|---|---|" + "---|" * len(keys))
for (model, who), ds in rows.items():
    vals = []
    for k in keys:
        xs = [d[k] for d in ds if k in d]
        vals.append(f"{statistics.median(xs):.3f}" if xs else "")
    print(f"| {model} | {who} | {len(ds)} | {med(ds, 'cpu_s')} | {med(ds, 'wall_s')} | " + " | ".join(vals) + " |")
PYEOF
