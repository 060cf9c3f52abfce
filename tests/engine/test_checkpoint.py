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
