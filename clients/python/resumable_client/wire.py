"""The wire, shared by the sync and the async client: framing, envelopes, status codes.

A frame is a 4-byte big-endian length N, then N bytes of an ``Envelope``. Nothing here does
I/O: the clients read and write bytes, and this module turns them into messages and errors,
so both clients frame, check and decode in one place.
"""

import os
import socket
import stat
import struct

from . import errors

try:
    from . import resumable_pb2 as pb2
except ImportError as error:  # pragma: no cover - explained to the user
    raise ImportError(
        "resumable_client.resumable_pb2 cannot be imported: install the package with "
        "`pip install ./clients/python` (it needs the protobuf package), or regenerate the module "
        "from proto/ with `make proto`"
    ) from error

SOCKET_NAME = "resumable.sock"
HEADER = struct.Struct(">I")
#: The largest frame a client accepts from the server; checked on the header, before reading.
MAX_FRAME = 64 * 1024 * 1024


def default_socket_path(environ=None, uid=None):
    """``$XDG_RUNTIME_DIR/resumable.sock`` when that is set, else
    ``/tmp/resumable-UID/resumable.sock`` (UID: the effective user id), as the server's."""
    environ = os.environ if environ is None else environ
    runtime = environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, SOCKET_NAME)
    return os.path.join(private_directory(uid), SOCKET_NAME)


def private_directory(uid=None):
    """``/tmp/resumable-UID``: the default socket's directory without ``XDG_RUNTIME_DIR``."""
    return f"/tmp/resumable-{os.geteuid() if uid is None else uid}"


def resolve_socket_path(socket_path):
    """The socket a client uses: ``socket_path``, else ``$RESUMABLE_SOCKET``, else the default."""
    return socket_path or os.environ.get("RESUMABLE_SOCKET") or default_socket_path()


def trusts(server_uid, client_uid, trusted_server_uid=None):
    """Whether a client running as ``client_uid`` talks to a server running as
    ``server_uid``: the same user, root, or ``trusted_server_uid``."""
    return server_uid in (client_uid, 0) or (trusted_server_uid is not None and server_uid == trusted_server_uid)


def check_socket_directory(socket_path):
    """Refuses a socket in ``/tmp/resumable-UID`` unless that directory is this user's own:
    a real directory owned by the effective uid, with no group or other bits."""
    directory = private_directory()
    if os.path.dirname(socket_path) != directory:
        return
    try:
        info = os.lstat(directory)
    except FileNotFoundError:
        return  # no server there: connecting says so
    uid = os.geteuid()
    if stat.S_ISLNK(info.st_mode):
        problem = "it is a symbolic link"
    elif not stat.S_ISDIR(info.st_mode):
        problem = "it is not a directory"
    elif info.st_uid != uid:
        problem = f"it belongs to uid {info.st_uid}, not to you (uid {uid})"
    elif info.st_mode & 0o077:
        problem = f"its mode {info.st_mode & 0o777:o} lets other users in (it must be 700)"
    else:
        return
    raise errors.PermissionDenied(
        f"refusing the socket directory {directory}: {problem}. Remove it (or fix it: `chmod 700`, "
        "owned by you), or choose another socket path"
    )


def unreachable(socket_path, error):
    """The ``Unavailable`` for a socket that cannot be connected to."""
    return errors.Unavailable(
        f"cannot connect to {socket_path}: {getattr(error, 'strerror', None) or error}; is `resumable serve` running?"
    )


def check_peer(sock, socket_path, trust_server_uid):
    """Raises ``Unavailable`` unless the process listening on ``sock`` runs as this user, as
    root or as ``trust_server_uid`` (the kernel says who it is: ``SO_PEERCRED``)."""
    _pid, server_uid, _gid = struct.unpack(
        "3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    )
    if not trusts(server_uid, os.geteuid(), trust_server_uid):
        raise errors.Unavailable(
            f"the server on {socket_path} runs as uid {server_uid}, not you (uid {os.geteuid()}); "
            f"pass trust_server_uid={server_uid} if you trust it"
        )


def closed(socket_path, error=None):
    """The ``ConnectionClosed`` for a connection that ended before its answer."""
    detail = f": {error}" if error else ""
    return errors.ConnectionClosed(f"the server at {socket_path} closed the connection{detail}")


# -- frames ------------------------------------------------------------------------------


def encode_request(request_id, method, request, timeout=None):
    """The bytes of one request frame: header and envelope. ``request`` is a protobuf
    message (or raw bytes); ``timeout`` in seconds becomes the call's deadline."""
    envelope = pb2.Envelope(
        request_id=request_id,
        method=method,
        payload=request if isinstance(request, bytes) else request.SerializeToString(),
        timeout_ms=max(1, int(timeout * 1000)) if timeout else 0,
    )
    body = envelope.SerializeToString()
    return HEADER.pack(len(body)) + body


def frame_length(header):
    """The length a frame's 4-byte header announces, refused over ``MAX_FRAME`` before any
    byte of the body is read."""
    (length,) = HEADER.unpack(header)
    if length > MAX_FRAME:
        raise errors.Internal(f"the server sent a frame of {length} bytes (the client accepts {MAX_FRAME} at most)")
    return length


def decode_envelope(body):
    """The ``Envelope`` of one frame's body."""
    envelope = pb2.Envelope()
    try:
        envelope.ParseFromString(body)
    except Exception as error:  # protobuf's DecodeError; any garbage lands here
        raise errors.Internal(f"the server sent a frame that is not an envelope: {error}") from error
    return envelope


def status_name(code):
    """``"NOT_FOUND"`` for ``STATUS_CODE_NOT_FOUND``; ``"UNKNOWN"`` for a number not in the proto."""
    if code in pb2.StatusCode.values():
        return pb2.StatusCode.Name(code)[len("STATUS_CODE_"):]
    return "UNKNOWN"


def reply_error(reply):
    """The typed ``ResumableError`` a reply envelope's status names, or None when it is OK."""
    if reply.status_code == pb2.STATUS_CODE_OK:
        return None
    return errors.error_for(status_name(reply.status_code), reply.status_message, reply.status_setting)


def decode_reply(reply, response_type):
    """The response message a reply envelope carries, or the typed ``ResumableError`` its
    status names."""
    error = reply_error(reply)
    if error is not None:
        raise error
    response = response_type()
    try:
        response.ParseFromString(reply.payload)
    except Exception as error:
        raise errors.Internal(f"the server's {response_type.__name__} does not parse: {error}") from error
    return response


def decode_stream_frame(reply, response_type):
    """One frame of a server stream: ``(message or None, ended)``. An empty last frame carries
    no message; a frame with an error status raises it (and ends the stream)."""
    message = decode_reply(reply, response_type)
    if reply.end_of_stream and not reply.payload:
        return None, True
    return message, reply.end_of_stream
