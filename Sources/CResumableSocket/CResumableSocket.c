#define _GNU_SOURCE
#include <stddef.h>
#include <sys/socket.h>
#include "CResumableSocket.h"

// The header's struct must be `struct ucred`, field for field.
_Static_assert(sizeof(c_resumable_peer_credentials) == sizeof(struct ucred), "ucred size");
_Static_assert(offsetof(c_resumable_peer_credentials, pid) == offsetof(struct ucred, pid), "ucred pid");
_Static_assert(offsetof(c_resumable_peer_credentials, uid) == offsetof(struct ucred, uid), "ucred uid");
_Static_assert(offsetof(c_resumable_peer_credentials, gid) == offsetof(struct ucred, gid), "ucred gid");
