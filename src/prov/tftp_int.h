/* Helpers shared by the TFTP server and client; private to src/prov. */
#ifndef TL_TFTP_INT_H
#define TL_TFTP_INT_H

#include "base/tl_err.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* A numeric IPv4 or IPv6 address (no brackets) and a port. */
int tftp_addr_set(struct sockaddr_storage *ss, socklen_t *len, const char *host,
                  uint16_t port) TL_MUST_CHECK;
uint16_t tftp_addr_port(const struct sockaddr_storage *ss);
/* Same family and address, ports ignored. */
bool tftp_addr_eq_host(const struct sockaddr_storage *a,
                       const struct sockaddr_storage *b);
/* A non-blocking close-on-exec UDP socket bound to local (port as given). */
int tftp_udp_socket(const struct sockaddr_storage *local,
                    socklen_t len) TL_MUST_CHECK;

#endif
