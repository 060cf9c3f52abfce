"""Engine glue: the Runner, strategies, mixed precision, safe checkpoints, device placement,
schedulers and hooks."""
from altair.engine.amp import AutocastOptimWrapper, apply_amp
from altair.engine.checkpoint import UnsafeCheckpointError, allow_mmengine_checkpoints, safe_load
from altair.engine.hooks import (AltairCheckpointHook, NonFiniteLossError, RngStateHook,
                                 RunMetricsHook, StopOnNonFiniteLossHook)
from altair.engine.layer_decay import LayerDecayOptimWrapperConstructor
from altair.engine.progress import ConsoleProgressHook
from altair.engine.runner import AltairFlexibleRunner, AltairRunner
from altair.engine.schedulers import WarmupCosineLR
from altair.engine.strategies import AltairFSDPStrategy
from altair.engine.tracking import ValOverlayHook

allow_mmengine_checkpoints()

__all__ = ['AltairCheckpointHook', 'AltairFSDPStrategy', 'AltairFlexibleRunner', 'AltairRunner',
           'AutocastOptimWrapper', 'ConsoleProgressHook', 'LayerDecayOptimWrapperConstructor',
           'NonFiniteLossError', 'RngStateHook',
           'RunMetricsHook', 'StopOnNonFiniteLossHook', 'UnsafeCheckpointError',
           'ValOverlayHook', 'WarmupCosineLR', 'allow_mmengine_checkpoints', 'apply_amp',
           'safe_load']
