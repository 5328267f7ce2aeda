/* Thread-local last-error reporting shared by the CPU and CUDA builds. */
#ifndef GPUMEM_STATUS_H
#define GPUMEM_STATUS_H

#include "gpumem.h"

/* Records a printf-style message as the thread's last error and returns `status`. */
int gm_fail(int status, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Clears the thread's last error and returns GM_OK. */
int gm_ok(void);

#endif
