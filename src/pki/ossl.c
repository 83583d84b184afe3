/* The OpenSSL algorithms of the process: OpenSSL's default provider, seen
 * through a provider of ours that lists only the key types we use.
 *
 * OpenSSL 3.0 decodes the public key of every certificate it parses
 * (each d2i_X509, each certificate a TLS peer sends) and encodes every
 * private key it writes through a chain of decoders or encoders that it
 * assembles for that one call, by making a method object for every key
 * type and every coder the loaded providers offer: about 90 us per
 * certificate with the default provider's 18 key types and 40 decoders,
 * more than four P-256 signatures. Our provider offers the default
 * provider's own implementations (the same code, called with the default
 * provider's context, which lives in a library context of its own) and
 * passes every operation through unchanged, except that key management,
 * encoders and decoders list only the key types in keep[]: the chains are
 * assembled from fewer candidates (about 50 us a certificate).
 *
 * Loaded into the default library context before anything else uses
 * OpenSSL; the default provider is then not loaded there, as OpenSSL
 * only loads it when no provider was. */
#include "pki/pki.h"

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/provider.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define PROV_NAME "trustline"

/* The key types a site and its phones use: RSA and EC certificates and
 * keys (RSA-PSS signatures in TLS 1.3), X25519 key shares, Ed25519 keys
 * a standard EST client may offer (refused by policy, by name), HKDF and
 * the TLS 1.2 PRF as EVP_PKEY derivations, HMAC keys; "DER" names the
 * decoders that unwrap PEM and the SubjectPublicKeyInfo and
 * PrivateKeyInfo structures around the type-specific ones. Left out: DSA,
 * DH, X448, Ed448, SM2, scrypt, SipHash, Poly1305, CMAC keys. */
static const char *const keep[] = {
        "RSA",  "RSA-PSS", "EC",   "X25519", "ED25519",
        "HKDF", "TLS1-PRF", "HMAC", "DER",    NULL,
};

static struct {
	OSSL_LIB_CTX *inner;    /* holds the default provider */
	OSSL_PROVIDER *deflt;   /* in inner */
	OSSL_PROVIDER *ours;    /* in the default library context */
	OSSL_ALGORITHM *kept[3]; /* keymgmt, encoder, decoder */
	bool ok;
} g;

/* The first name of an algorithm ("EC:id-ecPublicKey:1.2.840...") is
 * one of keep[]. */
static bool kept_name(const char *names)
{
	size_t n = strcspn(names, ":");

	for (size_t i = 0; keep[i]; i++) {
		if (strlen(keep[i]) == n && strncmp(names, keep[i], n) == 0) {
			return true;
		}
	}
	return false;
}

static int filtered_index(int op)
{
	switch (op) {
	case OSSL_OP_KEYMGMT:
		return 0;
	case OSSL_OP_ENCODER:
		return 1;
	case OSSL_OP_DECODER:
		return 2;
	default:
		return -1;
	}
}

/* The kept entries of the default provider's table for op (terminated
 * like it), or NULL. */
static OSSL_ALGORITHM *filter(int op)
{
	int no_cache = 0;
	const OSSL_ALGORITHM *a =
	        OSSL_PROVIDER_query_operation(g.deflt, op, &no_cache);
	OSSL_ALGORITHM *out;
	size_t n = 0, k = 0;

	if (!a) {
		return NULL;
	}
	while (a[n].algorithm_names) {
		n++;
	}
	out = calloc(n + 1, sizeof(*out));
	for (size_t i = 0; out && i < n; i++) {
		if (kept_name(a[i].algorithm_names)) {
			out[k++] = a[i];
		}
	}
	/* the entries point at the provider's static tables */
	OSSL_PROVIDER_unquery_operation(g.deflt, op, a);
	return out;
}

static const OSSL_ALGORITHM *query(void *provctx, int op, int *no_cache)
{
	int i = filtered_index(op);

	(void)provctx;
	if (i < 0) {
		return OSSL_PROVIDER_query_operation(g.deflt, op, no_cache);
	}
	*no_cache = 0;
	return g.kept[i];
}

static void unquery(void *provctx, int op, const OSSL_ALGORITHM *algs)
{
	(void)provctx;
	if (filtered_index(op) < 0) {
		OSSL_PROVIDER_unquery_operation(g.deflt, op, algs);
	}
}

/* TLS asks each provider for its groups ("TLS-GROUP"). */
static int capabilities(void *provctx, const char *capability,
                        OSSL_CALLBACK *cb, void *arg)
{
	(void)provctx;
	return OSSL_PROVIDER_get_capabilities(g.deflt, capability, cb, arg);
}

static const OSSL_PARAM *gettable(void *provctx)
{
	static const OSSL_PARAM p[] = {
	        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_NAME, OSSL_PARAM_UTF8_PTR, NULL,
	                        0),
	        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_STATUS, OSSL_PARAM_INTEGER,
	                        NULL, 0),
	        OSSL_PARAM_END,
	};

	(void)provctx;
	return p;
}

static int get_params(void *provctx, OSSL_PARAM params[])
{
	OSSL_PARAM *p;

	(void)provctx;
	p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME);
	if (p && !OSSL_PARAM_set_utf8_ptr(p, PROV_NAME)) {
		return 0;
	}
	p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS);
	if (p && !OSSL_PARAM_set_int(p, 1)) {
		return 0;
	}
	return 1;
}

static const OSSL_DISPATCH dispatch[] = {
        {OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))query},
        {OSSL_FUNC_PROVIDER_UNQUERY_OPERATION, (void (*)(void))unquery},
        {OSSL_FUNC_PROVIDER_GET_CAPABILITIES, (void (*)(void))capabilities},
        {OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, (void (*)(void))gettable},
        {OSSL_FUNC_PROVIDER_GET_PARAMS, (void (*)(void))get_params},
        {0, NULL},
};

static int prov_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                     const OSSL_DISPATCH **out, void **provctx)
{
	(void)handle;
	(void)in;
	/* the default provider's context: its functions get their own */
	*provctx = OSSL_PROVIDER_get0_provider_ctx(g.deflt);
	*out = dispatch;
	return 1;
}

static void init_once(void)
{
	g.inner = OSSL_LIB_CTX_new();
	g.deflt = g.inner ? OSSL_PROVIDER_load(g.inner, "default") : NULL;
	if (!g.deflt) {
		return;
	}
	g.kept[0] = filter(OSSL_OP_KEYMGMT);
	g.kept[1] = filter(OSSL_OP_ENCODER);
	g.kept[2] = filter(OSSL_OP_DECODER);
	if (!g.kept[0] || !g.kept[1] || !g.kept[2] ||
	    OSSL_PROVIDER_add_builtin(NULL, PROV_NAME, prov_init) != 1) {
		return;
	}
	g.ours = OSSL_PROVIDER_load(NULL, PROV_NAME);
	g.ok = g.ours != NULL;
}

int pki_ossl_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, init_once);
	return g.ok ? 0 : -TL_ECRYPTO;
}
