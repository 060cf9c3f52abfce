#!/usr/bin/env python
"""Write ``docs/reference/cli.md`` from the ``altair`` argument parser, or check it.

    python tools/cli_reference.py           # rewrite the page
    python tools/cli_reference.py --check   # exit 1 when the page differs from the parser

The page is made only from ``altair.cli_parser.build_parser()``: one section per command
(its description and usage), one table row per option (every name it answers to, its
argument, default and help) and, at the end, the deprecated names that still work.
``tests/test_docs.py`` fails when the committed page is stale.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / 'docs' / 'reference' / 'cli.md'


def _line(text: str) -> str:
    """``text`` on one line."""
    return ' '.join(str(text).split())


def _cell(text: str) -> str:
    """Text that stays inside one Markdown table cell."""
    return _line(text).replace('|', '\\|')


def _argument(action: argparse.Action) -> str:
    if action.nargs == 0:
        return ''
    if action.choices is not None:
        value = '{' + ','.join(str(c) for c in action.choices) + '}'
    elif isinstance(action.metavar, tuple):
        value = ' '.join(action.metavar)
    else:
        value = action.metavar or action.dest.upper()
    if action.nargs in ('+', '*'):
        value += ' ...'
    elif action.nargs == '?':
        value = f'[{value}]'
    return _cell(f'`{value}`')


def _default(action: argparse.Action) -> str:
    if action.nargs == 0 or action.default in (None, False, argparse.SUPPRESS):
        return ''
    return f'`{action.default}`'


def _rows(parser: argparse.ArgumentParser) -> list[str]:
    rows = ['| option | argument | default | what it does |', '|---|---|---|---|']
    for a in parser._actions:
        if isinstance(a, argparse._HelpAction) or a.help == argparse.SUPPRESS:
            continue
        names = ', '.join(f'`{n}`' for n in a.option_strings) or f'`{a.dest}` (positional)'
        rows.append(f'| {names} | {_argument(a)} | {_default(a)} | {_cell(a.help or "")} |')
    return rows


def _deprecated(parser: argparse.ArgumentParser, command: str) -> list[str]:
    return [f'| `altair {command}` | `{name}` | `{a.new}` |'
            for a in parser._actions if getattr(a, 'new', None)
            for name in a.option_strings]


def render(parser: argparse.ArgumentParser) -> str:
    """The Markdown page of ``parser`` (the ``altair`` parser with its sub-commands)."""
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    out = ['# Command line', '',
           '<!-- made by `python tools/cli_reference.py` from altair/cli_parser.py; '
           'tests/test_docs.py checks it -->', '',
           _line(parser.description), '',
           'Every command exits 0 on success and 2 on bad input (one line naming the file, '
           'key or value). `altair COMMAND --help` prints the same as this page.', '',
           '| command | what it does |', '|---|---|']
    helps = {c.dest: c.help for c in sub._choices_actions}
    out += [f'| [`altair {name}`](#altair-{name}) | {_cell(helps.get(name, ""))} |'
            for name in sub.choices]
    deprecated = []
    for name, p in sub.choices.items():
        usage = ' '.join(p.format_usage().split()).removeprefix('usage: ')
        out += ['', f'## altair {name}', '', _line(p.description or helps.get(name, '')), '',
                '```text', usage, '```', '', *_rows(p)]
        deprecated += _deprecated(p, name)
    if deprecated:
        out += ['', '## Deprecated names', '',
                'They still work and warn once per process (a `FutureWarning`).', '',
                '| command | old name | use |', '|---|---|---|', *deprecated]
    return '\n'.join(out) + '\n'


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from altair.cli_parser import build_parser
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--check', action='store_true', help='exit 1 if the page is stale')
    args = ap.parse_args()
    text = render(build_parser())
    if args.check:
        if not PAGE.is_file() or PAGE.read_text() != text:
            print(f'{PAGE.relative_to(ROOT)} is stale: run python tools/cli_reference.py',
                  file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text)
    print(f'wrote {PAGE.relative_to(ROOT)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
