#ifndef C_RESUMABLE_LAUNCH_H
#define C_RESUMABLE_LAUNCH_H

#include <sys/types.h>

// Starts a child process that dies with its parent: fork, then in the child
// prctl(PR_SET_PDEATHSIG, death_signal), a check that the parent is still the
// one that forked (it may have died before prctl took effect), and execve.
//
// In C because Swift cannot call fork safely (between fork and exec only
// async-signal-safe calls are allowed, and Swift code may allocate or take
// locks) and cannot call prctl at all (it is variadic). posix_spawn cannot set
// PR_SET_PDEATHSIG in the child.
//
// The child also gets: umask 077; its own process group; every signal at its default
// disposition and none blocked; stdin from /dev/null; stdout and stderr
// appended to `output_path` (created mode 0600); no other descriptor (every
// descriptor from 3 up is closed, close-on-exec or not).
//
// The kernel sends `death_signal` when the *thread* that called fork exits,
// not the process: call this from a thread that outlives the child (for
// example the one that then waits for it).
//
// Returns the child's pid, or -1 with `*error_number` set to the errno of the
// step that failed and `*failed_step` naming it (a static string): a failure
// in the child before exec is reported through a close-on-exec pipe, and the
// child is reaped before returning.
pid_t c_resumable_launch(const char *path, char *const argv[], char *const envp[],
                         const char *output_path, int death_signal,
                         int *error_number, const char **failed_step);

#endif
