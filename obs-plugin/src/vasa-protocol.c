/* Wire protocol v1 decoder: see vasa-protocol.h and docs/protocol.md ("Validation").
 * The checks and their order mirror the Python reference (vasa_bridge/protocol/wire.py), so the
 * three decoders classify every golden fixture alike. */
#include "vasa-protocol.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* msgpack limits, as the Python reference passes them to msgpack.unpackb */
#define MAX_ARRAY_LEN 4096
#define MAX_MAP_LEN 256

static enum vasa_status fail(struct vasa_error *err, enum vasa_status status, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->text, sizeof(err->text), fmt, ap);
		va_end(ap);
		err->status = status;
	}
	return status;
}

static const char *const KIND_NAMES[] = {"motion", "frame", "audio", "event", "hello"};

const char *vasa_kind_name(enum vasa_kind kind)
{
	return (unsigned)kind < 5 ? KIND_NAMES[kind] : "?";
}

const char *vasa_status_name(enum vasa_status status)
{
	switch (status) {
	case VASA_OK:
		return "ok";
	case VASA_ERR_MALFORMED:
		return "malformed";
	case VASA_ERR_VERSION:
		return "version";
	case VASA_ERR_TOO_LARGE:
		return "too_large";
	}
	return "?";
}

/* ---------------------------------------------------------------------------------------------
 * A validating pass over the msgpack bytes before msgpack-c sees them, so that this decoder
 * refuses exactly what the Python reference refuses (msgpack.unpackb with raw=False,
 * strict_map_key=True and its limits, then wire.decode's nesting limit):
 * - every declared length fits in the bytes that remain (each pending item needs at least one
 *   byte): msgpack-c allocates a container's slots from its declared count, so a 20-byte header
 *   could otherwise claim 4 billion entries;
 * - containers stay within the limits, at most VASA_MAX_DEPTH deep (the header map included);
 * - every str is valid UTF-8 as Python's strict decoder defines it (no overlong forms, no
 *   surrogates, nothing above U+10FFFF);
 * - every map key, at any depth, is a str or a bin;
 * - an ext's type is 0..127, or -1 with a valid msgpack timestamp (msgpack-python refuses the
 *   other reserved types and decodes and checks timestamps);
 * - exactly one object fills the buffer (no trailing bytes). */

static uint64_t be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Strict UTF-8 (Unicode 15, table 3-7): what Python's bytes.decode("utf-8") accepts. */
static bool utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t len;
		uint32_t cp, min;
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2, cp = c & 0x1f, min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3, cp = c & 0x0f, min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4, cp = c & 0x07, min = 0x10000;
		} else {
			return false; /* a continuation byte first, C0, C1, F5..FF */
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

/* msgpack's timestamp extension: 32-bit seconds; 30-bit ns + 34-bit s; 32-bit ns + 64-bit s. */
static bool timestamp_valid(const uint8_t *d, size_t n)
{
	if (n == 4)
		return true;
	if (n == 8)
		return (be(d, 4) >> 2) <= 999999999u;
	if (n == 12)
		return be(d, 4) <= 999999999u;
	return false;
}

static bool scan_msgpack(const uint8_t *p, size_t n, char *why, size_t why_size)
{
	struct {
		uint64_t left; /* objects still to read in this container (keys and values) */
		bool map;
	} stack[VASA_MAX_DEPTH];
	int depth = 0;        /* containers open */
	size_t pos = 0;
	uint64_t pending = 1; /* objects still to read, all levels together */
	while (pending > 0) {
		bool is_key = depth > 0 && stack[depth - 1].map && stack[depth - 1].left % 2 == 0;
		if (pos >= n) {
			snprintf(why, why_size, "ends after %zu bytes with %" PRIu64 " objects unread", n,
				 pending);
			return false;
		}
		size_t at = pos;
		uint8_t b = p[pos++];
		uint64_t skip = 0;     /* bytes of data after the type byte and its length field */
		uint64_t children = 0; /* objects this one contains */
		int len_bytes = 0;
		bool container = false, map = false, str = false, ext = false, bin = false;
		if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
			/* fixint, nil, bool */
		} else if (b <= 0x8f) {
			container = map = true;
			children = 2u * (b & 0x0f);
		} else if (b <= 0x9f) {
			container = true;
			children = b & 0x0f;
		} else if (b <= 0xbf) {
			str = true;
			skip = b & 0x1f;
		} else {
			switch (b) {
			case 0xc4: case 0xc5: case 0xc6: /* bin 8/16/32 */
				bin = true;
				len_bytes = b == 0xc4 ? 1 : b == 0xc5 ? 2 : 4;
				break;
			case 0xd9: case 0xda: case 0xdb: /* str 8/16/32 */
				str = true;
				len_bytes = b == 0xd9 ? 1 : b == 0xda ? 2 : 4;
				break;
			case 0xc7: case 0xc8: case 0xc9: /* ext 8/16/32: length, then a type byte */
				ext = true;
				len_bytes = b == 0xc7 ? 1 : b == 0xc8 ? 2 : 4;
				break;
			case 0xca: skip = 4; break; /* float32 */
			case 0xcb: skip = 8; break; /* float64 */
			case 0xcc: case 0xd0: skip = 1; break;
			case 0xcd: case 0xd1: skip = 2; break;
			case 0xce: case 0xd2: skip = 4; break;
			case 0xcf: case 0xd3: skip = 8; break;
			case 0xd4: ext = true, skip = 2; break; /* fixext: type byte + 1, 2, 4, 8, 16 */
			case 0xd5: ext = true, skip = 3; break;
			case 0xd6: ext = true, skip = 5; break;
			case 0xd7: ext = true, skip = 9; break;
			case 0xd8: ext = true, skip = 17; break;
			case 0xdc: case 0xdd: /* array 16/32 */
				container = true;
				len_bytes = b == 0xdc ? 2 : 4;
				break;
			case 0xde: case 0xdf: /* map 16/32 */
				container = map = true;
				len_bytes = b == 0xde ? 2 : 4;
				break;
			default: /* 0xc1 is never used */
				snprintf(why, why_size, "has the unused type byte 0x%02x at offset %zu", b, at);
				return false;
			}
			if (len_bytes) {
				if (n - pos < (size_t)len_bytes) {
					snprintf(why, why_size, "is truncated at offset %zu", pos);
					return false;
				}
				uint64_t len = be(p + pos, len_bytes);
				pos += len_bytes;
				if (container) {
					if (!map && len > MAX_ARRAY_LEN) {
						snprintf(why, why_size,
							 "declares an array of %" PRIu64 " items (limit %d)", len,
							 MAX_ARRAY_LEN);
						return false;
					}
					if (map && len > MAX_MAP_LEN) {
						snprintf(why, why_size,
							 "declares a map of %" PRIu64 " entries (limit %d)", len,
							 MAX_MAP_LEN);
						return false;
					}
					children = map ? 2 * len : len;
				} else {
					skip = len + (ext ? 1 : 0);
				}
			}
		}
		if (is_key && !str && !bin) {
			snprintf(why, why_size, "has a map key of type 0x%02x at offset %zu: expected str "
				 "or bin keys", b, at);
			return false;
		}
		if (skip > n - pos) {
			snprintf(why, why_size,
				 "declares %" PRIu64 " bytes at offset %zu but only %zu remain", skip, pos,
				 n - pos);
			return false;
		}
		if (str && !utf8_valid(p + pos, (size_t)skip)) {
			snprintf(why, why_size, "has a str at offset %zu that is not valid UTF-8", at);
			return false;
		}
		if (ext && p[pos] >= 0x80 &&
		    (p[pos] != 0xff || !timestamp_valid(p + pos + 1, (size_t)skip - 1))) {
			snprintf(why, why_size, "has an ext of type %d (%" PRIu64 " bytes) at offset %zu: "
				 "expected types 0..127 or a valid timestamp (-1)", (int)(int8_t)p[pos],
				 skip - 1, at);
			return false;
		}
		if (container && depth >= VASA_MAX_DEPTH) {
			snprintf(why, why_size, "nests containers deeper than %d levels at offset %zu",
				 VASA_MAX_DEPTH, at);
			return false;
		}
		pos += (size_t)skip;
		pending = pending - 1 + children;
		if (pending > n - pos) {
			snprintf(why, why_size,
				 "declares %" PRIu64 " more objects but only %zu bytes remain", pending,
				 n - pos);
			return false;
		}
		if (depth > 0)
			stack[depth - 1].left--;
		if (children > 0) {
			stack[depth].left = children;
			stack[depth].map = map;
			depth++;
		}
		while (depth > 0 && stack[depth - 1].left == 0)
			depth--;
	}
	if (pos != n) {
		snprintf(why, why_size, "has %zu bytes after its end", n - pos);
		return false;
	}
	return true;
}

/* `len` bytes of `s` as printable ASCII for a one-line error: any other byte as \xNN; at most
 * `max` bytes shown, then "...". Returns buf. */
static const char *shown(char *buf, size_t size, const char *s, size_t len, size_t max)
{
	size_t o = 0;
	for (size_t i = 0; i < len && i < max && o + 5 < size; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			buf[o++] = (char)ch;
		else
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", ch);
	}
	if (len > max && o + 4 < size) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = 0;
	return buf;
}

#define SHOWN_SIZE (4 * 80 + 8)

/* ---------------------------------------------------------------------------------------------
 * Header field access */

static const char *type_name(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL: return "a nil";
	case MSGPACK_OBJECT_BOOLEAN: return "a bool";
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "an int";
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: return "a float";
	case MSGPACK_OBJECT_STR: return "a str";
	case MSGPACK_OBJECT_ARRAY: return "an array";
	case MSGPACK_OBJECT_MAP: return "a map";
	case MSGPACK_OBJECT_BIN: return "a bin";
	case MSGPACK_OBJECT_EXT: return "an ext";
	}
	return "?";
}

static bool str_is(const msgpack_object *o, const char *s)
{
	size_t len = strlen(s);
	return o->type == MSGPACK_OBJECT_STR && o->via.str.size == len &&
	       memcmp(o->via.str.ptr, s, len) == 0;
}

/* The value of `key`, or NULL. The last duplicate wins, as in a Python dict. */
static const msgpack_object *lookup(const msgpack_object *map, const char *key)
{
	const msgpack_object *found = NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++)
		if (str_is(&map->via.map.ptr[i].key, key))
			found = &map->via.map.ptr[i].val;
	return found;
}

struct ctx {
	const msgpack_object *header;
	const char *kind;
	struct vasa_error *err;
};

static enum vasa_status field(struct ctx *c, const char *key, msgpack_object_type t1,
			      msgpack_object_type t2, const char *expected, const msgpack_object **out)
{
	const msgpack_object *o = lookup(c->header, key);
	*out = NULL;
	if (!o)
		return fail(c->err, VASA_ERR_MALFORMED, "%s header is missing field '%s'", c->kind,
			    key);
	if (o->type != t1 && o->type != t2)
		return fail(c->err, VASA_ERR_MALFORMED, "%s header field '%s' is %s: expected %s",
			    c->kind, key, type_name(o), expected);
	*out = o;
	return VASA_OK;
}

static enum vasa_status int_in(struct ctx *c, const char *key, int64_t lo, uint64_t hi,
			       bool allow_negative, int64_t *value_out, uint64_t *uvalue_out)
{
	const msgpack_object *o;
	enum vasa_status s = field(c, key, MSGPACK_OBJECT_POSITIVE_INTEGER,
				   MSGPACK_OBJECT_NEGATIVE_INTEGER, "an int", &o);
	if (s)
		return s;
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		if (!allow_negative || o->via.i64 < lo)
			return fail(c->err, VASA_ERR_MALFORMED,
				    "%s header field '%s' is %" PRId64 ": expected %" PRId64
				    "..%" PRIu64,
				    c->kind, key, o->via.i64, lo, hi);
		if (value_out)
			*value_out = o->via.i64;
		return VASA_OK;
	}
	if (o->via.u64 > hi || (lo > 0 && o->via.u64 < (uint64_t)lo))
		return fail(c->err, VASA_ERR_MALFORMED,
			    "%s header field '%s' is %" PRIu64 ": expected %" PRId64 "..%" PRIu64,
			    c->kind, key, o->via.u64, lo, hi);
	if (value_out)
		*value_out = (int64_t)o->via.u64;
	if (uvalue_out)
		*uvalue_out = o->via.u64;
	return VASA_OK;
}

static enum vasa_status u32_in(struct ctx *c, const char *key, uint32_t lo, uint32_t hi,
			       uint32_t *out)
{
	uint64_t v = 0;
	enum vasa_status s = int_in(c, key, lo, hi, false, NULL, &v);
	if (!s)
		*out = (uint32_t)v;
	return s;
}

static enum vasa_status str_field(struct ctx *c, const char *key, const msgpack_object **out)
{
	return field(c, key, MSGPACK_OBJECT_STR, MSGPACK_OBJECT_STR, "a str", out);
}

/* A str field whose value is one of `choices` (NULL-terminated); *index is its position. */
static enum vasa_status choice(struct ctx *c, const char *key, const char *const *choices,
			       const char *expected, int *index)
{
	const msgpack_object *o;
	enum vasa_status s = str_field(c, key, &o);
	if (s)
		return s;
	for (int i = 0; choices[i]; i++)
		if (str_is(o, choices[i])) {
			*index = i;
			return VASA_OK;
		}
	char value[SHOWN_SIZE];
	return fail(c->err, VASA_ERR_MALFORMED, "%s header field '%s' is '%s': expected one of %s",
		    c->kind, key, shown(value, sizeof(value), o->via.str.ptr, o->via.str.size, 40),
		    expected);
}

static bool is_number(const msgpack_object *o, double *v)
{
	switch (o->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		*v = (double)o->via.u64;
		return true;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		*v = (double)o->via.i64;
		return true;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		*v = o->via.f64;
		return true;
	default:
		return false;
	}
}

static enum vasa_status numbers3(struct ctx *c, const char *key, double out[3])
{
	const msgpack_object *o;
	enum vasa_status s = field(c, key, MSGPACK_OBJECT_ARRAY, MSGPACK_OBJECT_ARRAY, "an array", &o);
	if (s)
		return s;
	bool ok = o->via.array.size == 3;
	for (uint32_t i = 0; ok && i < 3; i++)
		ok = is_number(&o->via.array.ptr[i], &out[i]);
	if (!ok)
		return fail(c->err, VASA_ERR_MALFORMED,
			    "%s header field '%s' has %u items: expected 3 numbers", c->kind, key,
			    o->via.array.size);
	return VASA_OK;
}

static enum vasa_status str_array(struct ctx *c, const char *key, const msgpack_object **out)
{
	enum vasa_status s = field(c, key, MSGPACK_OBJECT_ARRAY, MSGPACK_OBJECT_ARRAY, "an array", out);
	if (s)
		return s;
	for (uint32_t i = 0; i < (*out)->via.array.size; i++)
		if ((*out)->via.array.ptr[i].type != MSGPACK_OBJECT_STR)
			return fail(c->err, VASA_ERR_MALFORMED,
				    "%s header field '%s' item %u is %s: expected a str", c->kind, key,
				    i, type_name(&(*out)->via.array.ptr[i]));
	return VASA_OK;
}

static enum vasa_status expect_payload(struct ctx *c, size_t got, uint64_t declared,
				       size_t max_bytes)
{
	if (declared > max_bytes)
		return fail(c->err, VASA_ERR_TOO_LARGE,
			    "%s header declares a %" PRIu64 "-byte payload: the cap is %zu bytes",
			    c->kind, declared, max_bytes);
	if (got != declared)
		return fail(c->err, VASA_ERR_MALFORMED,
			    "%s payload is %zu bytes: the header declares %" PRIu64, c->kind, got,
			    declared);
	return VASA_OK;
}

static bool stream_ok(const char *s, size_t len, bool allow_empty)
{
	if (len == 0)
		return allow_empty;
	if (len > VASA_MAX_STREAM_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
			  (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
		if (!ok)
			return false;
	}
	return true;
}

/* ---------------------------------------------------------------------------------------------
 * Kind-specific checks */

static enum vasa_status decode_motion(struct ctx *c, struct vasa_message *m, size_t max_bytes)
{
	const msgpack_object *names;
	enum vasa_status s = field(c, "names", MSGPACK_OBJECT_ARRAY, MSGPACK_OBJECT_ARRAY, "an array",
				   &names);
	if (s)
		return s;
	bool ok = names->via.array.size >= 1 && names->via.array.size <= VASA_MAX_NAMES;
	for (uint32_t i = 0; ok && i < names->via.array.size; i++)
		ok = names->via.array.ptr[i].type == MSGPACK_OBJECT_STR;
	if (!ok)
		return fail(c->err, VASA_ERR_MALFORMED,
			    "motion header field 'names' has %u entries: expected 1..%d strings",
			    names->via.array.size, VASA_MAX_NAMES);
	if ((s = numbers3(c, "head_rotation", m->u.motion.head_rotation)) ||
	    (s = numbers3(c, "head_translation", m->u.motion.head_translation)))
		return s;
	m->u.motion.count = names->via.array.size;
	m->names_ = names;
	return expect_payload(c, m->payload.size, 4ull * names->via.array.size, max_bytes);
}

static enum vasa_status decode_frame(struct ctx *c, struct vasa_message *m, size_t max_bytes)
{
	static const char *const formats[] = {"rgba8", "bgra8", NULL};
	static const char *const alphas[] = {"straight", "premultiplied", NULL};
	int fmt = 0, alpha = 0;
	uint32_t w = 0, h = 0, stride = 0;
	enum vasa_status s;
	if ((s = u32_in(c, "width", 1, VASA_MAX_DIMENSION, &w)) ||
	    (s = u32_in(c, "height", 1, VASA_MAX_DIMENSION, &h)) ||
	    (s = choice(c, "format", formats, "['bgra8', 'rgba8']", &fmt)) ||
	    (s = u32_in(c, "stride", 4 * w, 4 * VASA_MAX_DIMENSION * 2, &stride)) ||
	    (s = choice(c, "alpha", alphas, "['straight', 'premultiplied']", &alpha)))
		return s;
	m->u.frame.width = w;
	m->u.frame.height = h;
	m->u.frame.stride = stride;
	m->u.frame.format = (enum vasa_pixel_format)fmt;
	m->u.frame.alpha = (enum vasa_alpha)alpha;
	return expect_payload(c, m->payload.size, (uint64_t)stride * h, max_bytes);
}

static enum vasa_status decode_audio(struct ctx *c, struct vasa_message *m, size_t max_bytes)
{
	static const char *const formats[] = {"s16", "f32", NULL};
	int fmt = 0;
	enum vasa_status s;
	if ((s = u32_in(c, "rate", 1000, 384000, &m->u.audio.rate)) ||
	    (s = u32_in(c, "channels", 1, 8, &m->u.audio.channels)) ||
	    (s = choice(c, "format", formats, "['f32', 's16']", &fmt)) ||
	    (s = u32_in(c, "samples", 0, INT32_MAX, &m->u.audio.samples)))
		return s;
	m->u.audio.format = (enum vasa_sample_format)fmt;
	uint64_t bytes = (uint64_t)m->u.audio.samples * m->u.audio.channels * (fmt == VASA_S16 ? 2 : 4);
	return expect_payload(c, m->payload.size, bytes, max_bytes);
}

static struct vasa_bytes str_bytes(const msgpack_object *o)
{
	struct vasa_bytes b = {(const uint8_t *)o->via.str.ptr, o->via.str.size};
	return b;
}

static enum vasa_status decode_event(struct ctx *c, struct vasa_message *m, size_t max_bytes)
{
	const msgpack_object *o;
	enum vasa_status s = str_field(c, "name", &o);
	if (s)
		return s;
	m->u.event.name = str_bytes(o);
	if (lookup(c->header, "message")) {
		if ((s = str_field(c, "message", &o)))
			return s;
		m->u.event.message = str_bytes(o);
	}
	if (lookup(c->header, "data")) {
		if ((s = field(c, "data", MSGPACK_OBJECT_MAP, MSGPACK_OBJECT_MAP, "a map", &o)))
			return s;
		m->u.event.has_data = true;
	}
	return expect_payload(c, m->payload.size, 0, max_bytes);
}

static enum vasa_status decode_hello(struct ctx *c, struct vasa_message *m, size_t max_bytes)
{
	const msgpack_object *streams, *caps, *publisher;
	enum vasa_status s;
	if ((s = str_array(c, "streams", &streams)) || (s = str_array(c, "capabilities", &caps)) ||
	    (s = str_field(c, "publisher", &publisher)))
		return s;
	m->streams_ = streams;
	m->caps_ = caps;
	m->u.hello.stream_count = streams->via.array.size;
	m->u.hello.capability_count = caps->via.array.size;
	m->u.hello.publisher = str_bytes(publisher);
	const msgpack_object *fps = lookup(c->header, "fps");
	double v;
	if (fps && is_number(fps, &v) && v > 0)
		m->u.hello.fps = v;
	return expect_payload(c, m->payload.size, 0, max_bytes);
}

/* ---------------------------------------------------------------------------------------------
 * Entry point */

static enum vasa_status decode_parts(const void *const *parts, const size_t *sizes, size_t n_parts,
				     size_t max_bytes, struct vasa_message *m, struct vasa_error *err)
{
	if (n_parts != 3)
		return fail(err, VASA_ERR_MALFORMED,
			    "message has %zu parts: expected 3 (topic, header, payload)", n_parts);
	uint64_t total = (uint64_t)sizes[0] + sizes[1] + sizes[2];
	if (total > max_bytes)
		return fail(err, VASA_ERR_TOO_LARGE, "message is %" PRIu64 " bytes: the cap is %zu bytes",
			    total, max_bytes);

	/* topic: "kind/stream/" */
	const char *topic = parts[0];
	size_t topic_len = sizes[0];
	const char *slash1 = topic_len ? memchr(topic, '/', topic_len) : NULL;
	const char *slash2 = slash1 ? memchr(slash1 + 1, '/', topic_len - (slash1 + 1 - topic)) : NULL;
	int kind = -1;
	if (slash1 && slash2 && slash2 == topic + topic_len - 1)
		for (int k = 0; k < 5; k++)
			if ((size_t)(slash1 - topic) == strlen(KIND_NAMES[k]) &&
			    memcmp(topic, KIND_NAMES[k], slash1 - topic) == 0)
				kind = k;
	if (kind < 0) {
		char text[SHOWN_SIZE];
		return fail(err, VASA_ERR_MALFORMED,
			    "topic '%s' is not 'kind/stream/' with kind one of motion, frame, audio, "
			    "event, hello",
			    shown(text, sizeof(text), topic, topic_len, 40));
	}
	m->kind = (enum vasa_kind)kind;
	const char *topic_stream = slash1 + 1;
	size_t topic_stream_len = (size_t)(slash2 - topic_stream);
	struct ctx c = {NULL, KIND_NAMES[kind], err};

	if (sizes[1] > VASA_MAX_HEADER_BYTES)
		return fail(err, VASA_ERR_TOO_LARGE, "%s header is %zu bytes: the cap is %u bytes",
			    c.kind, sizes[1], VASA_MAX_HEADER_BYTES);
	char why[160];
	if (!scan_msgpack(parts[1], sizes[1], why, sizeof(why)))
		return fail(err, VASA_ERR_MALFORMED, "%s header is not valid msgpack: it %s", c.kind,
			    why);
	size_t off = 0;
	msgpack_unpack_return r = msgpack_unpack_next(&m->header_, parts[1], sizes[1], &off);
	if (r != MSGPACK_UNPACK_SUCCESS || off != sizes[1])
		return fail(err, VASA_ERR_MALFORMED, "%s header is not valid msgpack (msgpack-c says %d)",
			    c.kind, (int)r);
	const msgpack_object *header = &m->header_.data;
	if (header->type != MSGPACK_OBJECT_MAP)
		return fail(err, VASA_ERR_MALFORMED, "%s header is %s: expected a msgpack map", c.kind,
			    type_name(header));
	c.header = header; /* its keys, at every depth, are str or bin: scan_msgpack checked */

	/* common fields; any int version but ours is a version error, as in Python */
	const msgpack_object *v;
	enum vasa_status s = field(&c, "v", MSGPACK_OBJECT_POSITIVE_INTEGER,
				   MSGPACK_OBJECT_NEGATIVE_INTEGER, "an int", &v);
	if (s)
		return s;
	if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		return fail(err, VASA_ERR_VERSION,
			    "protocol version %" PRId64 " is not supported: this build speaks version %d",
			    v->via.i64, VASA_PROTOCOL_VERSION);
	if (v->via.u64 != VASA_PROTOCOL_VERSION)
		return fail(err, VASA_ERR_VERSION,
			    "protocol version %" PRIu64 " is not supported: this build speaks version %d",
			    v->via.u64, VASA_PROTOCOL_VERSION);
	if ((s = int_in(&c, "seq", 0, UINT64_MAX, false, NULL, &m->seq)))
		return s;
	const msgpack_object *stream;
	if ((s = str_field(&c, "stream", &stream)))
		return s;
	char a[SHOWN_SIZE], b[SHOWN_SIZE];
	if (stream->via.str.size != topic_stream_len ||
	    memcmp(stream->via.str.ptr, topic_stream, topic_stream_len) != 0)
		return fail(err, VASA_ERR_MALFORMED,
			    "%s header stream '%s' disagrees with the topic's '%s'", c.kind,
			    shown(a, sizeof(a), stream->via.str.ptr, stream->via.str.size, 24),
			    shown(b, sizeof(b), topic_stream, topic_stream_len, 24));
	if (!stream_ok(stream->via.str.ptr, stream->via.str.size, kind == VASA_HELLO))
		return fail(err, VASA_ERR_MALFORMED,
			    "stream id '%s' is invalid: expected 1-64 characters of letters, "
			    "digits, '_', '.', '-'",
			    shown(a, sizeof(a), stream->via.str.ptr, stream->via.str.size, 64));
	memcpy(m->stream, stream->via.str.ptr, stream->via.str.size);
	m->stream[stream->via.str.size] = 0;
	if ((s = int_in(&c, "pts", INT64_MIN, INT64_MAX, true, &m->pts, NULL)) ||
	    (s = int_in(&c, "sent", INT64_MIN, INT64_MAX, true, &m->sent, NULL)))
		return s;

	m->payload.data = parts[2];
	m->payload.size = sizes[2];
	switch (m->kind) {
	case VASA_MOTION:
		return decode_motion(&c, m, max_bytes);
	case VASA_FRAME:
		return decode_frame(&c, m, max_bytes);
	case VASA_AUDIO:
		return decode_audio(&c, m, max_bytes);
	case VASA_EVENT:
		return decode_event(&c, m, max_bytes);
	case VASA_HELLO:
		return decode_hello(&c, m, max_bytes);
	}
	return VASA_ERR_MALFORMED;
}

enum vasa_status vasa_decode(const void *const *parts, const size_t *sizes, size_t n_parts,
			     size_t max_bytes, struct vasa_message *out, struct vasa_error *err)
{
	memset(out, 0, sizeof(*out));
	msgpack_unpacked_init(&out->header_);
	if (max_bytes == 0)
		max_bytes = VASA_MAX_MESSAGE_BYTES;
	if (err) {
		err->status = VASA_OK;
		err->text[0] = 0;
	}
	enum vasa_status s = decode_parts(parts, sizes, n_parts, max_bytes, out, err);
	if (s != VASA_OK)
		vasa_message_free(out);
	return s;
}

void vasa_message_free(struct vasa_message *msg)
{
	msgpack_unpacked_destroy(&msg->header_);
	msg->names_ = msg->streams_ = msg->caps_ = NULL;
}

struct vasa_bytes vasa_motion_name(const struct vasa_message *msg, uint32_t i)
{
	return str_bytes(&msg->names_->via.array.ptr[i]);
}

float vasa_motion_value_at(const struct vasa_message *msg, uint32_t i)
{
	uint32_t bits = vasa_le32(msg->payload.data + 4 * (size_t)i);
	float v;
	memcpy(&v, &bits, sizeof(v));
	return v;
}

bool vasa_motion_value(const struct vasa_message *msg, const char *name, float *value)
{
	if (msg->kind != VASA_MOTION || !msg->names_)
		return false;
	for (uint32_t i = 0; i < msg->u.motion.count; i++)
		if (str_is(&msg->names_->via.array.ptr[i], name)) {
			*value = vasa_motion_value_at(msg, i);
			return true;
		}
	return false;
}

struct vasa_bytes vasa_hello_stream(const struct vasa_message *msg, uint32_t i)
{
	return str_bytes(&msg->streams_->via.array.ptr[i]);
}

struct vasa_bytes vasa_hello_capability(const struct vasa_message *msg, uint32_t i)
{
	return str_bytes(&msg->caps_->via.array.ptr[i]);
}

bool vasa_hello_has_capability(const struct vasa_message *msg, const char *name)
{
	if (msg->kind != VASA_HELLO || !msg->caps_)
		return false;
	for (uint32_t i = 0; i < msg->u.hello.capability_count; i++)
		if (str_is(&msg->caps_->via.array.ptr[i], name))
			return true;
	return false;
}

const char *vasa_hello_capabilities_text(const struct vasa_message *msg, char *buf, size_t size)
{
	if (size == 0)
		return buf;
	snprintf(buf, size, "none");
	size_t o = 0;
	for (uint32_t i = 0; msg->caps_ && i < msg->u.hello.capability_count && o + 1 < size; i++) {
		struct vasa_bytes c = vasa_hello_capability(msg, i);
		char name[SHOWN_SIZE];
		int n = snprintf(buf + o, size - o, "%s%s", i ? ", " : "",
				 shown(name, sizeof(name), (const char *)c.data, c.size, 32));
		o += n > 0 ? (size_t)n : 0; /* past size - 1 when cut: the loop ends */
	}
	return buf;
}

float vasa_audio_sample(const struct vasa_message *msg, size_t i)
{
	const uint8_t *p = msg->payload.data;
	if (msg->u.audio.format == VASA_S16) {
		int16_t v = (int16_t)(uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
		return (float)v / 32768.0f;
	}
	uint32_t bits = vasa_le32(p + 4 * i);
	float v;
	memcpy(&v, &bits, sizeof(v));
	return v;
}
