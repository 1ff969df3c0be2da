"""`python -m adjoint.cli` runs the command line, as `python -m adjoint` does."""

from . import main

if __name__ == "__main__":
    main()
