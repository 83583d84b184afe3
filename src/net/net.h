/* Network transports: UDP, TCP and TLS over IPv4 and IPv6 on a libevent 2.1
 * loop that the caller owns.
 *
 * The net layer knows nothing about SIP syntax. Upper layers give it:
 *  - a framer (net_frame_h) that finds message boundaries in a stream;
 *  - a receive callback (net_recv_h) called once per datagram and once per
 *    framed stream message;
 *  - optionally a connection event callback (net_conn_h).
 *
 * Sending: net_send() to an address on a transport. UDP goes out through a
 * listening socket; TCP and TLS reuse an open connection to the same peer
 * (connections are indexed by transport + peer address, whichever side
 * opened them) and open a new one when none exists. net_conn_send() sends
 * on a given connection.
 *
 * Ownership:
 *  - struct net is created by net_new and freed by net_free, which closes
 *    every listener and connection (no callbacks are called from net_free).
 *    net_free must not be called from inside a net callback.
 *  - struct net_conn is refcounted. The net holds one reference while the
 *    connection is open; pointers given to callbacks are borrowed for the
 *    duration of the call. Keep one with net_conn_ref() and drop it with
 *    net_conn_unref(). A closed connection stays a valid object (its
 *    accessors work, sends fail with -ENOTCONN) until its last reference
 *    goes. Every reference must be dropped before net_free.
 *  - struct net_tls (net_tls.h) is refcounted too; a listener or the net
 *    takes its own reference.
 *
 * Limits (struct net_conf, docs/net.md): idle timeout, connect timeout, TLS
 * handshake timeout, message completion timeout (slow sender), bounded
 * input and output buffers, total and per-source-IP connection limits.
 * Exceeding one closes the connection and logs one line. */
#ifndef TL_NET_H
#define TL_NET_H

#include "base/tl_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/x509.h>

struct event_base;
struct net;
struct net_conn;
struct net_tls;

enum net_transport {
	NET_UDP = 0,
	NET_TCP = 1,
	NET_TLS = 2,
};

/* "UDP", "TCP", "TLS" (as in a SIP Via), or "?" */
const char *net_transport_name(enum net_transport tp);
/* Case-insensitive "udp" / "tcp" / "tls"; -TL_EPARSE otherwise. */
int net_transport_parse(const char *s, enum net_transport *out) TL_MUST_CHECK;

/* A socket address (IPv4 or IPv6). A plain value: copy it freely. */
struct net_addr {
	struct sockaddr_storage ss;
	socklen_t len; /* 0: unset */
};

/* Longest string net_addr_fmt writes, NUL included:
 * "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255%ifname]:65535" */
#define NET_ADDR_STRLEN 72

/* Numeric host only ("127.0.0.1", "::1", "[::1]"); no name lookups. */
int net_addr_set(struct net_addr *a, const char *host,
                 uint16_t port) TL_MUST_CHECK;
/* "host:port", "[v6]:port" or a bare host (port becomes def_port). */
int net_addr_parse(struct net_addr *a, const char *s,
                   uint16_t def_port) TL_MUST_CHECK;
int net_addr_from_sa(struct net_addr *a, const struct sockaddr *sa,
                     socklen_t len) TL_MUST_CHECK;
/* AF_INET, AF_INET6, or AF_UNSPEC when unset. */
int net_addr_family(const struct net_addr *a);
uint16_t net_addr_port(const struct net_addr *a);
void net_addr_set_port(struct net_addr *a, uint16_t port);
/* Same family, address and port. */
bool net_addr_eq(const struct net_addr *a, const struct net_addr *b);
/* Same family and address; the port is ignored. */
bool net_addr_eq_host(const struct net_addr *a, const struct net_addr *b);
/* "127.0.0.1:5060", "[::1]:5061". Always NUL-terminates when len > 0. */
int net_addr_fmt(const struct net_addr *a, char *dst, size_t len) TL_MUST_CHECK;
/* The host part only: "127.0.0.1", "::1" (no brackets). */
int net_addr_fmt_host(const struct net_addr *a, char *dst,
                      size_t len) TL_MUST_CHECK;

/* Framer results. */
enum net_frame {
	NET_FRAME_MORE = 0,      /* no complete message yet: read more */
	NET_FRAME_MSG = 1,       /* a message of *msg_len bytes is at p */
	NET_FRAME_KEEPALIVE = 2, /* a keepalive of *msg_len bytes is at p */
};

/* Find the first message in a stream. p/len is all the unconsumed input so
 * far (contiguous; at most conf.max_input bytes). Return NET_FRAME_MORE,
 * NET_FRAME_MSG or NET_FRAME_KEEPALIVE with 0 < *msg_len <= len, or a
 * negative error: the connection is then closed.
 *
 * RFC 5626 §3.5.1: a keepalive of 4 bytes or more (CRLFCRLF, a "ping") is
 * answered by the net layer with a CRLF "pong"; a shorter one (a lone
 * CRLF, the "pong" itself) is not answered. Both count as activity and are
 * consumed; a pong is reported as NET_CONN_PONG. The framer is called
 * again with the same bytes (and more) while it returns NET_FRAME_MORE, so
 * it must be a pure function of its input. */
typedef int net_frame_h(const uint8_t *p, size_t len, size_t *msg_len,
                        void *arg);

/* A datagram or a framed stream message. c is NULL for UDP (borrowed
 * otherwise). src is the peer, local the address it arrived on: the
 * connection's local address, or for UDP the address the datagram was
 * sent to (also on a wildcard listener, from IP_PKTINFO/IPV6_PKTINFO).
 * msg is valid only during the call. */
typedef void net_recv_h(struct net_conn *c, const struct net_addr *src,
                        const struct net_addr *local, enum net_transport tp,
                        const uint8_t *msg, size_t len, void *arg);

enum net_conn_event {
	/* Incoming connection accepted (TCP) or handshake done (TLS);
	 * outgoing connection connected (TCP) or handshake done (TLS). */
	NET_CONN_UP = 1,
	/* Closed, for whatever reason. err: 0 for an orderly close by
	 * either side; -ETIMEDOUT (idle, connect, handshake or message
	 * timeout); -TL_ELIMIT (input or output bound); -TL_EPARSE (the
	 * framer failed); -TL_ETRUST (we refused the peer's certificate or
	 * it sent none when required); -TL_EAUTH (the peer refused ours);
	 * -TL_ECRYPTO (another TLS failure, e.g. no common version);
	 * -ECONNREFUSED, -ECONNRESET, other -errno. Called once per
	 * connection, even if it never came up. */
	NET_CONN_CLOSED = 2,
	/* A keepalive pong (lone CRLF) arrived. */
	NET_CONN_PONG = 3,
};

typedef void net_conn_h(struct net_conn *c, enum net_conn_event ev, int err,
                        void *arg);

struct net_handlers {
	net_frame_h *frame_h; /* required for TCP/TLS */
	net_recv_h *recv_h;   /* required */
	net_conn_h *conn_h;   /* optional */
	void *arg;
};

/* Times in milliseconds (but rx_batch_us); 0 disables a timer (not
 * recommended).
 * net_conf_default() fills the defaults given here. */
struct net_conf {
	/* Close a stream with no traffic in either direction for this long
	 * (default 300000: 5 min; RFC 5626 clients ping every ~2 min). */
	unsigned idle_timeout_ms;
	/* Outgoing TCP connect (default 5000). */
	unsigned connect_timeout_ms;
	/* TLS handshake, from accept/connect (default 10000). */
	unsigned handshake_timeout_ms;
	/* Slow sender: a message must be complete this long after its first
	 * byte arrived (default 10000). */
	unsigned msg_timeout_ms;
	/* Input buffer bound per connection; also the largest stream
	 * message (default 65536). A framer that still says "more" with
	 * this much buffered closes the connection. */
	size_t max_input;
	/* Output queued per connection before sends fail with -TL_ELIMIT
	 * and the connection is closed (default 1048576). */
	size_t max_output;
	/* Open connections in total, both directions (default 4096). */
	unsigned max_conns;
	/* Open incoming connections per source IP (default 128: one per
	 * phone, and a branch office's phones may share one NAT address). */
	unsigned max_conns_per_ip;
	/* Incoming connections not yet up (TLS handshakes in progress) per
	 * source IP: 0 means max_conns_per_ip (default 0). */
	unsigned max_pending_per_ip;
	/* Busy sockets are read in batches (microseconds, default 4000):
	 * a UDP listener or stream connection readable again within this
	 * time of its last read is then read every rx_batch_us on a timer
	 * instead of on each readiness event, until a read finds nothing.
	 * Several messages per wakeup, their answers sent together; a
	 * message waits at most this long, plus one tick of the loop's
	 * clock (libevent's coarse monotonic clock: 4 ms on a 250 Hz
	 * kernel). 0: read on every event. */
	unsigned rx_batch_us;
};

void net_conf_default(struct net_conf *conf);

/* A transport set on base. conf NULL: defaults. h is copied. */
int net_new(struct net **out, struct event_base *base,
            const struct net_conf *conf,
            const struct net_handlers *h) TL_MUST_CHECK;
/* Closes every listener and connection. NULL is a no-op. */
void net_free(struct net *n);

/* Listen on addr (port 0: an ephemeral port). tls is required for NET_TLS
 * (a server context; the listener takes a reference) and ignored
 * otherwise. bound (optional) receives the address actually bound.
 * Errors: -EADDRINUSE, -EACCES, -EINVAL, ... */
int net_listen(struct net *n, enum net_transport tp,
               const struct net_addr *addr, struct net_tls *tls,
               struct net_addr *bound) TL_MUST_CHECK;

/* The client context for outgoing TLS connections opened by net_send
 * (the net takes a reference; NULL drops it). */
void net_set_tls_client(struct net *n, struct net_tls *tls);

/* Send one message to dst on tp.
 *  UDP: through the UDP listener bound to local (when given; a wildcard
 *       listener on local's port sends from local's address, so an answer
 *       leaves from the address the request came to) or the first UDP
 *       listener of dst's family; -TL_ESTATE when there is none;
 *       -EMSGSIZE over 65507 bytes.
 *  TCP/TLS: on an open connection to dst (transport + address + port),
 *       or a new outgoing connection (bytes are queued until it is up;
 *       a failure to connect is reported as NET_CONN_CLOSED). TLS needs
 *       a client context (net_set_tls_client), else -TL_ESTATE.
 * Returns 0 when the message is sent or queued. */
int net_send(struct net *n, enum net_transport tp, const struct net_addr *dst,
             const struct net_addr *local, const uint8_t *p,
             size_t len) TL_MUST_CHECK;

/* Open (or reuse) a TCP/TLS connection to dst. tls NULL: the net's client
 * context. server_name (optional, TLS only) is sent as SNI and checked
 * against the server certificate's DNS or IP subject alternative names.
 * A new reference is returned in *out (drop it with net_conn_unref).
 * A new connection is not up yet: wait for NET_CONN_UP. */
int net_connect(struct net_conn **out, struct net *n, enum net_transport tp,
                const struct net_addr *dst, struct net_tls *tls,
                const char *server_name) TL_MUST_CHECK;

/* An open connection to dst on tp (not one being closed with
 * net_conn_close_flush), with a new reference, or NULL. */
struct net_conn *net_conn_find(struct net *n, enum net_transport tp,
                               const struct net_addr *dst);

/* Open connections (both directions, including those not yet up). */
unsigned net_conn_count(const struct net *n);

/* Counters since net_new, for monitoring. */
struct net_stats {
	uint64_t accepted;     /* incoming connections accepted */
	uint64_t refused;      /* incoming connections refused by a limit */
	uint64_t connects;     /* outgoing connections opened */
	uint64_t closed;       /* connections closed, for any reason */
	uint64_t timeouts;     /* ... of which by a timeout */
	uint64_t limits;       /* ... by an input or output bound */
	uint64_t tls_failures; /* ... by a TLS failure (trust, auth, other) */
	uint64_t msgs_in;      /* stream messages delivered */
	uint64_t keepalives;   /* keepalives (pings and pongs) received */
	uint64_t udp_in;       /* datagrams delivered */
	uint64_t udp_out;      /* datagrams sent */
};

void net_get_stats(const struct net *n, struct net_stats *out);

/* Connections. */
struct net_conn *net_conn_ref(struct net_conn *c);
void net_conn_unref(struct net_conn *c); /* NULL is a no-op */

/* Send one message (queued until the connection is up).
 * -ENOTCONN once closed, -TL_ELIMIT (and the connection is closed) when
 * the peer does not read and conf.max_output is reached. */
int net_conn_send(struct net_conn *c, const uint8_t *p,
                  size_t len) TL_MUST_CHECK;
/* RFC 5626 §4.4.1: send a CRLFCRLF ping; the pong comes back as
 * NET_CONN_PONG. */
int net_conn_ping(struct net_conn *c) TL_MUST_CHECK;
/* Close now (flushing nothing); NET_CONN_CLOSED follows at once with
 * err 0. Closing a closed connection does nothing. */
void net_conn_close(struct net_conn *c);
/* Stop reading and close once everything queued has been written (TLS:
 * then close_notify); NET_CONN_CLOSED follows with err 0, or with
 * -ETIMEDOUT when the peer does not read within the idle timeout. Sends
 * after this fail with -ENOTCONN. */
void net_conn_close_flush(struct net_conn *c);

enum net_transport net_conn_transport(const struct net_conn *c);
const struct net_addr *net_conn_peer(const struct net_conn *c);
const struct net_addr *net_conn_local(const struct net_conn *c);
bool net_conn_is_open(const struct net_conn *c);
/* Up: TCP connected / TLS handshake done, and not closed. */
bool net_conn_is_up(const struct net_conn *c);
/* True when this side opened the connection. */
bool net_conn_is_outgoing(const struct net_conn *c);

/* TLS only (NULL otherwise or before the handshake): the peer's leaf
 * certificate and the chain it sent (leaf first). Borrowed: valid while
 * the caller holds a reference to c. */
X509 *net_conn_peer_cert(const struct net_conn *c);
STACK_OF(X509) * net_conn_peer_chain(const struct net_conn *c);
/* The subject CN of the peer certificate, only when it was verified
 * (by the CA chain or accepted by the verify hook); NULL otherwise, e.g.
 * a server with optional client certificates and a client that sent
 * none. For phones: "SEP" + 12 upper-case hex digits of the MAC. */
const char *net_conn_peer_identity(const struct net_conn *c);
/* "TLSv1.3", "TLSv1.2", or NULL. */
const char *net_conn_tls_version(const struct net_conn *c);
/* Negotiated cipher suite name (OpenSSL's), or NULL. */
const char *net_conn_tls_cipher(const struct net_conn *c);

/* A pointer for the upper layer (e.g. its flow or registration). */
void net_conn_set_user(struct net_conn *c, void *user);
void *net_conn_user(const struct net_conn *c);

#endif
