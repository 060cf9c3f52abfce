import pytest
from mmengine.config import Config

from altair.api.test import TTAConfigMissingError, enable_tta


def _cfg(**extra):
    return Config(dict(model=dict(type='AltairEncoderDecoder'),
                       test_dataloader=dict(dataset=dict(pipeline=['plain'])), **extra))


def test_altair_tta_wraps_the_model_and_keeps_the_pipeline():
    cfg = enable_tta(_cfg(tta_model=dict(type='AltairTTAModel', transforms=['d4'])))
    assert cfg.model.type == 'AltairTTAModel' and cfg.model.module.type == 'AltairEncoderDecoder'
    assert cfg.test_dataloader.dataset.pipeline == ['plain']


def test_mmseg_tta_swaps_the_pipeline_too():
    cfg = enable_tta(_cfg(tta_model=dict(type='SegTTAModel'), tta_pipeline=['tta']))
    assert cfg.model.type == 'SegTTAModel' and cfg.test_dataloader.dataset.pipeline == ['tta']


def test_missing_pieces_are_named():
    with pytest.raises(TTAConfigMissingError, match="needs 'tta_model'"):
        enable_tta(_cfg())
    with pytest.raises(TTAConfigMissingError, match="SegTTAModel needs 'tta_pipeline'"):
        enable_tta(_cfg(tta_model=dict(type='SegTTAModel')))
