from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

from altair.engine.checkpoint import allow_mmengine_checkpoints


def test_mmengine_checkpoint_loads_with_weights_only(tmp_path):
    allow_mmengine_checkpoints()
    hub = MessageHub.get_instance('altair-test')
    hub.update_scalar('train/loss', 1.5)
    hub.update_scalar('train/lr', np.float64(0.01))
    ckpt = dict(meta=dict(epoch=1, iter=3, seed=np.int64(5)),
                state_dict={'w': torch.ones(2)}, message_hub=hub.state_dict())
    path = tmp_path / 'ckpt.pth'
    torch.save(ckpt, path)
    loaded = torch.load(path, weights_only=True)
    buf = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buf, HistoryBuffer) and buf.current() == 1.5
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))


class _Evil:
    def __reduce__(self):
        return (os.system, ('echo pwned > /dev/null',))


def test_checkpoint_with_code_is_still_refused(tmp_path):
    allow_mmengine_checkpoints()
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'x': _Evil()}, path)  # torch's default protocol 2
    with pytest.raises(pickle.UnpicklingError, match='system'):
        torch.load(path, weights_only=True)


def test_getattr_stand_in_only_resolves_the_allowed_attributes():
    from mmengine.optim.scheduler.param_scheduler import OneCycleParamScheduler

    from altair.engine.checkpoint import checkpoint_getattr
    assert checkpoint_getattr(HistoryBuffer, 'mean') is HistoryBuffer.mean
    assert checkpoint_getattr(OneCycleParamScheduler, '_annealing_cos') is \
        OneCycleParamScheduler._annealing_cos
    with pytest.raises(pickle.UnpicklingError, match='only HistoryBuffer statistics'):
        checkpoint_getattr(HistoryBuffer, '__init__')
    with pytest.raises(pickle.UnpicklingError, match='only HistoryBuffer statistics'):
        checkpoint_getattr(OneCycleParamScheduler, '__init__')
    with pytest.raises(pickle.UnpicklingError, match='weights_only=False'):
        checkpoint_getattr(os, 'system')


@pytest.fixture
def evil_checkpoint(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'x': _Evil()}, path)
    return path


def _refusal(path) -> str:
    return (f"refusing to load checkpoint '{path}': it contains 'posix.system', which is not a "
            'tensor, number or mmengine training state, and unpickling it could run code. If '
            'you trust the file, convert it once and use the copy: python -c "import torch; '
            f"c = torch.load('{path}', weights_only=False); "
            f"torch.save(dict(state_dict=c.get('state_dict', c)), '{path}.safe.pth')\"")


def test_safe_load_refuses_code_with_a_message_that_says_how_to_proceed(evil_checkpoint):
    from altair.engine.checkpoint import UnsafeCheckpointError, safe_load
    with pytest.raises(UnsafeCheckpointError) as info:
        safe_load(evil_checkpoint)
    assert str(info.value) == _refusal(evil_checkpoint)


def test_every_mmengine_load_path_refuses_it(evil_checkpoint):
    """load_from / resume / tools (mmengine's load_checkpoint and _load_checkpoint) and
    init_cfg=Pretrained all go through mmengine's local CheckpointLoader."""
    import altair.engine  # noqa: F401  (registers the safe local loader)
    from mmengine.registry import DefaultScope
    from mmengine.runner.checkpoint import _load_checkpoint, load_checkpoint

    from altair.engine.checkpoint import UnsafeCheckpointError
    from altair.registry import MODELS
    with pytest.raises(UnsafeCheckpointError, match='posix.system'):
        load_checkpoint(torch.nn.Linear(2, 2), str(evil_checkpoint))
    with pytest.raises(UnsafeCheckpointError, match='posix.system'):
        _load_checkpoint(str(evil_checkpoint), map_location='cpu')  # Runner.resume's call
    with DefaultScope.overwrite_default_scope('altair'):
        backbone = MODELS.build(dict(type='ResNetV1c', depth=18, stem_channels=8,
                                     base_channels=8, init_cfg=dict(
                                         type='Pretrained', checkpoint=str(evil_checkpoint))))
    with pytest.raises(UnsafeCheckpointError, match='posix.system'):
        backbone.init_weights()


def test_export_and_predict_refuse_it(evil_checkpoint, in_repo_root):
    import altair as alt
    from altair.engine.checkpoint import UnsafeCheckpointError
    from altair.models.selfsup.export import export_backbone
    with pytest.raises(UnsafeCheckpointError, match='posix.system'):
        export_backbone(evil_checkpoint, evil_checkpoint.with_name('out.pth'))
    assert not evil_checkpoint.with_name('out.pth').exists()
    with pytest.raises(UnsafeCheckpointError, match='posix.system'):
        alt.predict(('configs/pspnet.py', str(evil_checkpoint)), np.zeros((8, 8, 3), np.uint8))


def test_a_full_mmengine_training_checkpoint_loads_weights_only(tmp_path):
    """Weights, SGD momentum, poly and one-cycle scheduler states, message hub with NumPy."""
    from mmengine.optim import OneCycleLR, PolyLR

    from altair.engine.checkpoint import safe_load
    model = torch.nn.Linear(3, 2)
    optim = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(1, 3)).sum().backward()
    optim.step()
    poly = PolyLR(optim, eta_min=0, power=0.9, begin=0, end=10, by_epoch=False)
    cycle = OneCycleLR(optim, eta_max=0.1, total_steps=10, by_epoch=False)
    hub = MessageHub.get_instance('altair-full-ckpt')
    hub.update_scalar('train/loss', np.float32(0.5))
    hub.update_info('best_score', np.float64(41.5))
    ckpt = dict(meta=dict(iter=4, seed=np.int64(0), dataset_meta=dict(classes=('a', 'b'))),
                state_dict=model.state_dict(), optimizer=optim.state_dict(),
                param_schedulers=[poly.state_dict(), cycle.state_dict()],
                message_hub=hub.state_dict())
    torch.save(ckpt, tmp_path / 'iter_4.pth')
    loaded = safe_load(tmp_path / 'iter_4.pth')
    assert loaded['meta']['iter'] == 4
    assert loaded['message_hub']['runtime_info']['best_score'] == 41.5
    momentum = loaded['optimizer']['state'][0]['momentum_buffer']
    assert torch.equal(momentum, optim.state_dict()['state'][0]['momentum_buffer'])
    assert loaded['param_schedulers'][1]['anneal_func'] == cycle.state_dict()['anneal_func']
