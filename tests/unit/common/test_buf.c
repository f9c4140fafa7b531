/* Tests of common/buf.c. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

Test(buf, append_and_printf_build_a_string)
{
    qv_buf b = QV_BUF_INIT;
    cr_assert_str_eq(qv_buf_str(&b), "");
    cr_assert_eq(qv_buf_appends(&b, "abc"), QV_OK);
    cr_assert_eq(qv_buf_printf(&b, "-%d-%s", 42, "x"), QV_OK);
    cr_assert_str_eq(qv_buf_str(&b), "abc-42-x");
    cr_assert_eq(b.len, 8);
    qv_buf_release(&b);
}

Test(buf, little_endian_integers)
{
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(qv_buf_put_u32(&b, 0x01020304u), QV_OK);
    cr_assert_eq(qv_buf_put_u64(&b, 0x0a0b0c0d0e0f1011ull), QV_OK);
    const unsigned char want[] = {4,    3,    2,    1,    0x11, 0x10,
                                  0x0f, 0x0e, 0x0d, 0x0c, 0x0b, 0x0a};
    cr_assert_eq(b.len, sizeof(want));
    cr_assert(memcmp(b.data, want, sizeof(want)) == 0);
    qv_buf_release(&b);
}

Test(buf, cap_is_enforced_and_buffer_unchanged)
{
    qv_buf b;
    qv_buf_init(&b, 10);
    cr_assert_eq(qv_buf_appends(&b, "0123456789"), QV_OK);
    cr_assert_eq(qv_buf_appends(&b, "x"), QV_E_NOMEM);
    cr_assert_eq(b.len, 10);
    cr_assert_str_eq(qv_buf_str(&b), "0123456789");
    qv_buf_release(&b);
}

Test(buf, detach_hands_over_bytes)
{
    qv_buf b = QV_BUF_INIT;
    size_t n;
    cr_assert_eq(qv_buf_append(&b, "\0x\0", 3), QV_OK);
    char *p = qv_buf_detach(&b, &n);
    cr_assert_eq(n, 3);
    cr_assert_eq(p[1], 'x');
    cr_assert_null(b.data);
    free(p);
}

Test(buf, grows_over_many_appends)
{
    qv_buf b = QV_BUF_INIT;
    for (int i = 0; i < 100000; i++)
        cr_assert_eq(qv_buf_append(&b, "ab", 2), QV_OK);
    cr_assert_eq(b.len, 200000);
    cr_assert_eq(b.data[199999], 'b');
    qv_buf_release(&b);
}
