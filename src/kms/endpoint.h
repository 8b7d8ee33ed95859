/* endpoint.h: the one parser of KMS endpoints, shared by the KMS client (kms.c) and config validation
 * (config-encryption.c, meta-config.c). Pure: no libcurl, no protobuf-c, no I/O, no logging.
 * Promise: an endpoint means what it means to Talos (internal/pkg/endpoint.Parse, Go's net/url, then
 * grpc-go's dns target, docs/kms.md "Endpoints"): without "letters://" anywhere it is "grpc://" + the text;
 * scheme "grpc" (any case) is plaintext HTTP/2, every other scheme is TLS; user info, path, query and
 * fragment are ignored; "https" without a port gets 443, and so does any host without a port (gRPC's
 * default); an empty host is localhost; IPv6 literals are in brackets. What Go's url.Parse refuses, or
 * what cannot be dialled (no host, a port outside 1-65535), is refused with the reason. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct vs_kms_endpoint {
        bool tls;
        char host[256];         /* without brackets; "localhost" when the endpoint names none */
        bool ipv6;              /* host is an IPv6 literal: write it in brackets */
        unsigned port;          /* 1-65535 */
};

/* Returns 0 with *ret filled (ret may be NULL), or -EINVAL with a static reason (a sentence fragment, no
 * endpoint) in *ret_reason, e.g. "Go's URL parser refuses it: invalid port after host". */
int vs_kms_endpoint_parse(const char *endpoint, struct vs_kms_endpoint *ret, const char **ret_reason);
