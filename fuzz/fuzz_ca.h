/* A throwaway P-256 CA for fuzz targets that issue certificates. */
#ifndef TL_FUZZ_CA_H
#define TL_FUZZ_CA_H

#include "pki/pki.h"
#include "pki/pki_key.h"

#include <stdlib.h>

static inline struct pki_ca *fuzz_ca_new(void)
{
	EVP_PKEY *k = NULL;
	struct pki_key *key = NULL;
	X509 *cert = NULL;
	struct pki_ca *ca = NULL;
	struct pki_issue req = {.profile = PKI_PROFILE_CA, .cn = "Fuzz CA"};

	if (pki_keygen(&k, PKI_ALG_P256) || pki_key_from_pkey(&key, k) ||
	    pki_self_issue(&cert, key, &req) ||
	    pki_ca_new(&ca, cert, key, NULL)) {
		abort();
	}
	EVP_PKEY_free(k);
	X509_free(cert);
	return ca;
}

#endif
