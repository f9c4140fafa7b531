/* log.h -- leveled logging as text or JSON lines.
 *
 * QV_LOG checks the level before formatting, so a disabled level costs one
 * comparison.  Output goes to stderr (or a file set by qv_log_open_file).
 * common/ and index/ return errors and do not log them; the layer that
 * handles an error logs it once.
 *
 * Threading: thread-safe; each line is written with one write() call.
 */
#ifndef QV_LOG_H
#define QV_LOG_H

#include <stdbool.h>

typedef enum qv_log_level {
    QV_LOG_DEBUG = 0,
    QV_LOG_INFO = 1,
    QV_LOG_WARN = 2,
    QV_LOG_ERROR = 3,
    QV_LOG_OFF = 4,
} qv_log_level;

extern qv_log_level qv_log_min_level;

/* Parses "debug" | "info" | "warn" | "error" | "off"; returns false if
 * the name is unknown. */
bool qv_log_level_parse(const char *name, qv_log_level *out);
void qv_log_set_level(qv_log_level level);
/* format: false = "2026-11-22T10:00:00.123Z INFO  [module] message",
 * true = {"ts":"...","level":"info","module":"...","msg":"..."} */
void qv_log_set_json(bool json);
/* Redirects output to an fd (default 2).  The caller keeps ownership. */
void qv_log_set_fd(int fd);

void qv_log_write(qv_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define QV_LOG(level, module, ...)                                             \
    do {                                                                       \
        if ((level) >= qv_log_min_level)                                       \
            qv_log_write((level), (module), __VA_ARGS__);                      \
    } while (0)

#define QV_ASSERT(cond)                                                        \
    do {                                                                       \
        if (!(cond))                                                           \
            qv_assert_fail(#cond, __FILE__, __LINE__);                         \
    } while (0)

__attribute__((noreturn)) void qv_assert_fail(const char *expr,
                                              const char *file, int line);

#endif
