/* log.h: one line per event, key=value fields (STYLE.md section 3), to stderr. */
#ifndef YZ_LOG_H
#define YZ_LOG_H

#include "err.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
/* fmt should produce key=value pairs, e.g. log_msg(LOG_INFO, "http", "req=%s status=%d", ...). */
void log_msg(enum log_level level, const char *component, const char *fmt, ...) YZ_PRINTF(3, 4);

#define log_info(c, ...) log_msg(LOG_INFO, c, __VA_ARGS__)
#define log_warn(c, ...) log_msg(LOG_WARN, c, __VA_ARGS__)
#define log_error(c, ...) log_msg(LOG_ERROR, c, __VA_ARGS__)
#define log_debug(c, ...) log_msg(LOG_DEBUG, c, __VA_ARGS__)

#endif
