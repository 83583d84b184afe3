/* Private to src/enroll: the blocking TLS connection both clients use. */
#ifndef TL_ENROLL_INT_H
#define TL_ENROLL_INT_H

#include "enroll/enroll_cli.h"

/* TLS connect to host:port with the client context tls (a reference is
 * taken), or a new one checking the server against ca_file, with an
 * optional client certificate (cert and key borrowed). */
int enroll_tls_connect(struct capf_cli_conn **out, struct net_tls *tls,
                       const char *host, uint16_t port, const char *ca_file,
                       X509 *cert, EVP_PKEY *key,
                       unsigned timeout_ms) TL_MUST_CHECK;
/* Some bytes (at least one): -ENOTCONN at the end, -ETIMEDOUT. */
int enroll_tls_read(struct capf_cli_conn *k, uint8_t *p, size_t n,
                    size_t *got) TL_MUST_CHECK;

/* Write x as PEM to path, 0600, atomically: the phone's LSC is for its
 * own use only. */
int enroll_cert_store(const char *path, X509 *x) TL_MUST_CHECK;

#endif
