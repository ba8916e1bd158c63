#ifndef AST_SPAWN_H
#define AST_SPAWN_H

/*
 * The OS-facing half of astd that Swift cannot do safely: fork/exec with only async-signal-safe
 * calls in the child, the SIGCHLD self-pipe handler, and recvmsg with SCM_CREDENTIALS for the
 * manager side of sd_notify. Every function returns a negative errno or sets an out-parameter;
 * none of them allocates or logs.
 */

#include <sys/types.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Room for a pid's decimal digits in a patched environment entry: pid_t is 32 bits, so at most
 * 10 digits. The parent builds `NAME=` followed by this many placeholder bytes (and the NUL). */
#define AST_SPAWN_PID_DIGITS 10

/* Where in the child set-up a spawn failed (reported with the errno through the exec pipe). */
enum ast_spawn_stage {
    AST_SPAWN_STAGE_NONE = 0,
    AST_SPAWN_STAGE_PIPE = 1,       /* parent: pipe2 for the exec report */
    AST_SPAWN_STAGE_FORK = 2,       /* parent: fork */
    AST_SPAWN_STAGE_PDEATHSIG = 3,  /* child: prctl(PR_SET_PDEATHSIG) */
    AST_SPAWN_STAGE_PARENT_GONE = 4,/* child: the parent died between fork and prctl */
    AST_SPAWN_STAGE_PROCESS_GROUP = 5, /* child: setpgid(0, 0) */
    AST_SPAWN_STAGE_DESCRIPTORS = 6,/* child: moving the passed descriptors to 3, 4, ... */
    AST_SPAWN_STAGE_EXEC = 7,       /* child: execve */
};

/* Options for ast_spawn. */
enum {
    /* Put the child in a process group of its own (setpgid(0, 0)), so that a terminal's Ctrl-C
     * reaches only the supervisor, which then stops its children in order. */
    AST_SPAWN_NEW_PROCESS_GROUP = 1,
};

/*
 * fork()s and execve()s `path`.
 *
 * In the child, with only async-signal-safe calls: PR_SET_PDEATHSIG(SIGKILL), a check that the
 * parent is still the process that forked, default dispositions for every signal and an empty
 * signal mask, optionally a new process group, `fds[i]` moved to descriptor 3 + i without
 * FD_CLOEXEC, every other descriptor above 2 closed at exec, the child's own pid written in
 * decimal after the `=` of every `envp[pid_slots[k]]`, and finally execve.
 *
 * `envp[pid_slots[k]]` must be `NAME=` followed by AST_SPAWN_PID_DIGITS writable bytes and a NUL
 * (for instance `LISTEN_PID=0000000000`); the memory is the parent's, the child patches its own
 * copy-on-write copy.
 *
 * PR_SET_PDEATHSIG fires when the *thread* that forked exits, not the process: call this only
 * from a thread that lives as long as the process.
 *
 * `identity_slot`, when not NULL, is a 32-bit word in memory shared with other processes (astd's
 * table of the pids it spawned, see ast_identity.h): the parent stores the child's pid there as
 * soon as fork returns, and the child stores its own pid there before execve, so that the table
 * names the child before any of the child's own code can run and connect to a peer.
 *
 * Returns the child's pid once execve succeeded. Returns -1 when it failed, with `*stage_out` and
 * `*errno_out` saying where and why; a child that was forked is reaped before returning (unless
 * another waitpid(-1) got it first), so no zombie is left behind. `*failed_pid_out` is the pid of
 * that child, or 0 when none was forked.
 */
pid_t ast_spawn(const char *path, char *const argv[], char *const envp[],
                const int *fds, int nfds,
                const int *pid_slots, int npid_slots,
                int flags, volatile int *identity_slot,
                int *stage_out, int *errno_out, pid_t *failed_pid_out);

/* Prepares the calling thread to be the spawn thread: blocks every signal on it (so fork and
 * read are never interrupted and no handler runs there) and names it `ast-spawn` (visible in
 * `ps -L` and /proc/<pid>/task/<tid>/comm). */
void ast_spawn_thread_setup(void);

/* Names the calling thread (at most 15 bytes are kept), as `ps -L` and /proc/<pid>/task/<tid>/comm
 * show it: for threads Swift starts with pthread_create, whose pthread_setname_np Swift cannot see. */
void ast_thread_set_name(const char *name);

/* Writes `pid` in decimal to `out` (at least AST_SPAWN_PID_DIGITS + 1 bytes), NUL-terminated,
 * without any library call, as the child does. Returns the number of digits, or 0 when pid < 0. */
int ast_spawn_format_pid(char *out, pid_t pid);

/* prctl(PR_SET_CHILD_SUBREAPER): orphaned descendants are re-parented to this process instead
 * of PID 1, so that it can reap them. Returns 0 or a negative errno. */
int ast_set_child_subreaper(int enabled);

/* prctl(PR_GET_CHILD_SUBREAPER): 1, 0, or a negative errno. */
int ast_get_child_subreaper(void);

/* pipe2(O_CLOEXEC | O_NONBLOCK) for a self-pipe (pipe2 is a GNU extension Swift does not see).
 * Returns 0 or a negative errno. */
int ast_wakeup_pipe(int fds[2]);

/* Installs a SIGCHLD handler (SA_RESTART | SA_NOCLDSTOP) that writes one byte to `wakeup_fd`
 * (the non-blocking write end of a pipe) and nothing else. Returns 0 or a negative errno. */
int ast_install_sigchld_wakeup(int wakeup_fd);

/* What ast_notify_recv found besides the payload. */
struct ast_notify_datagram {
    /* Bytes in the datagram, even when more than the buffer held (MSG_TRUNC). */
    size_t length;
    /* The sender's pid from SCM_CREDENTIALS, or 0 when the datagram carried none. */
    pid_t pid;
    /* 1 when the control data was truncated (MSG_CTRUNC). */
    int control_truncated;
    /* Descriptors passed with SCM_RIGHTS, all of which were closed. */
    int closed_descriptors;
};

/* One non-blocking recvmsg(MSG_TRUNC | MSG_CMSG_CLOEXEC | MSG_DONTWAIT) on an AF_UNIX datagram
 * socket with SO_PASSCRED on. Any descriptor the sender passed (SCM_RIGHTS, as sd_notify_barrier
 * and FDSTORE=1 do) is closed at once. Returns 1 when a datagram was read, 0 when none was
 * waiting, or a negative errno. */
int ast_notify_recv(int fd, void *buffer, size_t capacity, struct ast_notify_datagram *out);

#ifdef __cplusplus
}
#endif

#endif
