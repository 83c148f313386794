"""How an exercise check answers: :class:`ExerciseFeedback` (an ``AssertionError`` that a notebook shows as its message
alone) and the helpers every check uses to call a student's function and say what passed.

The checks themselves are in :mod:`aulib.course.exercises` and :mod:`aulib.course.experiment_exercises`; both import
this module, so neither imports the other at load time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch


class ExerciseFeedback(AssertionError):
    """A check that failed, with what to look at; shown without a traceback in a notebook."""


def _show_feedback(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> list[str]:
    message = f"✗ {value}"
    # An error output whose traceback is just the message: the student sees no stack, while papermill, nbgrader
    # and nbclient still see the cell fail, with ExerciseFeedback and the message as its name and value.
    show = getattr(shell, "_showtraceback", None)
    if show is not None:
        show(etype, str(value), [message])
    else:
        print(message)
    return [message]


def _install_notebook_display() -> None:
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "set_custom_exc"):
        shell.set_custom_exc((ExerciseFeedback,), _show_feedback)


_install_notebook_display()


def call_student(check: str, function: Callable, *args: Any) -> Any:
    """Call the student's function; a stub or a crash becomes feedback rather than a traceback."""
    name = getattr(function, "__name__", "your function")
    try:
        return function(*args)
    except NotImplementedError:
        raise ExerciseFeedback(f"Not written yet: {check} calls your {name}, which still raises NotImplementedError. "
                               "Replace the stub with your code, then run this cell again.") from None
    except Exception as error:
        raise ExerciseFeedback(f"Your {name} raised {type(error).__name__}: {error}. Check the types and shapes "
                               "its docstring asks for.") from None


def passed(message: str) -> bool:
    print(f"✓ {message}")
    return True


def as_array(value: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    array = np.asarray(value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value, dtype=float)
    if array.shape != shape:
        raise ExerciseFeedback(f"{what} should have shape {shape}; yours has {array.shape}.")
    return array
