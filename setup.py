"""Packaging for Altair. The heavy stack (torch, mmcv with ops) is installed by
``make install`` (scripts/install.sh) because mmcv must be built against the
installed torch; see README.md."""
from __future__ import annotations

import re
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent
VERSION = re.search(r"__version__ = '([^']+)'",
                    (ROOT / 'altair' / 'version.py').read_text()).group(1)


def _reqs(name: str) -> list[str]:
    lines = (ROOT / 'requirements' / name).read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith('#')]


setup(
    name='altair-seg',
    version=VERSION,
    description='Semantic segmentation toolkit on mmsegmentation: sliding-window '
                'inference, TTA, self-supervised pretraining, remote sensing.',
    long_description=(ROOT / 'README.md').read_text(),
    long_description_content_type='text/markdown',
    python_requires='>=3.10',
    packages=find_packages(include=['altair', 'altair.*']),
    install_requires=_reqs('torch.txt') + ['mmcv==2.1.0'] + _reqs('runtime.txt'),
    # DeepSpeed is optional: only the *-deepspeed-* configs use it (CUDA); below 0.19.7,
    # which removed deepspeed.runtime.fp16.onebit that mmengine 0.10.7's strategy imports
    # track: TensorBoard / MLflow logging; export: ONNX, onnxruntime and safetensors;
    # medical: SimpleITK for NRRD / MetaImage / DICOM series volumes
    extras_require={'tests': _reqs('tests.txt'), 'data': _reqs('data.txt'),
                    'track': _reqs('track.txt'), 'export': _reqs('export.txt'),
                    'medical': _reqs('medical.txt'),
                    'deepspeed': ['deepspeed>=0.14,<0.19.7']},
    entry_points={'console_scripts': ['altair = altair.cli:main']},
    license='Apache-2.0',
)
