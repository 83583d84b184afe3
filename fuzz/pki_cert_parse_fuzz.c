/* pki_cert_parse on attacker bytes (a peer's certificate from TLS, CAPF
 * or EST), then pki_cert_check against a fixed trust anchor and CRL: the
 * path every certificate a phone presents takes. The first byte chooses
 * the expected key usage. */
#include "pki/pki.h"
#include "pki/pki_key.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define NOW ((int64_t)1767225600)

static struct pki_trust *trust;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	EVP_PKEY *k = NULL;
	struct pki_key *key = NULL;
	struct pki_ca *ca = NULL;
	X509 *cert = NULL;
	X509_CRL *crl = NULL;
	struct pki_issue req = {
	        .profile = PKI_PROFILE_CA, .cn = "Fuzz CA", .now = NOW};
	struct pki_revoked r = {"0102030405060708", NOW, 1};

	(void)argc;
	(void)argv;
	if (pki_keygen(&k, PKI_ALG_P256) || pki_key_from_pkey(&key, k) ||
	    pki_self_issue(&cert, key, &req) ||
	    pki_ca_new(&ca, cert, key, "http://127.0.0.1:6970/crl.der") ||
	    pki_ca_crl(ca, &r, 1, 1, NOW, 30, &crl) || pki_trust_new(&trust) ||
	    pki_trust_add_cert(trust, cert) || pki_trust_add_crl(trust, crl)) {
		abort();
	}
	EVP_PKEY_free(k);
	X509_free(cert);
	X509_CRL_free(crl);
	pki_ca_free(ca);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum pki_eku ekus[] = {PKI_EKU_ANY, PKI_EKU_SERVER,
	                                    PKI_EKU_CLIENT};
	X509 *x = NULL;

	if (size < 1) {
		return 0;
	}
	if (pki_cert_parse(&x, data + 1, size - 1) == 0) {
		/* whatever it is, it is not trusted unless our CA signed it */
		if (pki_cert_check(trust, x, NULL, NOW + 60,
		                   ekus[data[0] % 3]) == 0) {
			char serial[80];

			if (pki_serial_hex(x, serial, sizeof(serial))) {
				abort();
			}
		}
		X509_free(x);
	}
	return 0;
}
