/* Verification of peers' certificates and parsing of attacker bytes. */
#include "pki/pki.h"

#include <errno.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct pki_trust {
	X509_STORE *store;
	int n_crl;
};

int pki_trust_new(struct pki_trust **out)
{
	struct pki_trust *t = calloc(1, sizeof(*t));

	if (!t) {
		return -ENOMEM;
	}
	t->store = X509_STORE_new();
	if (!t->store) {
		free(t);
		return -ENOMEM;
	}
	*out = t;
	return 0;
}

void pki_trust_free(struct pki_trust *t)
{
	if (!t) {
		return;
	}
	X509_STORE_free(t->store);
	free(t);
}

int pki_trust_add_cert(struct pki_trust *t, X509 *ca)
{
	return X509_STORE_add_cert(t->store, ca) == 1 ? 0 : -TL_ECRYPTO;
}

int pki_trust_add_crl(struct pki_trust *t, X509_CRL *crl)
{
	if (X509_STORE_add_crl(t->store, crl) != 1) {
		return -TL_ECRYPTO;
	}
	t->n_crl++;
	return 0;
}

int pki_trust_load(struct pki_trust *t, const char *path)
{
	BIO *b = BIO_new_file(path, "r");
	STACK_OF(X509_INFO) * infos;
	int err = 0, n = 0;

	if (!b) {
		return -ENOENT;
	}
	infos = PEM_X509_INFO_read_bio(b, NULL, NULL, NULL);
	BIO_free(b);
	if (!infos) {
		return -TL_EPARSE;
	}
	for (int i = 0; !err && i < sk_X509_INFO_num(infos); i++) {
		X509_INFO *xi = sk_X509_INFO_value(infos, i);

		if (xi->x509) {
			err = pki_trust_add_cert(t, xi->x509);
			n++;
		}
		if (!err && xi->crl) {
			err = pki_trust_add_crl(t, xi->crl);
			n++;
		}
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	if (!err && n == 0) {
		err = -TL_EPARSE;
	}
	return err;
}

/* Ranks the errors met during one verification: a revoked certificate
 * wins over an expired one, which wins over every other failure. */
struct check_state {
	int worst;
};

static int rank(int err)
{
	switch (err) {
	case -TL_EREVOKED:
		return 3;
	case -TL_EEXPIRED:
		return 2;
	case 0:
		return 0;
	default:
		return 1;
	}
}

static int verify_cb(int ok, X509_STORE_CTX *ctx)
{
	struct check_state *st;
	int e, err;

	if (ok) {
		return 1;
	}
	st = X509_STORE_CTX_get_app_data(ctx);
	e = X509_STORE_CTX_get_error(ctx);
	switch (e) {
	case X509_V_ERR_CERT_REVOKED:
		err = -TL_EREVOKED;
		break;
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		err = -TL_EEXPIRED;
		break;
	default:
		err = -TL_ETRUST;
		break;
	}
	if (rank(err) > rank(st->worst)) {
		st->worst = err;
	}
	/* Keep going so that a revocation is reported even when another
	 * check failed first; the result is st->worst, never "ok". Chains
	 * that cannot be built stop anyway. */
	return 1;
}

static int check_eku(X509 *cert, enum pki_eku eku)
{
	uint32_t want;

	switch (eku) {
	case PKI_EKU_ANY:
		return 0;
	case PKI_EKU_SERVER:
		want = XKU_SSL_SERVER;
		break;
	case PKI_EKU_CLIENT:
		want = XKU_SSL_CLIENT;
		break;
	default:
		return -TL_EPOLICY;
	}
	/* RFC 5280 §4.2.1.12: we issue EKU in every end-entity
	 * certificate, so an end entity without one is not ours to trust
	 * for a TLS role. */
	if (!(X509_get_extension_flags(cert) & EXFLAG_XKUSAGE)) {
		return -TL_EPOLICY;
	}
	return (X509_get_extended_key_usage(cert) & want) ? 0 : -TL_EPOLICY;
}

int pki_cert_check(struct pki_trust *t, X509 *cert, STACK_OF(X509) * untrusted,
                   int64_t now, enum pki_eku eku)
{
	X509_STORE_CTX *ctx;
	X509_VERIFY_PARAM *param;
	struct check_state st = {0};
	int rc, err;

	if (!t || !cert) {
		return -EINVAL;
	}
	ctx = X509_STORE_CTX_new();
	if (!ctx) {
		return -ENOMEM;
	}
	if (X509_STORE_CTX_init(ctx, t->store, cert, untrusted) != 1) {
		X509_STORE_CTX_free(ctx);
		return -TL_ECRYPTO;
	}
	param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_time(param,
	                           (time_t)(now ? now : (int64_t)time(NULL)));
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
	if (t->n_crl) {
		X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK);
	}
	X509_STORE_CTX_set_app_data(ctx, &st);
	X509_STORE_CTX_set_verify_cb(ctx, verify_cb);
	rc = X509_verify_cert(ctx);
	X509_STORE_CTX_free(ctx);
	if (st.worst) {
		return st.worst;
	}
	if (rc != 1) {
		return -TL_ETRUST;
	}
	err = check_eku(cert, eku);
	return err;
}

int pki_cert_parse(X509 **out, const uint8_t *p, size_t len)
{
	const unsigned char *q = p;
	unsigned char *re = NULL;
	X509 *x;
	int relen;

	*out = NULL;
	if (!p || len == 0) {
		return -TL_ETRUNC;
	}
	if (len > 65536) {
		return -TL_ETOOBIG;
	}
	x = d2i_X509(NULL, &q, (long)len);
	if (!x) {
		return -TL_EPARSE;
	}
	if (q != p + len) {
		X509_free(x);
		return -TL_ETRAIL;
	}
	/* X.690 §10: DER has one encoding; anything OpenSSL would encode
	 * differently (BER lengths, non-minimal integers) is refused. The
	 * TBSCertificate is re-encoded from its fields too, not copied from
	 * the input, so this holds inside it as well. */
	if (i2d_re_X509_tbs(x, NULL) <= 0) {
		X509_free(x);
		return -TL_EPARSE;
	}
	relen = i2d_X509(x, &re);
	if (relen <= 0 || (size_t)relen != len || memcmp(re, p, len)) {
		OPENSSL_free(re);
		X509_free(x);
		return -TL_EPARSE;
	}
	OPENSSL_free(re);
	*out = x;
	return 0;
}

/* RFC 7468 §2: after the END line of a PEM block only white space may
 * follow; anything else (a second block, junk, a NUL) is refused. */
static bool pem_rest_blank(BIO *b)
{
	char *rest = NULL;
	long n = BIO_get_mem_data(b, &rest);

	for (long i = 0; i < n; i++) {
		if (rest[i] != ' ' && rest[i] != '\t' && rest[i] != '\r' &&
		    rest[i] != '\n') {
			return false;
		}
	}
	return true;
}

int pki_csr_parse(X509_REQ **out, const uint8_t *p, size_t len)
{
	X509_REQ *req = NULL;
	EVP_PKEY *pub;
	int err;

	*out = NULL;
	if (!p || len == 0) {
		return -TL_ETRUNC;
	}
	if (len > 65536) {
		return -TL_ETOOBIG;
	}
	if (len >= 5 && !memcmp(p, "-----", 5)) {
		BIO *b = BIO_new_mem_buf(p, (int)len);

		if (!b) {
			return -ENOMEM;
		}
		req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
		if (req && !pem_rest_blank(b)) {
			X509_REQ_free(req);
			BIO_free(b);
			return -TL_ETRAIL;
		}
		BIO_free(b);
		if (!req) {
			return -TL_EPARSE;
		}
	} else {
		const unsigned char *q = p;

		req = d2i_X509_REQ(NULL, &q, (long)len);
		if (!req) {
			return -TL_EPARSE;
		}
		if (q != p + len) {
			X509_REQ_free(req);
			return -TL_ETRAIL;
		}
	}
	pub = X509_REQ_get0_pubkey(req);
	if (!pub) {
		err = -TL_EPARSE;
		goto out;
	}
	err = pki_key_policy(pub);
	if (err) {
		goto out;
	}
	/* RFC 2986 §3: the request is signed with the key it carries */
	if (X509_REQ_verify(req, pub) != 1) {
		err = -TL_ESIG;
		goto out;
	}
out:
	if (err) {
		X509_REQ_free(req);
		return err;
	}
	*out = req;
	return 0;
}
