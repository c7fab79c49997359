#!/usr/bin/env bash
# What a GPU owner wants to know, on binaries already built: one JSON line per measurement.
#
#   cargo build --release --bin snn-bench --example coba --example gpu_step_floor   # once
#   BIN=target/release benches/gpu_check.sh > gpu_check.jsonl
#
# With GPU_TESTS naming the GPU test binary (`cargo test --release --test gpu --no-run`
# prints its path), it runs that first.
#
# It builds nothing. Every step has its own time limit (seconds, `STEP_S`, default 240); a step
# that fails or runs out of time prints {"step": …, "rc": …} and the script goes on. Steps:
#   tests     the GPU tests on this adapter (where GPU_TESTS is set): {"step":"tests", "rc",
#             "passed", "failed", "failures": [names]}; the figures of a build that fails
#             them are not results
#   adapter   the adapter the GPU engine picks (COBA N = 4000 for 0.1 s, CPU and GPU spikes)
#   coba      COBA (Brette et al. 2007) from 4k to 1M neurons on the general GPU engine, and
#             4k to 64k on the CPU beside it
#   train     Diehl & Cook dc400 and dc6400 training, one network, GPU and CPU; dc400 again
#             at workgroup sizes 64, 128, 256 and 1024 and dc6400 at 1024 (the default on
#             hardware is 512 for both, which run fused: GpuEngineOptions::workgroup_size),
#             and dc6400
#             under the passes schedule (a dispatch per pass, many workgroups) beside the
#             fused one (the rows' "engine" names the schedule and the workgroup size)
#   overhead  what a dc400 and a dc6400 training presentation cost besides their steps
#             (presentations of 3 steps: wall, host time outside the one wait), and the same
#             presentations in series of 16 in one submission beside one at a time
#             (overhead_series rows)
#   series    dc400 training through `snn train`'s loop, series of 16 presentations in one
#             submission beside one at a time (train_series rows)
#   multi     training of K networks on the GPU, each on its own engine (train_multi rows)
#             and as the copies of one engine (train_batch rows): dc400 at K = 8 and 128,
#             dc6400 at K = 8
#   eval      frozen evaluation, batches of 1, 64 and 1024 images
#   floor     the floor of one synchronised step (examples/gpu_step_floor: barriers, a
#             dispatch per step, workgroup sizes 1 to 1024), when that example is built
# Where the adapter takes timestamp queries, the GPU rows of train, multi and eval also give
# the step passes' device time (median_device_s_per_image, device_us_per_step, ...) and the
# rest of the wall time (median_other_s_per_image: host work, waits, readbacks, and the short
# normalisation and weight-check passes); the train and train_batch rows also the host's
# waits for the device (device_waits_per_image, _per_round) and its time outside them
# (median_host_us_per_image, _per_round); see src/bin/snn-bench.rs.
# The adapter is chosen as for `snn`: SNN_WGPU_BACKEND, WGPU_ADAPTER_NAME (README).
set -u
BIN=${BIN:-target/release}
STEP_S=${STEP_S:-240}
BENCH="$BIN/snn-bench"
COBA="$BIN/examples/coba"
[ -x "$COBA" ] || COBA="$BIN/coba"
FLOOR="$BIN/examples/gpu_step_floor"
[ -x "$FLOOR" ] || FLOOR="$BIN/gpu_step_floor"
for b in "$BENCH" "$COBA"; do
  if [ ! -x "$b" ]; then
    echo "gpu_check: no executable $b; build it (see the header) or set BIN" >&2
    exit 2
  fi
done

step() {
  local name=$1
  shift
  timeout --kill-after=10 "$STEP_S" "$@"
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "{\"step\":\"$name\",\"rc\":$rc,\"timed_out\":$([ "$rc" -eq 124 ] && echo true || echo false)}"
  fi
}

if [ -n "${GPU_TESTS:-}" ]; then
  out=$(timeout --kill-after=10 "$STEP_S" "$GPU_TESTS" 2>&1)
  rc=$?
  counts=$(printf '%s\n' "$out" |
    sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\1 \2/p' | tail -1)
  failures=$(printf '%s\n' "$out" |
    sed -n 's/^test \([A-Za-z0-9_:]*\) *\.\.\. FAILED$/"\1"/p' | paste -sd, -)
  set -- $counts
  echo "{\"step\":\"tests\",\"rc\":$rc,\"passed\":${1:-null},\"failed\":${2:-null},\"failures\":[$failures]}"
fi
step adapter "$COBA" --n 4000 --seconds 0.1 --backend gpu
step adapter "$COBA" --n 4000 --seconds 0.1 --backend cpu
step coba "$BENCH" --backend gpu --rows coba --coba-n 4000,16000,64000,256000,1000000 \
  --coba-seconds 0.1 --reps 3 --quiet
step coba "$BENCH" --backend cpu --rows coba --coba-n 4000,16000,64000 --coba-seconds 0.1 \
  --reps 3 --quiet
step train "$BENCH" --backend gpu --presets dc400,dc6400 --rows train --reps 10 --warmup 2 --quiet
step train "$BENCH" --backend cpu --presets dc400,dc6400 --rows train --reps 5 --warmup 1 --quiet
for wg in 64 128 256 1024; do
  step train "$BENCH" --backend gpu --presets dc400 --rows train --reps 10 --warmup 2 --quiet \
    --workgroup-size "$wg"
done
step train "$BENCH" --backend gpu --presets dc6400 --rows train --reps 5 --warmup 1 --quiet \
  --workgroup-size 1024
step train "$BENCH" --backend gpu --presets dc6400 --rows train --reps 5 --warmup 1 --quiet \
  --gpu-schedule passes
step overhead "$BENCH" --backend gpu --presets dc400,dc6400 --rows overhead --reps 20 \
  --warmup 5 --quiet
step overhead "$BENCH" --backend gpu --presets dc400,dc6400 --rows overhead_series --reps 4 \
  --warmup 2 --quiet
step series "$BENCH" --backend gpu --presets dc400 --rows train_series --series-images 32 \
  --reps 3 --warmup 1 --quiet
step multi "$BENCH" --backend gpu --presets dc400 --rows train_multi --networks 8,128 \
  --reps 3 --warmup 1 --quiet
step multi "$BENCH" --backend gpu --presets dc6400 --rows train_multi --networks 8 \
  --reps 3 --warmup 1 --quiet
step eval "$BENCH" --backend gpu --presets dc400,dc6400 --rows eval --eval-batches 1,64,1024 \
  --reps 3 --warmup 1 --quiet
if [ -x "$FLOOR" ]; then
  step floor "$FLOOR" 400
  step floor "$FLOOR" 6400
else
  echo "{\"step\":\"floor\",\"skipped\":\"no executable $FLOOR\"}"
fi
exit 0
