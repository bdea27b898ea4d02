#ifndef RESUMABLE_CPROTOBUFC_SHIM_H
#define RESUMABLE_CPROTOBUFC_SHIM_H

// protobuf-c 1.4.1 (Debian 12's libprotobuf-c-dev).
#include <protobuf-c/protobuf-c.h>

#endif
