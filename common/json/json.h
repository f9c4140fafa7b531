/* json.h -- a small strict JSON validator and a lazy, allocation-free
 * accessor for JSON documents stored in columns (JSON fields, `$meta`).
 *
 * Documents are kept as text.  qv_json_validate() checks a document once
 * (at insert) against RFC 8259: one value, valid UTF-8, valid escapes, no
 * control characters in strings, nesting depth at most QV_JSON_MAX_DEPTH.
 * The accessors then walk the text without building a tree: a qv_json_val
 * is a typed span of the original bytes.  The accessors never read outside
 * the span they are given, even on malformed text (they report "not found"
 * or QV_JSON_INVALID instead), so they are safe on unvalidated bytes too.
 *
 * Object lookup returns the FIRST member with the key (as simdjson does).
 *
 * Ownership: a qv_json_val borrows the document bytes; it is valid while
 * they are.  Threading: all functions are pure and thread-safe.
 */
#ifndef QV_JSON_H
#define QV_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

#define QV_JSON_MAX_DEPTH 128

typedef enum qv_json_type {
    QV_JSON_INVALID = 0,
    QV_JSON_NULL,
    QV_JSON_FALSE,
    QV_JSON_TRUE,
    QV_JSON_NUMBER,
    QV_JSON_STRING, /* span includes the quotes */
    QV_JSON_ARRAY,  /* span includes the brackets */
    QV_JSON_OBJECT, /* span includes the braces */
} qv_json_type;

typedef struct qv_json_val {
    qv_json_type type;
    const char *p; /* first byte of the value */
    size_t len;    /* bytes of the value */
} qv_json_val;

/* Validates one JSON document of n bytes (leading/trailing whitespace
 * allowed).  On failure returns QV_E_INVALID with a message naming the byte
 * offset, e.g. "invalid json at byte 7: expected ':' after object key". */
qv_code qv_json_validate(const char *s, size_t n, qv_err *err) QV_MUST_USE;
/* The same, also giving the failing byte offset in *err_off (may be NULL). */
qv_code qv_json_validate_at(const char *s, size_t n, size_t *err_off,
                            qv_err *err) QV_MUST_USE;

/* The root value of a document; type QV_JSON_INVALID if the text does not
 * start with a value.  An object or array root spans to the last
 * non-space byte, which must close it; its inside is not scanned here. */
qv_json_val qv_json_root(const char *s, size_t n);

/* Member `key` (raw, unescaped bytes) of an object; false if v is not an
 * object or has no such member. */
bool qv_json_member(const qv_json_val *obj, const char *key, size_t klen,
                    qv_json_val *out);
/* Element i of an array; false if v is not an array or is too short. */
bool qv_json_index(const qv_json_val *arr, size_t i, qv_json_val *out);
/* Steps one path element: member `seg` of an object, or element of an array
 * when seg is a non-negative decimal integer (as JSON pointer does). */
bool qv_json_step(const qv_json_val *v, const char *seg, size_t slen,
                  qv_json_val *out);

/* Iteration over the elements of an array. */
typedef struct qv_json_iter {
    const char *p, *end;
    bool first;
} qv_json_iter;
void qv_json_iter_init(qv_json_iter *it, const qv_json_val *arr);
bool qv_json_iter_next(qv_json_iter *it, qv_json_val *out);
/* Iteration over the members of an object (the same iterator type). */
void qv_json_obj_iter_init(qv_json_iter *it, const qv_json_val *obj);
bool qv_json_obj_next(qv_json_iter *it, qv_json_val *key, qv_json_val *val);
/* Number of elements; 0 if v is not an array. */
size_t qv_json_array_len(const qv_json_val *arr);

/* A number written as an integer (no fraction or exponent) that fits
 * int64. */
bool qv_json_as_int64(const qv_json_val *v, int64_t *out);
/* Any number, as a double. */
bool qv_json_as_double(const qv_json_val *v, double *out);
/* Decodes a string value into out (cap bytes); returns the decoded length,
 * which may exceed cap (then out holds a prefix), or SIZE_MAX if v is not a
 * valid string. */
size_t qv_json_string_decode(const qv_json_val *v, char *out, size_t cap);
/* Compares a string value with raw bytes s[0..n) like memcmp on the decoded
 * bytes (then by length); *ok is false if v is not a valid string. */
int qv_json_string_cmp(const qv_json_val *v, const char *s, size_t n, bool *ok);

#endif
