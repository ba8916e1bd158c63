/*
 * The receiving end of sd_notify: CMSG_* are macros Swift cannot call, so the control-message
 * walk lives here.
 */
#define _GNU_SOURCE
#include "ast_spawn.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The kernel passes at most SCM_MAX_FD (253) descriptors per message. */
#define AST_NOTIFY_MAX_FDS 253

int ast_notify_recv(int fd, void *buffer, size_t capacity, struct ast_notify_datagram *out) {
    union {
        struct cmsghdr align;
        char bytes[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * AST_NOTIFY_MAX_FDS)];
    } control;
    struct iovec vector = {.iov_base = buffer, .iov_len = capacity};
    struct msghdr message = {0};
    message.msg_iov = &vector;
    message.msg_iovlen = 1;
    message.msg_control = &control;
    message.msg_controllen = sizeof control;

    ssize_t received;
    do {
        received = recvmsg(fd, &message, MSG_TRUNC | MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    } while (received < 0 && errno == EINTR);
    if (received < 0) {
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    }

    out->length = (size_t)received;
    out->pid = 0;
    out->control_truncated = (message.msg_flags & MSG_CTRUNC) != 0;
    out->closed_descriptors = 0;
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header != NULL;
         header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level != SOL_SOCKET) continue;
        if (header->cmsg_type == SCM_CREDENTIALS && header->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
            struct ucred credentials;
            memcpy(&credentials, CMSG_DATA(header), sizeof credentials);
            out->pid = credentials.pid;
        } else if (header->cmsg_type == SCM_RIGHTS) {
            const size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < count; i++) {
                int passed;
                memcpy(&passed, CMSG_DATA(header) + i * sizeof(int), sizeof passed);
                close(passed);
                out->closed_descriptors++;
            }
        }
    }
    return 1;
}
