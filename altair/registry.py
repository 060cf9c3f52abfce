"""Every Altair registry, in one place.

Each is a child of the matching mmseg registry (of mmengine's for strategies and functions,
which mmseg does not define) with scope ``'altair'``, so a config with
``default_scope = 'altair'`` resolves Altair's components first and then mmseg's and
mmengine's. ``locations`` lists the modules imported lazily on first lookup.
"""
from __future__ import annotations

from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import STRATEGIES as MMENGINE_STRATEGIES
from mmengine.registry import Registry
from mmseg.registry import DATA_SAMPLERS as MMSEG_DATA_SAMPLERS
from mmseg.registry import DATASETS as MMSEG_DATASETS
from mmseg.registry import EVALUATOR as MMSEG_EVALUATOR
from mmseg.registry import HOOKS as MMSEG_HOOKS
from mmseg.registry import INFERENCERS as MMSEG_INFERENCERS
from mmseg.registry import LOG_PROCESSORS as MMSEG_LOG_PROCESSORS
from mmseg.registry import LOOPS as MMSEG_LOOPS
from mmseg.registry import METRICS as MMSEG_METRICS
from mmseg.registry import MODEL_WRAPPERS as MMSEG_MODEL_WRAPPERS
from mmseg.registry import MODELS as MMSEG_MODELS
from mmseg.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMSEG_OPTIM_WRAPPER_CONSTRUCTORS
from mmseg.registry import OPTIM_WRAPPERS as MMSEG_OPTIM_WRAPPERS
from mmseg.registry import OPTIMIZERS as MMSEG_OPTIMIZERS
from mmseg.registry import PARAM_SCHEDULERS as MMSEG_PARAM_SCHEDULERS
from mmseg.registry import RUNNER_CONSTRUCTORS as MMSEG_RUNNER_CONSTRUCTORS
from mmseg.registry import RUNNERS as MMSEG_RUNNERS
from mmseg.registry import TASK_UTILS as MMSEG_TASK_UTILS
from mmseg.registry import TRANSFORMS as MMSEG_TRANSFORMS
from mmseg.registry import VISBACKENDS as MMSEG_VISBACKENDS
from mmseg.registry import VISUALIZERS as MMSEG_VISUALIZERS
from mmseg.registry import WEIGHT_INITIALIZERS as MMSEG_WEIGHT_INITIALIZERS

from altair.errors import AltairError
from altair.plugins import load_plugins

SCOPE = 'altair'


class NameCollisionError(AltairError, KeyError):
    """A component registered under a name that Altair, mmseg or mmengine already uses."""


def _where(obj: object) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', obj)}"


def _same_definition(a: object, b: object) -> bool:
    """The same class or function reached through two import paths: a plugin imported as its
    checkout copy (``projects.<name>.<pkg>.head``) and as the installed ``<pkg>.head``. Same
    qualified name, and one module path ends with the other."""
    if getattr(a, '__qualname__', None) != getattr(b, '__qualname__', None):
        return False
    ma, mb = sorted((getattr(a, '__module__', '') or '', getattr(b, '__module__', '') or ''),
                    key=len)
    return bool(ma) and (ma == mb or mb.endswith('.' + ma))


class AltairRegistry(Registry):
    """A ``Registry`` that (1) on its lazy import also imports its ancestors' ``locations`` and
    the installed plugins, and (2) refuses a name that is already taken.

    (1) mmengine's ``get`` imports only the queried registry's locations and then reads the
    parents' tables as they are, so with ``default_scope='altair'`` an mmseg name such as
    ``SegLocalVisualizer`` would not be found until something imported ``mmseg.visualization``;
    plugins (``altair.plugins`` entry points) load at the same moment.

    (2) mmengine would let a child registry silently shadow its parent's ``PSPHead``; here a
    name registered in this registry or any ancestor (mmseg's, mmengine's) raises
    :class:`NameCollisionError`, ``force=True`` included. Registering the same definition again
    (see :func:`_same_definition`) keeps the first and is a no-op.
    """

    def import_from_location(self) -> None:
        super().import_from_location()
        if self.parent is not None:
            self.parent.import_from_location()
        load_plugins()

    def _register_module(self, module, module_name=None, force: bool = False) -> None:
        names = [module_name] if isinstance(module_name, str) else list(
            module_name or [getattr(module, '__name__', None)])
        new = []
        for name in names:
            taken = self._module_dict.get(name)
            if taken is not None and _same_definition(taken, module):
                continue
            if taken is not None:
                raise NameCollisionError(
                    f"cannot register {_where(module)} as '{name}' in {self.scope}'s {self.name} "
                    f"registry: {_where(taken)} already has that name; pick another name "
                    '(Altair registries refuse to replace a component, force=True included)')
            self._refuse_shadowing(name, module)
            new.append(name)
        if new:
            super()._register_module(module, new, force)

    def _refuse_shadowing(self, name: str, module: object) -> None:
        parent = self.parent
        while parent is not None:
            parent.import_from_location()
            if name in parent._module_dict:
                raise NameCollisionError(
                    f"cannot register {_where(module)} as '{name}' in {self.scope}'s {self.name} "
                    f"registry: it would shadow {parent.scope}'s '{name}' "
                    f'({_where(parent._module_dict[name])}); pick another name, e.g. '
                    f"'{module.__module__.split('.')[0].title().replace('_', '')}{name}'")
            parent = parent.parent


def _child(name: str, parent: Registry, *locations: str) -> Registry:
    return AltairRegistry(name, parent=parent, scope=SCOPE, locations=list(locations))


RUNNERS = _child('runner', MMSEG_RUNNERS, 'altair.engine')
RUNNER_CONSTRUCTORS = _child('runner constructor', MMSEG_RUNNER_CONSTRUCTORS, 'altair.engine')
LOOPS = _child('loop', MMSEG_LOOPS, 'altair.engine')
HOOKS = _child('hook', MMSEG_HOOKS, 'altair.engine')
DATASETS = _child('dataset', MMSEG_DATASETS, 'altair.datasets')
DATA_SAMPLERS = _child('data sampler', MMSEG_DATA_SAMPLERS, 'altair.datasets')
TRANSFORMS = _child('transform', MMSEG_TRANSFORMS, 'altair.datasets')
MODELS = _child('model', MMSEG_MODELS, 'altair.models', 'altair.models.selfsup')
MODEL_WRAPPERS = _child('model_wrapper', MMSEG_MODEL_WRAPPERS, 'altair.engine')
WEIGHT_INITIALIZERS = _child('weight initializer', MMSEG_WEIGHT_INITIALIZERS, 'altair.models')
OPTIMIZERS = _child('optimizer', MMSEG_OPTIMIZERS, 'altair.engine')
# mmseg has no strategy registry; FlexibleRunner's strategies live in mmengine's
STRATEGIES = _child('strategy', MMENGINE_STRATEGIES, 'altair.engine')
FUNCTIONS = _child('function', MMENGINE_FUNCTIONS, 'altair.engine')
OPTIM_WRAPPERS = _child('optim_wrapper', MMSEG_OPTIM_WRAPPERS, 'altair.engine')
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor',
                                    MMSEG_OPTIM_WRAPPER_CONSTRUCTORS, 'altair.engine')
PARAM_SCHEDULERS = _child('parameter scheduler', MMSEG_PARAM_SCHEDULERS, 'altair.engine')
METRICS = _child('metric', MMSEG_METRICS, 'altair.evaluation')
EVALUATOR = _child('evaluator', MMSEG_EVALUATOR, 'altair.evaluation')
TASK_UTILS = _child('task util', MMSEG_TASK_UTILS, 'altair.models')
VISUALIZERS = _child('visualizer', MMSEG_VISUALIZERS, 'altair.visualization')
VISBACKENDS = _child('vis_backend', MMSEG_VISBACKENDS, 'altair.visualization')
LOG_PROCESSORS = _child('log_processor', MMSEG_LOG_PROCESSORS, 'altair.visualization')
INFERENCERS = _child('inferencer', MMSEG_INFERENCERS, 'altair.inference')

ALL: dict[str, Registry] = {
    name: reg for name, reg in globals().items()
    if isinstance(reg, Registry) and reg.scope == SCOPE}
