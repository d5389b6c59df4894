#!/usr/bin/env bash
# The scale checks of issue 17 on a machine with 16 cores and a GPU, in ONE run of under 9 minutes:
# threads speedup 1..16 (Hogwild! and AsySVRG, atomic vs plain writes), MPI time to target 1..8
# workers, the GPU step time next to plain PyTorch (with nvidia-smi), and wall / measured time of
# the torch plugins on the issue's resnet on the GPU. Each step has its own time limit (their sum
# is 530 s), prints its table and keeps it under $OUT/<step>.txt (default /tmp/device_run).
#
# On a machine set up as the README says (.ci/run's .venv active, or PYTHON=.venv/bin/python):
#     bash benchmarks/device_run.sh            # --dry: print the steps only
#     STEPS="mpi-speedup torch-step" bash benchmarks/device_run.sh    # only these steps (a rerun)
#     SMOKE=1 bash benchmarks/device_run.sh    # every step at tiny sizes on this machine's CPUs (CI)
# SMOKE=1 runs the same steps through the same code on any machine in about a minute: threads 1..2,
# MPI 1..2 workers, the torch steps with device cpu (the path of device=cuda but the device), each
# table under $OUT as here; tests/bench/test_device_run.py runs it, so that a moved module or a
# renamed option fails CI rather than the first minutes on the GPU machine. The script ends with a
# summary of every step (its exit status and table lines) and exits 1 when a step failed.
# Its python must have torch with CUDA, numba and the project's dependencies; MPI comes from the
# mpiexec beside that python (the mpich wheel puts it there).
#
# On a machine whose python has torch and numba but no MPI and no network (this workplace's
# device machine: python3.12 with torch, no mpiexec), prepare the MPI wheels beside the checkout
# first, for THAT machine's python version (about 15 MB):
#   echo /.whl/ >> .git/info/exclude
#   python -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl mpich==5.0.2 mpi4py==4.1.2
# The script then installs them into an overlay environment that sees that python's packages
# (with this workplace's device tool: command "bash benchmarks/device_run.sh", carry [".whl"],
# timeout_s 570). Without mpiexec and without .whl the MPI step is skipped with the reason.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/device_run}
export PYTHONUNBUFFERED=1 NUMBA_CACHE_DIR=/tmp/numba-cache
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"   # this tree's harness, installed or not
DRY=${1:-}
PY=${PYTHON:-python3}
SMOKE=${SMOKE:-}
[ "$SMOKE" = 0 ] && SMOKE=
# each step's sizes: the real run's, or SMOKE's tiny ones (the same steps, options and code)
if [ -z "$SMOKE" ]; then
    DEVICE=cuda THREADS=1,2,4,8,16 WORKERS=1,2,4,8
    HOGWILD="--n 1000000 --d 1000000 --nnz 50 --epochs 14 --repeats 3"
    ASYSVRG="--n 1000000 --d 1000000 --nnz 50 --epochs 6 --repeats 2"
    MPI="--n 20000 --d 2000 --seeds 3"
    TORCH="--n-train 4096 --width 64 --depth 4 --b 1024 --steps 20 --repeats 3"
    COST="--n-train 4096 --b 1024 --budget seconds=10"
else
    DEVICE=cpu THREADS=1,2 WORKERS=1,2
    HOGWILD="--n 4000 --d 4000 --nnz 10 --epochs 2 --repeats 1"
    ASYSVRG="--n 4000 --d 4000 --nnz 10 --epochs 1 --repeats 1"
    MPI="--n 2000 --d 200 --seeds 1 --target 1e-2"   # one target both rows reach
    TORCH="--n-train 64 --width 8 --depth 1 --b 16 --steps 1 --warmup 1 --repeats 1"
    COST="--n-train 64 --b 16 --budget updates=4 --workers 1"   # W = 1: what one GPU gives the *-torch ranks
fi
[ -z "$DRY" ] && mkdir -p "$OUT"

# MPI: the launcher runs the mpiexec beside sys.executable. Where there is none, an overlay prefix
# whose python sees $PY's packages (a .pth of its site directories; a venv of a venv would see the
# base interpreter's instead) gets the carried wheels, mpiexec in its bin.
if [ -z "$DRY" ] && [ ! -x "$(dirname "$("$PY" -c 'import sys; print(sys.executable)')")/mpiexec" ] \
        && ls .whl/*.whl >/dev/null 2>&1; then
    want=$("$PY" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
    ls .whl/mpi4py-*-"$want"-*.whl >/dev/null 2>&1 || echo "warning: no mpi4py wheel for $want in .whl"
    ov=/tmp/harness-overlay
    if "$PY" -m venv --without-pip "$ov"; then
        site=$("$ov/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
        "$PY" -c 'import sys; print("\n".join(p for p in sys.path if p.endswith(("site-packages", "dist-packages"))))' \
            > "$site/_base_python.pth"
        if "$PY" -m pip install -q --ignore-installed --no-index --no-deps --no-compile --prefix "$ov" .whl/*.whl; then
            PY=$ov/bin/python
        else
            echo "warning: the MPI wheels did not install"
        fi
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

SUMMARY=() FAILED=()
step() {  # step NAME LIMIT_S ARGS...: run one benchmark with its own limit, tee its table to $OUT/NAME.txt
    local name=$1 limit=$2; shift 2
    case " ${STEPS:-$name} " in *" $name "*) ;; *) return 0 ;; esac   # STEPS="a b": only those steps
    echo "== $name (limit ${limit} s): $*"
    [ -n "$DRY" ] && return 0
    local t0=$SECONDS rc
    timeout --kill-after=5 "$limit" "$@" 2>&1 | tee "$OUT/$name.txt"
    rc=${PIPESTATUS[0]}
    echo "== $name: exit $rc after $((SECONDS - t0)) s"
    SUMMARY+=("$(printf '%-17s exit %3d  %4d s  %3d lines  %s' "$name" "$rc" $((SECONDS - t0)) \
        "$(wc -l < "$OUT/$name.txt")" "$OUT/$name.txt")")
    [ "$rc" = 0 ] || FAILED+=("$name")
}
skip() {  # skip NAME WHY: a step that cannot run here, its reason kept as its table
    local name=$1; shift
    case " ${STEPS:-$name} " in *" $name "*) ;; *) return 0 ;; esac
    echo "== $name: skipped ($*)" | tee "$OUT/$name.txt"
    SUMMARY+=("$(printf '%-17s skipped: %s' "$name" "$*")")
}

if [ -z "$DRY" ]; then
    { nproc; nvidia-smi --query-gpu=name,memory.total,utilization.gpu --format=csv; "$PY" -c \
      "import torch, numba, sys; print(sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'numba', numba.__version__)"; } \
      2>&1 | tee "$OUT/machine.txt"
fi

step threads-hogwild 110 "$PY" benchmarks/threads_scaling.py $HOGWILD --threads $THREADS --modes atomic
step threads-asysvrg 120 "$PY" benchmarks/threads_scaling.py --algo asysvrg $ASYSVRG --threads $THREADS \
    --modes atomic,plain
if [ -n "$DRY" ] || [ -x "$(dirname "$("$PY" -c 'import sys; print(sys.executable)')")/mpiexec" ]; then
    step mpi-speedup 90 "$PY" benchmarks/mpi_ps_throughput.py --speedup-only --workers $WORKERS $MPI
else
    skip mpi-speedup "no mpiexec beside $PY: prepare .whl as the header says"
fi
if [ -n "$DRY" ] || "$PY" -c "import torch" 2>/dev/null; then
    step torch-step 80 "$PY" benchmarks/torch_step.py --device $DEVICE $TORCH
    step measurement-cost 130 "$PY" benchmarks/measurement_cost.py --resnet-only $COST --device $DEVICE \
        --only mnag-torch,clars-torch,ddg-torch,ddg-sim,fr-torch
else
    skip torch-step "$PY cannot import torch"
    skip measurement-cost "$PY cannot import torch"
fi

[ -n "$DRY" ] && exit 0
echo "== summary${SMOKE:+ (SMOKE: tiny sizes, device $DEVICE)}: every step, its exit status and table under $OUT"
printf '  %s\n' "${SUMMARY[@]}"
if [ ${#FAILED[@]} -gt 0 ]; then
    echo "== failed: ${FAILED[*]}"
    exit 1
fi
