/* proxy.c: see proxy.h. The matching rules are httpproxy's config.init/useProxy and the dialer's choice of
 * transport by the proxy URL's scheme (https: TLS to the proxy, socks5: SOCKS5, anything else: HTTP
 * CONNECT). */
#include "proxy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct addr {
        int family;
        unsigned char b[16];
};

/* net.ParseIP: IPv4 or IPv6 (IPv4 kept as IPv4-mapped IPv6, so both compare alike). */
static bool parse_ip(const char *s, struct addr *a) {
        unsigned char v4[4];
        memset(a, 0, sizeof(*a));
        a->family = AF_INET6;
        if (inet_pton(AF_INET, s, v4) == 1) {
                a->b[10] = a->b[11] = 0xff;
                memcpy(a->b + 12, v4, 4);
                return true;
        }
        return inet_pton(AF_INET6, s, a->b) == 1;
}

static bool is_v4(const struct addr *a) {
        static const unsigned char prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        return memcmp(a->b, prefix, 12) == 0;
}

static bool loopback(const struct addr *a) {
        static const unsigned char v6[16] = { [15] = 1 };
        return (is_v4(a) && a->b[12] == 127) || memcmp(a->b, v6, 16) == 0;
}

/* "a.b.c.d/n" or "x::/n" containing ip. -1 when `p` is not a CIDR. */
static int cidr_match(const char *p, const struct addr *ip) {
        const char *slash = strchr(p, '/');
        if (!slash || !isdigit((unsigned char) slash[1]))
                return -1;
        char net[64];
        snprintf(net, sizeof(net), "%.*s", (int) (slash - p), p);
        struct addr n;
        char *end;
        unsigned long bits = strtoul(slash + 1, &end, 10);
        if (*end || !parse_ip(net, &n) || bits > (is_v4(&n) && !strchr(net, ':') ? 32u : 128u))
                return -1;
        if (is_v4(&n) && !strchr(net, ':')) {
                if (!is_v4(ip))
                        return 0;
                bits += 96;
        }
        for (unsigned long i = 0; i < bits; i++)
                if (((n.b[i / 8] ^ ip->b[i / 8]) >> (7 - i % 8)) & 1)
                        return 0;
        return 1;
}

/* One NO_PROXY entry (lower-cased, trimmed) against the dialled address. */
static bool entry_matches(char *p, const char *host, const char *port, const struct addr *ip, bool host_is_ip) {
        int c = cidr_match(p, ip);
        if (c >= 0)
                return host_is_ip && c == 1;
        char *phost = p, *pport = NULL;
        char *colon = strrchr(p, ':');
        bool bracketed = p[0] == '[';
        if (colon && (bracketed ? colon > strchr(p, ']') : strchr(p, ':') == colon)) { /* host:port */
                *colon = 0;
                pport = colon + 1;
                if (!*phost)
                        return false; /* malformed: ignored */
                if (bracketed && phost[strlen(phost) - 1] == ']') {
                        phost++;
                        phost[strlen(phost) - 1] = 0;
                }
        }
        struct addr pip;
        if (parse_ip(phost, &pip))
                return host_is_ip && memcmp(pip.b, ip->b, 16) == 0 && (!pport || strcmp(pport, port) == 0);
        if (!*phost)
                return false;
        if (strncmp(phost, "*.", 2) == 0)
                phost++;
        bool match_host = phost[0] != '.';
        size_t hl = strlen(host), pl = strlen(phost);
        bool suffix = !match_host && hl >= pl && strcmp(host + hl - pl, phost) == 0;
        bool exact = match_host && (strcmp(host, phost) == 0 || (hl > pl && strcmp(host + hl - pl, phost) == 0 && host[hl - pl - 1] == '.'));
        return (suffix || exact) && (!pport || strcmp(pport, port) == 0);
}

static bool no_proxy_matches(const char *no_proxy, const char *ip_text, unsigned port) {
        struct addr ip;
        bool host_is_ip = parse_ip(ip_text, &ip);
        char host[256], portbuf[8];
        snprintf(portbuf, sizeof(portbuf), "%u", port);
        size_t i;
        for (i = 0; ip_text[i] && i + 1 < sizeof(host); i++)
                host[i] = (char) tolower((unsigned char) ip_text[i]);
        host[i] = 0;
        for (const char *s = no_proxy; s && *s;) {
                size_t n = strcspn(s, ",");
                char e[256];
                size_t a = 0, b = n;
                while (a < b && isspace((unsigned char) s[a]))
                        a++;
                while (b > a && isspace((unsigned char) s[b - 1]))
                        b--;
                snprintf(e, sizeof(e), "%.*s", (int) (b - a), s + a);
                for (char *c = e; *c; c++)
                        *c = (char) tolower((unsigned char) *c);
                if (strcmp(e, "*") == 0 || (*e && entry_matches(e, host, portbuf, &ip, host_is_ip)))
                        return true;
                s += n + (s[n] == ',');
        }
        return false;
}

/* httpproxy's parseProxy, then the dialer's transports: the normalized URL for curl. */
static int proxy_url(const char *value, char *ret, size_t size, const char **why) {
        const char *sep = strstr(value, "://");
        bool has_scheme = sep && sep > value && isalpha((unsigned char) value[0]);
        for (const char *c = value; has_scheme && c < sep; c++)
                has_scheme = isalnum((unsigned char) *c) || *c == '+' || *c == '-' || *c == '.';
        const char *rest = has_scheme ? sep + 3 : value;
        size_t hlen = strcspn(rest, "/?#");
        if (hlen == 0 && has_scheme) { /* scheme but no host: Go retries with "http://" */
                has_scheme = false;
                rest = value;
                hlen = strcspn(rest, "/?#");
        }
        char scheme[16] = "http";
        if (has_scheme && (size_t) (sep - value) < sizeof(scheme))
                snprintf(scheme, sizeof(scheme), "%.*s", (int) (sep - value), value);
        for (char *c = scheme; *c; c++)
                *c = (char) tolower((unsigned char) *c);
        if (strcmp(scheme, "https") != 0 && strcmp(scheme, "socks5") != 0)
                snprintf(scheme, sizeof(scheme), "http"); /* the dialer speaks HTTP CONNECT to any other scheme */
        const char *hostport = memchr(rest, '@', hlen) ? (const char *) memrchr(rest, '@', hlen) + 1 : rest;
        size_t hp = hlen - (size_t) (hostport - rest);
        const char *colon = memrchr(hostport, ':', hp), *close = memrchr(hostport, ']', hp);
        if (!colon || (close && colon < close) || colon + 1 == hostport + hp) {
                *why = "it has no port (Talos's dialer dials the proxy's host:port as given)";
                return -EINVAL;
        }
        if ((size_t) snprintf(ret, size, "%s://%.*s", scheme, (int) hlen, rest) >= size) {
                *why = "it is too long";
                return -EINVAL;
        }
        return 0;
}

int vs_kms_proxy_select(const char *https_proxy, const char *no_proxy, const char *ip, unsigned port,
                        char *ret_url, size_t size, const char **ret_why) {
        if (!https_proxy || !*https_proxy)
                return 0;
        struct addr a;
        if (strcmp(ip, "localhost") == 0 || (parse_ip(ip, &a) && loopback(&a)))
                return 0;
        if (no_proxy && no_proxy_matches(no_proxy, ip, port))
                return 0;
        int r = proxy_url(https_proxy, ret_url, size, ret_why);
        return r < 0 ? r : 1;
}
