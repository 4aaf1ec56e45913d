#!/usr/bin/env bash
# The GPU measurements of issue 10 in one run, sized for one 10-minute call on an H200 (estimated from
# the H200 rates in the README, not yet run there): SIGMA's parallel
# scan against the step-by-step loop, the throughput of 1, 4 and 8 trainings sharing the GPU
# (the profile's trainings_per_gpu), and generic and dynamic on ML-1M with config/paper.yaml's
# recipe, to convergence or 100 epochs.
#
#   bash benchmarks/gpu.sh ML1M_RAW OUT
#
# ML1M_RAW: the folder holding ml-1m/ratings.dat and ml-1m/movies.dat; OUT: where the logs go.
# A GPU machine without the project's environment needs only the jsonschema wheels beside its
# PyTorch, pandas and pyarrow: put them in .whl/ (pip download --no-deps jsonschema==4.26.0
# jsonschema-specifications==2025.9.1 referencing==0.37.0 rpds-py==2026.9.1, for its Python) and
# they are installed into a temporary folder first.
set -euo pipefail
raw=$1
out=$2
mkdir -p "$out"
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"

python3 benchmarks/scan.py --device cuda --threads 4 --repeats 3 --steps 5 2>&1 | tee "$out/scan.log"
python3 benchmarks/concurrency.py --device cuda --trainings 1 4 8 --seconds 30 2>&1 | tee "$out/concurrency.log"
for method in generic dynamic; do
    python3 benchmarks/time_to_quality.py --dataset movielens-1m --raw "$raw" --config config/paper.yaml \
        --method "$method" --set train.max_epochs=100 --set train.device=cuda --thresholds 0.15 0.18 \
        --threads 4 --figure "$out/time_to_quality_ml-1m_$method.png" 2>&1 | tee "$out/ml-1m_$method.log"
done
