/* net: addresses, UDP, TCP framing, connection reuse, keepalive, limits.
 * Real sockets on loopback (ports 31000-31099), one process, every wait
 * bounded. */
#include "net/net.h"
#include "unit/net/net_testutil.h"

#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
/* cmocka needs the headers above */
#include <cmocka.h>

#define PORT_BASE 31000

static bool have_v6(void)
{
	struct net_addr a = t_addr("::1", 0);
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);
	bool ok;

	if (fd < 0) {
		return false;
	}
	ok = bind(fd, (struct sockaddr *)&a.ss, a.len) == 0;
	close(fd);
	return ok;
}

/* --- addresses --- */

static void test_addr_parse(void **state)
{
	static const struct {
		const char *in;
		uint16_t def;
		int fam;
		const char *out;
	} ok[] = {
	        {"127.0.0.1:5060", 1, AF_INET, "127.0.0.1:5060"},
	        {"127.0.0.1", 5061, AF_INET, "127.0.0.1:5061"},
	        {"[::1]:5061", 1, AF_INET6, "[::1]:5061"},
	        {"[::1]", 5060, AF_INET6, "[::1]:5060"},
	        {"::1", 7, AF_INET6, "[::1]:7"},
	        {"10.0.0.255:65535", 0, AF_INET, "10.0.0.255:65535"},
	        {"[2001:db8::1]:0", 9, AF_INET6, "[2001:db8::1]:0"},
	};
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct net_addr a;
		char s[NET_ADDR_STRLEN];

		assert_int_equal(net_addr_parse(&a, ok[i].in, ok[i].def), 0);
		assert_int_equal(net_addr_family(&a), ok[i].fam);
		assert_int_equal(net_addr_fmt(&a, s, sizeof(s)), 0);
		assert_string_equal(s, ok[i].out);
	}
}

/* net_addr_fmt_host: IPv4 written without inet_ntop, every octet width;
 * IPv6 as inet_ntop does; a buffer one short is refused, empty. */
static void test_addr_fmt_host(void **state)
{
	static const char *const hosts[] = {
	        "0.0.0.0",       "1.2.3.4",         "9.10.99.100",
	        "127.0.0.1",     "255.255.255.255", "10.200.7.65",
	        "192.168.100.1", "::1",             "2001:db8::ff:1",
	};
	size_t i;

	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		struct net_addr a;
		char s[NET_ADDR_STRLEN];
		char small[NET_ADDR_STRLEN];
		size_t n = strlen(hosts[i]);

		assert_int_equal(net_addr_set(&a, hosts[i], 5060), 0);
		assert_int_equal(net_addr_fmt_host(&a, s, sizeof(s)), 0);
		assert_string_equal(s, hosts[i]);
		assert_int_equal(net_addr_fmt_host(&a, small, n + 1), 0);
		assert_string_equal(small, hosts[i]);
		assert_int_equal(net_addr_fmt_host(&a, small, n), -TL_ETOOBIG);
		assert_string_equal(small, "");
	}
}

/* must reject: truncated, overlong, trailing bytes, integer overflow,
 * names (no lookups), empty */
static void test_addr_reject(void **state)
{
	static const char *const bad[] = {
	        "",
	        "127.0.0.1:",
	        "127.0.0.1:65536",
	        "127.0.0.1:99999999999",
	        "127.0.0.1:50x",
	        "127.0.0.1:-1",
	        "127.0.0.1.5",
	        "[::1",
	        "[::1]x",
	        "[::1]:",
	        "[::1]:70000",
	        "[127.0.0.1]:5060x",
	        "[127.0.0.1]:5060",
	        "[127.0.0.1]",
	        "host.example:5060",
	        "[::1]:5060:1",
	        "1.2.3.4:5:6",
	        "[1111:2222:3333:4444:5555:6666:7777:8888:9999]:1",
	        "::1%%",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct net_addr a;

		assert_int_not_equal(net_addr_parse(&a, bad[i], 5060), 0);
		assert_int_equal(net_addr_family(&a), AF_UNSPEC);
	}
	{
		struct net_addr a;
		char small[8];

		assert_int_equal(net_addr_set(&a, "10.1.2.3", 5060), 0);
		/* the string does not fit: error, empty string */
		assert_int_equal(net_addr_fmt(&a, small, sizeof(small)),
		                 -TL_ETOOBIG);
		assert_string_equal(small, "");
	}
}

static void test_addr_eq_transport(void **state)
{
	struct net_addr a = t_addr("127.0.0.1", 1), b = t_addr("127.0.0.1", 2);
	struct net_addr c = t_addr("::1", 1);
	enum net_transport tp;

	assert_false(net_addr_eq(&a, &b));
	assert_true(net_addr_eq_host(&a, &b));
	assert_false(net_addr_eq_host(&a, &c));
	net_addr_set_port(&b, 1);
	assert_true(net_addr_eq(&a, &b));
	assert_int_equal(net_addr_port(&c), 1);
	assert_int_equal(net_transport_parse("TLS", &tp), 0);
	assert_int_equal(tp, NET_TLS);
	assert_int_equal(net_transport_parse("udp", &tp), 0);
	assert_int_equal(tp, NET_UDP);
	assert_int_equal(net_transport_parse("sctp", &tp), -TL_EPARSE);
	assert_int_equal(net_transport_parse("", &tp), -TL_EPARSE);
	assert_string_equal(net_transport_name(NET_TCP), "TCP");
}

/* --- UDP --- */

static bool got_msgs1(void *arg)
{
	return ((struct tstate *)arg)->nmsg >= 1;
}

static void udp_echo(const char *host, uint16_t port)
{
	struct event_base *base = event_base_new();
	struct tstate srv, cli;
	struct net_addr sa = t_addr(host, port), ca = t_addr(host, port + 1);
	struct net_addr bound;

	t_init(&srv, base, NULL);
	t_init(&cli, base, NULL);
	srv.echo = true;
	assert_int_equal(net_listen(srv.n, NET_UDP, &sa, NULL, &bound), 0);
	assert_true(net_addr_eq(&bound, &sa));
	assert_int_equal(net_listen(cli.n, NET_UDP, &ca, NULL, NULL), 0);
	/* the same port twice: refused */
	assert_int_equal(net_listen(cli.n, NET_UDP, &ca, NULL, NULL),
	                 -EADDRINUSE);
	assert_int_equal(net_send(cli.n, NET_UDP, &sa, NULL,
	                          (const uint8_t *)"hello", 5),
	                 0);
	assert_true(run_until(base, got_msgs1, &cli, 2000));
	assert_int_equal(srv.nmsg, 1);
	assert_string_equal(srv.msg[0], "hello");
	assert_int_equal(srv.tp[0], NET_UDP);
	assert_true(net_addr_eq(&srv.src[0], &ca));
	assert_int_equal(srv.echo_err, 0);
	assert_string_equal(cli.msg[0], "ok:hello");
	assert_true(net_addr_eq(&cli.src[0], &sa));
	{
		struct net_stats st;
		net_get_stats(srv.n, &st);
		assert_int_equal(st.udp_in, 1);
		assert_int_equal(st.udp_out, 1);
		assert_int_equal(st.accepted, 0);
	}
	/* no UDP listener of the destination's family */
	{
		struct net_addr other = t_addr(
		        net_addr_family(&sa) == AF_INET ? "::1" : "127.0.0.1",
		        port);
		assert_int_equal(net_send(cli.n, NET_UDP, &other, NULL,
		                          (const uint8_t *)"x", 1),
		                 -TL_ESTATE);
	}
	/* a local address no listener has: the first listener sends */
	{
		struct net_addr nowhere = ca;
		net_addr_set_port(&nowhere, 9);
		cli.nmsg = 0;
		assert_int_equal(net_send(cli.n, NET_UDP, &sa, &nowhere,
		                          (const uint8_t *)"again", 5),
		                 0);
		assert_true(run_until(base, got_msgs1, &cli, 2000));
		assert_string_equal(cli.msg[0], "ok:again");
	}
	/* too big for one datagram */
	{
		static uint8_t big[70000];
		assert_int_equal(
		        net_send(cli.n, NET_UDP, &sa, NULL, big, sizeof(big)),
		        -EMSGSIZE);
	}
	t_fini(&cli);
	t_fini(&srv);
	event_base_free(base);
}

static void test_udp_v4(void **state)
{
	udp_echo("127.0.0.1", PORT_BASE + 0);
}

static void test_udp_v6(void **state)
{
	if (!have_v6()) {
		skip();
	}
	udp_echo("::1", PORT_BASE + 2);
}

/* --- UDP on a wildcard address ---
 * Binding 0.0.0.0 or :: would expose a port beyond loopback, so this runs
 * in a child process inside its own network namespace (only lo, brought
 * up here); skipped where namespaces are not allowed. */

static int ns_lo_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM, 0), ok;

	if (fd < 0) {
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	ok = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
	ifr.ifr_flags |= IFF_UP;
	ok = ok && ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
	close(fd);
	return ok ? 0 : -1;
}

/* In the child: 0 on success, the failing step otherwise. */
static int wild_case(const char *any, const char *lo, const char *cli_host,
                     uint16_t port)
{
	struct event_base *base = event_base_new();
	struct tstate srv, cli;
	struct net_addr wa = t_addr(any, port);
	struct net_addr ca = t_addr(cli_host, port + 1);
	struct net_addr la = t_addr(lo, port);
	int rc = 0;

	t_init(&srv, base, NULL);
	t_init(&cli, base, NULL);
	srv.echo = true;
	if (net_listen(srv.n, NET_UDP, &wa, NULL, NULL) != 0 ||
	    net_listen(cli.n, NET_UDP, &ca, NULL, NULL) != 0) {
		rc = 10;
		goto out;
	}
	if (net_send(cli.n, NET_UDP, &la, NULL, (const uint8_t *)"w", 1) != 0) {
		rc = 11;
		goto out;
	}
	if (!run_until(base, got_msgs1, &cli, 2000)) {
		rc = 12;
		goto out;
	}
	/* the address the datagram was sent to, not the wildcard */
	if (srv.nmsg != 1 || !net_addr_eq(&srv.local[0], &la)) {
		rc = 13;
		goto out;
	}
	/* and the answer comes from it */
	if (strcmp(cli.msg[0], "ok:w") != 0 || !net_addr_eq(&cli.src[0], &la)) {
		rc = 14;
		goto out;
	}
out:
	t_fini(&cli);
	t_fini(&srv);
	event_base_free(base);
	return rc;
}

static void test_udp_wildcard(void **state)
{
	pid_t pid = fork();
	int st = 0;

	assert_true(pid >= 0);
	if (pid == 0) {
		int rc;
		if (unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0 ||
		    ns_lo_up() != 0) {
			_exit(77);
		}
		rc = wild_case("0.0.0.0", "127.0.0.1", "127.0.0.1",
		               PORT_BASE + 90);
		if (rc == 0) {
			rc = wild_case("::", "::1", "::1", PORT_BASE + 92);
			rc = rc != 0 ? rc + 10 : 0;
		}
		/* the answer leaves from the address the request came to,
		 * not the one the kernel would pick (127.0.0.2 is on lo
		 * here, and nowhere else) */
		if (rc == 0) {
			rc = wild_case("0.0.0.0", "127.0.0.2", "127.0.0.1",
			               PORT_BASE + 94);
			rc = rc != 0 ? rc + 20 : 0;
		}
		_exit(rc);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77) {
		skip();
	}
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* --- TCP --- */

/* Messages split across reads and several in one read. */
static void tcp_framing(const char *host, uint16_t port)
{
	struct event_base *base = event_base_new();
	struct tstate srv;
	struct net_addr sa = t_addr(host, port);
	char buf[256];
	ssize_t r;
	int fd;

	t_init(&srv, base, NULL);
	srv.echo = true;
	assert_int_equal(net_listen(srv.n, NET_TCP, &sa, NULL, NULL), 0);
	fd = raw_connect(&sa);
	assert_true(fd >= 0);
	raw_write(fd, "hel");
	assert_true(wait_ge(base, &srv.ups, 1, 2000));
	run_for(base, 50);
	assert_int_equal(srv.nmsg, 0);
	assert_int_equal(srv.ups, 1);
	assert_int_equal(net_conn_count(srv.n), 1);
	raw_write(fd, "lo\nwor");
	r = raw_read(base, fd, buf, sizeof(buf) - 1, 2000);
	assert_int_equal(r, 9);
	buf[r] = '\0';
	assert_string_equal(buf, "ok:hello\n");
	assert_int_equal(srv.nmsg, 1);
	assert_string_equal(srv.msg[0], "hello\n");
	assert_int_equal(srv.tp[0], NET_TCP);
	raw_write(fd, "ld\nx\n\ny\n");
	assert_true(wait_ge(base, &srv.nmsg, 5, 2000));
	assert_int_equal(srv.nmsg, 5);
	assert_string_equal(srv.msg[1], "world\n");
	assert_string_equal(srv.msg[2], "x\n");
	assert_string_equal(srv.msg[3], "\n");
	assert_string_equal(srv.msg[4], "y\n");
	/* the echoes of all four went back on the same connection */
	r = raw_read(base, fd, buf, sizeof(buf) - 1, 2000);
	assert_true(r > 0);
	assert_int_equal(net_conn_count(srv.n), 1);
	/* a framing error closes the connection */
	assert_int_equal(write(fd, "a\0b\n", 4), 4);
	for (int i = 0; i < 10; i++) {
		r = raw_read(base, fd, buf, sizeof(buf), 200);
		if (r == 0) {
			break;
		}
	}
	assert_int_equal(r, 0);
	assert_int_equal(srv.closes, 1);
	assert_int_equal(srv.close_err, -TL_EPARSE);
	assert_int_equal(net_conn_count(srv.n), 0);
	close(fd);
	t_fini(&srv);
	event_base_free(base);
}

static void test_tcp_framing_v4(void **state)
{
	tcp_framing("127.0.0.1", PORT_BASE + 10);
}

static void test_tcp_framing_v6(void **state)
{
	if (!have_v6()) {
		skip();
	}
	tcp_framing("::1", PORT_BASE + 11);
}

static bool got_msgs2(void *arg)
{
	return ((struct tstate *)arg)->nmsg >= 2;
}

static bool got_close(void *arg)
{
	return ((struct tstate *)arg)->closes >= 1;
}

static bool got_msgs3(void *arg)
{
	return ((struct tstate *)arg)->nmsg >= 3;
}

/* Two sends to one peer use one connection, in both directions: the
 * server's answers (net_send to the source) reuse the incoming one. */
static void test_tcp_reuse(void **state)
{
	struct event_base *base = event_base_new();
	struct tstate srv, cli;
	struct net_addr sa = t_addr("127.0.0.1", PORT_BASE + 20);
	struct net_conn *c;

	t_init(&srv, base, NULL);
	t_init(&cli, base, NULL);
	srv.echo = true;
	assert_int_equal(net_listen(srv.n, NET_TCP, &sa, NULL, NULL), 0);
	assert_int_equal(net_send(cli.n, NET_TCP, &sa, NULL,
	                          (const uint8_t *)"one\n", 4),
	                 0);
	assert_int_equal(net_send(cli.n, NET_TCP, &sa, NULL,
	                          (const uint8_t *)"two\n", 4),
	                 0);
	assert_int_equal(net_conn_count(cli.n), 1);
	assert_true(run_until(base, got_msgs2, &cli, 2000));
	assert_int_equal(srv.nmsg, 2);
	assert_string_equal(srv.msg[0], "one\n");
	assert_string_equal(srv.msg[1], "two\n");
	assert_string_equal(cli.msg[0], "ok:one\n");
	assert_string_equal(cli.msg[1], "ok:two\n");
	{
		struct net_stats st;
		net_get_stats(srv.n, &st);
		assert_int_equal(st.accepted, 1);
		assert_int_equal(st.connects, 0);
		assert_int_equal(st.msgs_in, 2);
		net_get_stats(cli.n, &st);
		assert_int_equal(st.connects, 1);
		assert_int_equal(st.msgs_in, 2);
	}
	assert_int_equal(srv.ups, 1);
	assert_int_equal(cli.ups, 1);
	assert_int_equal(net_conn_count(srv.n), 1);
	assert_int_equal(net_conn_count(cli.n), 1);
	assert_int_equal(srv.echo_err, 0);
	/* the connection can be found and used directly */
	c = net_conn_find(cli.n, NET_TCP, &sa);
	assert_non_null(c);
	assert_true(net_conn_is_outgoing(c));
	assert_true(net_conn_is_up(c));
	assert_int_equal(net_conn_transport(c), NET_TCP);
	assert_true(net_addr_eq(net_conn_peer(c), &sa));
	assert_true(net_addr_eq(net_conn_local(srv.last_up),
	                        net_conn_peer(srv.last_up)) == false);
	assert_true(net_addr_eq(net_conn_peer(srv.last_up), net_conn_local(c)));
	assert_null(net_conn_peer_cert(c));
	assert_null(net_conn_peer_identity(c));
	assert_int_equal(net_conn_send(c, (const uint8_t *)"three\n", 6), 0);
	assert_true(run_until(base, got_msgs3, &srv, 2000));
	/* not found on another transport */
	assert_null(net_conn_find(cli.n, NET_TLS, &sa));
	/* closing: the connection object outlives it while referenced */
	net_conn_close(c);
	assert_false(net_conn_is_open(c));
	assert_int_equal(net_conn_send(c, (const uint8_t *)"x\n", 2),
	                 -ENOTCONN);
	assert_int_equal(cli.closes, 1);
	assert_int_equal(cli.close_err, 0);
	net_conn_unref(c);
	assert_true(run_until(base, got_close, &srv, 2000));
	assert_int_equal(srv.nmsg, 3);
	/* TLS without a client context */
	assert_int_equal(
	        net_send(cli.n, NET_TLS, &sa, NULL, (const uint8_t *)"x\n", 2),
	        -TL_ESTATE);
	t_fini(&cli);
	t_fini(&srv);
	event_base_free(base);
}

static void test_tcp_refused(void **state)
{
	struct event_base *base = event_base_new();
	struct tstate cli;
	struct net_addr sa = t_addr("127.0.0.1", PORT_BASE + 21);

	t_init(&cli, base, NULL);
	assert_int_equal(
	        net_send(cli.n, NET_TCP, &sa, NULL, (const uint8_t *)"x\n", 2),
	        0);
	assert_true(run_until(base, got_close, &cli, 2000));
	assert_int_equal(cli.close_err, -ECONNREFUSED);
	assert_int_equal(cli.ups, 0);
	assert_int_equal(net_conn_count(cli.n), 0);
	t_fini(&cli);
	event_base_free(base);
}

static bool got_pong(void *arg)
{
	return ((struct tstate *)arg)->pongs >= 1;
}

/* RFC 5626 §3.5.1: CRLFCRLF ping answered with a CRLF pong. */
static void test_keepalive(void **state)
{
	struct event_base *base = event_base_new();
	struct tstate srv, cli;
	struct net_addr sa = t_addr("127.0.0.1", PORT_BASE + 30);
	struct net_conn *c = NULL;
	char buf[16];
	ssize_t r;
	int fd;

	t_init(&srv, base, NULL);
	t_init(&cli, base, NULL);
	assert_int_equal(net_listen(srv.n, NET_TCP, &sa, NULL, NULL), 0);
	fd = raw_connect(&sa);
	assert_true(fd >= 0);
	raw_write(fd, "\r\n\r\n");
	r = raw_read(base, fd, buf, sizeof(buf), 2000);
	assert_int_equal(r, 2);
	assert_memory_equal(buf, "\r\n", 2);
	/* a ping and a message in one read */
	raw_write(fd, "\r\n\r\nabc\n");
	r = raw_read(base, fd, buf, sizeof(buf), 2000);
	assert_int_equal(r, 2);
	assert_true(wait_ge(base, &srv.nmsg, 1, 2000));
	assert_string_equal(srv.msg[0], "abc\n");
	assert_int_equal(srv.closes, 0);
	close(fd);
	/* our own ping: the pong is reported */
	assert_int_equal(net_connect(&c, cli.n, NET_TCP, &sa, NULL, NULL), 0);
	assert_int_equal(net_conn_ping(c), 0);
	assert_true(run_until(base, got_pong, &cli, 2000));
	{
		struct net_stats st;
		net_get_stats(srv.n, &st);
		assert_int_equal(st.keepalives, 3);
		net_get_stats(cli.n, &st);
		assert_int_equal(st.keepalives, 1);
	}
	net_conn_unref(c);
	t_fini(&cli);
	t_fini(&srv);
	event_base_free(base);
}

static bool eof_or_close(void *arg)
{
	return ((struct tstate *)arg)->closes >= 1;
}

static void test_idle_timeout(void **state)
{
	struct event_base *base = event_base_new();
	struct tstate srv;
	struct net_conf cf;
	struct net_addr sa = t_addr("127.0.0.1", PORT_BASE + 40);
	char buf[16];
	uint64_t t0;
	int fd;

	net_conf_default(&cf);
	cf.idle_timeout_ms = 400;
	t_init(&srv, base, &cf);
	assert_int_equal(net_listen(srv.n, NET_TCP, &sa, NULL, NULL), 0);
	t0 = t_now_ms();
	fd = raw_connect(&sa);
	assert_true(fd >= 0);
	/* activity moves the deadline */
	run_for(base, 250);
	raw_write(fd, "a\n");
	run_for(base, 250);
	assert_int_equal(srv.nmsg, 1);
	assert_int_equal(srv.closes, 0);
	assert_true(run_until(base, eof_or_close, &srv, 3000));
	assert_true(t_now_ms() - t0 >= 600);
	assert_int_equal(srv.close_err, -ETIMEDOUT);
	{
		struct net_stats st;
		net_get_stats(srv.n, &st);
		assert_int_equal(st.closed, 1);
		assert_int_equal(st.timeouts, 1);
	}
	assert_int_equal(raw_read(base, fd, buf, sizeof(buf), 1000), 0);
	close(fd);
	t_fini(&srv);
	event_base_free(base);
}

static void test_per_ip_limit(void **state)
{
	struct event_base *base = event_base_new();
	struct tstate srv;
	struct net_conf cf;
	struct net_addr sa = t_addr("127.0.0.1", PORT_BASE + 50);
	char buf[16];
	int fd[4], i;

	net_conf_default(&cf);
	cf.max_conns_per_ip = 2;
	t_init(&srv, base, &cf);
	assert_int_equal(net_listen(srv.n, NET_TCP, &sa, NULL, NULL), 0);
	for (i = 0; i < 3; i++) {
		fd[i] = raw_connect(&sa);
		assert_true(fd[i] >= 0);
		if (i < 2) {
			assert_true(wait_ge(base, &srv.ups, i + 1, 2000));
		}
	}
	/* the third was closed at once, the first two work */
	assert_int_equal(raw_read(base, fd[2], buf, sizeof(buf), 2000), 0);
	assert_int_equal(srv.ups, 2);
	assert_int_equal(net_conn_count(srv.n), 2);
	raw_write(fd[0], "a\n");
	raw_write(fd[1], "b\n");
	assert_true(wait_ge(base, &srv.nmsg, 2, 2000));
	/* after one closes, a new one is accepted */
	close(fd[0]);
	assert_true(wait_ge(base, &srv.closes, 1, 2000));
	fd[3] = raw_connect(&sa);
	assert_true(wait_ge(base, &srv.ups, 3, 2000));
	assert_int_equal(net_conn_count(srv.n), 2);
	/* a flood of refusals is counted (and logged once a second) */
	{
		struct net_stats st;
		int more[10];

		for (i = 0; i < 10; i++) {
			more[i] = raw_connect(&sa);
			assert_true(more[i] >= 0);
		}
		for (i = 0; i < 10; i++) {
			assert_int_equal(
			        raw_read(base, more[i], buf, sizeof(buf), 2000),
			        0);
			close(more[i]);
		}
		net_get_stats(srv.n, &st);
		assert_int_equal(st.refused, 11);
		assert_int_equal(st.accepted, 3);
	}
	close(fd[1]);
	close(fd[2]);
	close(fd[3]);
	t_fini(&srv);
	event_base_free(base);
}

static void test_total_limit(void **state)
{
	struct event_base *base = event_base_new();
	struct tstate srv;
	struct net_conf cf;
	struct net_addr sa = t_addr("127.0.0.1", PORT_BASE + 51);
	char buf[16];
	int fd[3], i;

	net_conf_default(&cf);
	cf.max_conns = 2;
	t_init(&srv, base, &cf);
	assert_int_equal(net_listen(srv.n, NET_TCP, &sa, NULL, NULL), 0);
	for (i = 0; i < 3; i++) {
		fd[i] = raw_connect(&sa);
		assert_true(fd[i] >= 0);
		if (i < 2) {
			assert_true(wait_ge(base, &srv.ups, i + 1, 2000));
		}
	}
	assert_int_equal(raw_read(base, fd[2], buf, sizeof(buf), 2000), 0);
	assert_int_equal(net_conn_count(srv.n), 2);
	/* outgoing connections count too */
	assert_int_equal(
	        net_send(srv.n, NET_TCP, &sa, NULL, (const uint8_t *)"x\n", 2),
	        -TL_ELIMIT);
	for (i = 0; i < 3; i++) {
		close(fd[i]);
	}
	t_fini(&srv);
	event_base_free(base);
}

/* Slow sender: bytes trickled without completing a message. */
static void test_slow_sender(void **state)
{
	struct event_base *base = event_base_new();
	struct tstate srv;
	struct net_conf cf;
	struct net_addr sa = t_addr("127.0.0.1", PORT_BASE + 60);
	uint64_t t0;
	int fd, i;

	net_conf_default(&cf);
	cf.msg_timeout_ms = 300;
	cf.idle_timeout_ms = 5000;
	t_init(&srv, base, &cf);
	assert_int_equal(net_listen(srv.n, NET_TCP, &sa, NULL, NULL), 0);
	fd = raw_connect(&sa);
	assert_true(fd >= 0);
	/* complete messages, however many, do not trip it */
	for (i = 0; i < 8; i++) {
		raw_write(fd, "m\n");
		assert_true(wait_ge(base, &srv.nmsg, i + 1, 2000));
		run_for(base, 40);
	}
	assert_int_equal(srv.nmsg, 8);
	assert_int_equal(srv.closes, 0);
	t0 = t_now_ms();
	for (i = 0; i < 40 && srv.closes == 0; i++) {
		if (send(fd, "x", 1, MSG_NOSIGNAL) != 1) {
			break;
		}
		run_for(base, 50);
	}
	assert_int_equal(srv.closes, 1);
	assert_int_equal(srv.close_err, -ETIMEDOUT);
	assert_true(t_now_ms() - t0 >= 250);
	assert_true(t_now_ms() - t0 < 1500);
	assert_int_equal(srv.nmsg, 8);
	close(fd);
	t_fini(&srv);
	event_base_free(base);
}

/* A message over max_input closes the connection. */
static void test_input_bound(void **state)
{
	struct event_base *base = event_base_new();
	struct tstate srv;
	struct net_conf cf;
	struct net_addr sa = t_addr("127.0.0.1", PORT_BASE + 61);
	char big[300];
	int fd;

	net_conf_default(&cf);
	cf.max_input = 256;
	t_init(&srv, base, &cf);
	assert_int_equal(net_listen(srv.n, NET_TCP, &sa, NULL, NULL), 0);
	fd = raw_connect(&sa);
	assert_true(fd >= 0);
	/* just under the bound: fine */
	memset(big, 'a', sizeof(big));
	big[254] = '\n';
	assert_int_equal(write(fd, big, 255), 255);
	assert_true(wait_ge(base, &srv.nmsg, 1, 2000));
	assert_int_equal(srv.len[0], 255);
	big[254] = 'a';
	assert_int_equal(write(fd, big, sizeof(big)), (ssize_t)sizeof(big));
	assert_true(run_until(base, eof_or_close, &srv, 2000));
	assert_int_equal(srv.close_err, -TL_ELIMIT);
	assert_int_equal(srv.nmsg, 1);
	close(fd);
	t_fini(&srv);
	event_base_free(base);
}

/* A peer that does not read: sends fail once max_output is queued. */
static void test_output_bound(void **state)
{
	struct event_base *base = event_base_new();
	struct tstate srv;
	struct net_conf cf;
	struct net_addr sa = t_addr("127.0.0.1", PORT_BASE + 62);
	static uint8_t chunk[4096];
	int fd, i, err = 0;

	net_conf_default(&cf);
	cf.max_output = 65536;
	t_init(&srv, base, &cf);
	assert_int_equal(net_listen(srv.n, NET_TCP, &sa, NULL, NULL), 0);
	fd = raw_connect(&sa);
	assert_true(fd >= 0);
	assert_true(wait_ge(base, &srv.ups, 1, 2000));
	assert_non_null(srv.last_up);
	for (i = 0; i < 64 && err == 0; i++) {
		err = net_conn_send(srv.last_up, chunk, sizeof(chunk));
	}
	assert_int_equal(err, -TL_ELIMIT);
	assert_int_equal(i, 17);
	assert_false(net_conn_is_open(srv.last_up));
	assert_int_equal(srv.close_err, -TL_ELIMIT);
	close(fd);
	t_fini(&srv);
	event_base_free(base);
}

/* net_conn_close_flush: a big answer is written out in full, then the
 * connection closes. */
static uint8_t flush_big[300000];

static void flush_recv(struct net_conn *c, const struct net_addr *src,
                       const struct net_addr *local, enum net_transport tp,
                       const uint8_t *msg, size_t len, void *arg)
{
	struct tstate *t = arg;

	t->nmsg++;
	t->echo_err = net_conn_send(c, flush_big, sizeof(flush_big));
	net_conn_close_flush(c);
	net_conn_close_flush(c); /* twice: no effect */
	if (net_conn_send(c, (const uint8_t *)"x", 1) != -ENOTCONN) {
		t->echo_err = -1;
	}
	/* not offered for reuse any more */
	{
		struct net_conn *f = net_conn_find(t->n, NET_TCP, src);
		if (f != NULL) {
			t->echo_err = -2;
			net_conn_unref(f);
		}
	}
}

static void test_close_flush(void **state)
{
	struct event_base *base = event_base_new();
	struct tstate srv;
	struct net_handlers h = {t_frame, flush_recv, t_conn, &srv};
	struct net_addr sa = t_addr("127.0.0.1", PORT_BASE + 64);
	static char buf[65536];
	size_t total = 0;
	uint64_t end;
	int fd;

	memset(&srv, 0, sizeof(srv));
	srv.base = base;
	assert_int_equal(net_new(&srv.n, base, NULL, &h), 0);
	assert_int_equal(net_listen(srv.n, NET_TCP, &sa, NULL, NULL), 0);
	memset(flush_big, 'z', sizeof(flush_big));
	fd = raw_connect(&sa);
	assert_true(fd >= 0);
	/* what follows the first message is not read any more */
	raw_write(fd, "go\nmore\n");
	end = t_now_ms() + 5000;
	while (t_now_ms() < end) {
		ssize_t r = raw_read(base, fd, buf, sizeof(buf), 1000);
		if (r <= 0) {
			break;
		}
		total += (size_t)r;
	}
	assert_int_equal(total, sizeof(flush_big));
	assert_int_equal(srv.nmsg, 1);
	assert_int_equal(srv.echo_err, 0);
	assert_true(wait_ge(base, &srv.closes, 1, 2000));
	assert_int_equal(srv.close_err, 0);
	assert_int_equal(net_conn_count(srv.n), 0);
	close(fd);
	t_fini(&srv);
	event_base_free(base);
}

/* Connect timeout: a listener whose accept queue is full drops SYNs. */
static void test_connect_timeout(void **state)
{
	struct event_base *base = event_base_new();
	struct tstate cli;
	struct net_conf cf;
	struct net_addr sa = t_addr("127.0.0.1", PORT_BASE + 63);
	struct net_conn *c = NULL;
	int lfd, fds[8], nfd = 0, i, one = 1;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa.ss, sa.len), 0);
	assert_int_equal(listen(lfd, 0), 0);
	/* fill the queue: connects that complete are queued, then the
	 * next ones hang */
	for (i = 0; i < 8; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		assert_true(fd >= 0);
		/* EINPROGRESS for those that hang: expected */
		(void)connect(fd, (struct sockaddr *)&sa.ss, sa.len);
		fds[nfd++] = fd;
	}
	usleep(100000);
	net_conf_default(&cf);
	cf.connect_timeout_ms = 300;
	t_init(&cli, base, &cf);
	assert_int_equal(net_connect(&c, cli.n, NET_TCP, &sa, NULL, NULL), 0);
	assert_true(run_until(base, got_close, &cli, 3000));
	assert_int_equal(cli.close_err, -ETIMEDOUT);
	assert_int_equal(cli.ups, 0);
	assert_false(net_conn_is_open(c));
	net_conn_unref(c);
	for (i = 0; i < nfd; i++) {
		close(fds[i]);
	}
	close(lfd);
	t_fini(&cli);
	event_base_free(base);
}

/* --- batches while busy (rx_batch_us) --- */

#define BATCH_PORT 31500
#define BATCH_N    300

/* Reads every datagram queued on fd (non-blocking); counts them, checks
 * each is an echo "ok:d<i>" and that they come in order. */
static void udp_collect(int fd, int *got, int *next, bool *in_order)
{
	char buf[512];
	ssize_t r;

	while ((r = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
		int i = -1;
		buf[r] = '\0';
		if (sscanf(buf, "ok:d%d", &i) != 1 || i != *next) {
			*in_order = false;
		}
		*next = i + 1;
		(*got)++;
	}
}

/* A burst of datagrams is read in batches and every one is answered (the
 * answers leave in sendmmsg batches), in order; after the burst a lone
 * datagram is answered too. */
static void test_udp_batches(void **state)
{
	struct event_base *base = event_base_new();
	struct tstate srv;
	struct net_addr sa = t_addr("127.0.0.1", BATCH_PORT);
	struct net_addr ca = t_addr("127.0.0.1", BATCH_PORT + 1);
	struct net_stats st;
	int fd, i, got = 0, next = 0, rcv = 1 << 20;
	bool in_order = true;
	uint64_t end, t0;

	t_init(&srv, base, NULL);
	srv.echo = true;
	assert_int_equal(net_listen(srv.n, NET_UDP, &sa, NULL, NULL), 0);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	assert_int_equal(bind(fd, (struct sockaddr *)&ca.ss, ca.len), 0);
	/* three bursts, the loop running between them */
	for (int burst = 0; burst < 3; burst++) {
		for (i = burst * 100; i < (burst + 1) * 100; i++) {
			char m[32];
			int n = snprintf(m, sizeof(m), "d%d\n", i);
			assert_int_equal(sendto(fd, m, (size_t)n, 0,
			                        (struct sockaddr *)&sa.ss,
			                        sa.len),
			                 n);
		}
		run_for(base, 2);
	}
	end = t_now_ms() + 3000;
	while (got < BATCH_N && t_now_ms() < end) {
		run_for(base, 5);
		udp_collect(fd, &got, &next, &in_order);
	}
	assert_int_equal(got, BATCH_N);
	assert_true(in_order);
	assert_int_equal(srv.echo_err, 0);
	net_get_stats(srv.n, &st);
	assert_int_equal(st.udp_in, BATCH_N);
	assert_int_equal(st.udp_out, BATCH_N);
	/* idle for a while (the listener is back on readiness events), then
	 * one datagram: answered */
	run_for(base, 50);
	assert_int_equal(
	        sendto(fd, "d300\n", 5, 0, (struct sockaddr *)&sa.ss, sa.len),
	        5);
	t0 = t_now_ms();
	while (got < BATCH_N + 1 && t_now_ms() < t0 + 2000) {
		event_base_loop(base, EVLOOP_ONCE);
		udp_collect(fd, &got, &next, &in_order);
	}
	assert_int_equal(got, BATCH_N + 1);
	assert_true(in_order);
	close(fd);
	t_fini(&srv);
	event_base_free(base);
}

/* Pipelined stream messages: all answered, in order, the answers to one
 * read written together; the connection stays usable after the burst. */
static void test_tcp_batches(void **state)
{
	struct event_base *base = event_base_new();
	struct tstate srv;
	struct net_addr sa = t_addr("127.0.0.1", BATCH_PORT + 2);
	static char burst[BATCH_N * 16];
	static char in[BATCH_N * 32];
	size_t blen = 0, ilen = 0;
	int fd, i, lines = 0;
	uint64_t end;

	t_init(&srv, base, NULL);
	srv.echo = true;
	assert_int_equal(net_listen(srv.n, NET_TCP, &sa, NULL, NULL), 0);
	fd = raw_connect(&sa);
	assert_true(fd >= 0);
	assert_true(wait_ge(base, &srv.ups, 1, 2000));
	for (i = 0; i < BATCH_N; i++) {
		blen += (size_t)snprintf(burst + blen, sizeof(burst) - blen,
		                         "m%d\n", i);
	}
	/* in three writes, the last message split across two */
	raw_write(fd, "m-1\n");
	assert_int_equal(write(fd, burst, blen / 2), (ssize_t)(blen / 2));
	run_for(base, 1);
	assert_int_equal(write(fd, burst + blen / 2, blen - blen / 2 - 2),
	                 (ssize_t)(blen - blen / 2 - 2));
	run_for(base, 1);
	assert_int_equal(write(fd, burst + blen - 2, 2), 2);
	end = t_now_ms() + 3000;
	while (lines < BATCH_N + 1 && t_now_ms() < end) {
		ssize_t r = raw_read(base, fd, in + ilen, sizeof(in) - ilen - 1,
		                     100);
		if (r > 0) {
			ilen += (size_t)r;
			lines = 0;
			for (size_t k = 0; k < ilen; k++) {
				lines += in[k] == '\n';
			}
		}
	}
	assert_int_equal(lines, BATCH_N + 1);
	in[ilen] = '\0';
	{
		char *p = in;
		assert_int_equal(strncmp(p, "ok:m-1\n", 7), 0);
		p += 7;
		for (i = 0; i < BATCH_N; i++) {
			char want[32];
			int n = snprintf(want, sizeof(want), "ok:m%d\n", i);
			assert_int_equal(strncmp(p, want, (size_t)n), 0);
			p += n;
		}
	}
	assert_int_equal(srv.echo_err, 0);
	/* after the burst: one more, answered */
	run_for(base, 50);
	raw_write(fd, "last\n");
	assert_true(raw_read(base, fd, in, sizeof(in), 2000) == 8);
	assert_int_equal(strncmp(in, "ok:last\n", 8), 0);
	close(fd);
	t_fini(&srv);
	event_base_free(base);
}

/* Freeing the net with connections open in both directions. */
static void test_free_open(void **state)
{
	struct event_base *base = event_base_new();
	struct tstate srv, cli;
	struct net_addr sa = t_addr("127.0.0.1", PORT_BASE + 70);
	struct net_addr ua = t_addr("127.0.0.1", PORT_BASE + 71);
	int fd;

	t_init(&srv, base, NULL);
	t_init(&cli, base, NULL);
	assert_int_equal(net_listen(srv.n, NET_TCP, &sa, NULL, NULL), 0);
	assert_int_equal(net_listen(srv.n, NET_UDP, &ua, NULL, NULL), 0);
	fd = raw_connect(&sa);
	assert_int_equal(net_send(cli.n, NET_TCP, &sa, NULL,
	                          (const uint8_t *)"partial", 7),
	                 0);
	assert_true(wait_ge(base, &srv.ups, 2, 2000));
	assert_int_equal(net_conn_count(srv.n), 2);
	net_conn_unref(srv.last_up);
	srv.last_up = NULL;
	net_free(srv.n);
	srv.n = NULL;
	/* the listener is gone: the port can be bound again */
	t_init(&srv, base, NULL);
	assert_int_equal(net_listen(srv.n, NET_TCP, &sa, NULL, NULL), 0);
	assert_int_equal(net_listen(srv.n, NET_UDP, &ua, NULL, NULL), 0);
	close(fd);
	t_fini(&cli);
	t_fini(&srv);
	net_free(NULL);
	event_base_free(base);
}

static void test_bad_args(void **state)
{
	struct event_base *base = event_base_new();
	struct net *n = NULL;
	struct net_handlers none = {0};
	struct tstate t;
	struct net_addr unset;
	struct net_conn *c;

	memset(&unset, 0, sizeof(unset));
	assert_int_equal(net_new(&n, base, NULL, &none), -EINVAL);
	assert_null(n);
	t_init(&t, base, NULL);
	assert_int_equal(net_listen(t.n, NET_TCP, &unset, NULL, NULL), -EINVAL);
	/* TLS listener without a context */
	{
		struct net_addr a = t_addr("127.0.0.1", PORT_BASE + 80);
		assert_int_equal(net_listen(t.n, NET_TLS, &a, NULL, NULL),
		                 -EINVAL);
		assert_int_equal(net_connect(&c, t.n, NET_UDP, &a, NULL, NULL),
		                 -EINVAL);
		assert_null(c);
	}
	assert_int_equal(
	        net_send(t.n, NET_UDP, &unset, NULL, (const uint8_t *)"x", 1),
	        -EINVAL);
	t_fini(&t);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_addr_parse),
	        cmocka_unit_test(test_addr_reject),
	        cmocka_unit_test(test_addr_fmt_host),
	        cmocka_unit_test(test_addr_eq_transport),
	        cmocka_unit_test(test_udp_v4),
	        cmocka_unit_test(test_udp_v6),
	        cmocka_unit_test(test_udp_wildcard),
	        cmocka_unit_test(test_tcp_framing_v4),
	        cmocka_unit_test(test_tcp_framing_v6),
	        cmocka_unit_test(test_tcp_reuse),
	        cmocka_unit_test(test_tcp_refused),
	        cmocka_unit_test(test_keepalive),
	        cmocka_unit_test(test_idle_timeout),
	        cmocka_unit_test(test_per_ip_limit),
	        cmocka_unit_test(test_total_limit),
	        cmocka_unit_test(test_slow_sender),
	        cmocka_unit_test(test_input_bound),
	        cmocka_unit_test(test_output_bound),
	        cmocka_unit_test(test_connect_timeout),
	        cmocka_unit_test(test_close_flush),
	        cmocka_unit_test(test_udp_batches),
	        cmocka_unit_test(test_tcp_batches),
	        cmocka_unit_test(test_free_open),
	        cmocka_unit_test(test_bad_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
