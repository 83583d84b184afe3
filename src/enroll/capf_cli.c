/* CAPF protocol client: the phone's side of reference/cisco-formats.md
 * §4.2 over blocking TLS. */
#include "enroll/enroll_cli.h"
#include "enroll/enroll_int.h"

#include "codec/capf/capf_msg.h"
#include "net/net.h"
#include "net/net_tls.h"
#include "pki/pki_key.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

struct capf_cli_conn {
	int fd;
	struct net_tls *tls;
	SSL *ssl;
};

void capf_cli_close(struct capf_cli_conn *k)
{
	if (!k) {
		return;
	}
	if (k->ssl) {
		SSL_free(k->ssl);
	}
	if (k->fd >= 0) {
		close(k->fd);
	}
	net_tls_unref(k->tls);
	free(k);
}

int capf_cli_connect(struct capf_cli_conn **out, const struct capf_cli_conf *c)
{
	return enroll_tls_connect(out, c->tls, c->host, c->port, c->ca_file,
	                          NULL, NULL, c->timeout_ms);
}

int enroll_tls_connect(struct capf_cli_conn **out, struct net_tls *tls,
                       const char *host, uint16_t port, const char *ca_file,
                       X509 *cert, EVP_PKEY *key, unsigned timeout_ms)
{
	struct capf_cli_conn *k;
	struct net_addr a;
	unsigned ms = timeout_ms ? timeout_ms : 10000;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	int err;

	*out = NULL;
	if ((ca_file == NULL && tls == NULL) || host == NULL) {
		return -EINVAL;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		return -ENOMEM;
	}
	k->fd = -1;
	struct net_tls_conf tc = {
	        .role = NET_TLS_CLIENT,
	        .ca_file = ca_file,
	        .cert = cert,
	        .key = key,
	};
	err = 0;
	if (tls != NULL) {
		k->tls = net_tls_ref(tls);
	} else {
		err = net_tls_new(&k->tls, &tc);
	}
	if (!err) {
		err = net_addr_set(&a, host, port);
	}
	if (err) {
		goto out;
	}
	k->fd = socket(net_addr_family(&a), SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (k->fd < 0) {
		err = -errno;
		goto out;
	}
	if (setsockopt(k->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(k->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) {
		err = -errno;
		goto out;
	}
	/* messages are small and each waits for an answer: no Nagle */
	int one = 1;
	(void)setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(k->fd, (const struct sockaddr *)&a.ss, a.len) != 0) {
		err = errno == EINPROGRESS ? -ETIMEDOUT : -errno;
		goto out;
	}
	k->ssl = SSL_new(net_tls_ssl_ctx(k->tls));
	if (!k->ssl || SSL_set_fd(k->ssl, k->fd) != 1) {
		err = -TL_ECRYPTO;
		goto out;
	}
	if (SSL_connect(k->ssl) != 1) {
		long v = SSL_get_verify_result(k->ssl);
		err = v != X509_V_OK                              ? -TL_ETRUST
		      : (errno == EAGAIN || errno == EWOULDBLOCK) ? -ETIMEDOUT
		                                                  : -TL_ECRYPTO;
		ERR_clear_error();
		goto out;
	}
out:
	if (err) {
		capf_cli_close(k);
		return err;
	}
	*out = k;
	return 0;
}

int capf_cli_send(struct capf_cli_conn *k, const uint8_t *p, size_t len)
{
	size_t done = 0;

	/* one SSL_write: header and body in one record */
	if (SSL_write_ex(k->ssl, p, len, &done) != 1 || done != len) {
		ERR_clear_error();
		return errno == EAGAIN ? -ETIMEDOUT : -EPIPE;
	}
	return 0;
}

int enroll_tls_read(struct capf_cli_conn *k, uint8_t *p, size_t n, size_t *got)
{
	*got = 0;
	errno = 0;
	if (SSL_read_ex(k->ssl, p, n, got) != 1) {
		int e = SSL_get_error(k->ssl, 0);
		ERR_clear_error();
		if (e == SSL_ERROR_ZERO_RETURN) {
			return -ENOTCONN;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			return -ETIMEDOUT;
		}
		return errno == 0 ? -ENOTCONN : -errno;
	}
	return 0;
}

static int read_n(struct capf_cli_conn *k, uint8_t *p, size_t n)
{
	while (n > 0) {
		size_t got = 0;
		int err = enroll_tls_read(k, p, n, &got);
		if (err) {
			return err;
		}
		p += got;
		n -= got;
	}
	return 0;
}

int capf_cli_recv(struct capf_cli_conn *k, struct buf *msg)
{
	uint8_t hdr[CAPF_HDR_LEN];
	size_t n;
	int err = read_n(k, hdr, sizeof(hdr));

	if (err) {
		return err;
	}
	if (capf_frame(hdr, sizeof(hdr), &n) < 0) {
		return -TL_EPARSE;
	}
	n = ((size_t)hdr[6] << 8) | hdr[7];
	buf_reset(msg);
	err = buf_reserve(msg, sizeof(hdr) + n);
	if (err) {
		return err;
	}
	buf_put(msg, hdr, sizeof(hdr));
	err = read_n(k, msg->p + msg->len, n);
	if (!err) {
		msg->len += n;
	}
	return err;
}

/* Atomic write (temporary file, rename) without fsync: the no_sync case
 * of capf_cli_conf. */
static int put_nosync(const char *path, const void *d, size_t n, unsigned mode)
{
	char tmp[4200];
	const uint8_t *b = d;
	int fd, err = 0;
	int l = snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());

	if (l < 0 || (size_t)l >= sizeof(tmp)) {
		return -ENAMETOOLONG;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		return -errno;
	}
	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w <= 0) {
			err = w < 0 ? -errno : -EIO;
			break;
		}
		b += w;
		n -= (size_t)w;
	}
	if (close(fd) != 0 && !err) {
		err = -errno;
	}
	if (!err && rename(tmp, path) != 0) {
		err = -errno;
	}
	if (err) {
		(void)unlink(tmp);
	}
	return err;
}

/* The new LSC and its key as PEM, 0600, atomically, with or without
 * fsync. */
static int store_pair(const char *crt, const char *keyf, X509 *x, EVP_PKEY *key,
                      bool sync)
{
	BIO *b;
	char *pem = NULL;
	long len;
	int err = 0;

	if (sync) {
		if (keyf) {
			err = pki_pkey_write(keyf, key);
		}
		if (!err && crt) {
			err = enroll_cert_store(crt, x);
		}
		return err;
	}
	if (keyf) {
		b = BIO_new(BIO_s_mem());
		err = -TL_ECRYPTO;
		if (b &&
		    PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL,
		                             NULL) == 1 &&
		    (len = BIO_get_mem_data(b, &pem)) > 0) {
			err = put_nosync(keyf, pem, (size_t)len, 0600);
			OPENSSL_cleanse(pem, (size_t)len);
		}
		BIO_free(b);
	}
	if (!err && crt) {
		b = BIO_new(BIO_s_mem());
		err = -TL_ECRYPTO;
		if (b && PEM_write_bio_X509(b, x) == 1 &&
		    (len = BIO_get_mem_data(b, &pem)) > 0) {
			err = put_nosync(crt, pem, (size_t)len, 0600);
		}
		BIO_free(b);
	}
	return err;
}

int enroll_cert_store(const char *path, X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *pem = NULL;
	long len;
	int err = -TL_ECRYPTO;

	if (b && PEM_write_bio_X509(b, x) == 1 &&
	    (len = BIO_get_mem_data(b, &pem)) > 0) {
		err = pki_file_write(path, pem, (size_t)len, 0600);
	}
	BIO_free(b);
	return err;
}

void capf_cli_result_clear(struct capf_cli_result *r)
{
	X509_free(r->lsc);
	EVP_PKEY_free(r->key);
	memset(r, 0, sizeof(*r));
}

static int send_built(struct capf_cli_conn *k, struct buf *b, size_t start)
{
	int err = capf_msg_end(b, start);

	if (!err) {
		err = capf_cli_send(k, b->p, b->len);
	}
	buf_free(b);
	return err;
}

static int auth_resp(struct capf_cli_conn *k, const struct capf_cli_conf *c,
                     uint32_t id)
{
	struct buf b, data, sig1, sig2;
	struct pki_key *key = NULL;
	uint8_t *der = NULL;
	int len, err = 0;

	buf_init(&b, 0);
	buf_init(&data, 0);
	buf_init(&sig1, 0);
	buf_init(&sig2, 0);
	size_t start = capf_msg_begin(&b, CAPF_AUTH_RESP, id);
	capf_put_u8(&b, CAPF_T_REASON, CAPF_R_OK);
	capf_put_u8(&b, CAPF_T_VERSION, CAPF_VERSION);
	capf_put_str(&b, CAPF_T_DEVICE_NAME, c->device);
	capf_put_str(&b, CAPF_T_PASSWORD, c->auth_string ? c->auth_string : "");
	if (c->cert != NULL && c->cert_key != NULL) {
		len = i2d_X509(c->cert, &der);
		if (len <= 0) {
			err = -TL_ECRYPTO;
			goto out;
		}
		/* reference §4.2: device name || 0x00 || DER(cert), SHA-1
		 * in SIGNED_DATA, SHA-512 in SHA2_SIGNED_DATA */
		buf_put_str(&data, c->device);
		buf_put_u8(&data, 0);
		buf_put(&data, der, (size_t)len);
		err = buf_err(&data);
		if (!err) {
			err = pki_key_from_pkey(&key, c->cert_key);
		}
		if (!err) {
			err = pki_key_sign(key, EVP_sha1(), data.p, data.len,
			                   &sig1);
		}
		if (!err) {
			err = pki_key_sign(key, EVP_sha512(), data.p, data.len,
			                   &sig2);
		}
		if (err) {
			goto out;
		}
		capf_put_cert(&b, CAPF_CERT_LSC, der, (size_t)len);
		capf_put_bytes(&b, CAPF_T_SIGNED_DATA, sig1.p, sig1.len);
		capf_put_sig2(&b, CAPF_HASH_SHA512, sig2.p, sig2.len);
	}
	err = send_built(k, &b, start);
out:
	if (c->auth_string) {
		OPENSSL_cleanse(b.p, b.cap);
	}
	buf_free(&b);
	buf_free(&data);
	buf_free(&sig1);
	buf_free(&sig2);
	OPENSSL_free(der);
	pki_key_free(key);
	return err;
}

static int keygen(struct capf_cli_conn *k, const struct capf_msg *m,
                  uint32_t id, struct capf_cli_result *r)
{
	uint8_t type = CAPF_KEY_EC, curve = CAPF_CURVE_P256;
	uint16_t size = 0;
	enum pki_alg alg;
	struct buf spki;
	struct buf b;
	int err;

	if (capf_msg_u8(m, CAPF_T_KEY_TYPE, &type) != 0) {
		type = CAPF_KEY_EC;
	}
	if (type == CAPF_KEY_EC) {
		if (capf_msg_u8(m, CAPF_T_CURVE, &curve) != 0) {
			curve = CAPF_CURVE_P256;
		}
		if (curve == CAPF_CURVE_P256) {
			alg = PKI_ALG_P256;
		} else if (curve == CAPF_CURVE_P384) {
			alg = PKI_ALG_P384;
		} else {
			return -TL_EUNKNOWN;
		}
	} else if (type == CAPF_KEY_RSA) {
		if (capf_msg_u16(m, CAPF_T_KEY_SIZE, &size) != 0) {
			size = 2048;
		}
		if (size == 2048) {
			alg = PKI_ALG_RSA2048;
		} else if (size == 3072) {
			alg = PKI_ALG_RSA3072;
		} else if (size == 4096) {
			alg = PKI_ALG_RSA4096;
		} else {
			return -TL_EPOLICY;
		}
	} else {
		return -TL_EUNKNOWN;
	}
	EVP_PKEY_free(r->key);
	r->key = NULL;
	err = pki_keygen(&r->key, alg);
	if (err) {
		return err;
	}
	buf_init(&spki, 0);
	err = pki_spki_encode(r->key, &spki);
	if (err) {
		buf_free(&spki);
		return err;
	}
	buf_init(&b, 0);
	size_t start = capf_msg_begin(&b, CAPF_KEYGEN_RESP, id);
	capf_put_bytes(&b, CAPF_T_PUBLIC_KEY, spki.p, spki.len);
	buf_free(&spki);
	return send_built(k, &b, start);
}

static int store_cert(struct capf_cli_conn *k, const struct capf_msg *m,
                      uint32_t id, const struct capf_cli_conf *c,
                      struct capf_cli_result *r)
{
	struct slice der;
	uint8_t type;
	char cn[64];
	X509 *x = NULL;
	struct buf b;
	int err;

	if (r->key == NULL) {
		return -TL_ESTATE;
	}
	err = capf_msg_cert(m, &type, &der);
	if (!err) {
		err = pki_cert_parse(&x, der.p, der.len);
	}
	if (err) {
		return err;
	}
	/* it must be ours: our key, our name */
	if (EVP_PKEY_eq(X509_get0_pubkey(x), r->key) != 1 ||
	    net_tls_cert_cn(x, cn, sizeof(cn)) != 0 ||
	    strcmp(cn, c->device) != 0) {
		X509_free(x);
		return -TL_EPOLICY;
	}
	err = store_pair(c->cert_out, c->key_out, x, r->key, !c->no_sync);
	if (err) {
		X509_free(x);
		return err;
	}
	X509_free(r->lsc);
	r->lsc = x;
	r->done = CAPF_CLI_INSTALLED;
	buf_init(&b, 0);
	size_t start = capf_msg_begin(&b, CAPF_STORE_CERT_RESP, id);
	capf_put_u8(&b, CAPF_T_REASON, CAPF_R_OK);
	return send_built(k, &b, start);
}

static int fetch(struct capf_cli_conn *k, uint32_t id,
                 const struct capf_cli_conf *c, struct capf_cli_result *r)
{
	uint8_t *der = NULL;
	struct buf b;
	int len = 0;

	buf_init(&b, 0);
	size_t start = capf_msg_begin(&b, CAPF_FETCH_CERT_RESP, id);
	if (c->cert != NULL && (len = i2d_X509(c->cert, &der)) > 0) {
		capf_put_u8(&b, CAPF_T_REASON, CAPF_R_OK);
		capf_put_u8(&b, CAPF_T_CERT_TYPE, CAPF_CERT_LSC);
		capf_put_cert(&b, CAPF_CERT_LSC, der, (size_t)len);
	} else {
		capf_put_u8(&b, CAPF_T_REASON, CAPF_R_NONE);
	}
	OPENSSL_free(der);
	r->done = CAPF_CLI_FETCHED;
	return send_built(k, &b, start);
}

static int delete_cert(struct capf_cli_conn *k, uint32_t id,
                       const struct capf_cli_conf *c, struct capf_cli_result *r)
{
	struct buf b;

	if (c->cert_out) {
		(void)unlink(c->cert_out);
	}
	if (c->key_out) {
		(void)unlink(c->key_out);
	}
	r->done = CAPF_CLI_DELETED;
	buf_init(&b, 0);
	size_t start = capf_msg_begin(&b, CAPF_DELETE_CERT_RESP, id);
	capf_put_u8(&b, CAPF_T_REASON, CAPF_R_OK);
	return send_built(k, &b, start);
}

int capf_cli_run(const struct capf_cli_conf *c, struct capf_cli_result *r)
{
	struct capf_cli_conn *k = NULL;
	struct capf_msg m;
	struct buf in;
	uint32_t id = 0;
	bool authed = false;
	int err;

	memset(r, 0, sizeof(*r));
	if (c->device == NULL) {
		return -EINVAL;
	}
	buf_init(&in, CAPF_MSG_MAX);
	err = capf_cli_connect(&k, c);
	/* bounded: a session is a handful of messages */
	for (int n = 0; !err && n < 16; n++) {
		err = capf_cli_recv(k, &in);
		if (!err) {
			err = capf_msg_parse(&m, in.p, in.len);
		}
		if (err) {
			break;
		}
		if (!authed) {
			if (m.cmd != CAPF_AUTH_REQ) {
				err = -TL_EPARSE;
				break;
			}
			id = m.session;
			authed = true;
			err = auth_resp(k, c, id);
			continue;
		}
		if (m.session != id) {
			err = -TL_EPARSE;
			break;
		}
		switch (m.cmd) {
		case CAPF_KEYGEN_REQ:
			err = keygen(k, &m, id, r);
			break;
		case CAPF_STORE_CERT_REQ:
			err = store_cert(k, &m, id, c, r);
			break;
		case CAPF_FETCH_CERT_REQ:
			err = fetch(k, id, c, r);
			break;
		case CAPF_DELETE_CERT_REQ:
			err = delete_cert(k, id, c, r);
			break;
		case CAPF_END_SESSION:
			if (capf_msg_u8(&m, CAPF_T_REASON, &r->reason) != 0) {
				r->reason = CAPF_R_NONE;
			}
			if (r->reason == CAPF_R_UNKNOWN_DEV ||
			    r->reason == CAPF_R_INVALID) {
				err = -TL_EAUTH;
			}
			goto out;
		default:
			err = -TL_EPARSE;
			break;
		}
	}
	if (!err) {
		err = -TL_ELIMIT;
	}
out:
	buf_free(&in);
	capf_cli_close(k);
	if (err) {
		X509_free(r->lsc);
		r->lsc = NULL;
		if (r->done == CAPF_CLI_INSTALLED) {
			r->done = CAPF_CLI_NONE;
		}
	}
	return err;
}
