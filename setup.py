"""Packaging for Altair. The heavy stack (torch, mmcv with ops) is installed by
``make install`` (scripts/install.sh) because mmcv must be built against the
installed torch; see docs/get-started/installation.md.

The dependencies are declared as ranges (requirements/*.txt); the tested versions are pinned
in requirements/constraints.txt, which ``make install`` applies. A built wheel carries the
shipped configs as package data under ``altair/.mim/configs`` (``altair.shipped``)."""
from __future__ import annotations

import re
from pathlib import Path

import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).parent
VERSION = re.search(r"__version__ = '([^']+)'",
                    (ROOT / 'altair' / 'version.py').read_text()).group(1)


def _reqs(name: str) -> list[str]:
    lines = (ROOT / 'requirements' / name).read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith('#')]


class BuildWithConfigs(build_py):
    """build_py that also copies ``configs/`` into the built package (``altair/.mim``), so
    an installed wheel finds them without the checkout; editable installs read the
    checkout's ``configs/`` directly."""

    def run(self) -> None:
        super().run()
        if not self.dry_run:
            target = Path(self.build_lib) / 'altair' / '.mim' / 'configs'
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(ROOT / 'configs', target,
                            ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))


setup(
    name='altair-seg',
    version=VERSION,
    description='Semantic segmentation toolkit on mmsegmentation: sliding-window '
                'inference, TTA, self-supervised pretraining, remote sensing.',
    long_description=(ROOT / 'README.md').read_text(),
    long_description_content_type='text/markdown',
    python_requires='>=3.10',
    packages=find_packages(include=['altair', 'altair.*']),
    # mmseg 1.2.2 needs 2.0.0rc4 <= mmcv < 2.2.0; the installed one must be built against
    # the installed torch (scripts/install.sh builds 2.1.0)
    install_requires=_reqs('torch.txt') + ['mmcv>=2.0.0rc4,<2.2.0'] + _reqs('runtime.txt'),
    # DeepSpeed is optional: only the *-deepspeed-* configs use it (CUDA); below 0.19.7,
    # which removed deepspeed.runtime.fp16.onebit that mmengine 0.10.7's strategy imports
    # track: TensorBoard / MLflow logging; export: ONNX, onnxruntime and safetensors;
    # medical: SimpleITK for NRRD / MetaImage / DICOM series volumes
    extras_require={'tests': _reqs('tests.txt'), 'data': _reqs('data.txt'),
                    'track': _reqs('track.txt'), 'export': _reqs('export.txt'),
                    'medical': _reqs('medical.txt'), 'docs': _reqs('docs.txt'),
                    'deepspeed': ['deepspeed>=0.14,<0.19.7']},
    entry_points={'console_scripts': ['altair = altair.cli:main']},
    cmdclass={'build_py': BuildWithConfigs},
    license='Apache-2.0',
)
