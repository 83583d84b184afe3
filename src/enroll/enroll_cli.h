/* The enrolment client used by the phone agent (docs/capf.md): Cisco's
 * CAPF protocol (capf_cli_*) and EST, RFC 7030 (est_cli_*). Both generate
 * the phone's key pair (P-256 unless the server asks otherwise), prove the
 * configured credentials (auth string, none, or a certificate and its
 * key), and store the LSC and its key (both 0600) atomically.
 *
 * These calls block, bounded by timeout_ms per read or write: run them
 * from a worker thread, not from an event loop. */
#ifndef TL_ENROLL_CLI_H
#define TL_ENROLL_CLI_H

#include "base/buf.h"
#include "base/tl_err.h"
#include "net/net_tls.h"
#include "pki/pki.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdint.h>

struct capf_cli_conf {
	const char *host; /* numeric address */
	uint16_t port;
	/* Trust anchors for the server certificate (the site CA, or the
	 * CAPF certificate of the CTL). Required. */
	const char *ca_file;
	const char *device;      /* SEP<MAC> */
	const char *auth_string; /* auth string mode; NULL: none */
	/* Certificate modes (LSC, MIC) and fetch: the certificate the phone
	 * holds and its private key (borrowed; NULL: none). */
	X509 *cert;
	EVP_PKEY *cert_key;
	/* Where to store a new LSC and its key; a delete removes them.
	 * NULL: not written. */
	const char *cert_out;
	const char *key_out;
	/* Write cert_out and key_out atomically but without fsync (a fleet
	 * of simulated phones sharing one disk; docs/phone.md). */
	bool no_sync;
	unsigned timeout_ms; /* 0: 10000 */
	/* Optional: a TLS client context made once and reused (net_tls_new
	 * with NET_TLS_CLIENT and ca_file); OpenSSL 3 makes a context far
	 * more slowly than a handshake. Its verify hook can pin the CAPF
	 * certificate of the CTL instead of a CA. NULL: one per session
	 * from ca_file. */
	struct net_tls *tls;
};

enum capf_cli_done {
	CAPF_CLI_NONE = 0,  /* the server had nothing to do */
	CAPF_CLI_INSTALLED, /* a new LSC */
	CAPF_CLI_FETCHED,   /* our certificate was sent */
	CAPF_CLI_DELETED,   /* the LSC was dropped */
};

struct capf_cli_result {
	enum capf_cli_done done;
	uint8_t reason; /* END_SESSION REASON */
	X509 *lsc;      /* installed: the new LSC (owned) */
	EVP_PKEY *key;  /* installed: its key (owned) */
};

/* One CAPF session. 0 when it ended with END_SESSION (r->reason tells
 * whether the server refused: 9, or had nothing to do: 0); -TL_EAUTH
 * when the server refused us; -TL_ETRUST for a server certificate we do
 * not trust; -TL_EPARSE for a bad server message; -ETIMEDOUT; ... */
int capf_cli_run(const struct capf_cli_conf *c,
                 struct capf_cli_result *r) TL_MUST_CHECK;
void capf_cli_result_clear(struct capf_cli_result *r);

/* A raw CAPF connection (tests, tools): TLS connect with the server
 * checked, then whole messages in and out. recv: -ENOTCONN when the
 * server closed, -ETIMEDOUT. */
struct capf_cli_conn;
int capf_cli_connect(struct capf_cli_conn **out,
                     const struct capf_cli_conf *c) TL_MUST_CHECK;
int capf_cli_send(struct capf_cli_conn *k, const uint8_t *p,
                  size_t len) TL_MUST_CHECK;
int capf_cli_recv(struct capf_cli_conn *k, struct buf *msg) TL_MUST_CHECK;
void capf_cli_close(struct capf_cli_conn *k);

/* ---- EST (RFC 7030 §4.2): simpleenroll / simplereenroll ---- */

struct est_cli_conf {
	const char *host; /* numeric address */
	uint16_t port;
	const char *ca_file; /* trust anchors for the server (required) */
	const char *device;  /* SEP<MAC>: the CSR's CN, the Basic user */
	/* auth string mode: sent as the HTTP Basic password and the CSR's
	 * challengePassword; NULL: none */
	const char *auth_string;
	/* TLS client certificate (LSC or MIC modes, reenroll) and key
	 * (borrowed; NULL: none). */
	X509 *cert;
	EVP_PKEY *cert_key;
	bool reenroll;        /* simplereenroll instead of simpleenroll */
	enum pki_alg key_alg; /* the new key: P-256 by default */
	const char *cert_out, *key_out; /* as for CAPF; NULL: not written */
	unsigned timeout_ms;            /* 0: 10000 */
	/* Optional reused client context (with the client certificate in
	 * it, if any): as for CAPF. */
	struct net_tls *tls;
	/* Leave r->lsc NULL: the LSC is only in r->lsc_der, checked for its
	 * subject and key but not decoded, for a caller that stores it and
	 * decodes it when it uses it. OpenSSL 3.0 decodes a certificate's
	 * key at the cost of several signatures. */
	bool lsc_der_only;
};

struct est_cli_result {
	int status;         /* the HTTP status (0: none received) */
	X509 *lsc;          /* 200: the new LSC (owned), unless lsc_der_only */
	EVP_PKEY *key;      /* 200: its key (owned) */
	struct buf lsc_der; /* 200: the new LSC's DER */
};

/* 0 with an LSC on 200; -TL_EAUTH on 401, -TL_EPOLICY on 403, -TL_EPARSE
 * on 400 or a bad answer, -TL_ETRUST for a server we do not trust, ... */
int est_cli_enroll(const struct est_cli_conf *c,
                   struct est_cli_result *r) TL_MUST_CHECK;
void est_cli_result_clear(struct est_cli_result *r);

#endif
