"""Altair: semantic segmentation on mmsegmentation for images larger than memory.

    import altair as alt
    run = alt.train('configs/pspnet.py')           # a run in the run store (./runs)
    alt.runs()                                      # every run, oldest first
    metrics = alt.test(run.id)                      # best checkpoint on the test set
    preds = alt.predict(run.id, images='big.tif', sliding_window=True, tta=True)
    alt.init('data/my_scenes')                      # a config for your own data folder
    alt.export(run.id, format='safetensors')        # weights + header: a self-describing file
    model = alt.load_model('model.safetensors')     # also a run id, a .pth or an .onnx

Names are imported on first use, so ``import altair`` stays light.
"""
from altair.version import __version__

_EXPORTS = {
    'train': 'altair.api.train', 'TrainingFailedError': 'altair.api.train',
    'TrainOptionError': 'altair.api.train',
    'test': 'altair.api.test',
    'predict': 'altair.api.predict', 'Prediction': 'altair.api.predict',
    'PredictOptionError': 'altair.api.predict',
    'Run': 'altair.api.runs', 'load_run': 'altair.api.runs', 'runs': 'altair.api.runs',
    'RunNotFoundError': 'altair.api.runs', 'NoCheckpointError': 'altair.api.runs',
    'init': 'altair.api.init', 'InitOptionError': 'altair.api.init',
    'load_model': 'altair.api.load', 'export': 'altair.api.export',
    'AltairError': 'altair.errors',
}
__all__ = ['__version__', *_EXPORTS]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'altair' has no attribute '{name}'")
    import importlib
    module = importlib.import_module(_EXPORTS[name])
    return getattr(module, {'runs': 'list_runs', 'export': 'export_model'}.get(name, name))


def __dir__() -> list[str]:
    return sorted(__all__)
