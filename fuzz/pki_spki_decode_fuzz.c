/* pki_spki_decode on attacker bytes (a phone's KEYGEN_RESP public key, a
 * CSR's key): whatever it accepts, OpenSSL's own d2i_PUBKEY must read as
 * the same key. pki_cert_spki on the same bytes taken as a certificate:
 * the slice it finds stays inside the input. pki_cert_shared: a decoded
 * certificate is the one d2i_X509 decodes. */
#include "pki/pki.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	EVP_PKEY *k = NULL;
	struct slice spki, subject;

	if (pki_spki_decode(&k, data, size) == 0) {
		const unsigned char *q = data;
		EVP_PKEY *ref = d2i_PUBKEY(NULL, &q, (long)size);
		if (!k || !ref || q != data + size || EVP_PKEY_eq(k, ref) != 1) {
			abort();
		}
		EVP_PKEY_free(ref);
		EVP_PKEY_free(k);
	} else if (k) {
		abort();
	}
	if (pki_cert_spki(data, size, &subject, &spki) == 0) {
		if (spki.p < data || spki.p + spki.len > data + size ||
		    subject.p < data || subject.p + subject.len > spki.p) {
			abort();
		}
		k = NULL;
		if (pki_spki_decode(&k, spki.p, spki.len) == 0) {
			EVP_PKEY_free(k);
		}
	}
	X509 *x = pki_cert_shared(data, size);
	if (x) {
		const unsigned char *q = data;
		X509 *ref = d2i_X509(NULL, &q, (long)size);
		if (!ref || X509_cmp(x, ref) != 0) {
			abort();
		}
		X509_free(ref);
		X509_free(x);
	}
	return 0;
}
