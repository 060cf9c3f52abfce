#!/usr/bin/env bash
# Multi-process evaluation on torchrun:
#   tools/dist_test.sh CONFIG CHECKPOINT NPROC_PER_NODE [test.py options]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR and PORT on every node.
set -euo pipefail
if [[ $# -lt 3 ]]; then
  echo "usage: $0 CONFIG CHECKPOINT NPROC_PER_NODE [tools/test.py options]" >&2; exit 2
fi
CONFIG=$1
CHECKPOINT=$2
NPROC=$3
shift 3
exec "$(dirname "${BASH_SOURCE[0]}")/torchrun.sh" test.py "$NPROC" "$CONFIG" "$CHECKPOINT" "$@"
