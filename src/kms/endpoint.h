/* endpoint.h: the one parser of KMS endpoints, shared by the KMS client (kms.c) and config validation
 * (config.c, meta-config.c). Pure: no libcurl, no protobuf-c, no I/O, no logging, so config code can
 * refuse an endpoint the client would refuse without linking the client.
 * Accepted: "host:port" and "grpc://host:port" (plaintext HTTP/2, a port is required: gRPC has no default
 * port); "https://host[:port]" and "grpcs://host[:port]" (TLS, port 443 by default). Schemes are matched
 * case-insensitively; a single trailing "/" is allowed. Refused: any other scheme, an empty host, a path,
 * query or fragment, user info ("user@"), spaces or control characters, a port that is not 1-65535. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct vs_kms_endpoint {
        bool tls;
        const char *authority;  /* points into the parsed string: host[:port] (an IPv6 host in brackets) */
        size_t authority_len;
};

/* Returns 0 with *ret filled, or -EINVAL with a static reason (a sentence fragment, no endpoint) in
 * *ret_reason, e.g. "it has a path, query or fragment (give only scheme, host and port)". */
int vs_kms_endpoint_parse(const char *endpoint, struct vs_kms_endpoint *ret, const char **ret_reason);
