/* build_info.h -- facts about this build of Quiver, fixed at configure
 * time: version (semver with a leading "v"), git commit, build time,
 * compiler.  Used by GetVersion, Connect's ServerInfo and `quiver
 * version`.  Threading: immutable. */
#ifndef QV_BUILD_INFO_H
#define QV_BUILD_INFO_H

typedef struct qv_build_info {
    const char *version;    /* "v0.1.0" */
    const char *git_commit; /* short hash, or "unknown" */
    const char *build_time; /* "2026-11-22T00:00:00Z" */
    const char *compiler;   /* "GNU 12.2.0" */
    const char *build_type; /* "Release", "Debug", ... */
} qv_build_info;

const qv_build_info *qv_build_info_get(void);

#endif
