/* pki_csr_decode on attacker bytes (the EST simpleenroll body after
 * base64): a DER walk of our own, then OpenSSL's decoders on the pieces.
 * Whatever it accepts, OpenSSL's X509_REQ parser must accept too, with
 * the same subject and key, and the CA must be able to issue for it. */
#include "pki/pki.h"
#include "pki/pki_csr.h"
#include "pki/pki_key.h"

#include "fuzz_ca.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
	struct pki_csr c;
	X509_REQ *ref = NULL;

	if (pki_csr_decode(&c, data, size) != 0) {
		if (c.pub || c.subject || c.attrs) {
			abort(); /* nothing is left behind by a refusal */
		}
		return 0;
	}
	if (c.spki.p < data || c.spki.p + c.spki.len > data + size ||
	    pki_csr_parse(&ref, data, size) != 0 ||
	    X509_NAME_cmp(c.subject, X509_REQ_get_subject_name(ref)) != 0 ||
	    EVP_PKEY_eq(c.pub, X509_REQ_get0_pubkey(ref)) != 1 ||
	    sk_X509_ATTRIBUTE_num(c.attrs) != X509_REQ_get_attr_count(ref)) {
		abort();
	}
	struct pki_issue req = {.profile = PKI_PROFILE_LSC,
	                        .cn = "SEP001122334455",
	                        .pub = c.pub,
	                        .spki = c.spki.p,
	                        .spki_len = c.spki.len};
	struct buf der;
	buf_init(&der, 0);
	if (pki_ca_issue_der(ca, &req, &der, NULL, 0)) {
		abort(); /* an accepted key must be issuable */
	}
	buf_free(&der);
	X509_REQ_free(ref);
	pki_csr_clear(&c);
	return 0;
}
