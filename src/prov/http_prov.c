#include "prov/http_prov.h"

#include "base/log.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define LOGC "http-prov"

struct http_prov {
	struct evhttp *http;
	struct prov_fs *fs;
	uint16_t port;
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

const char *http_prov_content_type(const char *name)
{
	const char *base = strrchr(name, '/');

	base = base ? base + 1 : name;
	if (ends_with(base, ".xml")) {
		return "text/xml";
	}
	if (ends_with(base, ".crl") || strcmp(base, "crl.der") == 0) {
		/* RFC 5280 §4.2.1.13: CRLs over HTTP are
		 * application/pkix-crl (DER). */
		return "application/pkix-crl";
	}
	if (ends_with(base, ".pem")) {
		return "application/x-pem-file";
	}
	return "application/octet-stream";
}

static void reply_error(struct evhttp_request *req, int code,
                        const char *reason)
{
	struct evbuffer *body = evbuffer_new();
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", "text/plain");
	if (body && evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		evbuffer_add_printf(body, "%d %s\n", code, reason);
	}
	evhttp_send_reply(req, code, reason, body);
	if (body) {
		evbuffer_free(body); /* evbuffer_free(NULL) is not a no-op */
	}
}

static void serve(struct http_prov *hp, struct evhttp_request *req,
                  const char *name, bool head)
{
	struct prov_file *f = NULL;
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *body = NULL;
	char len[32];
	uint64_t size;
	int err;

	err = prov_fs_open(hp->fs, name, &f);
	switch (err) {
	case 0:
		break;
	case -TL_ENOTFOUND:
		reply_error(req, HTTP_NOTFOUND, "Not Found");
		return;
	case -TL_EPOLICY:
		reply_error(req, 403, "Forbidden");
		return;
	case -TL_EPARSE:
	case -TL_ETOOBIG:
		reply_error(req, HTTP_BADREQUEST, "Bad Request");
		return;
	default:
		log_warn(LOGC, "%s: %s", name, tl_strerror(err));
		reply_error(req, HTTP_INTERNAL, "Internal Server Error");
		return;
	}
	size = prov_file_size(f);
	evhttp_add_header(h, "Content-Type", http_prov_content_type(name));
	if (head) {
		/* RFC 9110 §9.3.2: HEAD carries the GET headers, no body. */
		snprintf(len, sizeof(len), "%" PRIu64, size);
		evhttp_add_header(h, "Content-Length", len);
		evhttp_send_reply(req, HTTP_OK, "OK", NULL);
		goto out;
	}
	body = evbuffer_new();
	if (!body) {
		reply_error(req, HTTP_INTERNAL, "Internal Server Error");
		goto out;
	}
	if (size == 0) {
		/* evbuffer_add_file cannot map an empty file. */
	} else if (prov_file_fd(f) >= 0) {
		/* The evbuffer owns the duplicate and sends from it. */
		int fd = dup(prov_file_fd(f));

		if (fd < 0 ||
		    evbuffer_add_file(body, fd, 0, (ev_off_t)size) != 0) {
			if (fd >= 0) {
				close(fd);
			}
			reply_error(req, HTTP_INTERNAL,
			            "Internal Server Error");
			goto out;
		}
	} else {
		struct slice m = prov_file_mem(f);

		if (evbuffer_add(body, m.p, m.len) != 0) {
			reply_error(req, HTTP_INTERNAL,
			            "Internal Server Error");
			goto out;
		}
	}
	evhttp_send_reply(req, HTTP_OK, "OK", body);
out:
	if (body) {
		evbuffer_free(body);
	}
	prov_file_close(f);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct http_prov *hp = arg;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	char *name = NULL;
	size_t nlen = 0;

	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		/* RFC 9110 §15.5.6: 405 names the allowed methods. */
		evhttp_add_header(evhttp_request_get_output_headers(req),
		                  "Allow", "GET, HEAD");
		reply_error(req, 405, "Method Not Allowed");
		return;
	}
	if (!path || path[0] != '/') {
		reply_error(req, HTTP_BADREQUEST, "Bad Request");
		return;
	}
	name = evhttp_uridecode(path + 1, 0, &nlen);
	if (!name) {
		reply_error(req, HTTP_INTERNAL, "Internal Server Error");
		return;
	}
	if (nlen == 0) {
		reply_error(req, HTTP_NOTFOUND, "Not Found");
	} else if (nlen != strlen(name)) {
		/* A %00 inside the name. */
		reply_error(req, HTTP_BADREQUEST, "Bad Request");
	} else {
		serve(hp, req, name, cmd == EVHTTP_REQ_HEAD);
	}
	free(name);
}

int http_prov_new(struct http_prov **out, struct event_base *base,
                  struct prov_fs *fs, const struct http_prov_cfg *cfg)
{
	struct http_prov *hp;
	struct evhttp_bound_socket *bs;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int err = 0;

	*out = NULL;
	hp = calloc(1, sizeof(*hp));
	if (!hp) {
		return -ENOMEM;
	}
	hp->fs = fs;
	hp->http = evhttp_new(base);
	if (!hp->http) {
		err = -ENOMEM;
		goto out;
	}
	/* Accept every method so that the ones we refuse get 405 rather
	 * than libevent's generic answer. */
	evhttp_set_allowed_methods(hp->http, 0xffff);
	evhttp_set_timeout(hp->http, cfg->timeout_s ? (int)cfg->timeout_s : 30);
	evhttp_set_max_headers_size(hp->http, 16384);
	evhttp_set_max_body_size(hp->http, 65536);
	evhttp_set_gencb(hp->http, on_request, hp);
	bs = evhttp_bind_socket_with_handle(
	        hp->http, cfg->addr ? cfg->addr : "0.0.0.0", cfg->port);
	if (!bs) {
		err = errno ? -errno : -EADDRINUSE;
		goto out;
	}
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss,
	                &sl) != 0) {
		err = -errno;
		goto out;
	}
	hp->port = ntohs(ss.ss_family == AF_INET6
	                         ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                         : ((struct sockaddr_in *)&ss)->sin_port);
	*out = hp;
	hp = NULL;
out:
	http_prov_free(hp);
	return err;
}

uint16_t http_prov_port(const struct http_prov *h)
{
	return h->port;
}

void http_prov_free(struct http_prov *h)
{
	if (!h) {
		return;
	}
	if (h->http) {
		evhttp_free(h->http);
	}
	free(h);
}
