"""The Python API behind ``altair`` and ``tools/``."""
