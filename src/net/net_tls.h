/* TLS contexts for the net layer (OpenSSL 3, through bufferevent_openssl).
 *
 * Policy, not configurable: TLS 1.2 and 1.3 only; TLS 1.2 with ECDHE key
 * exchange and AEAD ciphers only (AES-GCM, CHACHA20-POLY1305); no
 * renegotiation, no compression, no session tickets for clients we do not
 * know (stateless resumption off).
 *
 * Peer checks: the CA file (and CRL file, X509_V_FLAG_CRL_CHECK) verify the
 * chain; a verify hook, when given, then decides for the leaf with the
 * chain result in preverify_ok, so that a caller can accept a certificate
 * pinned by a CTL instead of a CA chain, or refuse one the chain accepts.
 * The peer's verified identity (subject CN) is then on the connection
 * (net_conn_peer_identity).
 *
 * Ownership: refcounted; net_tls_new returns one reference, dropped with
 * net_tls_unref (NULL is a no-op). Listeners and the net take their own. */
#ifndef TL_NET_TLS_H
#define TL_NET_TLS_H

#include "base/tl_err.h"
#include "net/net.h"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

enum net_tls_role {
	NET_TLS_SERVER = 0,
	NET_TLS_CLIENT = 1,
};

/* Server side: whether to ask the client for a certificate. */
enum net_tls_client_auth {
	NET_TLS_CLIENT_CERT_NONE = 0,     /* do not ask */
	NET_TLS_CLIENT_CERT_OPTIONAL = 1, /* ask; verify when one is sent */
	NET_TLS_CLIENT_CERT_REQUIRED = 2, /* refuse a client without one */
};

/* Called once per handshake for the peer's leaf certificate, after the
 * chain was checked against the CA file and CRL: preverify_ok is 1 when
 * that check passed (always 0 without a CA file). chain is what the peer
 * sent, leaf first. Return 1 to accept, 0 to refuse (the handshake then
 * fails with a certificate alert). Without a hook, preverify_ok decides. */
typedef int net_tls_verify_h(X509 *peer, STACK_OF(X509) * chain,
                             int preverify_ok, void *arg);

struct net_tls_conf {
	enum net_tls_role role;
	/* Our certificate chain (PEM, leaf first) and key: either files or
	 * objects (borrowed; the context takes its own references). A
	 * server needs one; a client only for mutual TLS. */
	const char *cert_file;
	const char *key_file;
	X509 *cert;
	STACK_OF(X509) * chain; /* intermediates, may be NULL */
	EVP_PKEY *key;
	/* An optional second certificate of another key type on the same
	 * context (e.g. ECDSA P-256 beside RSA-2048); OpenSSL picks by the
	 * client's signature algorithms. */
	const char *cert2_file;
	const char *key2_file;
	X509 *cert2;
	STACK_OF(X509) * chain2;
	EVP_PKEY *key2;
	/* Trust anchors (PEM, may hold several) and a CRL file (PEM, may
	 * hold several: one per issuing CA). */
	const char *ca_file;
	/* Trust anchors as objects (borrowed), beside or instead of
	 * ca_file. */
	STACK_OF(X509) * ca_certs;
	const char *crl_file;
	/* With crl_file, every issuer must have its CRL there, or its
	 * certificates are refused ("unable to get certificate CRL"). Set
	 * this to accept certificates of a CA that publishes no CRL to us
	 * (a phone manufacturer's CA); a CA whose CRL is present is still
	 * checked. */
	bool crl_missing_ok;
	/* Server only. */
	enum net_tls_client_auth client_auth;
	/* Both sides. For a client, the server certificate is always
	 * checked: without ca_file or ca_certs a verify_h is required. */
	net_tls_verify_h *verify_h;
	void *verify_arg;
	/* NSS key log format (SSLKEYLOGFILE), appended; NULL: off. For
	 * debugging with Wireshark only: it lets anyone decrypt. */
	const char *keylog_file;
	/* 0: TLS 1.2 (the default floor); TLS1_3_VERSION to require 1.3.
	 * Anything below TLS 1.2 is refused. max 0: the highest (1.3). */
	int min_version;
	int max_version;
};

int net_tls_new(struct net_tls **out,
                const struct net_tls_conf *conf) TL_MUST_CHECK;
/* A client context that shares base's SSL_CTX (its policy, trust anchors,
 * CRLs and key log) but has a certificate, key and verify hook of its own,
 * set on each connection it makes: many clients in one process (a fleet
 * of phones) without an OpenSSL context each, which costs far more to
 * make than a handshake. From conf only cert, chain, key, verify_h and
 * verify_arg are used (the objects are borrowed; references are taken);
 * cert and key go together, verify_h may be NULL to keep base's hook.
 * base must be a client context that is not itself derived. */
int net_tls_new_derived(struct net_tls **out, struct net_tls *base,
                        const struct net_tls_conf *conf) TL_MUST_CHECK;
struct net_tls *net_tls_ref(struct net_tls *t);
void net_tls_unref(struct net_tls *t);

/* Replace the context's CRLs with those in crl_file (PEM, one per issuing
 * CA) for every handshake that verifies its peer from now on; connections
 * already up are not touched (the layers above drop what a revocation
 * ends). The file is read whole before anything changes: on a read or
 * parse error (-TL_ECONFIG) the CRLs in force stay. Call on the loop
 * thread. Turns CRL checking on when the context started without a CRL. */
int net_tls_reload_crl(struct net_tls *t, const char *crl_file) TL_MUST_CHECK;

enum net_tls_role net_tls_role(const struct net_tls *t);

/* The OpenSSL context (borrowed; valid while t lives), for TLS outside the
 * net layer on the same policy, e.g. an evhttp server's bufferevent
 * callback. The verify hook and key log apply there too; a peer accepted
 * by the hook has SSL_get_verify_result() == X509_V_OK. */
SSL_CTX *net_tls_ssl_ctx(const struct net_tls *t);

/* The subject CN of x as a NUL-terminated UTF-8 string, the identity a
 * connection reports: -TL_ENOTFOUND without a CN, -TL_EDUP with more than
 * one, -TL_EPARSE with a NUL inside, -TL_ETOOBIG if it does not fit. */
int net_tls_cert_cn(X509 *x, char *dst, size_t len) TL_MUST_CHECK;

#endif
