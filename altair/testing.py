"""The plugin contract: checks every Altair plugin must pass, for its own test suite.

In a plugin's ``tests/test_contract.py``::

    import pytest
    from altair.testing import plugin_checks

    @pytest.mark.parametrize('check', plugin_checks('altair_myplugin', configs='configs/'),
                             ids=str)
    def test_plugin_contract(check):
        check()

The checks (one pytest test each):

- ``registers``: importing the package registers at least one component;
- ``no-shadowing``: no registered name is also used by Altair, mmseg, mmengine or another
  OpenMMLab scope in the same registry tree;
- ``build:<registry>.<name>``: every component builds, with the arguments a shipped config gives
  it, or with none (a parameter scheduler or an optimizer wrapper gets an optimizer over one
  parameter and takes a step); a transform is applied to a position-coded image and mask and
  keeps them aligned pixel by pixel (:func:`check_transform_alignment`; a loading transform,
  ``Load*``, is built only: it reads files);
- ``config:<file>``: every shipped config loads (``default_scope='altair'``), its dataset and
  pipeline types resolve, its model builds and trains a step on a tiny batch: finite loss, a
  gradient for every trainable parameter (an unused one breaks DDP), logits and predictions of
  the right shape.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from importlib import import_module
from pathlib import Path

import numpy as np
import torch

from altair.config import load_config, load_model_config
from altair.config_checks import check_model_types, typed_sections
from altair.introspect import Component, all_registries, components
from altair.registry import DATASETS, MODELS, OPTIMIZERS, TRANSFORMS


@dataclass(frozen=True)
class Check:
    """One named contract check; call it to run it (raises ``AssertionError`` on failure)."""

    id: str
    run: Callable[[], None]

    def __call__(self) -> None:
        self.run()

    def __str__(self) -> str:
        return self.id


def plugin_checks(package: str, *, configs: str | Path | None = None,
                  input_size: tuple[int, int] = (64, 64)) -> list[Check]:
    """The contract checks of ``package`` and the configs under ``configs`` (``_base_``
    folders excluded; a relative path is taken from the package's project folder, the parent
    of the package directory)."""
    module = import_module(package)
    found = components(package)
    cfg_files = _config_files(module, configs)
    checks = [Check('registers', partial(_check_registers, package, found)),
              Check('no-shadowing', partial(check_no_shadowing, found))]
    checks += [Check(f'build:{c.registry.name}.{c.name}',
                     partial(check_component_builds, c, cfg_files)) for c in found]
    checks += [Check(f'config:{p.name}', partial(check_config, p, input_size=input_size))
               for p in cfg_files]
    return checks


def check_plugin(package: str, **kwargs) -> None:
    """Run every check of :func:`plugin_checks`; one ``AssertionError`` lists all failures."""
    failures = []
    for check in plugin_checks(package, **kwargs):
        try:
            check()
        except Exception as exc:  # collect them all
            failures.append(f'{check.id}: {type(exc).__name__}: {exc}')
    if failures:
        raise AssertionError(f'plugin {package} fails {len(failures)} check(s):\n'
                             + '\n'.join(failures))


def _config_files(module, configs: str | Path | None) -> list[Path]:
    if configs is None:
        return []
    root = Path(configs)
    if not root.is_absolute():
        root = Path(module.__file__).resolve().parents[1] / root
    if not root.is_dir():
        raise FileNotFoundError(f"plugin config folder '{root}' does not exist")
    return sorted(p for p in root.rglob('*.py') if '_base_' not in p.parts)


def _check_registers(package: str, found: list[Component]) -> None:
    assert found, (f'importing {package} registers nothing; decorate its classes with '
                   '@MODELS.register_module() (from altair.registry) or another registry')


def check_no_shadowing(found: list[Component]) -> None:
    """No component's name is registered elsewhere in its registry tree with another object."""
    clashes = []
    for comp in found:
        for reg in _tree(comp.registry):
            if reg is comp.registry:
                continue
            reg.import_from_location()
            other = reg.module_dict.get(comp.name)
            if other is not None and other is not comp.obj:
                clashes.append(f"'{comp.name}' ({comp.label}) is also {reg.scope}'s "
                               f'{other.__module__}.{other.__qualname__}')
    assert not clashes, 'names shadow existing components: ' + '; '.join(clashes)


def _tree(reg) -> Iterator:
    root = reg.root
    return (r for r in all_registries() if r.root is root)


def _configs_using(name: str, cfg_files: list[Path]) -> Iterator[dict]:
    yield from configs_by_type(cfg_files).get(name, [])


def configs_by_type(cfg_files: list[Path]) -> dict[str, list[dict]]:
    """Every distinct dict with a ``type`` in the configs ``cfg_files``, by type name (scope or
    module prefix dropped), each config loaded once."""
    out: dict[str, list[dict]] = {}
    for path in cfg_files:
        for _, sub in typed_sections(load_config(path).to_dict()):
            typ = sub.get('type')
            if isinstance(typ, str):
                same = out.setdefault(typ.split('.')[-1], [])
                if sub not in same:
                    same.append(sub)
    return out


def check_component_builds(comp: Component, cfg_files: list[Path] = (), *,
                           uses: list[dict] | None = None) -> None:
    """Build ``comp`` from each shipped config dict that names it (``uses``, else those found
    in ``cfg_files``), or without arguments; apply a transform to a synthetic sample; step a
    parameter scheduler or an optimizer wrapper once over a one-parameter optimizer."""
    from mmengine.registry import DefaultScope
    cfgs = uses if uses is not None else list(_configs_using(comp.name, cfg_files))
    how, fix = ('with the arguments a shipped config gives it', '') if cfgs else (
        'without arguments', ' and no shipped config uses it: ship a config that does, or '
        'give its arguments defaults')
    for cfg in cfgs or [dict(type=comp.name)]:
        args = {k: v for k, v in cfg.items() if k != 'type'}
        with DefaultScope.overwrite_default_scope('altair'):
            param = torch.nn.Parameter(torch.ones(3))
            if comp.registry.name == 'optim_wrapper':  # the constructor's keys, not its own
                args.pop('paramwise_cfg', None)
                args.pop('constructor', None)
            if comp.registry.name in ('parameter scheduler', 'optim_wrapper'):
                args['optimizer'] = _optimizer(args.get('optimizer'), param)
            try:
                if comp.registry.name == 'function':  # configs bind arguments, callers the rest
                    inspect.signature(comp.obj).bind_partial(**args)  # names it does not take
                    obj = partial(comp.obj, **args)
                else:
                    obj = comp.obj(**args)
            except TypeError as exc:
                raise AssertionError(f"'{comp.name}' cannot be built {how} ({exc}){fix}") from exc
        if comp.registry.name == 'transform' and not comp.name.startswith('Load'):
            check_transform_alignment(comp.name, obj)
        elif comp.registry.name == 'parameter scheduler':
            obj.step()
            lr = obj.optimizer.param_groups[0]['lr']
            assert np.isfinite(lr) and lr >= 0, f"'{comp.name}' set the learning rate to {lr}"
        elif comp.registry.name == 'optim_wrapper':
            with obj.optim_context(torch.nn.Linear(1, 1)):
                loss = (param.float() ** 2).sum()
            obj.update_params(loss)
            assert not torch.equal(param.detach(), torch.ones(3)), (
                f"'{comp.name}': a step on a non-zero gradient left the parameter unchanged")


def _optimizer(cfg: dict | None, param: torch.nn.Parameter):
    """The config's optimizer (default SGD, lr 0.1) over the single parameter ``param``."""
    cfg = dict(cfg or dict(type='SGD', lr=0.1))
    return OPTIMIZERS.build(dict(cfg, params=[param]))


IGNORE = 255  # the mask value of pixels a transform pads (mmseg's and the presets' default)


def aligned_sample(size: tuple[int, int] = (48, 40), block: int = 8) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    """A position-coded (H, W, 3) uint8 image and its (H, W) uint8 mask: the mask is a fixed
    pseudo-random layout of 8 labels in ``block``-pixel squares (no flip or shift of it
    matches it), the image paints each label in its own corner of the colour cube
    [48, 208]^3 (160 apart in every channel, so noise, blur and colour jitter leave the
    labels apart)."""
    h, w = size
    layout = np.random.default_rng(12345).integers(0, 8, (-(-h // block), -(-w // block)))
    mask = np.kron(layout, np.ones((block, block), int))[:h, :w].astype(np.uint8)
    corners = np.array([[(k >> 2) & 1, (k >> 1) & 1, k & 1] for k in range(8)]) * 160 + 48
    return corners[mask].astype(np.uint8), mask


def label_agreement(img: np.ndarray, mask: np.ndarray, *, ignore: int = IGNORE) -> float:
    """The share of ``mask``'s valid pixels whose label the image tells: each pixel of ``img``
    (H, W[, C]) goes to the label whose mean colour over ``mask`` is nearest. Photometric
    changes applied alike to every pixel keep the labels' colours apart, so an aligned pair
    scores near 1 and a flipped or shifted one near the layout's chance agreement. NaN with
    fewer than two labels (nothing to tell apart)."""
    valid = mask != ignore
    x = img.reshape(*img.shape[:2], -1)[valid].astype(np.float64)
    y = mask[valid].astype(np.int64)
    labels = np.unique(y)
    if len(labels) < 2:
        return float('nan')
    centres = np.stack([x[y == k].mean(0) for k in labels])
    nearest = labels[((x[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)]
    return float((nearest == y).mean())


def _rival_agreements(img: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """:func:`label_agreement` of ``img`` with ``mask`` flipped, or shifted by up to 2 px."""
    h, w = mask.shape[:2]
    out = {'flipped left-right': label_agreement(img, mask[:, ::-1]),
           'flipped upside down': label_agreement(img, mask[::-1]),
           'rotated 180 degrees': label_agreement(img, mask[::-1, ::-1])}
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            if (dy or dx) and h > 4 and w > 4:
                out[f'shifted by ({dy}, {dx}) px'] = label_agreement(
                    img[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)],
                    mask[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)])
    return out


def check_transform_alignment(name: str, transform, *, draws: int = 4) -> None:
    """Apply ``transform`` ``draws`` times to :func:`aligned_sample` (NumPy's global generator
    seeded, and restored after) and check that image and mask still agree pixel by pixel:
    the same size; the mask's labels told by the image's colours on more than half of its
    valid pixels (a pair flipped, or shifted by 4 px or more, scores 0.28-0.40; each preset
    scored at least 0.61 over 100 draws); and no flip of the mask, nor a shift by up to 2 px,
    telling them better by more than 0.05 (over those draws the true mask was never beaten
    by more than 0.016; against an image shifted by 1 px the shifted mask gains 0.085).

    Raises:
        AssertionError: naming the transform and what no longer agrees.
    """
    state = np.random.get_state()
    np.random.seed(0)
    try:
        for _ in range(draws):
            img, mask = aligned_sample()
            h, w = mask.shape
            out = transform(dict(img=img, gt_seg_map=mask, img_shape=(h, w), ori_shape=(h, w),
                                 seg_fields=['gt_seg_map']))
            assert out is not None, f'transform {name} dropped a valid sample'
            img, mask = out['img'], np.asarray(out['gt_seg_map'])
            assert img.shape[:2] == mask.shape[:2], (
                f'transform {name}: image {img.shape[:2]} and mask {mask.shape[:2]} no longer '
                'have the same size')
            agreement = label_agreement(img, mask)
            if np.isnan(agreement):
                continue
            assert agreement > 0.5, (
                f"transform {name}: the image tells the mask's labels on {agreement:.0%} of "
                'its valid pixels (image and mask no longer aligned)')
            rival, score = max(((k, v) for k, v in _rival_agreements(img, mask).items()
                                if not np.isnan(v)), key=lambda kv: kv[1], default=('', 0.0))
            assert score <= agreement + 0.05, (
                f'transform {name}: the image matches its mask {rival} ({score:.0%}) better '
                f'than the mask itself ({agreement:.0%})')
    finally:
        np.random.set_state(state)


def check_config(path: str | Path, *, input_size: tuple[int, int] = (64, 64)):
    """Load a config, resolve its types, build its model and train one tiny step on random
    images of the config's bands and dtype (:func:`config_input`).

    Returns:
        The model after the step (its parameters keep their gradients).
    """
    from mmengine.registry import DefaultScope
    cfg = load_model_config(path)  # class_weight='auto' counts training masks: unweighted here
    assert cfg.get('default_scope') == 'altair', (
        f"{path}: default_scope is {cfg.get('default_scope')!r}; set default_scope = 'altair' "
        '(inherit configs/_base_/default_runtime.py)')
    check_model_types(cfg.model)
    with DefaultScope.overwrite_default_scope('altair'):
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            dataset = (cfg.get(key) or {}).get('dataset') or {}
            if 'type' in dataset:
                assert DATASETS.get(dataset['type']) is not None, (
                    f"{path}: {key}.dataset.type '{dataset['type']}' is not registered")
            for i, step in enumerate(dataset.get('pipeline') or []):
                assert TRANSFORMS.get(step['type']) is not None, (
                    f"{path}: {key}.dataset.pipeline[{i}].type '{step['type']}' is not "
                    'registered')
        return _train_one_step(str(path), cfg.model, input_size)


def config_input(model_cfg: dict) -> tuple[int, np.dtype]:
    """``(bands, dtype)`` of the images a model config takes.

    Bands: the length of ``data_preprocessor.mean`` (what is normalised is what the model
    sees), else ``backbone.in_channels``, else 3. dtype: the one the normalisation implies,
    as the configs carry no dtype: 8-bit (means within 0-255, spreads of whole grey levels,
    RGB included), 16-bit (means above 255, within 0-65535 two spreads out) or float32
    (negative values, or spreads below 1 such as reflectances in 0-1).
    """
    pre = model_cfg.get('data_preprocessor') or {}
    mean, std = pre.get('mean'), pre.get('std')
    if mean is None:
        backbone = model_cfg.get('backbone') or {}
        return int(backbone.get('in_channels', 3)), np.dtype(np.uint8)
    mean = np.asarray(mean, np.float64)
    std = np.broadcast_to(np.asarray(1.0 if std is None else std, np.float64), mean.shape)
    if mean.min() >= 0 and std.min() >= 1:
        if mean.max() <= 255:
            return len(mean), np.dtype(np.uint8)
        if (mean + 2 * std).max() <= 65535:
            return len(mean), np.dtype(np.uint16)
    return len(mean), np.dtype(np.float32)


def random_images(model_cfg: dict, n: int, size: tuple[int, int], *,
                  seed: int = 0) -> list[torch.Tensor]:
    """``n`` random ``(bands, H, W)`` images of the config's bands and dtype
    (:func:`config_input`), each band drawn around its ``data_preprocessor`` mean and std
    (uniform over 0-255 without a mean), clipped to the dtype's range."""
    bands, dtype = config_input(model_cfg)
    pre = model_cfg.get('data_preprocessor') or {}
    rng = np.random.default_rng(seed)
    shape = (n, bands, *size)
    if pre.get('mean') is None:
        arr = rng.integers(0, 256, shape)
    else:
        mean = np.asarray(pre['mean'], np.float64)[:, None, None]
        std = np.asarray(pre.get('std') or 1.0, np.float64)
        arr = rng.normal(mean, std.reshape(-1, 1, 1), shape)
    if dtype.kind in 'ui':
        info = np.iinfo(dtype)
        arr = np.clip(np.rint(arr), info.min, info.max)
    return [torch.from_numpy(a) for a in arr.astype(dtype)]


def _train_one_step(path: str, model_cfg, input_size: tuple[int, int]):
    from mmengine.model import revert_sync_batchnorm
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    torch.manual_seed(0)
    model = revert_sync_batchnorm(MODELS.build(model_cfg))
    model.init_weights()
    model.train()
    h, w = input_size
    heads = model.decode_head if isinstance(model.decode_head, torch.nn.ModuleList) else [
        model.decode_head]
    n_classes = heads[-1].num_classes
    meta = dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w))
    samples = []
    for _ in range(2):
        s = SegDataSample(metainfo=meta)
        s.gt_sem_seg = PixelData(data=torch.randint(0, n_classes, (1, h, w)))
        samples.append(s)
    images = random_images(model_cfg, 2, (h, w))  # the config's bands and dtype
    data = model.data_preprocessor(dict(inputs=images, data_samples=samples), training=True)
    losses = model(**data, mode='loss')
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total), f'{path}: training loss is {total} on a random batch'
    total.backward()
    unused = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not unused, (f'{path}: {len(unused)} trainable parameters get no gradient '
                        f'(e.g. {unused[:3]}); DDP would need find_unused_parameters=True')
    model.eval()
    test_samples = [SegDataSample(metainfo=meta) for _ in range(2)]
    with torch.no_grad():
        data = model.data_preprocessor(dict(inputs=images, data_samples=test_samples))
        logits = model(data['inputs'], mode='tensor')
        preds = model(data['inputs'], data['data_samples'], mode='predict')
    assert logits.shape[:2] == (2, n_classes) and torch.isfinite(logits).all(), (
        f'{path}: logits of shape {tuple(logits.shape)}, expected (2, {n_classes}, ...) finite')
    assert tuple(preds[0].pred_sem_seg.data.shape[-2:]) == (h, w), (
        f'{path}: prediction of shape {tuple(preds[0].pred_sem_seg.data.shape)} for a '
        f'{h}x{w} input')
    return model
