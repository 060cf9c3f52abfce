"""Distributed training on the CPU (gloo): DDP equals one process with the doubled batch,
ranks stay identical, DDP validation equals single-process validation, accumulation equals a
bigger batch, a killed rank ends the job, FSDP runs."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import torch

import altair as alt

ROOT = Path(__file__).resolve().parents[2]
GN = dict(type='GN', num_groups=8, requires_grad=True)


@pytest.fixture
def bluemarble(small_bluemarble):
    """These runs check the flow, not the numbers: 3 val tiles do (see small_bluemarble)."""
    return small_bluemarble


def deterministic(tiny, data_root, *, batch: int, iters: int = 2) -> dict:
    """configs/pspnet.py made batch-statistics-free and deterministic: GroupNorm, no dropout,
    no random augmentation, no shuffling, fp32 SGD, no validation."""
    opts = dict(tiny.loaders(data_root), **{
        'train_cfg.max_iters': iters, 'train_cfg.val_interval': 1000,
        'default_hooks.checkpoint.interval': iters, 'default_hooks.checkpoint.save_best': None,
        'val_cfg': None, 'val_dataloader': None, 'val_evaluator': None,
        'train_dataloader.batch_size': batch, 'train_dataloader.sampler.shuffle': False,
        'train_dataloader.dataset.pipeline': [dict(type='LoadImageFromFile'),
                                              dict(type='LoadAnnotations'),
                                              dict(type='PackSegInputs')],
        'model.backbone.norm_cfg': GN, 'model.decode_head.norm_cfg': GN,
        'model.auxiliary_head.norm_cfg': GN, 'model.decode_head.dropout_ratio': 0.0,
        'model.auxiliary_head.dropout_ratio': 0.0,
        'optim_wrapper': dict(_delete_=True, type='OptimWrapper',
                              optimizer=dict(type='SGD', lr=0.01, momentum=0.9,
                                             weight_decay=5e-4)),
        'custom_imports': dict(imports=['tests.engine.rank_hooks'],
                               allow_failed_imports=False),
        'custom_hooks': [dict(type='TestDumpRankWeightsHook')]})
    return opts


@pytest.mark.slow
def test_ddp_equals_one_process_with_the_doubled_batch(bluemarble, tiny, tmp_path,
                                                        in_repo_root):
    ddp = alt.train('configs/pspnet.py', cfg_options=deterministic(tiny, bluemarble, batch=2),
                    distributed=2, seed=0, root=tmp_path)
    single = alt.train('configs/pspnet.py', cfg_options=deterministic(tiny, bluemarble, batch=4),
                       seed=0, root=tmp_path)
    r0, r1 = (torch.load(ddp.work_dir / f'rank{r}.pt') for r in (0, 1))
    ref = torch.load(single.work_dir / 'rank0.pt')
    init = torch.load(single.work_dir / 'rank0_init.pt')
    assert r0.keys() == r1.keys() == ref.keys() == init.keys()
    assert all(torch.equal(r0[k], r1[k]) for k in r0)  # ranks never drift apart
    assert all(torch.equal(init[k], torch.load(ddp.work_dir / 'rank0_init.pt')[k])
               for k in init)  # both started from the same weights
    moved = []
    for k in ref:
        torch.testing.assert_close(r0[k], ref[k], rtol=1e-4, atol=1e-5, msg=k)
        if ref[k].is_floating_point():
            moved.append(float((ref[k] - init[k]).abs().max()))
    # the weights trained: most tensors moved from their initial values, by far more than
    # the tolerance of the comparison above (else equal DDP and single runs prove nothing)
    assert sum(m > 0 for m in moved) > 0.5 * len(moved), moved
    assert max(moved) > 100 * 1e-5, max(moved)


def test_grad_accumulation_equals_the_bigger_batch(tmp_path, monkeypatch):
    """grad_accum=2 maps to accumulative_counts=2, and 2 micro-batches of 2 give the update
    of one batch of 4 (GroupNorm model, mean losses over equal pixel counts)."""
    import altair.api.train as api
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope

    from altair.registry import MODELS
    from tests.models.tiny import segmentor_cfg

    captured = {}

    class Runner:
        def train(self):
            pass
    monkeypatch.setattr(api, 'build_runner', lambda cfg: captured.setdefault('cfg', cfg) and
                        Runner())
    alt.train('configs/pspnet.py', grad_accum=2, root=tmp_path)
    assert captured['cfg'].optim_wrapper.accumulative_counts == 2

    cfg = segmentor_cfg(dict(mode='whole'))
    cfg['data_preprocessor']['size'] = (32, 32)
    cfg['backbone']['norm_cfg'] = cfg['decode_head']['norm_cfg'] = dict(type='GN', num_groups=4)
    cfg['decode_head']['dropout_ratio'] = 0.0
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('altair'):
        models = [MODELS.build(cfg) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    data = _batch(4)
    wrappers = [build_optim_wrapper(m, dict(type='OptimWrapper', accumulative_counts=n,
                                            optimizer=dict(type='SGD', lr=0.1)))
                for m, n in zip(models, (2, 1))]
    wrappers[0].initialize_count_status(models[0], 0, 2)
    for half in (slice(0, 2), slice(2, 4)):
        models[0].train_step({k: v[half] for k, v in data.items()}, wrappers[0])
    models[1].train_step(data, wrappers[1])
    for (name, a), b in zip(models[0].state_dict().items(), models[1].state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


def _batch(n: int) -> dict:
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    g = torch.Generator().manual_seed(1)
    classes = torch.arange(n) % 5
    # learnable at any resolution: image i is about 50 * class_i bright, all of class_i
    images = torch.rand(n, 3, 32, 32, generator=g) * 20 + 50.0 * classes[:, None, None, None]
    samples = []
    for c in classes:
        s = SegDataSample(metainfo=dict(img_shape=(32, 32), ori_shape=(32, 32),
                                        pad_shape=(32, 32)))
        s.gt_sem_seg = PixelData(data=torch.full((1, 32, 32), int(c)))
        samples.append(s)
    return dict(inputs=list(images), data_samples=samples)


def test_bf16_autocast_training_lowers_the_loss_on_the_cpu():
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope

    import altair.engine  # noqa: F401  (AutocastOptimWrapper)
    from altair.registry import MODELS
    from tests.models.tiny import segmentor_cfg
    torch.manual_seed(0)
    cfg = segmentor_cfg(dict(mode='whole'))
    cfg['data_preprocessor']['size'] = (32, 32)
    with DefaultScope.overwrite_default_scope('altair'):
        model = MODELS.build(cfg)
        wrapper = build_optim_wrapper(model, dict(type='AutocastOptimWrapper', dtype='bfloat16',
                                                  optimizer=dict(type='SGD', lr=0.05,
                                                                 momentum=0.9)))
    data = _batch(4)
    losses = [float(model.train_step(data, wrapper)['loss']) for _ in range(15)]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < 0.8 * losses[0], losses


def _printed_metrics(stdout: str) -> dict:
    return ast.literal_eval([ln for ln in stdout.splitlines() if ln.startswith('{')][-1])


def _exact_metric(path: Path) -> dict:
    return {'test_evaluator.type': 'TestExactIoUMetric', 'test_evaluator.dump': str(path),
            'custom_imports.imports': ['tests.engine.rank_hooks']}


@pytest.mark.slow
@pytest.mark.extended
def test_ddp_validation_equals_single_process_on_an_odd_sized_set(bluemarble, tiny, tmp_path):
    """3 val tiles on 2 ranks: the sampler pads one; it must not be counted twice. The
    gathered per-class areas and the unrounded mIoU equal one process's to 1e-6."""
    run = alt.train('configs/pspnet.py', cfg_options=tiny.options(bluemarble), root=tmp_path)
    ckpt = str(run.last_checkpoint)
    opts = dict(tiny.loaders(bluemarble), **_exact_metric(tmp_path / 'dist.json'))
    opts['custom_imports.imports'] = '[tests.engine.rank_hooks]'  # as typed on a command line
    env = {**os.environ, 'PORT': '29531', 'ALTAIR_HOME': str(tmp_path)}
    dist = subprocess.run(['bash', 'tools/dist_test.sh', 'configs/pspnet.py', ckpt, '2',
                           '--work-dir', str(tmp_path / 'dist'), *tiny.cli(opts)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)
    assert dist.returncode == 0, dist.stderr[-3000:]
    single = alt.test('configs/pspnet.py', ckpt, work_dir=str(tmp_path / 'single'),
                      cfg_options=dict(tiny.loaders(bluemarble),
                                       **_exact_metric(tmp_path / 'single.json')))
    assert 'Iter(test) [2/2]' in dist.stdout + dist.stderr  # 2 + 2 = 4 samples seen
    exact = {k: json.loads((tmp_path / f'{k}.json').read_text()) for k in ('dist', 'single')}
    assert exact['dist']['samples'] == exact['single']['samples'] == 3
    assert exact['single']['label'] == _label_areas(bluemarble / 'ann_dir' / 'val',
                                                    len(exact['single']['label']))
    for key in ('intersect', 'union', 'label'):
        assert exact['dist'][key] == pytest.approx(exact['single'][key], abs=1e-6), key
    assert exact['dist']['mIoU'] == pytest.approx(exact['single']['mIoU'], abs=1e-6)
    # and what both print (mmseg rounds to 2 decimals) is the same dict
    assert _printed_metrics(dist.stdout) == {k: round(v, 2) for k, v in single.items()}


def _label_areas(folder: Path, n_classes: int) -> list[float]:
    """Per-class pixel counts of the val masks, counted with NumPy (255 = ignored)."""
    import cv2
    import numpy as np
    counts = np.zeros(n_classes)
    for mask in sorted(folder.glob('*.png')):
        values = cv2.imread(str(mask), cv2.IMREAD_UNCHANGED).ravel()
        counts += np.bincount(values[values < n_classes], minlength=n_classes)
    return counts.tolist()


@pytest.mark.slow
@pytest.mark.extended
def test_a_killed_rank_ends_the_job_and_leaves_a_loadable_checkpoint(bluemarble, tiny,
                                                                      tmp_path):
    config = tmp_path / 'kill_rank1.py'  # rank 1 dies by SIGKILL after iteration 3 of 200
    config.write_text(f"_base_ = [{str(ROOT / 'configs/pspnet.py')!r}]\n"
                      "custom_imports = dict(imports=['tests.engine.rank_hooks'])\n"
                      "custom_hooks = [dict(type='TestKillRankHook', rank=1, after_iter=3)]\n")
    opts = dict(tiny.loaders(bluemarble), **{
        'train_cfg.max_iters': 200, 'train_cfg.val_interval': 1000,
        'default_hooks.checkpoint.interval': 1, 'train_dataloader.batch_size': 2})
    t0 = time.time()
    proc = subprocess.run(['bash', 'tools/dist_train.sh', str(config), '2', '--work-dir',
                           str(tmp_path / 'work'), '--cfg-options',
                           *(f'{k}={v}' for k, v in opts.items())], cwd=ROOT,
                          env={**os.environ, 'PORT': '29533', 'ALTAIR_HOME': str(tmp_path)},
                          capture_output=True, text=True, timeout=300)
    elapsed = time.time() - t0
    assert proc.returncode != 0 and elapsed < 240, (proc.returncode, elapsed, proc.stderr[-2000:])
    # torchrun reports the first failure: rank 1's SIGKILL, or rank 0's broken collective
    assert 'ChildFailedError' in proc.stderr, proc.stderr[-2000:]
    import altair.engine  # noqa: F401  (weights-only loading of mmengine checkpoints)
    last = (tmp_path / 'work' / 'last_checkpoint').read_text().strip()
    state = torch.load(last, map_location='cpu', weights_only=True)
    assert state['meta']['iter'] >= 2 and 'state_dict' in state


@pytest.mark.slow
@pytest.mark.extended
def test_fsdp_trains_on_two_cpu_processes(bluemarble, tiny, tmp_path):
    """The sharded model validates (2 ranks) as its gathered checkpoint tests in one process:
    same weights, same tiles, so the same mIoU up to mmseg's rounding to 2 decimals."""
    config = 'configs/segformer/segformer_mit-b0-fsdp_2xb4-600it_bluemarble-256x256.py'
    opts = tiny.options(bluemarble, batch=4)
    run = alt.train(config, distributed=2, root=tmp_path, cfg_options=opts)
    assert run.status == 'finished' and run.last_checkpoint.is_file()  # one gathered file
    [val] = run.metrics
    metrics = alt.test(run, cfg_options=tiny.loaders(bluemarble))  # one process, full ckpt
    assert metrics['mIoU'] == pytest.approx(val['mIoU'], abs=0.011)
    assert metrics['aAcc'] == pytest.approx(val['aAcc'], abs=0.011)
