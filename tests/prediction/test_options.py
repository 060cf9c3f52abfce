"""PredictOptions: validated once, a JSON record that round-trips, the journal's record."""
from __future__ import annotations

import json

import pytest

from altair.prediction.options import PredictOptionError, PredictOptions


@pytest.mark.parametrize('bad, message', [
    (dict(save=['labels', 'pngs']), "unknown save kind 'pngs'"),
    (dict(format='jpeg'), 'format must be one of cog, gtiff'),
    (dict(min_area=-1), 'min_area must be a number >= 0'),
    (dict(simplify=True), 'simplify must be a number >= 0'),
    (dict(polygons_format='shp'), 'polygons_format must be one of gpkg, geojson'),
    (dict(sliding_window='yes'), "sliding_window must be True, False or 'auto'"),
    (dict(overlap=1.5), r'overlap must be in \[0, 1\)'),
    (dict(window_batch=0), 'window_batch must be an int >= 1'),
    (dict(processes=0), 'processes must be a number of processes >= 1'),
    (dict(processes=2, gpus=1), 'give processes .CPU. or gpus, not both'),
    (dict(mosaic='a/b'), 'mosaic must be a plain name'),
    (dict(backend='tensorrt'), "unknown backend 'tensorrt'"),
    (dict(uncertainty='tta-variance'), 'tta'),
])
def test_bad_options_are_refused_with_the_value(bad, message):
    with pytest.raises((PredictOptionError, ValueError), match=message):
        PredictOptions(**bad)


def test_tta_flag_and_transforms():
    assert PredictOptions.from_arguments(tta=True).tta == ('hflip',)
    assert PredictOptions.from_arguments(tta_transforms=['d4']).tta == ('d4',)
    assert PredictOptions.from_arguments().tta is None


def test_the_record_round_trips_through_json():
    opts = PredictOptions(tta=['d4'], tta_scales=[1.0, 0.5], window_size=[256, 320],
                          stride=(200, 240), save=['labels', 'probs'], out_dir='x',
                          uncertainty='tta-variance', mosaic='m', window_batch=3)
    again = PredictOptions.from_record(json.loads(json.dumps(opts.record())))
    assert again == opts and again.window_size == (256, 320) and again.tta == ('d4',)


def test_the_journal_record_holds_what_shapes_the_outputs():
    opts = PredictOptions(tta=['hflip'], save=['probs', 'labels'])
    record = opts.journal(image='img', model='m', window=(64, 64), stride=(48, 48),
                          blend='gaussian', batch_size=4, device='cpu', save={'probs', 'labels'},
                          format='cog', nodata=None, bands=[1, 2, 3])
    assert record['save'] == ['labels', 'probs'] and record['tta'] == ['hflip']
    assert record['window'] == (64, 64) and record['precision'] == 'auto'
    changed = opts.replace(probs_dtype='float32').journal(
        image='img', model='m', window=(64, 64), stride=(48, 48), blend='gaussian',
        batch_size=4, device='cpu', save={'probs', 'labels'}, format='cog', nodata=None,
        bands=[1, 2, 3])
    assert changed != record and changed['probs_dtype'] == 'float32'
