/* Private to src/net: the structures behind the opaque types. */
#ifndef TL_NET_INT_H
#define TL_NET_INT_H

#include "net/net.h"
#include "net/net_tls.h"

#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <sys/socket.h>

#define NET_HASH_SIZE 1024u
#define NET_UDP_MAX   65507u

struct net_tls {
	/* atomic: a context may be shared by threads (the boot threads of a
	 * fleet, enrolment clients), each connection taking a reference */
	atomic_uint refs;
	enum net_tls_role role;
	SSL_CTX *ctx;
	net_tls_verify_h *verify_h;
	void *verify_arg;
	FILE *keylog;
	bool crl_missing_ok;
	/* A derived context (net_tls_new_derived): ctx is the base's (one
	 * reference of its own), base holds the base alive, and the identity
	 * below is set on each SSL made from it. */
	struct net_tls *base;
	X509 *id_cert;
	STACK_OF(X509) * id_chain;
	EVP_PKEY *id_key;
};

struct net_lst {
	struct net_lst *next;
	struct net *net;
	enum net_transport tp;
	struct net_addr addr;      /* bound */
	int fd;                    /* UDP */
	struct event *ev;          /* UDP */
	struct evconnlistener *el; /* TCP, TLS */
	struct event *retry;       /* re-enable after accept errors */
	struct net_tls *tls;
	bool wild; /* UDP on a wildcard address: packet info on */
	/* UDP read on a timer while busy (conf.rx_batch_us) */
	struct event *poll;
	bool polling;
	uint64_t last_rd_us;
};

/* Datagrams sent while a UDP read batch is handled go out together, one
 * sendmmsg(2) at its end. */
#define NET_TXQ_MSGS  32
#define NET_TXQ_BYTES 65536u

struct net_txq {
	bool active;         /* inside a UDP read batch */
	struct net_lst *lst; /* the listener the queue is for */
	unsigned n;
	size_t used;
	uint8_t buf[NET_TXQ_BYTES];
	struct mmsghdr mm[NET_TXQ_MSGS];
	struct iovec iov[NET_TXQ_MSGS];
	struct sockaddr_storage dst[NET_TXQ_MSGS];
	union {
		struct cmsghdr align;
		uint8_t b[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	} ctl[NET_TXQ_MSGS];
};

struct net_conn {
	unsigned refs;
	struct net *net;                /* NULL once the net is gone */
	struct net_conn *hnext, *hprev; /* bucket of the peer's address */
	unsigned bucket;
	/* An incoming connection counts in its peer host's entry (limits
	 * per address); host_pending while its handshake is not done. */
	struct net_host *host;
	bool host_pending;
	enum net_transport tp;
	struct net_addr peer;
	struct net_addr local;
	int fd;
	struct event *rev;  /* readable (persistent while reading) */
	struct event *wev;  /* writable: connecting, or output waiting */
	struct event *poll; /* rx_batch_us: reads on a timer while busy */
	SSL *ssl;
	struct net_tls *tls;
	struct event *timer;
	/* Input: a partial message kept between reads (max_input bytes,
	 * allocated only while one is pending; whole messages are framed
	 * in the net's read buffer). */
	uint8_t *in;
	size_t in_len;
	/* Output not yet written: out[out_off .. out_off + out_len). */
	uint8_t *out;
	size_t out_off, out_len, out_cap;
	uint64_t last_rd_us;
	int deferred_err; /* a send failed: closed from the loop */
	bool connecting;  /* outgoing connect(2) in progress */
	bool reading;     /* rev is added */
	bool writing;     /* wev is added */
	bool polling;     /* poll is added instead of rev */
	bool in_rx;       /* in the read handler: sends flush at its end */
	bool flush_soon;  /* wev activated to flush on the next turn */
	bool deferred;    /* deferred_err is set */
	bool rd_wants_wr; /* SSL_read needs the socket writable */
	bool wr_wants_rd; /* SSL_write needs the socket readable */
	bool open;
	bool up;
	bool outgoing;
	bool verified; /* set by the TLS verify callback */
	bool closing;  /* net_conn_close_flush: close when output drains */
	bool broken;   /* peer closed or error: no close_notify */
	uint64_t created_ms;
	uint64_t activity_ms;
	uint64_t msg_start_ms; /* 0: no partial message buffered */
	uint64_t armed_ms;     /* deadline the timer is set to */
	X509 *peer_cert;
	STACK_OF(X509) * peer_chain;
	char *identity;
	const char *tls_version;
	const char *tls_cipher;
	void *user;
};

struct net {
	struct event_base *base;
	struct net_conf conf;
	struct net_handlers h;
	struct net_lst *lsts;
	struct net_tls *tls_client;
	struct net_conn *buckets[NET_HASH_SIZE];
	struct net_host *hosts[NET_HASH_SIZE];
	unsigned nconns;
	struct net_stats stats;
	/* refusals come in floods: one log line a second at most */
	uint64_t refuse_log_ms;
	unsigned refuse_quiet;
	uint8_t *udp_buf;
	struct net_txq *txq;
	uint8_t *rbuf; /* stream reads, max_input bytes */
};

uint64_t net_now_ms(void);
uint64_t net_now_us(void);
unsigned net_addr_hash_host(const struct net_addr *a);
/* Host and port. */
unsigned net_addr_hash(const struct net_addr *a);

/* Incoming connections from one host: what the per-address limits count
 * without walking the connections (thousands of phones behind one NAT,
 * or a load test on loopback, share a host). */
struct net_host {
	struct net_host *next;
	struct net_addr addr;
	unsigned incoming, pending;
};

/* conn.c */
int net_conn_accept(struct net *n, struct net_lst *l, int fd,
                    const struct sockaddr *sa, int salen) TL_MUST_CHECK;
int net_conn_open(struct net_conn **out, struct net *n, enum net_transport tp,
                  const struct net_addr *dst, struct net_tls *tls,
                  const char *server_name) TL_MUST_CHECK;
/* Close without calling back (net_free). */
void net_conn_drop(struct net_conn *c);

/* tls.c */
int net_tls_ssl_new(struct net_tls *t, SSL **out) TL_MUST_CHECK;

#endif
