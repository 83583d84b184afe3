/* Back-end independent parts of the store: value parsing, names, digest
 * HA1 computation. No SQL here (store_sqlite.c holds all of it). */
#include "store/store.h"
#include "store/store_int.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

static int hexval(int c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	c = tolower(c);
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	return -1;
}

int store_mac_parse(const char *in, char out[13])
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len;
	char sep = 0;
	size_t o = 0;

	if (!in) {
		return -TL_EPARSE;
	}
	len = strlen(in);
	if (len == 17) {
		sep = in[2];
		if (sep != ':' && sep != '-') {
			return -TL_EPARSE;
		}
	} else if (len != 12) {
		return -TL_EPARSE;
	}
	for (size_t i = 0; i < len; i++) {
		if (sep && i % 3 == 2) {
			if (in[i] != sep) {
				return -TL_EPARSE;
			}
			continue;
		}
		int v = hexval((unsigned char)in[i]);

		if (v < 0) {
			return -TL_EPARSE;
		}
		out[o++] = hex[v];
	}
	out[12] = '\0';
	return 0;
}

struct name_map {
	int v;
	const char *name;
};

static const struct name_map sec_modes[] = {
        {STORE_SEC_NONSECURE, "nonsecure"},
        {STORE_SEC_AUTHENTICATED, "authenticated"},
        {STORE_SEC_ENCRYPTED, "encrypted"},
};
static const struct name_map transports[] = {
        {STORE_TRANSPORT_TCP, "tcp"},
        {STORE_TRANSPORT_UDP, "udp"},
        {STORE_TRANSPORT_TLS, "tls"},
};
static const struct name_map capf_ops[] = {
        {STORE_CAPF_NONE, "none"},       {STORE_CAPF_INSTALL, "install"},
        {STORE_CAPF_UPGRADE, "upgrade"}, {STORE_CAPF_DELETE, "delete"},
        {STORE_CAPF_FETCH, "fetch"},
};
static const struct name_map cluster_modes[] = {
        {STORE_CLUSTER_NONSECURE, "nonsecure"},
        {STORE_CLUSTER_MIXED, "mixed"},
};

static const char *map_name(const struct name_map *m, size_t n, int v)
{
	for (size_t i = 0; i < n; i++) {
		if (m[i].v == v) {
			return m[i].name;
		}
	}
	return "unknown";
}

static int map_parse(const struct name_map *m, size_t n, const char *s,
                     int *out)
{
	for (size_t i = 0; s && i < n; i++) {
		if (!strcmp(m[i].name, s)) {
			*out = m[i].v;
			return 0;
		}
	}
	return -TL_EPARSE;
}

#define NMAP(m) (m), sizeof(m) / sizeof((m)[0])

const char *store_sec_mode_name(enum store_sec_mode m)
{
	return map_name(NMAP(sec_modes), (int)m);
}

int store_sec_mode_parse(const char *s, enum store_sec_mode *out)
{
	int v;
	int err = map_parse(NMAP(sec_modes), s, &v);

	if (!err) {
		*out = (enum store_sec_mode)v;
	}
	return err;
}

const char *store_transport_name(enum store_transport t)
{
	return map_name(NMAP(transports), (int)t);
}

int store_transport_parse(const char *s, enum store_transport *out)
{
	int v;
	int err = map_parse(NMAP(transports), s, &v);

	if (!err) {
		*out = (enum store_transport)v;
	}
	return err;
}

const char *store_capf_op_name(enum store_capf_op op)
{
	return map_name(NMAP(capf_ops), (int)op);
}

int store_capf_op_parse(const char *s, enum store_capf_op *out)
{
	int v;
	int err = map_parse(NMAP(capf_ops), s, &v);

	if (!err) {
		*out = (enum store_capf_op)v;
	}
	return err;
}

const char *store_cluster_mode_name(enum store_cluster_mode mode)
{
	return map_name(NMAP(cluster_modes), (int)mode);
}

int store_cluster_mode_from_name(const char *s, enum store_cluster_mode *out)
{
	int v;
	int err = map_parse(NMAP(cluster_modes), s, &v);

	if (!err) {
		*out = (enum store_cluster_mode)v;
	}
	return err;
}

void store_hex(const uint8_t *p, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 15];
	}
	out[2 * n] = '\0';
}

int store_digest_ha1(enum store_digest_alg alg, const char *user,
                     const char *realm, const char *password, char *out,
                     size_t outlen)
{
	const EVP_MD *md;
	EVP_MD_CTX *ctx = NULL;
	uint8_t h[EVP_MAX_MD_SIZE];
	unsigned hlen = 0;
	int err = -TL_ECRYPTO;

	if (!user || !realm || !password) {
		return -EINVAL;
	}
	/* RFC 7616 §3.4.2: A1 = username ":" realm ":" passwd; RFC 2617
	 * §3.2.2.2 for MD5. */
	md = alg == STORE_DIGEST_SHA256 ? EVP_sha256() : EVP_md5();
	if ((size_t)EVP_MD_get_size(md) * 2 + 1 > outlen) {
		return -TL_ETOOBIG;
	}
	ctx = EVP_MD_CTX_new();
	if (!ctx) {
		return -ENOMEM;
	}
	if (EVP_DigestInit_ex(ctx, md, NULL) != 1 ||
	    EVP_DigestUpdate(ctx, user, strlen(user)) != 1 ||
	    EVP_DigestUpdate(ctx, ":", 1) != 1 ||
	    EVP_DigestUpdate(ctx, realm, strlen(realm)) != 1 ||
	    EVP_DigestUpdate(ctx, ":", 1) != 1 ||
	    EVP_DigestUpdate(ctx, password, strlen(password)) != 1 ||
	    EVP_DigestFinal_ex(ctx, h, &hlen) != 1) {
		goto out;
	}
	store_hex(h, hlen, out);
	err = 0;
out:
	OPENSSL_cleanse(h, sizeof(h));
	EVP_MD_CTX_free(ctx);
	return err;
}

bool store_valid_name(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n >= max) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && c != '-' && c != '_' && c != '.') {
			return false;
		}
	}
	return true;
}

bool store_valid_dn(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n >= STORE_DN_MAX) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!(c >= '0' && c <= '9') && c != '*' && c != '#' &&
		    !(c == '+' && i == 0)) {
			return false;
		}
	}
	return true;
}

/* The length of the UTF-8 sequence at p (RFC 3629 §4: shortest form, no
 * surrogates, at most U+10FFFF), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *p)
{
	size_t n;
	unsigned long c;

	if (p[0] < 0x80) {
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		c = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		c = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		c = p[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80) {
			return 0; /* also at the terminating NUL */
		}
		c = (c << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff)) {
		return 0;
	}
	return n;
}

bool store_valid_text(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = s ? strlen(s) : 0;

	if (n >= max) {
		return false;
	}
	/* UTF-8 (JSON output and XML configs need it), no controls */
	for (size_t i = 0; i < n;) {
		size_t k = utf8_len(p + i);

		if (k == 0 || p[i] < 0x20 || p[i] == 0x7f) {
			return false;
		}
		i += k;
	}
	return true;
}
