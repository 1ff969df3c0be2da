"""`python -m adjoint` runs the command line."""

from .cli import main

main(prog_name="adjoint")
