"""Engine glue: the Runner, mixed precision, safe checkpoints, device placement, run hooks."""
from altair.engine.amp import AutocastOptimWrapper, apply_amp
from altair.engine.checkpoint import allow_mmengine_checkpoints
from altair.engine.hooks import AltairCheckpointHook, RunMetricsHook
from altair.engine.runner import AltairRunner
from altair.engine.strategies import AltairFSDPStrategy

allow_mmengine_checkpoints()

__all__ = ['AltairCheckpointHook', 'AltairFSDPStrategy', 'AltairRunner', 'AutocastOptimWrapper', 'RunMetricsHook', 'apply_amp',
           'allow_mmengine_checkpoints']
