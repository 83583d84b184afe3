/* SEP<MAC>.cnf.xml generation with libxml2: element names and placement
 * after cisco-formats.md §3 (and §2.3 for the stub); docs/formats/
 * cnf-xml.md says which values are Cisco's defaults and which are ours.
 * The tree is built node by node and serialised by libxml2, so no value
 * from the database can break out of its element. */
#include "prov/cnf_xml.h"

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlstring.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINES  64
#define SECRET_MAX 128

/* One document under construction; the first failure sticks. */
struct gen {
	xmlDocPtr doc;
	int err;
	xmlNodePtr secrets[MAX_LINES]; /* authPassword nodes: wiped */
	size_t n_secrets;
};

static xmlNodePtr el(struct gen *g, xmlNodePtr parent, const char *name,
                     const char *text)
{
	xmlNodePtr n;

	if (g->err || !parent) {
		return NULL;
	}
	/* xmlNewTextChild escapes text (xmlNewChild would not) */
	n = xmlNewTextChild(parent, NULL, BAD_CAST name,
	                    text ? BAD_CAST text : NULL);
	if (!n) {
		g->err = -ENOMEM;
	}
	return n;
}

static xmlNodePtr eli(struct gen *g, xmlNodePtr parent, const char *name,
                      long v)
{
	char s[24];

	snprintf(s, sizeof(s), "%ld", v);
	return el(g, parent, name, s);
}

static void attr(struct gen *g, xmlNodePtr n, const char *name, long v)
{
	char s[24];

	if (g->err || !n) {
		return;
	}
	snprintf(s, sizeof(s), "%ld", v);
	if (!xmlNewProp(n, BAD_CAST name, BAD_CAST s)) {
		g->err = -ENOMEM;
	}
}

static const char *tf(bool b)
{
	return b ? "true" : "false";
}

/* One UTF-8 sequence at s (RFC 3629 §3: shortest form only, no
 * surrogates, at most U+10FFFF): its code point, or -1. */
static long utf8_next(const unsigned char **s)
{
	const unsigned char *p = *s;
	long c;
	int n;

	if (p[0] < 0x80) {
		*s = p + 1;
		return p[0];
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		c = p[0] & 0x1f;
		n = 1;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		c = p[0] & 0x0f;
		n = 2;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		c = p[0] & 0x07;
		n = 3;
	} else {
		return -1;
	}
	for (int i = 1; i <= n; i++) {
		if ((p[i] & 0xc0) != 0x80) {
			return -1; /* also stops at the NUL */
		}
		c = (c << 6) | (p[i] & 0x3f);
	}
	if ((n == 2 && c < 0x800) || (n == 3 && c < 0x10000) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff)) {
		return -1;
	}
	*s = p + n + 1;
	return c;
}

/* XML 1.0 §2.2: a document holds only Char. Values are single-line
 * UTF-8 without C0 controls but TAB (the store refuses control
 * characters too: this is the generator's own guard, so that no input
 * makes a malformed document). */
static bool text_ok(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	if (!s) {
		return false;
	}
	while (*s) {
		long c = utf8_next(&s);

		if (!(c == 0x9 || (c >= 0x20 && c <= 0xd7ff) ||
		      (c >= 0xe000 && c <= 0xfffd) ||
		      (c >= 0x10000 && c <= 0x10ffff))) {
			return false;
		}
	}
	return true;
}

static const char *text_or(const char *s, const char *fallback)
{
	return (s && *s && text_ok(s)) ? s : fallback;
}

static uint16_t port_or(uint16_t p, uint16_t def)
{
	return p ? p : def;
}

static int check_input(const struct cnf_input *in)
{
	if (!in || !in->site || !in->device || !in->profile ||
	    (in->n_lines && !in->lines) || in->n_lines > MAX_LINES) {
		return -EINVAL;
	}
	if (!in->site->host || !*in->site->host || !text_ok(in->site->host)) {
		return -TL_ECONFIG;
	}
	return 0;
}

static int gen_start(struct gen *g, xmlNodePtr *root)
{
	memset(g, 0, sizeof(*g));
	g->doc = xmlNewDoc(BAD_CAST "1.0");
	if (!g->doc) {
		return -ENOMEM;
	}
	*root = xmlNewNode(NULL, BAD_CAST "device");
	if (!*root) {
		return -ENOMEM;
	}
	xmlDocSetRootElement(g->doc, *root);
	return 0;
}

/* Serialise into out, then free the tree, wiping any secret first. */
static int gen_finish(struct gen *g, struct buf *out)
{
	xmlChar *mem = NULL;
	int size = 0;
	int err = g->err;

	if (!err && g->doc) {
		xmlDocDumpFormatMemoryEnc(g->doc, &mem, &size, "UTF-8", 1);
		if (!mem || size <= 0) {
			err = -ENOMEM;
		} else if (!(err = buf_reserve(out, (size_t)size))) {
			/* reserved first: no realloc leaves a copy behind */
			buf_put(out, mem, (size_t)size);
			err = buf_err(out);
		}
	}
	if (mem) {
		OPENSSL_cleanse(mem, (size_t)(size > 0 ? size : 0));
		xmlFree(mem);
	}
	for (size_t i = 0; i < g->n_secrets; i++) {
		xmlNodePtr t = g->secrets[i]->children;

		if (t && t->content) {
			OPENSSL_cleanse(t->content,
			                strlen((const char *)t->content));
		}
	}
	xmlFreeDoc(g->doc);
	g->doc = NULL;
	return err;
}

static void add_call_manager_group(struct gen *g, xmlNodePtr pool,
                                   const struct cnf_site *s)
{
	xmlNodePtr grp = el(g, pool, "callManagerGroup", NULL);
	xmlNodePtr members, member, cm, ports;

	el(g, grp, "name", "Default");
	el(g, grp, "tftpDefault", "true");
	members = el(g, grp, "members", NULL);
	member = el(g, members, "member", NULL);
	attr(g, member, "priority", 0);
	cm = el(g, member, "callManager", NULL);
	el(g, cm, "name", s->host);
	el(g, cm, "description", s->host);
	ports = el(g, cm, "ports", NULL);
	/* SCCP port: not served, kept at Cisco's default so phones that
	 * expect the element find it */
	eli(g, ports, "ethernetPhonePort", 2000);
	eli(g, ports, "sipPort", port_or(s->sip_port, 5060));
	eli(g, ports, "securedSipPort", port_or(s->sip_tls_port, 5061));
	el(g, cm, "processNodeName", s->host);
}

/* Secure SRST (seed 003) fills this in; until then SRST is disabled but
 * the element is present where phones look for it. */
static void add_srst(struct gen *g, xmlNodePtr pool)
{
	xmlNodePtr srst = el(g, pool, "srstInfo", NULL);

	el(g, srst, "name", "Disable");
	el(g, srst, "srstOption", "Disable");
	el(g, srst, "userModifiable", "false");
	el(g, srst, "ipAddr1", "");
	eli(g, srst, "port1", 2000);
	el(g, srst, "sipIpAddr1", "");
	eli(g, srst, "sipPort1", 5060);
	el(g, srst, "isSecure", "false");
}

static void add_device_pool(struct gen *g, xmlNodePtr root,
                            const struct cnf_site *s)
{
	xmlNodePtr pool = el(g, root, "devicePool", NULL);

	el(g, pool, "name", text_or(s->device_pool, "Default"));
	add_call_manager_group(g, pool, s);
	add_srst(g, pool);
	eli(g, pool, "connectionMonitorDuration",
	    s->monitor_duration ? (long)s->monitor_duration : 120);
}

static void add_capf(struct gen *g, xmlNodePtr root, const struct cnf_input *in)
{
	xmlNodePtr list, capf;

	eli(g, root, "capfAuthMode", in->device->capf_auth_mode);
	list = el(g, root, "capfList", NULL);
	capf = el(g, list, "capf", NULL);
	eli(g, capf, "phonePort", port_or(in->site->capf_port, 3804));
	el(g, capf, "processNodeName", in->site->host);
}

static void add_line(struct gen *g, xmlNodePtr lines,
                     const struct cnf_input *in, size_t i, bool secrets)
{
	const struct store_line *l = &in->lines[i];
	const struct cnf_site *s = in->site;
	bool tls = in->profile->transport == STORE_TRANSPORT_TLS;
	const char *label = text_or(l->display, l->dn);
	const char *auth = *l->user ? l->user : l->dn;
	xmlNodePtr line, n;

	if (!text_ok(l->dn) || !*l->dn) {
		return; /* no number, no line */
	}
	line = el(g, lines, "line", NULL);

	attr(g, line, "button", l->line_index);
	attr(g, line, "lineIndex", l->line_index);
	eli(g, line, "featureID", 9); /* 9: a line */
	el(g, line, "featureLabel", label);
	/* USECALLMANAGER: register with the call manager group above */
	el(g, line, "proxy", "USECALLMANAGER");
	eli(g, line, "port",
	    tls ? port_or(s->sip_tls_port, 5061) : port_or(s->sip_port, 5060));
	el(g, line, "name", l->dn);
	el(g, line, "displayName", label);
	n = el(g, line, "autoAnswer", NULL);
	eli(g, n, "autoAnswerEnabled", 2);
	eli(g, line, "callWaiting", 3);
	el(g, line, "authName", text_or(auth, l->dn));
	if (secrets && in->passwords && in->passwords[i] &&
	    text_ok(in->passwords[i])) {
		n = el(g, line, "authPassword", in->passwords[i]);
		if (n && g->n_secrets < MAX_LINES) {
			g->secrets[g->n_secrets++] = n;
		}
	}
	el(g, line, "sharedLine", "false");
	eli(g, line, "messageWaitingLampPolicy", 3);
	el(g, line, "messagesNumber", text_or(s->voicemail, ""));
	eli(g, line, "ringSettingIdle", 4);
	eli(g, line, "ringSettingActive", 5);
	el(g, line, "contact", l->dn);
}

static void add_sip_profile(struct gen *g, xmlNodePtr root,
                            const struct cnf_input *in, bool secrets)
{
	xmlNodePtr prof = el(g, root, "sipProfile", NULL);
	xmlNodePtr proxies, stack, lines;

	proxies = el(g, prof, "sipProxies", NULL);
	el(g, proxies, "registerWithProxy", "true");
	/* RFC 3261 §17.1.1.1 timers and the keepalive used for failover
	 * detection (cisco-formats.md §3, §6) */
	stack = el(g, prof, "sipStack", NULL);
	eli(g, stack, "sipInviteRetx", 6);
	eli(g, stack, "sipRetx", 10);
	eli(g, stack, "timerInviteExpires", 180);
	eli(g, stack, "timerRegisterExpires", 3600);
	eli(g, stack, "timerRegisterDelta", 5);
	eli(g, stack, "timerKeepAliveExpires", 120);
	eli(g, stack, "timerSubscribeExpires", 120);
	eli(g, stack, "timerSubscribeDelta", 5);
	eli(g, stack, "timerT1", 500);
	eli(g, stack, "timerT2", 4000);
	eli(g, stack, "maxRedirects", 70);
	el(g, stack, "remotePartyID", "true");
	el(g, stack, "userInfo", "None");
	el(g, prof, "phoneLabel", text_or(in->device->description, ""));
	lines = el(g, prof, "sipLines", NULL);
	for (size_t i = 0; i < in->n_lines; i++) {
		add_line(g, lines, in, i, secrets);
	}
	/* the phone's own SIP port, not the server's */
	eli(g, prof, "voipControlPort",
	    in->profile->transport == STORE_TRANSPORT_TLS ? 5061 : 5060);
	eli(g, prof, "dscpForAudio", 184); /* EF */
}

/* Our own element (docs/formats/cnf-xml.md): the security settings of
 * the profile that have no Cisco element. Cisco phones ignore it. */
static void add_trustline(struct gen *g, xmlNodePtr root,
                          const struct cnf_input *in)
{
	xmlNodePtr t = el(g, root, "trustlineSecurity", NULL);

	el(g, t, "profile", text_or(in->profile->name, ""));
	/* seed 001: the endpoint challenges incoming INVITE and NOTIFY */
	el(g, t, "authInvite", tf(in->profile->auth_invite));
	el(g, t, "srtpRequired", tf(in->profile->mode == STORE_SEC_ENCRYPTED));
}

int cnf_xml_full(struct buf *out, const struct cnf_input *in, bool secrets)
{
	struct gen g;
	xmlNodePtr root = NULL;
	const struct store_device *d;
	int err = check_input(in);

	if (err) {
		return err;
	}
	d = in->device;
	err = gen_start(&g, &root);
	if (err) {
		xmlFreeDoc(g.doc);
		return err;
	}
	el(&g, root, "fullConfig", "true");
	el(&g, root, "deviceProtocol", "SIP");
	add_device_pool(&g, root, in->site);
	add_sip_profile(&g, root, in, secrets);
	el(&g, root, "loadInformation", text_or(d->load, ""));
	eli(&g, root, "deviceSecurityMode", in->profile->mode);
	eli(&g, root, "transportLayerProtocol", in->profile->transport);
	eli(&g, root, "TLSResumptionTimer", 3600);
	add_capf(&g, root, in);
	el(&g, root, "certHash", "");
	el(&g, root, "encrConfig", "false");
	add_trustline(&g, root, in);
	return gen_finish(&g, out);
}

int cnf_xml_stub(struct buf *out, const struct cnf_input *in)
{
	struct gen g;
	xmlNodePtr root = NULL;
	int err = check_input(in);

	if (err) {
		return err;
	}
	if (strlen(in->device->cert_md5) != 32 ||
	    strspn(in->device->cert_md5, "0123456789abcdef") != 32) {
		return -TL_ESTATE;
	}
	err = gen_start(&g, &root);
	if (err) {
		xmlFreeDoc(g.doc);
		return err;
	}
	/* cisco-formats.md §2.3: only these, then the phone fetches
	 * SEP<MAC>.cnf.xml.enc.sgn */
	el(&g, root, "fullConfig", "false");
	el(&g, root, "ipAddressMode", "0"); /* IPv4 only */
	el(&g, root, "loadInformation", text_or(in->device->load, ""));
	add_capf(&g, root, in);
	el(&g, root, "certHash", in->device->cert_md5);
	el(&g, root, "encrConfig", "true");
	return gen_finish(&g, out);
}

/* ---- files ---- */

static const char *const suffixes[CNF_FILE_MAX] = {
        [CNF_FILE_XML] = ".cnf.xml",
        [CNF_FILE_SGN] = ".cnf.xml.sgn",
        [CNF_FILE_ENC] = ".cnf.xml.enc.sgn",
};

unsigned cnf_serve(enum store_cluster_mode mode, const struct store_device *d)
{
	if (mode != STORE_CLUSTER_MIXED) {
		return 1u << CNF_FILE_XML;
	}
	if (d && strlen(d->cert_md5) == 32) {
		return (1u << CNF_FILE_SGN) | (1u << CNF_FILE_ENC);
	}
	return 1u << CNF_FILE_SGN;
}

int cnf_file_name(enum cnf_file f, const char *mac, char *out, size_t outlen)
{
	char m[13];
	int n;

	if ((unsigned)f >= CNF_FILE_MAX) {
		return -EINVAL;
	}
	if (store_mac_parse(mac, m)) {
		return -TL_EPARSE;
	}
	n = snprintf(out, outlen, "SEP%s%s", m, suffixes[f]);
	return (n < 0 || (size_t)n >= outlen) ? -TL_ETOOBIG : 0;
}

int cnf_file_parse(struct slice name, char mac[13], enum cnf_file *f)
{
	static const char hex[] = "0123456789ABCDEF";

	if (name.len < 15 || !name.p) {
		return -TL_EPARSE;
	}
	if ((name.p[0] | 0x20) != 's' || (name.p[1] | 0x20) != 'e' ||
	    (name.p[2] | 0x20) != 'p') {
		return -TL_EPARSE;
	}
	for (size_t i = 0; i < 12; i++) {
		uint8_t c = name.p[3 + i];
		int v;

		if (c >= '0' && c <= '9') {
			v = c - '0';
		} else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
			v = (c | 0x20) - 'a' + 10;
		} else {
			return -TL_EPARSE;
		}
		mac[i] = hex[v];
	}
	mac[12] = '\0';
	for (int k = 0; k < CNF_FILE_MAX; k++) {
		size_t sl = strlen(suffixes[k]);

		if (name.len == 15 + sl &&
		    !memcmp(name.p + 15, suffixes[k], sl)) {
			*f = (enum cnf_file)k;
			return 0;
		}
	}
	return -TL_EPARSE;
}

/* ---- from the store ---- */

struct line_acc {
	struct store_line *lines;
	size_t n;
	int err;
};

static int acc_line(const struct store_line *l, void *arg)
{
	struct line_acc *a = arg;

	if (a->n >= MAX_LINES) {
		a->err = -TL_ETOOBIG;
		return 1;
	}
	a->lines[a->n++] = *l;
	return 0;
}

void cnf_files_free(struct cnf_files *f)
{
	if (!f) {
		return;
	}
	for (int i = 0; i < CNF_FILE_MAX; i++) {
		buf_free_secret(&f->body[i]);
	}
	memset(f, 0, sizeof(*f));
}

/* What a device's files are made of, read in one snapshot. */
struct cnf_src {
	struct store_device d;
	struct store_profile p;
	enum store_cluster_mode mode;
	struct store_line *lines; /* MAX_LINES of them, n used */
	size_t n;
	uint64_t generation; /* store_generation */
	uint64_t stamp;      /* store_device_stamp */
	unsigned serve;      /* CNF_SERVES bits */
	uint8_t *der;        /* the device certificate, when asked for */
	size_t der_len;
};

static void src_free(struct cnf_src *s)
{
	if (s->lines) {
		/* the rows carry HA1 values (STYLE 12) */
		OPENSSL_cleanse(s->lines, MAX_LINES * sizeof(*s->lines));
		free(s->lines);
	}
	free(s->der);
	memset(s, 0, sizeof(*s));
}

/* One read transaction: a consistent state, its generation and the
 * device's stamp. with_cert: also the certificate, when the encrypted
 * config is served. */
static int src_load(struct cnf_src *s, struct store *st, const char *mac,
                    bool with_cert)
{
	struct line_acc acc = {0};
	int err;

	memset(s, 0, sizeof(*s));
	err = store_read_begin(st);
	if (err) {
		return err;
	}
	err = store_generation(st, &s->generation);
	if (!err) {
		err = store_device_stamp(st, mac, &s->stamp);
	}
	if (!err) {
		err = store_device_get(st, mac, &s->d);
	}
	if (!err) {
		err = store_profile_get(st, s->d.profile, &s->p);
	}
	if (!err) {
		err = store_cluster_mode_get(st, &s->mode);
	}
	if (!err) {
		s->lines = calloc(MAX_LINES, sizeof(*s->lines));
		err = s->lines ? 0 : -ENOMEM;
	}
	if (!err) {
		acc.lines = s->lines;
		err = store_line_list(st, s->d.mac, acc_line, &acc);
		if (!err) {
			err = acc.err;
		}
		s->n = acc.n;
	}
	if (!err) {
		s->serve = cnf_serve(s->mode, &s->d);
	}
	if (!err && with_cert && CNF_SERVES(s->serve, CNF_FILE_ENC)) {
		err = store_device_cert_get(st, s->d.mac, &s->der, &s->der_len);
	}
	store_read_end(st);
	if (err) {
		src_free(s);
	}
	return err;
}

/* The XML of file f (served to the device) into out. */
static int body_build(struct buf *out, const struct cnf_src *s,
                      const struct cnf_site *site, enum cnf_file f,
                      cnf_secret_h secret, void *arg)
{
	struct cnf_input in = {site, &s->d, &s->p, s->lines, s->n, NULL};
	const char *pws[MAX_LINES] = {0};
	char *pw;
	int err = 0;

	switch (f) {
	case CNF_FILE_XML:
		return cnf_xml_full(out, &in, false);
	case CNF_FILE_SGN:
		return CNF_SERVES(s->serve, CNF_FILE_ENC)
		               ? cnf_xml_stub(out, &in)
		               : cnf_xml_full(out, &in, false);
	case CNF_FILE_ENC:
		break;
	default:
		return -EINVAL;
	}
	pw = calloc(MAX_LINES, SECRET_MAX); /* MAX_LINES x SECRET_MAX */
	if (!pw) {
		return -ENOMEM;
	}
	for (size_t i = 0; secret && i < s->n; i++) {
		char *slot = pw + i * SECRET_MAX;
		int e = secret(s->lines[i].dn, slot, SECRET_MAX, arg);

		if (e == 0 && memchr(slot, 0, SECRET_MAX) && *slot) {
			pws[i] = slot;
		} else if (e && e != -TL_ENOTFOUND) {
			err = e;
			goto out;
		}
	}
	in.passwords = pws;
	err = cnf_xml_full(out, &in, true);
out:
	OPENSSL_cleanse(pw, (size_t)MAX_LINES * SECRET_MAX);
	free(pw);
	return err;
}

int cnf_build(struct cnf_files *out, struct store *st,
              const struct cnf_site *site, const char *mac, cnf_secret_h secret,
              void *arg)
{
	struct cnf_src src;
	int err;

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < CNF_FILE_MAX; i++) {
		buf_init(&out->body[i], 0);
	}
	err = src_load(&src, st, mac, false);
	if (err) {
		return err;
	}
	out->generation = src.generation;
	out->serve = src.serve;
	for (int i = 0; !err && i < CNF_FILE_MAX; i++) {
		if (CNF_SERVES(src.serve, i)) {
			err = body_build(&out->body[i], &src, site,
			                 (enum cnf_file)i, secret, arg);
		}
	}
	src_free(&src);
	if (err) {
		cnf_files_free(out);
	}
	return err;
}

/* ---- cache ---- */

/* The files of one device, each built when first asked for; all of them
 * are dropped together when the device's stamp moves, so the files held
 * at any time derive from one state of the device. */
struct cnf_entry {
	char mac[13];
	uint64_t stamp; /* store_device_stamp the files derive from */
	unsigned serve; /* CNF_SERVES bits as of stamp; 0: not read yet */
	unsigned built; /* bit f: bytes[f] holds file f */
	struct buf bytes[CNF_FILE_MAX];
};

struct cnf_cache {
	struct store *st;
	const struct cnf_site *site;
	cnf_secret_h secret;
	cnf_transform_h transform;
	void *arg;
	struct cnf_entry *e;
	size_t n, cap;
	/* open addressing over e: index + 1, 0 = empty; nslots a power of
	 * two at least twice n */
	uint32_t *slots;
	size_t nslots;
	uint64_t builds;
};

int cnf_cache_new(struct cnf_cache **out, struct store *st,
                  const struct cnf_site *site, cnf_secret_h secret,
                  cnf_transform_h transform, void *arg)
{
	struct cnf_cache *c;

	*out = NULL;
	if (!st || !site) {
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		return -ENOMEM;
	}
	*c = (struct cnf_cache){.st = st,
	                        .site = site,
	                        .secret = secret,
	                        .transform = transform,
	                        .arg = arg};
	*out = c;
	return 0;
}

static void entry_clear(struct cnf_entry *e)
{
	for (int i = 0; i < CNF_FILE_MAX; i++) {
		buf_free_secret(&e->bytes[i]);
	}
	e->built = 0;
	e->serve = 0;
}

void cnf_cache_free(struct cnf_cache *c)
{
	if (!c) {
		return;
	}
	for (size_t i = 0; i < c->n; i++) {
		entry_clear(&c->e[i]);
	}
	free(c->e);
	free(c->slots);
	free(c);
}

uint64_t cnf_cache_builds(const struct cnf_cache *c)
{
	return c->builds;
}

/* Build file f of e (generate, then sign or encrypt and sign) from the
 * store as it is now. -TL_ENOTFOUND when f is not served to the device. */
static int file_fill(struct cnf_cache *c, struct cnf_entry *e, enum cnf_file f)
{
	struct cnf_src src;
	struct buf body;
	int err = src_load(&src, c->st, e->mac,
	                   f == CNF_FILE_ENC && c->transform);

	if (err) {
		return err;
	}
	if (src.stamp != e->stamp) {
		/* changed since the caller looked: the files built before
		 * belong to the older state */
		entry_clear(e);
		e->stamp = src.stamp;
	}
	e->serve = src.serve;
	if (!CNF_SERVES(src.serve, f)) {
		src_free(&src);
		return -TL_ENOTFOUND;
	}
	buf_init(&body, 0);
	buf_free_secret(&e->bytes[f]);
	buf_init(&e->bytes[f], 0);
	err = body_build(&body, &src, c->site, f, c->secret, c->arg);
	if (!err && c->transform) {
		err = c->transform(f, e->mac, buf_slice(&body), src.der,
		                   src.der_len, &e->bytes[f], c->arg);
	} else if (!err) {
		buf_put_slice(&e->bytes[f], buf_slice(&body));
		err = buf_err(&e->bytes[f]);
	}
	c->builds++;
	if (err) {
		buf_free_secret(&e->bytes[f]);
	} else {
		e->built |= 1u << f;
	}
	buf_free_secret(&body);
	src_free(&src);
	return err;
}

/* The MAC's 48 bits, spread over the table (Fibonacci hashing). */
static size_t slot_of(const char mac[13], size_t nslots)
{
	uint64_t k = strtoull(mac, NULL, 16);

	return (size_t)((k * 0x9e3779b97f4a7c15ull) >> 32) & (nslots - 1);
}

/* Rebuild the table for the entries, growing it to keep it half empty. */
static int slots_rebuild(struct cnf_cache *c, size_t want)
{
	size_t ns = c->nslots ? c->nslots : 32;
	uint32_t *t;

	while (ns < 2 * want) {
		ns *= 2;
	}
	t = calloc(ns, sizeof(*t));
	if (!t) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->n; i++) {
		size_t h = slot_of(c->e[i].mac, ns);

		while (t[h]) {
			h = (h + 1) & (ns - 1);
		}
		t[h] = (uint32_t)(i + 1);
	}
	free(c->slots);
	c->slots = t;
	c->nslots = ns;
	return 0;
}

static struct cnf_entry *entry_find(struct cnf_cache *c, const char m[13])
{
	if (!c->nslots) {
		return NULL;
	}
	for (size_t h = slot_of(m, c->nslots); c->slots[h];
	     h = (h + 1) & (c->nslots - 1)) {
		struct cnf_entry *e = &c->e[c->slots[h] - 1];

		if (!memcmp(e->mac, m, 13)) {
			return e;
		}
	}
	return NULL;
}

static int entry_insert(struct cnf_cache *c, const char m[13],
                        struct cnf_entry **out)
{
	struct cnf_entry *e;
	int err;

	if (c->n >= UINT32_MAX - 1) {
		return -TL_ELIMIT;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct cnf_entry *ne = realloc(c->e, cap * sizeof(*ne));

		if (!ne) {
			return -ENOMEM;
		}
		c->e = ne;
		c->cap = cap;
	}
	e = &c->e[c->n++];
	memset(e, 0, sizeof(*e));
	memcpy(e->mac, m, sizeof(e->mac));
	if (2 * c->n > c->nslots) {
		err = slots_rebuild(c, c->n);
		if (err) {
			c->n--;
			return err;
		}
	} else {
		size_t h = slot_of(m, c->nslots);

		while (c->slots[h]) {
			h = (h + 1) & (c->nslots - 1);
		}
		c->slots[h] = (uint32_t)c->n;
	}
	*out = e;
	return 0;
}

/* Forget e (moving the last entry into its place). */
static void entry_remove(struct cnf_cache *c, struct cnf_entry *e)
{
	entry_clear(e);
	*e = c->e[--c->n];
	if (slots_rebuild(c, c->n)) {
		/* no memory for a new table: search the old one no more */
		free(c->slots);
		c->slots = NULL;
		c->nslots = 0;
		for (size_t i = 0; i < c->n; i++) {
			entry_clear(&c->e[i]);
		}
		c->n = 0;
	}
}

int cnf_cache_get(struct cnf_cache *c, const char *mac, enum cnf_file f,
                  struct slice *out)
{
	struct cnf_entry *e;
	char m[13];
	uint64_t stamp;
	int err;

	if ((unsigned)f >= CNF_FILE_MAX) {
		return -EINVAL;
	}
	if (store_mac_parse(mac, m)) {
		return -TL_ENOTFOUND;
	}
	/* Valid while nothing the device's files derive from changed (its
	 * row, its lines, the cluster mode and every other setting, the
	 * profiles): another device's enrolment does not move it. */
	err = store_device_stamp(c->st, m, &stamp);
	e = entry_find(c, m);
	if (err) {
		if (e && err == -TL_ENOTFOUND) {
			entry_remove(c, e); /* the device was deleted */
		}
		return err;
	}
	if (!e) {
		/* known devices only: an unknown MAC never grows the cache */
		err = entry_insert(c, m, &e);
		if (err) {
			return err;
		}
	}
	if (e->stamp != stamp) {
		entry_clear(e);
		e->stamp = stamp;
	}
	if (e->serve && !CNF_SERVES(e->serve, f)) {
		return -TL_ENOTFOUND;
	}
	if (!(e->built & (1u << f))) {
		err = file_fill(c, e, f);
		if (err == -TL_ENOTFOUND && e->serve) {
			return err; /* not served to it in this mode */
		}
		if (err) {
			entry_remove(c, e);
			return err;
		}
	}
	*out = buf_slice(&e->bytes[f]);
	return 0;
}

int cnf_cache_warm(struct cnf_cache *c, const char *mac, unsigned *n)
{
	*n = 0;
	for (int f = 0; f < CNF_FILE_MAX; f++) {
		struct slice bytes;
		int err = cnf_cache_get(c, mac, (enum cnf_file)f, &bytes);

		if (err == 0) {
			(*n)++;
		} else if (err != -TL_ENOTFOUND) {
			return err;
		}
	}
	return 0;
}

int cnf_cache_gen(const char *name, struct buf *out, void *arg)
{
	struct cnf_cache *c = arg;
	struct store_device d;
	enum cnf_file f;
	struct slice bytes;
	char mac[13];
	int err;

	if (!c || !name) {
		return -EINVAL;
	}
	if (cnf_file_parse(slice_from_str(name), mac, &f)) {
		return -TL_ENOTFOUND;
	}
	err = cnf_cache_get(c, mac, f, &bytes);
	if (err == -TL_ENOTFOUND && store_device_get(c->st, mac, &d) == 0) {
		return -TL_EPOLICY;
	}
	if (err) {
		return err;
	}
	buf_put_slice(out, bytes);
	return buf_err(out);
}
