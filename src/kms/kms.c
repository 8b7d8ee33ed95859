/* kms.c: gRPC unary calls to a Talos-compatible KMS over HTTP/2 with libcurl, messages with protobuf-c.
 *
 * A gRPC unary call is one HTTP/2 POST to /sidero.kms.KMSService/<Method> with content-type
 * application/grpc and te: trailers; request and response bodies are one message each, framed as
 * 1 byte compressed-flag (0) + 4 bytes big-endian length + the protobuf bytes. The call's outcome is the
 * grpc-status (and percent-encoded grpc-message) of the trailers, or of the headers of a trailers-only
 * answer; libcurl hands both to the header callback.
 *
 * Secrets: the Seal request and the Unseal response body are built and received in struct vs_secret
 * buffers; protobuf-c decodes the response inside a locked arena that is wiped afterwards. libcurl,
 * nghttp2 and OpenSSL copy the bytes through their own (unlocked) I/O buffers on the way; that is the
 * limit of what this process controls. CURLOPT_VERBOSE is always 0 and no debug callback is installed. */
#include "kms.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <dlfcn.h>
#include <netdb.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#define CURL_DISABLE_TYPECHECK 1 /* curl_easy_setopt/getinfo are called through pointers below */
#include <curl/curl.h>

#include "endpoint.h"
#include "proxy.h"
#include "kms.pb-c.h"
#include "log.h"
#include "util.h"
#include "volseal-version.h"

#define KMS_SERVICE_PATH "/sidero.kms.KMSService/"
#define KMS_MAX_ANSWER (64u * 1024u) /* a Response is a few dozen bytes; anything this big is garbage */
#define GRPC_FRAME_HEADER 5u

struct vs_kms {
        char *endpoint;    /* as configured, for messages */
        char *base_url;    /* http://host:port or https://host:port (IPv6 in brackets), no trailing slash */
        struct vs_kms_endpoint ep;
        bool tls;
        char *ca_file;
        unsigned timeout_ms;
        CURL *curl;
        struct curl_slist *headers;
        struct curl_slist *connect_to;  /* the address route() pinned for the current call */
        char errbuf[CURL_ERROR_SIZE];
        char error[512];   /* the last call's failure, one sentence; "" after a success */
        /* per call */
        struct vs_secret *answer;
        bool answer_too_big;
        struct vs_kms_answer_meta meta; /* gRPC status, message, content type */
};

static unsigned curl_users;

/* libcurl is loaded when the first KMS handle is opened, not linked: linking it maps ~28 more libraries
 * (nghttp2, gnutls, krb5, ldap, ssh2, ...) into every volseal process, which cost every `volseal unlock`
 * ~5 MiB of RSS and about half of its start-up time (docs/performance.md), for the few configs with a kms
 * key. The header gives the types; these pointers are the functions this file calls. */
static struct {
        void *dl;
        CURLcode (*global_init)(long flags);
        void (*global_cleanup)(void);
        CURL *(*easy_init)(void);
        void (*easy_cleanup)(CURL *c);
        CURLcode (*easy_setopt)(CURL *c, CURLoption opt, ...);
        CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
        CURLcode (*easy_perform)(CURL *c);
        const char *(*easy_strerror)(CURLcode rc);
        struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
        void (*slist_free_all)(struct curl_slist *l);
        curl_version_info_data *(*version_info)(CURLversion v);
} curl_sym;
#define curl_global_init (*curl_sym.global_init)
#define curl_global_cleanup (*curl_sym.global_cleanup)
#define curl_easy_init (*curl_sym.easy_init)
#define curl_easy_cleanup (*curl_sym.easy_cleanup)
#undef curl_easy_setopt /* curl.h's pass-through macros */
#undef curl_easy_getinfo
#define curl_easy_setopt (*curl_sym.easy_setopt)
#define curl_easy_getinfo (*curl_sym.easy_getinfo)
#define curl_easy_perform (*curl_sym.easy_perform)
#define curl_easy_strerror (*curl_sym.easy_strerror)
#define curl_slist_append (*curl_sym.slist_append)
#define curl_slist_free_all (*curl_sym.slist_free_all)
#define curl_version_info (*curl_sym.version_info)

static int curl_load(void) {
        if (curl_sym.dl)
                return 0;
        void *dl = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
        if (!dl)
                return log_error_errno(-ELIBACC, "Cannot load libcurl (libcurl.so.4), which KMS keys need: %s.", dlerror());
        const struct { const char *name; void **slot; } syms[] = {
                { "curl_global_init", (void **) &curl_sym.global_init },
                { "curl_global_cleanup", (void **) &curl_sym.global_cleanup },
                { "curl_easy_init", (void **) &curl_sym.easy_init },
                { "curl_easy_cleanup", (void **) &curl_sym.easy_cleanup },
                { "curl_easy_setopt", (void **) &curl_sym.easy_setopt },
                { "curl_easy_getinfo", (void **) &curl_sym.easy_getinfo },
                { "curl_easy_perform", (void **) &curl_sym.easy_perform },
                { "curl_easy_strerror", (void **) &curl_sym.easy_strerror },
                { "curl_slist_append", (void **) &curl_sym.slist_append },
                { "curl_slist_free_all", (void **) &curl_sym.slist_free_all },
                { "curl_version_info", (void **) &curl_sym.version_info },
        };
        for (size_t i = 0; i < ELEMENTSOF(syms); i++) {
                *syms[i].slot = dlsym(dl, syms[i].name);
                if (!*syms[i].slot) {
                        dlclose(dl);
                        return log_error_errno(-ELIBACC, "libcurl.so.4 lacks %s, which KMS keys need.", syms[i].name);
                }
        }
        curl_sym.dl = dl; /* stays loaded: libcurl and OpenSSL keep global state */
        return 0;
}

/* libcurl before 8.0.0 breaks a reused prior-knowledge (h2c) connection: the second request fails with
 * "Error in the HTTP2 framing layer" or is never sent (curl issue 10634, fixed by PR 10643). Debian 12
 * ships 7.88.1, so plaintext calls there use a fresh connection each; TLS (ALPN h2) reuses as it should. */
static bool h2c_reuse_broken(void) {
        const curl_version_info_data *d = curl_version_info(CURLVERSION_NOW);
        return !d || d->version_num < 0x080000;
}

static int curl_global_ref(void) {
        int r = curl_load();
        if (r < 0)
                return r;
        if (curl_users == 0) {
                CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
                if (rc != CURLE_OK)
                        return log_error_errno(-ENOMEM, "Cannot initialize libcurl: %s.", curl_easy_strerror(rc));
        }
        curl_users++;
        return 0;
}

static void curl_global_unref(void) {
        if (curl_users > 0 && --curl_users == 0)
                curl_global_cleanup();
}

/* Records why a call failed (one sentence naming the endpoint, never a secret), logs it at debug level
 * only (the caller reports it, e.g. as the slot's reason) and returns -abs(err). */
__attribute__((format(printf, 3, 4)))
static int kms_fail(struct vs_kms *k, int err, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(k->error, sizeof(k->error), fmt, ap);
        va_end(ap);
        log_debug("%s", k->error);
        return err < 0 ? err : -err;
}

const char *vs_kms_last_error(const struct vs_kms *k) {
        return k ? k->error : "";
}

const char *vs_kms_error_kind(int r) {
        switch (r) {
        case 0: return "ok";
        case -ECONNREFUSED:
        case -ECONNRESET:
        case -EHOSTUNREACH: return "down";
        case -ETIMEDOUT: return "slow";
        case -EKEYREJECTED:
        case -EPROTO: return "tls";
        case -EBADMSG: return "garbage";
        case -EREMOTEIO: return "grpc-error";
        case -EMSGSIZE: return "wrong-size";
        default: return "error";
        }
}

const char *vs_kms_endpoint(const struct vs_kms *k) {
        return k ? k->endpoint : "(none)";
}

/* Parses with the shared pure parser (endpoint.h) and builds the base URL. */
static int parse_endpoint(const char *endpoint, char **ret_url, struct vs_kms_endpoint *ret) {
        const char *why = NULL;
        if (vs_kms_endpoint_parse(endpoint, ret, &why) < 0)
                return log_error_errno(-EINVAL, "KMS endpoint '%s' cannot be used: %s.", endpoint, why);
        char *url;
        if (asprintf(&url, "%s://%s%s%s:%u", ret->tls ? "https" : "http", ret->ipv6 ? "[" : "", ret->host,
                     ret->ipv6 ? "]" : "", ret->port) < 0)
                return log_error_errno(-ENOMEM, "Out of memory.");
        *ret_url = url;
        return 0;
}

int vs_kms_open(const char *endpoint, const struct vs_kms_options *opts, struct vs_kms **ret) {
        if (!endpoint || !*endpoint)
                return log_error_errno(-EINVAL, "No KMS endpoint given.");
        _cleanup_free_ char *url = NULL;
        struct vs_kms_endpoint ep;
        int r = parse_endpoint(endpoint, &url, &ep);
        if (r < 0)
                return r;
        if (opts && opts->ca_file && access(opts->ca_file, R_OK) < 0)
                return log_error_errno(-errno, "KMS CA file %s cannot be read: %s.", opts->ca_file, strerror(errno));

        struct vs_kms *k = calloc(1, sizeof(*k));
        if (!k)
                return log_error_errno(-ENOMEM, "Out of memory.");
        k->base_url = TAKE_PTR(url);
        k->ep = ep;
        k->tls = ep.tls;
        k->timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : VS_KMS_DEFAULT_TIMEOUT_MS;
        k->endpoint = strdup(endpoint);
        k->ca_file = opts && opts->ca_file ? strdup(opts->ca_file) : NULL;
        if (!k->endpoint || (opts && opts->ca_file && !k->ca_file)) {
                vs_kms_close(k);
                return log_error_errno(-ENOMEM, "Out of memory.");
        }
        r = curl_global_ref();
        if (r < 0) {
                vs_kms_close(k);
                return r;
        }
        k->curl = curl_easy_init();
        if (!k->curl) {
                curl_global_unref();
                vs_kms_close(k);
                return log_error_errno(-ENOMEM, "Cannot create a libcurl handle.");
        }
        char timeout_hdr[64];
        if (k->timeout_ms <= 99999999u) /* gRPC allows at most 8 digits */
                snprintf(timeout_hdr, sizeof(timeout_hdr), "grpc-timeout: %um", k->timeout_ms);
        else
                snprintf(timeout_hdr, sizeof(timeout_hdr), "grpc-timeout: %uS", k->timeout_ms / 1000u);
        const char *hdrs[] = { "content-type: application/grpc", "te: trailers", timeout_hdr, "expect:" };
        for (size_t i = 0; i < ELEMENTSOF(hdrs); i++) {
                struct curl_slist *n = curl_slist_append(k->headers, hdrs[i]);
                if (!n) {
                        vs_kms_close(k);
                        return log_error_errno(-ENOMEM, "Out of memory.");
                }
                k->headers = n;
        }
        *ret = k;
        return 0;
}

void vs_kms_close(struct vs_kms *k) {
        if (!k)
                return;
        if (k->curl) {
                curl_easy_cleanup(k->curl);
                curl_global_unref();
        }
        if (k->headers)
                curl_slist_free_all(k->headers);
        if (k->connect_to)
                curl_slist_free_all(k->connect_to);
        vs_secret_free(k->answer);
        free(k->endpoint);
        free(k->base_url);
        free(k->ca_file);
        free(k);
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *userdata) {
        struct vs_kms *k = userdata;
        size_t n = size * nmemb;
        if (k->answer->len + n > KMS_MAX_ANSWER) {
                k->answer_too_big = true;
                return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
        }
        if (vs_secret_append(k->answer, p, n) < 0)
                return 0;
        return n;
}

/* Copies the percent-decoded grpc-message, keeping printable ASCII only. */
static void set_grpc_message(struct vs_kms_answer_meta *k, const char *v, size_t len) {
        size_t o = 0;
        for (size_t i = 0; i < len && o + 1 < sizeof(k->grpc_message); i++) {
                unsigned c = (unsigned char) v[i];
                if (c == '%' && i + 2 < len && isxdigit((unsigned char) v[i + 1]) && isxdigit((unsigned char) v[i + 2])) {
                        char hex[3] = { v[i + 1], v[i + 2], 0 };
                        c = (unsigned) strtoul(hex, NULL, 16);
                        i += 2;
                }
                k->grpc_message[o++] = (c >= 0x20 && c < 0x7f) ? (char) c : '?';
        }
        k->grpc_message[o] = '\0';
}

static bool header_is(const char *line, size_t len, const char *name, const char **ret_value, size_t *ret_len) {
        size_t n = strlen(name);
        if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
                return false;
        const char *v = line + n + 1;
        const char *end = line + len;
        while (v < end && (*v == ' ' || *v == '\t'))
                v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
                end--;
        *ret_value = v;
        *ret_len = (size_t) (end - v);
        return true;
}

void vs_kms_answer_meta_init(struct vs_kms_answer_meta *m) {
        *m = (struct vs_kms_answer_meta) { .grpc_status = -1 };
}

void vs_kms_answer_header(struct vs_kms_answer_meta *k, const char *line, size_t len) {
        const char *v;
        size_t vlen;
        if (header_is(line, len, "grpc-status", &v, &vlen)) {
                int status = 0;
                bool valid = vlen > 0 && vlen <= 3;
                for (size_t i = 0; valid && i < vlen; i++) {
                        if (!isdigit((unsigned char) v[i]))
                                valid = false;
                        else
                                status = status * 10 + (v[i] - '0');
                }
                k->grpc_status = valid ? status : 1000; /* 1000: present but unparsable */
        } else if (header_is(line, len, "grpc-message", &v, &vlen))
                set_grpc_message(k, v, vlen);
        else if (header_is(line, len, "content-type", &v, &vlen)) {
                k->content_type_seen = true;
                k->content_type_grpc = vlen >= 16 && strncasecmp(v, "application/grpc", 16) == 0 &&
                                       (vlen == 16 || v[16] == '+' || v[16] == ';');
        }
}

/* Called for every header line of every header block, trailers included. */
static size_t on_header(char *line, size_t size, size_t nmemb, void *userdata) {
        struct vs_kms *k = userdata;
        size_t len = size * nmemb;
        vs_kms_answer_header(&k->meta, line, len);
        return len;
}

static const char *grpc_status_name(int s) {
        static const char *const names[] = {
                "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
                "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
                "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
        };
        return s >= 0 && (size_t) s < ELEMENTSOF(names) ? names[s] : "unknown status";
}

/* A bump allocator in a locked buffer, so protobuf-c's copy of the secret never lands on the heap. */
struct arena {
        struct vs_secret *buf;
        size_t used;
};

static void *arena_alloc(void *data, size_t size) {
        struct arena *a = data;
        size_t start = (a->used + 15u) & ~(size_t) 15u;
        if (start > a->buf->cap || size > a->buf->cap - start)
                return NULL;
        a->used = start + size;
        return a->buf->data + start;
}

static void arena_free(void *data, void *p) {
        /* freed with the arena */
}

int vs_kms_decode_response(const uint8_t *body, size_t len, struct vs_secret **ret_data, const char **ret_reason) {
        if (len < GRPC_FRAME_HEADER) {
                *ret_reason = "the answer is shorter than a gRPC message header";
                return -EBADMSG;
        }
        if (body[0] != 0) {
                *ret_reason = "the answer's message is compressed or has an unknown flag";
                return -EBADMSG;
        }
        size_t n = (size_t) body[1] << 24 | (size_t) body[2] << 16 | (size_t) body[3] << 8 | body[4];
        if (n != len - GRPC_FRAME_HEADER) {
                *ret_reason = n > len - GRPC_FRAME_HEADER ? "the answer's message is truncated"
                                                          : "the answer holds more than one message";
                return -EBADMSG;
        }
        struct vs_secret *buf = NULL;
        int r = vs_secret_new(2 * n + 256, &buf);
        if (r < 0) {
                *ret_reason = "out of memory";
                return r;
        }
        struct arena a = { .buf = buf };
        ProtobufCAllocator alloc = { .alloc = arena_alloc, .free = arena_free, .allocator_data = &a };
        Sidero__Kms__Response *msg = sidero__kms__response__unpack(&alloc, n, body + GRPC_FRAME_HEADER);
        if (!msg) {
                vs_secret_free(buf);
                *ret_reason = "the answer is not a sidero.kms.Response message";
                return -EBADMSG;
        }
        r = msg->data.len > 0 ? vs_secret_from(msg->data.data, msg->data.len, ret_data)
                              : vs_secret_new(0, ret_data); /* protobuf-c leaves data NULL when empty */
        vs_secret_free(buf);
        if (r < 0) {
                *ret_reason = "out of memory";
                return r;
        }
        *ret_reason = NULL;
        return 0;
}

static int curl_error(struct vs_kms *k, const char *method, CURLcode rc) {
        const char *detail = k->errbuf[0] ? k->errbuf : curl_easy_strerror(rc);
        switch (rc) {
        case CURLE_COULDNT_CONNECT:
                return kms_fail(k, -ECONNREFUSED, "KMS %s is down: %s failed: %s", k->endpoint, method, detail);
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_PARTIAL_FILE: /* HTTP/2: the connection ended before the stream did */
                return kms_fail(k, -ECONNRESET, "KMS %s closed the connection during %s: %s", k->endpoint,
                                       method, detail);
        case CURLE_COULDNT_RESOLVE_HOST:
                return kms_fail(k, -EHOSTUNREACH, "KMS %s is down: %s failed: cannot resolve the host: %s",
                                       k->endpoint, method, detail);
        case CURLE_OPERATION_TIMEDOUT:
                return kms_fail(k, -ETIMEDOUT, "KMS %s is too slow: %s got no answer within %u ms", k->endpoint,
                                       method, k->timeout_ms);
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
                return kms_fail(k, -EKEYREJECTED, "KMS %s: %s refused: the server's TLS certificate is not "
                                       "trusted%s: %s", k->endpoint, method,
                                       k->ca_file ? " by the KMS CA file" : " by the system CA store", detail);
        case CURLE_SSL_CONNECT_ERROR:
                return kms_fail(k, -EPROTO, "KMS %s: %s failed: TLS handshake failed: %s", k->endpoint, method,
                                       detail);
        case CURLE_WRITE_ERROR:
                if (k->answer_too_big)
                        return kms_fail(k, -EBADMSG, "KMS %s sent garbage: the %s answer is larger than %u bytes",
                                               k->endpoint, method, KMS_MAX_ANSWER);
                return kms_fail(k, -ENOMEM, "KMS %s: %s failed: out of memory for the answer", k->endpoint,
                                       method);
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_WEIRD_SERVER_REPLY:
        case CURLE_GOT_NOTHING:
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_BAD_CONTENT_ENCODING:
                return kms_fail(k, -EBADMSG, "KMS %s sent garbage: %s: %s", k->endpoint, method, detail);
        default:
                return kms_fail(k, -EIO, "KMS %s: %s failed: %s", k->endpoint, method, detail);
        }
}

/* The route Talos's gRPC dialer takes (proxy.h): when the environment names a proxy, the host is resolved
 * first, as gRPC resolves before it dials, and curl is pinned to that address: directly when NO_PROXY
 * (or loopback) exempts it, else through an HTTP CONNECT (or SOCKS5) tunnel to that IP and port. */
static int route(struct vs_kms *k, const char *method) {
        const char *hp = getenv("HTTPS_PROXY"), *np = getenv("NO_PROXY");
        if (!hp || !*hp)
                hp = getenv("https_proxy");
        if (!np || !*np)
                np = getenv("no_proxy");
        curl_slist_free_all(k->connect_to);
        k->connect_to = NULL;
        if (!hp || !*hp)
                return curl_easy_setopt(k->curl, CURLOPT_PROXY, "") == CURLE_OK ? 0 : -EIO; /* direct */
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
        char ip[INET6_ADDRSTRLEN] = "";
        if (getaddrinfo(k->ep.host, NULL, &hints, &ai) != 0 || !ai)
                return kms_fail(k, -EHOSTUNREACH, "KMS %s is down: %s failed: cannot resolve the host %s", k->endpoint,
                                method, k->ep.host);
        getnameinfo(ai->ai_addr, ai->ai_addrlen, ip, sizeof(ip), NULL, 0, NI_NUMERICHOST);
        bool v6 = ai->ai_family == AF_INET6;
        freeaddrinfo(ai);
        char proxy[512], pin[640];
        const char *why = NULL;
        int r = vs_kms_proxy_select(hp, np, ip, k->ep.port, proxy, sizeof(proxy), &why);
        if (r < 0)
                return kms_fail(k, -EINVAL, "KMS %s: %s failed: the proxy from HTTPS_PROXY cannot be used: %s", k->endpoint,
                                method, why);
        snprintf(pin, sizeof(pin), "%s%s%s:%u:%s%s%s:%u", k->ep.ipv6 ? "[" : "", k->ep.host, k->ep.ipv6 ? "]" : "",
                 k->ep.port, v6 ? "[" : "", ip, v6 ? "]" : "", k->ep.port);
        if (!(k->connect_to = curl_slist_append(NULL, pin)))
                return kms_fail(k, -ENOMEM, "KMS %s: out of memory", k->endpoint);
        CURLcode rc = curl_easy_setopt(k->curl, CURLOPT_CONNECT_TO, k->connect_to);
        if (rc == CURLE_OK)
                rc = curl_easy_setopt(k->curl, CURLOPT_PROXY, r > 0 ? proxy : "");
        if (rc == CURLE_OK)
                rc = curl_easy_setopt(k->curl, CURLOPT_HTTPPROXYTUNNEL, 1L); /* gRPC always tunnels through CONNECT */
        if (r > 0)
                log_debug("KMS %s: %s goes through the proxy from HTTPS_PROXY to %s", k->endpoint, method, ip);
        return rc == CURLE_OK ? 0 : -EIO;
}

/* The options of one call; the handle, and so its connection cache, stays from call to call. */
static CURLcode set_call_options(struct vs_kms *k, const char *url, const struct vs_secret *request) {
        CURL *c = k->curl;
        CURLcode rc = CURLE_OK;
#define SET(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(c, opt, val); } while (0)
        SET(CURLOPT_VERBOSE, 0L); /* never: it would dump request and answer bodies */
        SET(CURLOPT_NOSIGNAL, 1L);
        SET(CURLOPT_NOPROGRESS, 1L);
        SET(CURLOPT_URL, url);
        SET(CURLOPT_PROTOCOLS_STR, k->tls ? "https" : "http");
        SET(CURLOPT_FOLLOWLOCATION, 0L);
        SET(CURLOPT_HTTP_VERSION, (long) (k->tls ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE));
        SET(CURLOPT_USERAGENT, "volseal/" VOLSEAL_VERSION);
        SET(CURLOPT_HTTPHEADER, k->headers);
        SET(CURLOPT_POST, 1L);
        SET(CURLOPT_POSTFIELDS, (const char *) request->data);
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) request->len);
        SET(CURLOPT_TIMEOUT_MS, (long) k->timeout_ms);
        SET(CURLOPT_CONNECTTIMEOUT_MS, (long) k->timeout_ms);
        SET(CURLOPT_WRITEFUNCTION, on_body);
        SET(CURLOPT_WRITEDATA, k);
        SET(CURLOPT_HEADERFUNCTION, on_header);
        SET(CURLOPT_HEADERDATA, k);
        SET(CURLOPT_ERRORBUFFER, k->errbuf);
        bool fresh = !k->tls && h2c_reuse_broken();
        SET(CURLOPT_FRESH_CONNECT, (long) fresh);
        SET(CURLOPT_FORBID_REUSE, (long) fresh);
        if (k->tls) {
                SET(CURLOPT_SSL_VERIFYPEER, 1L);
                SET(CURLOPT_SSL_VERIFYHOST, 2L);
                SET(CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
                if (k->ca_file)
                        SET(CURLOPT_CAINFO, k->ca_file);
        }
#undef SET
        return rc;
}

/* After a completed transfer: HTTP/2, status 200, grpc-status 0, application/grpc, one Response. */
static int check_answer(struct vs_kms *k, const char *method, struct vs_secret **ret_data) {
        long version = 0, http_status = 0;
        curl_easy_getinfo(k->curl, CURLINFO_HTTP_VERSION, &version);
        curl_easy_getinfo(k->curl, CURLINFO_RESPONSE_CODE, &http_status);
        if (version != CURL_HTTP_VERSION_2_0)
                return kms_fail(k, -EPROTO, "KMS %s: %s failed: the server does not speak HTTP/2 (ALPN did not "
                                       "select h2)", k->endpoint, method);
        if (http_status != 200)
                return kms_fail(k, -EBADMSG, "KMS %s sent garbage: %s answered HTTP status %ld, not a gRPC "
                                       "response", k->endpoint, method, http_status);
        if (k->meta.grpc_status > 0)
                return kms_fail(k, -EREMOTEIO, "KMS %s refused %s: gRPC status %d (%s)%s%s%s", k->endpoint,
                                       method, k->meta.grpc_status, k->meta.grpc_status == 1000 ? "unparsable" :
                                       grpc_status_name(k->meta.grpc_status), k->meta.grpc_message[0] ? ": \"" : "",
                                       k->meta.grpc_message, k->meta.grpc_message[0] ? "\"" : "");
        if (!k->meta.content_type_grpc)
                return kms_fail(k, -EBADMSG, "KMS %s sent garbage: the %s answer's content type is %s, not "
                                       "application/grpc", k->endpoint, method,
                                       k->meta.content_type_seen ? "different" : "missing");
        if (k->meta.grpc_status < 0)
                return kms_fail(k, -EBADMSG, "KMS %s sent garbage: the %s answer has no grpc-status trailer",
                                       k->endpoint, method);
        const char *reason = NULL;
        int r = vs_kms_decode_response(k->answer->data, k->answer->len, ret_data, &reason);
        if (r == -EBADMSG)
                return kms_fail(k, r, "KMS %s sent garbage: %s: %s", k->endpoint, method, reason);
        if (r < 0)
                return kms_fail(k, r, "KMS %s: %s: %s", k->endpoint, method, reason);
        return 0;
}

/* One unary call: `request` is the gRPC-framed Request; the decoded Response data goes to *ret_data. */
static int call_once(struct vs_kms *k, const char *method, const struct vs_secret *request,
                     struct vs_secret **ret_data) {
        _cleanup_free_ char *url = NULL;
        if (asprintf(&url, "%s" KMS_SERVICE_PATH "%s", k->base_url, method) < 0)
                return kms_fail(k, -ENOMEM, "KMS %s: out of memory", k->endpoint);
        vs_secret_free(k->answer);
        k->answer = NULL;
        int r = vs_secret_new(256, &k->answer);
        if (r < 0)
                return kms_fail(k, r, "KMS %s: cannot allocate a locked buffer for the answer", k->endpoint);
        k->answer_too_big = false;
        vs_kms_answer_meta_init(&k->meta);
        k->errbuf[0] = '\0';
        CURLcode rc = set_call_options(k, url, request);
        if (rc != CURLE_OK)
                return kms_fail(k, -EIO, "KMS %s: cannot set up the %s call: %s", k->endpoint, method, curl_easy_strerror(rc));
        r = route(k, method);
        if (r < 0)
                return r == -EIO ? kms_fail(k, r, "KMS %s: cannot set up the %s call's route", k->endpoint, method) : r;
        rc = curl_easy_perform(k->curl);
        /* Drop the pointer to the request (it may be a secret the caller frees next). */
        curl_easy_setopt(k->curl, CURLOPT_POSTFIELDS, (const char *) NULL);
        if (rc != CURLE_OK)
                return curl_error(k, method, rc);
        return check_answer(k, method, ret_data);
}

static int call(struct vs_kms *k, const char *method, const struct vs_secret *request, struct vs_secret **ret_data) {
        k->error[0] = '\0';
        int r = call_once(k, method, request, ret_data);
        vs_secret_free(k->answer); /* the raw answer (an Unseal's holds the secret) is wiped on every path */
        k->answer = NULL;
        return r;
}

/* Frames Request{node_uuid, data} for the wire in a locked buffer (the data may be a secret). */
static int build_request(struct vs_kms *k, const char *node_uuid, const uint8_t *data, size_t len, struct vs_secret **ret) {
        Sidero__Kms__Request req = SIDERO__KMS__REQUEST__INIT;
        req.node_uuid = (char *) (node_uuid ? node_uuid : ""); /* sent as Talos sends it, even empty */
        req.data.data = (uint8_t *) data;
        req.data.len = len;
        size_t n = sidero__kms__request__get_packed_size(&req);
        if (n > UINT32_MAX)
                return kms_fail(k, -E2BIG, "KMS %s: request too large", k->endpoint);
        struct vs_secret *s = NULL;
        int r = vs_secret_new(GRPC_FRAME_HEADER + n, &s);
        if (r < 0)
                return kms_fail(k, r, "KMS %s: cannot allocate a locked buffer for the request", k->endpoint);
        s->data[0] = 0;
        s->data[1] = (uint8_t) (n >> 24);
        s->data[2] = (uint8_t) (n >> 16);
        s->data[3] = (uint8_t) (n >> 8);
        s->data[4] = (uint8_t) n;
        sidero__kms__request__pack(&req, s->data + GRPC_FRAME_HEADER);
        s->len = GRPC_FRAME_HEADER + n;
        *ret = s;
        return 0;
}

int vs_kms_seal(struct vs_kms *k, const char *node_uuid, const struct vs_secret *plain,
                uint8_t **ret_sealed, size_t *ret_len) {
        int r;
        if (!plain || plain->len == 0)
                return kms_fail(k, -EINVAL, "KMS %s: nothing to seal", k->endpoint);
        _cleanup_secret_ struct vs_secret *req = NULL;
        r = build_request(k, node_uuid, plain->data, plain->len, &req);
        if (r < 0)
                return r;
        _cleanup_secret_ struct vs_secret *sealed = NULL;
        r = call(k, "Seal", req, &sealed);
        if (r < 0)
                return r;
        if (sealed->len == 0)
                return kms_fail(k, -EBADMSG, "KMS %s sent garbage: Seal returned no sealed data", k->endpoint);
        uint8_t *out = malloc(sealed->len);
        if (!out)
                return kms_fail(k, -ENOMEM, "KMS %s: out of memory", k->endpoint);
        memcpy(out, sealed->data, sealed->len);
        *ret_sealed = out;
        *ret_len = sealed->len;
        return 0;
}

int vs_kms_unseal(struct vs_kms *k, const char *node_uuid, const uint8_t *sealed, size_t len,
                  struct vs_secret **ret_plain) {
        int r;
        if (!sealed || len == 0)
                return kms_fail(k, -EINVAL, "KMS %s: no sealed data to unseal", k->endpoint);
        _cleanup_secret_ struct vs_secret *req = NULL;
        r = build_request(k, node_uuid, sealed, len, &req);
        if (r < 0)
                return r;
        _cleanup_secret_ struct vs_secret *plain = NULL;
        r = call(k, "Unseal", req, &plain);
        if (r < 0)
                return r;
        /* Talos takes whatever length the KMS returns (base64 of it is the passphrase); the keyslot decides. */
        *ret_plain = TAKE_PTR(plain);
        return 0;
}
