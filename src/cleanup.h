/* cleanup.h: `_cleanup_` helpers for the objects of the libraries volseal links (json-c, OpenSSL), so a
 * function frees them on every path without a goto ladder: `_cleanup_(EVP_PKEY_freep) EVP_PKEY *k = NULL;`
 * and `return TAKE_PTR(k)` to hand one out.
 * Promise: header-only; each helper is the library's own free function on the pointer, NULL-safe, named
 * after it with a trailing p (systemd's convention). */
#pragma once
#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>

#include "util.h"

#define VS_DEFINE_FREEP(type, func)                       \
        static inline void func##p(type **p) {            \
                if (*p)                                   \
                        (void) func(*p);                  \
        }

VS_DEFINE_FREEP(struct json_object, json_object_put)
VS_DEFINE_FREEP(json_tokener, json_tokener_free)
VS_DEFINE_FREEP(EVP_PKEY, EVP_PKEY_free)
VS_DEFINE_FREEP(EVP_PKEY_CTX, EVP_PKEY_CTX_free)
VS_DEFINE_FREEP(EVP_MD_CTX, EVP_MD_CTX_free)
VS_DEFINE_FREEP(EVP_CIPHER_CTX, EVP_CIPHER_CTX_free)
VS_DEFINE_FREEP(BIO, BIO_free)
VS_DEFINE_FREEP(BIGNUM, BN_free)

#define _cleanup_json_ _cleanup_(json_object_putp)
