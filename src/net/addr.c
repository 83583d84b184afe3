/* Socket addresses and transport names. */
#include "net/net_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

const char *net_transport_name(enum net_transport tp)
{
	switch (tp) {
	case NET_UDP:
		return "UDP";
	case NET_TCP:
		return "TCP";
	case NET_TLS:
		return "TLS";
	}
	return "?";
}

int net_transport_parse(const char *s, enum net_transport *out)
{
	if (s == NULL) {
		return -TL_EPARSE;
	}
	if (strcasecmp(s, "udp") == 0) {
		*out = NET_UDP;
	} else if (strcasecmp(s, "tcp") == 0) {
		*out = NET_TCP;
	} else if (strcasecmp(s, "tls") == 0) {
		*out = NET_TLS;
	} else {
		return -TL_EPARSE;
	}
	return 0;
}

int net_addr_set(struct net_addr *a, const char *host, uint16_t port)
{
	char tmp[INET6_ADDRSTRLEN + 2];
	bool bracket = false;
	size_t hl;

	memset(a, 0, sizeof(*a));
	if (host == NULL) {
		return -TL_EPARSE;
	}
	hl = strlen(host);
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		if (hl - 2 >= sizeof(tmp)) {
			return -TL_EPARSE;
		}
		memcpy(tmp, host + 1, hl - 2);
		tmp[hl - 2] = '\0';
		host = tmp;
		bracket = true;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
	/* RFC 3986 §3.2.2: brackets hold an IPv6 literal only */
	if (!bracket && inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		a->len = sizeof(*s4);
		return 0;
	}
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		a->len = sizeof(*s6);
		return 0;
	}
	memset(a, 0, sizeof(*a));
	return -TL_EPARSE;
}

static TL_MUST_CHECK int parse_port(const char *s, uint16_t *out)
{
	unsigned v = 0;
	size_t i;

	if (s[0] == '\0' || strlen(s) > 5) {
		return -TL_EPARSE;
	}
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return -TL_EPARSE;
		}
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535) {
		return -TL_EPARSE;
	}
	*out = (uint16_t)v;
	return 0;
}

int net_addr_parse(struct net_addr *a, const char *s, uint16_t def_port)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon;
	uint16_t port = def_port;
	size_t hl;
	int err;

	memset(a, 0, sizeof(*a));
	if (s == NULL) {
		return -TL_EPARSE;
	}
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL) {
			return -TL_EPARSE;
		}
		hl = (size_t)(close - s - 1);
		if (close[1] == ':') {
			err = parse_port(close + 2, &port);
			if (err) {
				return err;
			}
		} else if (close[1] != '\0') {
			return -TL_EPARSE;
		}
		if (hl >= sizeof(host)) {
			return -TL_EPARSE;
		}
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		err = net_addr_set(a, host, port);
		/* RFC 3986 §3.2.2: brackets hold an IPv6 literal only */
		if (err == 0 && net_addr_family(a) != AF_INET6) {
			memset(a, 0, sizeof(*a));
			return -TL_EPARSE;
		}
		return err;
	}
	colon = strchr(s, ':');
	if (colon != NULL && strchr(colon + 1, ':') == NULL) {
		/* exactly one colon: IPv4 (or name) with a port */
		err = parse_port(colon + 1, &port);
		if (err) {
			return err;
		}
		hl = (size_t)(colon - s);
	} else {
		hl = strlen(s);
	}
	if (hl >= sizeof(host)) {
		return -TL_EPARSE;
	}
	memcpy(host, s, hl);
	host[hl] = '\0';
	return net_addr_set(a, host, port);
}

int net_addr_from_sa(struct net_addr *a, const struct sockaddr *sa,
                     socklen_t len)
{
	memset(a, 0, sizeof(*a));
	if (sa == NULL) {
		return -EINVAL;
	}
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		memcpy(&a->ss, sa, sizeof(struct sockaddr_in));
		a->len = sizeof(struct sockaddr_in);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		memcpy(&a->ss, sa, sizeof(struct sockaddr_in6));
		a->len = sizeof(struct sockaddr_in6);
		return 0;
	}
	return -EAFNOSUPPORT;
}

int net_addr_family(const struct net_addr *a)
{
	if (a == NULL || a->len == 0) {
		return AF_UNSPEC;
	}
	return a->ss.ss_family;
}

uint16_t net_addr_port(const struct net_addr *a)
{
	switch (net_addr_family(a)) {
	case AF_INET:
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	case AF_INET6:
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	default:
		return 0;
	}
}

void net_addr_set_port(struct net_addr *a, uint16_t port)
{
	switch (net_addr_family(a)) {
	case AF_INET:
		((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
		break;
	case AF_INET6:
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
		break;
	default:
		break;
	}
}

bool net_addr_eq_host(const struct net_addr *a, const struct net_addr *b)
{
	int fam = net_addr_family(a);

	if (fam != net_addr_family(b)) {
		return false;
	}
	if (fam == AF_INET) {
		const struct sockaddr_in *x = (const void *)&a->ss;
		const struct sockaddr_in *y = (const void *)&b->ss;
		return x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (fam == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)&a->ss;
		const struct sockaddr_in6 *y = (const void *)&b->ss;
		return memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0 &&
		       x->sin6_scope_id == y->sin6_scope_id;
	}
	return false;
}

bool net_addr_eq(const struct net_addr *a, const struct net_addr *b)
{
	return net_addr_eq_host(a, b) && net_addr_port(a) == net_addr_port(b);
}

/* Dotted decimal (RFC 791 addresses as every SIP header writes them),
 * without inet_ntop's printf: it runs for every response's Via. */
static size_t fmt_ipv4(const uint8_t b[4], char *out)
{
	size_t n = 0;

	for (int i = 0; i < 4; i++) {
		unsigned v = b[i];
		if (i > 0) {
			out[n++] = '.';
		}
		if (v >= 100) {
			out[n++] = (char)('0' + v / 100);
		}
		if (v >= 10) {
			out[n++] = (char)('0' + v / 10 % 10);
		}
		out[n++] = (char)('0' + v % 10);
	}
	out[n] = '\0';
	return n;
}

int net_addr_fmt_host(const struct net_addr *a, char *dst, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];
	const void *src;
	int fam = net_addr_family(a);
	size_t n;

	if (len > 0) {
		dst[0] = '\0';
	}
	if (fam == AF_INET) {
		src = &((const struct sockaddr_in *)&a->ss)->sin_addr;
		n = fmt_ipv4(src, tmp);
	} else if (fam == AF_INET6) {
		src = &((const struct sockaddr_in6 *)&a->ss)->sin6_addr;
		if (inet_ntop(fam, src, tmp, sizeof(tmp)) == NULL) {
			return -errno;
		}
		n = strlen(tmp);
	} else {
		return -EAFNOSUPPORT;
	}
	if (n >= len) {
		return -TL_ETOOBIG;
	}
	memcpy(dst, tmp, n + 1);
	return 0;
}

int net_addr_fmt(const struct net_addr *a, char *dst, size_t len)
{
	char host[INET6_ADDRSTRLEN];
	int err, n;

	if (len > 0) {
		dst[0] = '\0';
	}
	err = net_addr_fmt_host(a, host, sizeof(host));
	if (err) {
		return err;
	}
	if (net_addr_family(a) == AF_INET6) {
		n = snprintf(dst, len, "[%s]:%u", host, net_addr_port(a));
	} else {
		n = snprintf(dst, len, "%s:%u", host, net_addr_port(a));
	}
	if (n < 0 || (size_t)n >= len) {
		if (len > 0) {
			dst[0] = '\0';
		}
		return -TL_ETOOBIG;
	}
	return 0;
}

/* FNV-1a over the host address bytes only, so that every connection from
 * one IP lands in one bucket (per-source limits walk that bucket). */
unsigned net_addr_hash_host(const struct net_addr *a)
{
	const uint8_t *p = NULL;
	size_t n = 0, i;
	uint32_t h = 2166136261u;

	if (net_addr_family(a) == AF_INET) {
		p = (const uint8_t *)&((const struct sockaddr_in *)&a->ss)
		            ->sin_addr;
		n = 4;
	} else if (net_addr_family(a) == AF_INET6) {
		p = (const uint8_t *)&((const struct sockaddr_in6 *)&a->ss)
		            ->sin6_addr;
		n = 16;
	}
	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h % NET_HASH_SIZE;
}

unsigned net_addr_hash(const struct net_addr *a)
{
	uint32_t h = net_addr_hash_host(a) * 2654435761u;

	h ^= net_addr_port(a);
	h *= 16777619u;
	return (h ^ (h >> 15)) % NET_HASH_SIZE;
}

uint64_t net_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t net_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
