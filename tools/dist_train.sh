#!/usr/bin/env bash
# Multi-process training on torchrun: tools/dist_train.sh CONFIG NPROC_PER_NODE [train.py options]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR and PORT on every node.
# Without a GPU the processes train on the CPU over gloo.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 CONFIG NPROC_PER_NODE [tools/train.py options]" >&2; exit 2
fi
CONFIG=$1
NPROC=$2
shift 2
exec "$(dirname "${BASH_SOURCE[0]}")/torchrun.sh" train.py "$NPROC" "$CONFIG" "$@"
