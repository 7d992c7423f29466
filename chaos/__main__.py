"""`python -m chaos` runs the CLI."""

from chaos.cli import main

main()
