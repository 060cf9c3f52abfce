#!/usr/bin/env python
"""Self-supervised pretraining → segmentation on Blue Marble: each method's recipe against the
same architecture from scratch, with 10 % and with 100 % of the training tiles, over 3 seeds.

Protocol (every variant alike):

- Pretraining (``configs/selfsup/{simclr,dino}_*-600it_*``,
  ``mae_*-1000it_*``) sees only crops of the Blue Marble image that
  never touch the val longitude bands (``BlueMarbleCrops``): all the unlabelled imagery of
  the globe outside the val region. One pretraining per method (seed 0); its budget is
  printed in CPU minutes (user + system time of the process and its data workers).
  ``--pretrain-config METHOD=PATH`` pretrains with another config instead, e.g.
  ``simclr_*-600it_bluemarble+landsat8-*`` (the recipe plus the Landsat 8 sample scene).
- Fine-tuning: the method's ``configs/*/*_ssl-<method>_*`` config (backbone from the
  pretraining, its recipe's learning rates and warm-up) against the from-scratch config of the
  same model, ``--finetune-iters`` iterations of batch 8 at ``--crop`` pixels, on a fixed
  subset of the 86 training tiles (drawn once with seed 0; 10 % = 9 tiles) or all of them;
  training seeds 0, 1, 2 (initialisation of what is not pretrained, crops, order).
- Val: the 17 tiles of the held-out longitude bands, whole 300x300 tiles, mIoU of the last
  iteration.

Prints one JSON line per method and label fraction: ``ratio`` = mean mIoU pretrained / from
scratch, the means and sample standard deviations over the seeds, and whether the ±1 std
intervals overlap.

``--tune``: both sides get the same search before the reported runs. ``--tune-tiles`` training
tiles (17, as many as val; drawn with seed 1) become a tuning split that no side trains on;
the labelled tiles are drawn from the rest (as many as the fraction of all the training tiles
names). Each side fine-tunes once (seed 0) per learning rate (``--lrs``) and layer decay
(``--layer-decays``; ``LayerDecayOptimWrapperConstructor`` on both sides, 1.0 = the same rate
at every depth), scored on the tuning split; its best pair then trains the seeds, scored on
val. Each line becomes a row of ``benchmarks/results/ssl_transfer.json`` (replacing the row
of its method and fraction), so the fractions can run in parts.

``--pretrain-option`` / ``--finetune-option KEY=VALUE`` (mmengine's ``--cfg-options`` syntax,
values as Python literals) change one recipe setting, as the tables of recipe changes in
docs/guides/self-supervision.md do.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / 'benchmarks'))
from results import write_row  # noqa: E402

# method → (pretraining recipe, fine-tuning config, from-scratch config, key conversion)
METHODS = {
    'simclr': ('configs/selfsup/simclr_resnet18-v1c_1xb32-600it_bluemarble-96x96.py',
               'configs/pspnet/pspnet_r18-d16_ssl-simclr_1xb8-600it_bluemarble-256x256.py',
               'configs/pspnet.py', 'mmpretrain_resnet'),
    'dino': ('configs/selfsup/dino_resnet18-v1c_1xb32-600it_bluemarble-96x96.py',
             'configs/pspnet/pspnet_r18-d16_ssl-dino_1xb8-600it_bluemarble-256x256.py',
             'configs/pspnet.py', 'mmpretrain_resnet'),
    'mae': ('configs/selfsup/mae_vit-tiny-p8_1xb32-1000it_bluemarble-128x128.py',
            'configs/fcn/fcn_vit-tiny-p8_ssl-mae_1xb8-600it_bluemarble-256x256.py',
            'configs/fcn/fcn_vit-tiny-p8_1xb8-600it_bluemarble-256x256.py', 'mmpretrain_vit'),
}


def label_subset(n: int, fraction: float, seed: int = 0) -> list[int] | None:
    """Sorted indices of ``round(fraction * n)`` (at least 1) of ``n`` samples drawn without
    replacement with ``seed``; ``None`` (= all) for a fraction of 1."""
    if not 0 < fraction <= 1:
        raise ValueError(f'label fraction {fraction} is not in (0, 1]')
    if fraction == 1:
        return None
    k = max(1, round(fraction * n))
    return sorted(np.random.default_rng(seed).choice(n, k, replace=False).tolist())


def tuning_split(n: int, tune: int, fraction: float, seed: int = 1
                 ) -> tuple[list[int], list[int]]:
    """``(tuning, labelled)``: ``tune`` of ``n`` sample indices drawn with ``seed``, and
    ``round(fraction * n)`` (at least 1, at most all) of the others, drawn with seed 0; both
    sorted and disjoint."""
    if not 0 < tune < n:
        raise ValueError(f'a tuning split of {tune} of {n} samples leaves nothing to train on')
    tuning = sorted(np.random.default_rng(seed).choice(n, tune, replace=False).tolist())
    rest = np.setdiff1d(np.arange(n), tuning)
    k = min(len(rest), max(1, round(fraction * n)))
    if k == len(rest):
        return tuning, rest.tolist()
    picked = np.random.default_rng(0).choice(rest, k, replace=False)
    return tuning, sorted(int(i) for i in picked)


def best_setting(scores: dict[tuple[float, float], float]) -> tuple[float, float]:
    """The (learning rate, layer decay) with the highest score; ties go to the smaller
    learning rate, then to the larger decay (the plainer setting)."""
    return max(scores, key=lambda k: (scores[k], -k[0], k[1]))


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; 0 for one value)."""
    v = np.asarray(values, dtype=np.float64)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def intervals_overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether mean ± std intervals ``a`` and ``b`` (each ``(mean, std)``) overlap."""
    return a[0] - a[1] <= b[0] + b[1] and b[0] - b[1] <= a[0] + a[1]


def parse_options(pairs: list[str]) -> dict:
    """``['a.b=3', "c=(1, 2)"]`` → ``{'a.b': 3, 'c': (1, 2)}`` (values as Python literals,
    else strings)."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition('=')
        if not sep or not key:
            raise SystemExit(f"option '{pair}' is not KEY=VALUE")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def finetune_options(*, iters: int, crop: int, seed: int, indices: list[int] | None,
                     data_root: str) -> dict:
    """The protocol's overrides of a segmentation config (see the module docstring)."""
    size = (crop, crop)
    opts = {'train_cfg.max_iters': iters, 'train_cfg.val_interval': iters,
            'default_hooks.checkpoint.interval': iters, 'randomness.seed': seed,
            'crop_size': size, 'model.data_preprocessor.size': size,
            'train_dataloader.dataset.pipeline.3.crop_size': size,
            **{f'{s}_dataloader.dataset.data_root': data_root
               for s in ('train', 'val', 'test')}}
    if indices is not None:
        opts['train_dataloader.dataset.indices'] = indices
    return opts


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def unlabelled_sources(dataset: dict, data_root: str) -> list[str]:
    """Point every ``BlueMarbleCrops`` of a pretraining dataset config (one dataset or a
    ``ConcatDataset``) at ``data_root``, in place; return what each source reads."""
    from altair.config import dataset_leaves
    out = []
    for d in dataset_leaves(dataset):
        if d['type'] == 'BlueMarbleCrops':
            d['data_root'] = data_root
            out.append('Blue Marble crops outside the val longitudes')
        else:
            out.append(f"{d['type']} {d.get('path', d.get('data_root', ''))}".strip())
    return out


def pretrain(method: str, *, home: str, data_root: str, options: dict, out_dir: Path,
             config: str | None = None) -> tuple[Path, dict]:
    """Run the method's pretraining recipe (or ``config``); return the backbone exported
    into ``out_dir`` and its budget."""
    import altair as alt
    from altair.config import load_config
    from altair.models.selfsup.export import export_backbone
    recipe, _, _, convert = METHODS[method]
    cfg = load_config(ROOT / (config or recipe))
    cfg.merge_from_dict({'randomness.seed': 0, **options})
    sources = unlabelled_sources(cfg.train_dataloader.dataset, data_root)
    t0, c0 = time.time(), _cpu_seconds()
    run = alt.train(cfg, root=home, verbose=False)
    weights = export_backbone(run.last_checkpoint, out_dir / f'{method}.pth', convert=convert)
    return weights, dict(pretrain_wall_minutes=round((time.time() - t0) / 60, 1),
                         pretrain_cpu_minutes=round((_cpu_seconds() - c0) / 60, 1),
                         pretrain_iters=run.config.train_cfg.max_iters,
                         pretrain_config=config or recipe, pretrain_data=sources)


def rescale_schedule(schedulers: list[dict], old_iters: int, new_iters: int) -> list[dict]:
    """The iteration-based ``param_scheduler`` list of an ``old_iters`` schedule stretched to
    ``new_iters`` (each ``begin`` / ``end`` scaled, so a warm-up keeps its share)."""
    out = []
    for s in schedulers:
        s = dict(s)
        for key in ('begin', 'end'):
            if key in s:
                s[key] = round(s[key] * new_iters / old_iters)
        out.append(s)
    return out


TUNING_VAL = {'val_dataloader.dataset.data_prefix': dict(img_path='img_dir/train',
                                                         seg_map_path='ann_dir/train')}


def finetune(config: str, *, home: str, weights: Path | None, options: dict,
             optim: tuple[float, float] | None = None,
             tuning: list[int] | None = None) -> float:
    """Val mIoU of one fine-tuning (``weights=None``: from scratch); ``optim`` = (learning
    rate, layer decay) replaces the config's optimiser rate and parameter-wise settings;
    ``tuning`` scores on those training tiles instead of val."""
    import altair as alt
    from altair.config import load_config
    cfg = load_config(ROOT / config)
    iters = options['train_cfg.max_iters']
    cfg.param_scheduler = rescale_schedule(cfg.param_scheduler, cfg.train_cfg.max_iters, iters)
    init = None if weights is None else dict(type='Pretrained', checkpoint=str(weights))
    cfg.merge_from_dict({**options, 'model.backbone.init_cfg': init})
    if optim is not None:
        cfg.optim_wrapper.optimizer.lr = optim[0]
        cfg.optim_wrapper.constructor = 'LayerDecayOptimWrapperConstructor'
        cfg.optim_wrapper.paramwise_cfg = dict(layer_decay=optim[1])
    if tuning is not None:
        cfg.merge_from_dict({**TUNING_VAL, 'val_dataloader.dataset.indices': tuning})
    if 'img_size' in cfg.model.backbone:  # a ViT: position embeddings sized for the crop
        cfg.model.backbone.img_size = cfg.crop_size
    t0 = time.time()
    run = alt.train(cfg, root=home, verbose=False)
    miou = float(run.metrics[-1]['mIoU'])
    what = [f"{'pretrained' if weights else 'scratch'}", f"seed {options['randomness.seed']}"]
    if optim is not None:
        what.append(f'lr {optim[0]:g}, layer decay {optim[1]:g}')
    if tuning is not None:
        what.append('tuning split')
    print(f"{Path(config).name} ({', '.join(what)}): mIoU {miou:.2f} in "
          f"{(time.time() - t0) / 60:.1f} min", file=sys.stderr, flush=True)  # progress
    return miou


def method_paths(parser: argparse.ArgumentParser, flag: str, pairs: list[str],
                 what: str) -> dict:
    """``['mae=PATH', ...]`` → ``{'mae': Path(PATH)}``, each PATH an existing file; a bad
    pair is a one-line usage error (exit 2). Paths stay strings until here: parse_options
    would read 'mae=1' as an int."""
    out = {}
    for pair in pairs:
        method, sep, path = pair.partition('=')
        if method not in METHODS or not sep or not Path(path).is_file():
            parser.error(f"{flag} {pair}: expected METHOD=PATH with METHOD one of "
                         f"{', '.join(METHODS)} and PATH {what}")
        out[method] = Path(path)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data-root', default=str(ROOT / 'data/bluemarble'))
    p.add_argument('--methods', nargs='+', default=list(METHODS), choices=METHODS)
    p.add_argument('--fractions', nargs='+', type=float, default=[0.1, 1.0])
    p.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    p.add_argument('--finetune-iters', type=int, default=600)
    p.add_argument('--crop', type=int, default=128, help='fine-tuning crop (default 128)')
    p.add_argument('--pretrain-option', action='append', default=[], metavar='KEY=VALUE')
    p.add_argument('--finetune-option', action='append', default=[], metavar='KEY=VALUE')
    p.add_argument('--weights', action='append', default=[], metavar='METHOD=PATH',
                   help="reuse a backbone exported from this method's pretraining (as "
                        'tools/export_backbone.py writes it) instead of pretraining again')
    p.add_argument('--pretrain-config', action='append', default=[], metavar='METHOD=PATH',
                   help="pretrain METHOD with this config instead of its recipe (e.g. the "
                        'recipe on more unlabelled imagery)')
    p.add_argument('--save-weights', metavar='DIR',
                   help='keep each pretrained backbone as DIR/METHOD.pth (for --weights)')
    p.add_argument('--no-scratch', action='store_true',
                   help='skip the from-scratch runs (a recipe change measured against an '
                        'earlier baseline)')
    p.add_argument('--tune', action='store_true',
                   help='the same learning-rate and layer-decay search for both sides on a '
                        'tuning split of the training tiles, then the seeds with each '
                        "side's best (writes benchmarks/results/ssl_transfer.json)")
    p.add_argument('--tune-tiles', type=int, default=17, metavar='N')
    p.add_argument('--lrs', nargs='+', type=float, default=[5e-4, 1e-3, 2e-3])
    p.add_argument('--layer-decays', nargs='+', type=float, default=[1.0, 0.75])
    args = p.parse_args()
    if args.tune and args.no_scratch:
        p.error('--tune searches both sides: it cannot skip the from-scratch runs')

    reuse = method_paths(p, '--weights', args.weights, 'an existing exported backbone file')
    configs = {m: str(path) for m, path in
               method_paths(p, '--pretrain-config', args.pretrain_config,
                            'an existing config file').items()}

    from altair.datasets.bluemarble_build import ensure_bluemarble
    ensure_bluemarble(args.data_root)
    n_train = sum(1 for p in (Path(args.data_root) / 'img_dir/train').iterdir() if p.is_file())
    pre_opts, ft_opts = parse_options(args.pretrain_option), parse_options(args.finetune_option)
    if args.save_weights:
        Path(args.save_weights).mkdir(parents=True, exist_ok=True)
    scratch: dict[tuple, tuple[list[float], dict | None, tuple | None]] = {}
    grid = [(lr, decay) for lr in args.lrs for decay in args.layer_decays]
    with tempfile.TemporaryDirectory() as home:
        out_dir = Path(args.save_weights or home)

        def searched(config: str, weights: Path | None, extra: dict, labelled: list[int],
                     tuning: list[int]) -> dict[tuple[float, float], float]:
            """Tuning-split mIoU of each (lr, layer decay) of the grid (seed 0)."""
            opts = finetune_options(iters=args.finetune_iters, crop=args.crop, seed=0,
                                    indices=labelled, data_root=args.data_root)
            return {(lr, decay): finetune(config, home=home, weights=weights,
                                          options={**opts, **extra}, optim=(lr, decay),
                                          tuning=tuning)
                    for lr, decay in grid}

        def as_json(search: dict | None) -> dict | None:
            return None if search is None else {f'{lr:g}/{d:g}': v
                                                for (lr, d), v in search.items()}

        for method in args.methods:
            _, ssl_config, scratch_config, _ = METHODS[method]
            if method in reuse:
                weights, budget = reuse[method], dict(pretrained_weights=str(reuse[method]))
            else:
                weights, budget = pretrain(method, home=home, data_root=args.data_root,
                                           options=pre_opts, out_dir=out_dir,
                                           config=configs.get(method))
            for fraction in args.fractions:
                tuning, indices = (tuning_split(n_train, args.tune_tiles, fraction)
                                   if args.tune else (None, label_subset(n_train, fraction)))
                base = [finetune_options(iters=args.finetune_iters, crop=args.crop, seed=s,
                                         indices=indices, data_root=args.data_root)
                        for s in args.seeds]
                key = (scratch_config, fraction)
                if key not in scratch and not args.no_scratch:
                    search = (searched(scratch_config, None, {}, indices, tuning)
                              if args.tune else None)
                    best = best_setting(search) if search else None
                    scratch[key] = ([finetune(scratch_config, home=home, weights=None,
                                              options=o, optim=best) for o in base],
                                    search, best)
                our_search = (searched(ssl_config, weights, ft_opts, indices, tuning)
                              if args.tune else None)
                our_best = best_setting(our_search) if our_search else None
                ours = [finetune(ssl_config, home=home, weights=weights,
                                 options={**o, **ft_opts}, optim=our_best)
                        for o in base]
                theirs, their_search, their_best = scratch.get(key, (None, None, None))
                m_ours = mean_std(ours)
                line = dict(name=f'ssl_transfer_{method}_{round(fraction * 100)}pct_labels',
                            ours=round(m_ours[0], 2), ours_std=round(m_ours[1], 2),
                            ours_seeds=[round(v, 2) for v in ours])
                if theirs:
                    m_theirs = mean_std(theirs)
                    line.update(
                        ratio=round(m_ours[0] / m_theirs[0], 3),
                        points=round(m_ours[0] - m_theirs[0], 2),
                        baseline=round(m_theirs[0], 2), baseline_std=round(m_theirs[1], 2),
                        baseline_seeds=[round(v, 2) for v in theirs],
                        intervals_overlap=intervals_overlap(m_ours, m_theirs))
                if args.tune:
                    line.update(tuning_tiles=len(tuning), search=dict(
                        pretrained=as_json(our_search), scratch=as_json(their_search),
                        chosen=dict(pretrained=our_best, scratch=their_best)))
                line.update(
                    unit=f'val mIoU (17 tiles), mean over seeds {args.seeds}',
                    pretrained=ssl_config, scratch=scratch_config,
                    label_tiles=len(indices) if indices else n_train,
                    finetune_iters=args.finetune_iters, crop=args.crop, **budget,
                    pretrain_options=pre_opts, finetune_options=ft_opts)
                print(json.dumps(line), flush=True)
                if args.tune:
                    write_row('ssl_transfer', line, key='name')

if __name__ == '__main__':
    main()
