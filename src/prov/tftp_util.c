#include "prov/tftp_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

int tftp_addr_set(struct sockaddr_storage *ss, socklen_t *len, const char *host,
                  uint16_t port)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
		return 0;
	}
	return -TL_EPARSE;
}

uint16_t tftp_addr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	}
	if (ss->ss_family == AF_INET6) {
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	}
	return 0;
}

bool tftp_addr_eq_host(const struct sockaddr_storage *a,
                       const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family) {
		return false;
	}
	if (a->ss_family == AF_INET) {
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		              &((const struct sockaddr_in6 *)b)->sin6_addr,
		              sizeof(struct in6_addr)) == 0;
	}
	return false;
}

int tftp_udp_socket(const struct sockaddr_storage *local, socklen_t len)
{
	int fd = socket(local->ss_family,
	                SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int err;

	if (fd < 0) {
		return -errno;
	}
	if (bind(fd, (const struct sockaddr *)local, len) != 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}
