"""Altair's Runner: mmengine's Runner plus device placement for CPU/GPU, single/multi-process.

Three things differ from ``mmengine.runner.Runner``:
- distributed on the CPU: a gloo process group is started before the Runner's own
  ``init_dist`` (which assumes CUDA), and DDP is built without ``device_ids`` and with
  ``broadcast_buffers=True`` (every rank keeps rank 0's BN statistics);
- SyncBN is reverted to BN wherever it cannot run (anything but CUDA + distributed), with
  one log line saying so;
- ``console = 'progress'`` (``altair train`` without ``--verbose``) keeps mmengine's log off
  the console and in the run's log file (``AltairFlexibleRunner`` does the same for
  ``FlexibleRunner`` configs); ``ConsoleProgressHook`` shows the progress;
- a config section whose keys its class does not take (``--cfg-options
  optim_wrapper.type=OptimWrapper`` keeps the ``dtype`` of ``AutocastOptimWrapper``) is one
  ``ConfigBuildError`` naming the section, not mmengine's traceback: the model, the optimizer
  wrapper, the schedulers, the hooks, each split's loop, dataloader (dataset, sampler,
  transforms) and evaluator.
The training loop itself is mmengine's, so Altair adds no per-iteration overhead
(``benchmarks/train_throughput.py``).
"""
from __future__ import annotations

import os
from typing import Callable

import torch
from mmengine.dist import is_distributed
from mmengine.model import MMDistributedDataParallel, is_model_wrapper, revert_sync_batchnorm
from mmengine.runner import FlexibleRunner, Runner

from altair.config_checks import naming_the_section
from altair.engine.device import accelerator, init_distributed
from altair.engine.progress import quiet_for_progress
from altair.registry import RUNNERS


def _loop_or_loader(split: str) -> Callable[[TypeError], str]:
    """Which section a key mismatch while building ``split``'s loop came from: the loop's
    own (``<split>_cfg``) when Python names a ``...Loop`` constructor, else the dataloader
    the loop builds (its dataset, sampler or transforms)."""
    return lambda exc: (f'{split}_cfg' if 'Loop.__init__' in str(exc)
                        else f'{split}_dataloader')


def _has_sync_bn(model: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.SyncBatchNorm) or 'SyncBatchNorm' in type(m).__name__
               for m in model.modules())


def sync_bn_to_bn(model: torch.nn.Module, logger) -> torch.nn.Module:
    """Every SyncBN layer of ``model`` as a BatchNorm (for the CPU), logged once if any."""
    if not _has_sync_bn(model):
        return model
    logger.info('SyncBN -> BN: SyncBatchNorm needs CUDA and a distributed job; '
                'this run is on the CPU, so every SyncBN layer is a BatchNorm')
    return revert_sync_batchnorm(model)


class _ConsoleMixin:
    """``build_logger`` that leaves the console to ``ConsoleProgressHook`` when the config
    says ``console = 'progress'`` (the log file still gets every line)."""

    def build_logger(self, *args, **kwargs):
        logger = super().build_logger(*args, **kwargs)
        quiet_for_progress(getattr(self, 'cfg', None), logger)
        return logger


@RUNNERS.register_module()
class AltairFlexibleRunner(FlexibleRunner):
    """mmengine's ``FlexibleRunner`` (FSDP, DeepSpeed strategies) with the console of
    ``console = 'progress'``: its logger is its strategy's, quieted on first use."""

    @property
    def logger(self):
        logger = self.strategy.logger
        if not getattr(self, '_altair_quiet', False):  # once: every log line passes here
            self._altair_quiet = quiet_for_progress(getattr(self, 'cfg', None), logger)
        return logger


@RUNNERS.register_module()
class AltairRunner(_ConsoleMixin, Runner):
    """mmengine ``Runner`` that places itself on CUDA or the CPU (see module docstring)."""

    def build_model(self, model):
        with naming_the_section('model'):
            return super().build_model(model)

    def build_optim_wrapper(self, optim_wrapper):
        with naming_the_section('optim_wrapper'):
            return super().build_optim_wrapper(optim_wrapper)

    def build_param_scheduler(self, scheduler):
        with naming_the_section('param_scheduler'):
            return super().build_param_scheduler(scheduler)

    def register_hooks(self, default_hooks=None, custom_hooks=None) -> None:
        with naming_the_section('default_hooks / custom_hooks'):
            return super().register_hooks(default_hooks, custom_hooks)

    def build_evaluator(self, evaluator):
        split = 'val' if evaluator is self._val_evaluator else 'test'
        with naming_the_section(f'{split}_evaluator'):
            return super().build_evaluator(evaluator)

    def build_train_loop(self, loop):
        with naming_the_section(_loop_or_loader('train')):
            return super().build_train_loop(loop)

    def build_val_loop(self, loop):
        with naming_the_section(_loop_or_loader('val')):
            return super().build_val_loop(loop)

    def build_test_loop(self, loop):
        with naming_the_section(_loop_or_loader('test')):
            return super().build_test_loop(loop)

    def setup_env(self, env_cfg: dict) -> None:
        if self.distributed and not is_distributed() and accelerator() != 'cuda':
            init_distributed(self.launcher)
        super().setup_env(env_cfg)

    def wrap_model(self, model_wrapper_cfg: dict | None, model: torch.nn.Module):
        if is_model_wrapper(model) or accelerator() == 'cuda':
            return super().wrap_model(model_wrapper_cfg, model)
        model = sync_bn_to_bn(model, self.logger)
        cfg = dict(model_wrapper_cfg or {})
        if not self.distributed or cfg.get('type', 'MMDistributedDataParallel') != \
                'MMDistributedDataParallel':
            return super().wrap_model(model_wrapper_cfg, model)
        cfg.pop('type', None)
        # BN (ex-SyncBN) statistics would drift apart per rank, and in-training validation
        # would then score each rank's half with different ones: broadcast rank 0's each step
        # (mmengine's default, False, suits SyncBN on CUDA)
        cfg.setdefault('broadcast_buffers', True)
        cfg.setdefault('find_unused_parameters', self.cfg.get('find_unused_parameters', False))
        # DDP rejects device_ids for a CPU module; mmengine always passes LOCAL_RANK.
        self.logger.info(f"CPU DDP over gloo: rank {os.environ.get('RANK')} of "
                         f"{os.environ.get('WORLD_SIZE')}")
        return MMDistributedDataParallel(module=model, **cfg)
