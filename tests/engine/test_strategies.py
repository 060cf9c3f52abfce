"""FSDP / DeepSpeed configs: their strategies build everywhere; DeepSpeed says how to install."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from altair.config import load_config
from altair.engine.strategies import AltairFSDPStrategy, fsdp_wrap_classes

ROOT = Path(__file__).resolve().parents[2]
FLEXIBLE = sorted(str(p.relative_to(ROOT)) for p in (ROOT / 'configs').rglob('*.py')
                  if '_base_' not in p.parts and ('-fsdp_' in p.name or '-deepspeed-' in p.name))


def test_the_large_variants_exist():
    names = {Path(p).name for p in FLEXIBLE}
    assert {'segformer_mit-b5-fsdp_8xb2-160k_ade20k-512x512.py',
            'segformer_mit-b5-deepspeed-zero2_8xb2-160k_ade20k-512x512.py',
            'segformer_mit-b5-deepspeed-zero3_8xb2-160k_ade20k-512x512.py',
            'upernet_vit-b16-fsdp_8xb2-160k_ade20k-512x512.py'} <= names


def test_wrap_policy_wraps_only_the_named_blocks():
    class TransformerEncoderLayer(torch.nn.Linear):
        pass
    assert fsdp_wrap_classes(torch.nn.Linear(2, 2), True, 0, class_names=('X',))  # recurse
    assert fsdp_wrap_classes(TransformerEncoderLayer(2, 2), False, 0,
                             class_names=('TransformerEncoderLayer',))
    assert not fsdp_wrap_classes(torch.nn.Linear(2, 2), False, 0,
                                 class_names=('TransformerEncoderLayer',))


@pytest.mark.parametrize('path', FLEXIBLE)
def test_strategy_of_each_large_config_builds(path):
    from mmengine.registry import STRATEGIES

    import altair.engine  # noqa: F401
    cfg = load_config(ROOT / path)
    assert cfg.runner_type == 'FlexibleRunner'
    strategy = cfg.strategy.type
    if 'fsdp' in path:
        assert strategy == 'altair.AltairFSDPStrategy' and cfg.strategy.state_dict_cfg == 'full'
        assert isinstance(STRATEGIES.build(cfg.strategy), AltairFSDPStrategy)
        return
    stage = 2 if 'zero2' in path else 3
    assert strategy == 'DeepSpeedStrategy' and cfg.strategy.bf16.enabled
    assert cfg.strategy.zero_optimization.stage == stage
    assert cfg.optim_wrapper.type == 'DeepSpeedOptimWrapper'
    if importlib.util.find_spec('deepspeed') is None:
        from altair.api.train import StrategyUnavailableError, build_runner
        with pytest.raises(StrategyUnavailableError,
                           match="needs DeepSpeed, which is not installed: pip install "
                                 r"'altair-seg\[deepspeed\]'"):
            build_runner(cfg)
    else:  # pragma: no cover - DeepSpeed is not installed on the CI machines
        assert type(STRATEGIES.build(cfg.strategy)).__name__ == 'DeepSpeedStrategy'
