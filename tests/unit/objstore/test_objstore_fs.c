/* test_objstore_fs.c -- behaviour particular to the fs backend: the files
 * it leaves on disk, temp files of dead writers, empty directories after
 * deletes, and keys that would be both an object and a directory. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/objstore/objstore.h"

static char root[128];
static objstore *os;

static void rm_rf(const char *p)
{
    char *cmd = qv_xasprintf("rm -rf '%s'", p);
    cr_assert_eq(system(cmd), 0);
    free(cmd);
}

static void setup(void)
{
    snprintf(root, sizeof(root), "/tmp/qv-objfs-unit-%ld", (long)getpid());
    rm_rf(root);
    objstore_config c = {.root = root};
    qv_err err = {0};
    cr_assert_eq(objstore_open("fs", &c, &os, &err), QV_OK, "%s", err.msg);
}

static void teardown(void)
{
    objstore_close(os);
    os = NULL;
    rm_rf(root);
}

TestSuite(objstore_fs, .init = setup, .fini = teardown, .timeout = 30);

static bool exists(const char *rel)
{
    char *p = qv_xasprintf("%s/%s", root, rel);
    struct stat st;
    bool e = lstat(p, &st) == 0;
    free(p);
    return e;
}

static size_t count_dir(const char *rel)
{
    char *p = qv_xasprintf("%s/%s", root, rel);
    DIR *d = opendir(p);
    free(p);
    cr_assert_not_null(d);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    return n;
}

Test(objstore_fs, objects_are_plain_files_and_no_temp_file_remains)
{
    cr_assert_eq(objstore_put(os, "a/b/c", "hello", 5, NULL), QV_OK);
    char *p = qv_xasprintf("%s/a/b/c", root);
    FILE *f = fopen(p, "rb");
    free(p);
    cr_assert_not_null(f);
    char buf[16] = {0};
    cr_assert_eq(fread(buf, 1, sizeof(buf), f), 5);
    fclose(f);
    cr_assert_str_eq(buf, "hello");
    cr_assert_eq(count_dir(".qv-tmp"), 0);
}

Test(objstore_fs, deleting_the_last_object_removes_empty_directories)
{
    cr_assert_eq(objstore_put(os, "x/y/z/1", "1", 1, NULL), QV_OK);
    cr_assert_eq(objstore_put(os, "x/2", "2", 1, NULL), QV_OK);
    cr_assert_eq(objstore_delete(os, "x/y/z/1", NULL), QV_OK);
    cr_assert(!exists("x/y"), "empty directories are removed");
    cr_assert(exists("x/2"), "non-empty parents stay");
    cr_assert_eq(objstore_delete(os, "x/2", NULL), QV_OK);
    cr_assert(!exists("x"));
    cr_assert(exists(".qv-tmp"));
}

Test(objstore_fs, an_object_cannot_also_be_a_directory)
{
    qv_err err = {0};
    cr_assert_eq(objstore_put(os, "a", "1", 1, NULL), QV_OK);
    cr_assert_eq(objstore_put(os, "a/b", "2", 1, &err), QV_E_CONFLICT);
    cr_assert(strstr(err.msg, "'a/b'"), "%s", err.msg);
    cr_assert_eq(objstore_put(os, "c/d", "3", 1, NULL), QV_OK);
    cr_assert_eq(objstore_put(os, "c", "4", 1, &err), QV_E_CONFLICT);
    cr_assert(strstr(err.msg, "prefix of other objects"), "%s", err.msg);
    /* the failed puts left nothing behind */
    cr_assert_eq(count_dir(".qv-tmp"), 0);
    qv_buf b = QV_BUF_INIT;
    cr_assert_eq(objstore_get(os, "a", &b, NULL), QV_OK);
    cr_assert_str_eq(b.data, "1");
    qv_buf_release(&b);
}

Test(objstore_fs, temp_files_of_dead_writers_are_removed_at_open)
{
    /* a child writes a temp file name with its pid, then exits */
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    cr_assert_gt(pid, 0);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    char *dead = qv_xasprintf("%s/.qv-tmp/%ld.7", root, (long)pid);
    char *live = qv_xasprintf("%s/.qv-tmp/%ld.8", root, (long)getpid());
    int fd = open(dead, O_CREAT | O_WRONLY, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "partial", 7), 7);
    close(fd);
    fd = open(live, O_CREAT | O_WRONLY, 0644);
    cr_assert_geq(fd, 0);
    close(fd);
    /* temp files are never listed */
    objstore_list_page page;
    cr_assert_eq(objstore_list(os, "", NULL, 0, &page, NULL), QV_OK);
    cr_assert_eq(page.count, 0);
    objstore_list_page_release(&page);
    objstore *again;
    objstore_config c = {.root = root};
    cr_assert_eq(objstore_open("fs", &c, &again, NULL), QV_OK);
    struct stat sb;
    cr_assert_neq(stat(dead, &sb), 0, "a dead writer's temp file is gone");
    cr_assert_eq(stat(live, &sb), 0, "a live writer's temp file stays");
    objstore_close(again);
    free(dead);
    free(live);
}

Test(objstore_fs, a_file_in_the_way_of_the_root_fails_open)
{
    char *p = qv_xasprintf("%s/file", root);
    int fd = open(p, O_CREAT | O_WRONLY, 0644);
    cr_assert_geq(fd, 0);
    close(fd);
    objstore_config c = {.root = p};
    objstore *o;
    qv_err err = {0};
    cr_assert_eq(objstore_open("fs", &c, &o, &err), QV_E_IO);
    cr_assert(strstr(err.msg, p), "%s", err.msg);
    free(p);
}

Test(objstore_fs, delete_prefix_reports_progress_when_a_delete_fails)
{
    char key[32];
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof(key), "gc/%d", i);
        cr_assert_eq(objstore_put(os, key, "x", 1, NULL), QV_OK);
    }
    objstore_fault_config fc = {.ops = OBJSTORE_FAULT_DEL, .fail_nth = 3};
    objstore *f;
    cr_assert_eq(objstore_fault_wrap(os, &fc, &f, NULL), QV_OK);
    os = f; /* teardown closes the decorator and the fs store */
    uint64_t n = 99;
    qv_err err = {0};
    cr_assert_eq(objstore_delete_prefix(os, "gc/", &n, &err), QV_E_IO);
    cr_assert_eq(n, 2, "two deletes happened before the fault");
    cr_assert(strstr(err.msg, "fs delete 'gc/2': injected fault"), "%s",
              err.msg);
    cr_assert_eq(objstore_delete_prefix(os, "gc/", &n, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(n, 3);
    cr_assert(!exists("gc"));
}
