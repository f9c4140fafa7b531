/* objstore_fs.c -- the "fs" backend: objects as files in a directory tree.
 *
 * Layout: key "a/b/c" is the file <root>/a/b/c.  Writers build the object
 * in <root>/.qv-tmp/<pid>.<seq>, fsync it, create the parent directories
 * (fsyncing each new one's parent), rename it over the key and fsync the
 * key's directory.  rename() is atomic, so readers and a crashed writer
 * leave either the old object, none, or the whole new one; temp files of
 * dead processes are removed at open.  Deleting the last object of a
 * directory removes the empty directories above it.
 *
 * A key cannot be both an object and a "directory" of other keys here
 * ("a" and "a/b"): such a put fails with QV_E_CONFLICT (MinIO's filesystem
 * mode has the same rule).  Quiver's key layout never does this.
 *
 * Threading: no shared mutable state but an atomic counter; the kernel
 * orders concurrent renames.  Timeouts: calls are plain local syscalls.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/objstore/objstore_int.h"

#define TMP_DIR   ".qv-tmp"
#define MAX_DEPTH 600

typedef struct fs_store {
    objstore base;
    char *root;
    int rootfd;
    bool no_fsync;
    atomic_uint_fast64_t seq;
} fs_store;

static fs_store *fs_of(objstore *os)
{
    return (fs_store *)os;
}

static int fsync_dirat(fs_store *fs, const char *dir)
{
    if (fs->no_fsync)
        return 0;
    int fd = openat(fs->rootfd, dir[0] ? dir : ".",
                    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* mkdir -p for absolute path p. */
static int mkdir_all(const char *p)
{
    char *tmp = qv_xstrdup(p);
    int rc = 0;
    for (char *s = tmp + 1; rc == 0; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            rc = -1;
        *s = c;
        if (c == '\0')
            break;
    }
    free(tmp);
    return rc;
}

/* Removes temp files left by processes that no longer run. */
static void clean_stale_tmp(fs_store *fs)
{
    int fd = openat(fs->rootfd, TMP_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (end == de->d_name || *end != '.' || pid <= 0)
            continue;
        if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
            (void)unlinkat(dirfd(d), de->d_name, 0);
    }
    closedir(d);
}

static qv_code fs_open(objstore *os, const objstore_config *cfg, qv_err *err)
{
    fs_store *fs = fs_of(os);
    if (!cfg->root || !cfg->root[0])
        return qv_fail(err, QV_E_INVALID, "fs objstore: root is not set");
    if (mkdir_all(cfg->root) != 0)
        return qv_fail_errno(err, QV_E_IO,
                             "fs objstore: cannot create root '%s'", cfg->root);
    fs->rootfd = open(cfg->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fs->rootfd < 0)
        return qv_fail_errno(err, QV_E_IO, "fs objstore: cannot open '%s'",
                             cfg->root);
    if (mkdirat(fs->rootfd, TMP_DIR, 0755) != 0 && errno != EEXIST) {
        qv_fail_errno(err, QV_E_IO, "fs objstore: cannot create '%s/%s'",
                      cfg->root, TMP_DIR);
        close(fs->rootfd);
        return QV_E_IO;
    }
    fs->root = qv_xstrdup(cfg->root);
    fs->no_fsync = cfg->no_fsync;
    atomic_init(&fs->seq, 0);
    clean_stale_tmp(fs);
    return QV_OK;
}

static void fs_close(objstore *os)
{
    fs_store *fs = fs_of(os);
    close(fs->rootfd);
    free(fs->root);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n > (1u << 30) ? (1u << 30) : n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Creates the parent directories of key (relative to root).  Each new
 * directory's parent is fsynced so the directory itself is durable. */
static int make_parents(fs_store *fs, const char *key)
{
    char *p = qv_xstrdup(key);
    int rc = 0;
    for (char *s = strchr(p, '/'); s && rc == 0; s = strchr(s + 1, '/')) {
        *s = '\0';
        if (mkdirat(fs->rootfd, p, 0755) == 0) {
            char *slash = strrchr(p, '/');
            if (slash)
                *slash = '\0';
            rc = fsync_dirat(fs, slash ? p : "");
            if (slash)
                *slash = '/';
        } else if (errno != EEXIST) {
            rc = -1;
        }
        *s = '/';
    }
    free(p);
    return rc;
}

/* The directory part of key ("" for a top-level key), heap-owned. */
static char *dir_of(const char *key)
{
    const char *slash = strrchr(key, '/');
    return slash ? qv_xstrndup(key, (size_t)(slash - key)) : qv_xstrdup("");
}

static qv_code put_rename(fs_store *fs, const char *tmp, const char *key,
                          qv_err *err)
{
    for (int attempt = 0;; attempt++) {
        if (make_parents(fs, key) != 0) {
            if (errno == ENOTDIR || errno == EEXIST)
                return qv_fail(err, QV_E_CONFLICT,
                               "fs put '%s' in '%s': a parent of the key is "
                               "an object",
                               key, fs->root);
            return qv_fail_errno(err, QV_E_IO,
                                 "fs put '%s' in '%s': cannot create parent "
                                 "directories",
                                 key, fs->root);
        }
        if (renameat(fs->rootfd, tmp, fs->rootfd, key) == 0)
            return QV_OK;
        /* A concurrent delete may remove the new, empty parent before the
         * rename: create it again. */
        if (errno == ENOENT && attempt < 8)
            continue;
        if (errno == EISDIR || errno == ENOTDIR || errno == ENOTEMPTY ||
            errno == EEXIST)
            return qv_fail(err, QV_E_CONFLICT,
                           "fs put '%s' in '%s': the key is a prefix of "
                           "other objects",
                           key, fs->root);
        return qv_fail_errno(err, QV_E_IO, "fs put '%s' in '%s': rename failed",
                             key, fs->root);
    }
}

/* Creates a fresh temp file; *fd is open for writing. */
static qv_code tmp_create(fs_store *fs, const char *key, char tmp[64], int *fd,
                          qv_err *err)
{
    snprintf(tmp, 64, TMP_DIR "/%ld.%llu", (long)getpid(),
             (unsigned long long)atomic_fetch_add(&fs->seq, 1));
    *fd =
        openat(fs->rootfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (*fd < 0)
        return qv_fail_errno(err, QV_E_IO,
                             "fs put '%s' in '%s': cannot create temp file",
                             key, fs->root);
    return QV_OK;
}

/* Finishes a put whose bytes are in temp file fd (rc: how writing went):
 * fsync, close, rename over the key, fsync the directory.  The temp file is
 * removed on any failure. */
static qv_code tmp_commit(fs_store *fs, const char *tmp, int fd, qv_code rc,
                          const char *key, qv_err *err)
{
    if (rc == QV_OK && !fs->no_fsync && fsync(fd) != 0)
        rc = qv_fail_errno(err, QV_E_IO, "fs put '%s' in '%s': fsync failed",
                           key, fs->root);
    if (close(fd) != 0 && rc == QV_OK)
        rc = qv_fail_errno(err, QV_E_IO, "fs put '%s' in '%s': close failed",
                           key, fs->root);
    if (rc == QV_OK)
        rc = put_rename(fs, tmp, key, err);
    if (rc) {
        (void)unlinkat(fs->rootfd, tmp, 0);
        return rc;
    }
    char *dir = dir_of(key);
    if (fsync_dirat(fs, dir) != 0)
        rc = qv_fail_errno(err, QV_E_IO,
                           "fs put '%s' in '%s': fsync of directory failed",
                           key, fs->root);
    free(dir);
    return rc;
}

static qv_code fs_put(objstore *os, const char *key, const void *buf,
                      size_t len, qv_err *err)
{
    fs_store *fs = fs_of(os);
    char tmp[64];
    int fd;
    qv_code rc = tmp_create(fs, key, tmp, &fd, err);
    if (rc)
        return rc;
    if (write_all(fd, buf, len) != 0)
        rc = qv_fail_errno(err, QV_E_IO, "fs put '%s' in '%s': write failed",
                           key, fs->root);
    return tmp_commit(fs, tmp, fd, rc, key, err);
}

/* Copies n bytes from src (at src_off) to dst (at its offset); -1 with
 * errno on failure, EIO when src is shorter. */
static int copy_fd(int src, uint64_t src_off, int dst, uint64_t n)
{
    loff_t off = (loff_t)src_off;
    while (n > 0) {
        size_t want = n > ((uint64_t)1 << 30) ? (size_t)1 << 30 : (size_t)n;
        ssize_t c = copy_file_range(src, &off, dst, NULL, want, 0);
        if (c < 0 && errno == EINTR)
            continue;
        if (c < 0)
            break; /* not supported here: copy through a buffer */
        if (c == 0) {
            errno = EIO;
            return -1;
        }
        n -= (uint64_t)c;
    }
    if (n == 0)
        return 0;
    if (errno != EXDEV && errno != ENOSYS && errno != EINVAL &&
        errno != EOPNOTSUPP)
        return -1;
    size_t bs = (size_t)1 << 20;
    char *buf = qv_xmalloc(bs);
    int rc = 0;
    while (n > 0 && rc == 0) {
        size_t want = n < bs ? (size_t)n : bs;
        rc = objstore__pread_all(src, buf, want, (uint64_t)off);
        if (rc == 0)
            rc = write_all(dst, buf, want);
        off += (loff_t)want;
        n -= want;
    }
    free(buf);
    return rc;
}

static qv_code fs_put_fd(objstore *os, const char *key, int src, uint64_t size,
                         qv_err *err)
{
    fs_store *fs = fs_of(os);
    char tmp[64];
    int fd;
    qv_code rc = tmp_create(fs, key, tmp, &fd, err);
    if (rc)
        return rc;
    if (copy_fd(src, 0, fd, size) != 0)
        rc = qv_fail_errno(err, QV_E_IO, "fs put '%s' in '%s': copy failed",
                           key, fs->root);
    return tmp_commit(fs, tmp, fd, rc, key, err);
}

/* Opens key for reading; QV_E_NOT_FOUND unless it is a regular file. */
static qv_code open_object(fs_store *fs, const char *op, const char *key,
                           int *fd_out, struct stat *st, qv_err *err)
{
    int fd = openat(fs->rootfd, key, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return qv_fail(err, QV_E_NOT_FOUND,
                           "fs %s '%s' in '%s': no such object", op, key,
                           fs->root);
        return qv_fail_errno(err, QV_E_IO, "fs %s '%s' in '%s': open failed",
                             op, key, fs->root);
    }
    if (fstat(fd, st) != 0) {
        qv_fail_errno(err, QV_E_IO, "fs %s '%s' in '%s': stat failed", op, key,
                      fs->root);
        close(fd);
        return QV_E_IO;
    }
    if (!S_ISREG(st->st_mode)) {
        close(fd);
        return qv_fail(err, QV_E_NOT_FOUND,
                       "fs %s '%s' in '%s': no such object", op, key, fs->root);
    }
    *fd_out = fd;
    return QV_OK;
}

static qv_code read_at(fs_store *fs, int fd, const char *op, const char *key,
                       uint64_t off, uint64_t len, qv_buf *out, qv_err *err)
{
    if (len > SIZE_MAX || qv_buf_reserve(out, (size_t)len) != QV_OK)
        return qv_fail(err, QV_E_NOMEM,
                       "fs %s '%s' in '%s': cannot buffer %llu bytes", op, key,
                       fs->root, (unsigned long long)len);
    size_t done = 0;
    while (done < len) {
        ssize_t r = pread(fd, out->data + out->len + done, (size_t)len - done,
                          (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return qv_fail_errno(err, QV_E_IO,
                                 "fs %s '%s' in '%s': read failed", op, key,
                                 fs->root);
        if (r == 0)
            return qv_fail(err, QV_E_IO_SHORT_READ,
                           "fs %s '%s' in '%s': object shrank while reading",
                           op, key, fs->root);
        done += (size_t)r;
    }
    out->len += done;
    out->data[out->len] = '\0';
    return QV_OK;
}

static qv_code fs_get(objstore *os, const char *key, qv_buf *out, qv_err *err)
{
    fs_store *fs = fs_of(os);
    int fd = -1;
    struct stat st = {0};
    qv_code rc = open_object(fs, "get", key, &fd, &st, err);
    if (rc)
        return rc;
    rc = read_at(fs, fd, "get", key, 0, (uint64_t)st.st_size, out, err);
    close(fd);
    return rc;
}

static qv_code fs_get_fd(objstore *os, const char *key, int dst, uint64_t *size,
                         qv_err *err)
{
    fs_store *fs = fs_of(os);
    int fd = -1;
    struct stat st = {0};
    qv_code rc = open_object(fs, "get", key, &fd, &st, err);
    if (rc)
        return rc;
    if (copy_fd(fd, 0, dst, (uint64_t)st.st_size) != 0)
        rc = qv_fail_errno(err, QV_E_IO, "fs get '%s' in '%s': copy failed",
                           key, fs->root);
    close(fd);
    if (rc == QV_OK)
        *size = (uint64_t)st.st_size;
    return rc;
}

static qv_code fs_get_range(objstore *os, const char *key, uint64_t off,
                            uint64_t len, qv_buf *out, qv_err *err)
{
    fs_store *fs = fs_of(os);
    int fd = -1;
    struct stat st = {0};
    qv_code rc = open_object(fs, "get_range", key, &fd, &st, err);
    if (rc)
        return rc;
    uint64_t size = (uint64_t)st.st_size;
    if (off > size) {
        close(fd);
        return qv_fail(err, QV_E_RANGE,
                       "fs get_range '%s' in '%s': offset %llu is past the "
                       "end (%llu bytes)",
                       key, fs->root, (unsigned long long)off,
                       (unsigned long long)size);
    }
    if (len > size - off)
        len = size - off;
    rc = read_at(fs, fd, "get_range", key, off, len, out, err);
    close(fd);
    return rc;
}

static int64_t mtime_ms_of(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}

static qv_code fs_head(objstore *os, const char *key, objstore_stat *out,
                       qv_err *err)
{
    fs_store *fs = fs_of(os);
    struct stat st;
    if (fstatat(fs->rootfd, key, &st, 0) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return qv_fail(err, QV_E_NOT_FOUND,
                           "fs head '%s' in '%s': no such object", key,
                           fs->root);
        return qv_fail_errno(err, QV_E_IO, "fs head '%s' in '%s': stat failed",
                             key, fs->root);
    }
    if (!S_ISREG(st.st_mode))
        return qv_fail(err, QV_E_NOT_FOUND,
                       "fs head '%s' in '%s': no such object", key, fs->root);
    out->size = (uint64_t)st.st_size;
    out->mtime_ms = mtime_ms_of(&st);
    return QV_OK;
}

/* ---- listing ----
 *
 * A depth-first walk that visits keys in byte order: each directory's
 * entries are sorted by their key form (a directory "d" sorts as "d/"), so
 * the walk can skip whole subtrees that lie before the page token and stop
 * as soon as the page is full.  A page costs O(page + depth * dir size),
 * not a walk of the whole tree. */

typedef struct walk {
    fs_store *fs;
    const char *prefix;
    size_t prefix_len;
    const char *token; /* keys must sort after it (NULL: none) */
    size_t want;       /* stop after this many keys */
    objstore_list_page out;
    size_t cap;
} walk;

typedef struct dent {
    char *form; /* name, plus '/' for a directory */
    bool dir;
} dent;

static int dent_cmp(const void *a, const void *b)
{
    return strcmp(((const dent *)a)->form, ((const dent *)b)->form);
}

/* Reads the entries of an open directory that can hold keys. */
static dent *read_entries(DIR *d, bool at_root, size_t *n_out)
{
    dent *v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        if (at_root && strncmp(name, ".qv-", 4) == 0)
            continue;
        unsigned char type = de->d_type;
        if (type == DT_UNKNOWN) {
            struct stat st;
            if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0)
                continue;
            type = S_ISDIR(st.st_mode)   ? DT_DIR
                   : S_ISREG(st.st_mode) ? DT_REG
                                         : DT_UNKNOWN;
        }
        if (type != DT_DIR && type != DT_REG)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            v = qv_xrealloc(v, cap * sizeof(*v));
        }
        v[n].dir = type == DT_DIR;
        v[n].form = v[n].dir ? qv_xasprintf("%s/", name) : qv_xstrdup(name);
        n++;
    }
    if (n > 1)
        qsort(v, n, sizeof(*v), dent_cmp);
    *n_out = n;
    return v;
}

/* True when no key under directory key form D (ending in '/') can match
 * the prefix or sort after the token. */
static bool skip_subtree(const walk *w, const char *d, size_t dl)
{
    size_t cmp = dl < w->prefix_len ? dl : w->prefix_len;
    if (memcmp(d, w->prefix, cmp) != 0)
        return true;
    /* Every key under D starts with D: if D sorts before the token without
     * being its prefix, so do they all. */
    return w->token && strncmp(d, w->token, dl) < 0;
}

static qv_code walk_dir(walk *w, qv_buf *path, int depth, qv_err *err);

static qv_code walk_entry(walk *w, qv_buf *path, int dfd, const dent *e,
                          int depth, qv_err *err)
{
    size_t base = path->len;
    if (qv_buf_appends(path, e->form))
        return qv_fail(err, QV_E_NOMEM, "fs list: path too long");
    qv_code rc = QV_OK;
    if (e->dir) {
        if (!skip_subtree(w, path->data, path->len)) {
            path->len--; /* drop the '/' */
            path->data[path->len] = '\0';
            rc = walk_dir(w, path, depth + 1, err);
        }
    } else if (path->len >= w->prefix_len &&
               memcmp(path->data, w->prefix, w->prefix_len) == 0 &&
               (!w->token || strcmp(path->data, w->token) > 0)) {
        struct stat st; /* a file's form is its name */
        if (fstatat(dfd, e->form, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG(st.st_mode))
            objstore__page_add(&w->out, &w->cap, path->data, path->len,
                               (uint64_t)st.st_size, mtime_ms_of(&st));
    }
    path->len = base;
    path->data[base] = '\0';
    return rc;
}

/* Walks directory `path` (relative to the root; "" = the root). */
static qv_code walk_dir(walk *w, qv_buf *path, int depth, qv_err *err)
{
    if (depth > MAX_DEPTH)
        return QV_OK;
    const char *rel = path->len ? path->data : ".";
    int fd = openat(w->fs->rootfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return QV_OK; /* removed meanwhile, or not a directory */
        return qv_fail_errno(err, QV_E_IO,
                             "fs list '%s' in '%s': cannot open '%s'",
                             w->prefix, w->fs->root, rel);
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return qv_fail_errno(err, QV_E_IO, "fs list '%s' in '%s': opendir",
                             w->prefix, w->fs->root);
    }
    size_t n;
    dent *v = read_entries(d, path->len == 0, &n);
    size_t base = path->len;
    qv_code rc = QV_OK;
    if (base && qv_buf_append(path, "/", 1))
        rc = qv_fail(err, QV_E_NOMEM, "fs list: path too long");
    for (size_t i = 0; i < n && rc == QV_OK && w->out.count < w->want; i++)
        rc = walk_entry(w, path, dirfd(d), &v[i], depth, err);
    for (size_t i = 0; i < n; i++)
        free(v[i].form);
    free(v);
    closedir(d);
    path->len = base;
    if (path->data)
        path->data[base] = '\0';
    return rc;
}

static qv_code fs_list(objstore *os, const char *prefix, const char *token,
                       size_t max, objstore_list_page *page, qv_err *err)
{
    fs_store *fs = fs_of(os);
    walk w = {.fs = fs,
              .prefix = prefix,
              .prefix_len = strlen(prefix),
              .token = token,
              .want = max + 1};
    qv_buf path = QV_BUF_INIT;
    /* Start at the deepest directory the prefix names completely. */
    const char *slash = strrchr(prefix, '/');
    if (slash && qv_buf_append(&path, prefix, (size_t)(slash - prefix)))
        return qv_fail(err, QV_E_NOMEM, "fs list: path too long");
    qv_code rc = walk_dir(&w, &path, 0, err);
    qv_buf_release(&path);
    if (rc) {
        objstore_list_page_release(&w.out);
        return rc;
    }
    if (w.out.count > max) { /* one more exists: this page is not the last */
        free(w.out.entries[max].key);
        w.out.count = max;
        w.out.next_token = qv_xstrdup(w.out.entries[max - 1].key);
    }
    *page = w.out;
    return QV_OK;
}

/* ---- delete ---- */

static qv_code fs_del(objstore *os, const char *key, qv_err *err)
{
    fs_store *fs = fs_of(os);
    if (unlinkat(fs->rootfd, key, 0) != 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == EISDIR)
            return QV_OK;
        return qv_fail_errno(err, QV_E_IO,
                             "fs delete '%s' in '%s': unlink failed", key,
                             fs->root);
    }
    char *dir = dir_of(key);
    qv_code rc = QV_OK;
    if (fsync_dirat(fs, dir) != 0)
        rc = qv_fail_errno(err, QV_E_IO,
                           "fs delete '%s' in '%s': fsync of directory "
                           "failed",
                           key, fs->root);
    /* Remove now-empty parents, deepest first; stop at the first that is
     * not empty. */
    while (dir[0] && unlinkat(fs->rootfd, dir, AT_REMOVEDIR) == 0) {
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        else
            dir[0] = '\0';
    }
    free(dir);
    return rc;
}

const objstore_ops objstore__fs_ops = {
    .name = "fs",
    .caps = OBJSTORE_CAP_RANGE_GET | OBJSTORE_CAP_DURABLE,
    .impl_size = sizeof(fs_store),
    .open = fs_open,
    .close = fs_close,
    .put = fs_put,
    .get = fs_get,
    .get_range = fs_get_range,
    .head = fs_head,
    .list = fs_list,
    .del = fs_del,
    .put_fd = fs_put_fd,
    .get_fd = fs_get_fd,
};
