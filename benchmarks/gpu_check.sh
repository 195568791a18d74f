#!/usr/bin/env bash
# The GPU check of the performance work, as one prepared script (docs/performance.md, "GPU check").
#
#   bash benchmarks/gpu_check.sh OUTDIR           # on a GPU machine: about 8 minutes at most
#   bash benchmarks/gpu_check.sh OUTDIR --quick   # tiny sizes, any machine: checks the script itself
#
# Run from the repository root. Writes into OUTDIR: devices.txt (the accelerator and the versions),
# one .txt (the printed tables) and one .json per benchmark, and lift243.md (the results table of a
# short 243-frame training). Each step has its own time limit, so one that hangs or fails leaves the
# others' files; status.txt lists each step's exit code (124: stopped at its limit).
#
# Packages the machine lacks can travel as wheels: WHEELS=.whl installs the folder's wheels into
# /tmp/site first (benchmarks/gpu_wheels.sh downloads them).
set -u
out=${1:?usage: bash benchmarks/gpu_check.sh OUTDIR [--quick]}
quick=${2:-}
mkdir -p "$out"
: >"$out/status.txt"

if [ -n "${WHEELS:-}" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$WHEELS"/*.whl \
    || { echo "wheel install failed" >>"$out/status.txt"; exit 1; }
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
py=${PYTHON:-python3}

step() {  # step NAME LIMIT_S COMMAND...: runs COMMAND with a limit, output to OUTDIR/NAME.txt
  local name=$1 limit=$2
  shift 2
  timeout "$limit" "$@" >"$out/$name.txt" 2>&1
  echo "$name $?" >>"$out/status.txt"
}

{
  date -u
  nvidia-smi -L 2>/dev/null || echo "nvidia-smi: not found"
  "$py" -c "import sys, jax, flax; print('Python', sys.version.split()[0], 'jax', jax.__version__, 'flax', flax.__version__); print(jax.devices())"
} >"$out/devices.txt" 2>&1

if [ "$quick" = "--quick" ]; then
  step input_pipeline 300 "$py" benchmarks/input_pipeline.py --quick --json "$out/input_pipeline.json"
  step lift3d_throughput 300 "$py" benchmarks/lift3d_throughput.py --quick --bf16 --json "$out/lift3d_throughput.json"
  step chiral_step_profile 300 "$py" benchmarks/chiral_step_profile.py --quick --no_ops --no_floor \
    --json "$out/chiral_step_profile.json"
  widths="(3,3)" channels=16 epochs=1
else
  step input_pipeline 150 "$py" benchmarks/input_pipeline.py --repeats 3 --json "$out/input_pipeline.json"
  step lift3d_throughput 150 "$py" benchmarks/lift3d_throughput.py --include_243 --bf16 --repeats 5 \
    --json "$out/lift3d_throughput.json"
  step chiral_step_profile 100 "$py" benchmarks/chiral_step_profile.py --no_ops --step_batch 1024 \
    --json "$out/chiral_step_profile.json"
  widths="(3,3,3,3,3)" channels=1024 epochs=2
fi

# A short 243-frame training (27 frames when quick) of the chiral net on the built-in synthetic set.
work=$(mktemp -d)
step lift243 120 "$py" experiments/lift3d.py --workdir "$work" --config.num_seeds=1 --config.model.kind=chiral \
  --config.model.equal_params=False "--config.model.filter_widths=$widths" --config.model.channels=$channels \
  --config.train.epochs=$epochs --config.train.batch_size=1024 --config.progress=False
cp "$work/results.md" "$out/lift243.md" 2>/dev/null || echo "lift243: no results.md" >>"$out/status.txt"
cat "$out/status.txt"
