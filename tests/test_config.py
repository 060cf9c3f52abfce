from __future__ import annotations

from pathlib import Path

import pytest

from altair.config import ConfigNotFoundError, UnknownConfigKeyError, load_config
from altair.config_checks import (UnknownTypeError, check_config_keys, check_model_types,
                                  edit_distance)


def test_missing_config_names_the_path_and_close_configs(in_repo_root):
    with pytest.raises(ConfigNotFoundError, match="'configs/pspnet_.py' does not exist; did you mean configs/pspnet.py"):
        load_config('configs/pspnet_.py')


def test_a_close_config_is_suggested_as_a_path_that_opens_from_elsewhere(tmp_path,
                                                                         monkeypatch):
    """Outside the checkout the suggestion is the shipped config's absolute path (the
    relative one would not open from there)."""
    monkeypatch.chdir(tmp_path)
    shipped = Path(__file__).resolve().parents[1] / 'configs' / 'pspnet.py'
    with pytest.raises(ConfigNotFoundError) as err:
        load_config('configs/pspnet_.py')
    suggested = str(err.value).split('did you mean ', 1)[1].rstrip('?').split(', ')
    assert str(shipped) in suggested and all(Path(s).is_file() for s in suggested)


def test_load_config_merges_options(in_repo_root):
    cfg = load_config('configs/pspnet.py', cfg_options={'train_cfg.max_iters': 7})
    assert cfg.train_cfg.max_iters == 7 and cfg.default_scope == 'altair'


def test_unknown_model_type_lists_close_names():
    with pytest.raises(UnknownTypeError, match=r"model.decode_head.type 'PSPHed' is not a registered model; did you mean PSPHead"):
        check_model_types(dict(type='EncoderDecoder', decode_head=dict(type='PSPHed')))
    with pytest.raises(UnknownTypeError, match=r"model.type 'EncoderDecodr'.*EncoderDecoder"):
        check_model_types(dict(type='EncoderDecodr'))
    check_model_types(dict(type='EncoderDecoder', backbone=dict(type='mmseg.ResNetV1c'),
                           decode_head=dict(type='PSPHead')))


@pytest.mark.parametrize('typo, meant', [('optim_wraper', 'optim_wrapper'),
                                         ('param_schedulers', 'param_scheduler'),
                                         ('val_evalutor', 'val_evaluator'),
                                         ('modle', 'model')])
def test_a_misspelt_config_key_is_refused(in_repo_root, typo, meant):
    cfg = load_config('configs/pspnet.py', cfg_options={f'{typo}.type': 'X'})
    with pytest.raises(UnknownConfigKeyError) as info:
        check_config_keys(cfg)
    assert str(info.value) == (
        f"config key '{typo}' in configs/pspnet.py is not read by anything; did you mean "
        f"'{meant}'? (as written it would be ignored and the inherited or default '{meant}' "
        'used)')


def test_config_variables_are_not_typos(in_repo_root):
    from pathlib import Path
    paths = [p for p in sorted(Path('configs').rglob('*.py')) + sorted(
        Path('projects').glob('*/configs/*.py')) if '_base_' not in p.parts]
    assert len(paths) >= 28
    for path in paths:  # train_pipeline, crop_size, norm_cfg, ... all pass
        check_config_keys(load_config(path))


def test_edit_distance():
    assert edit_distance('optim_wraper', 'optim_wrapper') == 1
    assert edit_distance('train_pipeline', 'tta_pipeline') == 3
    assert edit_distance('', 'abc') == 3 and edit_distance('abc', 'abc') == 0


def test_dataset_leaves_open_concat_and_wrapper_datasets():
    from altair.config import dataset_leaves
    a = dict(type='A', pipeline=[])
    b = dict(type='B', pipeline=[])
    c = dict(type='C')
    nested = dict(type='ConcatDataset', datasets=[
        a, dict(type='RepeatDataset', times=2, dataset=dict(type='ConcatDataset',
                                                           datasets=[b, c]))])
    leaves = dataset_leaves(nested)
    assert leaves == [a, b, c] and all(x is y for x, y in zip(leaves, [a, b, c]))  # own dicts
    assert dataset_leaves(a) == [a] and dataset_leaves({}) == [{}]


# ---- YAML / JSON configs: the roadmap's sections are read, keys nothing reads are refused
ROOT = Path(__file__).resolve().parents[1]


def _yaml(tmp_path, body: str, name: str = 'cfg.yaml'):
    path = tmp_path / name
    path.write_text(f"_base_: {ROOT / 'configs' / 'pspnet.py'}\n{body}")
    return path


def test_training_section_becomes_the_keys_it_stands_for(tmp_path):
    cfg = load_config(_yaml(tmp_path, 'training:\n  gradient_accumulation: 2\n'
                                      '  precision: bf16\n'))
    plain = load_config(ROOT / 'configs' / 'pspnet.py')
    assert 'training' not in cfg and cfg.precision == 'bf16' and 'precision' not in plain
    assert cfg.optim_wrapper == dict(plain.optim_wrapper, accumulative_counts=2)
    # a dict config (and a Python one) reads the section the same way
    as_dict = load_config(dict(plain.to_dict(), training=dict(gradient_accumulation=2,
                                                              precision='bf16')))
    assert as_dict.to_dict() == cfg.to_dict()


@pytest.mark.parametrize('body, message', [
    ('trainng:\n  gradient_accumulation: 2\n',
     "unknown config key 'trainng' in {path}: nothing reads it, nor is its value used elsewhere "
     'in the config (as written it would be ignored); did you mean training, train_cfg?'),
    ('gradient_accumulation: 2\n',
     "unknown config key 'gradient_accumulation' in {path}: nothing reads it, nor is its value "
     'used elsewhere in the config (as written it would be ignored); did you mean '
     'training.gradient_accumulation?'),
    ('training:\n  gradient_acumulation: 2\n',
     "unknown config key 'training.gradient_acumulation' in {path}: nothing reads it (as "
     'written it would be ignored); did you mean training.gradient_accumulation?'),
    ('augmentations:\n  presets: heavy\n',
     "unknown config key 'augmentations.presets' in {path}: nothing reads it (as written it "
     'would be ignored); did you mean augmentations.preset?'),
])
def test_yaml_keys_nothing_reads_are_refused_with_the_closest_ones(tmp_path, body, message):
    path = _yaml(tmp_path, body)
    with pytest.raises(UnknownConfigKeyError) as info:
        load_config(path)
    assert str(info.value) == message.format(path=path)


def test_json_configs_are_checked_like_yaml(tmp_path):
    import json
    path = tmp_path / 'cfg.json'
    path.write_text(json.dumps({'_base_': str(ROOT / 'configs' / 'pspnet.py'),
                                'optim_wraper': {'type': 'AdamW'}}))
    with pytest.raises(UnknownConfigKeyError, match=r"'optim_wraper' in .*cfg\.json.*did you "
                                                    r'mean optim_wrapper\?'):
        load_config(path)


@pytest.mark.parametrize('body, message', [
    ('training:\n  precision: fp8\n',
     "config key 'training.precision' in {path} must be one of auto, fp32, bf16, fp16, "
     "got 'fp8'"),
    ('training:\n  precision: no\n',
     "config key 'training.precision' in {path} must be one of auto, fp32, bf16, fp16, "
     'got False (YAML read an unquoted word as a boolean; write fp32 for no mixed precision)'),
    ('training:\n  gradient_accumulation: 0\n',
     "config key 'training.gradient_accumulation' in {path} must be an int >= 1, got 0"),
    ("training:\n  gradient_accumulation: '2'\n",
     "config key 'training.gradient_accumulation' in {path} must be an int >= 1, got '2'"),
    ('training: 2\n',
     "config key 'training' in {path} must be a mapping of gradient_accumulation, "
     'precision, got 2'),
    ('augmentations:\n  preset: [heavy]\n',
     "config key 'augmentations.preset' in {path} must name a preset (light, medium, heavy, "
     "medical, satellite or overhead), got ['heavy']"),
    ('augmentations:\n  preset: heavy\n  crop_size: [256]\n',
     "config key 'augmentations.crop_size' in {path} must be an int or [height, width] of "
     'ints >= 1, got [256]'),
    ('precision: fp32\ntraining:\n  precision: bf16\n',
     "config key 'training.precision' = 'bf16' in {path} disagrees with precision = 'fp32': "
     'keep one'),
    ('amp: fp32\nprecision: bf16\n',
     "config keys 'amp' = 'fp32' and 'precision' = 'bf16' in {path} disagree: keep "
     "'precision'"),
])
def test_yaml_values_of_the_wrong_type_or_choice_are_refused(tmp_path, body, message):
    from altair.config import ConfigValueError
    path = _yaml(tmp_path, body)
    with pytest.raises(ConfigValueError) as info:
        load_config(path)
    assert str(info.value) == message.format(path=path)


def test_the_former_precision_keys_are_read_with_a_warning(tmp_path):
    """``amp`` (top level) and ``training.mixed_precision`` are ``precision``, warned once."""
    import warnings

    from altair import errors
    errors._WARNED.difference_update({'config-key-amp', 'config-key-training.mixed_precision'})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        a = load_config(_yaml(tmp_path, 'amp: bf16\n', 'a.yaml'))
        b = load_config(_yaml(tmp_path, 'training:\n  mixed_precision: fp32\n', 'b.yaml'))
        again = load_config(_yaml(tmp_path, 'amp: fp16\n', 'c.yaml'))
    assert (a.precision, b.precision, again.precision) == ('bf16', 'fp32', 'fp16')
    assert 'amp' not in a and 'amp' not in again
    messages = [str(w.message) for w in caught if w.category is FutureWarning]
    assert len(messages) == 2  # once per former name
    assert messages[0].startswith("config key 'amp' in ") and "is now 'precision'" in messages[0]
    assert "config key 'training.mixed_precision' in " in messages[1]
    assert "is now 'training.precision'" in messages[1]


def test_amp_choices_are_the_engines():
    from altair.config import AMP_CHOICES
    from altair.engine.amp import AMP_CHOICES as ENGINE
    assert AMP_CHOICES == ENGINE


def test_python_configs_keep_their_variables(tmp_path):
    path = tmp_path / 'cfg.py'
    path.write_text(f"_base_ = ['{ROOT / 'configs' / 'pspnet.py'}']\n"
                    "my_unused_variable = dict(anything=1)\ngradient_accumulation = 2\n")
    cfg = load_config(path)
    assert cfg.my_unused_variable == dict(anything=1) and cfg.gradient_accumulation == 2
    assert 'accumulative_counts' not in cfg.optim_wrapper  # a variable, not the section


@pytest.mark.parametrize('config', ['configs/pspnet.py',  # img_ratios: used item by item
                                    'configs/pspnet/pspnet_r18-d16_1xb8-600it_bluemarble-'
                                    'scene-256x256.py'])  # scene: used as dict(scene, ...)
def test_a_dumped_python_config_loads_as_yaml_and_a_stale_variable_does_not(tmp_path, config):
    cfg = load_config(ROOT / config)
    path = tmp_path / 'dumped.yaml'
    cfg.dump(str(path))
    assert load_config(path).to_dict() == cfg.to_dict()  # norm_cfg, train_pipeline, ... pass
    path.write_text(path.read_text() + 'stale_pipeline:\n- type: RandomFlip\n  prob: 0.25\n')
    with pytest.raises(UnknownConfigKeyError, match=r"unknown config key 'stale_pipeline' in "
                                                    r'.*dumped\.yaml: nothing reads it'):
        load_config(path)
