/* Logging to stderr with a level and a component tag. Never log secrets. */
#ifndef TL_LOG_H
#define TL_LOG_H

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
void log_msg(enum log_level lvl, const char *comp, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(comp, ...) log_msg(LOG_ERR, comp, __VA_ARGS__)
#define log_warn(comp, ...) log_msg(LOG_WARN, comp, __VA_ARGS__)
#define log_info(comp, ...) log_msg(LOG_INFO, comp, __VA_ARGS__)
#define log_debug(comp, ...)                                                   \
	do {                                                                   \
		if (log_get_level() >= LOG_DEBUG)                              \
			log_msg(LOG_DEBUG, comp, __VA_ARGS__);                 \
	} while (0)

#endif
