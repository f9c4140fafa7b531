/* fuzz_expr_parser.c -- qv_expr_parse() on outside text.  A plan that
 * parses must encode, decode back to the same bytes, format, and evaluate
 * over a small segment without crashing. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tests/fuzz/expr_parser/fuzz_expr_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_setup();
    static const qv_expr_value ids[] = {{.kind = QV_EXPR_INT, .u.i = 1},
                                        {.kind = QV_EXPR_INT, .u.i = 2}};
    static const qv_expr_param params[] = {
        {"ids", {.kind = QV_EXPR_ARRAY, .u.a = {ids, 2}}},
        {"s", {.kind = QV_EXPR_STR, .u.s = {"ab", 2}}},
    };
    qv_expr_plan *plan = NULL;
    qv_err err = {0};
    if (qv_expr_parse((const char *)data, size, &test_schema, params, 2, &plan,
                      &err) != QV_OK) {
        if (strncmp(err.msg, "invalid filter", 14) != 0)
            abort(); /* every parse error names the filter */
        return 0;
    }
    qv_buf a = QV_BUF_INIT, b = QV_BUF_INIT, txt = QV_BUF_INIT;
    if (qv_expr_plan_encode(plan, &a, &err) != QV_OK)
        abort();
    qv_expr_plan *back = NULL;
    if (qv_expr_plan_decode(a.data, a.len, &back, &err) != QV_OK)
        abort();
    if (qv_expr_plan_encode(back, &b, &err) != QV_OK || a.len != b.len ||
        memcmp(a.data, b.data, a.len) != 0)
        abort();
    if (qv_expr_plan_format(back, &txt) != QV_OK)
        abort();
    fz_eval(plan);
    qv_expr_plan_free(back);
    qv_expr_plan_free(plan);
    qv_buf_release(&a);
    qv_buf_release(&b);
    qv_buf_release(&txt);
    return 0;
}
