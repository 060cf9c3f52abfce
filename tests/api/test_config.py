from __future__ import annotations

import pytest

from altair.api.config import ConfigNotFoundError, UnknownTypeError, check_model_types, load_config


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
