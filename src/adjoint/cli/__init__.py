"""The command line: adjoint grad / stale / show / check / rules.

    adjoint grad samples/mlp.py:loss --wrt W1,b1 -o mlp_grad.py   # write a gradient module
    adjoint grad model.py --all -o model_grad.py                  # every public function
    adjoint jvp samples/mlp.py:loss --wrt W1 -o mlp_jvp.py        # forward mode, the same way
    adjoint stale mlp_grad.py                  # exit 1 if regenerating would change the file
    adjoint show samples/mlp.py:loss --stage normalize            # the code after a stage
    adjoint check samples/mlp.py:loss --wrt W1                    # against finite differences
    adjoint rules --markdown                                      # the supported functions
    adjoint cache info                         # where the cache of emitted code is, its size

FILE is imported as a module named after it (see cli/importing.py for how, and what that
implies). The commands live one group to a module: generating (grad, stale), showing
(show), checking (check), listing (rules); writing holds the atomic writes and the
header of generated files.

Exit status: 0 on success; 1 when a function cannot be differentiated, the
user's file fails to import, `check` finds a disagreement or a generated file
is stale; 2 for usage errors (bad options, a missing file or function, a --wrt
that names no parameter).
"""

from __future__ import annotations

import click

from .. import __version__
from .caching import cache
from .checking import check
from .generating import grad, jvp, stale
from .importing import Loader, MissingFile, TargetError
from .listing import display_name, rules
from .showing import STAGES, show
from .writing import GENERATED_MARK

__all__ = ["GENERATED_MARK", "STAGES", "Loader", "MissingFile", "TargetError", "cache", "check",
           "display_name", "grad", "jvp", "main", "rules", "show", "stale"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="adjoint")
def main() -> None:
    """adjoint: readable gradient code from ordinary numeric Python.

    FILE is imported as a module named after it, with its folder first on sys.path (as
    pytest imports test files): its top-level code runs.
    """


for _command in (grad, jvp, stale, show, check, rules, cache):
    main.add_command(_command)
