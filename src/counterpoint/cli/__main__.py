"""``python -m counterpoint.cli``: the `counterpoint` command."""

from counterpoint.cli import main

main()
