/* index_io.c -- the index file: writer, bounds-checked reader, and the
 * public qv_index_serialize / qv_index_load.  The layout is drawn in
 * index_impl.h and tabled in index/README.md.
 *
 * The reader trusts nothing: it checks the magic, the version, the stated
 * length against the real one, the trailer checksum over every byte, and
 * that each section lies inside the file, is 64-byte aligned and does not
 * overlap the header or trailer.  Types then check each section's size.
 */
#include "common/bytes.h"
#include "index/index_impl.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/hash.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "index files are written in host order; port the writer first"
#endif

#define MAGIC       QV_FOURCC('Q', 'V', 'I', 'X')
#define MAGIC_END   QV_FOURCC('Q', 'V', 'I', 'E')
#define HEADER_SIZE 64
#define SEC_ENTRY   24
#define TRAILER     8
#define TAG_PARAMS  QV_FOURCC('P', 'A', 'R', 'M')

/* ---- writer ----------------------------------------------------------- */

static qv_code pad_to_align(qv__writer *w, qv_err *err)
{
    static const uint8_t zeros[QV_IX_ALIGN];
    size_t rel = w->out->len - w->start;
    size_t pad = (QV_IX_ALIGN - rel % QV_IX_ALIGN) % QV_IX_ALIGN;
    if (qv_buf_append(w->out, zeros, pad))
        return qv_fail(err, QV_E_NOMEM, "index file is too large");
    return QV_OK;
}

qv_code qv__writer_begin(qv__writer *w, uint32_t tag, qv_err *err)
{
    if (w->open || w->nsec >= QV_IX_MAX_SECTIONS)
        return qv_fail(err, QV_E_INTERNAL, "index writer: too many sections");
    qv_code rc = pad_to_align(w, err);
    if (rc)
        return rc;
    w->tag[w->nsec] = tag;
    w->off[w->nsec] = w->out->len - w->start;
    w->len[w->nsec] = 0;
    w->open = true;
    return QV_OK;
}

qv_code qv__writer_append(qv__writer *w, const void *data, size_t len,
                          qv_err *err)
{
    if (!len)
        return QV_OK;
    if (qv_buf_append(w->out, data, len))
        return qv_fail(err, QV_E_NOMEM, "index file is too large");
    w->len[w->nsec] += len;
    return QV_OK;
}

void qv__writer_end(qv__writer *w)
{
    if (w->open) {
        w->open = false;
        w->nsec++;
    }
}

qv_code qv__writer_section(qv__writer *w, uint32_t tag, const void *data,
                           size_t len, qv_err *err)
{
    qv_code rc = qv__writer_begin(w, tag, err);
    if (!rc)
        rc = qv__writer_append(w, data, len, err);
    qv__writer_end(w);
    return rc;
}

qv_code qv_index_serialize(const qv_index *ix, qv_buf *out, qv_err *err)
{
    if (!out)
        return qv_fail(err, QV_E_INVALID, "serialize: output is NULL");
    qv__writer w = {.out = out, .start = out->len};
    uint8_t head[HEADER_SIZE + QV_IX_MAX_SECTIONS * SEC_ENTRY];
    memset(head, 0, sizeof(head));
    qv_code rc = QV_OK;
    if (qv_buf_append(out, head, sizeof(head)))
        rc = qv_fail(err, QV_E_NOMEM, "index file is too large");
    if (!rc)
        rc = qv__writer_section(&w, TAG_PARAMS, ix->params_text,
                                strlen(ix->params_text), err);
    if (!rc)
        rc = ix->ops->serialize(ix, &w, err);
    if (!rc && w.open)
        rc = qv_fail(err, QV_E_INTERNAL, "index writer: section left open");
    if (!rc)
        rc = pad_to_align(&w, err);
    if (rc) {
        out->len = w.start;
        return rc;
    }
    uint8_t *h = (uint8_t *)out->data + w.start;
    size_t total = out->len - w.start + TRAILER;
    qv_store_u32(h + 0, MAGIC);
    qv_store_u32(h + 4, QV_INDEX_FORMAT_V1);
    qv_store_u32(h + 8, (uint32_t)ix->type);
    qv_store_u32(h + 12, (uint32_t)ix->metric);
    qv_store_u64(h + 16, ix->dim);
    qv_store_u64(h + 24, ix->ntotal);
    qv_store_u64(h + 32, total);
    qv_store_u32(h + 40, (uint32_t)w.nsec);
    qv_store_u32(h + 44, ix->trained ? 1 : 0);
    for (size_t i = 0; i < w.nsec; i++) {
        uint8_t *e = h + HEADER_SIZE + i * SEC_ENTRY;
        qv_store_u32(e, w.tag[i]);
        qv_store_u64(e + 8, w.off[i]);
        qv_store_u64(e + 16, w.len[i]);
    }
    uint8_t trailer[TRAILER];
    qv_store_u32(trailer, qv_crc32c(0, h, total - TRAILER));
    qv_store_u32(trailer + 4, MAGIC_END);
    if (qv_buf_append(out, trailer, TRAILER)) {
        out->len = w.start;
        return qv_fail(err, QV_E_NOMEM, "index file is too large");
    }
    return QV_OK;
}

/* ---- reader ----------------------------------------------------------- */

static qv_code reader_open(qv__reader *r, const uint8_t *d, size_t len,
                           qv_err *err)
{
    memset(r, 0, sizeof(*r));
    const size_t table_end = HEADER_SIZE + QV_IX_MAX_SECTIONS * SEC_ENTRY;
    if (len < table_end + TRAILER)
        return qv_fail(err, QV_E_CORRUPT, "index file is truncated (%zu bytes)",
                       len);
    if (qv_load_u32(d) != MAGIC)
        return qv_fail(err, QV_E_CORRUPT, "not an index file (bad magic)");
    r->version = qv_load_u32(d + 4);
    if (r->version != QV_INDEX_FORMAT_V1)
        return qv_fail(err, QV_E_CORRUPT_VERSION,
                       "index file format version %u is not supported "
                       "(expected %u)",
                       r->version, QV_INDEX_FORMAT_V1);
    uint64_t total = qv_load_u64(d + 32);
    if (total != len)
        return qv_fail(err, QV_E_CORRUPT,
                       "index file is %zu bytes but its header says %llu "
                       "(truncated or padded)",
                       len, (unsigned long long)total);
    if (qv_load_u32(d + len - 4) != MAGIC_END)
        return qv_fail(err, QV_E_CORRUPT, "index file trailer is damaged");
    uint32_t want = qv_load_u32(d + len - TRAILER);
    if (qv_crc32c(0, d, len - TRAILER) != want)
        return qv_fail(err, QV_E_CORRUPT_CHECKSUM,
                       "index file checksum mismatch");
    r->data = d;
    r->len = len;
    r->type = qv_load_u32(d + 8);
    r->metric = qv_load_u32(d + 12);
    r->dim = qv_load_u64(d + 16);
    r->ntotal = qv_load_u64(d + 24);
    r->nsec = qv_load_u32(d + 40);
    r->flags = qv_load_u32(d + 44);
    if (r->nsec > QV_IX_MAX_SECTIONS)
        return qv_fail(err, QV_E_CORRUPT, "index file has %zu sections",
                       r->nsec);
    for (size_t i = 0; i < r->nsec; i++) {
        const uint8_t *e = d + HEADER_SIZE + i * SEC_ENTRY;
        uint64_t off = qv_load_u64(e + 8), sl = qv_load_u64(e + 16);
        r->tag[i] = qv_load_u32(e);
        r->off[i] = off;
        r->len_[i] = sl;
        if (off < table_end || off % QV_IX_ALIGN != 0 || off > len - TRAILER ||
            sl > len - TRAILER - off)
            return qv_fail(err, QV_E_CORRUPT,
                           "index file section %zu lies outside the file", i);
    }
    return QV_OK;
}

static void tag_str(uint32_t tag, char out[5])
{
    for (int i = 0; i < 4; i++) {
        char c = (char)((tag >> (8 * i)) & 0xff);
        out[i] = (c >= 32 && c < 127) ? c : '?';
    }
    out[4] = '\0';
}

qv_code qv__reader_section(const qv__reader *r, uint32_t tag, size_t elem_size,
                           size_t *count, const void **ptr, qv_err *err)
{
    char name[5];
    tag_str(tag, name);
    for (size_t i = 0; i < r->nsec; i++) {
        if (r->tag[i] != tag)
            continue;
        if (elem_size == 0 || r->len_[i] % elem_size != 0)
            return qv_fail(err, QV_E_CORRUPT,
                           "index section '%s' has a bad size", name);
        *count = (size_t)(r->len_[i] / elem_size);
        *ptr = r->data + r->off[i];
        return QV_OK;
    }
    return qv_fail(err, QV_E_CORRUPT, "index file lacks section '%s'", name);
}

qv_code qv__reader_exact(const qv__reader *r, uint32_t tag, size_t elem_size,
                         size_t count, const void **ptr, qv_err *err)
{
    size_t have = 0;
    qv_code rc = qv__reader_section(r, tag, elem_size, &have, ptr, err);
    if (rc)
        return rc;
    if (have != count) {
        char name[5];
        tag_str(tag, name);
        return qv_fail(err, QV_E_CORRUPT,
                       "index section '%s' holds %zu entries, expected %zu",
                       name, have, count);
    }
    return QV_OK;
}

qv_code qv_index_load(const void *data, size_t len, qv_index **out, qv_err *err)
{
    if (!data || !out)
        return qv_fail(err, QV_E_INVALID, "load: NULL argument");
    const uint8_t *d = data;
    void *copy = NULL;
    if ((uintptr_t)d % QV_IX_ALIGN != 0) {
        /* Sections must be aligned in memory: serve from a private copy. */
        copy = qv_try_aligned_alloc(len ? len : 1, 1);
        if (!copy)
            return qv_fail(err, QV_E_NOMEM,
                           "cannot allocate %zu bytes for the index", len);
        memcpy(copy, data, len);
        d = copy;
    }
    qv__reader r;
    qv_index *ix = NULL;
    qv_code rc = reader_open(&r, d, len, err);
    if (!rc)
        rc = qv__index_from_header(&r, &ix, err);
    if (!rc) {
        ix->load_copy = copy; /* freed with the index from now on */
        copy = NULL;
        ix->ntotal = (size_t)r.ntotal;
        if (r.ntotal > ((uint64_t)1 << 40)) {
            rc = qv_fail(err, QV_E_CORRUPT, "index file row count %llu",
                         (unsigned long long)r.ntotal);
        } else {
            rc = ix->ops->load(ix, &r, err);
        }
        if (rc) {
            qv_index_free(ix);
            ix = NULL;
        }
    }
    if (rc) {
        qv_aligned_free(copy);
        return rc;
    }
    *out = ix;
    return QV_OK;
}
