#include "cli/site.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int join(char *out, size_t outlen, const char *a, const char *b)
{
	int n = snprintf(out, outlen, "%s/%s", a, b);

	return (n < 0 || (size_t)n >= outlen) ? -TL_ETOOBIG : 0;
}

int site_path(const struct site *s, const char *rel, char *out,
	      size_t outlen)
{
	return join(out, outlen, s->dir, rel);
}

int site_defaults(struct site *s, const char *dir, uint16_t base_port)
{
	int err = 0;

	memset(s, 0, sizeof(*s));
	if (strlen(dir) >= sizeof(s->dir) - 32) {
		return -TL_ETOOBIG;
	}
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	err |= join(s->conf, sizeof(s->conf), dir, "trustline.conf");
	err |= join(s->db, sizeof(s->db), dir, "trustline.db");
	err |= join(s->pki, sizeof(s->pki), dir, "pki");
	err |= join(s->tokens, sizeof(s->tokens), dir, "tokens");
	err |= join(s->tftp, sizeof(s->tftp), dir, "tftp");
	err |= join(s->log, sizeof(s->log), dir, "log");
	if (err) {
		return -TL_ETOOBIG;
	}
	snprintf(s->name, sizeof(s->name), "trustline");
	snprintf(s->host, sizeof(s->host), "localhost");
	snprintf(s->digest, sizeof(s->digest), "sha256,md5");
	s->t1_ms = 500;
	if (base_port) {
		if (base_port > 65535 - 6) {
			return -TL_ECONFIG;
		}
		snprintf(s->listen, sizeof(s->listen), "127.0.0.1");
		s->ports = (struct site_ports){
			.sip = base_port,
			.sip_tls = (uint16_t)(base_port + 1),
			.tftp = (uint16_t)(base_port + 2),
			.http = (uint16_t)(base_port + 3),
			.capf = (uint16_t)(base_port + 4),
			.srst_cred = (uint16_t)(base_port + 5),
			.admin = (uint16_t)(base_port + 6),
		};
	} else {
		snprintf(s->listen, sizeof(s->listen), "0.0.0.0");
		s->ports = (struct site_ports){5060, 5061, 69, 6970, 3804,
					       2445, 8443};
	}
	return 0;
}

struct port_key {
	const char *key;
	size_t off;
};

static const struct port_key port_keys[] = {
	{"sip", offsetof(struct site_ports, sip)},
	{"sip_tls", offsetof(struct site_ports, sip_tls)},
	{"tftp", offsetof(struct site_ports, tftp)},
	{"http", offsetof(struct site_ports, http)},
	{"capf", offsetof(struct site_ports, capf)},
	{"srst_credentials", offsetof(struct site_ports, srst_cred)},
	{"admin", offsetof(struct site_ports, admin)},
};

struct load_ctx {
	struct site *s;
	char err[256];
};

static int set_str(char *dst, size_t len, const char *v)
{
	if (strlen(v) >= len) {
		return 0;
	}
	snprintf(dst, len, "%s", v);
	return 1;
}

static int on_kv(void *arg, const char *sec, const char *key,
		 const char *val)
{
	struct load_ctx *c = arg;
	struct site *s = c->s;

	if (!strcmp(sec, "site") && !strcmp(key, "name")) {
		return set_str(s->name, sizeof(s->name), val);
	}
	if (!strcmp(sec, "net") && !strcmp(key, "listen")) {
		return set_str(s->listen, sizeof(s->listen), val);
	}
	if (!strcmp(sec, "net") && !strcmp(key, "host")) {
		return set_str(s->host, sizeof(s->host), val);
	}
	if (!strcmp(sec, "security") && !strcmp(key, "cluster_mode")) {
		/* Older sites: the mode lives in the database now
		 * (`trustline cluster mode`). */
		return 1;
	}
	if (!strcmp(sec, "sip") && !strcmp(key, "digest")) {
		if (strcmp(val, "sha256,md5") && strcmp(val, "md5,sha256") &&
		    strcmp(val, "md5")) {
			return 0;
		}
		return set_str(s->digest, sizeof(s->digest), val);
	}
	if (!strcmp(sec, "sip") && !strcmp(key, "t1_ms")) {
		char *end;
		errno = 0;
		long v = strtol(val, &end, 10);
		if (errno || *end || v < 10 || v > 5000) {
			return 0;
		}
		s->t1_ms = (unsigned)v;
		return 1;
	}
	if (!strcmp(sec, "net")) {
		static const struct {
			const char *key;
			size_t off;
			long min, max;
		} lim[] = {
			{"max_conns", offsetof(struct site, max_conns), 1,
			 1048576},
			{"max_conns_per_ip",
			 offsetof(struct site, max_conns_per_ip), 1, 1048576},
			{"idle_timeout_s", offsetof(struct site, idle_timeout_s),
			 10, 86400},
		};
		for (size_t i = 0; i < sizeof(lim) / sizeof(*lim); i++) {
			if (strcmp(key, lim[i].key)) {
				continue;
			}
			char *end;
			errno = 0;
			long v = strtol(val, &end, 10);
			if (errno || end == val || *end || v < lim[i].min ||
			    v > lim[i].max) {
				return 0;
			}
			*(unsigned *)((char *)s + lim[i].off) = (unsigned)v;
			return 1;
		}
	}
	if (!strcmp(sec, "ports")) {
		for (size_t i = 0; i < sizeof(port_keys) / sizeof(*port_keys);
		     i++) {
			if (strcmp(key, port_keys[i].key)) {
				continue;
			}
			char *end;
			errno = 0;
			long v = strtol(val, &end, 10);
			if (errno || *end || v < 1 || v > 65535) {
				return 0;
			}
			*(uint16_t *)((char *)&s->ports + port_keys[i].off) =
				(uint16_t)v;
			return 1;
		}
	}
	/* Unknown keys are kept for newer versions; say so once. */
	fprintf(stderr, "trustline: %s: ignoring unknown setting [%s] %s\n",
		s->conf, sec, key);
	return 1;
}

int site_load(struct site *s, const char *dir)
{
	struct load_ctx c = {.s = s};
	int err = site_defaults(s, dir, 0);
	int line;

	if (err) {
		return err;
	}
	if (access(s->conf, R_OK) != 0) {
		return -errno;
	}
	line = ini_parse(s->conf, on_kv, &c);
	if (line != 0) {
		fprintf(stderr, "trustline: %s: bad setting on line %d\n",
			s->conf, line);
		return -TL_ECONFIG;
	}
	return 0;
}

int site_write_conf(const struct site *s)
{
	char tmp[SITE_PATH_MAX + 8];
	FILE *f;
	int err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", s->conf) >= (int)sizeof(tmp)) {
		return -TL_ETOOBIG;
	}
	f = fopen(tmp, "w");
	if (!f) {
		return -errno;
	}
	fprintf(f,
		"; Trustline site settings. Ports: see DESIGN.md.\n"
		"[site]\nname = %s\n\n"
		"[net]\nlisten = %s\nhost = %s\n\n"
		"; digest challenge order: sha256,md5 | md5,sha256 | md5\n"
		"[sip]\ndigest = %s\nt1_ms = %u\n\n"
		"[ports]\n",
		s->name, s->listen, s->host, s->digest,
		s->t1_ms);
	/* limits only when set: absent means the built-in defaults */
	if (s->max_conns || s->max_conns_per_ip || s->idle_timeout_s) {
		fprintf(f, "; [net] connection limits\n[net]\n");
		if (s->max_conns) {
			fprintf(f, "max_conns = %u\n", s->max_conns);
		}
		if (s->max_conns_per_ip) {
			fprintf(f, "max_conns_per_ip = %u\n",
				s->max_conns_per_ip);
		}
		if (s->idle_timeout_s) {
			fprintf(f, "idle_timeout_s = %u\n", s->idle_timeout_s);
		}
		fputc('\n', f);
	}
	for (size_t i = 0; i < sizeof(port_keys) / sizeof(*port_keys); i++) {
		fprintf(f, "%s = %u\n", port_keys[i].key,
			*(const uint16_t *)((const char *)&s->ports +
					    port_keys[i].off));
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		err = -errno;
	}
	if (fclose(f) != 0 && !err) {
		err = -errno;
	}
	if (!err && rename(tmp, s->conf) != 0) {
		err = -errno;
	}
	if (err) {
		unlink(tmp);
	}
	return err;
}
