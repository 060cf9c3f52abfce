from __future__ import annotations

import json
import time

import pytest
import torch

from altair.inference import autotune
from altair.models.card import ModelCard


@pytest.fixture
def probe_on(tmp_path, monkeypatch):
    """The probe switched on (the suite turns it off), its cache in a temporary folder."""
    monkeypatch.setenv('ALTAIR_BATCH_PROBE', '1')
    monkeypatch.setenv('ALTAIR_CACHE', str(tmp_path))
    monkeypatch.setattr(autotune, '_MEMO', {})
    return tmp_path / autotune.CACHE_FILE


def test_pick_batch_is_fastest_per_image_preferring_smaller_within_tolerance():
    # seconds per call: 8 images cost 5.6 s (0.7/image), 4 cost 3 s (0.75/image)
    assert autotune.pick_batch({1: 1.0, 2: 1.8, 4: 3.0, 8: 5.6}) == 8
    # 4 is within 5 % of 8's time per image: the smaller batch (less memory) wins
    assert autotune.pick_batch({1: 1.0, 2: 1.8, 4: 2.9, 8: 5.6}) == 4
    # no batching gain at all: one image per call
    assert autotune.pick_batch({1: 1.0, 2: 2.0, 4: 4.0, 8: 8.0}) == 1
    assert autotune.pick_batch({1: 1.0, 2: 2.2}, tolerance=0.25) == 1


def test_time_batches_warms_up_then_keeps_each_candidates_fastest_round():
    calls = []
    ticks = iter([0, 5, 5, 7, 7, 10,    # round 1: 1 took 5, 2 took 2, 4 took 3
                  10, 12, 12, 16, 16, 17])  # round 2: 1 took 2, 2 took 4, 4 took 1
    seconds = autotune.time_batches(calls.append, (1, 2, 4), clock=lambda: next(ticks))
    assert calls == [1, 1, 2, 4, 1, 2, 4]  # the warm-up call first
    assert seconds == {1: 2, 2: 2, 4: 1}


def test_signature_depends_on_architecture_not_weights():
    torch.manual_seed(0)
    a, b = torch.nn.Conv2d(3, 4, 3), torch.nn.Conv2d(3, 4, 3)
    assert not torch.equal(a.weight, b.weight)
    assert autotune.model_signature(a) == autotune.model_signature(b)
    assert autotune.model_signature(a) != autotune.model_signature(torch.nn.Conv2d(3, 5, 3))


class Sleeper(torch.nn.Module):
    """A 'model' whose call costs ``fixed + per_image * batch`` seconds (time.sleep)."""

    def __init__(self, fixed: float, per_image: float) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(1))
        self.fixed, self.per_image, self.calls = fixed, per_image, []

    def forward(self, x):
        self.calls.append(x.shape[0])
        time.sleep(self.fixed + self.per_image * x.shape[0])
        return x


@pytest.mark.parametrize('fixed, per_image, expected', [
    (0.04, 0.002, 8),   # a large fixed cost per call (a GPU launch): the biggest batch
    (0.0, 0.02, 1),     # cost proportional to the images: one per call
])
def test_tuned_batch_measures_caches_and_is_overridable(probe_on, fixed, per_image, expected):
    model = Sleeper(fixed, per_image)
    kw = dict(shape=(3, 8, 8), device='cpu', precision='fp32', channels_last=False)
    assert autotune.tuned_batch(model, model, **kw) == expected
    assert model.calls == [1, 1, 2, 4, 8, 1, 2, 4, 8]
    key = autotune.probe_key(model, **kw)
    assert json.loads(probe_on.read_text()) == {key: expected}
    # cached: in this process and, for a new process, in the file
    assert autotune.tuned_batch(model, model, **kw) == expected
    autotune._MEMO.clear()
    assert autotune.tuned_batch(model, model, **kw) == expected
    assert len(model.calls) == 9  # no second probe
    # another window is another probe; reading the cache only gives the fallback
    assert autotune.tuned_batch(model, model, **dict(kw, shape=(3, 16, 16)), probe=False,
                                fallback=3) == 3


def test_switched_off_the_fallback_is_used_without_a_forward_pass(probe_on, monkeypatch):
    monkeypatch.setenv('ALTAIR_BATCH_PROBE', '0')
    model = Sleeper(0.0, 0.0)
    assert autotune.tuned_batch(model, model, shape=(3, 8, 8), device='cpu',
                                fallback=5) == 5
    assert model.calls == [] and not probe_on.exists()


def test_a_model_can_name_its_own_signature():
    """An ONNX model's parameters are a stub: it names itself (from its header), or every
    exported model would share one probed batch size."""
    import torch

    from altair.inference.autotune import model_signature
    a, b = torch.nn.Conv2d(3, 8, 3), torch.nn.Conv2d(3, 8, 3)
    assert model_signature(a) == model_signature(b)
    a.altair_card = ModelCard(signature='OnnxSegmentor-1')
    b.altair_card = ModelCard(signature='OnnxSegmentor-2')
    assert (model_signature(a), model_signature(b)) == ('OnnxSegmentor-1', 'OnnxSegmentor-2')
