"""Checks of arguments and seeds, and the saving and restoring of values changed in place."""

from __future__ import annotations

import numpy as np

from ..errors import ApiError, NonScalarOutput, UnsupportedArgument
from .shapes import _ndim, _shape


def check_arrays(fname: str, **values) -> None:
    """Refuse a list, tuple or dict where code compiled for no call in particular took an
    argument to hold an array or a number (its adjoints add with `+`)."""
    for name, value in values.items():
        if isinstance(value, (list, tuple, dict)):
            raise ApiError(f"this gradient of {fname} was compiled for an array or a number in "
                           f"{name}, not a {type(value).__name__}: compile it for this call "
                           f"with adjoint.grad({fname}), which specializes on lists, or pass "
                           "an array")


def written(g, y):
    """g, the adjoint (or tangent) of a value written into the array y; zero where y holds
    ints or bools, which cast the value (no derivative goes through the cast)."""
    if getattr(getattr(y, "dtype", None), "kind", "f") in "fc":
        return g
    return np.zeros_like(g) if np.ndim(g) else 0.0


def rebinds_number(value, fname: str, target: str, other: str, op: str) -> None:
    """Refuse `target op= v` where target holds an array (written in place) that `other`,
    read later, may share: a number it rebinds, as Python does."""
    if not isinstance(value, (int, float, complex, np.generic)):
        raise UnsupportedArgument(
            f"in {fname}, {target} holds an array, written in place by {target} {op}= ... "
            f"while {other} may share its memory and is read later; write {target} = "
            f"{target} {op} ... or copy first ({target} = {target}.copy()) so the derivative "
            "through both is right")


def rebinds_item(container, item, fname: str, place: str, op: str) -> None:
    """Refuse `c[k] op= v` where c is a list or dict (not an array) and its item an array:
    Python changes that array in place, and other names may hold it; a number is replaced,
    as the derivative code follows."""
    if not isinstance(container, np.ndarray) and not isinstance(
            item, (int, float, complex, np.generic)):
        raise UnsupportedArgument(
            f"in {fname}, {place} holds an array, changed in place by {place} {op}= ... "
            f"(another name may hold the same array); write {place} = {place} {op} ... "
            "so the derivative is right")


def rebinds(value, fname: str, param: str) -> None:
    """Refuse `q += v` in a function the differentiated code calls when q holds an array:
    it would change the caller's array in place."""
    if hasattr(value, "__setitem__"):
        raise ApiError(f"{fname} changes its argument {param} in place (an augmented "
                       f"assignment on an array); a function called by differentiated code "
                       "must return new values instead")


NO_ENTRY = object()  # what runtime.entry keeps for a dict entry that did not exist


def entry(d, key):
    """d[key], or NO_ENTRY for a key a dict does not have yet."""
    if isinstance(d, dict) and key not in d:
        return NO_ENTRY
    return d[key]


def put_entry(d, key, value) -> None:
    """d[key] = value, or the entry removed again where there was none."""
    if value is NO_ENTRY:
        del d[key]
    else:
        d[key] = value


def snapshot(x):
    """A copy of x's current values (an array, list or dict changes in place; a number
    does not)."""
    if isinstance(x, list):
        return list(x)
    if isinstance(x, dict):
        return dict(x)
    return x.copy() if hasattr(x, "copy") and hasattr(x, "shape") else x


def kept(x):
    """The value a function returns, copied where its reverse sweep will change it: its
    arrays, lists and dicts, inside the tuples, lists and dicts that hold them (the
    containers of the same types)."""
    if type(x) is tuple or (isinstance(x, tuple) and hasattr(x, "_make")):
        items = [kept(v) for v in x]
        return tuple(items) if type(x) is tuple else type(x)._make(items)
    if type(x) is list:
        return [kept(v) for v in x]
    if type(x) is dict:
        return {k: kept(v) for k, v in x.items()}
    return snapshot(x)


def refill(x, values) -> None:
    """Put `values` back into x, in place: x's identity is the caller's (a number the
    caller holds never changed)."""
    if not hasattr(x, "__setitem__"):
        return
    if isinstance(x, list):
        x[:] = values
    elif isinstance(x, dict):
        x.clear()
        x.update(values)
    else:
        x[...] = values


def restore(x, values):
    """x with its old values: written back in place for an array, else the old value."""
    if hasattr(x, "__setitem__") and hasattr(values, "shape") and _shape(x) == values.shape:
        x[...] = values
        return x
    return values


def check_seed(ans, seed, fname: str):
    """Refuse the default seed 1.0 for a non-scalar result: `grad` needs a scalar."""
    if type(ans) is float and type(seed) is float:  # a number's seed: nothing to check
        return seed
    if type(seed) is float and seed == 1.0 and isinstance(ans, (tuple, list, dict)):
        raise NonScalarOutput(
            f"grad of {fname} needs a scalar result, but {fname} returned a "
            f"{type(ans).__name__}; for a function returning (loss, auxiliary data) pass "
            "has_aux=True, as in JAX")
    if isinstance(seed, (tuple, list)) and not isinstance(ans, (tuple, list)):
        raise ApiError(f"{fname}_bar is a {type(seed).__name__}, but {fname} returned no tuple "
                       f"(with has_aux=True, {fname} must return (a scalar, auxiliary data))")
    if type(seed) is float and seed == 1.0 and _ndim(ans) != 0:
        raise NonScalarOutput(
            f"grad of {fname} needs a scalar result, but {fname} returned an array of shape "
            f"{np.shape(ans)}; reduce it (np.sum, np.mean) or pass {fname}_bar= with the "
            "shape of the result to get a vector-Jacobian product"
        )
    if not isinstance(ans, (list, tuple, dict)) and not isinstance(seed, (
            list, tuple, dict)) and (_ndim(seed) or _ndim(ans)) and _shape(seed) != _shape(ans):
        raise ApiError(f"{fname}_bar has shape {np.shape(seed)}, but {fname} returned shape "
                       f"{np.shape(ans)}; the seed is the adjoint of the result, of its shape")
    return seed


def check_distinct(index, fname: str, target: str, array=None) -> None:
    """Refuse a write `target[index] = v` (or `+=`) through integer arrays that pick one
    place twice: NumPy keeps the last value written there, and the derivative of the
    values it drops would be added back. With the array written, the places are its own
    (`[0, -3]` picks one place of three twice)."""
    items = index if isinstance(index, tuple) else (index,)
    arrays = [np.asarray(i) for i in items if isinstance(i, (np.ndarray, list))]
    arrays = [a for a in arrays if a.dtype.kind in "iu" and a.size > 1]
    if not arrays:
        return
    if isinstance(array, np.ndarray):
        picked = np.arange(array.size).reshape(array.shape)[items].ravel()
        again = np.unique(picked).size < picked.size
    else:
        stacked = np.stack([a.ravel() for a in np.broadcast_arrays(*arrays)])
        again = np.unique(stacked, axis=1).shape[1] < stacked.shape[1]
    if again:
        raise UnsupportedArgument(
            f"{fname} writes into {target} through an index that picks one place more than "
            "once, where only the last write stays: its derivative is not supported; "
            "write each place once (np.add.at adds them all up)")
