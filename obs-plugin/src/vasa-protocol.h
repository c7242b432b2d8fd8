/* Wire protocol v1 decoder (docs/protocol.md). Pure C on msgpack-c: no libobs, no ZeroMQ,
 * no clocks, so the golden fixtures test it alone.
 *
 * A message is three parts: topic "kind/stream/", a msgpack map header, a raw payload.
 * vasa_decode() checks every field the spec names and refuses anything else with a one-line
 * reason that names the value received and the value expected. It never trusts a size: the
 * header is scanned before msgpack-c allocates anything, payload sizes are checked against the
 * header and a cap. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VASA_PROTOCOL_VERSION 1
#define VASA_MAX_MESSAGE_BYTES (64u * 1024u * 1024u) /* default cap on one whole message */
#define VASA_MAX_HEADER_BYTES (64u * 1024u)
#define VASA_MAX_DIMENSION 8192 /* pixels, either side */
#define VASA_MAX_STREAM_LEN 64
#define VASA_MAX_NAMES 256 /* motion coefficients per message */
#define VASA_MAX_DEPTH 32  /* nested containers in a header, the header map included */

enum vasa_status {
	VASA_OK = 0,
	VASA_ERR_MALFORMED, /* wrong shape, type, range or size */
	VASA_ERR_VERSION,   /* v != VASA_PROTOCOL_VERSION */
	VASA_ERR_TOO_LARGE, /* the message, its header or a declared payload is over the cap */
};

enum vasa_kind { VASA_MOTION, VASA_FRAME, VASA_AUDIO, VASA_EVENT, VASA_HELLO };
enum vasa_pixel_format { VASA_RGBA8, VASA_BGRA8 };
enum vasa_alpha { VASA_ALPHA_STRAIGHT, VASA_ALPHA_PREMULTIPLIED };
enum vasa_sample_format { VASA_S16, VASA_F32 };

/* Bytes owned by someone else (a message part); strings are not NUL-terminated. */
struct vasa_bytes {
	const uint8_t *data;
	size_t size;
};

struct vasa_message {
	enum vasa_kind kind;
	char stream[VASA_MAX_STREAM_LEN + 1]; /* "" for hello */
	uint64_t seq;
	int64_t pts;  /* media time, ns */
	int64_t sent; /* publisher's wall clock (Unix), ns */
	struct vasa_bytes payload; /* points into the caller's third part */

	union {
		struct {
			uint32_t count; /* names, and float32 values in the payload */
			double head_rotation[3];    /* pitch, yaw, roll, degrees */
			double head_translation[3]; /* x, y, z, metres */
		} motion;
		struct {
			uint32_t width, height, stride; /* pixels, pixels, bytes per row */
			enum vasa_pixel_format format;
			enum vasa_alpha alpha;
		} frame;
		struct {
			uint32_t rate, channels, samples; /* Hz, interleaved channels, per channel */
			enum vasa_sample_format format;
		} audio;
		struct {
			struct vasa_bytes name;
			struct vasa_bytes message; /* data == NULL when absent */
			bool has_data;
		} event;
		struct {
			uint32_t stream_count, capability_count;
			struct vasa_bytes publisher;
			double fps; /* 0 when absent */
		} hello;
	} u;

	/* private: the unpacked header, which the name/stream accessors read */
	msgpack_unpacked header_;
	const msgpack_object *names_;   /* motion: header "names" */
	const msgpack_object *streams_; /* hello: header "streams" */
	const msgpack_object *caps_;    /* hello: header "capabilities" */
};

struct vasa_error {
	enum vasa_status status;
	char text[256]; /* one line of printable ASCII: the value received and what was expected */
};

/* Decode one multipart message. parts[i] / sizes[i] are the ZeroMQ frames, borrowed: they must
 * outlive `out`. max_bytes caps the whole message and any declared payload (0: the default).
 * On success returns VASA_OK and fills `out`, which vasa_message_free() must release.
 * On failure returns the status, fills `err` (may be NULL) and leaves nothing to free. */
enum vasa_status vasa_decode(const void *const *parts, const size_t *sizes, size_t n_parts,
			     size_t max_bytes, struct vasa_message *out, struct vasa_error *err);
void vasa_message_free(struct vasa_message *msg);

/* Motion: the value of blendshape `name` (by name: senders may reorder); false if not sent. */
bool vasa_motion_value(const struct vasa_message *msg, const char *name, float *value);
/* Motion: name i (0 <= i < count) and value i. */
struct vasa_bytes vasa_motion_name(const struct vasa_message *msg, uint32_t i);
float vasa_motion_value_at(const struct vasa_message *msg, uint32_t i);
/* Hello: stream id i (0 <= i < stream_count). */
struct vasa_bytes vasa_hello_stream(const struct vasa_message *msg, uint32_t i);
/* Hello: capability i (0 <= i < capability_count), e.g. "frame". */
struct vasa_bytes vasa_hello_capability(const struct vasa_message *msg, uint32_t i);
/* Hello: whether the publisher lists `name` ("frame": it sends pictures; `serve --no-frames` and
 * `replay` do not). */
bool vasa_hello_has_capability(const struct vasa_message *msg, const char *name);
/* Hello: the capabilities as one line of printable ASCII for a log, "motion, audio" ("none" when
 * the list is empty), cut to fit `size`. Returns buf. */
const char *vasa_hello_capabilities_text(const struct vasa_message *msg, char *buf, size_t size);

/* Audio payload sample i (interleaved) as float in [-1, 1] (s16 / 32768). */
float vasa_audio_sample(const struct vasa_message *msg, size_t i);

const char *vasa_kind_name(enum vasa_kind kind);
const char *vasa_status_name(enum vasa_status status); /* "ok", "malformed", "version", "too_large" */

/* Little-endian loads (the wire is little-endian whatever the host). */
static inline uint32_t vasa_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#ifdef __cplusplus
}
#endif
