/* The C decoder against the golden fixtures (tests/fixtures/protocol/, framing in
 * docs/protocol.md "Golden fixtures"), the same files the Python and C# decoders parse.
 *
 *   test-protocol DIR NAME.bin   decode one fixture, compare with expected.json[NAME.bin]
 *   test-protocol DIR --mutate   every valid fixture truncated and bit-flipped: never crashes
 *                                (built with ASan/UBSan when available), and every refusal
 *                                carries a reason
 *   test-protocol DIR --count N  expected.json lists at least N fixtures, each file exists
 *   test-protocol DIR --hello-capabilities
 *                                hellos built here (no "frame", none at all, names to escape):
 *                                the capability accessors and their log text
 *   test-protocol DIR --corpus MUTATED_DIR
 *                                the mutated corpus (vasa_bridge/protocol/corpus.py): every
 *                                message's verdict equals the Python decoder's in expected.txt,
 *                                and every refusal's reason is printable ASCII */
#include "vasa-protocol.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond, ...)                                  \
	do {                                              \
		if (!(cond)) {                            \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);     \
			fputc('\n', stderr);              \
			failures++;                       \
		}                                         \
	} while (0)

static unsigned char *read_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*size = (size_t)n;
	return buf;
}

#define MAX_PARTS 8

struct fixture {
	unsigned char *data;
	size_t n_parts;
	const void *parts[MAX_PARTS];
	size_t sizes[MAX_PARTS];
};

/* u32 LE part count, then per part a u32 LE length and the bytes. */
static bool load_fixture(const char *dir, const char *name, struct fixture *fx)
{
	char path[1024];
	size_t size;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fx->data = read_file(path, &size);
	if (!fx->data || size < 4)
		return false;
	size_t pos = 4;
	fx->n_parts = vasa_le32(fx->data);
	if (fx->n_parts > MAX_PARTS)
		return false;
	for (size_t i = 0; i < fx->n_parts; i++) {
		if (size - pos < 4)
			return false;
		uint32_t len = vasa_le32(fx->data + pos);
		pos += 4;
		if (size - pos < len)
			return false;
		fx->parts[i] = fx->data + pos;
		fx->sizes[i] = len;
		pos += len;
	}
	return pos == size;
}

static bool bytes_eq(struct vasa_bytes b, const char *s)
{
	return s && b.size == strlen(s) && memcmp(b.data, s, b.size) == 0;
}

static json_int_t jint(json_t *obj, const char *key)
{
	return json_integer_value(json_object_get(obj, key));
}

static const char *jstr(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static void check_motion(const struct vasa_message *m, json_t *exp)
{
	json_t *shapes = json_object_get(exp, "blendshapes");
	const char *name;
	json_t *value;
	json_object_foreach (shapes, name, value) {
		float got = -1;
		CHECK(vasa_motion_value(m, name, &got), "blendshape %s missing", name);
		CHECK(got == (float)json_number_value(value), "blendshape %s is %g: expected %g", name,
		      got, json_number_value(value));
	}
	/* every other coefficient is zero */
	for (uint32_t i = 0; i < m->u.motion.count; i++) {
		struct vasa_bytes n = vasa_motion_name(m, i);
		char key[128];
		snprintf(key, sizeof(key), "%.*s", (int)n.size, (const char *)n.data);
		if (!json_object_get(shapes, key))
			CHECK(vasa_motion_value_at(m, i) == 0.0f, "%s is %g: expected 0", key,
			      vasa_motion_value_at(m, i));
	}
	CHECK(m->u.motion.count == 52, "motion has %u names: expected 52", m->u.motion.count);
	for (int i = 0; i < 3; i++) {
		double r = json_number_value(json_array_get(json_object_get(exp, "head_rotation"), i));
		double t = json_number_value(json_array_get(json_object_get(exp, "head_translation"), i));
		CHECK(fabs(m->u.motion.head_rotation[i] - r) < 1e-6, "head_rotation[%d] %g != %g", i,
		      m->u.motion.head_rotation[i], r);
		CHECK(fabs(m->u.motion.head_translation[i] - t) < 1e-6, "head_translation[%d] %g != %g",
		      i, m->u.motion.head_translation[i], t);
	}
}

static void check_frame(const struct vasa_message *m, json_t *exp)
{
	CHECK(m->u.frame.width == jint(exp, "width"), "width %u", m->u.frame.width);
	CHECK(m->u.frame.height == jint(exp, "height"), "height %u", m->u.frame.height);
	CHECK(m->u.frame.stride == jint(exp, "stride"), "stride %u", m->u.frame.stride);
	CHECK(strcmp(jstr(exp, "format"), m->u.frame.format == VASA_RGBA8 ? "rgba8" : "bgra8") == 0,
	      "format %d", m->u.frame.format);
	CHECK(strcmp(jstr(exp, "alpha"),
		     m->u.frame.alpha == VASA_ALPHA_STRAIGHT ? "straight" : "premultiplied") == 0,
	      "alpha %d", m->u.frame.alpha);
	json_t *pixels = json_object_get(exp, "pixels");
	size_t row = 4 * (size_t)m->u.frame.width;
	CHECK(json_array_size(pixels) == row * m->u.frame.height, "pixel count %zu",
	      json_array_size(pixels));
	for (size_t y = 0; y < m->u.frame.height; y++)
		for (size_t x = 0; x < row; x++) {
			json_int_t want = json_integer_value(json_array_get(pixels, y * row + x));
			uint8_t got = m->payload.data[y * m->u.frame.stride + x];
			CHECK(got == want, "pixel byte (%zu, %zu) is %u: expected %lld", y, x, got,
			      (long long)want);
		}
}

static void check_audio(const struct vasa_message *m, json_t *exp)
{
	CHECK(m->u.audio.rate == jint(exp, "rate"), "rate %u", m->u.audio.rate);
	CHECK(m->u.audio.channels == jint(exp, "channels"), "channels %u", m->u.audio.channels);
	CHECK(m->u.audio.samples == jint(exp, "samples"), "samples %u", m->u.audio.samples);
	bool s16 = strcmp(jstr(exp, "format"), "s16") == 0;
	CHECK(s16 == (m->u.audio.format == VASA_S16), "format %d", m->u.audio.format);
	json_t *values = json_object_get(exp, "values");
	size_t n = (size_t)m->u.audio.samples * m->u.audio.channels;
	CHECK(json_array_size(values) == n, "value count %zu", json_array_size(values));
	for (size_t i = 0; i < n; i++) {
		double want = json_number_value(json_array_get(values, i));
		if (s16)
			want /= 32768.0;
		CHECK(vasa_audio_sample(m, i) == (float)want, "sample %zu is %g: expected %g", i,
		      vasa_audio_sample(m, i), want);
	}
}

static void check_event(const struct vasa_message *m, json_t *exp)
{
	CHECK(bytes_eq(m->u.event.name, jstr(exp, "name")), "event name");
	if (jstr(exp, "message"))
		CHECK(bytes_eq(m->u.event.message, jstr(exp, "message")), "event message");
	else
		CHECK(m->u.event.message.data == NULL, "event message should be absent");
	CHECK(m->u.event.has_data == (json_object_get(exp, "data") != NULL), "event data presence");
}

static void check_hello(const struct vasa_message *m, json_t *exp)
{
	json_t *streams = json_object_get(exp, "streams");
	CHECK(m->u.hello.stream_count == json_array_size(streams), "stream count %u",
	      m->u.hello.stream_count);
	for (uint32_t i = 0; i < m->u.hello.stream_count && i < json_array_size(streams); i++)
		CHECK(bytes_eq(vasa_hello_stream(m, i), json_string_value(json_array_get(streams, i))),
		      "hello stream %u", i);
	json_t *caps = json_object_get(exp, "capabilities");
	CHECK(m->u.hello.capability_count == json_array_size(caps), "capability count");
	char text[256] = "", *o = text;
	for (uint32_t i = 0; i < m->u.hello.capability_count && i < json_array_size(caps); i++) {
		const char *want = json_string_value(json_array_get(caps, i));
		CHECK(bytes_eq(vasa_hello_capability(m, i), want), "hello capability %u", i);
		CHECK(vasa_hello_has_capability(m, want), "hello does not report capability '%s'", want);
		o += snprintf(o, sizeof(text) - (size_t)(o - text), "%s%s", i ? ", " : "", want);
	}
	char got[256];
	CHECK(strcmp(vasa_hello_capabilities_text(m, got, sizeof(got)), text) == 0,
	      "capabilities text '%s': expected '%s'", got, text);
	CHECK(!vasa_hello_has_capability(m, "fram") && !vasa_hello_has_capability(m, "frames"),
	      "a capability matched by prefix");
	CHECK(bytes_eq(m->u.hello.publisher, jstr(exp, "publisher")), "publisher");
}

static int run_one(const char *dir, json_t *expected, const char *name)
{
	json_t *exp = json_object_get(expected, name);
	struct fixture fx = {0};
	CHECK(exp != NULL, "%s is not in expected.json", name);
	CHECK(load_fixture(dir, name, &fx), "%s/%s is missing or badly framed", dir, name);
	if (failures)
		return 1;

	struct vasa_message m;
	struct vasa_error err;
	enum vasa_status s = vasa_decode(fx.parts, fx.sizes, fx.n_parts, 0, &m, &err);
	const char *want_error = jstr(exp, "error");
	if (want_error) {
		CHECK(strcmp(vasa_status_name(s), want_error) == 0, "%s: status %s, expected %s (%s)",
		      name, vasa_status_name(s), want_error, err.text);
		CHECK(s == VASA_OK || err.text[0] != 0, "%s: refusal without a reason", name);
		printf("%s refused (%s): %s\n", name, vasa_status_name(s), err.text);
		if (s == VASA_OK)
			vasa_message_free(&m);
	} else {
		CHECK(s == VASA_OK, "%s: refused (%s): %s", name, vasa_status_name(s), err.text);
		if (s == VASA_OK) {
			CHECK(strcmp(vasa_kind_name(m.kind), jstr(exp, "kind")) == 0, "kind %s",
			      vasa_kind_name(m.kind));
			CHECK(strcmp(m.stream, jstr(exp, "stream")) == 0, "stream '%s'", m.stream);
			CHECK((json_int_t)m.seq == jint(exp, "seq"), "seq %llu",
			      (unsigned long long)m.seq);
			CHECK(m.pts == jint(exp, "pts"), "pts %lld", (long long)m.pts);
			CHECK(m.sent == jint(exp, "sent"), "sent %lld", (long long)m.sent);
			switch (m.kind) {
			case VASA_MOTION: check_motion(&m, exp); break;
			case VASA_FRAME: check_frame(&m, exp); break;
			case VASA_AUDIO: check_audio(&m, exp); break;
			case VASA_EVENT: check_event(&m, exp); break;
			case VASA_HELLO: check_hello(&m, exp); break;
			}
			vasa_message_free(&m);
			printf("%s decoded: %s/%s/ seq %llu\n", name, vasa_kind_name(m.kind), m.stream,
			       (unsigned long long)m.seq);
		}
	}
	free(fx.data);
	return failures ? 1 : 0;
}

/* Decode, and require a reason for every refusal; the sanitizers catch any bad access. */
static unsigned long decode_mutant(const void *const *parts, const size_t *sizes, size_t n)
{
	struct vasa_message m;
	struct vasa_error err;
	enum vasa_status s = vasa_decode(parts, sizes, n, 0, &m, &err);
	if (s == VASA_OK) {
		vasa_message_free(&m);
		return 1;
	}
	CHECK(err.text[0] != 0, "a refusal without a reason");
	return 0;
}

static int run_mutate(const char *dir, json_t *expected)
{
	const char *name;
	json_t *exp;
	unsigned long tried = 0, accepted = 0, truncated = 0, truncated_accepted = 0;
	json_object_foreach (expected, name, exp) {
		if (json_object_get(exp, "error"))
			continue;
		struct fixture fx = {0};
		if (!load_fixture(dir, name, &fx)) {
			CHECK(false, "cannot load %s", name);
			continue;
		}
		for (size_t p = 0; p < fx.n_parts; p++) {
			/* each part truncated to every shorter length, copied so ASan sees the end */
			for (size_t len = 0; len < fx.sizes[p]; len++) {
				void *copy = malloc(len ? len : 1);
				memcpy(copy, fx.parts[p], len);
				const void *parts[MAX_PARTS];
				size_t sizes[MAX_PARTS];
				memcpy(parts, fx.parts, sizeof(parts));
				memcpy(sizes, fx.sizes, sizeof(sizes));
				parts[p] = copy;
				sizes[p] = len;
				unsigned long ok = decode_mutant(parts, sizes, fx.n_parts);
				accepted += ok;
				truncated_accepted += ok;
				truncated++;
				tried++;
				free(copy);
			}
			/* every bit of the topic and header flipped in turn */
			if (p == 2)
				continue;
			for (size_t i = 0; i < fx.sizes[p] * 8; i++) {
				unsigned char *copy = malloc(fx.sizes[p]);
				memcpy(copy, fx.parts[p], fx.sizes[p]);
				copy[i / 8] ^= (unsigned char)(1u << (i % 8));
				const void *parts[MAX_PARTS];
				memcpy(parts, fx.parts, sizeof(parts));
				parts[p] = copy;
				accepted += decode_mutant(parts, fx.sizes, fx.n_parts);
				tried++;
				free(copy);
			}
		}
		free(fx.data);
	}
	printf("mutated messages: %lu decoded without a crash (%lu still valid, %lu refused; "
	       "%lu truncations, all refused)\n",
	       tried, accepted, tried - accepted, truncated);
	CHECK(tried > 1000, "only %lu mutants", tried);
	/* a shortened topic, header or payload never matches what the header declares */
	CHECK(truncated_accepted == 0, "%lu of %lu truncated messages accepted", truncated_accepted,
	      truncated);
	return failures ? 1 : 0;
}

/* ---------------------------------------------------------------------------------------------
 * The mutated corpus: one verdict line per message, formatted as vasa_bridge/protocol/corpus.py
 * `verdict` does, so the three decoders are compared line by line. */

static uint32_t fnv_add(uint32_t h, struct vasa_bytes b)
{
	for (size_t i = 0; i < b.size; i++)
		h = (h ^ b.data[i]) * 0x01000193u;
	return (h ^ 0) * 0x01000193u; /* each string ends with a 0 byte */
}

static void f64_hex(char *out, size_t size, double v)
{
	uint64_t bits;
	memcpy(&bits, &v, sizeof(bits));
	if (isnan(v))
		snprintf(out, size, "nan");
	else
		snprintf(out, size, "%016llx", (unsigned long long)bits);
}

static void vec3_hex(char *out, size_t size, const double v[3])
{
	char a[20], b[20], c[20];
	f64_hex(a, sizeof(a), v[0]);
	f64_hex(b, sizeof(b), v[1]);
	f64_hex(c, sizeof(c), v[2]);
	snprintf(out, size, "%s,%s,%s", a, b, c);
}

static void verdict(const struct vasa_message *m, char *out, size_t size)
{
	int n = snprintf(out, size, "ok %s %s seq=%llu pts=%lld sent=%lld", vasa_kind_name(m->kind),
			 m->stream[0] ? m->stream : "-", (unsigned long long)m->seq,
			 (long long)m->pts, (long long)m->sent);
	char *p = out + n;
	size_t left = size - (size_t)n;
	switch (m->kind) {
	case VASA_MOTION: {
		uint32_t h = 0x811C9DC5u;
		for (uint32_t i = 0; i < m->u.motion.count; i++)
			h = fnv_add(h, vasa_motion_name(m, i));
		char rot[64], trans[64];
		vec3_hex(rot, sizeof(rot), m->u.motion.head_rotation);
		vec3_hex(trans, sizeof(trans), m->u.motion.head_translation);
		snprintf(p, left, " n=%u names=%08x rot=%s trans=%s", m->u.motion.count, h, rot, trans);
		break;
	}
	case VASA_FRAME:
		snprintf(p, left, " %ux%u stride=%u %s %s", m->u.frame.width, m->u.frame.height,
			 m->u.frame.stride, m->u.frame.format == VASA_RGBA8 ? "rgba8" : "bgra8",
			 m->u.frame.alpha == VASA_ALPHA_STRAIGHT ? "straight" : "premultiplied");
		break;
	case VASA_AUDIO:
		snprintf(p, left, " rate=%u ch=%u %s samples=%u", m->u.audio.rate, m->u.audio.channels,
			 m->u.audio.format == VASA_S16 ? "s16" : "f32", m->u.audio.samples);
		break;
	case VASA_EVENT: {
		char message[16] = "-";
		if (m->u.event.message.data)
			snprintf(message, sizeof(message), "%08x", fnv_add(0x811C9DC5u, m->u.event.message));
		snprintf(p, left, " name=%08x message=%s data=%s", fnv_add(0x811C9DC5u, m->u.event.name),
			 message, m->u.event.has_data ? "yes" : "no");
		break;
	}
	case VASA_HELLO:
		snprintf(p, left, " streams=%u caps=%u publisher=%08x", m->u.hello.stream_count,
			 m->u.hello.capability_count, fnv_add(0x811C9DC5u, m->u.hello.publisher));
		break;
	}
}

static bool printable_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

static int run_corpus(const char *dir)
{
	char path[1024];
	size_t size = 0, text_size = 0;
	snprintf(path, sizeof(path), "%s/corpus.bin", dir);
	unsigned char *data = read_file(path, &size);
	snprintf(path, sizeof(path), "%s/expected.txt", dir);
	char *text = (char *)read_file(path, &text_size);
	CHECK(data && size >= 4 && text, "cannot read %s/corpus.bin and expected.txt", dir);
	if (failures)
		return 1;
	text = realloc(text, text_size + 1);
	text[text_size] = 0;
	uint32_t count = vasa_le32(data), agree = 0, differ = 0, accepted = 0;
	size_t pos = 4;
	char *line = text;
	bool framed = true;
	for (uint32_t k = 0; k < count && framed; k++) {
		const void *parts[MAX_PARTS];
		size_t sizes[MAX_PARTS];
		uint32_t n = pos + 4 <= size ? vasa_le32(data + pos) : MAX_PARTS + 1;
		pos += 4;
		framed = n <= MAX_PARTS;
		for (uint32_t i = 0; framed && i < n; i++) {
			sizes[i] = pos + 4 <= size ? vasa_le32(data + pos) : size;
			framed = pos + 4 + sizes[i] <= size;
			if (!framed) {
				n = i;
				break;
			}
			/* a copy of exactly the part's size, so ASan sees a read past its end */
			void *copy = malloc(sizes[i] ? sizes[i] : 1);
			memcpy(copy, data + pos + 4, sizes[i]);
			parts[i] = copy;
			pos += 4 + sizes[i];
		}
		char *end = strchr(line, '\n');
		if (!framed || !end) {
			CHECK(false, "corpus.bin or expected.txt ends early at message %u", k);
			for (uint32_t i = 0; i < n; i++)
				free((void *)parts[i]);
			framed = false;
			break;
		}
		*end = 0;

		struct vasa_message m;
		struct vasa_error err;
		char got[512];
		enum vasa_status s = vasa_decode(parts, sizes, n, 0, &m, &err);
		if (s == VASA_OK) {
			verdict(&m, got, sizeof(got));
			vasa_message_free(&m);
			accepted++;
		} else {
			snprintf(got, sizeof(got), "error %s", vasa_status_name(s));
			CHECK(err.text[0] != 0, "message %u: a refusal without a reason", k);
			CHECK(printable_ascii(err.text), "message %u: the reason is not printable ASCII",
			      k);
		}
		if (strcmp(got, line) == 0) {
			agree++;
		} else {
			differ++;
			if (differ <= 20)
				fprintf(stderr, "DIFFER message %u:\n  python: %s\n  c:      %s\n  (%s)\n", k,
					line, got, s == VASA_OK ? "accepted" : err.text);
		}
		line = end + 1;
		for (uint32_t i = 0; i < n; i++)
			free((void *)parts[i]);
	}
	CHECK(pos == size, "corpus has %zu bytes after its last message", size - pos);
	CHECK(*line == 0, "expected.txt has more lines than the corpus has messages");
	CHECK(differ == 0, "%u of %u messages decoded differently from Python", differ, count);
	printf("mutated corpus: %u messages decoded without a crash, %u agree with Python, %u differ "
	       "(%u accepted, %u refused)\n",
	       count, agree, differ, accepted, count - accepted);
	free(data);
	free(text);
	return failures ? 1 : 0;
}

/* ---------------------------------------------------------------------------------------------
 * Hellos built here: what a publisher without pictures (serve --no-frames, replay) announces. */

static void pack_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

/* Decode a hello listing `caps` (n of them) from a header packed into `sb`, which the message
 * borrows (the caller destroys it after vasa_message_free); true when it decoded. */
static bool decode_hello_with(const char *const *caps, size_t n, msgpack_sbuffer *sb,
			      struct vasa_message *m)
{
	msgpack_sbuffer_init(sb);
	msgpack_packer pk;
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 8);
	pack_str(&pk, "v");
	msgpack_pack_int(&pk, VASA_PROTOCOL_VERSION);
	pack_str(&pk, "seq");
	msgpack_pack_int(&pk, 0);
	pack_str(&pk, "stream");
	pack_str(&pk, "");
	pack_str(&pk, "pts");
	msgpack_pack_int(&pk, 0);
	pack_str(&pk, "sent");
	msgpack_pack_int(&pk, 0);
	pack_str(&pk, "streams");
	msgpack_pack_array(&pk, 1);
	pack_str(&pk, "default");
	pack_str(&pk, "capabilities");
	msgpack_pack_array(&pk, n);
	for (size_t i = 0; i < n; i++)
		pack_str(&pk, caps[i]);
	pack_str(&pk, "publisher");
	pack_str(&pk, "vasa-bridge replay");
	const void *parts[3] = {"hello//", sb->data, ""};
	size_t sizes[3] = {7, sb->size, 0};
	struct vasa_error err;
	enum vasa_status s = vasa_decode(parts, sizes, 3, 0, m, &err);
	CHECK(s == VASA_OK, "built hello refused: %s", err.text);
	return s == VASA_OK;
}

static int run_hello_capabilities(void)
{
	static const char *const no_pictures[] = {"motion", "audio"};
	static const char *const escaped[] = {"fr\xc3\xa4me", "frame\x01"};
	struct vasa_message m;
	msgpack_sbuffer sb;
	char text[256];
	if (decode_hello_with(no_pictures, 2, &sb, &m)) {
		CHECK(m.u.hello.capability_count == 2, "%u capabilities", m.u.hello.capability_count);
		CHECK(!vasa_hello_has_capability(&m, "frame"), "'frame' reported for motion, audio");
		CHECK(vasa_hello_has_capability(&m, "audio"), "'audio' not reported");
		CHECK(strcmp(vasa_hello_capabilities_text(&m, text, sizeof(text)), "motion, audio") == 0,
		      "text '%s'", text);
		/* cut to the buffer, always terminated */
		CHECK(strcmp(vasa_hello_capabilities_text(&m, text, 9), "motion, ") == 0,
		      "cut text '%s'", text);
		vasa_message_free(&m);
	}
	msgpack_sbuffer_destroy(&sb);
	if (decode_hello_with(NULL, 0, &sb, &m)) {
		CHECK(!vasa_hello_has_capability(&m, "frame"), "'frame' reported for no capabilities");
		CHECK(strcmp(vasa_hello_capabilities_text(&m, text, sizeof(text)), "none") == 0,
		      "text '%s'", text);
		vasa_message_free(&m);
	}
	msgpack_sbuffer_destroy(&sb);
	/* names from the wire go to a log: anything but printable ASCII is escaped */
	if (decode_hello_with(escaped, 2, &sb, &m)) {
		CHECK(!vasa_hello_has_capability(&m, "frame"), "'frame' matched a longer name");
		CHECK(strcmp(vasa_hello_capabilities_text(&m, text, sizeof(text)),
			     "fr\\xc3\\xa4me, frame\\x01") == 0, "text '%s'", text);
		vasa_message_free(&m);
	}
	msgpack_sbuffer_destroy(&sb);
	printf("hello capabilities: %d failures\n", failures);
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s FIXTURE_DIR (NAME.bin | --mutate | --count N)\n", argv[0]);
		return 2;
	}
	char path[1024];
	snprintf(path, sizeof(path), "%s/expected.json", argv[1]);
	json_error_t jerr;
	json_t *expected = json_load_file(path, 0, &jerr);
	if (!expected) {
		fprintf(stderr, "FAIL: cannot read %s: %s\n", path, jerr.text);
		return 1;
	}
	int rc;
	if (strcmp(argv[2], "--hello-capabilities") == 0) {
		rc = run_hello_capabilities();
	} else if (strcmp(argv[2], "--corpus") == 0 && argc > 3) {
		rc = run_corpus(argv[3]);
	} else if (strcmp(argv[2], "--mutate") == 0) {
		rc = run_mutate(argv[1], expected);
	} else if (strcmp(argv[2], "--count") == 0 && argc > 3) {
		size_t want = (size_t)atoi(argv[3]);
		CHECK(json_object_size(expected) >= want, "expected.json lists %zu fixtures: expected >= %zu",
		      json_object_size(expected), want);
		const char *name;
		json_t *exp;
		json_object_foreach (expected, name, exp) {
			struct fixture fx = {0};
			CHECK(load_fixture(argv[1], name, &fx), "%s is missing or badly framed", name);
			free(fx.data);
		}
		printf("%zu fixtures listed\n", json_object_size(expected));
		rc = failures ? 1 : 0;
	} else {
		rc = run_one(argv[1], expected, argv[2]);
	}
	json_decref(expected);
	return rc;
}
