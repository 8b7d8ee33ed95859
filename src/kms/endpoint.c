/* endpoint.c: the KMS endpoint parser (see endpoint.h). Three steps, each as Talos runs it: Talos's
 * endpoint.Parse (a "grpc://" prefix when no "[a-zA-z]+://" occurs anywhere, Insecure = scheme "grpc",
 * ":443" after an https host without a port), Go's url.Parse (scheme, authority, host and port syntax) and
 * grpc-go's dns target (default port 443, empty host = localhost). Pure. */
#include "endpoint.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int refuse(const char **ret_reason, const char *why) {
        if (ret_reason)
                *ret_reason = why;
        return -EINVAL;
}

/* Talos's urlSchemeMatcher, `[a-zA-z]+://`, unanchored (A-z also spans [ \ ] ^ _ `). */
static bool has_scheme_marker(const char *s) {
        for (const char *p = strstr(s, "://"); p; p = strstr(p + 1, "://"))
                if (p > s && p[-1] >= 'A' && p[-1] <= 'z')
                        return true;
        return false;
}

/* Go's getScheme: the scheme's length, 0 for none, -1 for "missing protocol scheme". */
static int scheme_len(const char *s) {
        for (size_t i = 0; s[i]; i++) {
                unsigned char c = (unsigned char) s[i];
                if (isalpha(c))
                        continue;
                if (isdigit(c) || c == '+' || c == '-' || c == '.') {
                        if (i == 0)
                                return 0;
                        continue;
                }
                if (c == ':')
                        return i == 0 ? -1 : (int) i;
                return 0;
        }
        return 0;
}

/* Go's validOptionalPort: "" or ':' followed by digits only. */
static bool valid_optional_port(const char *p, size_t n) {
        if (n == 0)
                return true;
        if (p[0] != ':')
                return false;
        for (size_t i = 1; i < n; i++)
                if (!isdigit((unsigned char) p[i]))
                        return false;
        return true;
}

/* Go's host syntax: bytes Go would have to escape are refused (percent escapes too: volseal keeps none). */
static bool host_chars_ok(const char *h, size_t n) {
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) h[i];
                if (c >= 0x80 || isalnum(c) || strchr("-._~!$&'()*+,;=:[]<>\"", c))
                        continue;
                return false;
        }
        return true;
}

/* url.Parse's host (with its port) out of the authority, user info dropped. */
static int url_host(const char *auth, size_t n, char *host, size_t size, const char **why) {
        const char *at = NULL;
        for (size_t i = 0; i < n; i++)
                if (auth[i] == '@')
                        at = auth + i;
        if (at) {
                n -= (size_t) (at + 1 - auth);
                auth = at + 1;
        }
        if (n >= size)
                return refuse(why, "its host is too long");
        if (n > 0 && auth[0] == '[') {
                const char *close = NULL;
                for (size_t i = 0; i < n; i++)
                        if (auth[i] == ']')
                                close = auth + i;
                if (!close)
                        return refuse(why, "Go's URL parser refuses it: missing ']' in host");
                if (!valid_optional_port(close + 1, n - (size_t) (close + 1 - auth)))
                        return refuse(why, "Go's URL parser refuses it: invalid port after host");
        } else {
                const char *colon = NULL;
                for (size_t i = 0; i < n; i++)
                        if (auth[i] == ':')
                                colon = auth + i;
                if (colon && !valid_optional_port(colon, n - (size_t) (colon - auth)))
                        return refuse(why, "Go's URL parser refuses it: invalid port after host");
        }
        if (!host_chars_ok(auth, n))
                return refuse(why, "Go's URL parser refuses it: invalid character in host name (escapes are not supported)");
        memcpy(host, auth, n);
        host[n] = 0;
        return 0;
}

/* grpc-go's dns resolver target: host and port, 443 when none, localhost when the host is empty. */
static int grpc_target(const char *target, struct vs_kms_endpoint *e, const char **why) {
        struct in6_addr a6;
        const char *host = target, *port = NULL;
        size_t hlen = strlen(target);
        if (!*target)
                return refuse(why, "it names no host");
        if (target[0] == '[') {
                const char *close = strchr(target, ']');
                host = target + 1;
                hlen = (size_t) (close - host);
                if (close[1] == ':')
                        port = close + 2;
                else if (close[1])
                        return refuse(why, "something other than :port follows its IPv6 host");
                e->ipv6 = true;
        } else if (strchr(target, ':') && strchr(target, ':') != strrchr(target, ':')) {
                char tmp[256];
                snprintf(tmp, sizeof(tmp), "%s", target);
                if (inet_pton(AF_INET6, tmp, &a6) != 1)
                        return refuse(why, "its host has several ':' (write an IPv6 host in brackets: [::1]:port)");
                e->ipv6 = true; /* an IPv6 literal without brackets: gRPC's default port */
        } else if (strchr(target, ':')) {
                hlen = (size_t) (strchr(target, ':') - target);
                port = strchr(target, ':') + 1;
        }
        if (port && !*port)
                return refuse(why, "its port is empty (gRPC refuses a target ending with ':')");
        if (hlen >= sizeof(e->host))
                return refuse(why, "its host is too long");
        if (hlen == 0)
                snprintf(e->host, sizeof(e->host), "localhost");
        else
                snprintf(e->host, sizeof(e->host), "%.*s", (int) hlen, host);
        if (e->ipv6 && inet_pton(AF_INET6, e->host, &a6) != 1)
                return refuse(why, "its IPv6 host is not an IPv6 address");
        unsigned long p = 443;
        if (port) {
                if (strlen(port) > 5)
                        return refuse(why, "its port is not a number from 1 to 65535");
                p = strtoul(port, NULL, 10);
        }
        if (p == 0 || p > 65535)
                return refuse(why, "its port is not a number from 1 to 65535");
        e->port = (unsigned) p;
        return 0;
}

int vs_kms_endpoint_parse(const char *endpoint, struct vs_kms_endpoint *ret, const char **ret_reason) {
        if (!endpoint)
                return refuse(ret_reason, "it is empty");
        for (const char *c = endpoint; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f)
                        return refuse(ret_reason, "Go's URL parser refuses it: invalid control character in URL");
        char url[1024];
        if ((size_t) snprintf(url, sizeof(url), "%s%s", has_scheme_marker(endpoint) ? "" : "grpc://", endpoint) >= sizeof(url))
                return refuse(ret_reason, "it is too long");
        url[strcspn(url, "#")] = 0;
        int sl = scheme_len(url);
        if (sl < 0)
                return refuse(ret_reason, "Go's URL parser refuses it: missing protocol scheme");
        char scheme[64];
        snprintf(scheme, sizeof(scheme), "%.*s", sl, url);
        const char *rest = url + (sl > 0 ? sl + 1 : 0);
        size_t rlen = strcspn(rest, "?");
        if (rlen < 2 || strncmp(rest, "//", 2) != 0)
                return refuse(ret_reason, "it names no host (Go reads it as a URL without an authority)");
        struct vs_kms_endpoint e = { .tls = strcasecmp(scheme, "grpc") != 0 };
        const char *auth = rest + 2;
        size_t alen = strcspn(auth, "/?");
        char host[256];
        int r = url_host(auth, alen, host, sizeof(host) - 8, ret_reason);
        if (r < 0)
                return r;
        /* Talos: an https host without a port gets ":443" (Go's Port() is "" also for a bare trailing ':'). */
        size_t hl = strlen(host);
        const char *colon = strrchr(host, ':'), *close = strrchr(host, ']');
        bool no_port = !colon || (close && colon < close) || colon[1] == 0;
        if (no_port && strcasecmp(scheme, "https") == 0)
                snprintf(host + hl, sizeof(host) - hl, ":443");
        r = grpc_target(host, &e, ret_reason);
        if (r < 0)
                return r;
        if (ret)
                *ret = e;
        return 0;
}
