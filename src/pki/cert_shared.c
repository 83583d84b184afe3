/* Decoded certificates shared within the process.
 *
 * OpenSSL 3.0 decodes a certificate's public key through its provider
 * decoder chain, about 90 us per d2i_X509: more than four P-256
 * signatures. The same few certificates are decoded over and over: every
 * CTL a phone of a fleet parses holds the site's service certificates,
 * every config the site encrypts names the device's LSC twice (stub and
 * encrypted file). A small table keeps the last decoded certificates
 * with a copy of their DER, in sets of four chosen by a hash (so that a
 * few certificates falling in one set do not evict one another over and
 * over); a hit is an exact byte comparison and a reference, and a miss
 * replaces the least recently used of its set. The X509 objects are
 * shared read-only (OpenSSL's reference counts are atomic and its lazily
 * cached extension data is taken under its own lock). */
#include "pki/pki.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SETS    16
#define WAYS    4
#define DER_MAX 16384 /* larger certificates are decoded, not kept */

struct slot {
	uint8_t *der;
	size_t len;
	X509 *x;
	uint64_t used; /* clock of the last hit or fill */
};

static struct slot slots[SETS][WAYS];
static uint64_t clock_now; /* under lock */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* FNV-1a over the tail of the DER, where certificates differ (the
 * signature), and the length. */
static size_t slot_of(const uint8_t *der, size_t len)
{
	uint64_t h = 1469598103934665603ull ^ len;
	size_t from = len > 64 ? len - 64 : 0;

	for (size_t i = from; i < len; i++) {
		h = (h ^ der[i]) * 1099511628211ull;
	}
	return (size_t)(h >> 32) % SETS;
}

static X509 *lookup(size_t set, const uint8_t *der, size_t len)
{
	X509 *x = NULL;

	pthread_mutex_lock(&lock);
	for (size_t w = 0; w < WAYS; w++) {
		struct slot *s = &slots[set][w];
		if (s->x && s->len == len && !memcmp(s->der, der, len)) {
			if (X509_up_ref(s->x) == 1) {
				x = s->x;
				s->used = ++clock_now;
			}
			break;
		}
	}
	pthread_mutex_unlock(&lock);
	return x;
}

static void keep(size_t set, const uint8_t *der, size_t len, X509 *x)
{
	uint8_t *copy = malloc(len);
	uint8_t *old_der;
	X509 *old_x;
	struct slot *v;

	if (!copy || X509_up_ref(x) != 1) {
		free(copy);
		return;
	}
	memcpy(copy, der, len);
	pthread_mutex_lock(&lock);
	v = &slots[set][0];
	for (size_t w = 1; w < WAYS; w++) {
		if (slots[set][w].used < v->used) {
			v = &slots[set][w]; /* empty ways have used 0 */
		}
	}
	old_der = v->der;
	old_x = v->x;
	*v = (struct slot){
	        .der = copy, .len = len, .x = x, .used = ++clock_now};
	pthread_mutex_unlock(&lock);
	free(old_der);
	X509_free(old_x);
}

X509 *pki_cert_shared(const uint8_t *der, size_t len)
{
	const unsigned char *q = der;
	size_t i;
	X509 *x;

	if (!der || len == 0 || len > LONG_MAX) {
		return NULL;
	}
	i = slot_of(der, len);
	x = len <= DER_MAX ? lookup(i, der, len) : NULL;
	if (x) {
		return x;
	}
	x = d2i_X509(NULL, &q, (long)len);
	if (!x || q != der + len) {
		X509_free(x);
		return NULL;
	}
	if (len <= DER_MAX) {
		keep(i, der, len, x);
	}
	return x;
}

void pki_cert_shared_clear(void)
{
	for (size_t i = 0; i < SETS * WAYS; i++) {
		pthread_mutex_lock(&lock);
		struct slot s = slots[i / WAYS][i % WAYS];
		slots[i / WAYS][i % WAYS] = (struct slot){0};
		pthread_mutex_unlock(&lock);
		free(s.der);
		X509_free(s.x);
	}
}
