/* TLS contexts: protocol and cipher policy, certificates, trust anchors,
 * CRL, client certificate policy, the verify hook and the key log. */
#include "base/log.h"
#include "net/net_int.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* TLS 1.2: forward secrecy (ECDHE) and AEAD only (RFC 7525 §4.2 as updated
 * by RFC 9325 §4.2). TLS 1.3 suites are all AEAD (RFC 8446 §9.1). */
static const char tls12_ciphers[] =
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
        "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
        "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
static const char tls13_suites[] =
        "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
        "TLS_CHACHA20_POLY1305_SHA256";
static const char tls_groups[] = "X25519:P-256:P-384";

static void log_ssl_errors(const char *what)
{
	unsigned long e = ERR_get_error();
	char msg[256];

	if (e == 0) {
		log_err("net", "%s", what);
		return;
	}
	ERR_error_string_n(e, msg, sizeof(msg));
	log_err("net", "%s: %s", what, msg);
	ERR_clear_error();
}

/* NSS key log format (one "LABEL client_random secret" line per secret),
 * as SSLKEYLOGFILE in NSS and OpenSSL's s_client -keylogfile. */
static void keylog_cb(const SSL *ssl, const char *line)
{
	struct net_tls *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));

	if (t == NULL || t->keylog == NULL) {
		return;
	}
	fputs(line, t->keylog);
	fputc('\n', t->keylog);
	fflush(t->keylog);
}

/* crl_missing_ok: an issuer without a CRL is not an error; every other
 * error stands. */
static int crl_soft_cb(int ok, X509_STORE_CTX *sctx)
{
	if (!ok &&
	    X509_STORE_CTX_get_error(sctx) == X509_V_ERR_UNABLE_TO_GET_CRL) {
		return 1;
	}
	return ok;
}

/* The SSL ex-data slot that names the derived context an SSL was made
 * from (its verify hook is not the SSL_CTX's). */
static pthread_once_t derived_once = PTHREAD_ONCE_INIT;
static int derived_idx = -1;

static void derived_idx_init(void)
{
	derived_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* Replaces OpenSSL's chain check so the hook sees the chain result and
 * has the last word for the leaf. */
static int cert_verify_cb(X509_STORE_CTX *sctx, void *arg)
{
	struct net_tls *t = arg;
	SSL *ssl = X509_STORE_CTX_get_ex_data(
	        sctx, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct net_conn *c = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
	struct net_tls *d = ssl != NULL && derived_idx >= 0
	                            ? SSL_get_ex_data(ssl, derived_idx)
	                            : NULL;
	X509 *leaf = X509_STORE_CTX_get0_cert(sctx);
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_untrusted(sctx);
	int pre, ok;

	if (d != NULL) {
		t = d;
	}
	if (t->crl_missing_ok) {
		X509_STORE_CTX_set_verify_cb(sctx, crl_soft_cb);
	}
	pre = X509_verify_cert(sctx) == 1 ? 1 : 0;
	ok = pre;
	if (t->verify_h != NULL && leaf != NULL) {
		ok = t->verify_h(leaf, chain, pre, t->verify_arg) == 1 ? 1 : 0;
	}
	if (ok) {
		X509_STORE_CTX_set_error(sctx, X509_V_OK);
		if (c != NULL) {
			c->verified = true;
		}
		return 1;
	}
	/* refused by the hook: a certificate alert (bad_certificate), so
	 * the peer learns that its certificate was the problem */
	if (pre || X509_STORE_CTX_get_error(sctx) == X509_V_OK) {
		X509_STORE_CTX_set_error(sctx, X509_V_ERR_CERT_REJECTED);
	}
	return 0;
}

/* The chain each certificate is sent with, built once here. Left to
 * itself OpenSSL builds it in every handshake (a chain verification from
 * the context's trust store, signatures included) and sends the root
 * with it. A built chain stops at the root, which a peer must hold as an
 * anchor anyway (RFC 8446 §4.4.2: it may be omitted); a chain given in
 * the configuration is kept as given. Per-connection certificates
 * (net_tls_new_derived) come with their chain: no context builds one. */
static void fix_chains(SSL_CTX *ctx)
{
	/* an incomplete chain is sent as far as it goes: the peer's check
	 * decides */
	const int flags = SSL_BUILD_CHAIN_FLAG_NO_ROOT |
	                  SSL_BUILD_CHAIN_FLAG_IGNORE_ERROR |
	                  SSL_BUILD_CHAIN_FLAG_CLEAR_ERROR;
	int more = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_FIRST);

	for (; more == 1;
	     more = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_NEXT)) {
		STACK_OF(X509) *chain = NULL;
		if (SSL_CTX_get0_chain_certs(ctx, &chain) == 1 &&
		    sk_X509_num(chain) <= 0) {
			(void)SSL_CTX_build_cert_chain(ctx, flags);
		}
	}
	ERR_clear_error();
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
}

static TL_MUST_CHECK int use_cert_key(SSL_CTX *ctx, const char *cert_file,
                                      const char *key_file, X509 *cert,
                                      STACK_OF(X509) * chain, EVP_PKEY *key,
                                      const char *which)
{
	if (cert != NULL && key != NULL) {
		if (SSL_CTX_use_cert_and_key(ctx, cert, key, chain, 1) != 1) {
			log_ssl_errors(which);
			return -TL_ECONFIG;
		}
		return 0;
	}
	if (cert != NULL) {
		if (SSL_CTX_use_certificate(ctx, cert) != 1) {
			log_ssl_errors(which);
			return -TL_ECONFIG;
		}
		if (chain != NULL && SSL_CTX_set1_chain(ctx, chain) != 1) {
			log_ssl_errors(which);
			return -TL_ECONFIG;
		}
	} else if (cert_file != NULL) {
		if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
			log_ssl_errors(which);
			return -TL_ECONFIG;
		}
	} else {
		return -TL_ECONFIG;
	}
	if (key != NULL) {
		if (SSL_CTX_use_PrivateKey(ctx, key) != 1) {
			log_ssl_errors(which);
			return -TL_ECONFIG;
		}
	} else if (key_file != NULL) {
		if (SSL_CTX_use_PrivateKey_file(ctx, key_file,
		                                SSL_FILETYPE_PEM) != 1) {
			log_ssl_errors(which);
			return -TL_ECONFIG;
		}
	} else {
		log_err("net", "%s: certificate without a key", which);
		return -TL_ECONFIG;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		log_ssl_errors(which);
		return -TL_ECONFIG;
	}
	return 0;
}

static TL_MUST_CHECK int load_crl(SSL_CTX *ctx, const char *crl_file)
{
	X509_STORE *st = SSL_CTX_get_cert_store(ctx);
	X509_LOOKUP *lk = X509_STORE_add_lookup(st, X509_LOOKUP_file());

	if (lk == NULL ||
	    X509_load_crl_file(lk, crl_file, X509_FILETYPE_PEM) <= 0) {
		log_ssl_errors("net: CRL file");
		return -TL_ECONFIG;
	}
	/* Revoked peers are refused (DESIGN: Security model). */
	X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
	return 0;
}

/* Every CRL in a PEM file (one per issuing CA), or NULL with none. */
static STACK_OF(X509_CRL) * read_crls(const char *crl_file)
{
	STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
	BIO *bio = BIO_new_file(crl_file, "r");
	X509_CRL *crl;

	if (crls == NULL || bio == NULL) {
		goto fail;
	}
	while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL) {
		if (sk_X509_CRL_push(crls, crl) <= 0) {
			X509_CRL_free(crl);
			goto fail;
		}
	}
	/* the loop ends on "no start line" at the end of the file; any
	 * other error is a damaged file */
	if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE ||
	    sk_X509_CRL_num(crls) == 0) {
		goto fail;
	}
	ERR_clear_error();
	BIO_free(bio);
	return crls;
fail:
	BIO_free(bio);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	return NULL;
}

int net_tls_reload_crl(struct net_tls *t, const char *crl_file)
{
	STACK_OF(X509_CRL) * crls;
	X509_STORE *st;
	STACK_OF(X509_OBJECT) * objs;
	int i, err = 0;

	if (t == NULL || crl_file == NULL) {
		return -EINVAL;
	}
	/* Verify before we mutate: a damaged or half-written file leaves
	 * the CRLs in force as they are. */
	crls = read_crls(crl_file);
	if (crls == NULL) {
		log_ssl_errors("net: CRL reload");
		return -TL_ECONFIG;
	}
	st = SSL_CTX_get_cert_store(t->ctx);
	/* The store is shared by the context's future handshakes; a
	 * handshake verifies its peer within one call on the loop thread,
	 * so between two calls the swap is atomic for it. The lock guards
	 * against a lookup on another thread (e.g. EST's evhttp). */
	if (X509_STORE_lock(st) != 1) {
		sk_X509_CRL_pop_free(crls, X509_CRL_free);
		return -TL_ECRYPTO;
	}
	objs = X509_STORE_get0_objects(st);
	for (i = sk_X509_OBJECT_num(objs) - 1; i >= 0; i--) {
		X509_OBJECT *o = sk_X509_OBJECT_value(objs, i);
		if (X509_OBJECT_get_type(o) == X509_LU_CRL) {
			(void)sk_X509_OBJECT_delete(objs, i);
			X509_OBJECT_free(o);
		}
	}
	X509_STORE_unlock(st);
	for (i = 0; i < sk_X509_CRL_num(crls); i++) {
		if (X509_STORE_add_crl(st, sk_X509_CRL_value(crls, i)) != 1) {
			log_ssl_errors("net: CRL reload");
			err = -TL_ECRYPTO;
		}
	}
	/* Revoked peers are refused (DESIGN: Security model), also when
	 * the first CRL arrives after the start. */
	X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	return err;
}

static TL_MUST_CHECK int open_keylog(struct net_tls *t, const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0) {
		int err = -errno;
		log_err("net", "key log file %s: %s", path, tl_strerror(err));
		return err;
	}
	t->keylog = fdopen(fd, "a");
	if (t->keylog == NULL) {
		int err = -errno;
		close(fd);
		return err;
	}
	log_warn("net", "TLS key log enabled: traffic can be decrypted");
	return 0;
}

int net_tls_new(struct net_tls **out, const struct net_tls_conf *conf)
{
	struct net_tls *t = NULL;
	bool server;
	int minv, maxv, mode, err;

	*out = NULL;
	if (conf == NULL) {
		return -EINVAL;
	}
	server = conf->role == NET_TLS_SERVER;
	minv = conf->min_version == 0 ? TLS1_2_VERSION : conf->min_version;
	maxv = conf->max_version == 0 ? TLS1_3_VERSION : conf->max_version;
	if (minv < TLS1_2_VERSION || minv > TLS1_3_VERSION || maxv < minv ||
	    maxv > TLS1_3_VERSION) {
		log_err("net", "TLS versions: only 1.2 and 1.3 are allowed");
		return -TL_ECONFIG;
	}
	if (!server && conf->ca_file == NULL && conf->ca_certs == NULL &&
	    conf->verify_h == NULL) {
		log_err("net", "TLS client needs a CA file or a verify hook");
		return -TL_ECONFIG;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		return -ENOMEM;
	}
	t->refs = 1;
	t->role = conf->role;
	t->verify_h = conf->verify_h;
	t->verify_arg = conf->verify_arg;
	t->crl_missing_ok = conf->crl_missing_ok;
	t->ctx =
	        SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (t->ctx == NULL) {
		err = -ENOMEM;
		goto out;
	}
	SSL_CTX_set_app_data(t->ctx, t);
	err = -TL_ECRYPTO;
	if (SSL_CTX_set_min_proto_version(t->ctx, minv) != 1 ||
	    SSL_CTX_set_max_proto_version(t->ctx, maxv) != 1 ||
	    SSL_CTX_set_cipher_list(t->ctx, tls12_ciphers) != 1 ||
	    SSL_CTX_set_ciphersuites(t->ctx, tls13_suites) != 1 ||
	    SSL_CTX_set1_groups_list(t->ctx, tls_groups) != 1) {
		log_ssl_errors("net: TLS policy");
		goto out;
	}
	SSL_CTX_set_options(t->ctx, SSL_OP_NO_COMPRESSION |
	                                    SSL_OP_NO_RENEGOTIATION |
	                                    SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (server) {
		/* No resumption: every connection verifies its peer again,
		 * and identity always comes from a checked certificate. */
		SSL_CTX_set_options(t->ctx, SSL_OP_NO_TICKET);
		SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_num_tickets(t->ctx, 0);
	}
	SSL_CTX_set_mode(t->ctx, SSL_MODE_RELEASE_BUFFERS);

	err = -TL_ECONFIG;
	if (conf->cert != NULL || conf->cert_file != NULL) {
		err = use_cert_key(t->ctx, conf->cert_file, conf->key_file,
		                   conf->cert, conf->chain, conf->key,
		                   "net: certificate");
		if (err) {
			goto out;
		}
	} else if (server) {
		log_err("net", "TLS server needs a certificate");
		goto out;
	}
	if (conf->cert2 != NULL || conf->cert2_file != NULL) {
		err = use_cert_key(t->ctx, conf->cert2_file, conf->key2_file,
		                   conf->cert2, conf->chain2, conf->key2,
		                   "net: second certificate");
		if (err) {
			goto out;
		}
	}
	err = -TL_ECONFIG;
	if (conf->ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(t->ctx, conf->ca_file,
		                                  NULL) != 1) {
			log_ssl_errors("net: CA file");
			goto out;
		}
		if (server && conf->client_auth != NET_TLS_CLIENT_CERT_NONE) {
			STACK_OF(X509_NAME) *names =
			        SSL_load_client_CA_file(conf->ca_file);
			if (names != NULL) {
				SSL_CTX_set_client_CA_list(t->ctx, names);
			}
		}
	}
	for (int i = 0; conf->ca_certs != NULL && i < sk_X509_num(conf->ca_certs);
	     i++) {
		X509 *a = sk_X509_value(conf->ca_certs, i);

		if (X509_STORE_add_cert(SSL_CTX_get_cert_store(t->ctx), a) !=
		            1 ||
		    (server && conf->client_auth != NET_TLS_CLIENT_CERT_NONE &&
		     SSL_CTX_add_client_CA(t->ctx, a) != 1)) {
			log_ssl_errors("net: CA certificate");
			goto out;
		}
	}
	if (conf->crl_file != NULL) {
		err = load_crl(t->ctx, conf->crl_file);
		if (err) {
			goto out;
		}
	}
	if (server) {
		switch (conf->client_auth) {
		case NET_TLS_CLIENT_CERT_NONE:
			mode = SSL_VERIFY_NONE;
			break;
		case NET_TLS_CLIENT_CERT_OPTIONAL:
			mode = SSL_VERIFY_PEER;
			break;
		case NET_TLS_CLIENT_CERT_REQUIRED:
			mode = SSL_VERIFY_PEER |
			       SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
			break;
		default:
			err = -TL_ECONFIG;
			goto out;
		}
	} else {
		mode = SSL_VERIFY_PEER;
	}
	SSL_CTX_set_verify(t->ctx, mode, NULL);
	SSL_CTX_set_cert_verify_callback(t->ctx, cert_verify_cb, t);
	fix_chains(t->ctx);
	if (conf->keylog_file != NULL) {
		err = open_keylog(t, conf->keylog_file);
		if (err) {
			goto out;
		}
		SSL_CTX_set_keylog_callback(t->ctx, keylog_cb);
	}
	*out = t;
	t = NULL;
	err = 0;
out:
	net_tls_unref(t);
	return err;
}

int net_tls_new_derived(struct net_tls **out, struct net_tls *base,
                        const struct net_tls_conf *conf)
{
	struct net_tls *t;

	*out = NULL;
	if (base == NULL || conf == NULL || base->role != NET_TLS_CLIENT ||
	    base->base != NULL || (conf->cert == NULL) != (conf->key == NULL)) {
		return -EINVAL;
	}
	if (conf->cert != NULL && X509_check_private_key(conf->cert,
	                                                 conf->key) != 1) {
		log_ssl_errors("net: certificate and key do not match");
		return -TL_ECONFIG;
	}
	pthread_once(&derived_once, derived_idx_init);
	if (derived_idx < 0 || SSL_CTX_up_ref(base->ctx) != 1) {
		return -ENOMEM;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		SSL_CTX_free(base->ctx);
		return -ENOMEM;
	}
	t->refs = 1;
	t->role = NET_TLS_CLIENT;
	t->ctx = base->ctx;
	t->base = net_tls_ref(base);
	t->verify_h = conf->verify_h ? conf->verify_h : base->verify_h;
	t->verify_arg = conf->verify_h ? conf->verify_arg : base->verify_arg;
	t->crl_missing_ok = base->crl_missing_ok;
	if (conf->cert != NULL) {
		X509_up_ref(conf->cert);
		t->id_cert = conf->cert;
		EVP_PKEY_up_ref(conf->key);
		t->id_key = conf->key;
		if (conf->chain != NULL) {
			t->id_chain = X509_chain_up_ref(conf->chain);
			if (t->id_chain == NULL) {
				net_tls_unref(t);
				return -ENOMEM;
			}
		}
	}
	*out = t;
	return 0;
}

struct net_tls *net_tls_ref(struct net_tls *t)
{
	if (t != NULL) {
		atomic_fetch_add(&t->refs, 1);
	}
	return t;
}

void net_tls_unref(struct net_tls *t)
{
	if (t == NULL || atomic_fetch_sub(&t->refs, 1) > 1) {
		return;
	}
	SSL_CTX_free(t->ctx);
	if (t->keylog != NULL) {
		fclose(t->keylog);
	}
	X509_free(t->id_cert);
	sk_X509_pop_free(t->id_chain, X509_free);
	EVP_PKEY_free(t->id_key);
	net_tls_unref(t->base);
	free(t);
}

enum net_tls_role net_tls_role(const struct net_tls *t)
{
	return t->role;
}

int net_tls_ssl_new(struct net_tls *t, SSL **out)
{
	SSL *ssl = SSL_new(t->ctx);

	*out = NULL;
	if (ssl == NULL) {
		log_ssl_errors("net: SSL_new");
		return -ENOMEM;
	}
	if (t->base != NULL) {
		if (SSL_set_ex_data(ssl, derived_idx, t) != 1 ||
		    (t->id_cert != NULL &&
		     SSL_use_cert_and_key(ssl, t->id_cert, t->id_key,
		                          t->id_chain, 1) != 1)) {
			log_ssl_errors("net: per-connection certificate");
			SSL_free(ssl);
			return -TL_ECRYPTO;
		}
	}
	*out = ssl;
	return 0;
}

SSL_CTX *net_tls_ssl_ctx(const struct net_tls *t)
{
	return t->ctx;
}

int net_tls_cert_cn(X509 *x, char *dst, size_t len)
{
	X509_NAME *nm;
	unsigned char *utf8 = NULL;
	int idx, n, err;

	if (len > 0) {
		dst[0] = '\0';
	}
	if (x == NULL) {
		return -EINVAL;
	}
	nm = X509_get_subject_name(x);
	idx = X509_NAME_get_index_by_NID(nm, NID_commonName, -1);
	if (idx < 0) {
		return -TL_ENOTFOUND;
	}
	/* an identity must not be ambiguous */
	if (X509_NAME_get_index_by_NID(nm, NID_commonName, idx) >= 0) {
		return -TL_EDUP;
	}
	n = ASN1_STRING_to_UTF8(
	        &utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, idx)));
	if (n < 0) {
		return -TL_EPARSE;
	}
	if (strlen((char *)utf8) != (size_t)n) {
		err = -TL_EPARSE;
	} else if ((size_t)n >= len) {
		err = -TL_ETOOBIG;
	} else {
		memcpy(dst, utf8, (size_t)n + 1);
		err = 0;
	}
	OPENSSL_free(utf8);
	return err;
}
