"""storage: the tapes of numba gradients, as numba overloads (runtime.py re-exports them).

A tape holds what the forward sweep pushes, for the reverse sweep to pop last first. Its
layout is picked from the type of its items (numba learns it from the witness list, see
tapes.py), so each push is a store at a counter and each pop a load:

    a number                  a NumPy array of its dtype
    a tuple of numbers        a record array (one row per push, a field per item)
    a range                   an int array of rows (start, stop, step)
    another tuple             a tuple of tapes, one per item
    anything else             a list of the witness's type, holding references (an array
                              pushed may be changed in place later; the reverse sweep reads
                              it as it is then, as with a Python list)

A tape whose values the reverse sweep reads only for their shape (`shape_tape_like`) keeps
nothing for a number: the tape is a zero of its type, and a pop gives that zero back. For a
C-contiguous array it keeps the shape (`Shapes`: a row of ints per push, not a reference that
would keep the array alive; row 0 holds the largest size pushed). When the forward sweep is
done, `spare(S)` makes one array as large as the largest pushed, and each pop (`shape_get`)
is a view of it with the shape kept (its values are not the array's: only its shape is read;
the view counts no reference, so popping costs no atomic operation).

Tapes are indexed with unsigned counters: numba then emits no wraparound test for a negative
index, and a loop that pushes stays a plain loop LLVM may vectorize.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.core.imputils import impl_ret_new_ref
from numba.cpython.listobj import ListInstance
from numba.extending import intrinsic, overload
from numba.np.arrayobj import make_array, populate_array
from numba.np.numpy_support import as_dtype
from numba.typed import List

TAPE_START = 16  # the least capacity a tape grows to

# the shapes pushed (from row 1; row 0: the largest size), and a zero of the dtype per dimension
Shapes = namedtuple("Shapes", ["rows", "zeros"])


def is_array(t) -> bool:
    return isinstance(t, types.Array)


def is_number(t) -> bool:
    return isinstance(t, (types.Number, types.Boolean))


def tuple_impl(name: str, args: str, n: int, item: str, space: dict,
               makes: list | None = None, pre: str = ""):
    """A function `name(args)` running `pre` then returning the tuple of `item` formatted
    with k = 0..n-1 (and make = makes[k])."""
    items = ", ".join(item.format(k=k, make=makes[k] if makes else "") for k in range(n))
    code = f"def {name}({args}):\n{pre}    return ({items}{',' if n == 1 else ''})\n"
    scope = dict(space)
    exec(code, scope)  # noqa: S102 - a fixed template over a tuple's length
    return scope[name]


def statements_impl(name: str, args: str, n: int, stmt: str, space: dict, pre: str = ""):
    """A function `name(args)` running `pre` then `stmt` formatted with k = 0..n-1."""
    body = pre + "".join(f"    {stmt.format(k=k)}\n" for k in range(n))
    scope = dict(space)
    exec(f"def {name}({args}):\n{body or '    pass'}\n", scope)  # noqa: S102 - a template
    return scope[name]


@intrinsic
def never(typingctx):
    """False, known to LLVM: `if runtime.never(): witness.append(v)` types the witness list
    and leaves no branch (nor call) in the compiled loop."""
    def codegen(context, builder, signature, args):
        return cgutils.false_bit
    return types.boolean(), codegen


def _numbers(item) -> bool:
    return isinstance(item, types.BaseTuple) and len(item) > 0 and all(
        is_number(t) for t in item.types)


def _record(item) -> np.dtype:
    return np.dtype([(f"f{k}", as_dtype(t)) for k, t in enumerate(item.types)], align=True)


def _is_records(t) -> bool:
    return is_array(t) and isinstance(t.dtype, types.Record)


def _is_rows(t) -> bool:
    """Rows of ints: the tape of ranges (start, stop, step)."""
    return is_array(t) and t.ndim == 2


def _is_shapes(t) -> bool:
    return isinstance(t, types.NamedTuple) and t.instance_class is Shapes


@intrinsic
def _empty_list(typingctx, witness):
    """A new empty list of the witness's type (the witness itself is never made)."""
    def codegen(context, builder, signature, args):
        made = ListInstance.allocate(context, builder, signature.return_type, 0)
        return impl_ret_new_ref(context, builder, signature.return_type, made.value)
    return witness(witness), codegen


def empty_value(context, builder, array):
    """An array value of type `array` holding nothing: size 0, no memory (a null meminfo,
    which reference counting skips)."""
    ary = make_array(array)(context, builder)
    intp = context.get_value_type(types.intp)
    itemsize = context.get_abi_sizeof(context.get_data_type(array.dtype))
    populate_array(ary, data=cgutils.get_null_value(ary.data.type),
                   shape=[intp(0)] * array.ndim, strides=[intp(itemsize)] * array.ndim,
                   itemsize=intp(itemsize), meminfo=None)
    return ary._getvalue()


@intrinsic
def _no_room(typingctx, dtype):
    """An empty 1-d array of the dtype, allocating nothing."""
    array = types.Array(dtype.dtype, 1, "C")
    return array(dtype), lambda context, builder, sig, args: empty_value(
        context, builder, sig.return_type)


def tape_like(witness, capacity):
    """An empty tape with room for `capacity` values of the type of the witness list's items
    (numba learns it from the appends the emitted code makes on a branch that never runs,
    so the tape can be made before the loops that fill it)."""


@overload(tape_like)
def _tape_like(witness, capacity):
    if not isinstance(witness, types.List) or not witness.is_precise():
        return None
    item = witness.dtype
    if is_number(item) or _numbers(item):
        dtype = as_dtype(item) if is_number(item) else _record(item)

        def impl(witness, capacity):
            if capacity == 0:  # given room before its loop: the first growth allocates
                return _no_room(dtype)
            return np.empty(capacity, dtype)
        return impl
    if isinstance(item, types.RangeType):
        dtype = as_dtype(item.dtype)
        return lambda witness, capacity: np.empty((capacity, 3), dtype)
    if not isinstance(item, types.BaseTuple):
        return lambda witness, capacity: _empty_list(witness)  # references, in a list
    space = {"np": np, "List": List}
    makes = []
    for k, t in enumerate(item.types):
        if is_number(t):
            space[f"dtype{k}"] = as_dtype(t)
            makes.append(f"np.empty(capacity, dtype{k})")
        else:
            space[f"type{k}"] = t
            makes.append(f"List.empty_list(type{k})")
    return tuple_impl("impl", "witness, capacity", len(makes), "{make}", space, makes)


def shape_tape_like(witness, capacity):
    """A tape whose values the reverse sweep reads only for their shape: a number's is a zero
    of its type (nothing is kept), anything else's a tape as tape_like makes it."""


@overload(shape_tape_like)
def _shape_tape_like(witness, capacity):
    if not isinstance(witness, types.List) or not witness.is_precise():
        return None
    item = witness.dtype
    if is_number(item):
        zero = as_dtype(item).type(0)
        return lambda witness, capacity: zero
    if is_array(item) and item.ndim > 0 and item == types.Array(item.dtype, item.ndim, "C"):
        ndim, dtype = item.ndim, as_dtype(item.dtype)
        zeros = (dtype.type(0),) * ndim
        return lambda witness, capacity: Shapes(np.zeros((capacity + 1, ndim), np.int64),
                                                zeros)
    return lambda witness, capacity: tape_like(witness, capacity)


def tape_grow(tape, capacity):
    """The tape with room for `capacity` values."""


@overload(tape_grow)
def _tape_grow(tape, capacity):
    if _is_shapes(tape):
        def impl_shapes(tape, capacity):
            return Shapes(tape_grow(tape.rows, capacity + 1), tape.zeros)
        return impl_shapes
    if _is_rows(tape):
        def impl_rows(tape, capacity):
            out = np.empty((capacity, tape.shape[1]), tape.dtype)
            out[:tape.shape[0]] = tape
            return out
        return impl_rows
    if is_array(tape):
        def impl(tape, capacity):
            out = np.empty(capacity, tape.dtype)
            out[:len(tape)] = tape
            return out
        return impl
    if isinstance(tape, types.BaseTuple):
        return tuple_impl("impl", "tape, capacity", len(tape),
                          "tape_grow(tape[{k}], capacity)", {"tape_grow": tape_grow})
    return lambda tape, capacity: tape  # a list, or a number standing for no values


def tape_put(tape, k, value):
    """Keep value at place k."""


@overload(tape_put)
def _tape_put(tape, k, value):
    if _is_records(tape):
        return statements_impl("impl", "tape, k, value", len(value.types),
                               "row.f{k} = value[{k}]", {"np": np},
                               "    row = tape[np.uint64(k)]\n")
    if _is_shapes(tape):
        return statements_impl(
            "impl", "tape, k, value", value.ndim, "tape.rows[at, {k}] = value.shape[{k}]",
            {"np": np}, "    at = np.uint64(k + 1)\n    if value.size > tape.rows[0, 0]:\n"
            "        tape.rows[0, 0] = value.size\n")
    if _is_rows(tape):
        def impl_range(tape, k, value):
            at = np.uint64(k)
            tape[at, 0] = value.start
            tape[at, 1] = value.stop
            tape[at, 2] = value.step
        return impl_range
    if is_array(tape):
        def impl(tape, k, value):
            tape[np.uint64(k)] = value
        return impl
    if isinstance(tape, types.BaseTuple):
        return statements_impl("impl", "tape, k, value", len(tape),
                               "tape_put(tape[{k}], k, value[{k}])", {"tape_put": tape_put})
    if is_number(tape):
        return lambda tape, k, value: None  # a shape-only tape of numbers keeps nothing

    def impl_list(tape, k, value):
        if k < len(tape):
            tape[k] = value
        else:
            tape.append(value)
    return impl_list


def tape_get(tape, k):
    """The value kept at place k."""


@overload(tape_get)
def _tape_get(tape, k):
    if _is_records(tape):
        return tuple_impl("impl", "tape, k", len(tape.dtype.fields), "row.f{k}", {"np": np},
                          pre="    row = tape[np.uint64(k)]\n")
    if _is_rows(tape):
        def impl_range(tape, k):
            at = np.uint64(k)
            return range(tape[at, 0], tape[at, 1], tape[at, 2])
        return impl_range
    if is_array(tape):
        return lambda tape, k: tape[np.uint64(k)]
    if isinstance(tape, types.BaseTuple):
        return tuple_impl("impl", "tape, k", len(tape), "tape_get(tape[{k}], k)",
                          {"tape_get": tape_get})
    if is_number(tape):
        return lambda tape, k: tape  # the zero a shape-only tape stands for its values with
    return lambda tape, k: tape[k]


def spare(tape):
    """After the pushes to a shape-only tape: for a tape of shapes, an array as large as the
    largest pushed, that each pop views with the shape kept; else the tape."""


@overload(spare)
def _spare(tape):
    if _is_shapes(tape):
        dtype = as_dtype(tape.types[1].dtype)
        return lambda tape: np.zeros(tape.rows[0, 0], dtype)
    return lambda tape: tape


def shape_get(tape, k, spare):
    """The value kept at place k of a shape-only tape (an array of the shape pushed)."""


@overload(shape_get)
def _shape_get(tape, k, spare):
    if not _is_shapes(tape):
        return lambda tape, k, spare: tape_get(tape, k)
    ndim = len(tape.types[1])
    shape = "".join(f"tape.rows[at, {axis}], " for axis in range(ndim))
    code = (f"def impl(tape, k, spare):\n    at = np.uint64(k + 1)\n"
            f"    return _shape_view(spare, ({shape}))\n")
    scope = {"np": np, "_shape_view": _shape_view}
    exec(code, scope)  # noqa: S102 - a fixed template over the arrays' dimensions
    return scope["impl"]


@intrinsic
def _shape_view(typingctx, spare, shape):
    """An array of that shape over the spare's memory, holding no reference to it: only its
    shape is ever read (by the helpers a ShapeRef goes to: zeros_like, owned, unbroadcast,
    densify...), so it needs not keep the spare alive, and popping it counts no reference
    (an atomic operation each time, trip after trip)."""
    view = types.Array(spare.dtype, len(shape), "C")

    def codegen(context, builder, signature, args):
        memory = make_array(signature.args[0])(context, builder, args[0])
        out = make_array(view)(context, builder)
        itemsize = context.get_abi_sizeof(context.get_data_type(view.dtype))
        dims = cgutils.unpack_tuple(builder, args[1], len(shape))
        strides, step = [], context.get_constant(types.intp, itemsize)
        for dim in reversed(dims):
            strides.insert(0, step)
            step = builder.mul(step, dim)
        populate_array(out, data=memory.data, shape=dims, strides=strides,
                       itemsize=context.get_constant(types.intp, itemsize), meminfo=None)
        return out._getvalue()
    return view(spare, types.UniTuple(types.intp, len(shape))), codegen


@njit(cache=True)
def tape_capacity(capacity, need):
    """The next capacity of a tape that must hold `need` values."""
    return max(TAPE_START, 2 * capacity, need)
