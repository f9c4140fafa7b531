/* fuzz_wal_record -- libFuzzer target for the local write log's segment
 * decoder.
 *
 * Each input is treated as the bytes of one segment file:
 *  1. wal__seg_scan_buf() scans it in memory;
 *  2. the same bytes are written as the only segment of a channel in a
 *     scratch directory, opened with the "local" backend (which recovers
 *     and cuts the tail) and read back with a reader.
 * The reader must return exactly the records the scan counted, each of them
 * checksum-verified, and the recovered file must end where the scan said;
 * any difference aborts.  Bad input must only ever produce errors.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/wal/wal.h"
#include "common/wal/wal_internal.h"

#define MAX_REC ((size_t)1 << 20)

static char root[64];

static void clean_channel(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *p = qv_xasprintf("%s/%s", dir, de->d_name);
        unlink(p);
        free(p);
    }
    closedir(d);
}

static void write_all(const char *path, const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        abort();
    size_t off = 0;
    while (off < size) {
        ssize_t k = write(fd, data + off, size - off);
        if (k <= 0)
            abort();
        off += (size_t)k;
    }
    close(fd);
}

static void remove_root(void)
{
    char *dir = qv_xasprintf("%s/ch", root);
    clean_channel(dir);
    rmdir(dir);
    rmdir(root);
    free(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!root[0]) {
        (void)snprintf(root, sizeof(root), "/tmp/qv-fuzz-wal-%d",
                       (int)getpid());
        mkdir(root, 0755);
        (void)atexit(remove_root);
    }
    wal__seg_scan scan;
    qv_err err;
    int header_ok =
        wal__seg_scan_buf(data, size, MAX_REC, &scan, &err) == QV_OK;
    if (header_ok &&
        (scan.valid_end > size || scan.valid_end + scan.torn_bytes != size ||
         scan.valid_end < WAL__SEG_HDR_BYTES))
        abort();

    char *dir = qv_xasprintf("%s/ch", root);
    mkdir(dir, 0755);
    clean_channel(dir);
    wal_pos base = header_ok ? scan.base : 0;
    char *seg = qv_xasprintf("%s/%020llu.seg", dir, (unsigned long long)base);
    write_all(seg, data, size);

    wal_options o = {
        .dir = root, .max_record_bytes = MAX_REC, .sync = WAL_SYNC_NEVER};
    wal *w = NULL;
    if (wal_open("local", &o, &w, &err) != QV_OK)
        abort(); /* recovery must always succeed on a lone segment */
    wal_reader *r = NULL;
    uint64_t n = 0;
    if (wal_reader_open(w, "ch", WAL_EARLIEST, &r, &err) == QV_OK) {
        wal_entry e;
        while (wal_reader_next(r, 0, &e, &err) == QV_OK) {
            if (e.pos != base + n)
                abort();
            n++;
        }
        if (err.code != QV_E_TIMEOUT)
            abort(); /* the recovered prefix must read back cleanly */
        wal_reader_close(r);
    } else if (header_ok && base < UINT64_MAX - 2) {
        abort();
    }
    wal_close(w);
    if (header_ok && base < UINT64_MAX - 2 && n != scan.records)
        abort();
    struct stat st;
    if (header_ok &&
        (stat(seg, &st) != 0 || (uint64_t)st.st_size != scan.valid_end))
        abort();
    free(seg);
    free(dir);
    return 0;
}
