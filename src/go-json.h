/* go-json.h: JSON text as Go's encoding/json.Marshal writes it, from a json-c tree.
 * Promise: for a tree of objects (members in insertion order), arrays, strings, integers, booleans and
 * null, vs_go_json_marshal() writes the bytes json.Marshal writes for the Go value of the same shape: no
 * spaces; strings escaped as Go escapes them (\" \\ \b \f \n \r \t, other bytes below 0x20 and < > & as
 * \u00XX with lowercase hex, U+2028/U+2029 as \u2028/\u2029, each invalid UTF-8 byte as \ufffd; everything
 * else, DEL and '/' included, as is). The output goes to a struct vs_secret because the tree may hold a
 * static passphrase (META tag 9). Pure: no I/O, no logging. Doubles are refused (Go's float formatting is
 * not reproduced: Talos's tag 9 and tokens hold none). */
#pragma once
#include <stddef.h>
#include <json-c/json.h>

#include "secret.h"

/* Returns 0 with the text in *ret (caller frees), -EINVAL for a double in the tree, -ENOMEM. */
int vs_go_json_marshal(struct json_object *o, struct vs_secret **ret);
/* Appends one Go-escaped, quoted string of `len` bytes to `out`. 0 or -ENOMEM. */
int vs_go_json_string(struct vs_secret *out, const char *s, size_t len);
/* Wipes the bytes of every string in the tree (static passphrases) before the tree is freed. */
void vs_json_wipe(struct json_object *o);
