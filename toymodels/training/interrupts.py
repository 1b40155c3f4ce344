"""Stopping a fit on SIGTERM or SIGINT within seconds, at any point, leaving a resumable run (issue 26).

Lightning only notes a SIGTERM and acts on it at the end of a training step, so a long stretch inside
one step (drawing a batch, an evaluation) delays the stop as long as it lasts. Here, while a fit runs,
both signals are noted; inside a section that changes no training state (:func:`interruptible`:
drawing batches, scoring the held-out set) the signal also stops the fit at once, and elsewhere (the
optimizer step, a checkpoint being written) at the end of the step (:class:`StopAtStepEnd`), so the
checkpoint kept at the stop is always of a whole step. SIGINT raises KeyboardInterrupt, SIGTERM
Lightning's SIGTERMException: the fit's caller saves the checkpoint and says how to resume.
"""

from __future__ import annotations

import contextlib
import signal
import threading

import lightning as L
from lightning.pytorch.utilities.exceptions import SIGTERMException

_state = {"installed": False, "pending": None, "safe": 0}


def _stop(signum: int):
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SIGTERMException


def _handler(signum, frame) -> None:
    _state["pending"] = signum
    if _state["safe"]:
        _stop(signum)


@contextlib.contextmanager
def stop_signals():
    """While the fit runs: SIGTERM and SIGINT noted (Lightning adds its own SIGTERM handler in front)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    _state.update(installed=True, pending=None, safe=0)
    for s in previous:
        signal.signal(s, _handler)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        _state.update(installed=False, pending=None, safe=0)


@contextlib.contextmanager
def interruptible():
    """A section that changes no training state: a stop signal (pending or arriving) ends it at once."""
    if not _state["installed"]:
        yield
        return
    _state["safe"] += 1
    try:
        if _state["pending"] is not None:
            _stop(_state["pending"])
        yield
    finally:
        _state["safe"] -= 1


def received() -> int | None:
    """The stop signal noted during this fit, if any."""
    return _state["pending"]


def stop_pending() -> None:
    """Raise the pending stop, if any (at the end of a training step)."""
    if _state["installed"] and _state["pending"] is not None:
        _stop(_state["pending"])


class StopAtStepEnd(L.Callback):
    """Stops the fit at the end of the step in which a signal came (its checkpoint is of a whole step)."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        stop_pending()
