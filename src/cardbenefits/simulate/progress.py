"""Progress display for long replays: a rich bar when available, plain lines otherwise, silence off a TTY.

:func:`progress_reporter` returns a callable taking the number of events replayed so far (the
replay calls it every few thousand events) and a ``close`` function. Rich is optional: without
it, a terminal gets a plain ``replayed N events`` line rewritten in place. When the stream is
not a terminal (CI logs, pipes) nothing is printed unless ``force`` is true.

>>> import io
>>> update, close = progress_reporter(io.StringIO())
>>> update(4096); close()
>>> buffer = io.StringIO()
>>> update, close = progress_reporter(buffer, force=True, plain=True)
>>> update(4096); close()
>>> buffer.getvalue().strip().splitlines()[-1]
'replayed 4,096 events'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

__all__ = ["progress_reporter"]


def progress_reporter(
    stream: TextIO, *, total: int | None = None, force: bool = False, plain: bool = False
) -> tuple[Callable[[int], None], Callable[[], None]]:
    """``(update, close)`` for a replay; see the module docstring."""
    tty = bool(getattr(stream, "isatty", lambda: False)())
    if not (tty or force):
        return (lambda _done: None), (lambda: None)
    if not plain:
        try:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        except ImportError:
            pass
        else:
            bar = Progress(
                TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=Console(file=stream, force_terminal=force or None), transient=False,
            )  # fmt: skip
            task = bar.add_task("replay", total=total)
            bar.start()

            def update(done: int) -> None:
                bar.update(task, completed=done)

            return update, bar.stop

    def plain_update(done: int) -> None:
        stream.write(f"\rreplayed {done:,} events")
        stream.flush()

    def plain_close() -> None:
        stream.write("\n")
        stream.flush()

    return plain_update, plain_close
