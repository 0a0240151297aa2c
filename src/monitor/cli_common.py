"""Shared pieces of the command line: the error-handling group, the opened App, date options."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from . import app
from .errors import MonitorError

FC = TypeVar("FC", bound=Callable[..., Any])


class _Group(click.Group):
    """Turns every MonitorError into `monitor: error: …` and exit 2, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MonitorError as exc:
            click.echo(f"monitor: error: {exc}", err=True)
            ctx.exit(2)
        except BrokenPipeError:  # `monitor matches | head`: the reader left, nothing to report
            sys.stderr.close()
            ctx.exit(0)
        except OSError as exc:  # e.g. --out into a missing directory
            click.echo(f"monitor: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
            ctx.exit(2)


def _paths(ctx: click.Context) -> app.Paths:
    obj: app.Paths = ctx.obj
    return obj


def _open(ctx: click.Context, *, need_seeds: bool = True, need_feeds: bool = True) -> app.App:
    a = app.open_app(_paths(ctx), need_seeds=need_seeds, need_feeds=need_feeds)
    ctx.call_on_close(a.close)
    return a


def _date(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date (e.g. 2026-11-20 or 2026-11-20T07:00)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class _Usage(click.UsageError):
    """A usage mistake as one line on stderr (exit 2), without click's usage banner."""

    def show(self, file: Any = None) -> None:
        where = self.ctx.command_path if self.ctx else "monitor"
        click.echo(f"{where}: error: {self.format_message()}", err=True)


def text_or_json_option(help: str) -> Callable[[FC], FC]:
    """The --format option of the commands that print either a table for people or JSON for programs."""
    return click.option(
        "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help=help
    )


text_or_json = text_or_json_option("Human-readable text or JSON.")
