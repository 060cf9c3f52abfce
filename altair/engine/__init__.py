"""Engine glue: the Runner, strategies, mixed precision, safe checkpoints, device placement,
schedulers and hooks."""
from altair.engine.amp import AutocastOptimWrapper, apply_amp
from altair.engine.checkpoint import allow_mmengine_checkpoints
from altair.engine.hooks import AltairCheckpointHook, RunMetricsHook
from altair.engine.runner import AltairRunner
from altair.engine.schedulers import WarmupCosineLR
from altair.engine.strategies import AltairFSDPStrategy

allow_mmengine_checkpoints()

__all__ = ['AltairCheckpointHook', 'AltairFSDPStrategy', 'AltairRunner', 'WarmupCosineLR', 'AutocastOptimWrapper', 'RunMetricsHook', 'apply_amp',
           'allow_mmengine_checkpoints']
