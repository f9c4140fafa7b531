/* json_check.c -- UTF-8 validation for VarChar data taken from clients or
 * files, and the column layer's entry to the strict JSON validator
 * (common/json: RFC 8259, depth limit, valid UTF-8 strings).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/column/column.h"
#include "common/json/json.h"

/* Length of the UTF-8 sequence at s[0..len) or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    uint32_t cp, min;
    if ((c & 0xe0) == 0xc0) {
        n = 2, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        n = 3, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        n = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n > len)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

bool qv_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = utf8_seq(s + i, len - i);
        if (!n)
            return false;
        i += n;
    }
    return true;
}

bool qv_col_json_valid(const char *s, size_t len, size_t *err_off)
{
    qv_err e = {0};
    return qv_json_validate_at(s, len, err_off, &e) == QV_OK;
}
