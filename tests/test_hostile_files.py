"""Files from someone else: opening them never runs code.

Every hostile file carries a payload that would create a canary file if any part of Altair
executed it: code in a checkpoint's ``meta.cfg``, in a safetensors or ONNX header, a pickle
that calls a function, and class names or polygon attribute values that would become live
lines of a generated config. Each command must exit 2 with one ``error:`` line naming the file,
and the canary must not exist. Hypothesis fuzzes the config text, headers, metadata and
class names; truncated model files are cut at random offsets.
"""
from __future__ import annotations

import ast
import json
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from altair.errors import AltairError

ROOT = Path(__file__).resolve().parents[1]
FUZZ = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def payload(canary: Path) -> str:
    """One Python line that creates ``canary``."""
    return f"__import__('pathlib').Path({str(canary)!r}).write_text('ran')"


def tiny_model_cfg() -> dict:
    from tests.models.tiny import segmentor_cfg
    cfg = segmentor_cfg(dict(mode='whole'))
    cfg['test_cfg'] = dict(cfg['test_cfg'])
    cfg['decode_head']['num_classes'] = 3
    return cfg


def tiny_config_text() -> str:
    """mmengine's own dump of a real model config: the text a checkpoint carries."""
    from mmengine.config import Config
    return Config(dict(model=tiny_model_cfg(), default_scope='altair',
                       crop_size=(32, 32))).pretty_text


@pytest.fixture(scope='module')
def model_files(tmp_path_factory) -> dict[str, Path]:
    """An image, and a real tiny model as a checkpoint with its config, a safetensors file and
    an ONNX file, each with a literal header (the good twins of the hostile files)."""
    from mmengine.registry import DefaultScope
    from safetensors.torch import save_file

    from altair.models.portable import HEADER_FORMAT, HEADER_KEY
    from altair.registry import MODELS
    root = tmp_path_factory.mktemp('hostile')
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('altair'):
        model = MODELS.build(tiny_model_cfg()).eval()
    state = model.state_dict()
    torch.save(dict(state_dict=state, meta=dict(cfg=tiny_config_text())), root / 'good.pth')
    rng = np.random.default_rng(0)
    cv2.imwrite(str(root / 'img.png'), rng.integers(0, 256, (40, 48, 3), dtype=np.uint8))
    header = dict(format=HEADER_FORMAT, config=dict(model=tiny_model_cfg(),
                                                    default_scope='altair'),
                  classes=['a', 'b', 'c'], palette=[[0, 0, 0], [255, 0, 0], [0, 255, 0]],
                  num_classes=3, normalization=dict(mean=[0, 0, 0], std=[1, 1, 1],
                                                    bgr_to_rgb=False),
                  raster={}, train_crop=[32, 32])
    save_file({k: v.contiguous() for k, v in state.items()}, str(root / 'good.safetensors'),
              metadata={HEADER_KEY: json.dumps(header)})
    write_onnx(root / 'good.onnx', header)
    return dict(root=root, img=root / 'img.png', pth=root / 'good.pth',
                safetensors=root / 'good.safetensors', onnx=root / 'good.onnx',
                state=state, header=header)


def write_onnx(path: Path, header: dict | None, *, raw_header: str | None = None) -> Path:
    """A 1x1-convolution graph (3 bands -> 3 logits) with ``header`` as Altair metadata."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from altair.models.portable import HEADER_KEY
    weight = numpy_helper.from_array(np.eye(3, dtype=np.float32).reshape(3, 3, 1, 1), 'w')
    graph = helper.make_graph(
        [helper.make_node('Conv', ['x', 'w'], ['y'])], 'g',
        [helper.make_tensor_value_info('x', TensorProto.FLOAT, ['n', 3, 'h', 'w'])],
        [helper.make_tensor_value_info('y', TensorProto.FLOAT, ['n', 3, 'h', 'w'])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 18)])
    model.ir_version = 9
    text = raw_header if raw_header is not None else json.dumps(header)
    model.metadata_props.append(onnx.StringStringEntryProto(key=HEADER_KEY, value=text))
    onnx.save(model, str(path))
    return path


def one_error_line(res, culprit: str) -> None:
    """Exit 2 and one ``error:`` line naming ``culprit``, the last thing printed (library
    warnings may come before it), and no traceback."""
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith('error: ')]
    assert len(errors) == 1 and lines[-1] == errors[0], res.stderr
    assert culprit in errors[0], (culprit, errors[0])
    assert 'Traceback' not in res.stderr


# --- the good twins load: the literal reader reads what Altair and mmengine write ------------

def test_literal_configs_load_and_predict(model_files):
    import altair as alt
    for key in ('pth', 'safetensors', 'onnx'):
        model = alt.load_model(model_files[key], device='cpu')
        x = torch.rand(1, 3, 32, 32)
        with torch.no_grad():
            logits = model.encode_decode(x, [dict(img_shape=(32, 32))] * 1) if key != 'onnx' \
                else model.encode_decode(x)
        assert logits.shape == (1, 3, 32, 32)
        if key == 'onnx':  # the identity convolution: the logits are the input
            torch.testing.assert_close(logits, x)
    torch.testing.assert_close(alt.load_model(model_files['pth'], device='cpu').state_dict(),
                               model_files['state'])


def test_trust_config_executes_an_old_python_config(model_files, tmp_path, cli):
    """--trust-config is the documented way to read a checkpoint of one's own whose config
    needs executing: the same file is refused without it and read with it."""
    canary = tmp_path / 'canary'
    ckpt = tmp_path / 'mine.pth'
    torch.save(dict(state_dict=model_files['state'],
                    meta=dict(cfg=tiny_config_text() + payload(canary) + '\n')), ckpt)
    one_error_line(cli('predict', ckpt, model_files['img'], '--out', tmp_path / 'a'), str(ckpt))
    assert not canary.exists()
    res = cli('predict', ckpt, model_files['img'], '--out', tmp_path / 'b', '--trust-config')
    assert res.returncode == 0, res.stderr
    assert canary.read_text() == 'ran'


# --- hostile model files ------------------------------------------------------------------

class Exec:
    """A pickle that calls ``exec`` when unpickled."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self):
        return exec, (self.code,)


def hostile_files(model_files, root: Path, canary: Path) -> dict[str, Path]:
    from safetensors.torch import save_file

    from altair.models.portable import HEADER_KEY
    code = tiny_config_text() + payload(canary) + '\n'
    files = {}
    files['cfg.pth'] = root / 'cfg.pth'
    torch.save(dict(state_dict=model_files['state'], meta=dict(cfg=code)), files['cfg.pth'])
    files['pickle.pth'] = root / 'pickle.pth'
    torch.save(dict(state_dict=model_files['state'], meta=dict(cfg=Exec(payload(canary)))),
               files['pickle.pth'])
    header = dict(model_files['header'], config=code)
    files['cfg.safetensors'] = root / 'cfg.safetensors'
    save_file({k: v.contiguous() for k, v in model_files['state'].items()},
              str(files['cfg.safetensors']), metadata={HEADER_KEY: json.dumps(header)})
    files['cfg.onnx'] = write_onnx(root / 'cfg.onnx', header)
    files['imports.pth'] = root / 'imports.pth'  # a module outside Altair's: refused
    torch.save(dict(state_dict=model_files['state'],
                    meta=dict(cfg=tiny_config_text() + "custom_imports = dict(imports=['this'])\n"
                              )), files['imports.pth'])
    return files


@pytest.mark.parametrize('kind', ['cfg.pth', 'pickle.pth', 'cfg.safetensors', 'cfg.onnx',
                                  'imports.pth'])
def test_hostile_model_files_run_nothing(model_files, tmp_path, cli, kind):
    import altair as alt
    canary = tmp_path / 'canary'
    path = hostile_files(model_files, tmp_path, canary)[kind]
    one_error_line(cli('predict', path, model_files['img'], '--out', tmp_path / 'out'),
                   str(path))
    assert not (tmp_path / 'out').exists() or not any((tmp_path / 'out').iterdir())
    with pytest.raises(AltairError, match=str(path).replace('.', r'\.')):
        alt.load_model(path, device='cpu')
    if kind.endswith('.pth'):
        one_error_line(cli('export', path, '--format', 'safetensors', '--file',
                           tmp_path / 'x.safetensors'), str(path))
        assert not (tmp_path / 'x.safetensors').exists()
    assert not canary.exists()


@pytest.mark.slow
def test_altair_test_refuses_a_pickle_payload(small_bluemarble, tiny, tmp_path, cli,
                                              model_files):
    """``altair test CONFIG CKPT`` loads the weights through the same weights-only loader."""
    canary = tmp_path / 'canary'
    evil = tmp_path / 'evil.pth'
    torch.save(dict(state_dict=dict(w=Exec(payload(canary)))), evil)
    res = cli('test', 'configs/pspnet.py', evil, '--work-dir', tmp_path / 'work',
              *tiny.cli(tiny.loaders(small_bluemarble, splits=('test',))))
    one_error_line(res, str(evil))
    assert not canary.exists()


def _run_with_config(root: Path, text: str, state) -> str:
    """A run in the store ``root`` whose saved ``config.py`` is ``text`` (as a colleague's run
    folder copied in), with a checkpoint of ``state``."""
    from altair.api.runs import create_run
    run = create_run('shared', root=root)
    run.config_path.write_text(text)
    torch.save(dict(state_dict=state, meta=dict(cfg=tiny_config_text())), run.dir / 'iter_1.pth')
    (run.dir / 'last_checkpoint').write_text(str(run.dir / 'iter_1.pth'))
    return run.id


def test_a_run_folder_config_is_data_too(model_files, tmp_path, cli):
    """A run's saved config.py is read as data by predict, export, test and load_model: one
    written by Altair (mmengine's dump) works, one carrying code is refused."""
    import altair as alt
    canary, store = tmp_path / 'canary', tmp_path / 'runs'
    good = _run_with_config(store, tiny_config_text(), model_files['state'])
    model = alt.load_model(good, root=store, device='cpu')
    torch.testing.assert_close(model.state_dict(), model_files['state'])
    evil = _run_with_config(store, tiny_config_text() + payload(canary) + '\n',
                            model_files['state'])
    config = store / evil / 'config.py'
    for args in (['predict', evil, model_files['img'], '--out', tmp_path / 'out'],
                 ['export', evil, '--format', 'safetensors', '--file', tmp_path / 'x.safetensors'],
                 ['test', evil]):
        one_error_line(cli(*args, '--runs-root', store), f"'{config}': the config it carries")
    with pytest.raises(AltairError, match='the config it carries has a statement other than'):
        alt.load_model(evil, root=store, device='cpu')
    out = tmp_path / 'out'
    assert not canary.exists() and (not out.exists() or not any(out.rglob('*')))


# --- hostile data folders: altair init + loading the config it wrote --------------------------

# names that end a line: refused (exit 2, one line naming the sidecar and the character)
LINE_ENDING_NAMES = [
    'x\n' + '{payload}' + '\n#',
    'x\r' + '{payload}',
    'x\u2028{payload}',
    'x\\\n{payload}',
    '# not a comment \x0c {payload}',
    'x\x00{payload}',
]
# names that would end a string or be substituted by mmengine: kept, as literals
QUOTING_NAMES = [
    "x'); {payload}; ('",
    'x"""; {payload}; """',
    '{{ fileDirname }}',
    "{{ fileBasename }}'); {payload} #",
    "# farmer's field \\ {payload}",
]


def _pairs_folder(root: Path, names: list[str]) -> Path:
    (root / 'images').mkdir(parents=True)
    (root / 'masks').mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        cv2.imwrite(str(root / 'images' / f'{i}.png'),
                    rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
        mask = np.zeros((64, 64), np.uint8)
        mask[8:40, 8:40] = 1
        cv2.imwrite(str(root / 'masks' / f'{i}.png'), mask)
    (root / 'classes.json').write_text(json.dumps(
        [dict(value=i, name=n) for i, n in enumerate(names)]))
    return root


@pytest.mark.parametrize('template', QUOTING_NAMES)
def test_hostile_class_names_stay_literals(tmp_path, cli, template):
    from altair.config import load_config
    canary = tmp_path / 'canary'
    name = template.replace('{payload}', payload(canary))
    data = _pairs_folder(tmp_path / "d'{{ fileDirname }}\nx", ['background', name])
    res = cli('init', data, '--file', tmp_path / 'cfg.py', '--iters', 10)
    assert res.returncode == 0, res.stderr
    cfg = load_config(tmp_path / 'cfg.py')
    assert cfg.classes == ['background', name]
    assert not canary.exists()


@pytest.mark.parametrize('template', LINE_ENDING_NAMES)
def test_class_names_that_end_a_line_are_refused(tmp_path, cli, template):
    canary = tmp_path / 'canary'
    name = template.replace('{payload}', payload(canary))
    data = _pairs_folder(tmp_path / 'd', ['background', name])
    res = cli('init', data, '--file', tmp_path / 'cfg.py', '--iters', 10)
    one_error_line(res, f"in classes sidecar '{data / 'classes.json'}' holds")
    assert not (tmp_path / 'cfg.py').exists() and not canary.exists()


@pytest.mark.slow
def test_hostile_polygon_attribute_values_stay_literals(tmp_path, cli):
    from altair.config import load_config
    from tests.datasets.raster_fixtures import utm_boxes, write_geojson, write_tif
    canary = tmp_path / 'canary'
    data = tmp_path / 'poly'
    data.mkdir()
    write_tif(data / 'scene.tif', np.random.default_rng(1).integers(
        0, 255, (3, 96, 96)).astype(np.uint8))
    rings = utm_boxes([(500100, 4999900, 500500, 4999500), (500200, 4999400, 500800, 4999300)])
    values = ['a', "b'); " + payload(canary) + " #"]
    write_geojson(data / 'labels.geojson', [(rings[0], {'kind': 'a\n' + payload(canary)}),
                                            (rings[1], {'kind': values[1]})])
    one_error_line(cli('init', data, '--class-field', 'kind', '--iters', 10),
                   'in the label values holds')
    write_geojson(data / 'labels.geojson', [(rings[0], {'kind': values[0]}),
                                            (rings[1], {'kind': values[1]})])
    res = cli('init', data, '--class-field', 'kind', '--iters', 10)
    assert res.returncode == 0, res.stderr
    cfg = load_config(data / 'altair_config.py')
    assert sorted(cfg.scene_options.label_values) == sorted(values)
    assert all(any(v in c for c in cfg.classes) for v in values)
    assert not canary.exists()


# --- fuzzing: config text, headers, class names ------------------------------------------------

LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40),
                   st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))
IDENT = st.from_regex(r'[a-z][a-z0-9_]{0,8}', fullmatch=True).filter(
    lambda s: s not in ('filename', 'text', 'pretty_text', 'env_variables')
    and not __import__('keyword').iskeyword(s))
VALUES = st.recursive(LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.lists(inner, max_size=4).map(tuple),
    st.dictionaries(IDENT, inner, max_size=4)), max_leaves=12)


@FUZZ
@given(st.dictionaries(IDENT, VALUES, min_size=1, max_size=5))
def test_literal_reader_equals_mmengine_on_its_own_dumps(cfg_dict):
    """Whatever mmengine dumps (pretty_text), the literal reader reads back to what
    mmengine's executing reader gives — the reference is mmengine itself."""
    from mmengine.config import Config

    from altair.config_data import literal_config_dict
    text = Config(cfg_dict).pretty_text
    ours = literal_config_dict(text, source='fuzz')
    theirs = Config.fromstring(text, '.py').to_dict()
    assert json.dumps(ours, sort_keys=True, default=repr) == \
        json.dumps(theirs, sort_keys=True, default=repr)


CODE_BITS = st.sampled_from([
    "import os", "__import__('os')", "x = open('f')", "x = (lambda: 1)()", "x = a.b",
    "x = [i for i in y]", "x = 1 + 2", "x = f'{y}'", "del x", "x = y[0]", "exec('1')",
    "x = dict(**y)", "x = {**y}", "x = dict(1, a=2)", "class A: pass", "x: int = 1",
    "x = ...", "x = y", "@d\ndef f(): pass", "x = not 1", "x = -'a'", "x, y = 1, 2",
    "x = 1", "x = dict(a=1)", "y = x", "x = (1, [2, {'a': None}])", "# c", "'doc'", "",
    "x = \\\n 1", "x = 'a' 'b'", "x = b'1'", "x = 1j", "x = {1, 2}", "\x00", "x = ("])


@FUZZ
@given(st.lists(CODE_BITS, max_size=6), st.text(max_size=30))
def test_literal_reader_never_executes_and_only_raises_altair_errors(tmp_path_factory, bits,
                                                                     junk):
    from altair.config_data import ConfigDataError, config_from_data
    canary = tmp_path_factory.mktemp('fuzz') / 'canary'
    for text in ('\n'.join(bits + [payload(canary)]), '\n'.join(bits), junk):
        try:
            config_from_data(text, source='fuzz.pth', trust=False)
        except ConfigDataError as exc:
            assert 'fuzz.pth' in str(exc) and '\n' not in str(exc)
    assert not canary.exists()


JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                              st.text(max_size=10)),
                    lambda inner: st.one_of(st.lists(inner, max_size=3),
                                            st.dictionaries(st.text(max_size=8), inner,
                                                            max_size=3)), max_leaves=8)
HEADER_KEYS = ['format', 'config', 'classes', 'palette', 'num_classes', 'normalization',
               'raster', 'train_crop', 'input_size']


@FUZZ
@given(key=st.sampled_from(HEADER_KEYS), value=JSON,
       raw=st.one_of(st.none(), st.text(max_size=40)))
def test_fuzzed_headers_load_or_fail_in_one_line(model_files, tmp_path_factory, key, value,
                                                 raw):
    """A safetensors and an ONNX file whose header has one field replaced by arbitrary JSON
    (or whose header is arbitrary text): each either loads or raises an ``AltairError``
    naming the file — never another exception."""
    from safetensors.torch import save_file

    import altair as alt
    from altair.models.portable import HEADER_KEY
    root = tmp_path_factory.mktemp('fuzz')
    header = dict(model_files['header'], **{key: value})
    text = raw if raw is not None else json.dumps(header)
    st_path = root / 'm.safetensors'
    save_file({k: v.contiguous() for k, v in model_files['state'].items()}, str(st_path),
              metadata={HEADER_KEY: text})
    onnx_path = write_onnx(root / 'm.onnx', None, raw_header=text)
    for path in (st_path, onnx_path):
        try:
            alt.load_model(path, device='cpu')
        except AltairError as exc:
            assert str(path) in str(exc) and '\n' not in str(exc), str(exc)


@FUZZ
@given(st.text(min_size=1, max_size=40))
@example('º')  # an identifier Python reads NFKC-normalised, as 'o'
@example('{{ fileDirname }}')
def test_generated_configs_keep_any_string_a_literal(tmp_path_factory, text):
    """``altair init``'s writer: any string is one literal that mmengine reads back equal (its
    ``{{ }}`` substitution included), and as a comment it stays one comment line."""
    from mmengine.config import Config

    from altair.api.config_source import comment_text, literal
    from altair.config_data import literal_config_dict
    source = literal([text, {'k': text}, {text: 1}])
    assert literal_config_dict(f'value = {source}', source='init')['value'] == \
        [text, {'k': text}, {text: 1}]
    comment = '# ' + comment_text(text)
    assert len(comment.splitlines()) == 1 and ast.parse(comment).body == []
    path = tmp_path_factory.mktemp('cfg') / 'c.py'
    path.write_text(f'{comment}\nvalue = {source}\n', encoding='utf-8')
    assert Config.fromfile(str(path)).to_dict()['value'] == [text, {'k': text}, {text: 1}]


MODEL_PART = st.fixed_dictionaries(
    {'type': st.sampled_from(['AltairEncoderDecoder', 'EncoderDecoder', 'ResNetV1c', 'Nope',
                              '', 'mmseg.EncoderDecoder'])},
    optional={'backbone': JSON, 'decode_head': JSON, 'data_preprocessor': JSON,
              'test_cfg': JSON, 'pretrained': JSON})


@FUZZ
@given(model=MODEL_PART, part=st.sampled_from(['model', 'backbone', 'decode_head']))
def test_fuzzed_model_configs_fail_in_one_line(model_files, tmp_path_factory, model, part):
    """A header whose model (or one part of the good model) is arbitrary: it loads or
    raises an ``AltairError`` naming the file."""
    from safetensors.torch import save_file

    import altair as alt
    from altair.models.portable import HEADER_KEY
    good = tiny_model_cfg()
    cfg = model if part == 'model' else dict(good, **{part: model})
    header = dict(model_files['header'], config=dict(model=cfg, default_scope='altair'))
    path = tmp_path_factory.mktemp('fuzz') / 'm.safetensors'
    save_file({k: v.contiguous() for k, v in model_files['state'].items()}, str(path),
              metadata={HEADER_KEY: json.dumps(header)})
    try:
        alt.load_model(path, device='cpu')
    except AltairError as exc:
        assert str(path) in str(exc) and '\n' not in str(exc), str(exc)


# --- truncated model files ---------------------------------------------------------------------

@pytest.mark.parametrize('kind', ['pth', 'safetensors', 'onnx'])
def test_truncated_model_files_fail_in_one_line(model_files, tmp_path, cli, kind):
    import altair as alt
    data = model_files[kind].read_bytes()
    rng = np.random.default_rng(len(data))
    for i, cut in enumerate(sorted({0, 1, 8, *rng.integers(9, len(data) - 1, 6).tolist()})):
        path = tmp_path / f'cut{i}.{kind}'
        path.write_bytes(data[:cut])
        with pytest.raises(AltairError) as info:
            alt.load_model(path, device='cpu')
        assert str(path) in str(info.value) and '\n' not in str(info.value)
    one_error_line(cli('predict', path, model_files['img'], '--out', tmp_path / 'o'), str(path))


def test_reading_a_checkpoint_config_never_unpickles_code(tmp_path):
    """The pickle payload inside ``meta`` is refused by the weights-only loader itself."""
    from altair.api.load import checkpoint_config
    from altair.engine.checkpoint import UnsafeCheckpointError
    canary = tmp_path / 'canary'
    path = tmp_path / 'p.pth'
    torch.save(dict(meta=dict(cfg=Exec(payload(canary)))), path)
    with pytest.raises(UnsafeCheckpointError, match='exec'):
        checkpoint_config(path)
    assert not canary.exists()
    assert pickle.dumps(Exec('1'))  # the payload does pickle: the refusal is the loader's
