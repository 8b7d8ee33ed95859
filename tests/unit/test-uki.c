/* test-uki.c: libvolseal-uki against vectors: systemd's own PCR 11 test vector, a synthetic PE32+ image
 * (parse, malformed variants naming the offending field, section assembly with and without growing the
 * headers), stub versions and phase paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fixture.h"
#include "policy.h"
#include "src/log.h"
#include "uki.h"

#define VEC_EMPTY "37b48bd0b222394dbe3cceff2fca4660c4b0a90ae9369ec90b42f14489989c13"
#define VEC_FOO "21c49c1242042649e09c156546fd7d425ccc3c67359f840507b30be4e0f6f699"

static const struct uki_blob vec_blobs[] = {
        { ".initrd", (const uint8_t *) "foobar\n", 7, 7 },
        { ".linux", (const uint8_t *) "HALLO\n", 6, 6 },
};

static void test_systemd_vector(void **state) {
        uint8_t pcr[UKI_PCR_MAX];
        const EVP_MD *md = uki_bank_md("sha256");
        assert_int_equal(uki_measure(vec_blobs, 2, uki_measure_order(252), md, pcr), 0);
        assert_hex(pcr, 32, VEC_EMPTY);
        assert_int_equal(uki_extend_path(md, pcr, ":"), 0);
        assert_hex(pcr, 32, VEC_EMPTY);
        assert_int_equal(uki_extend_path(md, pcr, "foo"), 0);
        assert_hex(pcr, 32, VEC_FOO);
        /* order, not blob order, decides; later versions' order gives the same value for these sections */
        assert_int_equal(uki_measure(vec_blobs, 2, uki_measure_order(258), md, pcr), 0);
        assert_hex(pcr, 32, VEC_EMPTY);
        /* a path is the words in turn; empty components are skipped */
        uint8_t a[UKI_PCR_MAX], b[UKI_PCR_MAX];
        memset(a, 0, sizeof(a));
        memset(b, 0, sizeof(b));
        assert_int_equal(uki_extend_path(md, a, "enter-initrd:leave-initrd"), 0);
        assert_int_equal(uki_extend_word(md, b, "enter-initrd"), 0);
        assert_int_equal(uki_extend_path(md, b, "::leave-initrd:"), 0);
        assert_memory_equal(a, b, 32);
        assert_int_equal(uki_extend_path(md, a, "bad word"), -EINVAL);
        /* zero fill past the data counts */
        struct uki_blob padded[2] = { vec_blobs[0], vec_blobs[1] };
        padded[1].measure_size = 4096;
        assert_int_equal(uki_measure(padded, 2, uki_measure_order(252), md, pcr), 0);
        assert_memory_not_equal(pcr, a, 32);
        /* other banks have their own sizes */
        assert_int_equal(uki_measure(vec_blobs, 2, uki_measure_order(252), uki_bank_md("sha1"), pcr), 0);
        assert_null(uki_bank_md("md5"));
}

static void test_profiles(void **state) {
        assert_string_equal(uki_phase_unlock("systemd"), "enter-initrd");
        assert_string_equal(uki_phase_unlock("talos"), "enter-initrd:leave-initrd:enter-machined");
        assert_string_equal(uki_phase_profile("systemd")[3], "enter-initrd:leave-initrd:sysinit:ready");
        assert_null(uki_phase_profile("talos")[3]);
        assert_null(uki_phase_profile("other"));
        char **o = NULL;
        assert_int_equal(uki_parse_order(".linux,.initrd", &o), 0);
        assert_string_equal(o[1], ".initrd");
        assert_null(o[2]);
        free(o);
        assert_int_equal(uki_parse_order("linux", &o), -EINVAL);
        assert_int_equal(uki_parse_order(".toolongname", &o), -EINVAL);
}

/* A minimal PE32+ image: headers in 0x200 bytes, one .text section (VA 0x1000, 0x10 bytes at 0x200). */
#define PE 0x40
#define OPT (PE + 24)
#define TABLE (OPT + 240)
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t) v; p[1] = (uint8_t) (v >> 8); }
static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t) (v >> (8 * i)); }
static uint32_t get32(const uint8_t *p) { return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24; }

static size_t make_pe(uint8_t *img) {
        memset(img, 0, 0x400);
        img[0] = 'M';
        img[1] = 'Z';
        put32(img + 0x3c, PE);
        memcpy(img + PE, "PE\0\0", 4);
        put16(img + PE + 4, 0x8664);
        put16(img + PE + 6, 1);
        put16(img + PE + 20, 240);
        put16(img + OPT, 0x20b);
        put32(img + OPT + 8, 0x200);   /* SizeOfInitializedData */
        put32(img + OPT + 32, 0x1000); /* SectionAlignment */
        put32(img + OPT + 36, 0x200);  /* FileAlignment */
        put32(img + OPT + 56, 0x2000); /* SizeOfImage */
        put32(img + OPT + 60, 0x200);  /* SizeOfHeaders */
        put32(img + OPT + 64, 0x1234); /* CheckSum */
        put32(img + OPT + 108, 16);    /* NumberOfRvaAndSizes */
        memcpy(img + TABLE, ".text", 5);
        put32(img + TABLE + 8, 0x10);
        put32(img + TABLE + 12, 0x1000);
        put32(img + TABLE + 16, 0x200);
        put32(img + TABLE + 20, 0x200);
        memset(img + 0x200, 0xcc, 0x10);
        return 0x400;
}

static void test_pe_parse(void **state) {
        uint8_t img[0x400];
        struct uki_pe pe;
        size_t n = make_pe(img);
        assert_int_equal(uki_pe_parse(img, n, "t.efi", &pe), 0);
        assert_true(pe.pe32plus);
        assert_int_equal(pe.n_sections, 1);
        assert_string_equal(pe.sections[0].name, ".text");
        assert_non_null(uki_pe_find(&pe, ".text"));
        assert_null(uki_pe_find(&pe, ".linux"));
        assert_int_equal(uki_stub_version(&pe, NULL), 0);
        uki_pe_done(&pe);
}

struct bad_pe {
        const char *what;
        size_t off;      /* where to poke */
        int width;       /* 2 or 4; 0 = truncate the file to `value` bytes */
        uint32_t value;
        const char *fragment;
};

static const struct bad_pe bad_pes[] = {
        { "truncated DOS header", 0, 0, 0x30, "shorter than a DOS header" },
        { "bad MZ", 0, 2, 0x4d5a, "DOS magic" },
        { "e_lfanew past EOF", 0x3c, 4, 0x3f0, "e_lfanew 0x3f0 points past the end" },
        { "e_lfanew huge", 0x3c, 4, 0xfffffff0, "e_lfanew 0xfffffff0" },
        { "no PE signature", PE, 4, 0x12345678, "no PE signature" },
        { "zero sections", PE + 6, 2, 0, "NumberOfSections 0" },
        { "too many sections", PE + 6, 2, 0xffff, "NumberOfSections 65535" },
        { "section table past EOF", PE + 6, 2, 40, "section table" },
        { "optional header past EOF", PE + 20, 2, 0xfff0, "SizeOfOptionalHeader 65520 runs past" },
        { "optional header too small", PE + 20, 2, 100, "too small for PE32+" },
        { "bad magic", OPT, 2, 0x333, "Magic 0x333" },
        { "file alignment", OPT + 36, 4, 0x300, "FileAlignment 0x300" },
        { "section alignment", OPT + 32, 4, 0x100, "SectionAlignment 0x100" },
        { "rva count", OPT + 108, 4, 17, "NumberOfRvaAndSizes 17" },
        { "headers too small", OPT + 60, 4, 0x100, "SizeOfHeaders 0x100" },
        { "truncated section data", 0, 0, 0x300, "section 0 (.text): PointerToRawData + SizeOfRawData runs past the end" },
        { "raw size overflows", TABLE + 16, 4, 0xfffffe00, "section 0 (.text): PointerToRawData + SizeOfRawData" },
        { "raw offset overflows", TABLE + 20, 4, 0xfffffe00, "section 0 (.text): PointerToRawData + SizeOfRawData" },
        { "raw data in headers", TABLE + 20, 4, 0x40, "points into the headers" },
        { "virtual size overflows", TABLE + 8, 4, 0xffffffff, "VirtualAddress + VirtualSize exceeds SizeOfImage" },
        { "cert table past EOF", OPT + 112 + 4 * 8 + 4, 4, 0x1000, "certificate table" },
        { "symbol table past EOF", PE + 12, 4, 0x10000, "PointerToSymbolTable" },
};

static void test_pe_malformed(void **state) {
        for (size_t i = 0; i < sizeof(bad_pes) / sizeof(bad_pes[0]); i++) {
                const struct bad_pe *b = &bad_pes[i];
                uint8_t img[0x400];
                struct uki_pe pe = {};
                size_t n = make_pe(img);
                if (b->width == 0)
                        n = b->value;
                else if (b->width == 2)
                        put16(img + b->off, (uint16_t) b->value);
                else
                        put32(img + b->off, b->value);
                if (b->width == 2 && b->off == 0) { /* "bad MZ": swap the bytes */
                        img[0] = 'Z';
                        img[1] = 'M';
                }
                fixture_log[0] = 0;
                int r = uki_pe_parse(img, n, "t.efi", &pe);
                if (r != -EBADMSG)
                        fail_msg("%s: parse returned %d", b->what, r);
                if (!strstr(fixture_log, b->fragment) || !strstr(fixture_log, "t.efi: "))
                        fail_msg("%s: '%s' not in log '%s'", b->what, b->fragment, fixture_log);
                assert_null(pe.sections);
        }
        /* every truncation of a valid image is refused cleanly or parses within bounds */
        uint8_t img[0x400];
        size_t n = make_pe(img);
        for (size_t len = 0; len < n; len++) {
                struct uki_pe pe = {};
                int r = uki_pe_parse(img, len, "t.efi", &pe);
                assert_int_equal(r, -EBADMSG);
        }
}

static void check_added(const uint8_t *out, size_t size, uint32_t want_headers, bool only_vector) {
        struct uki_pe pe;
        assert_int_equal(uki_pe_parse(out, size, "out.efi", &pe), 0);
        assert_int_equal(pe.size_of_headers, want_headers);
        assert_int_equal(get32(out + OPT + 64), 0); /* CheckSum */
        const struct uki_section *t = uki_pe_find(&pe, ".text");
        assert_non_null(t);
        assert_int_equal(t->raw_offset, want_headers);
        assert_int_equal(out[t->raw_offset], 0xcc); /* the stub's data moved with its header */
        const struct uki_section *l = uki_pe_find(&pe, ".linux"), *i = uki_pe_find(&pe, ".initrd");
        assert_non_null(l);
        assert_non_null(i);
        assert_int_equal(l->virtual_size, 6);
        assert_int_equal(l->raw_size, 0x200);
        assert_int_equal(l->raw_offset % 0x200, 0);
        assert_int_equal(l->virtual_address % 0x1000, 0);
        assert_true(i->virtual_address >= 0x2000);
        assert_true(l->virtual_address > i->virtual_address);
        const struct uki_section *last = &pe.sections[pe.n_sections - 1];
        assert_int_equal(pe.size_of_image, (last->virtual_address + last->virtual_size + 0xfff) / 0x1000 * 0x1000);
        assert_memory_equal(out + l->raw_offset, "HALLO\n", 6);
        struct uki_blob *blobs;
        size_t nb;
        uint8_t pcr[UKI_PCR_MAX];
        assert_int_equal(uki_pe_blobs(&pe, uki_measure_order(252), &blobs, &nb), 0);
        assert_int_equal(uki_measure(blobs, nb, uki_measure_order(252), uki_bank_md("sha256"), pcr), 0);
        if (only_vector) /* just .linux and .initrd: systemd's vector */
                assert_hex(pcr, 32, VEC_EMPTY);
        else /* .osrel .cmdline .splash measured too */
                assert_int_equal(nb, 5);
        free(blobs);
        uki_pe_done(&pe);
}

static void test_add_sections(void **state) {
        uint8_t img[0x400], *out = NULL;
        size_t n = make_pe(img), size;
        struct uki_pe stub;
        assert_int_equal(uki_pe_parse(img, n, "stub.efi", &stub), 0);
        struct uki_add add[] = {
                { ".initrd", (const uint8_t *) "foobar\n", 7 },
                { ".linux", (const uint8_t *) "HALLO\n", 6 },
                { ".osrel", (const uint8_t *) "ID=x\n", 5 },
                { ".cmdline", (const uint8_t *) "quiet", 5 },
                { ".splash", (const uint8_t *) "BM", 2 },
        };
        /* 2 new headers fit in 0x200 bytes of headers (room for 3) */
        assert_int_equal(uki_pe_add_sections(&stub, add, 2, &out, &size), 0);
        assert_int_equal(get32(out + OPT + 8), 0x200 + 2 * 0x200); /* SizeOfInitializedData */
        check_added(out, size, 0x200, true);
        free(out);
        /* 5 do not: SizeOfHeaders grows to 0x400 and the raw data shifts */
        assert_int_equal(uki_pe_add_sections(&stub, add, 5, &out, &size), 0);
        check_added(out, size, 0x400, false);
        struct uki_pe pe;
        assert_int_equal(uki_pe_parse(out, size, "out.efi", &pe), 0);
        assert_int_equal(pe.n_sections, 6);
        /* adding a section that exists is refused */
        struct uki_add again = { ".linux", (const uint8_t *) "x", 1 };
        uint8_t *out2 = NULL;
        assert_int_equal(uki_pe_add_sections(&pe, &again, 1, &out2, &size), -EEXIST);
        uki_pe_done(&pe);
        free(out);

        /* empty sections and bad names are refused */
        struct uki_add empty = { ".linux", (const uint8_t *) "", 0 }, bad = { "linux", (const uint8_t *) "x", 1 };
        assert_int_equal(uki_pe_add_sections(&stub, &empty, 1, &out, &size), -EINVAL);
        assert_int_equal(uki_pe_add_sections(&stub, &bad, 1, &out, &size), -EINVAL);
        uki_pe_done(&stub);

        /* a signed stub is refused */
        put32(img + OPT + 112 + 4 * 8, 0x300);
        put32(img + OPT + 112 + 4 * 8 + 4, 0x100);
        assert_int_equal(uki_pe_parse(img, n, "signed.efi", &stub), 0);
        fixture_log[0] = 0;
        assert_int_equal(uki_pe_add_sections(&stub, add, 1, &out, &size), -EINVAL);
        assert_non_null(strstr(fixture_log, "certificate table"));
        uki_pe_done(&stub);

        /* headers that would reach the first section in memory are refused */
        make_pe(img);
        put32(img + OPT + 32, 0x200);  /* SectionAlignment */
        put32(img + TABLE + 12, 0x200); /* .text VA right after the headers */
        assert_int_equal(uki_pe_parse(img, n, "tight.efi", &stub), 0);
        assert_int_equal(uki_pe_add_sections(&stub, add, 5, &out, &size), -ENOSPC);
        uki_pe_done(&stub);
}

static void test_stub_version(void **state) {
        uint8_t img[0x400], *out = NULL;
        size_t n = make_pe(img), size;
        struct uki_pe stub, pe;
        char *text = NULL;
        static const char magic[] = "#### LoaderInfo: systemd-stub 255.4-1ubuntu8 ####";
        struct uki_add add = { ".sdmagic", (const uint8_t *) magic, sizeof(magic) };
        assert_int_equal(uki_pe_parse(img, n, "stub.efi", &stub), 0);
        assert_int_equal(uki_pe_add_sections(&stub, &add, 1, &out, &size), 0);
        assert_int_equal(uki_pe_parse(out, size, "stub.efi", &pe), 0);
        assert_int_equal(uki_stub_version(&pe, &text), 255);
        assert_string_equal(text, "255.4-1ubuntu8");
        const char *const *o = uki_measure_order(255);
        assert_string_equal(o[6], ".uname");
        assert_string_equal(o[7], ".sbat");
        assert_string_equal(uki_measure_order(252)[6], ".pcrpkey");
        assert_null(uki_measure_order(252)[7]);
        assert_string_equal(uki_measure_order(256)[4], ".ucode");
        assert_string_equal(uki_measure_order(258)[13], ".efifw");
        free(text);
        free(out);
        uki_pe_done(&pe);
        uki_pe_done(&stub);
}

static void test_duplicates(void **state) {
        uint8_t img[0x400], *out = NULL, *out2 = NULL;
        size_t n = make_pe(img), size, size2;
        struct uki_pe stub, mid, pe;
        struct uki_add a = { ".linux", (const uint8_t *) "A", 1 };
        assert_int_equal(uki_pe_parse(img, n, "stub.efi", &stub), 0);
        assert_int_equal(uki_pe_add_sections(&stub, &a, 1, &out, &size), 0);
        assert_int_equal(uki_pe_parse(out, size, "mid.efi", &mid), 0);
        /* forge a second .linux by renaming .text */
        memcpy(out + TABLE, ".linux\0\0", 8);
        uki_pe_done(&mid);
        assert_int_equal(uki_pe_parse(out, size, "dup.efi", &pe), 0);
        struct uki_blob *blobs = NULL;
        size_t nb;
        fixture_log[0] = 0;
        assert_int_equal(uki_pe_blobs(&pe, uki_measure_order(252), &blobs, &nb), -EBADMSG);
        assert_non_null(strstr(fixture_log, "two .linux sections"));
        uki_pe_done(&pe);
        uki_pe_done(&stub);
        free(out);
        (void) out2;
        (void) size2;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_systemd_vector, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_profiles, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_pe_parse, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_pe_malformed, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_add_sections, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_stub_version, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_duplicates, fixture_setup, fixture_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
