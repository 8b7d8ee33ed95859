/* uki.c: libvolseal-uki: PE/COFF reader, stub version and measurement order, PCR 11 prediction, UKI
 * assembly. Every offset read from the file is checked against the file size (in 64-bit arithmetic)
 * before use; a malformed image is refused naming the field. */
#include "uki.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "src/log.h"
#include "src/util.h"

/* ---- little-endian access (callers check bounds first) ---- */
static uint16_t le16(const uint8_t *p) { return (uint16_t) (p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}
static void put16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) v;
        p[1] = (uint8_t) (v >> 8);
}
static void put32(uint8_t *p, uint32_t v) {
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}
static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }
static bool is_pow2(uint32_t v) { return v && !(v & (v - 1)); }

/* COFF header offsets from the "PE\0\0" signature; optional header fields from its start. */
#define COFF_MACHINE 4
#define COFF_NSECTIONS 6
#define COFF_SYMTAB 12
#define COFF_OPTSIZE 20
#define OPT_SIZE_OF_INIT_DATA 8
#define OPT_SECTION_ALIGNMENT 32
#define OPT_FILE_ALIGNMENT 36
#define OPT_SIZE_OF_IMAGE 56
#define OPT_SIZE_OF_HEADERS 60
#define OPT_CHECKSUM 64
#define SECTION_HEADER_SIZE 40
#define MAX_SECTIONS 96
#define DIR_CERT 4
#define DIR_DEBUG 6

/* The DOS header's e_lfanew, the PE signature and the COFF header. */
static int parse_coff(const uint8_t *d, size_t size, const char *what, struct uki_pe *pe) {
        if (!d || size < 0x40)
                return log_error_errno(-EBADMSG, "%s: %zu bytes is shorter than a DOS header (64): not a PE image", what, size);
        if (d[0] != 'M' || d[1] != 'Z')
                return log_error_errno(-EBADMSG, "%s: DOS magic is not 'MZ': not a PE image", what);
        pe->pe_offset = le32(d + 0x3c);
        if ((uint64_t) pe->pe_offset + 24 > size)
                return log_error_errno(-EBADMSG, "%s: e_lfanew 0x%x points past the end of the file (%zu bytes)",
                                       what, pe->pe_offset, size);
        const uint8_t *coff = d + pe->pe_offset;
        if (memcmp(coff, "PE\0\0", 4) != 0)
                return log_error_errno(-EBADMSG, "%s: no PE signature at e_lfanew 0x%x", what, pe->pe_offset);
        pe->machine = le16(coff + COFF_MACHINE);
        pe->n_sections = le16(coff + COFF_NSECTIONS);
        pe->symbol_table = le32(coff + COFF_SYMTAB);
        pe->opt_size = le16(coff + COFF_OPTSIZE);
        pe->opt_offset = (size_t) pe->pe_offset + 24;
        if (pe->n_sections == 0 || pe->n_sections > MAX_SECTIONS)
                return log_error_errno(-EBADMSG, "%s: NumberOfSections %u is outside 1-%d", what, pe->n_sections, MAX_SECTIONS);
        if (pe->opt_offset + pe->opt_size > size)
                return log_error_errno(-EBADMSG, "%s: SizeOfOptionalHeader %u runs past the end of the file", what, pe->opt_size);
        if (pe->opt_size < 2)
                return log_error_errno(-EBADMSG, "%s: SizeOfOptionalHeader %u is too small for an image", what, pe->opt_size);
        return 0;
}

/* The optional header: alignments, sizes, the data directories volseal uses (certificate table). */
static int parse_optional(const uint8_t *d, size_t size, const char *what, struct uki_pe *pe) {
        const uint8_t *opt = d + pe->opt_offset;
        uint16_t magic = le16(opt);
        size_t dirs;
        if (magic == 0x20b) {
                pe->pe32plus = true;
                dirs = 112;
        } else if (magic == 0x10b)
                dirs = 96;
        else
                return log_error_errno(-EBADMSG, "%s: optional header Magic 0x%x is neither PE32 nor PE32+", what, magic);
        if (pe->opt_size < dirs)
                return log_error_errno(-EBADMSG, "%s: SizeOfOptionalHeader %u is too small for %s", what, pe->opt_size,
                                       pe->pe32plus ? "PE32+ (112)" : "PE32 (96)");
        pe->section_alignment = le32(opt + OPT_SECTION_ALIGNMENT);
        pe->file_alignment = le32(opt + OPT_FILE_ALIGNMENT);
        pe->size_of_image = le32(opt + OPT_SIZE_OF_IMAGE);
        pe->size_of_headers = le32(opt + OPT_SIZE_OF_HEADERS);
        pe->n_rva = le32(opt + dirs - 4);
        if (!is_pow2(pe->file_alignment) || pe->file_alignment > 0x10000)
                return log_error_errno(-EBADMSG, "%s: FileAlignment 0x%x is not a power of two up to 64 KiB", what, pe->file_alignment);
        if (!is_pow2(pe->section_alignment) || pe->section_alignment < pe->file_alignment)
                return log_error_errno(-EBADMSG, "%s: SectionAlignment 0x%x is not a power of two >= FileAlignment", what,
                                       pe->section_alignment);
        if (pe->n_rva > 16 || dirs + (size_t) pe->n_rva * 8 > pe->opt_size)
                return log_error_errno(-EBADMSG, "%s: NumberOfRvaAndSizes %u does not fit the optional header", what, pe->n_rva);
        if (pe->n_rva > DIR_CERT) {
                pe->cert_offset = le32(opt + dirs + DIR_CERT * 8);
                pe->cert_size = le32(opt + dirs + DIR_CERT * 8 + 4);
                if (pe->cert_size && (uint64_t) pe->cert_offset + pe->cert_size > size)
                        return log_error_errno(-EBADMSG, "%s: certificate table (offset 0x%x, size 0x%x) runs past the end of the file",
                                               what, pe->cert_offset, pe->cert_size);
        }
        if (pe->symbol_table > size)
                return log_error_errno(-EBADMSG, "%s: PointerToSymbolTable 0x%x is past the end of the file", what, pe->symbol_table);
        return 0;
}

/* One section header; its data and address must lie inside the file and the image. */
static int parse_section(const uint8_t *h, size_t size, uint64_t table_end, const struct uki_pe *pe, unsigned i,
                         const char *what, struct uki_section *s) {
        memcpy(s->name, h, 8);
        s->name[8] = 0;
        for (size_t j = 0; s->name[j]; j++)
                if ((unsigned char) s->name[j] < 0x20 || (unsigned char) s->name[j] > 0x7e)
                        s->name[j] = '?';
        s->virtual_size = le32(h + 8);
        s->virtual_address = le32(h + 12);
        s->raw_size = le32(h + 16);
        s->raw_offset = le32(h + 20);
        s->characteristics = le32(h + 36);
        const char *field = NULL;
        if (s->raw_size && (uint64_t) s->raw_offset + s->raw_size > size)
                field = "PointerToRawData + SizeOfRawData runs past the end of the file";
        else if (s->raw_size && s->raw_offset < table_end)
                field = "PointerToRawData points into the headers";
        else if ((uint64_t) s->virtual_address + s->virtual_size > pe->size_of_image)
                field = "VirtualAddress + VirtualSize exceeds SizeOfImage";
        if (field)
                return log_error_errno(-EBADMSG, "%s: section %u (%s): %s (raw 0x%x+0x%x, virtual 0x%x+0x%x, file %zu bytes)",
                                       what, i, s->name, field, s->raw_offset, s->raw_size, s->virtual_address,
                                       s->virtual_size, size);
        return 0;
}

static int parse_sections(const uint8_t *d, size_t size, const char *what, struct uki_pe *pe) {
        pe->section_table = pe->opt_offset + pe->opt_size;
        uint64_t table_end = pe->section_table + (uint64_t) pe->n_sections * SECTION_HEADER_SIZE;
        if (table_end > size)
                return log_error_errno(-EBADMSG, "%s: the section table (%u sections at 0x%zx) runs past the end of the file",
                                       what, pe->n_sections, pe->section_table);
        if (table_end > pe->size_of_headers || pe->size_of_headers > size)
                return log_error_errno(-EBADMSG, "%s: SizeOfHeaders 0x%x does not cover the section table (ends 0x%llx) or exceeds the file",
                                       what, pe->size_of_headers, (unsigned long long) table_end);
        _cleanup_free_ struct uki_section *sections = calloc(pe->n_sections, sizeof(*sections));
        if (!sections)
                return log_error_errno(-ENOMEM, "out of memory");
        for (unsigned i = 0; i < pe->n_sections; i++) {
                int r = parse_section(d + pe->section_table + (size_t) i * SECTION_HEADER_SIZE, size, table_end, pe, i,
                                      what, &sections[i]);
                if (r < 0)
                        return r;
        }
        pe->sections = TAKE_PTR(sections);
        return 0;
}

int uki_pe_parse(const uint8_t *d, size_t size, const char *what, struct uki_pe *ret) {
        struct uki_pe pe = { .data = d, .size = size };
        if (!what)
                what = "PE image";
        int r = parse_coff(d, size, what, &pe);
        if (r >= 0)
                r = parse_optional(d, size, what, &pe);
        if (r >= 0)
                r = parse_sections(d, size, what, &pe);
        if (r < 0)
                return r;
        *ret = pe;
        return 0;
}

void uki_pe_done(struct uki_pe *pe) {
        if (!pe)
                return;
        free(pe->sections);
        pe->sections = NULL;
        pe->n_sections = 0;
}

const struct uki_section *uki_pe_find(const struct uki_pe *pe, const char *name) {
        for (unsigned i = 0; i < pe->n_sections; i++)
                if (streq(pe->sections[i].name, name))
                        return &pe->sections[i];
        return NULL;
}

/* ---- stub version and order ---- */

unsigned uki_stub_version(const struct uki_pe *pe, char **ret_text) {
        static const char key[] = "systemd-stub ";
        const struct uki_section *s = uki_pe_find(pe, ".sdmagic");
        if (ret_text)
                *ret_text = NULL;
        if (!s)
                return 0;
        size_t n = uki_section_file_bytes(s);
        const char *p = (const char *) pe->data + (n ? s->raw_offset : 0);
        const char *k = memmem(p, n, key, sizeof(key) - 1);
        if (!k)
                return 0;
        const char *v = k + sizeof(key) - 1, *end = p + n;
        unsigned version = 0;
        const char *q = v;
        for (; q < end && *q >= '0' && *q <= '9' && version < 100000; q++)
                version = version * 10 + (unsigned) (*q - '0');
        if (q == v)
                return 0;
        if (ret_text) {
                const char *e = v;
                while (e < end && *e > ' ' && *e <= '~')
                        e++;
                *ret_text = strndup(v, (size_t) (e - v));
        }
        return version;
}

/* systemd-stub's canonical order, by the version that introduced each section's measurement. */
static const char *const order_252[] = { ".linux", ".osrel", ".cmdline", ".initrd", ".splash", ".dtb", ".pcrpkey", NULL };
static const char *const order_253[] = { ".linux", ".osrel", ".cmdline", ".initrd", ".splash", ".dtb", ".uname", ".sbat",
                                         ".pcrpkey", NULL };
static const char *const order_256[] = { ".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb", ".uname",
                                         ".sbat", ".pcrpkey", NULL };
static const char *const order_257[] = { ".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb", ".uname",
                                         ".sbat", ".pcrpkey", ".profile", ".dtbauto", ".hwids", NULL };
static const char *const order_258[] = { ".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb", ".uname",
                                         ".sbat", ".pcrpkey", ".profile", ".dtbauto", ".hwids", ".efifw", NULL };

const char *const *uki_measure_order(unsigned version) {
        if (version >= 258)
                return order_258;
        if (version >= 257)
                return order_257;
        if (version >= 256)
                return order_256;
        if (version >= 253)
                return order_253;
        return order_252;
}

int uki_parse_order(const char *spec, char ***ret) {
        size_t n = 1, len = strlen(spec);
        for (const char *p = spec; *p; p++)
                n += *p == ',';
        char **list = malloc((n + 1) * sizeof(char *) + len + 1);
        if (!list)
                return log_error_errno(-ENOMEM, "out of memory");
        char *buf = (char *) (list + n + 1);
        memcpy(buf, spec, len + 1);
        size_t i = 0;
        for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                if (tok[0] != '.' || strlen(tok) > 8 || strlen(tok) < 2) {
                        log_error("measurement order: '%s' is not a section name (a dot and 1-7 characters)", tok);
                        free(list);
                        return -EINVAL;
                }
                list[i++] = tok;
        }
        if (i == 0) {
                free(list);
                return log_error_errno(-EINVAL, "measurement order: no section names given");
        }
        list[i] = NULL;
        *ret = list;
        return 0;
}

/* ---- measurement ---- */

int uki_pe_blobs(const struct uki_pe *pe, const char *const *order, struct uki_blob **ret, size_t *ret_n) {
        struct uki_blob *b = calloc(pe->n_sections ? pe->n_sections : 1, sizeof(*b));
        size_t n = 0;
        if (!b)
                return log_error_errno(-ENOMEM, "out of memory");
        for (unsigned i = 0; i < pe->n_sections; i++) {
                const struct uki_section *s = &pe->sections[i];
                bool measured = false;
                for (const char *const *o = order; *o; o++)
                        measured = measured || streq(*o, s->name);
                if (!measured)
                        continue;
                for (size_t j = 0; j < n; j++)
                        if (streq(b[j].name, s->name)) {
                                free(b);
                                return log_error_errno(-EBADMSG, "the UKI has two %s sections: refusing to guess which one the stub measures",
                                                       s->name);
                        }
                b[n++] = (struct uki_blob) {
                        .name = s->name,
                        .data = pe->data + (uki_section_file_bytes(s) ? s->raw_offset : 0),
                        .data_size = uki_section_file_bytes(s),
                        .measure_size = s->virtual_size,
                };
        }
        *ret = b;
        *ret_n = n;
        return 0;
}

const EVP_MD *uki_bank_md(const char *bank) {
        if (!bank)
                return NULL;
        if (streq(bank, "sha1"))
                return EVP_sha1();
        if (streq(bank, "sha256"))
                return EVP_sha256();
        if (streq(bank, "sha384"))
                return EVP_sha384();
        if (streq(bank, "sha512"))
                return EVP_sha512();
        return NULL;
}

static int extend(const EVP_MD *md, uint8_t *pcr, const uint8_t *digest) {
        unsigned n = (unsigned) EVP_MD_get_size(md);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        int ok = ctx && EVP_DigestInit_ex(ctx, md, NULL) && EVP_DigestUpdate(ctx, pcr, n) &&
                 EVP_DigestUpdate(ctx, digest, n) && EVP_DigestFinal_ex(ctx, pcr, NULL);
        EVP_MD_CTX_free(ctx);
        return ok ? 0 : log_error_errno(-EIO, "PCR extend: hashing failed in openssl");
}

static int hash_padded(EVP_MD_CTX *ctx, const EVP_MD *md, const uint8_t *data, size_t data_size, size_t total,
                       uint8_t *out) {
        static const uint8_t zeros[65536];
        if (!EVP_DigestInit_ex(ctx, md, NULL))
                return -EIO;
        size_t have = data_size < total ? data_size : total;
        if (have && !EVP_DigestUpdate(ctx, data, have))
                return -EIO;
        for (size_t left = total - have; left;) {
                size_t k = left < sizeof(zeros) ? left : sizeof(zeros);
                if (!EVP_DigestUpdate(ctx, zeros, k))
                        return -EIO;
                left -= k;
        }
        return EVP_DigestFinal_ex(ctx, out, NULL) ? 0 : -EIO;
}

int uki_measure(const struct uki_blob *blobs, size_t n, const char *const *order, const EVP_MD *md, uint8_t *pcr) {
        uint8_t digest[UKI_PCR_MAX];
        int r = 0;
        if (!md || !order)
                return -EINVAL;
        memset(pcr, 0, (size_t) EVP_MD_get_size(md));
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        if (!ctx)
                return log_error_errno(-ENOMEM, "out of memory");
        for (const char *const *o = order; *o && r >= 0; o++)
                for (size_t i = 0; i < n; i++) {
                        if (!streq(blobs[i].name, *o) || blobs[i].measure_size == 0)
                                continue;
                        r = hash_padded(ctx, md, (const uint8_t *) blobs[i].name, strlen(blobs[i].name) + 1,
                                        strlen(blobs[i].name) + 1, digest);
                        if (r >= 0)
                                r = extend(md, pcr, digest);
                        if (r >= 0)
                                r = hash_padded(ctx, md, blobs[i].data, blobs[i].data_size, blobs[i].measure_size, digest);
                        if (r >= 0)
                                r = extend(md, pcr, digest);
                        break; /* one blob per name (uki_pe_blobs refuses duplicates) */
                }
        EVP_MD_CTX_free(ctx);
        return r < 0 ? log_error_errno(r, "measuring the UKI sections failed in openssl") : 0;
}

int uki_extend_word(const EVP_MD *md, uint8_t *pcr, const char *word) {
        uint8_t digest[UKI_PCR_MAX];
        unsigned n = 0;
        if (!EVP_Digest(word, strlen(word), digest, &n, md, NULL))
                return log_error_errno(-EIO, "hashing phase word failed in openssl");
        return extend(md, pcr, digest);
}

int uki_extend_path(const EVP_MD *md, uint8_t *pcr, const char *path) {
        const char *p = path;
        while (*p) {
                size_t len = strcspn(p, ":");
                if (len > 0) {
                        char word[256];
                        if (len >= sizeof(word))
                                return log_error_errno(-EINVAL, "phase path '%s': a word is longer than %zu characters", path,
                                                       sizeof(word) - 1);
                        memcpy(word, p, len);
                        word[len] = 0;
                        for (size_t i = 0; i < len; i++)
                                if (word[i] <= ' ' || word[i] > '~')
                                        return log_error_errno(-EINVAL, "phase path '%s': word '%s' has a space or non-ASCII character",
                                                               path, word);
                        int r = uki_extend_word(md, pcr, word);
                        if (r < 0)
                                return r;
                }
                p += len;
                if (*p == ':')
                        p++;
        }
        return 0;
}

static const char *const profile_systemd[] = {
        "enter-initrd", "enter-initrd:leave-initrd", "enter-initrd:leave-initrd:sysinit",
        "enter-initrd:leave-initrd:sysinit:ready", NULL,
};
static const char *const profile_talos[] = {
        "enter-initrd", "enter-initrd:leave-initrd", "enter-initrd:leave-initrd:enter-machined", NULL,
};

const char *const *uki_phase_profile(const char *profile) {
        if (profile && streq(profile, "systemd"))
                return profile_systemd;
        if (profile && streq(profile, "talos"))
                return profile_talos;
        return NULL;
}

const char *uki_phase_unlock(const char *profile) {
        if (profile && streq(profile, "systemd"))
                return "enter-initrd";
        if (profile && streq(profile, "talos"))
                return "enter-initrd:leave-initrd:enter-machined";
        return NULL;
}

/* ---- assembly ---- */

#define SCN_INITIALIZED_DATA_READ 0x40000040u /* IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ */

/* The names and sizes of the sections to add: each a dot and 1-7 characters, not empty, new to the stub. */
static int check_additions(const struct uki_pe *stub, const struct uki_add *add, size_t n) {
        if (stub->cert_size)
                return log_error_errno(-EINVAL, "the stub already carries an Authenticode certificate table (0x%x bytes): "
                                       "use the unsigned stub and sign the UKI with sbsign after building", stub->cert_size);
        if (n == 0 || stub->n_sections + n > MAX_SECTIONS)
                return log_error_errno(-EINVAL, "cannot add %zu sections to a stub with %u (at most %d in all)", n,
                                       stub->n_sections, MAX_SECTIONS);
        for (size_t i = 0; i < n; i++) {
                if (!add[i].name || strlen(add[i].name) < 2 || strlen(add[i].name) > 8 || add[i].name[0] != '.')
                        return log_error_errno(-EINVAL, "section name '%s' is not a dot and 1-7 characters",
                                               add[i].name ? add[i].name : "");
                if (add[i].size == 0)
                        return log_error_errno(-EINVAL, "section %s is empty (the stub would not measure or use it)", add[i].name);
                if (uki_pe_find(stub, add[i].name))
                        return log_error_errno(-EEXIST, "the stub already has a %s section", add[i].name);
                for (size_t j = 0; j < i; j++)
                        if (streq(add[i].name, add[j].name))
                                return log_error_errno(-EINVAL, "section %s is given twice", add[i].name);
        }
        return 0;
}

/* Where the stub's sections lie, and where the UKI puts everything. */
struct layout {
        uint64_t first_raw;                     /* file offset of the first section data */
        uint64_t sec_end;                       /* end of the last section data; what follows is overlay */
        uint64_t image_end;                     /* end of the last section in memory */
        uint64_t first_va;                      /* VirtualAddress of the first section */
        uint64_t headers;                       /* the UKI's SizeOfHeaders */
        uint64_t delta;                         /* how far the stub's section data moves to make room for them */
        uint64_t raw_off[MAX_SECTIONS];         /* file offset and address of each new section */
        uint64_t va_off[MAX_SECTIONS];
        uint64_t overlay_off;                   /* the stub's overlay, after the new sections */
        uint64_t total;                         /* bytes of the UKI */
        uint64_t size_of_image;
        uint64_t init_data;                     /* the UKI's SizeOfInitializedData */
};

static void stub_extent(const struct uki_pe *stub, struct layout *L) {
        L->first_raw = stub->size;
        L->sec_end = stub->size_of_headers;
        L->image_end = stub->size_of_image;
        L->first_va = UINT32_MAX;
        for (unsigned i = 0; i < stub->n_sections; i++) {
                const struct uki_section *s = &stub->sections[i];
                if (s->raw_size) {
                        if (s->raw_offset < L->first_raw)
                                L->first_raw = s->raw_offset;
                        if ((uint64_t) s->raw_offset + s->raw_size > L->sec_end)
                                L->sec_end = (uint64_t) s->raw_offset + s->raw_size;
                }
                if (s->virtual_address < L->first_va)
                        L->first_va = s->virtual_address;
                uint64_t vend = (uint64_t) s->virtual_address + (s->virtual_size ? s->virtual_size : s->raw_size);
                if (vend > L->image_end)
                        L->image_end = vend;
        }
        if (L->first_raw > L->sec_end)
                L->first_raw = L->sec_end;
}

/* Room for the new section headers; SizeOfHeaders grows and the raw data moves when there is none. */
static int header_room(const struct uki_pe *stub, size_t n, struct layout *L) {
        uint64_t table_end = stub->section_table + (uint64_t) (stub->n_sections + n) * SECTION_HEADER_SIZE;
        L->headers = stub->size_of_headers;
        L->delta = 0;
        if (table_end <= L->headers && table_end <= L->first_raw)
                return 0;
        L->headers = align_up(table_end, stub->file_alignment);
        if (L->headers > L->first_raw)
                L->delta = align_up(L->headers - L->first_raw, stub->file_alignment);
        if (L->headers > L->first_va)
                return log_error_errno(-ENOSPC, "the headers would grow to 0x%llx bytes, past the first section's "
                                       "VirtualAddress 0x%llx: too many sections for this stub",
                                       (unsigned long long) L->headers, (unsigned long long) L->first_va);
        if (L->delta && stub->n_rva > DIR_DEBUG &&
            le32(stub->data + stub->opt_offset + (stub->pe32plus ? 112 : 96) + DIR_DEBUG * 8 + 4))
                return log_error_errno(-EOPNOTSUPP, "the stub has a debug directory with file offsets: cannot shift its "
                                       "sections to grow the headers");
        return 0;
}

/* The new sections after the stub's, in the file and in memory; the overlay goes last. */
static int place_sections(const struct uki_pe *stub, const struct uki_add *add, size_t n, struct layout *L) {
        const uint32_t fa = stub->file_alignment;
        const uint64_t va_align = stub->section_alignment > 4096 ? stub->section_alignment : 4096;
        uint64_t raw = align_up(L->sec_end + L->delta, fa), va = align_up(L->image_end, va_align), init_data = 0;
        for (size_t i = 0; i < n; i++) {
                L->raw_off[i] = raw;
                L->va_off[i] = va;
                raw += align_up(add[i].size, fa);
                init_data += align_up(add[i].size, fa);
                va = align_up(va + add[i].size, va_align);
        }
        L->overlay_off = raw;
        L->total = raw + (stub->size - L->sec_end);
        L->size_of_image = align_up(L->va_off[n - 1] + add[n - 1].size, stub->section_alignment);
        L->init_data = (uint64_t) le32(stub->data + stub->opt_offset + OPT_SIZE_OF_INIT_DATA) + init_data;
        if (L->total > UINT32_MAX || L->size_of_image > UINT32_MAX || L->init_data > UINT32_MAX)
                return log_error_errno(-EFBIG, "the UKI would exceed 4 GiB, the limit of PE offsets");
        return 0;
}

static void copy_data(const struct uki_pe *stub, const struct uki_add *add, size_t n, const struct layout *L, uint8_t *out) {
        memcpy(out, stub->data, (size_t) L->first_raw);
        memcpy(out + L->first_raw + L->delta, stub->data + L->first_raw, (size_t) (L->sec_end - L->first_raw));
        for (size_t i = 0; i < n; i++)
                memcpy(out + L->raw_off[i], add[i].data, add[i].size);
        memcpy(out + L->overlay_off, stub->data + L->sec_end, (size_t) (stub->size - L->sec_end));
}

/* COFF and optional header fields, the stub's section headers moved by delta, and the new section headers. */
static void write_headers(const struct uki_pe *stub, const struct uki_add *add, size_t n, const struct layout *L,
                          uint8_t *out) {
        uint8_t *coff = out + stub->pe_offset, *o = out + stub->opt_offset;
        put16(coff + COFF_NSECTIONS, (uint16_t) (stub->n_sections + n));
        if (stub->symbol_table) {
                uint64_t sym = stub->symbol_table;
                if (sym >= L->sec_end)
                        sym = sym - L->sec_end + L->overlay_off;
                else if (sym >= L->first_raw)
                        sym += L->delta;
                put32(coff + COFF_SYMTAB, (uint32_t) sym);
        }
        put32(o + OPT_SIZE_OF_INIT_DATA, (uint32_t) L->init_data);
        put32(o + OPT_SIZE_OF_IMAGE, (uint32_t) L->size_of_image);
        put32(o + OPT_SIZE_OF_HEADERS, (uint32_t) L->headers);
        put32(o + OPT_CHECKSUM, 0);
        if (L->delta)
                for (unsigned i = 0; i < stub->n_sections; i++) {
                        uint8_t *h = out + stub->section_table + (size_t) i * SECTION_HEADER_SIZE;
                        if (le32(h + 16))
                                put32(h + 20, (uint32_t) (le32(h + 20) + L->delta));
                        for (int f = 24; f <= 28; f += 4) /* PointerToRelocations, PointerToLinenumbers */
                                if (le32(h + f))
                                        put32(h + f, (uint32_t) (le32(h + f) + L->delta));
                }
        for (size_t i = 0; i < n; i++) {
                uint8_t *h = out + stub->section_table + (stub->n_sections + i) * SECTION_HEADER_SIZE;
                memset(h, 0, SECTION_HEADER_SIZE);
                memcpy(h, add[i].name, strlen(add[i].name));
                put32(h + 8, (uint32_t) add[i].size);
                put32(h + 12, (uint32_t) L->va_off[i]);
                put32(h + 16, (uint32_t) align_up(add[i].size, stub->file_alignment));
                put32(h + 20, (uint32_t) L->raw_off[i]);
                put32(h + 36, SCN_INITIALIZED_DATA_READ);
        }
}

int uki_pe_add_sections(const struct uki_pe *stub, const struct uki_add *add, size_t n, uint8_t **ret, size_t *ret_size) {
        int r = check_additions(stub, add, n);
        if (r < 0)
                return r;
        struct layout L;
        stub_extent(stub, &L);
        r = header_room(stub, n, &L);
        if (r < 0)
                return r;
        r = place_sections(stub, add, n, &L);
        if (r < 0)
                return r;
        uint8_t *out = calloc(1, (size_t) L.total);
        if (!out)
                return log_error_errno(-ENOMEM, "out of memory for a %llu-byte UKI", (unsigned long long) L.total);
        copy_data(stub, add, n, &L, out);
        write_headers(stub, add, n, &L, out);
        *ret = out;
        *ret_size = (size_t) L.total;
        return 0;
}
