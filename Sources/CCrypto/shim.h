#ifndef AST_CCRYPTO_SHIM_H
#define AST_CCRYPTO_SHIM_H
#include <openssl/sha.h>
#include <openssl/evp.h>
#endif
