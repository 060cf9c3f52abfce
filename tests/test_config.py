from __future__ import annotations

import pytest

from altair.config import (ConfigNotFoundError, UnknownConfigKeyError, UnknownTypeError,
                           check_config_keys, check_model_types, edit_distance, load_config)


def test_missing_config_names_the_path_and_close_configs(in_repo_root):
    with pytest.raises(ConfigNotFoundError, match="'configs/pspnet_.py' does not exist; did you mean configs/pspnet.py"):
        load_config('configs/pspnet_.py')


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
