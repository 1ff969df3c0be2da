"""The command that shows and clears the disk cache of emitted gradients."""

from __future__ import annotations

import click

from .. import cache as cache_


@click.group(short_help="Show or clear the cache of emitted gradients.")
def cache() -> None:
    """The disk cache of emitted gradients: `adjoint.grad` keeps the code it emits there
    and reuses it while the sources, what their names mean, the rules and adjoint's version
    are unchanged. It is bounded by size and age ($ADJOINT_CACHE_MAX_MB, default 64;
    $ADJOINT_CACHE_MAX_DAYS, default 30): past the bound, the entries used longest ago go.
    $ADJOINT_CACHE moves it (a folder) or turns it off (0)."""


@cache.command(short_help="Where the cache is, how many entries, how big.")
def info() -> None:
    """Print the cache's folder, its entries and size, and its bound."""
    got = cache_.info()
    if got["folder"] is None:
        click.echo("the cache is off (ADJOINT_CACHE=0)")
        return
    click.echo(f"folder: {got['folder']}")
    click.echo(f"entries: {got['entries']}")
    click.echo(f"size: {got['bytes'] / 2 ** 20:.2f} MiB of {got['max_bytes'] / 2 ** 20:g} "
               f"MiB; entries unused for {got['max_age_days']:g} days go")


@cache.command(short_help="Remove every entry.")
def clear() -> None:
    """Remove every entry of the cache (the next gradient compiles afresh)."""
    click.echo(f"removed {cache_.clear()} entries")
