/* fuzz_json.c -- qv_json_validate() and the lazy accessors on outside
 * bytes.  The accessors must stay in bounds on any input; on a document
 * that validates, walking every value must find well-formed numbers and
 * strings.  The column library's own JSON check must agree with ours. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/column/column.h"
#include "common/json/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const qv_json_val *v, int depth, bool valid)
{
    qv_json_iter it;
    qv_json_val k, e;
    char buf[64];
    int64_t i;
    double d;
    if (depth > QV_JSON_MAX_DEPTH + 2)
        return;
    switch (v->type) {
    case QV_JSON_ARRAY:
        qv_json_iter_init(&it, v);
        while (qv_json_iter_next(&it, &e))
            walk(&e, depth + 1, valid);
        (void)qv_json_array_len(v);
        (void)qv_json_index(v, 1, &e);
        break;
    case QV_JSON_OBJECT:
        qv_json_obj_iter_init(&it, v);
        while (qv_json_obj_next(&it, &k, &e)) {
            if (valid &&
                qv_json_string_decode(&k, buf, sizeof(buf)) == SIZE_MAX)
                abort(); /* a valid document has valid keys */
            walk(&e, depth + 1, valid);
        }
        (void)qv_json_member(v, "a", 1, &e);
        (void)qv_json_step(v, "0", 1, &e);
        break;
    case QV_JSON_STRING: {
        bool ok;
        if (qv_json_string_decode(v, buf, sizeof(buf)) == SIZE_MAX && valid)
            abort();
        (void)qv_json_string_cmp(v, "ab", 2, &ok);
        break;
    }
    case QV_JSON_NUMBER:
        if (!qv_json_as_double(v, &d) && valid)
            abort(); /* every valid number reads as a double */
        (void)qv_json_as_int64(v, &i);
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    qv_err err = {0};
    bool valid = qv_json_validate(s, size, &err) == QV_OK;
    size_t off = SIZE_MAX;
    if (valid != qv_col_json_valid(s, size, &off))
        abort(); /* the column layer's entry disagrees */
    if (!valid && off > size)
        abort(); /* an error offset outside the input */
    qv_json_val root = qv_json_root(s, size);
    walk(&root, 0, valid);
    return 0;
}
