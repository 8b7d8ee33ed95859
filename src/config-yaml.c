/* config-yaml.c: libyaml document nodes read with go.yaml.in/yaml/v4's decoding rules (see
 * config-internal.h), and the text formats of Talos's ByteSize, Size and Go's time.Duration.
 * yaml v4 resolves a plain scalar by its text ("true"/"True"/"TRUE" bool, "", "~", "null" null, integers
 * with 0x/0o/0b/0 prefixes and underscores, decimal floats); a quoted scalar is always a string. Decoding
 * into a Go field then converts: any scalar's text into a string, YAML 1.1's y/yes/on/n/no/off (quoted
 * or not) into a bool, a float into an int by truncation, null leaves the field as it was. */
#include "config-internal.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

yaml_node_t *cy_node(struct cy *p, int index) {
        return yaml_document_get_node(p->doc, index);
}

const char *cy_scalar(const yaml_node_t *n) {
        return n && n->type == YAML_SCALAR_NODE ? (const char *) n->data.scalar.value : NULL;
}

static bool is_plain(const yaml_node_t *n) {
        return n && n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

bool cy_is_null(const yaml_node_t *n) {
        if (!n)
                return true;
        const char *s = cy_scalar(n);
        return s && is_plain(n) && (!*s || streq(s, "~") || streq(s, "null") || streq(s, "Null") || streq(s, "NULL"));
}

void cy_join(char *buf, size_t size, const char *a, const char *b) {
        snprintf(buf, size, "%s%s%s", a ? a : "", a && *a ? "." : "", b ? b : "");
}

__attribute__((format(printf, 5, 0)))
static void vlog_at(struct cy *p, enum vs_log_level level, const yaml_node_t *n, const char *field, const char *fmt,
                    va_list ap) {
        char msg[768];
        vsnprintf(msg, sizeof(msg), fmt, ap);
        unsigned long line = n ? (unsigned long) n->start_mark.line + 1 : 1;
        unsigned long col = n ? (unsigned long) n->start_mark.column + 1 : 1;
        vs_log(level, "%s:%lu:%lu: document %s%s%s: field %s: %s", p->file, line, col, p->kind ? p->kind : "?",
               p->docname ? " " : "", p->docname ? p->docname : "", field && *field ? field : "(document)", msg);
}

void cy_vreport(struct cy *p, const yaml_node_t *n, const char *field, const char *fmt, va_list ap) {
        vlog_at(p, VS_LOG_ERR, n, field, fmt, ap);
        p->errors++;
}

void cy_report(struct cy *p, const yaml_node_t *n, const char *field, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        cy_vreport(p, n, field, fmt, ap);
        va_end(ap);
}

void cy_warn(struct cy *p, const yaml_node_t *n, const char *field, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vlog_at(p, VS_LOG_WARN, n, field, fmt, ap);
        va_end(ap);
}

void cy_extension(struct cy *p, const yaml_node_t *n, const char *field, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        if (p->flags & VS_CONFIG_TALOS)
                cy_vreport(p, n, field, fmt, ap);
        else
                vlog_at(p, VS_LOG_DEBUG, n, field, fmt, ap);
        va_end(ap);
}

static void allowed_list(char *buf, size_t size, const char *const *allowed) {
        size_t o = 0;
        buf[0] = 0;
        for (size_t i = 0; allowed[i] && o < size; i++)
                o += (size_t) snprintf(buf + o, size - o, "%s%s", i ? ", " : "", allowed[i]);
}

static bool in_list(const char *s, const char *const *list) {
        for (size_t i = 0; list[i]; i++)
                if (streq(s, list[i]))
                        return true;
        return false;
}

int cy_mapping(struct cy *p, yaml_node_t *n, const char *field, const char *const *allowed) {
        if (cy_is_null(n))
                return 0;
        if (n->type != YAML_MAPPING_NODE) {
                cy_report(p, n, field, "expected a mapping");
                return -EINVAL;
        }
        int r = 1;
        for (yaml_node_pair_t *a = n->data.mapping.pairs.start; a < n->data.mapping.pairs.top; a++) {
                yaml_node_t *ka = cy_node(p, a->key);
                const char *k = cy_scalar(ka);
                char sub[256];
                cy_join(sub, sizeof(sub), field, k);
                if (!k) {
                        cy_report(p, ka, field, "mapping keys must be plain words");
                        r = -EINVAL;
                        continue;
                }
                bool twice = false;
                for (yaml_node_pair_t *b = n->data.mapping.pairs.start; b < a && !twice; b++)
                        twice = cy_scalar(cy_node(p, b->key)) && streq(cy_scalar(cy_node(p, b->key)), k);
                if (twice) {
                        cy_report(p, ka, sub, "\"%s\" is given twice", k);
                        r = -EINVAL;
                } else if (allowed && !allowed[0]) {
                        cy_report(p, ka, sub, "unknown field (%s takes no fields: write %s: {})", field, field);
                        r = -EINVAL;
                } else if (allowed && !in_list(k, allowed)) {
                        char list[512];
                        allowed_list(list, sizeof(list), allowed);
                        cy_report(p, ka, sub, "unknown field (allowed: %s)", list);
                        r = -EINVAL;
                }
        }
        return r;
}

static yaml_node_pair_t *find_pair(struct cy *p, yaml_node_t *map, const char *key) {
        if (!map || map->type != YAML_MAPPING_NODE)
                return NULL;
        for (yaml_node_pair_t *a = map->data.mapping.pairs.start; a < map->data.mapping.pairs.top; a++) {
                const char *k = cy_scalar(cy_node(p, a->key));
                if (k && streq(k, key))
                        return a;
        }
        return NULL;
}

yaml_node_t *cy_get(struct cy *p, yaml_node_t *map, const char *key) {
        yaml_node_pair_t *a = find_pair(p, map, key);
        return a ? cy_node(p, a->value) : NULL;
}

yaml_node_t *cy_get_key(struct cy *p, yaml_node_t *map, const char *key) {
        yaml_node_pair_t *a = find_pair(p, map, key);
        return a ? cy_node(p, a->key) : NULL;
}

int cy_sequence(struct cy *p, yaml_node_t *n, const char *field) {
        if (cy_is_null(n))
                return 0;
        if (n->type != YAML_SEQUENCE_NODE) {
                cy_report(p, n, field, "expected a list");
                return -EINVAL;
        }
        return 1;
}

size_t cy_items(yaml_node_t *seq) {
        return seq && seq->type == YAML_SEQUENCE_NODE ? (size_t) (seq->data.sequence.items.top - seq->data.sequence.items.start) : 0;
}

yaml_node_t *cy_item(struct cy *p, yaml_node_t *seq, size_t i) {
        return cy_node(p, seq->data.sequence.items.start[i]);
}

int cy_bool(struct cy *p, yaml_node_t *n, const char *field, bool *ret) {
        static const char *const yes[] = { "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", NULL };
        static const char *const no[] = { "n", "N", "no", "No", "NO", "off", "Off", "OFF", NULL };
        static const char *const plain_true[] = { "true", "True", "TRUE", NULL };
        static const char *const plain_false[] = { "false", "False", "FALSE", NULL };
        if (cy_is_null(n))
                return 0;
        const char *s = cy_scalar(n);
        if (s && (in_list(s, yes) || (is_plain(n) && in_list(s, plain_true)))) {
                *ret = true;
                return 1;
        }
        if (s && (in_list(s, no) || (is_plain(n) && in_list(s, plain_false)))) {
                *ret = false;
                return 1;
        }
        cy_report(p, n, field, "expected a boolean (true, false; also yes/no, on/off, y/n as Talos's YAML decoder reads them)");
        return -EINVAL;
}

/* strconv.ParseInt/ParseUint with base 0 on an underscore-free text: sign, 0x/0o/0b/0 prefix, digits. */
static int parse_go_int(const char *s, bool *neg, uint64_t *mag) {
        *neg = false;
        if (*s == '+' || *s == '-')
                *neg = *s++ == '-';
        unsigned base = 10;
        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
                base = 16, s += 2;
        else if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
                base = 8, s += 2;
        else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B'))
                base = 2, s += 2;
        else if (s[0] == '0' && s[1])
                base = 8, s += 1;
        if (!*s)
                return -EINVAL;
        uint64_t v = 0;
        for (; *s; s++) {
                unsigned d = isdigit((unsigned char) *s) ? (unsigned) (*s - '0')
                           : isxdigit((unsigned char) *s) ? (unsigned) (tolower((unsigned char) *s) - 'a' + 10) : 99;
                if (d >= base || v > (UINT64_MAX - d) / base)
                        return -EINVAL;
                v = v * base + d;
        }
        *mag = v;
        return 0;
}

/* yaml's float syntax: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool yaml_style_float(const char *s) {
        if (*s == '+' || *s == '-')
                s++;
        size_t d = strspn(s, "0123456789");
        if (d == 0) {
                if (*s != '.' || !isdigit((unsigned char) s[1]))
                        return false;
                s += 1 + strspn(s + 1, "0123456789");
        } else {
                s += d;
                if (*s == '.')
                        s += 1 + strspn(s + 1, "0123456789");
        }
        if (*s == 'e' || *s == 'E') {
                s++;
                if (*s == '+' || *s == '-')
                        s++;
                if (!isdigit((unsigned char) *s))
                        return false;
                s += strspn(s, "0123456789");
        }
        return *s == 0;
}

int vs_yaml_resolve_int(const char *s, int64_t *ret, bool *is_uint64, uint64_t *ret_u) {
        char plain[128];
        size_t o = 0;
        *is_uint64 = false;
        if (!(isdigit((unsigned char) s[0]) || s[0] == '+' || s[0] == '-' || s[0] == '.'))
                return -EINVAL;
        for (const char *c = s; *c && o + 1 < sizeof(plain); c++)
                if (*c != '_')
                        plain[o++] = *c;
        plain[o] = 0;
        bool neg;
        uint64_t mag;
        if (s[0] != '.' && parse_go_int(plain, &neg, &mag) == 0) {
                if (!neg && mag > (uint64_t) INT64_MAX) {
                        *is_uint64 = true;
                        *ret_u = mag;
                        return 0;
                }
                if (neg ? mag <= (uint64_t) INT64_MAX + 1 : true) {
                        *ret = neg ? (int64_t) (0 - mag) : (int64_t) mag;
                        return 0;
                }
                return -ERANGE;
        }
        if (!yaml_style_float(s[0] == '.' ? s : plain))
                return -EINVAL;
        double f = strtod(s[0] == '.' ? s : plain, NULL);
        if (!isfinite(f) || f >= 9223372036854775808.0 || f < -9223372036854775808.0)
                return -ERANGE;
        *ret = (int64_t) f; /* Go converts a float into an int by truncation */
        return 0;
}

int cy_int(struct cy *p, yaml_node_t *n, const char *field, int64_t *ret) {
        if (cy_is_null(n))
                return 0;
        bool big = false;
        uint64_t u;
        if (is_plain(n) && vs_yaml_resolve_int(cy_scalar(n), ret, &big, &u) == 0 && !big)
                return 1;
        cy_report(p, n, field, "expected a whole number");
        return -EINVAL;
}

int cy_uint(struct cy *p, yaml_node_t *n, const char *field, uint64_t *ret) {
        if (cy_is_null(n))
                return 0;
        bool big = false;
        int64_t v = 0;
        uint64_t u = 0;
        if (is_plain(n) && vs_yaml_resolve_int(cy_scalar(n), &v, &big, &u) == 0 && (big || v >= 0)) {
                *ret = big ? u : (uint64_t) v;
                return 1;
        }
        cy_report(p, n, field, "expected a whole number from 0 up");
        return -EINVAL;
}

int cy_string(struct cy *p, yaml_node_t *n, const char *field, const char **ret) {
        if (cy_is_null(n))
                return 0;
        if (!cy_scalar(n)) {
                cy_report(p, n, field, "expected a string");
                return -EINVAL;
        }
        *ret = cy_scalar(n);
        return 1;
}

/* ---- Talos's text types ---- */

/* humanize.ParseBytes: digits (with '.' and ','), optional spaces, a unit from its table. */
static int parse_humanize_bytes(const char *s, uint64_t *ret) {
        static const struct { const char *unit; double mult; } table[] = {
                { "", 1 }, { "b", 1 }, { "kib", 1024.0 }, { "ki", 1024.0 }, { "kb", 1e3 }, { "k", 1e3 },
                { "mib", 1048576.0 }, { "mi", 1048576.0 }, { "mb", 1e6 }, { "m", 1e6 },
                { "gib", 1073741824.0 }, { "gi", 1073741824.0 }, { "gb", 1e9 }, { "g", 1e9 },
                { "tib", 1099511627776.0 }, { "ti", 1099511627776.0 }, { "tb", 1e12 }, { "t", 1e12 },
                { "pib", 1125899906842624.0 }, { "pi", 1125899906842624.0 }, { "pb", 1e15 }, { "p", 1e15 },
                { "eib", 1152921504606846976.0 }, { "ei", 1152921504606846976.0 }, { "eb", 1e18 }, { "e", 1e18 },
        };
        char num[64];
        size_t n = 0, i = 0, dots = 0;
        for (; s[i] && (isdigit((unsigned char) s[i]) || s[i] == '.' || s[i] == ','); i++)
                if (s[i] != ',' && n + 1 < sizeof(num)) {
                        dots += s[i] == '.';
                        num[n++] = s[i];
                }
        num[n] = 0;
        if (n == 0 || dots > 1 || streq(num, "."))
                return -EINVAL;
        double f = strtod(num, NULL);
        const char *unit = s + i;
        while (isspace((unsigned char) *unit))
                unit++;
        char lower[8];
        size_t u = 0;
        for (; unit[u] && !isspace((unsigned char) unit[u]) && u + 1 < sizeof(lower); u++)
                lower[u] = (char) tolower((unsigned char) unit[u]);
        lower[u] = 0;
        for (const char *t = unit + u; *t; t++)
                if (!isspace((unsigned char) *t))
                        return -EINVAL;
        for (size_t k = 0; k < ELEMENTSOF(table); k++)
                if (streq(lower, table[k].unit)) {
                        f *= table[k].mult;
                        if (f >= 18446744073709551616.0)
                                return -ERANGE;
                        *ret = (uint64_t) f;
                        return 0;
                }
        return -EINVAL;
}

int vs_talos_parse_bytes(const char *s, uint64_t *ret, bool *negative) {
        *negative = s[0] == '-';
        return parse_humanize_bytes(s + (*negative ? 1 : 0), ret);
}

int vs_talos_parse_size(const char *s, uint64_t *ret, bool *relative, bool *negative) {
        *relative = strchr(s, '%') != NULL;
        if (!*relative)
                return vs_talos_parse_bytes(s, ret, negative);
        size_t n = strlen(s);
        if (s[n - 1] != '%')
                return -EINVAL;
        *negative = s[0] == '-';
        char num[64];
        snprintf(num, sizeof(num), "%.*s", (int) (n - 1 - (*negative ? 1 : 0)), s + (*negative ? 1 : 0));
        char *end;
        errno = 0;
        double v = strtod(num, &end);
        if (!num[0] || *end || errno || !(v >= 0 && v <= 100))
                return -EINVAL;
        *ret = (uint64_t) v;
        return 0;
}

int vs_talos_parse_duration(const char *s, int64_t *ret_ns) {
        static const struct { const char *unit; double ns; } units[] = {
                { "ns", 1 }, { "us", 1e3 }, { "\xc2\xb5s", 1e3 }, { "\xce\xbcs", 1e3 }, { "ms", 1e6 },
                { "s", 1e9 }, { "m", 60e9 }, { "h", 3600e9 },
        };
        bool neg = *s == '-';
        if (*s == '-' || *s == '+')
                s++;
        if (streq(s, "0")) {
                *ret_ns = 0;
                return 0;
        }
        if (!*s)
                return -EINVAL;
        double total = 0;
        while (*s) {
                size_t d = strspn(s, "0123456789.");
                if (d == 0)
                        return -EINVAL;
                char num[64];
                snprintf(num, sizeof(num), "%.*s", (int) d, s);
                if (streq(num, ".") || strchr(strchr(num, '.') ? strchr(num, '.') + 1 : "", '.'))
                        return -EINVAL;
                double v = strtod(num, NULL);
                s += d;
                size_t k, ulen = 0;
                for (k = 0; k < ELEMENTSOF(units); k++) {
                        ulen = strlen(units[k].unit);
                        if (strncmp(s, units[k].unit, ulen) == 0 && !isalpha((unsigned char) s[ulen]) && (unsigned char) s[ulen] < 0x80)
                                break;
                }
                if (k == ELEMENTSOF(units))
                        return -EINVAL;
                total += v * units[k].ns;
                s += ulen;
        }
        if (total > 9.2e18)
                return -ERANGE;
        *ret_ns = (int64_t) (neg ? -total : total);
        return 0;
}
