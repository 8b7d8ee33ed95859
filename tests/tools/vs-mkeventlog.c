/* vs-mkeventlog: writes a TCG event log from a line script (tests and the boot simulator), and prints one
 * `tpm2_pcrextend` argument (PCR:alg=hex,alg=hex) per extended event on stdout.
 *
 * Usage: vs-mkeventlog OUT.log < script
 * Script lines ('#' comments):
 *   banks sha1,sha256[,...] | legacy        first line: crypto-agile with these banks, or legacy SHA-1
 *   locality N                              StartupLocality EV_NO_ACTION event
 *   PCR TYPE raw HEX                        data = HEX (may be "-" for empty), digest = hash(data)
 *   PCR TYPE string TEXT...                 data = the rest of the line
 *   PCR TYPE var NAME GUID FILE|-           data = UEFI_VARIABLE_DATA(GUID, NAME, FILE's bytes or empty)
 *   PCR TYPE efivar NAME GUID PATH          same, PATH is an efivarfs file (4 attribute bytes skipped;
 *                                           missing file = empty variable)
 *   PCR TYPE authority OWNER-GUID CERT.der  data = UEFI_VARIABLE_DATA(db GUID, "db", OWNER + cert)
 *   PCR TYPE app PATH IMAGE                 UEFI_IMAGE_LOAD_EVENT with a file-path node PATH; digest =
 *                                           hash(IMAGE's bytes) (stands in for the Authenticode hash)
 *   PCR TYPE tag ID HEX                     TCG_PCClientTaggedEvent
 *   PCR TYPE separator                      4 zero bytes
 * TYPE is an event type name (EV_SEPARATOR) or number. */
#include "pcr.h"
#include "src/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int die(int line, const char *msg) {
        fprintf(stderr, "vs-mkeventlog: line %d: %s\n", line, msg);
        exit(1);
}

static uint8_t *slurp(const char *path, size_t *size, bool missing_ok) {
        FILE *f = fopen(path, "rb");
        if (!f) {
                if (missing_ok && errno == ENOENT) {
                        *size = 0;
                        return calloc(1, 1);
                }
                fprintf(stderr, "vs-mkeventlog: %s: %s\n", path, strerror(errno));
                exit(1);
        }
        size_t n = 0, a = 4096;
        uint8_t *b = malloc(a);
        size_t k;
        while (b && (k = fread(b + n, 1, a - n, f)) > 0) {
                n += k;
                if (n == a)
                        b = realloc(b, a *= 2);
        }
        fclose(f);
        if (!b)
                exit(1);
        *size = n;
        return b;
}

static void put64(uint8_t *p, uint64_t v) {
        for (int i = 0; i < 8; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

int main(int argc, char **argv) {
        if (argc != 2) {
                fprintf(stderr, "usage: vs-mkeventlog OUT.log < script\n");
                return 1;
        }
        struct pcr_log_writer w = {};
        bool started = false;
        char line[8192];
        int ln = 0;
        while (fgets(line, sizeof(line), stdin)) {
                ln++;
                line[strcspn(line, "\n")] = 0;
                char *save = NULL, *tok = strtok_r(line, " \t", &save);
                if (!tok || tok[0] == '#')
                        continue;
                if (streq(tok, "banks") || streq(tok, "legacy")) {
                        uint16_t algs[PCR_BANKS_MAX];
                        size_t n = 0;
                        if (streq(tok, "banks")) {
                                char *list = strtok_r(NULL, " \t", &save), *s2 = NULL;
                                for (char *a = strtok_r(list, ",", &s2); a; a = strtok_r(NULL, ",", &s2)) {
                                        if (n == PCR_BANKS_MAX || pcr_alg_from_name(a, &algs[n]) < 0)
                                                die(ln, "bad bank list");
                                        n++;
                                }
                        }
                        if (started || pcr_writer_init(&w, streq(tok, "legacy"), algs, n) < 0)
                                die(ln, "bad or repeated banks line");
                        started = true;
                        continue;
                }
                if (!started)
                        die(ln, "the first line must be 'banks ...' or 'legacy'");
                if (streq(tok, "locality")) {
                        char *v = strtok_r(NULL, " \t", &save);
                        if (!v || pcr_writer_startup_locality(&w, (uint8_t) atoi(v)) < 0)
                                die(ln, "bad locality");
                        continue;
                }
                uint32_t pcr = (uint32_t) atoi(tok), type;
                char *tname = strtok_r(NULL, " \t", &save), *kind = strtok_r(NULL, " \t", &save);
                if (!tname || !kind || pcr_event_type_from_name(tname, &type) < 0)
                        die(ln, "expected PCR TYPE KIND ...");
                _cleanup_free_ uint8_t *data = NULL, *dinput = NULL;
                size_t size = 0, dsize = 0;
                if (streq(kind, "raw")) {
                        char *hex = strtok_r(NULL, " \t", &save);
                        if (!hex)
                                die(ln, "raw needs HEX");
                        data = malloc(strlen(hex) / 2 + 1);
                        if (!streq(hex, "-") && pcr_unhex(hex, data, strlen(hex) / 2, &size) < 0)
                                die(ln, "bad hex");
                } else if (streq(kind, "string")) {
                        char *rest = save ? save : (char *) "";
                        data = (uint8_t *) strdup(rest);
                        size = strlen(rest);
                } else if (streq(kind, "var") || streq(kind, "efivar") || streq(kind, "authority")) {
                        char *a = strtok_r(NULL, " \t", &save), *b = strtok_r(NULL, " \t", &save), *c = NULL;
                        if (!streq(kind, "authority"))
                                c = strtok_r(NULL, " \t", &save);
                        uint8_t guid[16];
                        if (!a || !b || (!streq(kind, "authority") && !c))
                                die(ln, "missing arguments");
                        _cleanup_free_ uint8_t *content = NULL;
                        size_t csize = 0;
                        const char *name = a;
                        if (streq(kind, "authority")) {
                                uint8_t owner[16];
                                if (pcr_guid_parse(a, owner) < 0)
                                        die(ln, "bad owner GUID");
                                _cleanup_free_ uint8_t *cert = slurp(b, &csize, false);
                                content = malloc(16 + csize);
                                memcpy(content, owner, 16);
                                memcpy(content + 16, cert, csize);
                                csize += 16;
                                name = "db";
                                memcpy(guid, pcr_guid_image_security_db, 16);
                        } else {
                                if (pcr_guid_parse(b, guid) < 0)
                                        die(ln, "bad GUID");
                                if (streq(c, "-"))
                                        content = calloc(1, 1);
                                else
                                        content = slurp(c, &csize, streq(kind, "efivar"));
                                if (streq(kind, "efivar") && csize > 0) {
                                        if (csize < 4)
                                                die(ln, "efivarfs file shorter than its attributes");
                                        memmove(content, content + 4, csize - 4);
                                        csize -= 4;
                                }
                        }
                        if (pcr_efi_variable_data(guid, name, content, csize, &data, &size) < 0)
                                die(ln, "cannot build UEFI_VARIABLE_DATA");
                } else if (streq(kind, "app")) {
                        char *path = strtok_r(NULL, " \t", &save), *img = strtok_r(NULL, " \t", &save);
                        if (!path || !img)
                                die(ln, "app needs PATH IMAGE");
                        size_t plen = strlen(path), node = 4 + 2 * (plen + 1), dp = node + 4;
                        size = 32 + dp;
                        data = calloc(1, size);
                        put64(data, 0x7e000000);
                        dinput = slurp(img, &dsize, false);
                        put64(data + 8, dsize);
                        put64(data + 24, dp);
                        uint8_t *n = data + 32;
                        n[0] = 4; n[1] = 4; n[2] = (uint8_t) node; n[3] = (uint8_t) (node >> 8);
                        for (size_t i = 0; i < plen; i++)
                                n[4 + 2 * i] = (uint8_t) path[i];
                        n += node;
                        n[0] = 0x7f; n[1] = 0xff; n[2] = 4; n[3] = 0;
                } else if (streq(kind, "tag")) {
                        char *id = strtok_r(NULL, " \t", &save), *hex = strtok_r(NULL, " \t", &save);
                        if (!id || !hex)
                                die(ln, "tag needs ID HEX");
                        size_t n = strlen(hex) / 2;
                        data = malloc(8 + n + 1);
                        uint32_t v = (uint32_t) strtoul(id, NULL, 0);
                        for (int i = 0; i < 4; i++) {
                                data[i] = (uint8_t) (v >> (8 * i));
                                data[4 + i] = (uint8_t) (n >> (8 * i));
                        }
                        if (pcr_unhex(hex, data + 8, n, NULL) < 0)
                                die(ln, "bad hex");
                        size = 8 + n;
                } else if (streq(kind, "separator")) {
                        data = calloc(1, 4);
                        size = 4;
                } else
                        die(ln, "unknown kind");
                struct pcr_digest d[PCR_BANKS_MAX];
                if (pcr_writer_add(&w, pcr, type, data, size, dinput, dsize, d) < 0)
                        die(ln, "cannot add the event");
                if (type == PCR_EV_NO_ACTION)
                        continue;
                printf("%u:", pcr);
                for (size_t i = 0; i < w.n_algs; i++) {
                        _cleanup_free_ char *h = pcr_hex(d[i].d, d[i].size);
                        printf("%s%s=%s", i ? "," : "", pcr_alg_name(d[i].alg), h);
                }
                printf("\n");
        }
        if (!started)
                die(ln, "empty script");
        FILE *f = fopen(argv[1], "wb");
        if (!f || fwrite(w.buf, 1, w.size, f) != w.size || fclose(f) != 0) {
                fprintf(stderr, "vs-mkeventlog: cannot write %s\n", argv[1]);
                return 1;
        }
        pcr_writer_free(&w);
        return 0;
}
