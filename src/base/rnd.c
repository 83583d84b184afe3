#include "base/rnd.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>

void rnd_pool_init(struct rnd_pool *r)
{
	memset(r->b, 0, sizeof(r->b));
	r->off = RND_POOL_SIZE;
}

int rnd_pool_bytes(struct rnd_pool *r, void *out, size_t n)
{
	uint8_t *o = out;

	if (n > RND_POOL_SIZE / 4) {
		return RAND_bytes(o, (int)n) == 1 ? 0 : -TL_ECRYPTO;
	}
	if (RND_POOL_SIZE - r->off < n) {
		if (RAND_bytes(r->b, RND_POOL_SIZE) != 1) {
			return -TL_ECRYPTO;
		}
		r->off = 0;
	}
	memcpy(o, r->b + r->off, n);
	/* what was handed out is not kept */
	OPENSSL_cleanse(r->b + r->off, n);
	r->off += n;
	return 0;
}

void rnd_pool_wipe(struct rnd_pool *r)
{
	OPENSSL_cleanse(r->b, sizeof(r->b));
	r->off = RND_POOL_SIZE;
}
