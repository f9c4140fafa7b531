/* banned.h -- functions we never call (after git's banned.h).
 * Included last by every translation unit of our own code via the build. */
#ifndef QV_BANNED_H
#define QV_BANNED_H

#define QV_BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) QV_BANNED(strcpy)
#undef strcat
#define strcat(x, y) QV_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) QV_BANNED(strncpy)
#undef sprintf
#define sprintf(...) QV_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) QV_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) QV_BANNED(strtok)

#endif
