/*
 * fork/exec for astd's children. Between fork and execve the child of a multi-threaded process
 * may call only async-signal-safe functions (another thread may have held the malloc lock, the
 * Swift runtime's locks or stdio's at the moment of fork): no malloc, no printf, no Swift. Every
 * buffer the child touches is therefore prepared by the parent or lives on the child's stack.
 */
#define _GNU_SOURCE
#include "ast_spawn.h"
#include "ast_identity.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#if __has_include(<linux/close_range.h>)
#include <linux/close_range.h>
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* What the child writes to the exec-report pipe when it cannot exec. */
struct spawn_report {
    int stage;
    int error;
};

int ast_spawn_format_pid(char *out, pid_t pid) {
    if (pid < 0) {
        out[0] = '\0';
        return 0;
    }
    char reversed[AST_SPAWN_PID_DIGITS];
    unsigned int value = (unsigned int)pid;
    int count = 0;
    do {
        reversed[count++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0 && count < AST_SPAWN_PID_DIGITS);
    for (int i = 0; i < count; i++) {
        out[i] = reversed[count - 1 - i];
    }
    out[count] = '\0';
    return count;
}

/* Child only: tells the parent why it could not exec, then exits without running atexit
 * handlers or flushing the parent's stdio buffers (which would print them twice). */
static void _Noreturn report_and_exit(int report_fd, int stage, int error) {
    struct spawn_report report = {stage, error};
    ssize_t written;
    do {
        written = write(report_fd, &report, sizeof report);
    } while (written < 0 && errno == EINTR);
    _exit(127);
}

/* Child only. Never returns. */
static void _Noreturn run_child(const char *path, char *const argv[], char *const envp[],
                                const int *fds, int nfds, const int *pid_slots, int npid_slots,
                                int flags, volatile int *identity_slot, pid_t expected_parent, int report_fd, long max_fd) {
    /* Die with the forking thread (see ast_spawn.h). If the parent already died between fork
     * and this prctl, the signal will never come: getppid() then names a reaper, not the parent. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) {
        report_and_exit(report_fd, AST_SPAWN_STAGE_PDEATHSIG, errno);
    }
    if (getppid() != expected_parent) {
        report_and_exit(report_fd, AST_SPAWN_STAGE_PARENT_GONE, ESRCH);
    }

    /* Default dispositions for every signal, including those the parent ignores (Swift and NIO
     * ignore SIGPIPE). The mask stays full (set by the parent around fork) until just before
     * execve, so no handler of the parent can run in the child in between. sigaction fails for
     * SIGKILL, SIGSTOP and the signals glibc reserves; that is expected. */
    struct sigaction default_action = {0};
    default_action.sa_handler = SIG_DFL;
    sigemptyset(&default_action.sa_mask);
    for (int signo = 1; signo < NSIG; signo++) {
        if (signo == SIGKILL || signo == SIGSTOP) continue;
        (void)sigaction(signo, &default_action, NULL);
    }

    if ((flags & AST_SPAWN_NEW_PROCESS_GROUP) && setpgid(0, 0) < 0) {
        report_and_exit(report_fd, AST_SPAWN_STAGE_PROCESS_GROUP, errno);
    }

    /* Move fds[i] to 3 + i. A passed descriptor may already sit anywhere in 3 .. 3 + nfds - 1
     * (or be one of fds[j]'s targets), so first copy every one of them, and the report pipe,
     * above that range; then dup2 the copies down. dup2 leaves FD_CLOEXEC clear on the target. */
    const int first_free = 3 + nfds;
    if (report_fd < first_free) {
        int moved = fcntl(report_fd, F_DUPFD_CLOEXEC, first_free);
        if (moved < 0) report_and_exit(report_fd, AST_SPAWN_STAGE_DESCRIPTORS, errno);
        report_fd = moved;
    }
    int copies[nfds > 0 ? nfds : 1];
    for (int i = 0; i < nfds; i++) {
        copies[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, first_free);
        if (copies[i] < 0) report_and_exit(report_fd, AST_SPAWN_STAGE_DESCRIPTORS, errno);
    }
    for (int i = 0; i < nfds; i++) {
        if (dup2(copies[i], 3 + i) < 0) report_and_exit(report_fd, AST_SPAWN_STAGE_DESCRIPTORS, errno);
    }
    /* Everything from first_free up (the copies, the report pipe, whatever the parent had open
     * without O_CLOEXEC) is closed by execve. Marking rather than closing keeps the report pipe
     * usable should execve fail. Fallback for kernels before 5.11: close one by one. */
    if (close_range((unsigned int)first_free, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
        for (long fd = first_free; fd < max_fd; fd++) {
            if (fd != report_fd) (void)close((int)fd);
        }
    }

    /* LISTEN_PID, WATCHDOG_PID: only the child knows its pid. */
    const pid_t self = getpid();
    for (int k = 0; k < npid_slots; k++) {
        char *entry = envp[pid_slots[k]];
        while (*entry != '\0' && *entry != '=') entry++;
        if (*entry == '=') (void)ast_spawn_format_pid(entry + 1, self);
    }

    /* The supervisor's table names this pid before the program runs (a plain store: async-signal-safe). */
    if (identity_slot != NULL) ast_store_i32((volatile int32_t *)identity_slot, (int32_t)self);

    sigset_t empty;
    sigemptyset(&empty);
    (void)sigprocmask(SIG_SETMASK, &empty, NULL);
    execve(path, argv, envp);
    report_and_exit(report_fd, AST_SPAWN_STAGE_EXEC, errno);
}

pid_t ast_spawn(const char *path, char *const argv[], char *const envp[],
                const int *fds, int nfds,
                const int *pid_slots, int npid_slots,
                int flags, volatile int *identity_slot,
                int *stage_out, int *errno_out, pid_t *failed_pid_out) {
    *stage_out = AST_SPAWN_STAGE_NONE;
    *errno_out = 0;
    *failed_pid_out = 0;

    int report[2];
    if (pipe2(report, O_CLOEXEC) < 0) {
        *stage_out = AST_SPAWN_STAGE_PIPE;
        *errno_out = errno;
        return -1;
    }
    const pid_t parent = getpid();
    long max_fd = sysconf(_SC_OPEN_MAX);
    if (max_fd < 0 || max_fd > 65536) max_fd = 65536;

    /* Block every signal around fork so that none is handled in the child before it has reset
     * the dispositions; the parent's mask is restored right after. */
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    const pid_t pid = fork();
    if (pid == 0) {
        close(report[0]);
        run_child(path, argv, envp, fds, nfds, pid_slots, npid_slots, flags, identity_slot, parent, report[1], max_fd);
    }
    if (pid > 0 && identity_slot != NULL) ast_store_i32((volatile int32_t *)identity_slot, (int32_t)pid);
    const int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    close(report[1]);
    if (pid < 0) {
        close(report[0]);
        *stage_out = AST_SPAWN_STAGE_FORK;
        *errno_out = fork_errno;
        return -1;
    }

    /* EOF: execve succeeded and closed the write end. A report: the child is about to exit. */
    struct spawn_report report_read = {0, 0};
    ssize_t got;
    do {
        got = read(report[0], &report_read, sizeof report_read);
    } while (got < 0 && errno == EINTR);
    const int read_errno = errno;
    close(report[0]);
    if (got == 0) return pid;

    if (got != (ssize_t)sizeof report_read) {
        /* Cannot tell whether the child exec'd: do not leave an unknown process running. */
        kill(pid, SIGKILL);
        report_read.stage = AST_SPAWN_STAGE_EXEC;
        report_read.error = got < 0 ? read_errno : EIO;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    *stage_out = report_read.stage;
    *errno_out = report_read.error;
    *failed_pid_out = pid;
    return -1;
}

void ast_spawn_thread_setup(void) {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, NULL);
    pthread_setname_np(pthread_self(), "ast-spawn");
}

void ast_thread_set_name(const char *name) {
    char truncated[16];
    snprintf(truncated, sizeof truncated, "%s", name);
    pthread_setname_np(pthread_self(), truncated);
}

int ast_set_child_subreaper(int enabled) {
    return prctl(PR_SET_CHILD_SUBREAPER, enabled ? 1 : 0, 0, 0, 0) < 0 ? -errno : 0;
}

int ast_get_child_subreaper(void) {
    int value = 0;
    return prctl(PR_GET_CHILD_SUBREAPER, &value, 0, 0, 0) < 0 ? -errno : (value != 0);
}

int ast_wakeup_pipe(int fds[2]) {
    return pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0 ? -errno : 0;
}

static volatile sig_atomic_t sigchld_wakeup_fd = -1;

static void on_sigchld(int signo) {
    (void)signo;
    const int saved_errno = errno;
    const int fd = sigchld_wakeup_fd;
    if (fd >= 0) {
        const char byte = 0;
        /* A full pipe (EAGAIN) already holds a pending wake-up. */
        ssize_t ignored = write(fd, &byte, 1);
        (void)ignored;
    }
    errno = saved_errno;
}

int ast_install_sigchld_wakeup(int wakeup_fd) {
    sigchld_wakeup_fd = wakeup_fd;
    struct sigaction action = {0};
    action.sa_handler = on_sigchld;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    return sigaction(SIGCHLD, &action, NULL) < 0 ? -errno : 0;
}
