"""Python source for the configs ``altair init`` writes: values as literals, comments, paths.

Every string from a user's folder (class names, paths, attribute values) passes through
:func:`string_literal` or :func:`comment_text`, so it is data in the written file, never code.
"""
from __future__ import annotations

import keyword
import math
import os
import re
import unicodedata
from pathlib import Path
from typing import Any

from altair.config import UNSAFE_PATH_CHARS


def literal(value: Any, indent: int = 0) -> str:
    """Python source for ``value`` (dicts with identifier keys as ``dict(k=v)``), wrapped at
    92 columns. Strings go through :func:`string_literal`: a class name, path or attribute value from a
    user's folder is a literal, never code."""
    pad = ' ' * (indent + 4)
    if hasattr(value, 'item') and not isinstance(value, (str, bytes)):
        value = value.item()  # a NumPy scalar
    if isinstance(value, dict):
        if not value:
            return 'dict()'
        # Python reads identifiers NFKC-normalised (dict(º=1) has the key 'o'): such keys
        # are written as strings
        named = all(isinstance(k, str) and k.isidentifier() and not keyword.iskeyword(k)
                    and unicodedata.normalize('NFKC', k) == k for k in value)
        items = [f'{k}={literal(v, indent + 4)}' if named else
                 f'{literal(k, indent + 4)}: {literal(v, indent + 4)}' for k, v in value.items()]
        opening, closing = ('dict(', ')') if named else ('{', '}')
    elif isinstance(value, (list, tuple)):
        items = [literal(v, indent + 4) for v in value]
        opening, closing = ('[', ']') if isinstance(value, list) else ('(', ')')
        if isinstance(value, tuple) and len(value) == 1:
            items[0] += ','
    elif isinstance(value, str):
        return string_literal(value)
    elif value is None or isinstance(value, (bool, int)):
        return repr(value)
    elif isinstance(value, float):
        return repr(value) if math.isfinite(value) else f"float('{value}')"
    else:
        raise TypeError(f'cannot write a {type(value).__name__} into a config: {value!r}')
    one = opening + ', '.join(items) + closing
    if len(one) + indent <= 92 and '\n' not in one:
        return one
    if not any('\n' in i or i.startswith(('dict(', '{', '[', '(')) for i in items):
        lines, line = [], ''  # scalars: as many per line as fit
        for item in items:
            if line and len(pad) + len(line) + len(item) + 2 > 92:
                lines.append(line.rstrip())
                line = ''
            line += item + ', '
        lines.append(line.rstrip().rstrip(','))
        body = '\n'.join(pad + ln for ln in lines)
    else:
        body = ',\n'.join(pad + i for i in items)
    return f'{opening}\n{body},\n{" " * indent}{closing}'


def string_literal(text: str) -> str:
    """``repr(text)`` with ``{`` and ``}`` escaped (``\\x7b``, ``\\x7d``): mmengine substitutes
    ``{{ fileDirname }}``-style placeholders in a config's source before parsing it, so a
    brace pair inside a string could otherwise be replaced by text that ends the string."""
    return repr(text).replace('{', '\\x7b').replace('}', '\\x7d')


# characters that end a line for some reader of the file (Python, str.splitlines, editors)
BREAKS = re.compile('[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]')


def comment_text(text: str) -> str:
    """``text`` safe for one ``# ...`` line: line breaks, other control and format characters
    and braces written as escapes, so no user string can end the comment and start code."""
    def escape(ch: str) -> str:
        return repr(ch)[1:-1] if len(repr(ch)) > 3 else f'\\x{ord(ch):02x}'
    return ''.join(escape(ch) if BREAKS.match(ch) or ch in '{}' or not ch.isprintable()
                   else ch for ch in text)


def data_root_source(root: Path, config: Path) -> str:
    """Python source for a config's ``data_root``: relative to the config's own folder
    (mmengine's ``{{ fileDirname }}``) when the data lie there or below, so the folder can
    move; else the absolute path. A folder whose path holds a quote, backslash or line break
    gets the absolute path too: mmengine pastes the folder into the code as it is."""
    folder = config.resolve().parent
    rel = os.path.relpath(root.resolve(), folder)
    if rel.startswith('..') or UNSAFE_PATH_CHARS & set(str(folder)):
        return literal(str(root))
    here = "'{{ fileDirname }}'"
    return here if rel == '.' else f"{here} + '/' + {literal(rel)}"
