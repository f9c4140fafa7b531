/* log.c -- see log.h. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

qv_log_level qv_log_min_level = QV_LOG_INFO;
static bool log_json;
static int log_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error",
                                          "off"};

bool qv_log_level_parse(const char *name, qv_log_level *out)
{
    for (int i = 0; i <= QV_LOG_OFF; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (qv_log_level)i;
            return true;
        }
    }
    return false;
}

void qv_log_set_level(qv_log_level level)
{
    qv_log_min_level = level;
}

void qv_log_set_json(bool json)
{
    log_json = json;
}

void qv_log_set_fd(int fd)
{
    log_fd = fd;
}

/* Appends s to buf as JSON string content; returns the new length. */
static size_t json_escape(char *buf, size_t len, size_t cap, const char *s)
{
    for (; *s && len + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[len++] = '\\';
            buf[len++] = (char)c;
        } else if (c < 0x20) {
            len += (size_t)snprintf(buf + len, cap - len, "\\u%04x", c);
        } else {
            buf[len++] = (char)c;
        }
    }
    return len;
}

void qv_log_write(qv_log_level level, const char *module, const char *fmt, ...)
{
    char msg[2048], line[4600], ts[40];
    struct timeval tv;
    struct tm tm;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03dZ", (int)(tv.tv_usec / 1000));

    const char *lv = level_names[level < QV_LOG_OFF ? level : QV_LOG_ERROR];
    size_t len;
    if (log_json) {
        len = (size_t)snprintf(line, sizeof(line),
                               "{\"ts\":\"%s\",\"level\":\"%s\",\"module\":\"",
                               ts, lv);
        len = json_escape(line, len, sizeof(line) - 16, module);
        len +=
            (size_t)snprintf(line + len, sizeof(line) - len, "\",\"msg\":\"");
        len = json_escape(line, len, sizeof(line) - 4, msg);
        len += (size_t)snprintf(line + len, sizeof(line) - len, "\"}\n");
    } else {
        len = (size_t)snprintf(line, sizeof(line), "%s %-5s [%s] %s\n", ts, lv,
                               module, msg);
    }
    if (len >= sizeof(line))
        len = sizeof(line) - 1;
    ssize_t w = write(log_fd, line, len);
    (void)w;
}

void qv_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "quiver: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}
