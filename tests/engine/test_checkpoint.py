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
            "you trust the file, convert it once and use the copy: python -c 'import torch; "
            f'c = torch.load("{path}", weights_only=False); '
            f'torch.save(dict(state_dict=c.get("state_dict", c)), "{path}.safe.pth")\'')


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


def test_the_printed_convert_command_is_safe_to_paste_for_any_file_name(tmp_path):
    """A name holding quotes and ``$(...)`` stays a name when the command runs in a shell."""
    import fractions
    import subprocess
    import sys

    from altair.engine.checkpoint import UnsafeCheckpointError, safe_load
    path = tmp_path / "it's $(touch PWNED) \"x\".pth"
    torch.save({'state_dict': {'w': torch.ones(2)}, 'x': fractions.Fraction(1, 3)}, path)
    with pytest.raises(UnsafeCheckpointError) as info:
        safe_load(path)
    command = str(info.value).split('convert it once and use the copy: ', 1)[1]
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ['PATH'])
    proc = subprocess.run(['bash', '-c', command], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / 'PWNED').exists()
    converted = safe_load(f'{path}.safe.pth')
    assert torch.equal(converted['state_dict']['w'], torch.ones(2))


@pytest.fixture
def http_checkpoints(tmp_path, monkeypatch):
    """A local HTTP server over ``tmp_path/served`` (good.pth, evil.pth), and torch hub's cache
    under ``tmp_path/torch``."""
    import functools
    import http.server
    import threading
    served = tmp_path / 'served'
    served.mkdir()
    torch.save({'state_dict': {'w': torch.full((2,), 3.0)}}, served / 'good.pth')
    torch.save({'state_dict': {}, 'x': _Evil()}, served / 'evil.pth')
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass
    server = http.server.ThreadingHTTPServer(
        ('127.0.0.1', 0), functools.partial(Quiet, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()


def test_http_and_model_zoo_checkpoints_go_through_the_allow_list(http_checkpoints, tmp_path,
                                                                  monkeypatch):
    import mmengine.runner.checkpoint as mmckpt
    from mmengine.registry import DefaultScope
    from mmengine.runner.checkpoint import _load_checkpoint

    import altair.engine  # noqa: F401  (registers the safe loaders)
    from altair.engine.checkpoint import UnsafeCheckpointError
    from altair.registry import MODELS
    url = http_checkpoints
    good = _load_checkpoint(f'{url}/good.pth', map_location='cpu')
    assert torch.equal(good['state_dict']['w'], torch.full((2,), 3.0))
    from altair.engine.checkpoint import cache_name
    assert (tmp_path / 'torch' / 'hub' / 'checkpoints' / cache_name(f'{url}/good.pth')
            ).is_file()  # cached
    with pytest.raises(UnsafeCheckpointError, match='posix.system'):
        _load_checkpoint(f'{url}/evil.pth', map_location='cpu')
    monkeypatch.setattr(mmckpt, 'get_torchvision_models', lambda: {'evilnet': f'{url}/evil.pth'})
    monkeypatch.setattr(mmckpt, 'get_mmcls_models', lambda: {'evilnet': f'{url}/evil.pth'})
    monkeypatch.setattr(mmckpt, 'get_external_models', lambda: {
        'evilnet': f'{url}/evil.pth', 'evil_file': 'evil_local.pth'})
    monkeypatch.setattr(mmckpt, '_get_mmengine_home', lambda: str(tmp_path / 'served'))
    (tmp_path / 'served' / 'evil_local.pth').write_bytes(
        (tmp_path / 'served' / 'evil.pth').read_bytes())
    for name in ('torchvision://evilnet', 'modelzoo://evilnet', 'open-mmlab://evilnet',
                 'openmmlab://evil_file', 'mmcls://evilnet'):
        with pytest.raises(UnsafeCheckpointError, match='posix.system'):
            _load_checkpoint(name, map_location='cpu')
    with pytest.raises(FileNotFoundError, match="'nonet' is not in mmengine's model-zoo"):
        _load_checkpoint('torchvision://nonet', map_location='cpu')
    with DefaultScope.overwrite_default_scope('altair'):  # a backbone's init_cfg, by URL
        backbone = MODELS.build(dict(type='ResNetV1c', depth=18, stem_channels=8,
                                     base_channels=8, init_cfg=dict(
                                         type='Pretrained', checkpoint=f'{url}/evil.pth')))
    with pytest.raises(UnsafeCheckpointError, match='posix.system'):
        backbone.init_weights()


def test_a_url_that_cannot_be_downloaded_is_one_clear_error(http_checkpoints):
    import altair.engine  # noqa: F401
    from mmengine.runner.checkpoint import _load_checkpoint

    from altair.engine.checkpoint import CheckpointMissingError
    with pytest.raises(CheckpointMissingError, match=r"could not be downloaded \(HTTP Error 404"):
        _load_checkpoint(f'{http_checkpoints}/missing.pth', map_location='cpu')


@pytest.fixture
def fake_downloads(tmp_path, monkeypatch):
    """torch hub's cache under ``tmp_path/torch`` and a stand-in for its downloader that
    writes ``served[url]`` (bytes) where asked; the URLs it was called with are recorded."""
    import torch.hub
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    served, calls = {}, []

    def download(url, dst, hash_prefix=None, progress=True):
        calls.append(url)
        if url not in served:
            raise OSError(f'HTTP Error 404: {url}')
        with open(dst, 'wb') as f:
            f.write(served[url])
    monkeypatch.setattr(torch.hub, 'download_url_to_file', download)
    return served, calls


def test_two_urls_with_one_basename_get_two_cache_files(fake_downloads, tmp_path):
    import hashlib

    from altair.engine.checkpoint import _download
    served, calls = fake_downloads
    a, b = 'https://a.example/v1/model.pth', 'https://b.example/v2/model.pth'
    served[a], served[b] = b'weights of a', b'weights of b'
    pa, pb = _download(a), _download(b)
    assert pa != pb and pa.parent == pb.parent == tmp_path / 'torch' / 'hub' / 'checkpoints'
    assert pa.read_bytes() == b'weights of a' and pb.read_bytes() == b'weights of b'
    for url, path in ((a, pa), (b, pb)):  # a hash of the URL, then its readable file name
        assert path.name == hashlib.sha256(url.encode()).hexdigest()[:16] + '-model.pth'
    assert _download(a) == pa and calls == [a, b]  # cached: not downloaded again
    assert sorted(p.name for p in pa.parent.iterdir()) == sorted([pa.name, pb.name])


def test_a_sha256_mismatch_removes_the_download_and_names_both_hashes(fake_downloads,
                                                                      tmp_path):
    import hashlib

    from altair.engine.checkpoint import CheckpointHashError, _download, cache_name
    from altair.errors import AltairError
    served, calls = fake_downloads
    plain = 'https://a.example/model.pth'
    served[plain] = b'tampered weights'
    wanted = hashlib.sha256(b'the weights that were published').hexdigest()
    actual = hashlib.sha256(b'tampered weights').hexdigest()
    url = f'{plain}#sha256={wanted}'
    with pytest.raises(CheckpointHashError) as err:
        _download(url)
    assert str(err.value) == (f"checkpoint '{url}': SHA-256 mismatch: expected {wanted} "
                              f"(the URL's #sha256=), got {actual}; the download was removed")
    assert isinstance(err.value, AltairError) and isinstance(err.value, ValueError)
    assert calls == [plain]  # the fragment is not part of the request
    folder = tmp_path / 'torch' / 'hub' / 'checkpoints'
    assert list(folder.iterdir()) == []  # neither under the cache name nor a temporary one
    assert not (folder / cache_name(url)).exists()


def test_a_matching_sha256_is_cached_and_loads(fake_downloads):
    import hashlib
    import io

    import altair.engine  # noqa: F401  (registers the safe loaders)
    from mmengine.runner.checkpoint import _load_checkpoint

    from altair.engine.checkpoint import CheckpointHashError, _download
    served, calls = fake_downloads
    buf = io.BytesIO()
    torch.save({'state_dict': {'w': torch.full((2,), 7.0)}}, buf)
    plain = 'https://a.example/model.pth'
    served[plain] = buf.getvalue()
    digest = hashlib.sha256(buf.getvalue()).hexdigest()
    url = f'{plain}#sha256={digest.upper()}'  # hex digits in either case
    loaded = _load_checkpoint(url, map_location='cpu')
    assert torch.equal(loaded['state_dict']['w'], torch.full((2,), 7.0))
    path = _download(url)
    assert path.read_bytes() == buf.getvalue() and calls == [plain]
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
    for fragment in ('sha256=abc', f'md5={digest[:32]}'):
        with pytest.raises(CheckpointHashError,
                           match=rf"the URL fragment '#{fragment}' is not 'sha256=<64 hex"):
            _download(f'{plain}#{fragment}')
