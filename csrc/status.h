/* Last-error reporting shared by the CPU and CUDA builds. */
#ifndef GPUMEM_STATUS_H
#define GPUMEM_STATUS_H

#include "gpumem.h"

/* Records a printf-style message as the latest failure's and returns `status`. */
int gm_fail(int status, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Returns GM_OK (the latest failure's message stays for whoever reads it). */
int gm_ok(void);

#endif
