"""reverse: the adjoint function, a forward sweep then a reverse sweep.

The forward sweep is the primal, statement for statement, plus what the reverse sweep needs
kept (analysis.plan): stacks for values overwritten in loops. The reverse sweep walks the
statements backwards. For each active statement it looks up the rule, fills in its
formulas and adds each contribution to the adjoint of the input: the first contribution
defines the adjoint (`x_bar = ...`), later ones add out of place (`x_bar = x_bar + ...`).
Loops run reversed over their recorded range or trip count; branches replay their recorded
test. Before a loop, adjoints it accumulates start from zero.

`driver` builds the function (grad, value_and_grad, or the `_fwd`/`_bwd` split of a helper);
`sweep.Sweep` emits the two sweeps, with the forward and reverse of each kind of statement
in `forward`, `assign`, `writes` and `control`.
"""

from .driver import reverse

__all__ = ["reverse"]
