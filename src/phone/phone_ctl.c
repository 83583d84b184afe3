/* The phone's control socket (docs/phone.md "Control protocol"): a
 * Unix-domain stream socket; each request is one line of text, each reply
 * one or more lines ended by an empty line. Only the owner can connect
 * (0600, in the phone's 0700 state directory). */
#include "phone/phone.h"

#include "base/log.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CTL_LINE_MAX  1024
#define CTL_REPLY_MAX (1u << 20)

struct ctl_conn {
	struct ctl_conn *next, *prev;
	struct bufferevent *bev;
	struct phone_ctl *ctl;
};

struct phone_ctl {
	struct evconnlistener *lis;
	struct ctl_conn *conns; /* open connections, freed with the socket */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	phone_ctl_h h;
	void *arg;
};

static void conn_free(struct ctl_conn *k)
{
	if (k->prev) {
		k->prev->next = k->next;
	} else {
		k->ctl->conns = k->next;
	}
	if (k->next) {
		k->next->prev = k->prev;
	}
	bufferevent_free(k->bev);
	free(k);
}

static void ctl_read(struct bufferevent *bev, void *arg)
{
	struct ctl_conn *k = arg;
	struct phone_ctl *c = k->ctl;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n;
	char *line;

	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) != NULL) {
		struct buf r;
		buf_init(&r, CTL_REPLY_MAX);
		if (n > CTL_LINE_MAX || memchr(line, '\0', n) != NULL) {
			buf_put_str(&r, "error line too long or not text");
		} else {
			c->h(line, &r, c->arg);
		}
		free(line);
		if (buf_err(&r) != 0) {
			buf_reset(&r);
			buf_put_str(&r, "error reply too large");
		}
		/* Every reply ends with an empty line. */
		if (r.len && r.p[r.len - 1] != '\n') {
			buf_put_str(&r, "\n");
		}
		buf_put_str(&r, "\n");
		if (buf_err(&r) == 0) {
			bufferevent_write(bev, r.p, r.len);
		}
		buf_free(&r);
	}
	if (evbuffer_get_length(in) > CTL_LINE_MAX) {
		conn_free(k);
	}
}

static void ctl_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		conn_free(arg);
	}
}

static void ctl_accept(struct evconnlistener *l, evutil_socket_t fd,
                       struct sockaddr *sa, int len, void *arg)
{
	struct phone_ctl *c = arg;
	struct ctl_conn *k = calloc(1, sizeof(*k));

	(void)sa;
	(void)len;
	if (k) {
		k->bev = bufferevent_socket_new(evconnlistener_get_base(l), fd,
		                                BEV_OPT_CLOSE_ON_FREE);
	}
	if (!k || !k->bev) {
		free(k);
		close(fd);
		return;
	}
	k->ctl = c;
	k->next = c->conns;
	if (c->conns) {
		c->conns->prev = k;
	}
	c->conns = k;
	bufferevent_setcb(k->bev, ctl_read, NULL, ctl_event, k);
	bufferevent_enable(k->bev, EV_READ);
}

int phone_ctl_new(struct phone_ctl **out, struct event_base *base,
                  const char *path, phone_ctl_h h, void *arg)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct phone_ctl *c;
	mode_t old;

	*out = NULL;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		return -TL_ETOOBIG;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		return -ENOMEM;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	memcpy(c->path, path, strlen(path) + 1);
	c->h = h;
	c->arg = arg;
	(void)unlink(path);
	old = umask(0077);
	c->lis = evconnlistener_new_bind(
	        base, ctl_accept, c,
	        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
	        (struct sockaddr *)&sun, (int)sizeof(sun));
	umask(old);
	if (!c->lis) {
		int err = -errno;
		free(c);
		return err ? err : -EIO;
	}
	if (chmod(path, 0600) != 0) {
		int err = -errno;
		phone_ctl_free(c);
		return err;
	}
	*out = c;
	return 0;
}

void phone_ctl_free(struct phone_ctl *c)
{
	if (!c) {
		return;
	}
	while (c->conns) {
		conn_free(c->conns);
	}
	evconnlistener_free(c->lis);
	(void)unlink(c->path);
	free(c);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int phone_ctl_call(const char *path, const char *line, unsigned timeout_ms,
                   struct buf *reply, bool *ok)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	long long end = now_ms() + (timeout_ms ? timeout_ms : 10000);
	size_t len = strlen(line);
	int fd, err = 0;

	*ok = false;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		return -TL_ETOOBIG;
	}
	if (len > CTL_LINE_MAX || strchr(line, '\n')) {
		return -EINVAL;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return -errno;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    write(fd, line, len) != (ssize_t)len || write(fd, "\n", 1) != 1) {
		err = -errno;
		goto out;
	}
	for (;;) {
		/* The reply ends with an empty line. */
		if (reply->len >= 2 && reply->p[reply->len - 1] == '\n' &&
		    reply->p[reply->len - 2] == '\n') {
			reply->len--;
			break;
		}
		long long left = end - now_ms();
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		if (left <= 0) {
			err = -ETIMEDOUT;
			goto out;
		}
		int r = poll(&pf, 1, (int)left);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r <= 0) {
			err = r == 0 ? -ETIMEDOUT : -errno;
			goto out;
		}
		uint8_t tmp[4096];
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			err = n == 0 ? -ECONNRESET : -errno;
			goto out;
		}
		buf_put(reply, tmp, (size_t)n);
		err = buf_err(reply);
		if (err) {
			goto out;
		}
	}
	*ok = reply->len >= 2 && memcmp(reply->p, "ok", 2) == 0;
out:
	close(fd);
	return err;
}
