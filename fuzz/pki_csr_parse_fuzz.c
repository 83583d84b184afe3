/* pki_csr_parse on attacker bytes (an EST simpleenroll body, a CSR file):
 * DER, or PEM when the input starts with "-----". An accepted request
 * has a key within policy and a valid self-signature; issue for it. */
#include "pki/pki.h"
#include "pki/pki_key.h"

#include "fuzz_ca.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

static struct pki_ca *ca;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	ca = fuzz_ca_new();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	X509_REQ *r = NULL;

	if (pki_csr_parse(&r, data, size) == 0) {
		struct pki_issue req = {.profile = PKI_PROFILE_LSC,
		                        .cn = "SEP001122334455",
		                        .pub = X509_REQ_get0_pubkey(r)};
		struct buf der;

		buf_init(&der, 0);
		if (pki_ca_issue_der(ca, &req, &der, NULL, 0)) {
			abort(); /* an accepted key must be issuable */
		}
		buf_free(&der);
		X509_REQ_free(r);
	}
	return 0;
}
