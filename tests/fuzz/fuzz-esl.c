/* fuzz-esl.c: libFuzzer target for pcr/'s EFI signature list code: ESL/.auth parsing, iteration and EDK2's
 * append. Input: u16 little-endian length of the current list A, A, then the new file data B. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "log.h"
#include "pcr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void drop(enum vs_log_level level, const char *msg, void *ud) {
        (void) level; (void) msg; (void) ud;
}

static int count(const struct pcr_esl_entry *e, void *ud) {
        (void) e;
        (*(size_t *) ud)++;
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        vs_log_set_sink(drop, NULL);
        if (size < 2)
                return 0;
        size_t an = (size_t) (data[0] | data[1] << 8);
        if (an > size - 2)
                an = size - 2;
        const uint8_t *a = data + 2, *b = data + 2 + an;
        size_t bn = size - 2 - an;
        uint8_t *esl = NULL, *merged = NULL;
        size_t esl_n = 0, merged_n = 0, n = 0;
        bool auth;
        if (pcr_esl_from_file_data(b, bn, "fuzz", &esl, &esl_n, &auth) == 0) {
                (void) pcr_esl_foreach(esl, esl_n, count, &n);
                if (pcr_esl_append(a, an, esl, esl_n, &merged, &merged_n) == 0) {
                        if (pcr_esl_validate(merged, merged_n, NULL, "merged") != 0)
                                abort(); /* an append of two valid lists is a valid list */
                        free(merged);
                }
                free(esl);
        }
        (void) pcr_esl_validate(a, an, &n, "fuzz");
        return 0;
}
