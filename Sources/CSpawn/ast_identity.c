#define _GNU_SOURCE
#include "ast_identity.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

static const int required_seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL;

int ast_sealed_memfd(const char *name, size_t size, const void *initial, void **map_out) {
    *map_out = NULL;
    if (size == 0) return -EINVAL;
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return -errno;
    if (ftruncate(fd, (off_t)size) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (initial != NULL) memcpy(map, initial, size);
    if (fcntl(fd, F_ADD_SEALS, required_seals) < 0) {
        int e = errno;
        munmap(map, size);
        close(fd);
        return -e;
    }
    *map_out = map;
    return fd;
}

int ast_reopen_readonly(int fd) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int ro = open(path, O_RDONLY | O_CLOEXEC);
    return ro < 0 ? -errno : ro;
}

int ast_map_readonly(int fd, size_t *size_out, const void **map_out) {
    *map_out = NULL;
    *size_out = 0;
    struct stat st;
    if (fstat(fd, &st) < 0) return -errno;
    if (st.st_size <= 0) return -EINVAL;
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) return -errno;
    *size_out = (size_t)st.st_size;
    *map_out = map;
    return 0;
}

int ast_is_sealed_memfd(int fd) {
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0) return -errno;
    return (seals & required_seals) == required_seals;
}

int ast_set_dumpable(int value) {
    return prctl(PR_SET_DUMPABLE, value, 0, 0, 0) < 0 ? -errno : 0;
}

int ast_get_dumpable(void) {
    int v = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    return v < 0 ? -errno : v;
}

int ast_random_bytes(void *buffer, size_t length) {
    size_t done = 0;
    while (done < length) {
        ssize_t got = getrandom((char *)buffer + done, length - done, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        done += (size_t)got;
    }
    return 0;
}

void ast_store_i32(volatile int32_t *slot, int32_t value) {
    __atomic_store_n(slot, value, __ATOMIC_SEQ_CST);
}

int32_t ast_load_i32(const volatile int32_t *slot) {
    return __atomic_load_n(slot, __ATOMIC_SEQ_CST);
}
