"""analysis: the facts about one IR function that the emitters read.

`activity` finds the active names: those that depend on a `wrt` parameter (varied) and
that the result depends on (useful). Only active names get adjoints. Integers, shapes,
`len`, comparisons and constants are passive. The analysis is per name, over the whole
function: conservative where one name holds values of different kinds. `shifts` proves that
the max a log-sum-exp or softmax subtracts cancels out of every result, so it carries no
derivative and needs no tie bookkeeping.

`memory` finds what may share memory; `check_writes` refuses an in-place write `y[i] = v`
while another name that may share y's memory is still to be read: its derivative would be
lost.

`kinds` knows which names hold Python or NumPy scalars and which hold ints, so the reverse
stage can skip broadcasting reductions and index adjoints in place; `values` which surely
hold arrays and which may hold lists.

`plan.to_be_recorded` decides, from what the reverse sweep reads, which overwritten values
must be kept: renamed at the top level, pushed on a stack in loops.
"""
