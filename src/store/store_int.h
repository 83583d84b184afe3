/* Private helpers shared by the store's files (not for other modules). */
#ifndef TL_STORE_INT_H
#define TL_STORE_INT_H

#include "store/store.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Lower-case hex of n bytes into out (2n + 1 bytes). */
void store_hex(const uint8_t *p, size_t n, char *out);
/* 1..max-1 characters of [A-Za-z0-9._-]. */
bool store_valid_name(const char *s, size_t max);
/* A directory number: 1..31 of digits, '*', '#', a leading '+'. */
bool store_valid_dn(const char *s);
/* Shorter than max, valid UTF-8, free of control characters ("" is
 * valid). */
bool store_valid_text(const char *s, size_t max);
int store_cluster_mode_from_name(const char *s,
                                 enum store_cluster_mode *out) TL_MUST_CHECK;

#endif
