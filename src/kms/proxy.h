/* proxy.h: which proxy a KMS call goes through, decided as Talos's gRPC dialer decides it (Talos's
 * pkg/machinery/client/dialer DynamicProxyDialer: golang.org/x/net/http/httpproxy.FromEnvironment for an
 * https request to the address gRPC dials, i.e. the resolved IP and port). Pure: the caller passes the
 * environment's values and the address; no I/O, no logging.
 * Promise: HTTPS_PROXY (else https_proxy) names the proxy for every KMS endpoint, TLS or not; empty means
 * none. A value without "scheme://host" is read as "http://" + value. NO_PROXY (else no_proxy) is a comma
 * list of "*", IPs, CIDRs, IP:port, [IPv6]:port, and domains (".d", "*.d" or "d", each matching d and its
 * subdomains, optionally ":port"), matched against the dialled IP's text; localhost and loopback IPs are
 * never proxied. */
#pragma once
#include <stddef.h>

/* Returns 1 with the proxy URL ("scheme://[user:pass@]host[:port]", scheme http, https or socks5) in
 * ret_url, 0 for a direct connection, -EINVAL (reason in *ret_why) when the proxy value cannot be parsed or
 * uses a scheme the dialer does not speak. `ip` is the address that is dialled (IPv6 without brackets). */
int vs_kms_proxy_select(const char *https_proxy, const char *no_proxy, const char *ip, unsigned port,
                        char *ret_url, size_t size, const char **ret_why);
