/* trustline tftp get|serve: a TFTP client and a stand-alone provisioning
 * server (TFTP and HTTP 6970) over a directory or a site. */
#include "cli/cli.h"
#include "cli/site.h"

#include "base/buf.h"
#include "base/log.h"
#include "prov/http_prov.h"
#include "prov/prov_fs.h"
#include "prov/tftp_cli.h"
#include "prov/tftp_srv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

const char cmd_tftp_summary[] =
        "TFTP client (get) and provisioning server (serve: TFTP + HTTP)";

static const char usage[] =
        "usage: trustline tftp get HOST[:PORT] FILE [options]\n"
        "       trustline tftp serve [--site DIR | --root DIR] [options]\n"
        "\n"
        "get: fetch FILE over TFTP (octet mode) and write it to --output.\n"
        "  -o, --output F      write here (atomically); '-' or none: stdout\n"
        "  --blksize N         ask for N-byte blocks (8..65464, RFC 2348)\n"
        "  --windowsize N      ask for N blocks per ACK (1..65535, RFC 7440)\n"
        "  --tsize             ask for the size first (RFC 2349)\n"
        "  --timeout MS        first retransmission timeout (default 1000)\n"
        "  --retries N         retransmissions before giving up (default 5)\n"
        "  --max-size BYTES    refuse larger files (default 64 MiB)\n"
        "  --json              print the transfer details as JSON on stdout\n"
        "                      (needs --output FILE)\n"
        "  HOST is a name, an IPv4 address or [IPv6]; PORT defaults to 69.\n"
        "\n"
        "serve: serve a directory read-only over TFTP and HTTP until SIGTERM.\n"
        "  --site DIR          serve DIR/tftp with the site's ports and\n"
        "                      address; also pki/crl.der and pki/crl.pem\n"
        "  --root DIR          serve DIR (instead of a site)\n"
        "  --address A         listen address (default: site's, or 127.0.0.1)\n"
        "  --port P            TFTP port (default: site's, or 69; 0: any)\n"
        "  --http-port P       HTTP port (default: site's, or 6970; 0: any)\n"
        "  --no-http           TFTP only\n"
        "  --rate N            new transfers per second per source (default\n"
        "                      50; 0: unlimited)\n"
        "  --max-blksize N     largest block size granted (default 65464)\n"
        "  --max-window N      largest window granted (default 64)\n"
        "  --timeout MS        first retransmission timeout (default 1000)\n"
        "  --retries N         retransmissions before giving up (default 5)\n"
        "  --netascii          also serve netascii mode (RFC 1350)\n"
        "  -v, --verbose       log every transfer\n"
        "  Prints 'tftp PORT http PORT' on stderr once listening.\n";

static int parse_num(const char *s, unsigned long long max,
                     unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+') {
		return -TL_EPARSE;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max) {
		return -TL_EPARSE;
	}
	*out = v;
	return 0;
}

/* HOST[:PORT] with HOST a name, an IPv4 address or [IPv6]. */
static int resolve(const char *spec, struct tftp_cli_req *req)
{
	char host[256];
	const char *port = "69";
	const char *colon;
	struct addrinfo hints = {0}, *res = NULL;
	size_t hl;

	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');

		if (!close) {
			return -TL_EPARSE;
		}
		hl = (size_t)(close - spec - 1);
		if (hl == 0 || hl >= sizeof(host)) {
			return -TL_EPARSE;
		}
		memcpy(host, spec + 1, hl);
		host[hl] = '\0';
		if (close[1] == ':') {
			port = close + 2;
		} else if (close[1]) {
			return -TL_EPARSE;
		}
	} else {
		colon = strchr(spec, ':');
		if (colon && strchr(colon + 1, ':')) {
			return -TL_EPARSE; /* bare IPv6 needs brackets */
		}
		hl = colon ? (size_t)(colon - spec) : strlen(spec);
		if (hl == 0 || hl >= sizeof(host)) {
			return -TL_EPARSE;
		}
		memcpy(host, spec, hl);
		host[hl] = '\0';
		if (colon) {
			port = colon + 1;
		}
	}
	unsigned long long p;

	if (parse_num(port, 65535, &p) || p == 0) {
		return -TL_EPARSE;
	}
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_family = AF_UNSPEC;
	if (getaddrinfo(host, port, &hints, &res) != 0 || !res) {
		return -TL_ENOTFOUND;
	}
	memcpy(&req->server, res->ai_addr, res->ai_addrlen);
	req->server_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int write_atomic(const char *path, const struct buf *b)
{
	char tmp[SITE_PATH_MAX];
	int fd, n, err = 0;
	size_t off = 0;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		return -TL_ETOOBIG;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		return -errno;
	}
	while (off < b->len) {
		ssize_t w = write(fd, b->p + off, b->len - off);

		if (w < 0) {
			if (errno == EINTR) {
				continue;
			}
			err = -errno;
			break;
		}
		off += (size_t)w;
	}
	if (!err && fsync(fd) != 0) {
		err = -errno;
	}
	if (close(fd) != 0 && !err) {
		err = -errno;
	}
	if (!err && rename(tmp, path) != 0) {
		err = -errno;
	}
	if (err) {
		unlink(tmp);
	}
	return err;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\') {
			printf("\\%c", *s);
		} else if ((unsigned char)*s < 0x20) {
			printf("\\u%04x", (unsigned char)*s);
		} else {
			putchar(*s);
		}
	}
	putchar('"');
}

static int do_get(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"output", required_argument, NULL, 'o'},
	        {"blksize", required_argument, NULL, 'b'},
	        {"windowsize", required_argument, NULL, 'w'},
	        {"tsize", no_argument, NULL, 's'},
	        {"timeout", required_argument, NULL, 't'},
	        {"retries", required_argument, NULL, 'r'},
	        {"max-size", required_argument, NULL, 'm'},
	        {"json", no_argument, NULL, 'j'},
	        {NULL, 0, NULL, 0},
	};
	struct tftp_cli_req req = {0};
	struct tftp_cli_info info;
	const char *output = NULL;
	bool json = false;
	unsigned long long v;
	struct buf out;
	int c, err;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case 'b':
			if (parse_num(optarg, 65464, &v) || v < 8) {
				return cli_fail("tftp", "--blksize: 8..65464");
			}
			req.blksize = (uint16_t)v;
			break;
		case 'w':
			if (parse_num(optarg, 65535, &v) || v < 1) {
				return cli_fail("tftp",
				                "--windowsize: 1..65535");
			}
			req.window = (uint16_t)v;
			break;
		case 's':
			req.tsize = true;
			break;
		case 't':
			if (parse_num(optarg, 255000, &v) || v < 1) {
				return cli_fail("tftp",
				                "--timeout: 1..255000 ms");
			}
			req.timeout_ms = (unsigned)v;
			break;
		case 'r':
			if (parse_num(optarg, 100, &v) || v < 1) {
				return cli_fail("tftp", "--retries: 1..100");
			}
			req.retries = (unsigned)v;
			break;
		case 'm':
			if (parse_num(optarg, SIZE_MAX, &v) || v < 1) {
				return cli_fail("tftp", "--max-size: a byte "
				                        "count");
			}
			req.max_size = (size_t)v;
			break;
		case 'j':
			json = true;
			break;
		default:
			fprintf(stderr,
			        "trustline tftp: unknown option '%s'"
			        "\n",
			        argv[optind - 1]);
			return CLI_EUSAGE;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "%s", usage);
		return CLI_EUSAGE;
	}
	if (json && (!output || strcmp(output, "-") == 0)) {
		return cli_fail("tftp", "--json needs --output FILE");
	}
	if (resolve(argv[optind], &req)) {
		return cli_fail("tftp", "bad or unknown server '%s'",
		                argv[optind]);
	}
	req.file = argv[optind + 1];
	if (strlen(req.file) == 0 || strlen(req.file) > 255) {
		return cli_fail("tftp", "file name must be 1..255 bytes");
	}
	buf_init(&out, 0);
	err = tftp_cli_fetch(&req, &out, &info);
	if (err) {
		if (info.errcode || info.errmsg[0]) {
			cli_fail("tftp", "%s: server error %u: %s", req.file,
			         info.errcode, info.errmsg);
		} else {
			cli_fail("tftp", "%s: %s", req.file, tl_strerror(err));
		}
		buf_free(&out);
		return CLI_EFAIL;
	}
	if (!output || strcmp(output, "-") == 0) {
		if (out.len && fwrite(out.p, 1, out.len, stdout) != out.len) {
			buf_free(&out);
			return cli_fail("tftp", "cannot write to stdout");
		}
	} else {
		err = write_atomic(output, &out);
		if (err) {
			buf_free(&out);
			return cli_fail("tftp", "%s: %s", output,
			                tl_strerror(err));
		}
	}
	if (json) {
		printf("{\"file\":");
		json_str(req.file);
		printf(",\"bytes\":%zu,\"blksize\":%u,\"windowsize\":%u,"
		       "\"oack\":%s,\"tsize\":%" PRIu64 ",\"blocks\":%" PRIu64
		       ",\"retransmits\":%u,\"out_of_order\":%u}\n",
		       out.len, info.blksize, info.window,
		       info.oack ? "true" : "false", info.tsize, info.blocks,
		       info.retransmits, info.dups);
	}
	buf_free(&out);
	return CLI_OK;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(arg);
}

struct serve_opts {
	const char *site;
	const char *root;
	const char *address;
	long port, http_port;
	bool no_http;
	struct tftp_srv_cfg tcfg;
};

static int run_server(const struct serve_opts *o)
{
	struct site site;
	struct event_base *base = NULL;
	struct prov_fs *fs = NULL;
	struct tftp_srv *ts = NULL;
	struct http_prov *hs = NULL;
	struct event *sigint = NULL, *sigterm = NULL;
	struct tftp_srv_cfg tcfg = o->tcfg;
	struct http_prov_cfg hcfg = {0};
	const char *root = o->root;
	char addr[64] = "127.0.0.1";
	uint16_t tport = 69, hport = 6970;
	struct rlimit rl;
	int err, rc = CLI_EFAIL;

	if (o->site) {
		err = site_load(&site, o->site);
		if (err) {
			return cli_fail("tftp", "site %s: %s", o->site,
			                tl_strerror(err));
		}
		root = site.tftp;
		tport = site.ports.tftp;
		hport = site.ports.http;
		if (site.listen[0]) {
			snprintf(addr, sizeof(addr), "%s", site.listen);
		}
	}
	if (o->address) {
		snprintf(addr, sizeof(addr), "%s", o->address);
	}
	if (o->port >= 0) {
		tport = (uint16_t)o->port;
	}
	if (o->http_port >= 0) {
		hport = (uint16_t)o->http_port;
	}
	/* Each transfer holds a socket: allow as many as the hard limit. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	base = event_base_new();
	if (!base) {
		return cli_fail("tftp", "cannot create the event loop");
	}
	err = prov_fs_new(&fs, root);
	if (err) {
		cli_fail("tftp", "root %s: %s", root, tl_strerror(err));
		goto out;
	}
	if (o->site) {
		char p[SITE_PATH_MAX];

		/* The CRL distribution point (RFC 5280 §4.2.1.13). */
		if (site_path(&site, "pki/crl.der", p, sizeof(p)) == 0 &&
		    prov_fs_map(fs, "crl.der", p) != 0) {
			cli_fail("tftp", "cannot map crl.der");
			goto out;
		}
		if (site_path(&site, "pki/crl.pem", p, sizeof(p)) == 0 &&
		    prov_fs_map(fs, "crl.pem", p) != 0) {
			cli_fail("tftp", "cannot map crl.pem");
			goto out;
		}
	}
	tcfg.addr = addr;
	tcfg.port = tport;
	err = tftp_srv_new(&ts, base, fs, &tcfg);
	if (err) {
		cli_fail("tftp", "TFTP on %s port %u: %s", addr, tport,
		         tl_strerror(err));
		goto out;
	}
	if (!o->no_http) {
		hcfg.addr = addr;
		hcfg.port = hport;
		err = http_prov_new(&hs, base, fs, &hcfg);
		if (err) {
			cli_fail("tftp", "HTTP on %s port %u: %s", addr, hport,
			         tl_strerror(err));
			goto out;
		}
	}
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	if (!sigint || !sigterm || evsignal_add(sigint, NULL) ||
	    evsignal_add(sigterm, NULL)) {
		cli_fail("tftp", "cannot install signal handlers");
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "tftp %u http %u\n", tftp_srv_port(ts),
	        hs ? http_prov_port(hs) : 0);
	fflush(stderr);
	if (event_base_dispatch(base) < 0) {
		cli_fail("tftp", "event loop failed");
		goto out;
	}
	struct tftp_srv_stats st;

	tftp_srv_stats(ts, &st);
	log_info("tftp",
	         "stopped: %" PRIu64 " transfers, %" PRIu64
	         " completed, %" PRIu64 " failed, %" PRIu64 " refused, %" PRIu64
	         " rate-limited",
	         st.started, st.completed, st.failed, st.refused,
	         st.rate_limited);
	rc = CLI_OK;
out:
	if (sigint) {
		event_free(sigint);
	}
	if (sigterm) {
		event_free(sigterm);
	}
	http_prov_free(hs);
	tftp_srv_free(ts);
	prov_fs_free(fs);
	event_base_free(base);
	return rc;
}

static int do_serve(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"site", required_argument, NULL, 'S'},
	        {"root", required_argument, NULL, 'R'},
	        {"address", required_argument, NULL, 'a'},
	        {"port", required_argument, NULL, 'p'},
	        {"http-port", required_argument, NULL, 'H'},
	        {"no-http", no_argument, NULL, 'N'},
	        {"rate", required_argument, NULL, 'r'},
	        {"max-blksize", required_argument, NULL, 'b'},
	        {"max-window", required_argument, NULL, 'w'},
	        {"timeout", required_argument, NULL, 't'},
	        {"retries", required_argument, NULL, 'T'},
	        {"netascii", no_argument, NULL, 'n'},
	        {"verbose", no_argument, NULL, 'v'},
	        {NULL, 0, NULL, 0},
	};
	struct serve_opts o = {.port = -1, .http_port = -1};
	unsigned long long v;
	struct in6_addr a6;
	int c;

	o.tcfg.rate = 50;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		switch (c) {
		case 'S':
			o.site = optarg;
			break;
		case 'R':
			o.root = optarg;
			break;
		case 'a':
			if (inet_pton(AF_INET, optarg, &a6) != 1 &&
			    inet_pton(AF_INET6, optarg, &a6) != 1) {
				return cli_fail("tftp", "--address: a numeric "
				                        "IPv4 or IPv6 address");
			}
			o.address = optarg;
			break;
		case 'p':
		case 'H':
			if (parse_num(optarg, 65535, &v)) {
				return cli_fail("tftp", "--%s: 0..65535",
				                c == 'p' ? "port"
				                         : "http-port");
			}
			*(c == 'p' ? &o.port : &o.http_port) = (long)v;
			break;
		case 'N':
			o.no_http = true;
			break;
		case 'r':
			if (parse_num(optarg, 1000000, &v)) {
				return cli_fail("tftp", "--rate: 0..1000000");
			}
			o.tcfg.rate = (unsigned)v;
			break;
		case 'b':
			if (parse_num(optarg, 65464, &v) || v < 512) {
				return cli_fail("tftp",
				                "--max-blksize: 512..65464");
			}
			o.tcfg.max_blksize = (uint16_t)v;
			break;
		case 'w':
			if (parse_num(optarg, 65535, &v) || v < 1) {
				return cli_fail("tftp",
				                "--max-window: 1..65535");
			}
			o.tcfg.max_window = (uint16_t)v;
			break;
		case 't':
			if (parse_num(optarg, 255000, &v) || v < 1) {
				return cli_fail("tftp",
				                "--timeout: 1..255000 ms");
			}
			o.tcfg.timeout_ms = (unsigned)v;
			break;
		case 'T':
			if (parse_num(optarg, 100, &v) || v < 1) {
				return cli_fail("tftp", "--retries: 1..100");
			}
			o.tcfg.retries = (unsigned)v;
			break;
		case 'n':
			o.tcfg.netascii = true;
			break;
		case 'v':
			log_set_level(LOG_DEBUG);
			break;
		default:
			fprintf(stderr,
			        "trustline tftp: unknown option '%s'"
			        "\n",
			        argv[optind - 1]);
			return CLI_EUSAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "trustline tftp serve: unexpected '%s'\n",
		        argv[optind]);
		return CLI_EUSAGE;
	}
	if (o.site && o.root) {
		return cli_fail("tftp", "give --site or --root, not both");
	}
	if (!o.site && !o.root) {
		o.site = cli_site_default();
	}
	return run_server(&o);
}

int cmd_tftp(int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		printf("%s", usage);
		return CLI_OK;
	}
	if (argc < 2) {
		fprintf(stderr, "%s", usage);
		return CLI_EUSAGE;
	}
	if (strcmp(argv[1], "get") == 0) {
		return do_get(argc - 1, argv + 1);
	}
	if (strcmp(argv[1], "serve") == 0) {
		return do_serve(argc - 1, argv + 1);
	}
	fprintf(stderr, "trustline tftp: unknown subcommand '%s'\n%s", argv[1],
	        usage);
	return CLI_EUSAGE;
}
