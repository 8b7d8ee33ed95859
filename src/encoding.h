/* encoding.h: hex and base64, both ways, for the library, the CLI and the token plugins.
 * Promise: pure functions (no I/O, no logging). Hex comes out in lower case and is read in either case.
 * Base64 is the standard alphabet with padding on one line (RFC 4648 section 4, what Talos and systemd
 * write); decoding refuses anything else (whitespace, missing or misplaced '=', other characters) and
 * the empty string with -EBADMSG, and input that would decode to more than the caller's `max` bytes with
 * -E2BIG before decoding anything. The _secret variants keep the bytes (decoded or encoded) in a struct
 * vs_secret only: no copy lands in ordinary memory. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct vs_secret;

/* The size of a buffer for vs_hex_encode_to() of n bytes (digits and the NUL). */
#define VS_HEX_SIZE(n) (2 * (n) + 1)

/* Lower-case hex of the n bytes at p into out (VS_HEX_SIZE(n) bytes), NUL-terminated. */
void vs_hex_encode_to(const void *p, size_t n, char *out);
/* The same, malloc'ed; NULL when out of memory. */
char *vs_hex_encode(const void *p, size_t n);
/* Hex of a secret into a new secret (len 2 * in->len). 0 or -ENOMEM. */
int vs_hex_encode_secret(const struct vs_secret *in, struct vs_secret **ret);
/* The bytes of an even number of hex digits (the empty string gives 0 bytes) into out, at most max;
 * -EBADMSG when s is not hex, -E2BIG when it holds more than max bytes (out untouched in both cases). */
int vs_hex_decode(const char *s, uint8_t *out, size_t max, size_t *ret_len);
/* The same into a new secret of at most max bytes. */
int vs_hex_decode_secret(const char *s, size_t max, struct vs_secret **ret);

/* Padded base64 of the n bytes at p, malloc'ed; NULL when out of memory. */
char *vs_base64_encode(const void *p, size_t n);
/* Base64 of a secret into a new secret (the text, len 4 * ceil(in->len / 3)). 0 or -ENOMEM. */
int vs_base64_encode_secret(const struct vs_secret *in, struct vs_secret **ret);
/* Padded base64 to bytes (malloc'ed, ret_len of them, at least 1, at most max). -EBADMSG, -E2BIG, -ENOMEM. */
int vs_base64_decode(const char *s, size_t max, uint8_t **ret, size_t *ret_len);
/* The same into a new secret. */
int vs_base64_decode_secret(const char *s, size_t max, struct vs_secret **ret);
