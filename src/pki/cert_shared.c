/* Decoded certificates shared within the process.
 *
 * OpenSSL 3.0 decodes a certificate's public key through its provider
 * decoder chain, about 90 us per d2i_X509: more than four P-256
 * signatures. The same few certificates are decoded over and over: every
 * CTL a phone of a fleet parses holds the site's service certificates,
 * every config the site encrypts names the device's LSC twice (stub and
 * encrypted file). A small direct-mapped table keeps the last decoded
 * certificate per slot with a copy of its DER; a hit is an exact byte
 * comparison and a reference. The X509 objects are shared read-only
 * (OpenSSL's reference counts are atomic and its lazily cached extension
 * data is taken under its own lock). */
#include "pki/pki.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 64
#define DER_MAX 16384 /* larger certificates are decoded, not kept */

struct slot {
	uint8_t *der;
	size_t len;
	X509 *x;
};

static struct slot slots[SLOTS];
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
	return (size_t)(h >> 32) % SLOTS;
}

static X509 *lookup(size_t i, const uint8_t *der, size_t len)
{
	X509 *x = NULL;

	pthread_mutex_lock(&lock);
	if (slots[i].x && slots[i].len == len && !memcmp(slots[i].der, der, len) &&
	    X509_up_ref(slots[i].x) == 1) {
		x = slots[i].x;
	}
	pthread_mutex_unlock(&lock);
	return x;
}

static void keep(size_t i, const uint8_t *der, size_t len, X509 *x)
{
	uint8_t *copy = malloc(len);
	uint8_t *old_der;
	X509 *old_x;

	if (!copy || X509_up_ref(x) != 1) {
		free(copy);
		return;
	}
	memcpy(copy, der, len);
	pthread_mutex_lock(&lock);
	old_der = slots[i].der;
	old_x = slots[i].x;
	slots[i] = (struct slot){.der = copy, .len = len, .x = x};
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
	for (size_t i = 0; i < SLOTS; i++) {
		pthread_mutex_lock(&lock);
		struct slot s = slots[i];
		slots[i] = (struct slot){0};
		pthread_mutex_unlock(&lock);
		free(s.der);
		X509_free(s.x);
	}
}
