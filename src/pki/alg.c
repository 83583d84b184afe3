/* Key algorithms, key generation and the policy for keys we accept. */
#include "pki/pki.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct alg_name {
	const char *name;
	enum pki_alg alg;
};

static const struct alg_name alg_names[] = {
        {"p256", PKI_ALG_P256},       {"ec", PKI_ALG_P256},
        {"ec-p256", PKI_ALG_P256},    {"prime256v1", PKI_ALG_P256},
        {"p384", PKI_ALG_P384},       {"ec-p384", PKI_ALG_P384},
        {"secp384r1", PKI_ALG_P384},  {"rsa2048", PKI_ALG_RSA2048},
        {"rsa", PKI_ALG_RSA2048},     {"rsa3072", PKI_ALG_RSA3072},
        {"rsa4096", PKI_ALG_RSA4096},
};

int pki_alg_parse(const char *s, enum pki_alg *out)
{
	for (size_t i = 0; i < sizeof(alg_names) / sizeof(alg_names[0]); i++) {
		if (!strcmp(s, alg_names[i].name)) {
			*out = alg_names[i].alg;
			return 0;
		}
	}
	return -TL_EUNKNOWN;
}

const char *pki_alg_name(enum pki_alg alg)
{
	switch (alg) {
	case PKI_ALG_P256:
		return "p256";
	case PKI_ALG_P384:
		return "p384";
	case PKI_ALG_RSA2048:
		return "rsa2048";
	case PKI_ALG_RSA3072:
		return "rsa3072";
	case PKI_ALG_RSA4096:
		return "rsa4096";
	}
	return "?";
}

/* EC key generation contexts, one per curve and thread, kept: making one
 * (as EVP_PKEY_Q_keygen does for every key) costs more than the P-256 key
 * itself. Freed when the thread ends. */
struct keygen_ctxs {
	EVP_PKEY_CTX *ec[2]; /* P-256, P-384 */
};

static pthread_key_t kg_key;
static pthread_once_t kg_once = PTHREAD_ONCE_INIT;
static bool kg_key_ok;

static void kg_drop(void *v)
{
	struct keygen_ctxs *k = v;

	if (k) {
		EVP_PKEY_CTX_free(k->ec[0]);
		EVP_PKEY_CTX_free(k->ec[1]);
		free(k);
	}
}

static void kg_init(void)
{
	kg_key_ok = pthread_key_create(&kg_key, kg_drop) == 0;
}

static EVP_PKEY *ec_keygen(size_t i, const char *group)
{
	struct keygen_ctxs *k = NULL;
	EVP_PKEY *out = NULL;

	pthread_once(&kg_once, kg_init);
	if (kg_key_ok) {
		k = pthread_getspecific(kg_key);
		if (!k && (k = calloc(1, sizeof(*k))) != NULL &&
		    pthread_setspecific(kg_key, k) != 0) {
			free(k);
			k = NULL;
		}
	}
	if (!k) {
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", group);
	}
	if (!k->ec[i]) {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
		if (!c || EVP_PKEY_keygen_init(c) != 1 ||
		    EVP_PKEY_CTX_set_group_name(c, group) != 1) {
			EVP_PKEY_CTX_free(c);
			return NULL;
		}
		k->ec[i] = c;
	}
	if (EVP_PKEY_generate(k->ec[i], &out) != 1) {
		EVP_PKEY_free(out);
		return NULL;
	}
	return out;
}

int pki_keygen(EVP_PKEY **out, enum pki_alg alg)
{
	*out = NULL;
	switch (alg) {
	case PKI_ALG_P256:
		*out = ec_keygen(0, "P-256");
		break;
	case PKI_ALG_P384:
		*out = ec_keygen(1, "P-384");
		break;
	case PKI_ALG_RSA2048:
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		break;
	case PKI_ALG_RSA3072:
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
		break;
	case PKI_ALG_RSA4096:
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
		break;
	default:
		return -TL_EUNKNOWN;
	}
	return *out ? 0 : -TL_ECRYPTO;
}

int pki_key_policy(EVP_PKEY *pub)
{
	char group[32];
	size_t glen = 0;
	int bits;

	if (!pub) {
		return -EINVAL;
	}
	bits = EVP_PKEY_get_bits(pub);
	switch (EVP_PKEY_get_base_id(pub)) {
	case EVP_PKEY_RSA:
		return (bits >= 2048 && bits <= 4096) ? 0 : -TL_EPOLICY;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_utf8_string_param(
		            pub, OSSL_PKEY_PARAM_GROUP_NAME, group,
		            sizeof(group), &glen) != 1) {
			return -TL_EPOLICY;
		}
		return (!strcmp(group, "prime256v1") ||
		        !strcmp(group, "secp384r1"))
		               ? 0
		               : -TL_EPOLICY;
	default:
		return -TL_EPOLICY;
	}
}
