"""Typed exceptions, one per status code the server answers with."""


class ResumableError(Exception):
    """A call the server refused or could not complete.

    ``code`` is the status code's name (``"NOT_FOUND"`` …) and ``message`` the
    server's explanation, written for a person to act on. When a limit or an
    access rule of the server refused the call, ``setting`` names the server
    setting that would let it through (``"max_runs"``, ``"max_connections"``,
    ``"allow_peer"`` …; see ``Envelope.status_setting``); else it is None.
    """

    code = "UNKNOWN"

    def __init__(self, message, code=None, setting=None):
        super().__init__(message)
        self.message = message
        self.setting = setting or None
        if code is not None:
            self.code = code

    def __str__(self):
        return f"{self.code}: {self.message}"


class InvalidArgument(ResumableError):
    code = "INVALID_ARGUMENT"


class DeadlineExceeded(ResumableError):
    """The call's deadline passed; the run itself goes on."""

    code = "DEADLINE_EXCEEDED"


class NotFound(ResumableError):
    code = "NOT_FOUND"


class AlreadyExists(ResumableError):
    code = "ALREADY_EXISTS"


class PermissionDenied(ResumableError):
    code = "PERMISSION_DENIED"


class ResourceExhausted(ResumableError):
    code = "RESOURCE_EXHAUSTED"


class FailedPrecondition(ResumableError):
    code = "FAILED_PRECONDITION"


class Aborted(ResumableError):
    code = "ABORTED"


class Unimplemented(ResumableError):
    code = "UNIMPLEMENTED"


class Internal(ResumableError):
    code = "INTERNAL"


class Unavailable(ResumableError):
    """The server (or its Redis) cannot be reached now; retry shortly."""

    code = "UNAVAILABLE"


class ConnectionClosed(Unavailable):
    """The connection to the server closed before the answer came."""


_TYPED = (
    InvalidArgument,
    DeadlineExceeded,
    NotFound,
    AlreadyExists,
    PermissionDenied,
    ResourceExhausted,
    FailedPrecondition,
    Aborted,
    Unimplemented,
    Internal,
    Unavailable,
)
_BY_NAME = {cls.code: cls for cls in _TYPED}
__all__ = ["ResumableError", "ConnectionClosed"] + [cls.__name__ for cls in _TYPED]


def error_for(code_name, message, setting=None):
    """The exception for a status code name such as ``"NOT_FOUND"``."""
    cls = _BY_NAME.get(code_name, ResumableError)
    return cls(message, code=code_name, setting=setting)
