/* kms.h: a client of the Talos KMS wire protocol (gRPC service sidero.kms.KMSService, unary Seal and
 * Unseal, messages from kms.proto) over HTTP/2.
 * Promise: this module is the only caller of libcurl and protobuf-c. Endpoints mean what they mean to Talos
 * (endpoint.h): "grpc://" (also an endpoint without scheme) is plaintext HTTP/2 (prior knowledge), every
 * other scheme TLS with ALPN h2, port 443 by default, the server verified against the system CA store or
 * opts->ca_file. Calls go through the proxy HTTPS_PROXY/NO_PROXY select, as Talos's dialer does (proxy.h).
 * One client = one libcurl handle, so one HTTP/2 connection is reused by every call of a run. Each call
 * has a total timeout (10 s unless opts->timeout_ms). Plaintext secrets only ever travel in struct
 * vs_secret and locked buffers of this module; nothing here logs them, and curl's verbose/debug output is
 * never enabled. A failed call returns one of the distinct negative errnos below, so callers can fall back
 * to the next key slot, and keeps one sentence naming the endpoint and the cause for vs_kms_last_error()
 * (logged at debug level only: the caller reports it, e.g. as the slot's reason). vs_kms_open() logs its
 * own errors (a bad endpoint or CA file is a configuration error). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "secret.h"

#define VS_KMS_SECRET_SIZE 32u         /* the secret volseal seals (an Unseal answer of any length is used) */
#define VS_KMS_DEFAULT_TIMEOUT_MS 10000u

/* Errors (negative errno) of vs_kms_seal()/vs_kms_unseal(), one per cause:
 *   -ECONNREFUSED   down: nothing accepts connections at the endpoint
 *   -ECONNRESET     down: the server closed the connection during the call
 *   -EHOSTUNREACH   down: the endpoint's host name does not resolve
 *   -ETIMEDOUT      slow: no complete answer within the timeout
 *   -EKEYREJECTED   tls: the server's certificate is not trusted or names another host
 *   -EPROTO         tls: the TLS handshake failed otherwise (or the server does not speak HTTP/2)
 *   -EBADMSG        garbage: the answer is not a well-formed gRPC response holding a Response message
 *   -EREMOTEIO      grpc error: the server answered with a non-zero grpc-status (logged with grpc-message)
 *   -EIO            anything else libcurl reports
 * vs_kms_open() returns -EINVAL for an endpoint it cannot use and -errno when the CA file is unreadable. */

struct vs_kms_options {
        const char *ca_file;    /* PEM bundle to verify TLS servers with; NULL = the system CA store */
        unsigned timeout_ms;    /* total time per call; 0 = VS_KMS_DEFAULT_TIMEOUT_MS */
};

struct vs_kms;

/* Parses `endpoint` and prepares a client; no connection is made until the first call. `opts` may be NULL.
 * Returns 0 or -errno (logged). */
int vs_kms_open(const char *endpoint, const struct vs_kms_options *opts, struct vs_kms **ret);
/* Closes the connection and frees the client. NULL is fine. */
void vs_kms_close(struct vs_kms *k);

/* Seal{node_uuid, data = plain}: returns the sealed blob (malloc'ed, not secret) in *ret_sealed and *ret_len.
 * plain must not be empty. */
int vs_kms_seal(struct vs_kms *k, const char *node_uuid, const struct vs_secret *plain,
                uint8_t **ret_sealed, size_t *ret_len);
/* Unseal{node_uuid, data = sealed}: returns the plaintext in *ret_plain, whatever its length (as Talos). */
int vs_kms_unseal(struct vs_kms *k, const char *node_uuid, const uint8_t *sealed, size_t len,
                  struct vs_secret **ret_plain);

/* The short name of an error above ("down", "slow", "tls", "garbage", "grpc-error", "wrong-size",
 * "error"), for status output and tests. */
const char *vs_kms_error_kind(int r);

/* Why the last vs_kms_seal()/vs_kms_unseal() failed (one sentence, no secret); "" after a success. */
const char *vs_kms_last_error(const struct vs_kms *k);

/* The endpoint as given to vs_kms_open(), for messages. */
const char *vs_kms_endpoint(const struct vs_kms *k);

/* Decodes one gRPC-framed Response body (5-byte frame header + protobuf) into a locked buffer holding the
 * `data` field. Pure: no I/O and no logging; returns 0, or -EBADMSG with a static reason in *ret_reason.
 * Exposed for the fuzz target and unit tests. */
int vs_kms_decode_response(const uint8_t *body, size_t len, struct vs_secret **ret_data, const char **ret_reason);

/* What the header lines of one answer said (trailers included). */
struct vs_kms_answer_meta {
        int grpc_status;             /* -1: none seen; 1000: present but unparsable */
        char grpc_message[256];      /* percent-decoded, printable ASCII only ('?' for the rest) */
        bool content_type_seen;
        bool content_type_grpc;      /* application/grpc, application/grpc+proto, application/grpc;... */
};
void vs_kms_answer_meta_init(struct vs_kms_answer_meta *m);
/* Reads one header line as libcurl hands it over ("name: value\r\n", not NUL-terminated) into m; other
 * headers are ignored. Pure; exposed for the fuzz target and unit tests. */
void vs_kms_answer_header(struct vs_kms_answer_meta *m, const char *line, size_t len);
