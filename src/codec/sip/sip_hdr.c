/* Names: header fields (long and compact forms), methods, reason
 * phrases. */
#include "codec/sip/sip_int.h"

#include <string.h>

struct hname {
	char name[20]; /* lower case, inline: no pointer to chase */
	uint8_t len;
	uint8_t id;
};

/* Open-addressed hash of every long and compact header name, lower case (RFC
 * 3261 §7.3.3 and §20; compact forms of RFC 3265, 3515, 3841, 3892, 4028,
 * 8224), keyed by hname_hash(). Generated; at most one probe. */
static const struct hname htab[256] = {
        [2] = {"to", 2, SIP_HDR_TO},
        [3] = {"accept-encoding", 15, SIP_HDR_ACCEPT_ENCODING},
        [8] = {"allow-events", 12, SIP_HDR_ALLOW_EVENTS},
        [9] = {"f", 1, SIP_HDR_FROM},
        [13] = {"require", 7, SIP_HDR_REQUIRE},
        [15] = {"authorization", 13, SIP_HDR_AUTHORIZATION},
        [18] = {"content-length", 14, SIP_HDR_CONTENT_LENGTH},
        [22] = {"identity", 8, SIP_HDR_IDENTITY},
        [24] = {"rseq", 4, SIP_HDR_RSEQ},
        [28] = {"accept-contact", 14, SIP_HDR_ACCEPT_CONTACT},
        [39] = {"i", 1, SIP_HDR_CALL_ID},
        [41] = {"content-encoding", 16, SIP_HDR_CONTENT_ENCODING},
        [46] = {"server", 6, SIP_HDR_SERVER},
        [49] = {"j", 1, SIP_HDR_REJECT_CONTACT},
        [50] = {"warning", 7, SIP_HDR_WARNING},
        [56] = {"refer-to", 8, SIP_HDR_REFER_TO},
        [57] = {"reply-to", 8, SIP_HDR_REPLY_TO},
        [59] = {"supported", 9, SIP_HDR_SUPPORTED},
        [60] = {"k", 1, SIP_HDR_SUPPORTED},
        [68] = {"replaces", 8, SIP_HDR_REPLACES},
        [69] = {"l", 1, SIP_HDR_CONTENT_LENGTH},
        [72] = {"privacy", 7, SIP_HDR_PRIVACY},
        [74] = {"mime-version", 12, SIP_HDR_MIME_VERSION},
        [76] = {"min-expires", 11, SIP_HDR_MIN_EXPIRES},
        [78] = {"record-route", 12, SIP_HDR_RECORD_ROUTE},
        [79] = {"m", 1, SIP_HDR_CONTACT},
        [81] = {"max-forwards", 12, SIP_HDR_MAX_FORWARDS},
        [82] = {"subject", 7, SIP_HDR_SUBJECT},
        [90] = {"proxy-require", 13, SIP_HDR_PROXY_REQUIRE},
        [91] = {"timestamp", 9, SIP_HDR_TIMESTAMP},
        [92] = {"unsupported", 11, SIP_HDR_UNSUPPORTED},
        [96] = {"authentication-info", 19, SIP_HDR_AUTHENTICATION_INFO},
        [97] = {"organization", 12, SIP_HDR_ORGANIZATION},
        [98] = {"service-route", 13, SIP_HDR_SERVICE_ROUTE},
        [99] = {"o", 1, SIP_HDR_EVENT},
        [101] = {"content-disposition", 19, SIP_HDR_CONTENT_DISPOSITION},
        [104] = {"retry-after", 11, SIP_HDR_RETRY_AFTER},
        [125] = {"referred-by", 11, SIP_HDR_REFERRED_BY},
        [128] = {"date", 4, SIP_HDR_DATE},
        [129] = {"r", 1, SIP_HDR_REFER_TO},
        [132] = {"user-agent", 10, SIP_HDR_USER_AGENT},
        [139] = {"s", 1, SIP_HDR_SUBJECT},
        [149] = {"t", 1, SIP_HDR_TO},
        [150] = {"reject-contact", 14, SIP_HDR_REJECT_CONTACT},
        [155] = {"proxy-authenticate", 18, SIP_HDR_PROXY_AUTHENTICATE},
        [157] = {"call-id", 7, SIP_HDR_CALL_ID},
        [159] = {"u", 1, SIP_HDR_ALLOW_EVENTS},
        [160] = {"p-asserted-identity", 19, SIP_HDR_P_ASSERTED_IDENTITY},
        [166] = {"session-expires", 15, SIP_HDR_SESSION_EXPIRES},
        [169] = {"v", 1, SIP_HDR_VIA},
        [175] = {"cseq", 4, SIP_HDR_CSEQ},
        [179] = {"subscription-state", 18, SIP_HDR_SUBSCRIPTION_STATE},
        [180] = {"accept", 6, SIP_HDR_ACCEPT},
        [183] = {"from", 4, SIP_HDR_FROM},
        [184] = {"www-authenticate", 16, SIP_HDR_WWW_AUTHENTICATE},
        [185] = {"allow", 5, SIP_HDR_ALLOW},
        [189] = {"x", 1, SIP_HDR_SESSION_EXPIRES},
        [195] = {"proxy-authorization", 19, SIP_HDR_PROXY_AUTHORIZATION},
        [196] = {"request-disposition", 19, SIP_HDR_REQUEST_DISPOSITION},
        [199] = {"y", 1, SIP_HDR_IDENTITY},
        [214] = {"event", 5, SIP_HDR_EVENT},
        [215] = {"a", 1, SIP_HDR_ACCEPT_CONTACT},
        [216] = {"call-info", 9, SIP_HDR_CALL_INFO},
        [219] = {"contact", 7, SIP_HDR_CONTACT},
        [221] = {"path", 4, SIP_HDR_PATH},
        [225] = {"min-se", 6, SIP_HDR_MIN_SE},
        [226] = {"b", 1, SIP_HDR_REFERRED_BY},
        [235] = {"c", 1, SIP_HDR_CONTENT_TYPE},
        [237] = {"via", 3, SIP_HDR_VIA},
        [239] = {"content-type", 12, SIP_HDR_CONTENT_TYPE},
        [240] = {"expires", 7, SIP_HDR_EXPIRES},
        [244] = {"rack", 4, SIP_HDR_RACK},
        [245] = {"d", 1, SIP_HDR_REQUEST_DISPOSITION},
        [252] = {"accept-language", 15, SIP_HDR_ACCEPT_LANGUAGE},
        [253] = {"route", 5, SIP_HDR_ROUTE},
        [255] = {"e", 1, SIP_HDR_CONTENT_ENCODING},
};

static const char *const hnames[SIP_HDR__COUNT] = {
        [SIP_HDR_VIA] = "Via",
        [SIP_HDR_FROM] = "From",
        [SIP_HDR_TO] = "To",
        [SIP_HDR_CALL_ID] = "Call-ID",
        [SIP_HDR_CSEQ] = "CSeq",
        [SIP_HDR_MAX_FORWARDS] = "Max-Forwards",
        [SIP_HDR_CONTENT_LENGTH] = "Content-Length",
        [SIP_HDR_CONTENT_TYPE] = "Content-Type",
        [SIP_HDR_CONTACT] = "Contact",
        [SIP_HDR_ROUTE] = "Route",
        [SIP_HDR_RECORD_ROUTE] = "Record-Route",
        [SIP_HDR_EXPIRES] = "Expires",
        [SIP_HDR_MIN_EXPIRES] = "Min-Expires",
        [SIP_HDR_AUTHORIZATION] = "Authorization",
        [SIP_HDR_PROXY_AUTHORIZATION] = "Proxy-Authorization",
        [SIP_HDR_WWW_AUTHENTICATE] = "WWW-Authenticate",
        [SIP_HDR_PROXY_AUTHENTICATE] = "Proxy-Authenticate",
        [SIP_HDR_AUTHENTICATION_INFO] = "Authentication-Info",
        [SIP_HDR_SUPPORTED] = "Supported",
        [SIP_HDR_REQUIRE] = "Require",
        [SIP_HDR_PROXY_REQUIRE] = "Proxy-Require",
        [SIP_HDR_UNSUPPORTED] = "Unsupported",
        [SIP_HDR_ALLOW] = "Allow",
        [SIP_HDR_ALLOW_EVENTS] = "Allow-Events",
        [SIP_HDR_EVENT] = "Event",
        [SIP_HDR_SUBSCRIPTION_STATE] = "Subscription-State",
        [SIP_HDR_ACCEPT] = "Accept",
        [SIP_HDR_ACCEPT_ENCODING] = "Accept-Encoding",
        [SIP_HDR_ACCEPT_LANGUAGE] = "Accept-Language",
        [SIP_HDR_CONTENT_ENCODING] = "Content-Encoding",
        [SIP_HDR_CONTENT_DISPOSITION] = "Content-Disposition",
        [SIP_HDR_CALL_INFO] = "Call-Info",
        [SIP_HDR_SUBJECT] = "Subject",
        [SIP_HDR_SESSION_EXPIRES] = "Session-Expires",
        [SIP_HDR_MIN_SE] = "Min-SE",
        [SIP_HDR_REFER_TO] = "Refer-To",
        [SIP_HDR_REFERRED_BY] = "Referred-By",
        [SIP_HDR_IDENTITY] = "Identity",
        [SIP_HDR_REJECT_CONTACT] = "Reject-Contact",
        [SIP_HDR_ACCEPT_CONTACT] = "Accept-Contact",
        [SIP_HDR_REQUEST_DISPOSITION] = "Request-Disposition",
        [SIP_HDR_USER_AGENT] = "User-Agent",
        [SIP_HDR_SERVER] = "Server",
        [SIP_HDR_DATE] = "Date",
        [SIP_HDR_TIMESTAMP] = "Timestamp",
        [SIP_HDR_WARNING] = "Warning",
        [SIP_HDR_RETRY_AFTER] = "Retry-After",
        [SIP_HDR_REPLY_TO] = "Reply-To",
        [SIP_HDR_RSEQ] = "RSeq",
        [SIP_HDR_RACK] = "RAck",
        [SIP_HDR_PATH] = "Path",
        [SIP_HDR_SERVICE_ROUTE] = "Service-Route",
        [SIP_HDR_REPLACES] = "Replaces",
        [SIP_HDR_PRIVACY] = "Privacy",
        [SIP_HDR_P_ASSERTED_IDENTITY] = "P-Asserted-Identity",
        [SIP_HDR_ORGANIZATION] = "Organization",
        [SIP_HDR_MIME_VERSION] = "MIME-Version",
};

/* Setting bit 0x20 lowers a letter and keeps '-', the only other byte of
 * the known names, so the hash of a name does not depend on its case. */
static unsigned hname_hash(const uint8_t *p, size_t len)
{
	unsigned h = (unsigned)len * 13 + (p[0] | 0x20u) * 7u +
	             (p[len - 1] | 0x20u) * 3u;

	if (len > 1) {
		h += p[1] | 0x20u;
	}
	return h & 255;
}

/* Equality of a token (no byte below '!') with a lower-case name made
 * of letters and '-': setting bit 0x20 lowers a letter and keeps '-', and
 * no other token byte turns into a letter or '-' that way, so 8 bytes
 * compare at once. */
static bool tok_eq_name(const uint8_t *p, const char *name, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t a, b;

		memcpy(&a, p + i, 8);
		memcpy(&b, name + i, 8);
		if ((a | 0x2020202020202020ull) != b) {
			return false;
		}
	}
	for (; i < n; i++) {
		if ((uint8_t)(p[i] | 0x20) != (uint8_t)name[i]) {
			return false;
		}
	}
	return true;
}

enum sip_hdr_id sip_hdr_lookup_tok(const uint8_t *p, size_t len)
{
	unsigned h;

	if (len == 0 || len > 32) {
		return SIP_HDR_OTHER;
	}
	h = hname_hash(p, len);
	for (unsigned probe = 0; probe < 256; probe++) {
		const struct hname *e = &htab[(h + probe) & 255];

		if (e->len == 0) {
			return SIP_HDR_OTHER;
		}
		if (e->len == len && tok_eq_name(p, e->name, len)) {
			return (enum sip_hdr_id)e->id;
		}
	}
	return SIP_HDR_OTHER;
}

enum sip_hdr_id sip_hdr_from(struct slice name)
{
	/* only tokens name headers (RFC 3261 §7.3.1) */
	for (size_t i = 0; i < name.len; i++) {
		if (!sip_is(name.p[i], C_TOKEN)) {
			return SIP_HDR_OTHER;
		}
	}
	return sip_hdr_lookup_tok(name.p, name.len);
}

const char *sip_hdr_name(enum sip_hdr_id id)
{
	if ((unsigned)id >= SIP_HDR__COUNT) {
		return NULL;
	}
	return hnames[id];
}

bool sip_hdr_is_list(enum sip_hdr_id id)
{
	/* RFC 3261 §7.3.1: only headers whose grammar is a comma-separated
	 * list may be split at commas. */
	switch (id) {
	case SIP_HDR_VIA:
	case SIP_HDR_CONTACT:
	case SIP_HDR_ROUTE:
	case SIP_HDR_RECORD_ROUTE:
	case SIP_HDR_SUPPORTED:
	case SIP_HDR_REQUIRE:
	case SIP_HDR_PROXY_REQUIRE:
	case SIP_HDR_UNSUPPORTED:
	case SIP_HDR_ALLOW:
	case SIP_HDR_ALLOW_EVENTS:
	case SIP_HDR_ACCEPT:
	case SIP_HDR_ACCEPT_ENCODING:
	case SIP_HDR_ACCEPT_LANGUAGE:
	case SIP_HDR_CONTENT_ENCODING:
	case SIP_HDR_CALL_INFO:
	case SIP_HDR_WARNING:
	case SIP_HDR_PATH:
	case SIP_HDR_SERVICE_ROUTE:
	case SIP_HDR_REJECT_CONTACT:
	case SIP_HDR_ACCEPT_CONTACT:
	case SIP_HDR_REQUEST_DISPOSITION:
	case SIP_HDR_P_ASSERTED_IDENTITY:
		return true;
	default:
		return false;
	}
}

static const char *const mnames[] = {
        [SIP_M_INVITE] = "INVITE",     [SIP_M_ACK] = "ACK",
        [SIP_M_BYE] = "BYE",           [SIP_M_CANCEL] = "CANCEL",
        [SIP_M_REGISTER] = "REGISTER", [SIP_M_OPTIONS] = "OPTIONS",
        [SIP_M_INFO] = "INFO",         [SIP_M_UPDATE] = "UPDATE",
        [SIP_M_PRACK] = "PRACK",       [SIP_M_SUBSCRIBE] = "SUBSCRIBE",
        [SIP_M_NOTIFY] = "NOTIFY",     [SIP_M_REFER] = "REFER",
        [SIP_M_MESSAGE] = "MESSAGE",   [SIP_M_PUBLISH] = "PUBLISH",
};

enum sip_method sip_method_from(struct slice s)
{
	/* RFC 3261 §7.1: the method is case-sensitive */
	if (s.len < 3 || s.len > 9) {
		return SIP_M_OTHER;
	}
	for (size_t i = 1; i < sizeof(mnames) / sizeof(mnames[0]); i++) {
		if (s.p[0] == (uint8_t)mnames[i][0] &&
		    slice_eq_str(s, mnames[i])) {
			return (enum sip_method)i;
		}
	}
	return SIP_M_OTHER;
}

const char *sip_method_name(enum sip_method m)
{
	if ((unsigned)m >= sizeof(mnames) / sizeof(mnames[0])) {
		return NULL;
	}
	return mnames[m];
}

const char *sip_reason_phrase(uint16_t code)
{
	/* RFC 3261 §21 and the extensions Trustline answers with */
	static const struct {
		uint16_t code;
		const char *reason;
	} r[] = {
	        {100, "Trying"},
	        {180, "Ringing"},
	        {181, "Call Is Being Forwarded"},
	        {182, "Queued"},
	        {183, "Session Progress"},
	        {200, "OK"},
	        {202, "Accepted"},
	        {204, "No Notification"},
	        {300, "Multiple Choices"},
	        {301, "Moved Permanently"},
	        {302, "Moved Temporarily"},
	        {305, "Use Proxy"},
	        {380, "Alternative Service"},
	        {400, "Bad Request"},
	        {401, "Unauthorized"},
	        {402, "Payment Required"},
	        {403, "Forbidden"},
	        {404, "Not Found"},
	        {405, "Method Not Allowed"},
	        {406, "Not Acceptable"},
	        {407, "Proxy Authentication Required"},
	        {408, "Request Timeout"},
	        {410, "Gone"},
	        {412, "Conditional Request Failed"},
	        {413, "Request Entity Too Large"},
	        {414, "Request-URI Too Long"},
	        {415, "Unsupported Media Type"},
	        {416, "Unsupported URI Scheme"},
	        {420, "Bad Extension"},
	        {421, "Extension Required"},
	        {422, "Session Interval Too Small"},
	        {423, "Interval Too Brief"},
	        {439, "First Hop Lacks Outbound Support"},
	        {480, "Temporarily Unavailable"},
	        {481, "Call/Transaction Does Not Exist"},
	        {482, "Loop Detected"},
	        {483, "Too Many Hops"},
	        {484, "Address Incomplete"},
	        {485, "Ambiguous"},
	        {486, "Busy Here"},
	        {487, "Request Terminated"},
	        {488, "Not Acceptable Here"},
	        {489, "Bad Event"},
	        {491, "Request Pending"},
	        {493, "Undecipherable"},
	        {494, "Security Agreement Required"},
	        {500, "Server Internal Error"},
	        {501, "Not Implemented"},
	        {502, "Bad Gateway"},
	        {503, "Service Unavailable"},
	        {504, "Server Time-out"},
	        {505, "Version Not Supported"},
	        {513, "Message Too Large"},
	        {580, "Precondition Failure"},
	        {600, "Busy Everywhere"},
	        {603, "Decline"},
	        {604, "Does Not Exist Anywhere"},
	        {606, "Not Acceptable"},
	};

	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		if (r[i].code == code) {
			return r[i].reason;
		}
	}
	/* RFC 3261 §8.1.3.2: an unknown code is treated as x00 of its class */
	switch (code / 100) {
	case 1:
		return "Trying";
	case 2:
		return "OK";
	case 3:
		return "Redirection";
	case 4:
		return "Bad Request";
	case 5:
		return "Server Internal Error";
	case 6:
		return "Global Failure";
	default:
		return "Unknown";
	}
}
