/* authnv.c: see authnv.h. */
#include "authnv.h"
#include "policy-internal.h"

#include <errno.h>
#include <string.h>

#include "src/log.h"
#include "src/util.h"

#define PCR11 (1u << 11)
#define MAGIC "VSAS"
#define VERSION 1
#define KEYS_OFFSET AUTHNV_HEADER_SIZE
#define STATES_OFFSET (KEYS_OFFSET + AUTHNV_MAX_KEYS * AUTHNV_NAME_SIZE)

static uint32_t get_be32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static bool sha256_name(const TPM2B_NAME *n) {
        return n && n->size == AUTHNV_NAME_SIZE && n->name[0] == 0x00 && n->name[1] == 0x0b;
}

static bool name_eq(const TPM2B_NAME *a, const TPM2B_NAME *b) {
        return a->size == b->size && memcmp(a->name, b->name, a->size) == 0;
}

int authnv_init(struct authnv_set *s, uint32_t pcr_mask) {
        if (pcr_mask & PCR11 || pcr_mask >> 24)
                return log_error_errno(-EINVAL, "literal PCRs 0x%06x: PCR 11 is bound through the signed policy and "
                                       "PCRs are 0-23", pcr_mask);
        if (__builtin_popcount(pcr_mask) * POLICY_SHA256_SIZE > AUTHNV_STATE_BYTES)
                return log_error_errno(-EINVAL, "literal PCRs 0x%06x: more than %d PCRs do not fit the index",
                                       pcr_mask, AUTHNV_STATE_BYTES / POLICY_SHA256_SIZE);
        *s = (struct authnv_set) { .pcr_mask = pcr_mask };
        return 0;
}

size_t authnv_state_size(const struct authnv_set *s) {
        return (size_t) __builtin_popcount(s->pcr_mask) * POLICY_SHA256_SIZE;
}

size_t authnv_max_states(const struct authnv_set *s) {
        size_t size = authnv_state_size(s);
        if (size == 0)
                return 0;
        size_t n = AUTHNV_STATE_BYTES / size;
        return n < AUTHNV_MAX_STATES ? n : AUTHNV_MAX_STATES;
}

const uint8_t *authnv_state(const struct authnv_set *s, size_t i) {
        return s->states + i * authnv_state_size(s);
}

int authnv_find_key(const struct authnv_set *s, const TPM2B_NAME *name) {
        for (size_t i = 0; name && i < s->n_keys; i++)
                if (name_eq(&s->keys[i], name))
                        return (int) i;
        return -ENOENT;
}

int authnv_add_key(struct authnv_set *s, const TPM2B_NAME *name) {
        if (!sha256_name(name))
                return log_error_errno(-EINVAL, "a PCR-policy key Name must be a SHA-256 Name (34 bytes, 000b...)");
        if (authnv_find_key(s, name) >= 0)
                return 0;
        if (s->n_keys >= AUTHNV_MAX_KEYS)
                return log_error_errno(-ENOSPC, "%d PCR-policy keys are authorized already (the most the index "
                                       "holds): remove one first", AUTHNV_MAX_KEYS);
        s->keys[s->n_keys++] = *name;
        return 1;
}

int authnv_remove_key(struct authnv_set *s, const TPM2B_NAME *name) {
        int i = authnv_find_key(s, name);
        if (i < 0)
                return log_error_errno(-ENOENT, "that PCR-policy key is not authorized");
        if (s->n_keys == 1)
                return log_error_errno(-EPERM, "that is the only authorized PCR-policy key: authorize its "
                                       "successor first");
        memmove(&s->keys[i], &s->keys[i + 1], (s->n_keys - (size_t) i - 1) * sizeof(s->keys[0]));
        s->keys[--s->n_keys] = (TPM2B_NAME) {};
        return 1;
}

int authnv_find_state(const struct authnv_set *s, const uint8_t *values, size_t len) {
        size_t size = authnv_state_size(s);
        if (!values || len != size || size == 0)
                return -ENOENT;
        for (size_t i = 0; i < s->n_states; i++)
                if (memcmp(authnv_state(s, i), values, size) == 0)
                        return (int) i;
        return -ENOENT;
}

int authnv_add_state(struct authnv_set *s, const uint8_t *values, size_t len) {
        size_t size = authnv_state_size(s);
        if (size == 0 || !values || len != size)
                return log_error_errno(-EINVAL, "a state holds %zu bytes of PCR values here, not %zu", size, len);
        if (authnv_find_state(s, values, len) >= 0)
                return 0;
        if (s->n_states >= authnv_max_states(s))
                return log_error_errno(-ENOSPC, "%zu states are authorized already (the most the index holds): "
                                       "retire the superseded ones first", s->n_states);
        memcpy(s->states + s->n_states * size, values, size);
        s->n_states++;
        return 1;
}

int authnv_retire_before(struct authnv_set *s, const uint8_t *current, size_t len) {
        int i = authnv_find_state(s, current, len);
        if (i < 0)
                return -ENOENT;
        size_t size = authnv_state_size(s), n = (size_t) i;
        if (n == 0)
                return 0;
        memmove(s->states, s->states + n * size, (s->n_states - n) * size);
        s->n_states -= n;
        memset(s->states + s->n_states * size, 0, AUTHNV_STATE_BYTES - s->n_states * size);
        return (int) n;
}

/* ---- digests ---- */

static int check_counts(const struct authnv_set *s) {
        if (s->n_keys < 1 || s->n_keys > AUTHNV_MAX_KEYS)
                return log_error_errno(-EINVAL, "an authorized set needs 1 to %d PCR-policy keys, not %zu",
                                       AUTHNV_MAX_KEYS, s->n_keys);
        if (s->pcr_mask ? s->n_states < 1 || s->n_states > authnv_max_states(s) : s->n_states != 0)
                return log_error_errno(-EINVAL, "an authorized set with literal PCRs 0x%06x cannot hold %zu states",
                                       s->pcr_mask, s->n_states);
        return 0;
}

int authnv_key_branches(const struct authnv_set *s, uint8_t (*ret)[POLICY_SHA256_SIZE]) {
        int r = check_counts(s);
        for (size_t i = 0; r >= 0 && i < s->n_keys; i++) {
                policy_digest_init(ret[i]);
                r = policy_authorize(ret[i], &s->keys[i], NULL, 0);
        }
        return r < 0 ? r : 0;
}

int authnv_keys_digest(const struct authnv_set *s, uint8_t ret[POLICY_SHA256_SIZE]) {
        uint8_t branches[AUTHNV_MAX_KEYS][POLICY_SHA256_SIZE];
        int r = authnv_key_branches(s, branches);
        if (r < 0)
                return r;
        if (s->n_keys == 1) {
                memcpy(ret, branches[0], POLICY_SHA256_SIZE);
                return 0;
        }
        return policy_or(ret, (const uint8_t (*)[POLICY_SHA256_SIZE]) branches, s->n_keys);
}

int authnv_state_branches(const struct authnv_set *s, uint8_t (*ret)[POLICY_SHA256_SIZE]) {
        uint8_t x[POLICY_SHA256_SIZE];
        int r = authnv_keys_digest(s, x);
        for (size_t j = 0; r >= 0 && j < s->n_states; j++) {
                memcpy(ret[j], x, POLICY_SHA256_SIZE);
                r = policy_pcr(ret[j], TPM2_ALG_SHA256, s->pcr_mask, authnv_state(s, j), POLICY_SHA256_SIZE);
        }
        return r < 0 ? r : 0;
}

int authnv_policy(const struct authnv_set *s, uint8_t ret[POLICY_SHA256_SIZE]) {
        if (s->pcr_mask == 0)
                return authnv_keys_digest(s, ret);
        uint8_t branches[AUTHNV_MAX_STATES][POLICY_SHA256_SIZE];
        int r = authnv_state_branches(s, branches);
        if (r < 0)
                return r;
        if (s->n_states == 1) {
                memcpy(ret, branches[0], POLICY_SHA256_SIZE);
                return 0;
        }
        return policy_or(ret, (const uint8_t (*)[POLICY_SHA256_SIZE]) branches, s->n_states);
}

int authnv_write_policy(const TPM2B_NAME *write_key_name, uint8_t ret[POLICY_SHA256_SIZE]) {
        policy_digest_init(ret);
        int r = policy_signed(ret, write_key_name, (const uint8_t *) AUTHNV_WRITE_REF, strlen(AUTHNV_WRITE_REF));
        if (r < 0)
                return r;
        policy_command_code(ret, TPM2_CC_NV_Write);
        return 0;
}

void authnv_nv_public(uint32_t handle, const uint8_t write_policy[POLICY_SHA256_SIZE], bool written,
                      TPM2B_NV_PUBLIC *ret) {
        *ret = (TPM2B_NV_PUBLIC) {
                .nvPublic = {
                        .nvIndex = handle,
                        .nameAlg = TPM2_ALG_SHA256,
                        .attributes = AUTHNV_ATTRIBUTES | (written ? TPMA_NV_WRITTEN : 0),
                        .authPolicy = { .size = POLICY_SHA256_SIZE },
                        .dataSize = AUTHNV_DATA_SIZE,
                },
        };
        memcpy(ret->nvPublic.authPolicy.buffer, write_policy, POLICY_SHA256_SIZE);
}

int authnv_nv_name(uint32_t handle, const TPM2B_NAME *write_key_name, TPM2B_NAME *ret) {
        uint8_t w[POLICY_SHA256_SIZE];
        int r = authnv_write_policy(write_key_name, w);
        if (r < 0)
                return r;
        TPM2B_NV_PUBLIC pub;
        authnv_nv_public(handle, w, true, &pub);
        return policy_nv_name(&pub.nvPublic, ret);
}

/* ---- bytes ---- */

int authnv_marshal(const struct authnv_set *s, uint8_t out[AUTHNV_DATA_SIZE]) {
        uint8_t p[POLICY_SHA256_SIZE];
        int r = authnv_policy(s, p);
        if (r < 0)
                return r;
        memset(out, 0, AUTHNV_DATA_SIZE);
        out[0] = 0x00;
        out[1] = 0x0b;
        memcpy(out + 2, p, POLICY_SHA256_SIZE);
        memcpy(out + 34, MAGIC, 4);
        out[38] = VERSION;
        out[39] = (uint8_t) s->n_keys;
        out[40] = (uint8_t) s->n_states;
        policy_put_be32(out + 42, s->pcr_mask);
        policy_put_be32(out + 46, s->serial);
        for (size_t i = 0; i < s->n_keys; i++)
                memcpy(out + KEYS_OFFSET + i * AUTHNV_NAME_SIZE, s->keys[i].name, AUTHNV_NAME_SIZE);
        memcpy(out + STATES_OFFSET, s->states, s->n_states * authnv_state_size(s));
        return 0;
}

static int refuse(size_t offset, const char *what) {
        return log_error_errno(-EBADMSG, "volseal's NV index data, byte %zu: %s", offset, what);
}

static bool all_zero(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (p[i])
                        return false;
        return true;
}

/* The header after the TPMT_HA: magic, version, counts, mask, serial. */
static int parse_header(const uint8_t *buf, struct authnv_set *s) {
        if (memcmp(buf + 34, MAGIC, 4) != 0)
                return refuse(34, "no 'VSAS' magic (not volseal's authorized set)");
        if (buf[38] != VERSION)
                return refuse(38, "unknown version (this volseal reads version 1)");
        if (buf[41] != 0)
                return refuse(41, "reserved byte is not zero");
        if (authnv_init(s, get_be32(buf + 42)) < 0)
                return refuse(42, "invalid literal PCR mask");
        s->serial = get_be32(buf + 46);
        s->n_keys = buf[39];
        s->n_states = buf[40];
        if (s->n_keys < 1 || s->n_keys > AUTHNV_MAX_KEYS)
                return refuse(39, "key count is not 1-4");
        if (s->pcr_mask ? s->n_states < 1 || s->n_states > authnv_max_states(s) : s->n_states != 0)
                return refuse(40, "state count does not fit the literal PCR mask");
        return 0;
}

static int parse_lists(const uint8_t *buf, struct authnv_set *s) {
        for (size_t i = 0; i < AUTHNV_MAX_KEYS; i++) {
                const uint8_t *k = buf + KEYS_OFFSET + i * AUTHNV_NAME_SIZE;
                if (i >= s->n_keys) {
                        if (!all_zero(k, AUTHNV_NAME_SIZE))
                                return refuse(KEYS_OFFSET + i * AUTHNV_NAME_SIZE, "unused key slot is not zero");
                        continue;
                }
                TPM2B_NAME n = { .size = AUTHNV_NAME_SIZE };
                memcpy(n.name, k, AUTHNV_NAME_SIZE);
                if (!sha256_name(&n))
                        return refuse(KEYS_OFFSET + i * AUTHNV_NAME_SIZE, "key Name is not a SHA-256 Name");
                if (authnv_find_key(s, &n) >= 0 && (size_t) authnv_find_key(s, &n) < i)
                        return refuse(KEYS_OFFSET + i * AUTHNV_NAME_SIZE, "key listed twice");
                s->keys[i] = n;
        }
        size_t size = authnv_state_size(s), used = s->n_states * size;
        memcpy(s->states, buf + STATES_OFFSET, used);
        if (!all_zero(buf + STATES_OFFSET + used, AUTHNV_STATE_BYTES - used))
                return refuse(STATES_OFFSET + used, "bytes after the last state are not zero");
        for (size_t j = 1; j < s->n_states; j++)
                for (size_t i = 0; i < j; i++)
                        if (memcmp(authnv_state(s, i), authnv_state(s, j), size) == 0)
                                return refuse(STATES_OFFSET + j * size, "state listed twice");
        return 0;
}

int authnv_parse(const uint8_t *buf, size_t len, struct authnv_set *ret) {
        struct authnv_set s;
        if (!buf || len != AUTHNV_DATA_SIZE)
                return log_error_errno(-EBADMSG, "volseal's NV index data is %zu bytes, not %d", len, AUTHNV_DATA_SIZE);
        if (buf[0] != 0x00 || buf[1] != 0x0b)
                return refuse(0, "the policy at offset 0 is not a SHA-256 TPMT_HA");
        int r = parse_header(buf, &s);
        if (r >= 0)
                r = parse_lists(buf, &s);
        if (r < 0)
                return r;
        uint8_t p[POLICY_SHA256_SIZE];
        r = authnv_policy(&s, p);
        if (r < 0)
                return refuse(0, "the lists give no policy");
        if (memcmp(p, buf + 2, POLICY_SHA256_SIZE) != 0)
                return refuse(2, "the policy is not the one the lists give (written by something else than volseal?)");
        *ret = s;
        return 0;
}
