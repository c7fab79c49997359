#!/usr/bin/env bash
# What a GPU owner wants to know, on binaries already built: one JSON line per measurement.
#
#   cargo build --release --bin snn-bench --example coba --example gpu_step_floor   # once
#   BIN=target/release benches/gpu_check.sh > gpu_check.jsonl
#
# It builds nothing. It first runs COBA on the GPU adapter the engine picks and stops there
# ({"step":"stop","reason":…}) where there is none, or where it is a software one (llvmpipe)
# unless ALLOW_SOFTWARE=1: its figures would not be a GPU's, and each step would run to its
# time limit. With GPU_TESTS naming the GPU test binary by its path (`cargo test --release
# --test gpu --no-run` prints it), it then runs the GPU tests on that adapter, with a GPU
# required (SNN_REQUIRE_GPU=1: a test that finds no adapter fails instead of being ignored).
# Steps run most important first. Each has its own time limit (seconds, `STEP_S`, default
# 60; the tests `TESTS_S`, default 180), cut to what is left of `DEADLINE_S` (default 540,
# counted from the script's start, so that the whole run ends by then): a step with under
# 5 s left prints {"step": …, "n": …, "args": …, "skipped": "deadline"} instead. A step that
# fails or runs out of time prints {"step", "n", "args", "rc", "timed_out", "limit_s", "log",
# "last": its log's error line} and the script goes on; the last line is {"step":"end",
# "elapsed_s": …}. Each step's stderr, and the tests' whole output, go to the folder `LOGS`
# (default gpu_check_logs). Steps:
#   tests     the GPU tests on this adapter (where GPU_TESTS is set): {"step":"tests", "rc",
#             "limit_s", "passed", "failed", "ignored", "ok_lines" (the tests that passed,
#             also when the run timed out), "failures": [names]}; the figures of a build
#             that fails them are not results
#   adapter   the adapter the GPU engine picks (COBA N = 4000 for 0.1 s, CPU and GPU spikes;
#             "software_adapter" says whether it is a CPU's)
#   train     Diehl & Cook dc400 and dc6400 training, one network, GPU; dc400 again at
#             workgroup sizes 64, 128, 256 and 1024 and dc6400 at 1024 (the default on
#             hardware is 512 for both, which run fused: GpuEngineOptions::workgroup_size),
#             and dc6400 under the passes schedule (a dispatch per pass, many workgroups)
#             beside the fused one, and dc400 and dc6400 without subgroup operations (on
#             by default on hardware that has them: GpuEngineOptions::subgroups); the rows'
#             "engine" names the schedule, the workgroup size and ", subgroups" where used
#   multi     training of K networks on the GPU, each on its own engine (train_multi rows)
#             and as the copies of one engine (train_batch rows): dc400 at K = 8 and 128,
#             dc6400 at K = 8
#   eval      frozen evaluation, batches of 1, 64 and 1024 images
#   overhead  what a dc400 and a dc6400 training presentation cost besides their steps
#             (presentations of 3 steps: wall, host time outside the one wait), and the same
#             presentations in series of 16 in one submission beside one at a time
#             (overhead_series rows)
#   series    dc400 training through `snn train`'s loop, series of 16 presentations in one
#             submission beside one at a time (train_series rows)
#   floor     the floor of one synchronised step (examples/gpu_step_floor: barriers, a
#             dispatch per step, workgroup sizes 1 to 1024), when that example is built
#   coba      COBA (Brette et al. 2007) from 4k to 1M neurons on the general GPU engine (a
#             size the adapter refuses prints a row with "skipped" and the reason)
#   cpu       the same dc400 and dc6400 training and COBA up to 64k on the CPU beside it
# Where the adapter takes timestamp queries, the GPU rows of train, multi and eval also give
# the step passes' device time (median_device_s_per_image, device_us_per_step, ...) and the
# rest of the wall time (median_other_s_per_image: host work, waits, readbacks, and the short
# normalisation and weight-check passes); the train and train_batch rows also the host's
# waits for the device (device_waits_per_image, _per_round) and its time outside them
# (median_host_us_per_image, _per_round); see src/bin/snn-bench.rs.
# The adapter is chosen as for `snn`: SNN_WGPU_BACKEND, WGPU_ADAPTER_NAME (README).
set -u
BIN=${BIN:-target/release}
STEP_S=${STEP_S:-60}
TESTS_S=${TESTS_S:-180}
DEADLINE_S=${DEADLINE_S:-540}
LOGS=${LOGS:-gpu_check_logs}
BENCH="$BIN/snn-bench"
COBA="$BIN/examples/coba"
[ -x "$COBA" ] || COBA="$BIN/coba"
FLOOR="$BIN/examples/gpu_step_floor"
[ -x "$FLOOR" ] || FLOOR="$BIN/gpu_step_floor"
# A JSON string of its argument (quotes and backslashes escaped, control characters dropped).
json_str() {
  printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\037' | sed 's/\\/\\\\/g; s/"/\\"/g')"
}
for b in "$BENCH" "$COBA"; do
  if [ ! -x "$b" ]; then
    echo "{\"step\":\"stop\",\"reason\":$(json_str "no executable $b: build it (see the header) or set BIN")}"
    exit 2
  fi
done
mkdir -p "$LOGS" || exit 2
BEGAN=$SECONDS
N=0

# What a log says went wrong: its first `Error` line (the programs' report), else its last.
why() {
  grep -m 1 '^Error' "$1" 2>/dev/null || tail -n 1 "$1" 2>/dev/null
}

# The seconds a step may take: its own limit, or what is left before the deadline.
limit() {
  local left=$((DEADLINE_S - (SECONDS - BEGAN)))
  [ "$left" -lt "$1" ] && echo "$left" || echo "$1"
}

# step NAME COMMAND...: runs COMMAND under the step limit (cut to what is left before the
# deadline), its stderr to the logs; a failure or a timeout prints a line that names the
# step, its arguments, its log and the log's last line; with under 5 s left it prints that
# it was skipped.
step() {
  local name=$1
  shift
  N=$((N + 1))
  local log
  log="$LOGS/$(printf %02d $N)-$name.err"
  local t
  t=$(limit "$STEP_S")
  local what="\"step\":\"$name\",\"n\":$N,\"args\":$(json_str "$*")"
  if [ "$t" -lt 5 ]; then
    echo "{$what,\"skipped\":\"deadline\"}"
    return
  fi
  timeout --kill-after=5 "$t" "$@" 2>"$log"
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    local out=false
    { [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; } && out=true
    echo "{$what,\"rc\":$rc,\"timed_out\":$out,\"limit_s\":$t,\"log\":$(json_str "$log"),\"last\":$(json_str "$(why "$log")")}"
  fi
}

# The adapter first: without a GPU adapter, or on a software one (unless ALLOW_SOFTWARE=1),
# nothing else is worth the device's time.
N=$((N + 1))
adapter=$(timeout --kill-after=5 "$(limit "$STEP_S")" "$COBA" --n 4000 --seconds 0.1 --backend gpu \
  2>"$LOGS/01-adapter.err")
rc=$?
[ -n "$adapter" ] && echo "$adapter"
if [ "$rc" -ne 0 ] || [ -z "$adapter" ]; then
  echo "{\"step\":\"stop\",\"reason\":\"no GPU adapter ran COBA\",\"rc\":$rc,\"log\":$(json_str "$LOGS/01-adapter.err"),\"last\":$(json_str "$(why "$LOGS/01-adapter.err")")}"
  exit 0
fi
case "$adapter" in
  *'"software_adapter":true'*)
    if [ "${ALLOW_SOFTWARE:-0}" != 1 ]; then
      echo "{\"step\":\"stop\",\"reason\":\"a software adapter: set ALLOW_SOFTWARE=1 to time it anyway, or pick the GPU with WGPU_ADAPTER_NAME\"}"
      exit 0
    fi
    ;;
esac
# The GPU tests on that adapter: their counts (on a timeout, the tests that passed so far).
if [ -z "${GPU_TESTS:-}" ]; then
  echo "{\"step\":\"tests\",\"skipped\":\"GPU_TESTS unset\"}"
elif [ ! -x "$GPU_TESTS" ]; then
  echo "{\"step\":\"tests\",\"skipped\":$(json_str "no executable GPU_TESTS=$GPU_TESTS (give its path)")}"
else
  t=$(limit "$TESTS_S")
  SNN_REQUIRE_GPU=1 timeout --kill-after=5 "$t" "$GPU_TESTS" >"$LOGS/tests.log" 2>&1
  rc=$?
  counts=$(sed -n \
    's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed; \([0-9]*\) ignored.*/\1 \2 \3/p' \
    "$LOGS/tests.log" | tail -1)
  failures=$(sed -n 's/^test \([A-Za-z0-9_:]*\) *\.\.\. FAILED$/"\1"/p' "$LOGS/tests.log" |
    paste -sd, -)
  ok=$(grep -c '\.\.\. ok$' "$LOGS/tests.log")
  set -- $counts
  echo "{\"step\":\"tests\",\"rc\":$rc,\"limit_s\":$t,\"passed\":${1:-null},\"failed\":${2:-null},\"ignored\":${3:-null},\"ok_lines\":$ok,\"failures\":[$failures]}"
fi
step adapter "$COBA" --n 4000 --seconds 0.1 --backend cpu
step train "$BENCH" --backend gpu --presets dc400,dc6400 --rows train --reps 10 --warmup 2 --quiet
for wg in 64 128 256 1024; do
  step train "$BENCH" --backend gpu --presets dc400 --rows train --reps 10 --warmup 2 --quiet \
    --workgroup-size "$wg"
done
step train "$BENCH" --backend gpu --presets dc6400 --rows train --reps 5 --warmup 1 --quiet \
  --workgroup-size 1024
step train "$BENCH" --backend gpu --presets dc6400 --rows train --reps 5 --warmup 1 --quiet \
  --gpu-schedule passes
step train "$BENCH" --backend gpu --presets dc400,dc6400 --rows train --reps 10 --warmup 2 --quiet \
  --gpu-subgroups 0
step multi "$BENCH" --backend gpu --presets dc400 --rows train_multi --networks 8,128 \
  --reps 3 --warmup 1 --quiet
step multi "$BENCH" --backend gpu --presets dc6400 --rows train_multi --networks 8 \
  --reps 3 --warmup 1 --quiet
step eval "$BENCH" --backend gpu --presets dc400,dc6400 --rows eval --eval-batches 1,64,1024 \
  --reps 3 --warmup 1 --quiet
step overhead "$BENCH" --backend gpu --presets dc400,dc6400 --rows overhead --reps 8 \
  --warmup 2 --quiet
step overhead "$BENCH" --backend gpu --presets dc400,dc6400 --rows overhead_series --reps 4 \
  --warmup 2 --quiet
step series "$BENCH" --backend gpu --presets dc400 --rows train_series --series-images 32 \
  --reps 3 --warmup 1 --quiet
if [ -x "$FLOOR" ]; then
  step floor "$FLOOR" 400
  step floor "$FLOOR" 6400
else
  echo "{\"step\":\"floor\",\"skipped\":\"no executable $FLOOR\"}"
fi
step coba "$BENCH" --backend gpu --rows coba --coba-n 4000,16000,64000,256000,1000000 \
  --coba-seconds 0.1 --reps 3 --quiet
step cpu "$BENCH" --backend cpu --presets dc400,dc6400 --rows train --reps 5 --warmup 1 --quiet
step cpu "$BENCH" --backend cpu --rows coba --coba-n 4000,16000,64000 --coba-seconds 0.1 \
  --reps 3 --quiet
echo "{\"step\":\"end\",\"elapsed_s\":$((SECONDS - BEGAN))}"
exit 0
