/* column_file.c -- the column file format: encoder, loader, mmap.
 *
 * Layout (all integers little-endian; sections start 64-byte aligned,
 * gaps are zero):
 *
 *   offset size field
 *   0      4    magic "QVCL"
 *   4      4    format version (1)
 *   8      8    field id
 *   16     4    data type (qv_dtype)
 *   20     4    element type (Array) or 0
 *   24     4    dim (dense vectors; sparse: max index + 1) or 0
 *   28     4    flags: bit 0 = validity section present
 *   32     8    rows
 *   40     4    width: bytes per row (fixed width) or 0
 *   44     4    reserved, 0
 *   48     16   validity section: offset, length
 *   64     16   offsets section: offset, length (variable width)
 *   80     16   data section: offset, length
 *   96     8    file length
 *   104    4    crc32c of bytes [128, file length)
 *   108    4    crc32c of bytes [0, 108)
 *   112    16   reserved, 0
 *   128         sections: validity words, offsets (rows + 1 u64), data
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/alloc.h"
#include "common/column/column.h"
#include "common/column/column_int.h"
#include "common/hash.h"

#define HDR_SIZE    128
#define COL_MAGIC   0x4c435651u /* "QVCL" */
#define COL_VERSION 1u
#define FLAG_VALID  1u
#define ALIGN_UP(x) (((x) + 63) & ~(size_t)63)

/* Checks the internal structure of an Array or sparse row. */
bool qv__column_row_ok(const qv_col_view *v, size_t row)
{
    size_t len;
    const uint8_t *p = qv_col_var(v, row, &len);
    if (v->type == QV_DT_SPARSE_FLOAT_VECTOR) {
        if (len % 8)
            return false;
        for (size_t k = 0; k < len / 8; k++) {
            uint32_t idx = qv_load_u32(p + 8 * k);
            if (idx > QV_SPARSE_MAX_INDEX || idx >= v->dim)
                return false;
            if (k && idx <= qv_load_u32(p + 8 * (k - 1)))
                return false;
        }
        return true;
    }
    if (v->type != QV_DT_ARRAY)
        return true;
    if (v->elem_type != QV_DT_VARCHAR) {
        size_t w = qv_dtype_elem_width(v->elem_type);
        return w && len % w == 0;
    }
    if (qv_col_is_null(v, row) && len == 0)
        return true;
    if (len < 8)
        return false;
    uint32_t n = qv_load_u32(p);
    if ((size_t)n > (len - 8) / 4)
        return false;
    size_t hdr = 4 + 4 * ((size_t)n + 1);
    if (qv_load_u32(p + 4) != 0)
        return false;
    for (size_t j = 0; j < n; j++)
        if (qv_load_u32(p + 8 + 4 * j) < qv_load_u32(p + 4 + 4 * j))
            return false;
    return hdr + qv_load_u32(p + 4 + 4 * (size_t)n) == len;
}

qv_code qv_column_file_encode(const qv_col_view *v, int64_t field_id,
                              qv_buf *out, qv_err *err)
{
    bool var = qv_dtype_is_varwidth(v->type);
    size_t vlen = v->valid ? QV_BITSET_WORDS(v->rows) * 8 : 0;
    size_t olen = var ? (v->rows + 1) * 8 : 0;
    size_t dlen = var ? (size_t)(v->offsets[v->rows] - v->offsets[0])
                      : v->rows * v->width;
    size_t voff = HDR_SIZE;
    size_t ooff = ALIGN_UP(voff + vlen);
    size_t doff = ALIGN_UP(ooff + olen);
    size_t flen = doff + dlen;
    if (!qv_dtype_valid(v->type) || (!var && v->width == 0))
        return qv_fail(err, QV_E_INVALID,
                       "cannot encode column of field %lld: bad type %d",
                       (long long)field_id, (int)v->type);
    size_t start = out->len;
    qv_code rc = qv_buf_reserve(out, flen);
    if (rc)
        return qv_fail(err, rc,
                       "cannot encode column of field %lld: %zu "
                       "bytes",
                       (long long)field_id, flen);
    uint8_t *f = (uint8_t *)out->data + start;
    memset(f, 0, flen);
    qv_store_u32(f, COL_MAGIC);
    qv_store_u32(f + 4, COL_VERSION);
    qv_store_u64(f + 8, (uint64_t)field_id);
    qv_store_u32(f + 16, (uint32_t)v->type);
    qv_store_u32(f + 20, v->type == QV_DT_ARRAY ? (uint32_t)v->elem_type : 0);
    qv_store_u32(f + 24, v->dim);
    qv_store_u32(f + 28, v->valid ? FLAG_VALID : 0);
    qv_store_u64(f + 32, v->rows);
    qv_store_u32(f + 40, var ? 0 : v->width);
    qv_store_u64(f + 48, vlen ? voff : 0);
    qv_store_u64(f + 56, vlen);
    qv_store_u64(f + 64, olen ? ooff : 0);
    qv_store_u64(f + 72, olen);
    qv_store_u64(f + 80, doff);
    qv_store_u64(f + 88, dlen);
    qv_store_u64(f + 96, flen);
    if (vlen) {
        for (size_t w = 0; w < vlen / 8; w++)
            qv_store_u64(f + voff + 8 * w, qv_col_valid_word(v, w));
        size_t r = v->rows & 63; /* keep bits past the last row zero */
        if (r)
            qv_store_u64(f + voff + vlen - 8, qv_load_u64(f + voff + vlen - 8) &
                                                  (((uint64_t)1 << r) - 1));
    }
    for (size_t i = 0; olen && i <= v->rows; i++)
        qv_store_u64(f + ooff + 8 * i, v->offsets[i] - v->offsets[0]);
    if (dlen)
        memcpy(f + doff, var ? v->data + v->offsets[0] : v->data, dlen);
    qv_store_u32(f + 104, qv_crc32c(0, f + HDR_SIZE, flen - HDR_SIZE));
    qv_store_u32(f + 108, qv_crc32c(0, f, 108));
    out->len = start + flen;
    out->data[out->len] = '\0';
    return QV_OK;
}

qv_code qv_column_write_file(const qv_col_view *v, int64_t field_id,
                             const char *path, qv_err *err)
{
    qv_buf b = QV_BUF_INIT;
    qv_code rc = qv_column_file_encode(v, field_id, &b, err);
    if (rc)
        return rc;
    char *tmp = qv_xasprintf("%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = qv_fail_errno(err, QV_E_IO, "cannot create '%s'", tmp);
        goto out;
    }
    size_t done = 0;
    while (done < b.len) {
        ssize_t n = write(fd, b.data + done, b.len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = qv_fail_errno(err, QV_E_IO, "cannot write '%s'", tmp);
            break;
        }
        done += (size_t)n;
    }
    if (!rc && fsync(fd) != 0)
        rc = qv_fail_errno(err, QV_E_IO, "cannot fsync '%s'", tmp);
    close(fd);
    if (!rc && rename(tmp, path) != 0)
        rc = qv_fail_errno(err, QV_E_IO, "cannot rename '%s'", tmp);
    if (rc)
        unlink(tmp);
out:
    free(tmp);
    qv_buf_release(&b);
    return rc;
}

/* ---- loader ---------------------------------------------------------- */

typedef struct sect {
    uint64_t off, len;
} sect;

static bool sect_ok(sect s, size_t flen, size_t min_off)
{
    if (s.len == 0)
        return true;
    return s.off >= min_off && s.off % 64 == 0 && s.off <= flen &&
           s.len <= flen - s.off;
}

/* Header fields -> view + checks of the fixed-size facts. */
static qv_code parse_header(const uint8_t *f, size_t len, unsigned flags,
                            qv_col_view *v, int64_t *fid, sect *sv, sect *so,
                            sect *sd, qv_err *err)
{
    if (len < HDR_SIZE)
        return qv_fail(err, QV_E_CORRUPT,
                       "column file: %zu bytes is shorter "
                       "than the header",
                       len);
    if (qv_load_u32(f) != COL_MAGIC)
        return qv_fail(err, QV_E_CORRUPT, "column file: bad magic");
    if (qv_load_u32(f + 4) != COL_VERSION)
        return qv_fail(err, QV_E_CORRUPT_VERSION,
                       "column file: unsupported format version %u",
                       qv_load_u32(f + 4));
    for (size_t i = 112; i < HDR_SIZE; i++)
        if (f[i] != 0)
            return qv_fail(err, QV_E_CORRUPT,
                           "column file: reserved header bytes are set");
    if (qv_load_u32(f + 108) != qv_crc32c(0, f, 108))
        return qv_fail(err, QV_E_CORRUPT_CHECKSUM,
                       "column file: header checksum mismatch");
    if (qv_load_u64(f + 96) != len)
        return qv_fail(err, QV_E_CORRUPT,
                       "column file: length %zu, header says %llu", len,
                       (unsigned long long)qv_load_u64(f + 96));
    memset(v, 0, sizeof *v);
    *fid = (int64_t)qv_load_u64(f + 8);
    v->type = (qv_dtype)qv_load_u32(f + 16);
    v->elem_type = (qv_dtype)qv_load_u32(f + 20);
    v->dim = qv_load_u32(f + 24);
    v->width = qv_load_u32(f + 40);
    uint64_t rows = qv_load_u64(f + 32);
    *sv = (sect){qv_load_u64(f + 48), qv_load_u64(f + 56)};
    *so = (sect){qv_load_u64(f + 64), qv_load_u64(f + 72)};
    *sd = (sect){qv_load_u64(f + 80), qv_load_u64(f + 88)};
    if (!qv_dtype_valid(v->type))
        return qv_fail(err, QV_E_CORRUPT, "column file: bad data type %d",
                       (int)v->type);
    bool var = qv_dtype_is_varwidth(v->type);
    if (v->type == QV_DT_ARRAY ? !qv_dtype_array_elem_ok(v->elem_type)
                               : v->elem_type != 0)
        return qv_fail(err, QV_E_CORRUPT, "column file: bad element type %d",
                       (int)v->elem_type);
    if (var ? v->width != 0
            : v->width == 0 || v->width != qv_dtype_width(v->type, v->dim))
        return qv_fail(err, QV_E_CORRUPT,
                       "column file: width %u does not match %s dim %u",
                       v->width, qv_dtype_name(v->type), v->dim);
    if (rows > len) /* every row costs at least one byte or bit */
        if (var || v->width == 0 || rows > len * 8)
            return qv_fail(err, QV_E_CORRUPT,
                           "column file: %llu rows "
                           "cannot fit",
                           (unsigned long long)rows);
    v->rows = (size_t)rows;
    if (!sect_ok(*sv, len, HDR_SIZE) || !sect_ok(*so, len, HDR_SIZE) ||
        !sect_ok(*sd, len, HDR_SIZE))
        return qv_fail(err, QV_E_CORRUPT,
                       "column file: a section lies outside the file");
    bool has_valid = qv_load_u32(f + 28) & FLAG_VALID;
    if ((qv_load_u32(f + 28) & ~FLAG_VALID) ||
        sv->len != (has_valid ? QV_BITSET_WORDS(v->rows) * 8 : 0) ||
        so->len != (var ? (v->rows + 1) * 8 : 0) ||
        (!var && sd->len != v->rows * v->width))
        return qv_fail(err, QV_E_CORRUPT,
                       "column file: section sizes do not match %zu rows",
                       v->rows);
    if (!(flags & QV_COLUMN_NO_VERIFY) &&
        qv_load_u32(f + 104) != qv_crc32c(0, f + HDR_SIZE, len - HDR_SIZE))
        return qv_fail(err, QV_E_CORRUPT_CHECKSUM,
                       "column file: payload checksum mismatch");
    return QV_OK;
}

/* Offsets monotone and in bounds; row structures sound. */
static qv_code check_rows(const qv_col_view *v, size_t dlen, qv_err *err)
{
    if (v->offsets[0] != 0 || v->offsets[v->rows] != dlen)
        return qv_fail(err, QV_E_CORRUPT,
                       "column file: offsets do not span the data");
    for (size_t i = 0; i < v->rows; i++) {
        if (v->offsets[i + 1] < v->offsets[i])
            return qv_fail(err, QV_E_CORRUPT,
                           "column file: offsets decrease at row %zu", i);
        if (qv_col_is_null(v, i) && v->offsets[i + 1] != v->offsets[i])
            return qv_fail(err, QV_E_CORRUPT,
                           "column file: null row %zu has bytes", i);
    }
    for (size_t i = 0; i < v->rows; i++)
        if (!qv__column_row_ok(v, i))
            return qv_fail(err, QV_E_CORRUPT,
                           "column file: row %zu is malformed", i);
    return QV_OK;
}

qv_code qv_column_load(const void *bytes, size_t len, unsigned flags,
                       qv_column **out, qv_err *err)
{
    const uint8_t *f = bytes;
    if ((uintptr_t)bytes % 8)
        return qv_fail(err, QV_E_INVALID,
                       "column file: image is not 8-byte aligned");
    qv_col_view v;
    memset(&v, 0, sizeof v);
    int64_t fid = 0;
    sect sv = {0, 0}, so = {0, 0}, sd = {0, 0};
    qv_code rc = parse_header(f, len, flags, &v, &fid, &sv, &so, &sd, err);
    if (rc)
        return rc;
    bool var = qv_dtype_is_varwidth(v.type);
    v.valid = sv.len ? (const uint64_t *)(const void *)(f + sv.off) : NULL;
    v.offsets = var ? (const uint64_t *)(const void *)(f + so.off) : NULL;
    v.data = sd.len ? f + sd.off : f; /* empty: any aligned pointer */
    if (var && (rc = check_rows(&v, sd.len, err)))
        return rc;
    if (v.valid && v.rows % 64 && (v.valid[v.rows / 64] >> (v.rows % 64)) != 0)
        return qv_fail(err, QV_E_CORRUPT,
                       "column file: validity bits set past the last row");
    qv_field_spec spec = {.id = fid,
                          .name = "",
                          .type = v.type,
                          .elem_type = v.elem_type,
                          .dim =
                              v.type == QV_DT_SPARSE_FLOAT_VECTOR ? 0 : v.dim,
                          .nullable = v.valid != NULL};
    qv_column *c = QV_NEW(qv_column);
    qv__column_set_spec(c, &spec);
    c->width = v.width;
    c->var = var;
    c->file = true;
    c->fview = v;
    *out = c;
    return QV_OK;
}

void qv__column_file_release(qv_column *c)
{
    if (c->map)
        munmap(c->map, c->map_len);
    c->map = NULL;
}

qv_code qv_column_open_file(const char *path, unsigned flags, qv_column **out,
                            qv_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return qv_fail_errno(err, QV_E_IO, "cannot open column file '%s'",
                             path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        qv_code rc = qv_fail_errno(err, QV_E_IO, "cannot stat '%s'", path);
        close(fd);
        return rc;
    }
    size_t len = (size_t)st.st_size;
    if (len < HDR_SIZE) {
        close(fd);
        return qv_fail(err, QV_E_CORRUPT,
                       "column file '%s': %zu bytes is shorter than the "
                       "header",
                       path, len);
    }
    void *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return qv_fail_errno(err, QV_E_IO, "cannot map '%s'", path);
    qv_column *c = NULL;
    qv_code rc = qv_column_load(m, len, flags, &c, err);
    if (rc || !c) {
        munmap(m, len);
        (void)qv_err_prefix(err, "'%s'", path);
        return rc ? rc : QV_E_INTERNAL;
    }
    c->map = m;
    c->map_len = len;
    *out = c;
    return QV_OK;
}
