#ifndef C_RESUMABLE_SOCKET_H
#define C_RESUMABLE_SOCKET_H

#include <stdint.h>

#include "CResumableLaunch.h"

// The layout of Linux's `struct ucred` (socket(7)), the value of the
// SO_PEERCRED socket option: glibc declares it only under _GNU_SOURCE, which
// Swift's Glibc module is not built with, so Swift cannot name it. A C struct
// (not a Swift one) so the layout is C's by definition; the static assert in
// CResumableSocket.c checks it against the real `struct ucred`.
typedef struct {
  int32_t pid;
  uint32_t uid;
  uint32_t gid;
} c_resumable_peer_credentials;

#endif
