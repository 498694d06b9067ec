"""Options of the command line generated from the settings' declarations, and the option blocks
several commands share (``--label``, ``--depth``, ``--group``, ``--where``, ``--seed``,
``--figure-format``), each declared once here.

:func:`option` turns a :class:`~counterpoint.parameters.Parameter` into a Typer option: its default,
its help with the declared range, and a check that refuses a value out of range with the message the
settings object itself gives (:meth:`~counterpoint.parameters.Parameter.problem`), after Typer's
``Invalid value for '--flag':``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import typer

from counterpoint.config import DEPTH_SETTING, FIGURE_FORMAT_SETTING, GROUP_SETTING, LABEL_SETTING, SEED_SETTING
from counterpoint.errors import CounterpointError
from counterpoint.parameters import REQUIRED, Parameter, declarations, flag_of

_DECLARED = object()  # "the declaration's default"


def option(parameter: Parameter, *spellings: str, help: str | None = None, default: Any = _DECLARED,
           **extra: Any) -> Any:
    """The Typer option of ``parameter``, typed as ``spellings`` (the longest names it in messages); ``help``
    replaces the declared help (the declared range is added either way), ``default`` the declared default."""
    flag = max(spellings, key=len)
    value = parameter.default if default is _DECLARED else default

    def check(given: Any) -> Any:
        message = parameter.problem(flag, given) if parameter.value_type is not bool else None
        if message is not None and not (given is None and value is None):
            raise typer.BadParameter(message)
        return given

    text = (parameter if help is None else replace(parameter, help=help)).help_text()
    return typer.Option(... if value is REQUIRED else value, *spellings, help=text, callback=check, **extra)


def setting(cls: type, name: str, *spellings: str, **overrides: Any) -> Any:
    """The option of the field ``name`` of the settings class ``cls`` (spelled ``--name`` unless ``spellings``)."""
    return option(declarations(cls)[name], *(spellings or (flag_of(name),)), **overrides)


def seed_option(help: str | None = None, default: Any = _DECLARED) -> Any:
    """Every ``--seed``: a whole number 0 … 2³²−1, what numpy's generators take."""
    return option(SEED_SETTING, "--seed", help=help, default=default)


def label_option(help: str | None = None) -> Any:
    """The ``--label``/``-l`` a command reads (required)."""
    return option(LABEL_SETTING, "--label", "-l", help=help)


def depth_option(help: str | None = None) -> Any:
    """``--depth``: cut hierarchical labels (unset: the whole label)."""
    return option(DEPTH_SETTING, "--depth", help=help)


def group_option(help: str | None = None) -> Any:
    """``--group``: the column whose values never straddle a split (unset: the dataset's)."""
    return option(GROUP_SETTING, "--group", help=help)


def figure_format_option() -> Any:
    """``--figure-format``: the formats of every static figure."""
    return option(FIGURE_FORMAT_SETTING, "--figure-format")


#: ``--where COLUMN=VALUE`` of analyze, compare, probe and factors (repeatable; one that selects no track is an error).
WHERE_HELP = ("Use only the tracks whose COLUMN reads VALUE, e.g. midi_source=original or "
              "midi_source=transcribed:basic-pitch-0.4.0 (repeatable: all must hold).")


def where_option() -> Any:
    """``--where COLUMN=VALUE`` (repeatable), read by :func:`selected_store`."""
    return typer.Option([], "--where", metavar="COLUMN=VALUE", help=WHERE_HELP)


def selected_store(path: Path, where: list[str]):
    """The store at ``path`` filtered by ``--where COLUMN=VALUE`` options (see ``Store.where``)."""
    from counterpoint.store import Store

    store = Store(path)
    for condition in where:
        column, equals, value = condition.partition("=")
        if not equals or not column.strip():
            raise typer.BadParameter(f"{condition!r}: write COLUMN=VALUE, e.g. midi_source=original",
                                     param_hint="'--where'")
        store = store.where(column.strip(), value)
    return store


def above_zero(value: float) -> float:
    """Typer callback for options that must be strictly positive (seconds, rates)."""
    if value is not None and not value > 0:
        raise typer.BadParameter(f"Input should be greater than 0, got {value}")
    return value


def hidden_sizes(text: str) -> tuple[int, ...]:
    """``--hidden 256,128`` → (256, 128); anything but positive integers is a usage error."""
    from counterpoint.probes.models import parse_hidden_sizes

    try:
        return parse_hidden_sizes(text)
    except CounterpointError as exc:
        raise typer.BadParameter(f"{exc} — write e.g. --hidden 256,128", param_hint="'--hidden'") from None


def check_output_path(value: Path) -> Path:
    """Typer callback for output folders: an existing file in their place is refused up front."""
    if value is not None and value.exists() and not value.is_dir():
        raise typer.BadParameter(f"{value} is a file, and this command writes a folder there — give a new folder name")
    return value
