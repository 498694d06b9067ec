"""The `counterpoint` command: a package of thin commands that parse arguments and call the Python API.

:mod:`~counterpoint.cli.app` holds the Typer apps, the table of options that cannot combine and the
safety net; :mod:`~counterpoint.cli.options` the options generated from the settings' declarations
and the option blocks several commands share; :mod:`~counterpoint.cli.output` everything printed.
Each other module holds the commands of one stage (models and weights, datasets, embedding, the
store, analysis, the whole job), registered in the order ``counterpoint --help`` lists them.
"""

from __future__ import annotations

from counterpoint.cli import weights, dataset, embed, store, analysis, distance, run  # noqa: F401  (each registers its commands)
from counterpoint.cli.app import OPTION_RULES, Exclusive, Requires, app, friendly

__all__ = ["app", "main", "friendly", "OPTION_RULES", "Exclusive", "Requires"]


def main() -> None:
    """Run the command line (the `counterpoint` entry point)."""
    app()
