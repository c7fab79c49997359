#!/usr/bin/env bash
# Diehl & Cook training time per image: snn-wgpu's CPU backend against Brian2 (runtime and
# C++ standalone), taken in turns so that all see the same machine load; prints the JSON
# lines, then a table of medians over the rounds and Brian2/ours ratios.
#
#   peers/compare_dc.sh                      # dc100 and dc400, 3 rounds
#   ROUNDS=5 RT_IMAGES=10 SA_IMAGES=100 PRESETS="dc400" peers/compare_dc.sh
#
# Environment: ROUNDS (3), PRESETS ("dc100 dc400"), RT_IMAGES (images per Brian2 runtime run,
# 10), SA_IMAGES (per standalone run, 50), OURS_REPS (snn-bench repetitions, 20),
# SNN_BENCH (the snn-bench binary; default target/release/snn-bench, built if missing),
# LOG (where the JSON lines go; default a temporary file).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
PRESETS=${PRESETS:-"dc100 dc400"}
RT_IMAGES=${RT_IMAGES:-10}
SA_IMAGES=${SA_IMAGES:-50}
OURS_REPS=${OURS_REPS:-20}
PY=peers/.venv/bin/python
SNN_BENCH=${SNN_BENCH:-target/release/snn-bench}
LOG=${LOG:-$(mktemp -t compare_dc.XXXXXX.jsonl)}
BUILD_ROOT=${BUILD_ROOT:-$(mktemp -d -t brian2_dc.XXXXXX)}

if [[ ! -x $PY ]]; then
    echo "no $PY: set up Brian2 first (see peers/README.md)" >&2
    exit 1
fi
if [[ ! -x $SNN_BENCH ]]; then
    cargo build --release --bin snn-bench
fi

n_of() {
    case $1 in
        dc100) echo 100 ;;
        dc400) echo 400 ;;
        dc1600) echo 1600 ;;
        dc6400) echo 6400 ;;
        *) echo "unknown preset $1 (dc100, dc400, dc1600, dc6400)" >&2; exit 1 ;;
    esac
}

# Standalone code generation and compilation (minutes) happen once per size, before the
# timed rounds; later runs with the same --images reuse the compiled project.
for p in $PRESETS; do
    n=$(n_of "$p")
    echo "compiling the Brian2 projects for $p (untimed) ..." >&2
    $PY peers/brian2_diehl_cook.py --n-exc "$n" --images 1 --mode runtime >/dev/null
    $PY peers/brian2_diehl_cook.py --n-exc "$n" --images "$SA_IMAGES" --mode cpp_standalone \
        --build-dir "$BUILD_ROOT/$p" >/dev/null
done

tag() { # tag ROUND PRESET IMPL: prefix each JSON line of stdin with the run's labels
    sed -e "s/^{/{\"round\": $1, \"preset\": \"$2\", \"impl\": \"$3\", /"
}

for r in $(seq 1 "$ROUNDS"); do
    for p in $PRESETS; do
        n=$(n_of "$p")
        echo "round $r/$ROUNDS, $p" >&2
        "$SNN_BENCH" --rows train --presets "$p" --backend cpu --reps "$OURS_REPS" --warmup 1 \
            --quiet | sed -e 's/"preset": *"[^"]*", *//' | tag "$r" "$p" ours >>"$LOG"
        RAYON_NUM_THREADS=1 "$SNN_BENCH" --rows train --presets "$p" --backend cpu \
            --reps "$OURS_REPS" --warmup 1 --quiet |
            sed -e 's/"preset": *"[^"]*", *//' | tag "$r" "$p" ours_1thread >>"$LOG"
        $PY peers/brian2_diehl_cook.py --n-exc "$n" --images "$RT_IMAGES" --mode runtime |
            tag "$r" "$p" brian2_runtime >>"$LOG"
        $PY peers/brian2_diehl_cook.py --n-exc "$n" --images "$SA_IMAGES" --mode cpp_standalone \
            --build-dir "$BUILD_ROOT/$p" | tag "$r" "$p" brian2_cpp_standalone >>"$LOG"
    done
done

cat "$LOG"
echo
$PY - "$LOG" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def per_image(r):
    return r["median_s_per_image"] if r["impl"].startswith("ours") else r["s_per_image"]
impls = ["ours", "ours_1thread", "brian2_runtime", "brian2_cpp_standalone"]
presets = list(dict.fromkeys(r["preset"] for r in rows))
print("| preset | implementation | images per run | runs | median s/image | ratio to ours | ratio to ours (1 thread) | exc spikes/image (mean) |")
print("|---|---|---|---|---|---|---|---|")
for p in presets:
    med = {}
    for i in impls:
        xs = [per_image(r) for r in rows if r["preset"] == p and r["impl"] == i]
        if xs:
            med[i] = statistics.median(xs)
    for i in impls:
        if i not in med:
            continue
        rs = [r for r in rows if r["preset"] == p and r["impl"] == i]
        imgs = rs[0].get("images", rs[0].get("reps"))
        spikes = [r["exc_spikes_per_image_mean"] for r in rs if "exc_spikes_per_image_mean" in r]
        sp = f"{statistics.median(spikes):.1f}" if spikes else "–"
        r1 = f"{med[i] / med['ours']:.1f}×" if "ours" in med else "–"
        r2 = f"{med[i] / med['ours_1thread']:.1f}×" if "ours_1thread" in med else "–"
        clock = " (CPU time of its loop)" if rs[0].get("s_per_image_clock") == "cpu" else ""
        print(f"| {p} | {i}{clock} | {imgs} | {len(rs)} | {med[i]:.4f} | {r1} | {r2} | {sp} |")
EOF
echo "JSON lines: $LOG" >&2
