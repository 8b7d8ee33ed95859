/* fuzz-uki-pe.c: libFuzzer target for the PE/COFF reader and everything that walks a parsed image
 * (uki/: stub version, measured blobs, PCR 11 measurement, section assembly). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "log.h"
#include "uki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void drop(enum vs_log_level level, const char *msg, void *ud) {
        (void) level; (void) msg; (void) ud;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct uki_pe pe;
        vs_log_set_sink(drop, NULL);
        if (uki_pe_parse(data, size, "fuzz.efi", &pe) < 0)
                return 0;
        char *text = NULL;
        unsigned v = uki_stub_version(&pe, &text);
        free(text);
        struct uki_blob *blobs = NULL;
        size_t n = 0;
        uint8_t pcr[UKI_PCR_MAX];
        if (uki_pe_blobs(&pe, uki_measure_order(v), &blobs, &n) == 0) {
                /* cap the zero-fill work a fuzzed VirtualSize can ask for */
                size_t total = 0;
                for (size_t i = 0; i < n; i++)
                        total += blobs[i].measure_size;
                if (total < (64u << 20))
                        (void) uki_measure(blobs, n, uki_measure_order(v), uki_bank_md("sha256"), pcr);
                free(blobs);
        }
        struct uki_add add = { ".linux", (const uint8_t *) "HALLO\n", 6 };
        uint8_t *out = NULL;
        size_t out_size;
        if (uki_pe_add_sections(&pe, &add, 1, &out, &out_size) == 0) {
                struct uki_pe again;
                if (uki_pe_parse(out, out_size, "out.efi", &again) != 0)
                        abort(); /* what we build must parse */
                if (!uki_pe_find(&again, ".linux"))
                        abort();
                uki_pe_done(&again);
                free(out);
        }
        uki_pe_done(&pe);
        return 0;
}
