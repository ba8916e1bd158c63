#ifndef AST_IDENTITY_H
#define AST_IDENTITY_H

/*
 * The OS calls behind kernel-checked identity on the bus: sealed memfds (the table of the pids
 * astd spawned, the approval key), mapping them read-only in a worker, PR_SET_DUMPABLE and
 * getrandom. Every function returns a negative errno on failure.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Creates a memfd of `size` bytes (MFD_CLOEXEC | MFD_ALLOW_SEALING), copies `initial` (when not
 * NULL, `size` bytes) into it, maps it shared and writable in this process (`*map_out`), then
 * seals it against shrinking, growing, further writes through new descriptors or mappings
 * (F_SEAL_FUTURE_WRITE) and further seals. The mapping made here stays writable: only this
 * process can change the contents. Returns the descriptor or a negative errno. */
int ast_sealed_memfd(const char *name, size_t size, const void *initial, void **map_out);

/* A new read-only descriptor (O_RDONLY | O_CLOEXEC) for the same file as `fd`, through
 * /proc/self/fd. Returns it or a negative errno. */
int ast_reopen_readonly(int fd);

/* Maps all of `fd` read-only and shared. `*size_out` gets its size. Returns 0 or a negative
 * errno. The descriptor may be closed afterwards. */
int ast_map_readonly(int fd, size_t *size_out, const void **map_out);

/* Whether `fd` carries the seals ast_sealed_memfd sets: 1, 0, or a negative errno. */
int ast_is_sealed_memfd(int fd);

/* prctl(PR_SET_DUMPABLE, value): with 0, /proc/<pid>/fd, /proc/<pid>/mem and ptrace are closed
 * to other processes of the same uid. Returns 0 or a negative errno. */
int ast_set_dumpable(int value);

/* PR_GET_DUMPABLE: 0, 1, 2, or a negative errno. */
int ast_get_dumpable(void);

/* Fills `buffer` with `length` bytes from getrandom(2) (blocking until the pool is ready).
 * Returns 0 or a negative errno. */
int ast_random_bytes(void *buffer, size_t length);

/* Atomic (sequentially consistent) 32-bit store and load in shared memory. */
void ast_store_i32(volatile int32_t *slot, int32_t value);
int32_t ast_load_i32(const volatile int32_t *slot);

#ifdef __cplusplus
}
#endif

#endif
