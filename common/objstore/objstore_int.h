/* objstore_int.h -- internals shared by the objstore backends and their
 * tests.  Not part of the public interface.
 *
 * Threading: see each function; the S3 helpers are pure functions.
 */
#ifndef QV_OBJSTORE_INT_H
#define QV_OBJSTORE_INT_H

#include "common/objstore/objstore.h"

extern const objstore_ops objstore__fs_ops;
extern const objstore_ops objstore__s3_ops;

/* Allocates ops->impl_size zeroed bytes with the base filled in. */
qv_code objstore__alloc(const objstore_ops *ops, uint32_t timeout_ms,
                        objstore **out);

/* Appends an entry (key copied) to page; *cap tracks the array size. */
void objstore__page_add(objstore_list_page *page, size_t *cap, const char *key,
                        size_t keylen, uint64_t size, int64_t mtime_ms);

/* write() / pread() until done; -1 with errno on failure (a short file
 * reads as EIO). */
int objstore__write_all(int fd, const void *p, size_t n);
int objstore__pread_all(int fd, void *p, size_t n, uint64_t off);

/* ---- S3 helpers (objstore_s3_xml.c), exposed for unit and fuzz tests ---- */

/* AWS URI encoding of s into out: unreserved bytes (A-Z a-z 0-9 - _ . ~)
 * stay, '/' stays when keep_slash, every other byte becomes %XX. */
qv_code objstore__s3_uri_encode(qv_buf *out, const char *s, size_t n,
                                bool keep_slash) QV_MUST_USE;

/* The text of the first <tag>...</tag> in xml[0..n), entity-decoded, as a
 * fresh heap string in *out; QV_E_NOT_FOUND when the element is absent.
 * *pos (may be NULL) receives the offset after the closing tag. */
qv_code objstore__xml_text(const char *xml, size_t n, const char *tag,
                           char **out, size_t *pos) QV_MUST_USE;

/* Parses a ListObjectsV2 result: appends every <Contents> (Key, Size,
 * LastModified) to page and sets page->next_token when IsTruncated is true.
 * QV_E_CORRUPT when the document is malformed. */
qv_code objstore__s3_parse_list(const char *xml, size_t n,
                                objstore_list_page *page,
                                qv_err *err) QV_MUST_USE;

/* Parses an ISO-8601 UTC time ("2026-11-22T10:00:00.123Z", as in S3
 * listings) into Unix ms; 0 when it cannot be parsed. */
int64_t objstore__parse_iso8601_ms(const char *s);

/* Test hooks of the S3 backend: a fixed x-amz-date ("20130524T000000Z", or
 * NULL for the clock) and a curl CONNECT_TO entry ("host:port:host2:port2")
 * so that requests for a real host name go to a local test server. */
void objstore__s3_set_test_hooks(objstore *os, const char *amz_date,
                                 const char *connect_to);

#endif
