/* A pool of random bytes drawn from OpenSSL's DRBG a block at a time, for
 * hot paths that want a few unpredictable bytes per message (SIP tags,
 * nonce salts): one RAND_bytes call serves many of them. Bytes handed out
 * are wiped from the pool; rnd_pool_wipe clears what is left.
 *
 * Ownership: the caller embeds struct rnd_pool (no allocation). Not
 * thread-safe: one pool per event loop. */
#ifndef TL_RND_H
#define TL_RND_H

#include "base/tl_err.h"

#include <stddef.h>
#include <stdint.h>

#define RND_POOL_SIZE 512

struct rnd_pool {
	uint8_t b[RND_POOL_SIZE];
	size_t off; /* first unused byte; RND_POOL_SIZE: empty */
};

void rnd_pool_init(struct rnd_pool *r);
/* n random bytes into out; requests larger than the pool go straight to
 * RAND_bytes. -TL_ECRYPTO when the DRBG fails. */
int rnd_pool_bytes(struct rnd_pool *r, void *out, size_t n) TL_MUST_CHECK;
void rnd_pool_wipe(struct rnd_pool *r);

#endif
