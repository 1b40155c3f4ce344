#!/usr/bin/env bash
# The GPU check, at most 10 minutes on one GPU:
#   1. the GPU-marked tests (pytest -m gpu: a bf16 run with a 4096 batch, a compiled run);
#   2. a throughput table per family member with trainer=gpu (bf16-mixed, TF32): tokens/s and MFU
#      against a bf16 matmul ceiling measured in the same process (scripts/bench.py --trainer gpu),
#      printed last; the numbers are also written to outputs/bench_gpu.json; and the seed ensembles
#      (1, 3, 8 members) of the demo family: tokens/s per member and MFU;
#   3. the whole emergence demo on the GPU (toymodels-demo trainer=gpu: the family's seeds as one
#      stacked model per size), its wall time beside its FLOPs-limited time (outputs/bench_gpu_demo.json).
# Usage: scripts/gpu_check.sh     (PYTHON=... to choose the interpreter; default .venv/bin/python)
# Without a CUDA GPU it runs what it can on the CPU (the GPU tests then skip, the table code runs at
# smoke size) and exits 2 with a message saying that nothing was measured.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python; fi
fi
export PYTHONUNBUFFERED=1 WANDB_MODE=disabled
models=$(ls conf/model | sed 's/\.yaml$//' | sort -V | paste -sd, -)

if ! "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "== no CUDA GPU: running the CPU side only"
    "$PYTHON" -m pytest -q -m gpu tests || exit 1
    "$PYTHON" scripts/bench.py --smoke --json outputs/bench_gpu_check_smoke.json || exit 1
    echo "gpu_check: torch sees no CUDA GPU ($("$PYTHON" -c 'import torch; print("torch", torch.__version__)')):" \
         "the GPU tests were skipped and nothing was measured; run this on a GPU machine" >&2
    exit 2
fi

"$PYTHON" -c 'import torch; print("== GPU:", torch.cuda.get_device_name(), "| torch", torch.__version__)'
echo "== GPU tests"
timeout 150 "$PYTHON" -m pytest -q -m gpu tests || { echo "gpu_check: GPU tests failed" >&2; exit 1; }
echo "== throughput, trainer=gpu, batch 4096 ($models)"
timeout 200 "$PYTHON" scripts/bench.py --trainer gpu --batch-size 4096 --steps 30 --models "$models" --no-demo \
    --json outputs/bench_gpu.json || { echo "gpu_check: throughput table failed or took too long" >&2; exit 1; }
echo "== the emergence demo on the GPU (toymodels-demo trainer=gpu)"
timeout 240 "$PYTHON" scripts/bench.py --trainer gpu --only-demo --json outputs/bench_gpu_demo.json \
    || { echo "gpu_check: the demo failed or took over 4 minutes" >&2; exit 1; }
