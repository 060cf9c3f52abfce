#!/usr/bin/env bash
# Slurm: tools/slurm_train.sh PARTITION JOB_NAME CONFIG [tools/train.py options]
# Environment: GPUS (tasks in all, default 8), GPUS_PER_NODE (default 8; 0 = CPU-only nodes,
# gloo), CPUS_PER_TASK (default 5), SRUN_ARGS (extra srun options), PORT (rendezvous port).
# Every task runs tools/train.py with --launcher slurm; rank 0 opens the run in the run store.
set -euo pipefail
if [[ $# -lt 3 ]]; then
  echo "usage: $0 PARTITION JOB_NAME CONFIG [tools/train.py options]" >&2; exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
shift 3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY=${PYTHON:-python}
[[ -x "$HERE/../.venv/bin/python" && -z "${PYTHON:-}" ]] && PY="$HERE/../.venv/bin/python"
GRES=()
if [[ "$GPUS_PER_NODE" -gt 0 ]]; then
  GRES=(--gres="gpu:$GPUS_PER_NODE" --ntasks-per-node="$GPUS_PER_NODE")
fi
# --kill-on-bad-exit: one failed task ends the whole step instead of leaving the others
# waiting in a collective
# shellcheck disable=SC2086
exec srun -p "$PARTITION" --job-name="$JOB_NAME" --ntasks="$GPUS" "${GRES[@]}" \
  --cpus-per-task="$CPUS_PER_TASK" --kill-on-bad-exit=1 ${SRUN_ARGS:-} \
  "$PY" -u "$HERE/train.py" "$CONFIG" --launcher slurm "$@"
