/* Private to src/pki: the CA object, shared by cert.c (OpenSSL X509
 * issuance), issue_der.c (direct DER issuance) and crl.c. */
#ifndef TL_PKI_INT_H
#define TL_PKI_INT_H

#include "base/buf.h"
#include "pki/pki.h"

#include <openssl/x509v3.h>

#define PKI_N_PROFILES 6

struct pki_ca {
	X509 *cert;
	struct pki_key *key;
	X509_NAME *name;     /* borrowed from cert */
	X509_EXTENSION *aki; /* authorityKeyIdentifier for what we sign */
	X509_EXTENSION *cdp; /* cRLDistributionPoints, or NULL */
	X509_NAME *inherit;  /* O, OU, L, ST, C of the CA (LSC, MIC) */
	/* DER pieces for pki_ca_issue_der, made on first use */
	bool der_ready;
	EVP_MD *sha1;            /* fetched once, for subject key ids */
	struct buf issuer_der;   /* Name */
	struct buf inherit_rdns; /* the RDNs of inherit, no outer SEQUENCE */
	struct buf sigalg_der;   /* AlgorithmIdentifier of our signatures */
	struct buf tail_exts;    /* AKI, CDP extensions */
	struct buf prof_exts[PKI_N_PROFILES][2]; /* [profile][rsa] */
	bool prof_ready[PKI_N_PROFILES][2];
};

struct pki_key *pki_ca_key_int(struct pki_ca *ca);
void pki_ca_der_free(struct pki_ca *ca);

/* basicConstraints, keyUsage, extendedKeyUsage of a profile, as DER
 * Extensions, in the order pki_ca_issue writes them. */
int pki_profile_exts_der(enum pki_profile profile, bool rsa,
                         struct buf *out) TL_MUST_CHECK;
/* The SAN URI of a request: for LSC and MIC, the device name. */
const char *pki_profile_uri(const struct pki_issue *req);

#endif
