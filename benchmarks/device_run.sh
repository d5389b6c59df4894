#!/usr/bin/env bash
# Issue 17's scale checks on a machine with 16 cores and a GPU, in ONE call of under 9 minutes:
# threads speedup 1..16 (Hogwild! and AsySVRG, atomic vs plain writes), MPI time to target 1..8
# workers, the GPU step time next to plain PyTorch (with nvidia-smi), and wall / measured time of
# the torch plugins on the issue's resnet on the GPU. Each step has its own time limit (their sum
# is 530 s), prints its table and keeps it under $OUT/<step>.txt.
#
# The device machine cannot fetch anything and its python3 has no MPI launcher; prepare the MPI
# wheels here once (they travel with `carry`, about 15 MB), in the repository root:
#   echo /.whl/ >> .git/info/exclude
#   python -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl mpich==5.0.2 mpi4py==4.1.2
# then run there (device tool): command "bash benchmarks/device_run.sh", carry [".whl"], timeout_s 570.
# Without .whl the MPI step is skipped with the reason. Locally, `OUT=/tmp/dev bash benchmarks/device_run.sh
# --dry` prints the steps without running them.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/device_run}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 NUMBA_CACHE_DIR=/tmp/numba-cache
DRY=${1:-}

# a venv over the image's python (torch, numba, sympy... come from it); mpiexec lands in its bin,
# where harness.plugins.launchers.mpiexec looks for it
PY=python3
if [ -z "$DRY" ] && python3 -m venv --system-site-packages /tmp/harness-venv 2>/dev/null; then
    PY=/tmp/harness-venv/bin/python
    if ls .whl/*.whl >/dev/null 2>&1; then
        "$PY" -m pip install -q --no-index --no-deps --no-compile .whl/*.whl || echo "MPI wheels did not install"
    fi
fi

# the plugins and workloads register through the package's entry points; where the tree is not
# installed (the device's python), name the same catalogs through the registry's environment hooks
if ! "$PY" -c "import sys; from importlib.metadata import entry_points as e; sys.exit(not list(e(group='harness.plugins')))"; then
    eval "$("$PY" -c "
import tomllib
eps = tomllib.load(open('pyproject.toml', 'rb'))['project']['entry-points']
print('export HARNESS_EXTRA_PLUGINS=' + ','.join(eps['harness.plugins'].values()))
print('export HARNESS_EXTRA_WORKLOADS=' + ','.join(eps['harness.workloads'].values()))")"
fi

step() {  # step NAME LIMIT_S ARGS...: run one benchmark with its own limit, tee its table to $OUT/NAME.txt
    local name=$1 limit=$2; shift 2
    echo "== $name (limit ${limit} s): $*"
    [ -n "$DRY" ] && return 0
    local t0=$SECONDS
    timeout --kill-after=5 "$limit" "$@" 2>&1 | tee "$OUT/$name.txt"
    echo "== $name: exit ${PIPESTATUS[0]} after $((SECONDS - t0)) s"
}

if [ -z "$DRY" ]; then
    { nproc; nvidia-smi --query-gpu=name,memory.total,utilization.gpu --format=csv; "$PY" -c \
      "import torch, numba, sys; print(sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'numba', numba.__version__)"; } \
      2>&1 | tee "$OUT/machine.txt"
fi

step threads-hogwild 110 "$PY" benchmarks/threads_scaling.py --n 1000000 --d 1000000 --nnz 50 --epochs 14 \
    --threads 1,2,4,8,16 --repeats 3 --modes atomic
step threads-asysvrg 120 "$PY" benchmarks/threads_scaling.py --algo asysvrg --n 1000000 --d 1000000 --nnz 50 \
    --epochs 6 --threads 1,2,4,8,16 --repeats 2 --modes atomic,plain
if [ -n "$DRY" ] || [ -x "$(dirname "$PY")/mpiexec" ]; then
    step mpi-speedup 90 "$PY" benchmarks/mpi_ps_throughput.py --speedup-only --workers 1,2,4,8 --n 20000 --d 2000 \
        --seeds 3
else
    echo "== mpi-speedup: skipped (no mpiexec beside $PY: prepare .whl as the header says)" | tee "$OUT/mpi-speedup.txt"
fi
step torch-step 80 "$PY" benchmarks/torch_step.py --device cuda --n-train 4096 --width 64 --depth 4 --b 1024 \
    --steps 20 --repeats 3
step measurement-cost 130 "$PY" benchmarks/measurement_cost.py --resnet-only --n-train 4096 --b 1024 --device cuda \
    --budget seconds=10 --only mnag-torch,clars-torch,ddg-torch,ddg-sim,fr-torch
