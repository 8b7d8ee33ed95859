/* slot-order.c: which tpm and kms keys an always-opening key (nodeID, static) in a lower slot hides. */
#include "slot-order.h"

#include <stdarg.h>
#include <stdio.h>

#include "log.h"

static bool always_opens(enum vs_key_kind kind) {
        return kind == VS_KEY_NODEID || kind == VS_KEY_STATIC;
}

static bool hidden_by(const struct vs_key_config *k, const struct vs_key_config *first) {
        return (k->kind == VS_KEY_TPM || k->kind == VS_KEY_KMS) && k->slot > first->slot;
}

/* snprintf at *off, advancing it; a full buffer cuts the text, never overruns */
__attribute__((format(printf, 4, 5)))
static void append(char *buf, size_t size, size_t *off, const char *fmt, ...) {
        if (*off >= size)
                return;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(buf + *off, size - *off, fmt, ap);
        va_end(ap);
        if (n > 0)
                *off += (size_t) n;
}

bool vs_slot_order_advice(const struct vs_volume_config *v, char *buf, size_t size) {
        if (size)
                buf[0] = 0;
        if (!v->encrypted)
                return false;
        const struct vs_key_config *first = NULL; /* the lowest always-opening slot */
        for (size_t i = 0; i < v->enc.n_keys; i++)
                if (always_opens(v->enc.keys[i].kind) && (!first || v->enc.keys[i].slot < first->slot))
                        first = &v->enc.keys[i];
        size_t hidden = 0;
        for (size_t i = 0; first && i < v->enc.n_keys; i++)
                hidden += hidden_by(&v->enc.keys[i], first);
        if (hidden == 0)
                return false;
        size_t off = 0;
        append(buf, size, &off, "volume %s: slot %u (%s) always opens the volume and is tried before slot%s", v->id,
               first->slot, vs_key_kind_name(first->kind), hidden > 1 ? "s" : "");
        size_t n = 0;
        for (size_t i = 0; i < v->enc.n_keys; i++)
                if (hidden_by(&v->enc.keys[i], first))
                        append(buf, size, &off, "%s %u (%s)", n++ ? "," : "", v->enc.keys[i].slot,
                               vs_key_kind_name(v->enc.keys[i].kind));
        append(buf, size, &off, ", so %s never open%s the volume and a broken binding would go unnoticed (put tpm "
               "and kms keys in lower slots than nodeID and static keys)", hidden > 1 ? "these" : "it",
               hidden > 1 ? "" : "s");
        return true;
}

void vs_slot_order_warn(const struct vs_volume_config *v) {
        char advice[512];
        if (vs_slot_order_advice(v, advice, sizeof(advice)))
                log_warning("%s", advice);
}
