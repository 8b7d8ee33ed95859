/* uki.h: public header of libvolseal-uki: PE/COFF section reader, PCR 11 prediction per stub version,
 * signed PCR policy entries for a UKI, and UKI assembly from a systemd-stub.
 * Promise: pure functions over bytes in memory (the caller maps or reads files); no TPM and no disk I/O.
 * A malformed PE is refused with the offending field named; nothing is read out of bounds.
 * Functions return 0 (or a count) / negative errno and log once where they decide. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#define UKI_PCR_MAX 64 /* largest bank digest: SHA-512 */

/* ---- PE/COFF reader ---- */
struct uki_section {
        char name[9];             /* the 8-byte name, NUL-terminated */
        uint32_t virtual_size;
        uint32_t virtual_address;
        uint32_t raw_size;        /* SizeOfRawData */
        uint32_t raw_offset;      /* PointerToRawData */
        uint32_t characteristics;
};

struct uki_pe {
        const uint8_t *data;      /* borrowed: the whole file */
        size_t size;
        uint32_t pe_offset;       /* e_lfanew */
        uint16_t machine;
        bool pe32plus;
        size_t opt_offset;        /* optional header */
        uint16_t opt_size;
        uint32_t section_alignment, file_alignment, size_of_image, size_of_headers;
        uint32_t symbol_table;    /* PointerToSymbolTable (0: none) */
        uint32_t n_rva;           /* NumberOfRvaAndSizes */
        uint32_t cert_offset, cert_size; /* data directory 4 (Authenticode certificate table) */
        size_t section_table;     /* file offset of the section table */
        uint16_t n_sections;
        struct uki_section *sections;
};

/* Parses and bounds-checks the PE headers and section table of `data` (borrowed, must outlive ret).
 * `what` names the file in errors. Malformed -> -EBADMSG with the field named. */
int uki_pe_parse(const uint8_t *data, size_t size, const char *what, struct uki_pe *ret);
void uki_pe_done(struct uki_pe *pe);
/* The first section of that name, or NULL. */
const struct uki_section *uki_pe_find(const struct uki_pe *pe, const char *name);
/* Bytes of the section present in the file: min(raw_size, virtual_size) (checked by uki_pe_parse). */
static inline size_t uki_section_file_bytes(const struct uki_section *s) {
        return s->raw_size < s->virtual_size ? s->raw_size : s->virtual_size;
}

/* ---- stub version and measurement order ---- */
/* The systemd-stub major version from `.sdmagic` ("#### LoaderInfo: systemd-stub 252.39-1 ####"); 0 when
 * the image has no .sdmagic or it names no systemd-stub version. `ret_text` (optional) gets a copy of
 * the version string ("252.39-1~deb12u2"), freed by the caller. */
unsigned uki_stub_version(const struct uki_pe *pe, char **ret_text);
/* Canonical PCR 11 measurement order of systemd-stub `version` (0 = unknown: 252's order, the oldest this
 * supports). NULL-terminated list of section names with their dots. */
const char *const *uki_measure_order(unsigned version);
/* Parses a comma-separated override (".linux,.osrel,...") into a NULL-terminated list (free the list
 * with free(); the strings live in the same allocation). */
int uki_parse_order(const char *spec, char ***ret);

/* ---- PCR 11 prediction ---- */
/* One measured blob: `data_size` bytes at `data`, measured as `measure_size` bytes (zero-filled past
 * data_size; systemd-stub measures VirtualSize bytes). */
struct uki_blob {
        const char *name;
        const uint8_t *data;
        size_t data_size;
        size_t measure_size;
};
/* The blobs of a parsed PE (pointers into pe->data). Duplicate names among measured sections are refused
 * (-EBADMSG): the stub would measure one of them, and which one depends on the version. */
int uki_pe_blobs(const struct uki_pe *pe, const char *const *order, struct uki_blob **ret, size_t *ret_n);

/* Bank by name: "sha1" "sha256" "sha384" "sha512" -> EVP_MD, or NULL. */
const EVP_MD *uki_bank_md(const char *bank);

/* PCR 11 as systemd-stub leaves it: from zero, for each name of `order` whose blob is present with a
 * non-zero measure_size, extend with H(name + NUL) then H(data zero-filled to measure_size).
 * `pcr` gets EVP_MD_get_size(md) bytes. Hashes stream through EVP from the blob's memory (no copy). */
int uki_measure(const struct uki_blob *blobs, size_t n, const char *const *order, const EVP_MD *md, uint8_t *pcr);
/* Extends `pcr` (EVP_MD_get_size(md) bytes) with H(word) (the bare word, no NUL). */
int uki_extend_word(const EVP_MD *md, uint8_t *pcr, const char *word);
/* Phase path: colon-separated words ("enter-initrd:leave-initrd"); empty components are skipped, so ":" and
 * "" are the empty path. Extends `pcr` with each word. Words must be printable ASCII without spaces. */
int uki_extend_path(const EVP_MD *md, uint8_t *pcr, const char *path);

/* Phase profiles: NULL-terminated lists of paths. "systemd": enter-initrd, …:leave-initrd, …:sysinit, …:ready;
 * "talos": enter-initrd, …:leave-initrd, …:enter-machined. NULL for an unknown profile. */
const char *const *uki_phase_profile(const char *profile);
/* The path a profile signs by default (unseal happens there): systemd "enter-initrd",
 * talos "enter-initrd:leave-initrd:enter-machined". */
const char *uki_phase_unlock(const char *profile);

/* ---- UKI assembly ---- */
struct uki_add {
        const char *name;         /* ".linux", up to 8 characters */
        const uint8_t *data;
        size_t size;
};
/* A new image = `stub` plus `n` sections appended in the given order. Each gets VirtualSize = exact size,
 * SizeOfRawData rounded up to FileAlignment, VirtualAddress 4 KiB-aligned above the previous image end;
 * SizeOfImage, NumberOfSections and SizeOfInitializedData are updated, CheckSum zeroed. When the section
 * table has no room, SizeOfHeaders grows and all raw data shifts (PointerToRawData and
 * PointerToSymbolTable follow). Data after the last section (a COFF symbol table) moves behind the new
 * sections. A stub with a certificate table (already signed) or an existing section of the same name is
 * refused. *ret is malloc()ed. */
int uki_pe_add_sections(const struct uki_pe *stub, const struct uki_add *add, size_t n, uint8_t **ret, size_t *ret_size);
