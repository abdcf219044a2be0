"""The exception that says a request's own input is at fault (docs/serving.md#in-a-service).

`InputError` is raised for a video, a sentence or a table the caller gave that cannot be used as given: the same call
with other input works, and the message (one line) says which input and why. A service answers it as the client's
mistake (HTTP 400) and anything else as its own failure. It is a `ValueError`, as these errors were before it
existed; `InputTypeError`, for an input of the wrong kind (bytes for a sentence), is also a `TypeError`.
Standard library only: every layer may raise it.
"""

from __future__ import annotations


class InputError(ValueError):
    """A video, a sentence, a frame range or a table given by the caller is at fault; the message says which and why.
    `acga_tf.data.types.DataError` (a file of the user's data or video) is one.

    Attributes:
        message: the message without the paths of files on the machine that raised it (an uploaded video's
            temporary name, the model's vocabulary file): what a service may show its client (`str(e)` may name
            them, for the person running the command).
    """

    def __init__(self, text: str, *, message: str | None = None):
        super().__init__(text)
        self.message = text if message is None else message


class InputTypeError(InputError, TypeError):
    """An input of the wrong kind: bytes or a file object where a sentence or a video's path goes."""
