#!/usr/bin/env bash
# Shared by dist_train.sh and dist_test.sh: torchrun.sh SCRIPT NPROC_PER_NODE [SCRIPT args]
# Honours NNODES, NODE_RANK, MASTER_ADDR and PORT (multi-node) and OMP_NUM_THREADS.
set -euo pipefail
SCRIPT=$1
NPROC=$2
shift 2
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY=${PYTHON:-python}
[[ -x "$HERE/../.venv/bin/python" && -z "${PYTHON:-}" ]] && PY="$HERE/../.venv/bin/python"
# Each process gets an equal share of the cores unless the user set it.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(( $(nproc) / NPROC > 0 ? $(nproc) / NPROC : 1 ))}
exec "$PY" -m torch.distributed.run \
  --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
  --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" \
  --nproc_per_node="$NPROC" "$HERE/$SCRIPT" "$@" --launcher pytorch
