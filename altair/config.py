"""Configs: loading and checking them (errors that say what to fix) and the queries every
command asks of one (the datasets of a split, the training crop, the raster options, the
losses). Below ``altair.api``: imports nothing of Altair's but the registry, the errors and
where the shipped configs are, so every package may use it."""
from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Iterator

from mmengine.config import Config, DictAction  # noqa: F401  (DictAction re-exported for tools)

from altair.errors import AltairError, warn_once
from altair.shipped import configs_dir, shipped_config


class ConfigNotFoundError(AltairError, FileNotFoundError):
    """A config path that does not exist."""


def load_config(config: str | Path | Config | dict, *,
                cfg_options: dict | None = None) -> Config:
    """Load a Python/YAML/JSON config, a ``Config`` or a dict, and merge ``cfg_options``
    (``custom_imports`` given there or in a dict are imported, as mmengine does for files).

    A relative ``configs/...`` path that does not exist in the working directory is the
    shipped config of that name (:func:`altair.shipped.shipped_config`), so the commands of
    the docs work outside the checkout too.

    Raises:
        ConfigNotFoundError: the path does not exist (the message lists configs with a
            similar name under ``configs/``).
    """
    if isinstance(config, Config):
        cfg = config
    elif isinstance(config, dict):
        cfg = Config(config)
    else:
        path = Path(config)
        if not path.is_file():
            path = shipped_config(path) or path
        if not path.is_file():
            raise ConfigNotFoundError(_missing_config_message(path))
        check_pasted_folder(path)
        cfg = Config.fromfile(str(path))
        if path.suffix.lower() in DATA_SUFFIXES:
            check_data_config_keys(cfg, path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if cfg.get('custom_imports') and (cfg_options or isinstance(config, dict)):
        # Config.fromfile imports a file's own custom_imports; these came from elsewhere
        from mmengine.utils import import_modules_from_strings
        import_modules_from_strings(**cfg.custom_imports)
    compile_shorthands(cfg)
    return cfg


# mmengine's placeholders for the config's own folder and name, pasted into its source
_PASTED = re.compile(r'\{\{\s*file(Dirname|Basename|BasenameNoExtension|Extname)\s*\}\}')
# what would end, or escape from, the string literal mmengine pastes a path into
UNSAFE_PATH_CHARS = frozenset('\'"\\\n\r')


def check_pasted_folder(path: Path) -> None:
    """Refuse a config that uses ``{{ fileDirname }}`` (or the file-name placeholders) where
    its path holds a quote, backslash or line break: mmengine pastes the path into the
    config's source before running it, so such a name would end the string and could run as
    code.

    Raises:
        ConfigValueError: naming the config and what to do.
    """
    if path.suffix != '.py' or not UNSAFE_PATH_CHARS & set(str(path.resolve())):
        return
    if _PASTED.search(path.read_text(errors='replace')):
        raise ConfigValueError(f"config '{path}' uses mmengine's {{{{ fileDirname }}}} but its "
                               'path holds a quote, backslash or line break, which would be '
                               'pasted into its code: move it to a folder without them')


def _missing_config_message(path: Path) -> str:
    """The missing path, and the shipped configs whose names are close, each as a path that
    opens from the working directory (relative inside it, else absolute)."""
    msg = f"config file '{path}' does not exist"
    root = configs_dir()
    if root.is_dir():
        here = Path.cwd().resolve()
        # compare file names only: the shared 'configs/' prefix would make everything close
        by_name: dict[str, list[str]] = {}
        for p in sorted(root.rglob('*.py')):
            if '_base_' not in p.parts:
                shown = p.relative_to(here) if p.is_relative_to(here) else p
                by_name.setdefault(p.name, []).append(str(shown))
        close = difflib.get_close_matches(path.name, list(by_name), n=3, cutoff=0.8)
        if close:
            msg += f"; did you mean {', '.join(q for name in close for q in by_name[name])}?"
    return msg


class ConfigValueError(AltairError, ValueError):
    """A config key Altair reads, given a value of the wrong type or outside its choices."""


# Config files that are data (no code, no variables): their keys are checked on loading.
DATA_SUFFIXES = ('.yaml', '.yml', '.json')
# = altair.engine.amp.AMP_CHOICES (config.py imports nothing above it; a test keeps them equal)
AMP_CHOICES = ('auto', 'fp32', 'bf16', 'fp16')
# The shorthand sections and their keys (``augmentations`` is applied by altair.api.train).
SECTIONS = {'training': ('gradient_accumulation', 'precision'),
            'augmentations': ('preset', 'crop_size')}
# former names of those keys, still read (with a FutureWarning)
FORMER_LEAVES = {'training': ('mixed_precision',)}


def _where(cfg) -> str:
    name = getattr(cfg, 'filename', None)
    return f' in {name}' if name else ''


def _unknown_key(key: str, where: str, choices, *, section: str = '',
                 variables: bool = False) -> UnknownConfigKeyError:
    """The error for ``key`` (of ``section``, compared by its own name) and the ``choices``
    closest to it."""
    prefix = f'{section}.' if section else ''
    close = difflib.get_close_matches(key, list(choices), n=3, cutoff=0.6)
    hint = (f"did you mean {', '.join(prefix + c for c in close)}?" if close
            else f"accepted: {', '.join(prefix + c for c in sorted(choices))}")
    unused = ', nor is its value used elsewhere in the config' if variables else ''
    return UnknownConfigKeyError(f"unknown config key '{prefix}{key}'{where}: nothing reads "
                                 f'it{unused} (as written it would be ignored); {hint}')


def check_data_config_keys(cfg, path: str | Path) -> None:
    """Refuse a top-level key of a YAML/JSON config file that nothing reads: mmengine would
    ignore it and train without it. Accepted are the keys mmengine, mmseg's tools and Altair
    read (:data:`READ_KEYS`, ``training``, ``crop_size``, ``_base_``) and variables: keys
    whose value the config uses elsewhere, as ``cfg.dump`` writes a Python config's
    ``norm_cfg`` or ``train_pipeline``. Only the keys the file itself writes are checked
    (a Python ``_base_`` keeps its freedom). Python configs are not checked here.

    Raises:
        UnknownConfigKeyError: naming the key, the file and its closest accepted keys
            (``training.gradient_accumulation`` for a misplaced ``gradient_accumulation``).
    """
    path = Path(path)
    own = _own_keys(path)
    known = READ_KEYS | set(SECTIONS) | {'crop_size'}
    tree = cfg.to_dict()
    nested = {leaf for leaves in SECTIONS.values() for leaf in leaves}
    for key in own:
        if not isinstance(key, str) or key.startswith('_') or key in known:
            continue
        others = [v for k, v in tree.items() if k != key]
        value = tree.get(key)
        # a list a comprehension used (img_ratios -> one Resize per ratio): every item occurs
        items = value if isinstance(value, list) and value else [value]
        if key not in nested and all(_is_variable(v) and _occurs(v, others) for v in items):
            continue
        dotted = [f'{section}.{leaf}' for section, leaves in SECTIONS.items()
                  for leaf in leaves]
        raise _unknown_key(key, f' in {path}', sorted(known) + dotted, variables=True)


def _own_keys(path: Path) -> list:
    """The top-level keys a YAML/JSON file writes (not those its ``_base_`` gives), read as
    mmengine reads the file; a file with ``{{_base_.x}}`` placeholders (not YAML until
    mmengine substitutes them) by its unindented ``key:`` lines."""
    from mmengine.fileio import load
    try:
        own = load(str(path))
    except Exception:  # noqa: BLE001  (mmengine parsed it after substituting placeholders)
        own = dict.fromkeys(re.findall(r'^["\']?([A-Za-z_]\w*)["\']?\s*:', path.read_text(),
                                       re.M))
    return list(own) if isinstance(own, dict) else []


def _is_variable(value) -> bool:
    """Whether a value can tell a variable from a stray key when found elsewhere (``True``,
    ``None`` or ``[]`` are found everywhere)."""
    return value is not None and not isinstance(value, bool) and value not in ([], {}, '')


def _occurs(value, tree) -> bool:
    """Whether ``value`` occurs in ``tree`` (a number only as a number of its type; a dict
    also inside a larger one, as ``dict(scene, subset='train')`` uses ``scene``)."""
    if isinstance(value, dict) and isinstance(tree, dict):
        if all(k in tree and _same(v, tree[k]) for k, v in value.items()):
            return True
    elif _same(value, tree):
        return True
    if isinstance(tree, dict):
        return any(_occurs(value, v) for v in tree.values())
    if isinstance(tree, (list, tuple)):
        return any(_occurs(value, v) for v in tree)
    return False


def _same(a, b) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def compile_shorthands(cfg) -> None:
    """Check the shorthand sections of ``cfg`` and turn ``training`` into the keys it stands
    for (in place), so a YAML config says what ``alt.train``'s arguments say::

        training:
          gradient_accumulation: 2   # = grad_accum=2: optim_wrapper.accumulative_counts
          precision: bf16            # = --precision bf16: the config's precision key (auto, fp32, bf16, fp16)
        augmentations:
          preset: satellite          # applied by prepare_config; crop_size: the config's

    Raises:
        UnknownConfigKeyError: a key these sections do not take (closest ones named).
        ConfigValueError: a value of the wrong type or choice, or ``training`` disagreeing
            with the config's own ``precision`` / ``optim_wrapper.accumulative_counts``.

    The former names, the top-level ``amp`` key and ``training.mixed_precision``, are read as
    ``precision`` with a ``FutureWarning`` (once per process).
    """
    where = _where(cfg)
    if 'amp' in cfg:  # the former name of precision
        cfg.precision = _renamed_leaf(cfg, 'amp', 'precision', where)
        cfg.pop('amp')
    for section, leaves in SECTIONS.items():
        spec = cfg.get(section)
        if spec is None:
            continue
        if not isinstance(spec, dict):
            raise ConfigValueError(f"config key '{section}'{where} must be a mapping of "
                                   f"{', '.join(leaves)}, got {spec!r}")
        for key in spec:
            if key not in leaves and key not in FORMER_LEAVES.get(section, ()):
                raise _unknown_key(str(key), where, leaves, section=section)
    aug = cfg.get('augmentations')
    if aug:
        if not isinstance(aug.get('preset'), str):
            raise ConfigValueError(f"config key 'augmentations.preset'{where} must name a "
                                   f"preset (light, medium, heavy, medical, satellite or overhead), got "
                                   f"{aug.get('preset')!r}")
        crop = aug.get('crop_size')
        if crop is not None and not _is_size(crop):
            raise ConfigValueError(f"config key 'augmentations.crop_size'{where} must be an "
                                   f'int or [height, width] of ints >= 1, got {crop!r}')
    training = cfg.pop('training', None)
    if not training:
        return
    accum = training.get('gradient_accumulation')
    if accum is not None:
        if not isinstance(accum, int) or isinstance(accum, bool) or accum < 1:
            raise ConfigValueError(f"config key 'training.gradient_accumulation'{where} must "
                                   f'be an int >= 1, got {accum!r}')
        wrapper = cfg.get('optim_wrapper')
        if not isinstance(wrapper, dict):
            raise ConfigValueError(f"config key 'training.gradient_accumulation'{where} needs "
                                   'an optim_wrapper to accumulate in; the config has none')
        counts = wrapper.get('accumulative_counts')
        if counts is not None and counts != accum:
            raise ConfigValueError(
                f"config key 'training.gradient_accumulation' = {accum}{where} disagrees with "
                f'optim_wrapper.accumulative_counts = {counts}: keep one')
        wrapper['accumulative_counts'] = accum
    precision = _renamed_leaf(training, 'mixed_precision', 'precision', where, 'training.')
    if precision is not None:
        if not isinstance(precision, str) or precision not in AMP_CHOICES:
            # YAML reads an unquoted no / off (accelerate's spelling of fp32) as false
            hint = ' (YAML read an unquoted word as a boolean; write fp32 for no mixed ' \
                   'precision)' if isinstance(precision, bool) else ''
            raise ConfigValueError(f"config key 'training.precision'{where} must be one "
                                   f"of {', '.join(AMP_CHOICES)}, got {precision!r}{hint}")
        if cfg.get('precision') not in (None, precision):
            raise ConfigValueError(
                f"config key 'training.precision' = '{precision}'{where} disagrees with "
                f"precision = '{cfg.precision}': keep one")
        cfg.precision = precision


def _renamed_leaf(spec: dict, old: str, new: str, where: str, section: str = ''):
    """``spec[new]``, or ``spec[old]`` with a ``FutureWarning``; both must agree."""
    if old not in spec:
        return spec.get(new)
    old_key, new_key = section + old, section + new
    warn_once(f'config-key-{old_key}', f"config key '{old_key}'{where} is now '{new_key}' (the "
              'same values); the former name will be removed', stacklevel=4)
    if new in spec and spec[new] != spec[old]:
        raise ConfigValueError(f"config keys '{old_key}' = {spec[old]!r} and '{new_key}' = "
                               f"{spec[new]!r}{where} disagree: keep '{new_key}'")
    return spec[old]


def _is_size(value) -> bool:
    def one(v):
        return isinstance(v, int) and not isinstance(v, bool) and v >= 1
    return one(value) or (isinstance(value, (list, tuple)) and len(value) == 2
                          and all(one(v) for v in value))


def split_datasets(cfg, split: str) -> list[dict]:
    """The dataset configs that read the data of ``cfg.<split>_dataloader``: its dataset, the
    members of a ``ConcatDataset``, the inner dataset of a wrapper such as ``RepeatDataset``
    (:func:`dataset_leaves`); ``[]`` without one. The dicts are the config's own: changes to
    them change the config. Every walk over a config's datasets goes through here."""
    dataset = (cfg.get(f'{split}_dataloader') or {}).get('dataset') or {}
    return [leaf for leaf in dataset_leaves(dataset) if leaf]


def dataset_leaves(dataset: dict) -> list[dict]:
    """The dataset configs that read data inside ``dataset``: the members of a
    ``ConcatDataset`` (``datasets``), the inner ``dataset`` of a wrapper such as
    ``RepeatDataset``, recursively; ``[dataset]`` for a plain one. The dicts are the config's
    own."""
    if isinstance(dataset.get('datasets'), (list, tuple)):
        return [leaf for d in dataset['datasets'] for leaf in dataset_leaves(d)]
    if 'pipeline' not in dataset and isinstance(dataset.get('dataset'), dict):
        return dataset_leaves(dataset['dataset'])
    return [dataset]


def training_crop(cfg) -> tuple[int, int] | None:
    """The crop (h, w) the config trains on: ``crop_size``, else the train pipeline's
    ``RandomCrop`` (or ``CentredRandomCrop``), else the data preprocessor's ``size``."""
    crop = cfg.get('crop_size')
    if crop is None:
        crop = next((t.get('crop_size') for dataset in split_datasets(cfg, 'train')
                     for t in dataset.get('pipeline', [])
                     if isinstance(t, dict)
                     and t.get('type') in ('RandomCrop', 'CentredRandomCrop')), None)
    if crop is None:
        crop = cfg.get('model', {}).get('data_preprocessor', {}).get('size')
    if crop is None:
        return None
    crop = (crop, crop) if isinstance(crop, int) else tuple(crop)
    return int(crop[0]), int(crop[1])


def raster_options(cfg) -> dict:
    """``bands`` and ``nodata`` the config reads its images with (a ``RasterSceneDataset``'s
    or a ``LoadRaster``'s; test, then val, then train), so predictions see the same bands;
    ``file_order`` when it trains on bands in file order (``LoadRaster``) rather than
    OpenCV's BGR; ``volume`` (``axis``, ``normalize``, ``context``) when it trains on slices
    of volumes (a ``VolumeSliceDataset``), so volume prediction slices and scales them
    alike."""
    out: dict = {}
    for split in ('test', 'val', 'train'):
        for dataset in split_datasets(cfg, split):
            if dataset.get('type') == 'VolumeSliceDataset':
                out.setdefault('volume', dict(axis=int(dataset.get('axis', 2)),
                                              normalize=_plain(dataset.get('normalize')),
                                              context=int(dataset.get('context', 0))))
            loads = [t for t in dataset.get('pipeline', []) if isinstance(t, dict)
                     and t.get('type') in ('LoadRaster', 'LoadVolumeSlice')]
            if loads:
                out.setdefault('file_order', True)  # bands as stored, not OpenCV's BGR
            for source in [*loads, dataset]:
                for key in ('bands', 'nodata'):
                    if source.get(key) is not None:
                        out.setdefault(key, source[key])
    return out


def _plain(value):
    """A config value as plain JSON-able dicts and lists (mmengine's ConfigDict and tuples
    undone), for a model card that export writes into a file header."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def loss_configs(model_cfg: dict) -> Iterator[tuple[str, dict]]:
    """(config key, loss dict) of every decode / auxiliary head loss of a model config."""
    for part in ('decode_head', 'auxiliary_head'):
        heads = model_cfg.get(part)
        many = isinstance(heads, (list, tuple))
        for i, head in enumerate(heads if many else [heads]):
            if not isinstance(head, dict):
                continue
            key = f'model.{part}' + (f'[{i}]' if many else '')
            losses = head.get('loss_decode')
            several = isinstance(losses, (list, tuple))
            for j, loss in enumerate(losses if several else [losses]):
                if isinstance(loss, dict):
                    yield key + '.loss_decode' + (f'[{j}]' if several else ''), loss


def is_weight_method(value) -> bool:
    """Whether a loss's ``class_weight`` names a method (``'auto'``, ...) rather than numbers
    or a file of them."""
    return isinstance(value, str) and not value.endswith(('.npy', '.json', '.pkl', '.yaml'))


# the ``class_weight`` methods altair.datasets.class_weights computes ('auto' = median_frequency)
CLASS_WEIGHT_METHODS = ('auto', 'median_frequency', 'inverse_frequency')


class ClassWeightError(AltairError, ValueError):
    """A ``class_weight`` Altair cannot compute (unknown method, no labelled pixel)."""


def check_weight_method(method: str, key: str) -> None:
    """Refuse a ``class_weight`` method name that is not one of :data:`CLASS_WEIGHT_METHODS`.

    Raises:
        ClassWeightError: naming ``key`` (e.g. ``model.decode_head.loss_decode``), the value
            and the accepted ones.
    """
    if method not in CLASS_WEIGHT_METHODS:
        raise ClassWeightError(f"{key}.class_weight '{method}' is not one of "
                               f"{', '.join(CLASS_WEIGHT_METHODS)} (or a list of floats / a "
                               ".npy, .json, .pkl or .yaml file)")


def drop_class_weight_methods(cfg) -> None:
    """``class_weight='auto'`` (or a method name) -> ``None``: for building a model to test or
    predict with, where the loss is not used and the training data may not be at hand."""
    for _, loss in loss_configs(cfg.model):
        if is_weight_method(loss.get('class_weight')):
            loss['class_weight'] = None


def load_model_config(config: str | Path | Config | dict, *,
                      cfg_options: dict | None = None) -> Config:
    """:func:`load_config` for building a model to test, predict or check with rather than
    train: class-weight methods are dropped (the loss is not used, and the training masks
    they are counted from may not be at hand)."""
    cfg = load_config(config, cfg_options=cfg_options)
    drop_class_weight_methods(cfg)
    return cfg


class UnknownConfigKeyError(AltairError, KeyError):
    """A config key that nothing reads: one that looks like a misspelt one, any such key of a
    YAML/JSON config, or one inside ``training`` / ``augmentations``."""


# Top-level keys read by mmengine's Runner / FlexibleRunner, by mmseg's tools and by Altair.
READ_KEYS = frozenset({
    'model', 'work_dir', 'train_dataloader', 'val_dataloader', 'test_dataloader', 'train_cfg',
    'val_cfg', 'test_cfg', 'auto_scale_lr', 'optim_wrapper', 'param_scheduler',
    'val_evaluator', 'test_evaluator', 'default_hooks', 'custom_hooks', 'data_preprocessor',
    'load_from', 'resume', 'launcher', 'env_cfg', 'log_processor', 'log_level', 'visualizer',
    'default_scope', 'randomness', 'experiment_name', 'model_wrapper_cfg', 'compile',
    'strategy', 'runner_type', 'custom_imports', 'tta_model', 'tta_pipeline', 'precision',
    'amp', 'augmentations', 'console', 'track', 'training'})
