/* Tests of common/status.c: names and error formatting. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "common/status.h"

Test(status, every_primary_code_has_a_unique_name)
{
    for (int c = 0; c < QV_CODE_PRIMARY_COUNT; c++) {
        const char *n = qv_code_name((qv_code)c);
        cr_assert(strncmp(n, "QV_", 3) == 0, "code %d has name %s", c, n);
        cr_assert_str_neq(n, "QV_E_?");
        for (int d = 0; d < c; d++)
            cr_assert_str_neq(n, qv_code_name((qv_code)d));
    }
    cr_assert_str_eq(qv_code_name((qv_code)999), "QV_E_?");
}

Test(status, detail_codes_keep_primary_in_low_byte)
{
    cr_assert_eq(qv_code_primary(QV_E_IO_SHORT_READ), QV_E_IO);
    cr_assert_eq(qv_code_primary(QV_E_CORRUPT_CHECKSUM), QV_E_CORRUPT);
    cr_assert_str_eq(qv_code_name(QV_E_CORRUPT_CHECKSUM),
                     "QV_E_CORRUPT_CHECKSUM");
}

Test(status, fail_fills_err_and_returns_code)
{
    qv_err err;
    qv_code rc = qv_fail(&err, QV_E_INVALID, "bad key '%s'", "x");
    cr_assert_eq(rc, QV_E_INVALID);
    cr_assert_eq(err.code, QV_E_INVALID);
    cr_assert_str_eq(err.msg, "bad key 'x'");
    cr_assert_eq(qv_fail(NULL, QV_E_IO, "ignored"), QV_E_IO);
}

Test(status, fail_errno_appends_strerror)
{
    qv_err err;
    errno = ENOENT;
    qv_fail_errno(&err, QV_E_IO, "cannot open '%s'", "f");
    cr_assert_eq(err.sys_errno, ENOENT);
    cr_assert_str_eq(err.msg, "cannot open 'f': No such file or directory");
}

Test(status, prefix_keeps_old_message)
{
    qv_err err;
    qv_fail(&err, QV_E_IO, "disk full");
    qv_err_prefix(&err, "flush segment %d", 7);
    cr_assert_str_eq(err.msg, "flush segment 7: disk full");
    cr_assert_eq(err.code, QV_E_IO);
}

Test(status, long_messages_are_truncated_not_overflowed)
{
    qv_err err;
    char big[1000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    qv_fail(&err, QV_E_INVALID, "%s", big);
    cr_assert_eq(strlen(err.msg), sizeof(err.msg) - 1);
}
