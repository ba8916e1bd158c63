// SHA-256 (FIPS 180-4) for the journal's hash chain, approval signatures and bundle digests: a small
// self-contained implementation, so that a process does not map libcrypto (3.4 MB resident) for one
// hash function. Uses the CPU's SHA extensions when it has them, portable C otherwise.
#ifndef AST_CSHA256_H
#define AST_CSHA256_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// A running SHA-256: init, update any number of times, final.
typedef struct {
    uint32_t state[8];
    uint64_t length;      // bytes hashed so far
    uint8_t buffer[64];   // a partial block
    uint32_t buffered;    // bytes in `buffer`
} ast_sha256_ctx;

void ast_sha256_init(ast_sha256_ctx *ctx);
void ast_sha256_update(ast_sha256_ctx *ctx, const void *data, size_t count);
/// Writes the 32-byte digest to `out`; the context must be initialised again before reuse.
void ast_sha256_final(ast_sha256_ctx *ctx, uint8_t out[32]);
/// The digest of `count` bytes at `data`, in one call.
void ast_sha256(const void *data, size_t count, uint8_t out[32]);

/// Whether the SHA extensions are used (1) or portable C (0); for tests and benchmarks.
int ast_sha256_uses_extensions(void);
/// Forces the portable implementation (1) or the automatic choice (0); for tests.
void ast_sha256_force_portable(int portable);

#ifdef __cplusplus
}
#endif

#endif
