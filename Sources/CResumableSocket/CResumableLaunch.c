#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "CResumableLaunch.h"

// What the child reports through the pipe when a step before exec fails.
typedef struct {
  int step;
  int error_number;
} launch_report;

static const char *const launch_steps[] = {
  "setpgid", "prctl(PR_SET_PDEATHSIG)", "the parent exited before the child started",
  "open /dev/null", "open the output file", "dup2", "execve",
};

// Child side, after fork: async-signal-safe calls only. Never returns.
static void launch_child(int report_fd, pid_t parent, const char *path, char *const argv[],
                         char *const envp[], const char *output_path, int death_signal,
                         int descriptor_limit) {
  launch_report report = {0, 0};
  // Handlers are reset by exec, but an ignored signal (SIGTERM and SIGINT are,
  // under swift-service-lifecycle) would stay ignored in the child.
  struct sigaction default_action = {0};
  default_action.sa_handler = SIG_DFL;
  for (int signal_number = 1; signal_number < NSIG; signal_number++) {
    (void)sigaction(signal_number, &default_action, NULL);
  }
  // The child's files are private, whatever mask the parent had at this instant
  // (a server narrows its mask to 0177 while binding, which would leave the
  // child unable to enter the directories it makes).
  (void)umask(077);
  if (setpgid(0, 0) != 0) { report.step = 0; goto fail; }
  if (prctl(PR_SET_PDEATHSIG, death_signal, 0, 0, 0) != 0) { report.step = 1; goto fail; }
  // The parent may have died between fork and prctl: then no signal will come.
  if (getppid() != parent) { report.step = 2; errno = ESRCH; goto fail; }
  int input = open("/dev/null", O_RDONLY);
  if (input < 0) { report.step = 3; goto fail; }
  int output = open(output_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (output < 0) { report.step = 4; goto fail; }
  if (dup2(input, 0) < 0 || dup2(output, 1) < 0 || dup2(output, 2) < 0) { report.step = 5; goto fail; }
  // Keep only 0, 1 and 2 across exec: not every descriptor of the parent is
  // close-on-exec (NIO's listening sockets are not). Marking rather than
  // closing keeps the report pipe open until exec.
  if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    for (int descriptor = 3; descriptor < descriptor_limit; descriptor++) {
      int flags = fcntl(descriptor, F_GETFD);
      if (flags >= 0) (void)fcntl(descriptor, F_SETFD, flags | FD_CLOEXEC);
    }
  }
  sigset_t none;
  sigemptyset(&none);
  (void)sigprocmask(SIG_SETMASK, &none, NULL);
  execve(path, argv, envp);
  report.step = 6;
fail:
  report.error_number = errno;
  (void)!write(report_fd, &report, sizeof report);
  _exit(127);
}

pid_t c_resumable_launch(const char *path, char *const argv[], char *const envp[],
                         const char *output_path, int death_signal,
                         int *error_number, const char **failed_step) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    *error_number = errno;
    *failed_step = "pipe2";
    return -1;
  }
  pid_t parent = getpid();
  // Read before fork: getrlimit is not on the async-signal-safe list.
  struct rlimit limit;
  int descriptor_limit = 65536;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < 1048576) {
    descriptor_limit = (int)limit.rlim_cur;
  }
  // No signal handler of ours may run in the child before exec.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  pid_t pid = fork();
  if (pid == 0) {
    close(pipe_fds[0]);
    launch_child(pipe_fds[1], parent, path, argv, envp, output_path, death_signal, descriptor_limit);
  }
  int fork_error = errno;
  pthread_sigmask(SIG_SETMASK, &previous, NULL);
  close(pipe_fds[1]);
  if (pid < 0) {
    close(pipe_fds[0]);
    *error_number = fork_error;
    *failed_step = "fork";
    return -1;
  }
  // End of file: exec succeeded (the pipe closed on exec). A report: it failed.
  launch_report report;
  ssize_t got;
  do {
    got = read(pipe_fds[0], &report, sizeof report);
  } while (got < 0 && errno == EINTR);
  close(pipe_fds[0]);
  if (got == (ssize_t)sizeof report) {
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
    *error_number = report.error_number;
    *failed_step = launch_steps[report.step];
    return -1;
  }
  return pid;
}
