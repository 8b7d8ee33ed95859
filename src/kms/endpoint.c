/* endpoint.c: the KMS endpoint parser (see endpoint.h). Pure. */
#include "endpoint.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

static int refuse(const char **ret_reason, const char *why) {
        if (ret_reason)
                *ret_reason = why;
        return -EINVAL;
}

int vs_kms_endpoint_parse(const char *endpoint, struct vs_kms_endpoint *ret, const char **ret_reason) {
        if (!endpoint || !*endpoint)
                return refuse(ret_reason, "it is empty");
        const char *rest = endpoint;
        bool tls = false;
        const char *sep = strstr(endpoint, "://");
        if (sep) {
                size_t n = (size_t) (sep - endpoint);
                if (n == 4 && strncasecmp(endpoint, "grpc", 4) == 0)
                        tls = false;
                else if (n == 5 && (strncasecmp(endpoint, "https", 5) == 0 || strncasecmp(endpoint, "grpcs", 5) == 0))
                        tls = true;
                else
                        return refuse(ret_reason, "its scheme is not supported (use host:port or grpc://host:port for "
                                                  "plaintext, https://host[:port] or grpcs://host[:port] for TLS)");
                rest = sep + 3;
        }
        size_t alen = strcspn(rest, "/?#");
        if (alen == 0)
                return refuse(ret_reason, "it names no host");
        if (rest[alen] != '\0' && !(rest[alen] == '/' && rest[alen + 1] == '\0'))
                return refuse(ret_reason, "it has a path, query or fragment (give only scheme, host and port)");
        for (size_t i = 0; i < alen; i++) {
                unsigned char c = (unsigned char) rest[i];
                if (c == '@')
                        return refuse(ret_reason, "it has user info (user@host is not supported)");
                if (isspace(c) || iscntrl(c) || c >= 0x80)
                        return refuse(ret_reason, "its host part has a space, control or non-ASCII character");
        }
        /* The port follows the last ':' after an IPv6 literal's ']' (whose own ':' are not the port's). */
        const char *close = memchr(rest, ']', alen);
        if (rest[0] == '[' && !close)
                return refuse(ret_reason, "its IPv6 host has no closing ']'");
        const char *from = close ? close + 1 : rest;
        const char *end = rest + alen;
        const char *colon = memchr(from, ':', (size_t) (end - from));
        if (close && from != end && *from != ':')
                return refuse(ret_reason, "something other than :port follows its IPv6 host");
        if (!close && colon && memchr(colon + 1, ':', (size_t) (end - colon - 1)))
                return refuse(ret_reason, "its host has several ':' (write an IPv6 host in brackets: [::1]:port)");
        if (colon == rest)
                return refuse(ret_reason, "it names no host");
        if (!colon && !tls)
                return refuse(ret_reason, "it needs a port for plaintext gRPC (host:port)");
        if (colon) {
                size_t plen = (size_t) (end - colon - 1);
                unsigned long port = 0;
                if (plen == 0 || plen > 5)
                        return refuse(ret_reason, "its port is not a number from 1 to 65535");
                for (size_t i = 1; i <= plen; i++) {
                        if (!isdigit((unsigned char) colon[i]))
                                return refuse(ret_reason, "its port is not a number from 1 to 65535");
                        port = port * 10 + (unsigned long) (colon[i] - '0');
                }
                if (port == 0 || port > 65535)
                        return refuse(ret_reason, "its port is not a number from 1 to 65535");
        }
        if (ret)
                *ret = (struct vs_kms_endpoint) { .tls = tls, .authority = rest, .authority_len = alen };
        return 0;
}
