"""Engine glue: the Runner, mixed precision, safe checkpoints, device placement, run hooks."""
from altair.engine.amp import AutocastOptimWrapper, apply_amp
from altair.engine.checkpoint import allow_mmengine_checkpoints
from altair.engine.hooks import RunMetricsHook
from altair.engine.runner import AltairRunner

allow_mmengine_checkpoints()

__all__ = ['AltairRunner', 'AutocastOptimWrapper', 'RunMetricsHook', 'apply_amp',
           'allow_mmengine_checkpoints']
