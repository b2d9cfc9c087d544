"""``python -m lastmile.cli``: the same as the ``lastmile`` command."""

from lastmile.cli import main

main()
