#ifndef RESUMABLE_CHIREDIS_SHIM_H
#define RESUMABLE_CHIREDIS_SHIM_H

// hiredis 0.14.1 (Debian 12's libhiredis-dev). Only the RESP reader and the
// argv command formatter are used: the connection itself is a SwiftNIO
// channel, so no hiredis call ever blocks a thread.
#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#endif
