"""Altair's Runner: mmengine's Runner plus device placement for CPU/GPU, single/multi-process.

Only two things differ from ``mmengine.runner.Runner``:
- distributed on the CPU: a gloo process group is started before the Runner's own
  ``init_dist`` (which assumes CUDA), and DDP is built without ``device_ids``;
- SyncBN is reverted to BN wherever it cannot run (anything but CUDA + distributed), with
  one log line saying so.
The training loop itself is mmengine's, so Altair adds no per-iteration overhead
(``benchmarks/train_throughput.py``).
"""
from __future__ import annotations

import os

import torch
from mmengine.dist import is_distributed
from mmengine.model import MMDistributedDataParallel, is_model_wrapper, revert_sync_batchnorm
from mmengine.runner import Runner

from altair.engine.device import accelerator, init_distributed
from altair.registry import RUNNERS


def _has_sync_bn(model: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.SyncBatchNorm) or 'SyncBatchNorm' in type(m).__name__
               for m in model.modules())


@RUNNERS.register_module()
class AltairRunner(Runner):
    """mmengine ``Runner`` that places itself on CUDA or the CPU (see module docstring)."""

    def setup_env(self, env_cfg: dict) -> None:
        if self.distributed and not is_distributed() and accelerator() == 'cpu':
            init_distributed(self.launcher)
        super().setup_env(env_cfg)

    def wrap_model(self, model_wrapper_cfg: dict | None, model: torch.nn.Module):
        if is_model_wrapper(model) or accelerator() == 'cuda':
            return super().wrap_model(model_wrapper_cfg, model)
        if _has_sync_bn(model):
            self.logger.info('SyncBN -> BN: SyncBatchNorm needs CUDA and a distributed job; '
                             'this run is on the CPU, so every SyncBN layer is a BatchNorm')
            model = revert_sync_batchnorm(model)
        cfg = dict(model_wrapper_cfg or {})
        if not self.distributed or cfg.get('type', 'MMDistributedDataParallel') != \
                'MMDistributedDataParallel':
            return super().wrap_model(model_wrapper_cfg, model)
        cfg.pop('type', None)
        cfg.setdefault('broadcast_buffers', False)
        cfg.setdefault('find_unused_parameters', self.cfg.get('find_unused_parameters', False))
        # DDP rejects device_ids for a CPU module; mmengine always passes LOCAL_RANK.
        self.logger.info(f"CPU DDP over gloo: rank {os.environ.get('RANK')} of "
                         f"{os.environ.get('WORLD_SIZE')}")
        return MMDistributedDataParallel(module=model, **cfg)
