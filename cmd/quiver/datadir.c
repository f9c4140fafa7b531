/* datadir.c -- creating, checking and locking the data directory. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/quiver/cli.h"

/* mkdir -p */
static qv_code make_dirs(const char *dir, qv_err *err)
{
    char path[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(path))
        return qv_fail(err, QV_E_INVALID,
                       "data directory path '%s' is empty or too long", dir);
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char c = path[i];
        path[i] = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return qv_fail_errno(err, QV_E_IO,
                                 "cannot create data directory '%s'", path);
        path[i] = c;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return qv_fail(err, QV_E_IO, "data directory '%s' is not a directory",
                       dir);
    return QV_OK;
}

qv_code qv_datadir_lock(const char *dir, int *lock_fd, qv_err *err)
{
    qv_code rc = make_dirs(dir, err);
    if (rc)
        return rc;
    char path[4200];
    snprintf(path, sizeof(path), "%s/LOCK", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return qv_fail_errno(err, QV_E_IO,
                             "data directory '%s' is not writable", dir);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(fd);
        return qv_fail(err, QV_E_EXISTS,
                       "data directory '%s' is in use by another quiver "
                       "process%s%s%s",
                       dir, pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "");
    }
    char line[32];
    int len = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)len, 0) != len) {
        qv_fail_errno(err, QV_E_IO, "data directory '%s' is not writable", dir);
        close(fd);
        return QV_E_IO;
    }
    *lock_fd = fd;
    return QV_OK;
}

void qv_datadir_unlock(int lock_fd)
{
    if (lock_fd >= 0)
        close(lock_fd); /* releases the flock */
}
