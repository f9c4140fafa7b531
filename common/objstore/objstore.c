/* objstore.c -- backend registry, key rules and the public wrappers.
 *
 * The wrappers check arguments once (keys, ranges, list sizes) so that the
 * backends can trust them, and implement what needs no backend support
 * (delete by prefix = list + delete).
 */
#include "common/objstore/objstore.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/objstore/objstore_int.h"

#define REGISTRY_MAX 16

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static const objstore_ops *registry[REGISTRY_MAX];
static size_t registry_n;
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;

static qv_code register_locked(const objstore_ops *ops, qv_err *err)
{
    for (size_t i = 0; i < registry_n; i++)
        if (strcmp(registry[i]->name, ops->name) == 0)
            return qv_fail(err, QV_E_EXISTS,
                           "objstore backend '%s' is already registered",
                           ops->name);
    if (registry_n == REGISTRY_MAX)
        return qv_fail(err, QV_E_RANGE,
                       "cannot register objstore backend '%s': registry full",
                       ops->name);
    registry[registry_n++] = ops;
    return QV_OK;
}

static void register_builtins(void)
{
    pthread_mutex_lock(&reg_mu);
    qv_code rc = register_locked(&objstore__fs_ops, NULL);
    if (rc == QV_OK)
        rc = register_locked(&objstore__s3_ops, NULL);
    pthread_mutex_unlock(&reg_mu);
    QV_ASSERT(rc == QV_OK);
}

qv_code objstore_register(const objstore_ops *ops, qv_err *err)
{
    if (!ops || !ops->name || !ops->open || ops->impl_size < sizeof(objstore))
        return qv_fail(err, QV_E_INVALID, "invalid objstore backend ops");
    pthread_once(&builtin_once, register_builtins);
    pthread_mutex_lock(&reg_mu);
    qv_code rc = register_locked(ops, err);
    pthread_mutex_unlock(&reg_mu);
    return rc;
}

static const objstore_ops *lookup(const char *name)
{
    const objstore_ops *found = NULL;
    pthread_once(&builtin_once, register_builtins);
    pthread_mutex_lock(&reg_mu);
    for (size_t i = 0; i < registry_n && !found; i++)
        if (strcmp(registry[i]->name, name) == 0)
            found = registry[i];
    pthread_mutex_unlock(&reg_mu);
    return found;
}

qv_code objstore__alloc(const objstore_ops *ops, uint32_t timeout_ms,
                        objstore **out)
{
    objstore *os = qv_xcalloc(1, ops->impl_size);
    os->ops = ops;
    os->timeout_ms = timeout_ms ? timeout_ms : OBJSTORE_DEFAULT_TIMEOUT;
    os->caps = ops->caps;
    *out = os;
    return QV_OK;
}

qv_code objstore_open(const char *name, const objstore_config *cfg,
                      objstore **out, qv_err *err)
{
    static const objstore_config zero_cfg;
    if (!name)
        return qv_fail(err, QV_E_INVALID, "objstore backend name is missing");
    if (!cfg)
        cfg = &zero_cfg;
    const objstore_ops *ops = lookup(name);
    if (!ops)
        return qv_fail(err, QV_E_NOT_FOUND, "unknown objstore backend '%s'",
                       name);
    objstore *os;
    qv_code rc = objstore__alloc(ops, cfg->timeout_ms, &os);
    if (rc)
        return rc;
    rc = ops->open(os, cfg, err);
    if (rc) {
        free(os);
        return rc;
    }
    *out = os;
    return QV_OK;
}

void objstore_close(objstore *os)
{
    if (!os)
        return;
    if (os->ops->close)
        os->ops->close(os);
    free(os);
}

const char *objstore_name(const objstore *os)
{
    return os->ops->name;
}

uint32_t objstore_caps(const objstore *os)
{
    return os->caps;
}

/* Checks one '/'-separated segment [s, s+n). */
static qv_code check_segment(const char *key, const char *s, size_t n,
                             bool first, qv_err *err)
{
    if (n == 0)
        return qv_fail(err, QV_E_INVALID,
                       "invalid object key '%s': empty path segment", key);
    if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
        return qv_fail(err, QV_E_INVALID,
                       "invalid object key '%s': '.' or '..' segment", key);
    if (first && n >= 4 && memcmp(s, ".qv-", 4) == 0)
        return qv_fail(err, QV_E_INVALID,
                       "invalid object key '%s': '.qv-' names are reserved",
                       key);
    return QV_OK;
}

qv_code objstore_key_check(const char *key, bool allow_prefix, qv_err *err)
{
    if (!key)
        return qv_fail(err, QV_E_INVALID, "object key is missing");
    size_t n = strnlen(key, OBJSTORE_KEY_MAX + 1);
    if (n > OBJSTORE_KEY_MAX)
        return qv_fail(err, QV_E_INVALID,
                       "invalid object key: longer than %d bytes",
                       OBJSTORE_KEY_MAX);
    if (n == 0)
        return allow_prefix ? QV_OK
                            : qv_fail(err, QV_E_INVALID,
                                      "invalid object key: empty key");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c < 0x20 || c == 0x7f)
            return qv_fail(err, QV_E_INVALID,
                           "invalid object key: control character 0x%02x at "
                           "byte %zu",
                           c, i);
    }
    if (key[0] == '/')
        return qv_fail(err, QV_E_INVALID,
                       "invalid object key '%s': leading '/'", key);
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && key[i] != '/')
            continue;
        bool last = i == n;
        /* A prefix may end in '/' (empty last segment) or inside a segment
         * ("seg" matches "segment"), so only complete segments count. */
        if (!(allow_prefix && last)) {
            qv_code rc =
                check_segment(key, key + start, i - start, start == 0, err);
            if (rc)
                return rc;
        } else if (i - start >= 4 && start == 0 &&
                   memcmp(key, ".qv-", 4) == 0) {
            return check_segment(key, key, i, true, err);
        }
        start = i + 1;
    }
    return QV_OK;
}

qv_code objstore_put(objstore *os, const char *key, const void *buf, size_t len,
                     qv_err *err)
{
    qv_code rc = objstore_key_check(key, false, err);
    if (rc)
        return rc;
    if (!buf && len)
        return qv_fail(err, QV_E_INVALID, "put '%s': no buffer", key);
    return os->ops->put(os, key, buf ? buf : "", len, err);
}

qv_code objstore_get(objstore *os, const char *key, qv_buf *out, qv_err *err)
{
    qv_code rc = objstore_key_check(key, false, err);
    if (rc)
        return rc;
    size_t before = out->len;
    rc = os->ops->get(os, key, out, err);
    if (rc && out->len != before) {
        out->len = before; /* out-params change only on success */
        if (out->data)
            out->data[before] = '\0';
    }
    return rc;
}

qv_code objstore_get_range(objstore *os, const char *key, uint64_t off,
                           uint64_t len, qv_buf *out, qv_err *err)
{
    qv_code rc = objstore_key_check(key, false, err);
    if (rc)
        return rc;
    if (off > INT64_MAX || len > INT64_MAX)
        return qv_fail(err, QV_E_RANGE, "get_range '%s': range too large", key);
    size_t before = out->len;
    rc = os->ops->get_range(os, key, off, len, out, err);
    if (rc && out->len != before) {
        out->len = before;
        if (out->data)
            out->data[before] = '\0';
    }
    return rc;
}

qv_code objstore_head(objstore *os, const char *key, objstore_stat *st,
                      qv_err *err)
{
    qv_code rc = objstore_key_check(key, false, err);
    if (rc)
        return rc;
    objstore_stat tmp;
    rc = os->ops->head(os, key, &tmp, err);
    if (rc == QV_OK && st)
        *st = tmp;
    return rc;
}

qv_code objstore_list(objstore *os, const char *prefix, const char *token,
                      size_t max, objstore_list_page *page, qv_err *err)
{
    if (!prefix)
        prefix = "";
    qv_code rc = objstore_key_check(prefix, true, err);
    if (rc)
        return rc;
    if (token && (token[0] == '\0' || strlen(token) > 4096))
        return qv_fail(err, QV_E_INVALID, "list '%s': invalid page token",
                       prefix);
    if (max == 0 || max > OBJSTORE_LIST_MAX)
        max = OBJSTORE_LIST_MAX;
    objstore_list_page tmp = {0};
    rc = os->ops->list(os, prefix, token, max, &tmp, err);
    if (rc == QV_OK)
        *page = tmp;
    return rc;
}

void objstore_list_page_release(objstore_list_page *page)
{
    if (!page)
        return;
    for (size_t i = 0; i < page->count; i++)
        free(page->entries[i].key);
    free(page->entries);
    free(page->next_token);
    memset(page, 0, sizeof(*page));
}

qv_code objstore_delete(objstore *os, const char *key, qv_err *err)
{
    qv_code rc = objstore_key_check(key, false, err);
    if (rc)
        return rc;
    return os->ops->del(os, key, err);
}

qv_code objstore_delete_prefix(objstore *os, const char *prefix,
                               uint64_t *deleted, qv_err *err)
{
    uint64_t n = 0;
    if (!prefix || !prefix[0]) {
        if (deleted)
            *deleted = 0;
        return qv_fail(err, QV_E_INVALID,
                       "delete by prefix needs a non-empty prefix");
    }
    char *token = NULL;
    qv_code rc;
    do {
        objstore_list_page page = {0};
        rc = objstore_list(os, prefix, token, OBJSTORE_LIST_MAX, &page, err);
        free(token);
        token = NULL;
        if (rc)
            break;
        if (os->ops->del_many && page.count > 0) {
            const char **keys = qv_xmalloc(page.count * sizeof(*keys));
            for (size_t i = 0; i < page.count; i++)
                keys[i] = page.entries[i].key;
            rc = os->ops->del_many(os, keys, page.count, err);
            free(keys);
            if (rc == QV_OK)
                n += page.count;
        }
        for (size_t i = 0; i < page.count && !os->ops->del_many && rc == QV_OK;
             i++) {
            rc = os->ops->del(os, page.entries[i].key, err);
            if (rc == QV_OK)
                n++;
        }
        token = page.next_token;
        page.next_token = NULL;
        objstore_list_page_release(&page);
    } while (rc == QV_OK && token);
    free(token);
    if (deleted)
        *deleted = n;
    return rc;
}

void objstore__page_add(objstore_list_page *page, size_t *cap, const char *key,
                        size_t keylen, uint64_t size, int64_t mtime_ms)
{
    if (page->count == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        page->entries =
            qv_xrealloc(page->entries, *cap * sizeof(page->entries[0]));
    }
    objstore_entry *e = &page->entries[page->count++];
    e->key = qv_xstrndup(key, keylen);
    e->size = size;
    e->mtime_ms = mtime_ms;
}

/* ---- files ---- */

int objstore__write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n > ((size_t)1 << 30) ? (size_t)1 << 30 : n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int objstore__pread_all(int fd, void *p, size_t n, uint64_t off)
{
    char *c = p;
    while (n > 0) {
        ssize_t r = pread(fd, c, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO; /* the file is shorter than it said */
            return -1;
        }
        c += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

static qv_code put_file_in_memory(objstore *os, const char *key, int fd,
                                  uint64_t size, const char *path, qv_err *err)
{
    if (size > SIZE_MAX)
        return qv_fail(err, QV_E_NOMEM, "put '%s': file '%s' too large", key,
                       path);
    char *buf = qv_try_alloc(size ? (size_t)size : 1, 1);
    if (!buf)
        return qv_fail(err, QV_E_NOMEM,
                       "put '%s': cannot buffer %llu bytes of '%s'", key,
                       (unsigned long long)size, path);
    qv_code rc;
    if (objstore__pread_all(fd, buf, (size_t)size, 0) != 0)
        rc = qv_fail_errno(err, QV_E_IO, "put '%s': cannot read '%s'", key,
                           path);
    else
        rc = os->ops->put(os, key, buf, (size_t)size, err);
    free(buf);
    return rc;
}

qv_code objstore_put_file(objstore *os, const char *key, const char *path,
                          qv_err *err)
{
    qv_code rc = objstore_key_check(key, false, err);
    if (rc)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return qv_fail_errno(err, errno == ENOENT ? QV_E_NOT_FOUND : QV_E_IO,
                             "put '%s': cannot open '%s'", key, path);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return qv_fail(err, QV_E_INVALID,
                       "put '%s': '%s' is not a regular file", key, path);
    }
    uint64_t size = (uint64_t)st.st_size;
    if (os->ops->put_fd)
        rc = os->ops->put_fd(os, key, fd, size, err);
    else
        rc = put_file_in_memory(os, key, fd, size, path, err);
    close(fd);
    return rc;
}

static qv_code get_into(objstore *os, const char *key, int fd, uint64_t *size,
                        const char *path, qv_err *err)
{
    if (os->ops->get_fd)
        return os->ops->get_fd(os, key, fd, size, err);
    qv_buf b = QV_BUF_INIT;
    qv_code rc = os->ops->get(os, key, &b, err);
    if (rc == QV_OK && objstore__write_all(fd, b.data, b.len) != 0)
        rc = qv_fail_errno(err, QV_E_IO, "get '%s': cannot write '%s'", key,
                           path);
    if (rc == QV_OK)
        *size = b.len;
    qv_buf_release(&b);
    return rc;
}

static void fsync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir =
        slash ? qv_xstrndup(path, (size_t)(slash - path)) : qv_xstrdup(".");
    int dfd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) != 0) {
            /* Best effort: the data itself was fsynced. */
        }
        close(dfd);
    }
    free(dir);
}

qv_code objstore_get_file(objstore *os, const char *key, const char *path,
                          uint64_t *size, qv_err *err)
{
    static atomic_uint seq;
    qv_code rc = objstore_key_check(key, false, err);
    if (rc)
        return rc;
    char *tmp = qv_xasprintf("%s.qv-part.%ld.%u", path, (long)getpid(),
                             atomic_fetch_add(&seq, 1));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = qv_fail_errno(err, QV_E_IO, "get '%s': cannot create '%s'", key,
                           tmp);
        free(tmp);
        return rc;
    }
    uint64_t n = 0;
    rc = get_into(os, key, fd, &n, path, err);
    if (rc == QV_OK && fsync(fd) != 0)
        rc = qv_fail_errno(err, QV_E_IO, "get '%s': cannot fsync '%s'", key,
                           tmp);
    if (close(fd) != 0 && rc == QV_OK)
        rc = qv_fail_errno(err, QV_E_IO, "get '%s': cannot close '%s'", key,
                           tmp);
    if (rc == QV_OK && rename(tmp, path) != 0)
        rc = qv_fail_errno(err, QV_E_IO, "get '%s': cannot rename to '%s'", key,
                           path);
    if (rc)
        (void)unlink(tmp);
    else
        fsync_parent(path);
    free(tmp);
    if (rc == QV_OK && size)
        *size = n;
    return rc;
}
