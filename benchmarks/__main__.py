"""Run the benchmarks and print markdown: `python -m benchmarks [--quick] [options]`.

Sections: gradient/primal ratios of every workload and tool, adjoint's gradient generation
time against function size, peak memory of gradients of overwriting loops, the derivative
toolbox (jvp, hvp, Jacobians), Dask and NumPy at scale, and the numba backend on element
loops. `make bench` runs them all; `--quick` is a smoke run (small problems, one round).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time


def limit_threads(argv: list[str]) -> str:
    """One compute thread per library unless `--threads=N` says otherwise (`0`: the libraries'
    defaults). Set before numpy, torch or JAX load their thread pools. On a small machine,
    pools of several libraries in one process take turns badly: a numpy matmul timed after a
    torch or JAX call waits milliseconds for BLAS threads to wake, which drowns the
    measurement."""
    threads = next((a.split("=", 1)[1] for a in argv if a.startswith("--threads=")), "1")
    if threads != "0":
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, threads)
        if threads == "1":
            os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                  "intra_op_parallelism_threads=1")
    return threads


if __name__ == "__main__":
    limit_threads(sys.argv)

import numpy as np  # noqa: E402

from . import compile_time, memory, ratios, scale, toolbox  # noqa: E402
from . import tools as tools_  # noqa: E402
from .workloads import all_workloads  # noqa: E402

SECTIONS = ("ratios", "compile", "memory", "toolbox", "scale", "jitted")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(tools: list[tools_.Tool]) -> str:
    versions = [f"Python {platform.python_version()}", f"numpy {np.__version__}"]
    families = set()
    for tool in tools:
        family = tool.name.split()[0]
        v = tool.version()
        if v is not None and family not in families:
            families.add(family)
            versions.append(f"{family} {v}")
    load = ""
    if hasattr(os, "getloadavg"):
        load = f" Load average at the start: {os.getloadavg()[0]:.2f}."
    blas = os.environ.get("OPENBLAS_NUM_THREADS")
    threads = (f" Compute threads: {blas} per library." if blas
               else " Compute threads: the libraries' defaults.")
    return (f"Machine: {cpu_model()}, {os.cpu_count()} cores, {platform.system()} "
            f"{platform.machine()}. " + ", ".join(versions) + f". All float64.{threads}{load}")


def ratio_section(workload_names=None, tool_names=None, *, quick=False, rounds=None,
                  min_time=None, log=print) -> str:
    """Run the gradient/primal benchmark and return its markdown."""
    workloads = [w for w in all_workloads() if not workload_names or w.name in workload_names]
    tools = [t for t in tools_.ALL if not tool_names or t.name in tool_names]
    rounds = rounds or (1 if quick else 5)
    min_time = min_time if min_time is not None else (0.0 if quick else 0.05)
    rows = []
    for w in workloads:
        start = time.perf_counter()
        rows.append(ratios.run_workload(w, tools, quick=quick, rounds=rounds,
                                        min_time=min_time, slow_s=1.0, log=log))
        log(f"  {w.name}: {time.perf_counter() - start:.1f} s")
    names = [t.name for t in tools]
    parts = [
        "### Gradient time / primal time",
        "",
        f"Median of {rounds} interleaved round{'s' if rounds > 1 else ''} (tools slower than "
        "1 s per gradient: of 3); lower is better. The primal is the sample's numpy function; "
        "every gradient was checked against the hand-written one before it was timed.",
        "",
        machine(tools),
        "",
        ratios.table(rows, names),
    ]
    footnotes = ratios.notes(rows)
    if footnotes:
        parts += ["", footnotes]
    if any(r.workload.name in ratios.TARGETS for r in rows) and "adjoint" in names:
        parts += ["", "### adjoint against its goals",
                  "", "Measured here; in parentheses, reference figures from a 2-core machine.",
                  "",
                  ratios.targets_table(rows)]
    return "\n".join(parts)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small problems, one round")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help="comma-separated: " + ", ".join(SECTIONS))
    parser.add_argument("--workloads", help="comma-separated workload names (default: all)")
    parser.add_argument("--tools", help="comma-separated tool names (default: all)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 5; quick 1)")
    parser.add_argument("--threads", default="1", metavar="N",
                        help="compute threads per library, given as --threads=N (default 1; "
                        "0: the libraries' defaults)")
    args = parser.parse_args(argv)
    sections = args.sections.split(",")
    log = lambda message: print(message, file=sys.stderr, flush=True)  # progress on stderr
    out = []
    if "ratios" in sections:
        out.append(ratio_section(args.workloads and args.workloads.split(","),
                                 args.tools and args.tools.split(","),
                                 quick=args.quick, rounds=args.rounds, log=log))
    if "compile" in sections:
        log("  compile time ...")
        results = compile_time.run(compile_time.QUICK_SIZES if args.quick else
                                   compile_time.SIZES, repeats=1 if args.quick else 3)
        out.append("### Time to generate a gradient (`adjoint.grad`, cache cleared)\n\n"
                   + compile_time.table(results))
    if "memory" in sections:
        log("  memory ...")
        results = memory.run(memory.QUICK_NS if args.quick else memory.NS)
        out.append("### Peak memory of the gradient against the primal (tracemalloc)\n\n"
                   + memory.table(results))
    if "toolbox" in sections:
        out.append(toolbox.section(args.workloads and args.workloads.split(","),
                                   args.tools and args.tools.split(","), quick=args.quick,
                                   rounds=args.rounds, machine=machine, log=log))
    if "scale" in sections:
        out.append(scale.section(quick=args.quick, log=log))
    if "jitted" in sections:  # the numba backend (needs numba)
        from . import jitted

        log("  numba backend ...")
        out.append(jitted.section(quick=args.quick, log=log))
    print("\n\n".join(out))


if __name__ == "__main__":
    main()
