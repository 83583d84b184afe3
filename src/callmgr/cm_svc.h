/* The SIP service of `trustline serve`: listeners on UDP, TCP and TLS, the
 * transaction layer, and the transaction user that answers OPTIONS,
 * REGISTER (cm_reg) and refuses what this server does not do, following
 * RFC 3261 §8.2 in order: method, Request-URI scheme, Require, body.
 *
 * Ownership: cm_svc_new returns an object freed with cm_svc_free (NULL is
 * a no-op); base and store are borrowed. */
#ifndef TL_CM_SVC_H
#define TL_CM_SVC_H

#include "base/tl_err.h"
#include "net/net.h"
#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct cm_svc;

struct cm_svc_conf {
	const char *listen; /* numeric address, e.g. "127.0.0.1", "::" */
	uint16_t port;      /* UDP and TCP */
	uint16_t tls_port;  /* 0: no TLS listener */
	const char *realm;  /* digest realm */
	/* TLS server certificate chain and key (PEM files), optional
	 * second (EC) pair, trust anchors for client certificates (site CA
	 * and manufacturer CA), CRL. */
	const char *cert_file, *key_file;
	const char *cert2_file, *key2_file;
	const char *client_ca_file;
	/* CRL (PEM): need not exist yet; checked once a second and
	 * reloaded into the TLS listener when it changes (a revocation
	 * takes effect on the next handshake, without a restart). */
	const char *crl_file;
	const char *keylog_file; /* NULL: off */
	const char *server_name; /* Server header */
	/* Digest challenge order (see cm_reg_conf). */
	bool digest_md5_first;
	bool digest_md5_only;
	unsigned t1_ms;        /* 0: 500 */
	unsigned no_answer_ms; /* ring time before no answer, 0: 20 s */
	/* Connection limits and timeouts (trustline.conf [net]); NULL:
	 * the net layer's defaults. */
	const struct net_conf *net_conf;
};

int cm_svc_new(struct cm_svc **out, struct event_base *base, struct store *st,
               const struct cm_svc_conf *conf) TL_MUST_CHECK;
void cm_svc_free(struct cm_svc *s);

#endif
