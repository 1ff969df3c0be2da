"""The tools compared: each turns a workload and its arguments into a zero-argument gradient
call, or says why it cannot (`Unavailable`), and turns that call's result into numpy arrays.

adjoint differentiates the sample function itself; the tracing tools (autograd, JAX, PyTorch)
run the samples' source re-bound to their numpy-like namespace, with the in-place helpers
swapped for the functional ports (ports.py). Everything a call needs (conversions, tracing
setup) is done before it is timed.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from .workloads import Workload


class Unavailable(Exception):
    """The tool cannot run this workload; the message is the table's short reason."""


def rebind(functions: list[Callable], xp: Any, entry: str) -> Callable:
    """The function `entry` of `functions`, with all of them sharing one namespace in which
    `np` is `xp`: the same source, running on another numpy-like library."""
    namespace: dict[str, Any] = {"np": xp, "math": math}
    for f in functions:
        namespace[f.__name__] = types.FunctionType(f.__code__, namespace, f.__name__,
                                                   f.__defaults__, f.__closure__)
    return namespace[entry]


def _short(error: BaseException) -> str:
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {first}"[:160]


class Tool:
    name = ""
    warms_up = False  # whether the first call is slower (compiling, filling caches)

    def version(self) -> str | None:
        return None

    def prepare(self, workload: Workload, args: tuple) -> Callable[[], Any]:
        raise NotImplementedError

    def to_numpy(self, result) -> tuple[np.ndarray, ...]:
        return tuple(np.asarray(g, dtype=float) for g in result)


class Primal(Tool):
    name = "primal"

    def prepare(self, workload, args):
        f = workload.function
        return lambda: f(*args)


class Adjoint(Tool):
    name = "adjoint"
    warms_up = True  # the first call specializes the gradient on its scalar arguments

    def version(self):
        import adjoint

        return adjoint.__version__

    def prepare(self, workload, args):
        import adjoint

        try:
            gradient = adjoint.grad(workload.function, wrt=workload.wrt)
        except Exception as e:  # anything the compiler refuses or fails on
            raise Unavailable(_short(e)) from e
        return lambda: gradient(*args)


class Handwritten(Tool):
    name = "hand-written"

    def prepare(self, workload, args):
        hand = workload.hand
        return lambda: hand(*args)


class Autograd(Tool):
    name = "autograd"

    def version(self):
        from importlib.metadata import version

        return version("autograd")

    def prepare(self, workload, args):
        try:
            import autograd
            import autograd.numpy as anp
        except ImportError as e:
            raise Unavailable("not installed") from e
        f = rebind(workload.peer_functions, anp, workload.function.__name__)
        positions = workload.positions

        def of_wrt(values):
            full = list(args)
            for p, v in zip(positions, values, strict=True):
                full[p] = v
            return f(*full)

        gradient = autograd.grad(of_wrt)
        wrt_values = tuple(args[p] for p in positions)
        return lambda: gradient(wrt_values)


class Jax(Tool):
    name = "JAX"
    jit = False
    warms_up = True

    def version(self):
        try:
            import jax
        except ImportError:
            return None
        return jax.__version__

    def prepare(self, workload, args):
        try:
            import jax
            import jax.numpy as jnp
        except ImportError as e:
            raise Unavailable("not installed") from e
        jax.config.update("jax_enable_x64", True)
        if self.jit and workload.no_jit:
            raise Unavailable(workload.no_jit)
        f = rebind(workload.peer_functions, jnp, workload.function.__name__)
        gradient = jax.grad(f, argnums=workload.positions)
        if self.jit:
            static = tuple(k for k, a in enumerate(args)
                           if not isinstance(a, np.ndarray) and k not in workload.positions)
            gradient = jax.jit(gradient, static_argnums=static)
        jargs = tuple(jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args)
        return lambda: jax.block_until_ready(gradient(*jargs))


class JaxJit(Jax):
    name = "JAX jit"
    jit = True


def torch_numpy():
    """The few numpy functions the samples call, spelled in torch (float64)."""
    import torch

    f64 = torch.float64

    def reduce(fn):
        def call(x, axis=None, keepdims=False):
            return fn(x) if axis is None else fn(x, dim=axis, keepdim=keepdims)
        return call

    return types.SimpleNamespace(
        exp=torch.exp, log=torch.log, tanh=torch.tanh, sqrt=torch.sqrt, sin=torch.sin,
        cos=torch.cos, einsum=torch.einsum, dot=torch.dot, diag=torch.diag,
        cross=torch.linalg.cross, arange=torch.arange,
        sum=reduce(torch.sum), mean=reduce(torch.mean), max=reduce(torch.amax),
        stack=lambda xs, axis=0: torch.stack(xs, dim=axis),
        concatenate=lambda xs, axis=0: torch.cat(xs, dim=axis),
        zeros=lambda shape: torch.zeros(shape, dtype=f64),
    )


class Torch(Tool):
    name = "PyTorch"
    warms_up = True

    def version(self):
        try:
            import torch
        except ImportError:
            return None
        return torch.__version__

    def prepare(self, workload, args):
        try:
            import torch
        except ImportError as e:
            raise Unavailable("not installed") from e
        f = rebind(workload.peer_functions, torch_numpy(), workload.function.__name__)
        targs = []
        for k, a in enumerate(args):
            if isinstance(a, np.ndarray):
                a = torch.from_numpy(a)
            elif k in workload.positions:
                a = torch.tensor(a, dtype=torch.float64)
            if k in workload.positions:
                a = a.detach().clone().requires_grad_(True)
            targs.append(a)
        wrt = [targs[p] for p in workload.positions]
        return lambda: torch.autograd.grad(f(*targs), wrt)

    def to_numpy(self, result):
        return tuple(g.detach().numpy() for g in result)


ALL = [Adjoint(), Handwritten(), Autograd(), Jax(), JaxJit(), Torch()]
NUMPY_ONLY = ["adjoint", "hand-written"]
