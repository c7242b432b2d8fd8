/* The "VASA Bridge" source: the runtime's frames and sound (docs/protocol.md) in OBS.
 *
 * A receive thread subscribes to frame/STREAM/, audio/STREAM/ and hello/ on the runtime's
 * ZeroMQ publisher, decodes each message (vasa-protocol.c) and hands it to OBS with
 * obs_source_output_video / obs_source_output_audio. Both carry pts mapped onto OBS's clock
 * (vasa-clock.c), so OBS keeps picture and sound together; the sound owns the mapping, and a
 * picture that comes too late for it is shown at once rather than re-timing the sound. The
 * thread never renders; it stops on an event and is joined before any setting changes. ZeroMQ reconnects by itself when the
 * runtime restarts; the clock mapping starts again when seq or pts go back. */
#include <obs-module.h>
#include <util/bmem.h>
#include <util/platform.h>
#include <util/threading.h>

#include <inttypes.h>
#include <pthread.h>
#include <string.h>
#include <zmq.h>

#include "plugin-support.h"
#include "vasa-clock.h"
#include "vasa-protocol.h"

#define S_ENDPOINT "endpoint"
#define S_STREAM "stream"
#define S_LATENCY "latency"
#define S_BLANK_AFTER "blank_after"
#define S_ALPHA "alpha"

#define DEFAULT_ENDPOINT "tcp://127.0.0.1:5555"
#define DEFAULT_STREAM "default"
#define POLL_MS 50       /* how often the thread looks at its stop event and the blank timer */
#define RECV_HWM 64      /* messages queued in the socket before ZeroMQ drops (about 1 s) */
#define LOG_EVERY 100    /* after the first refused message, log one in LOG_EVERY */
#define QUIET_S 3        /* nothing at all for this long (the runtime says hello every second): warn */

enum latency_mode { LATENCY_UNBUFFERED = 0, LATENCY_BUFFERED = 1 };
enum alpha_mode { ALPHA_AUTO = 0, ALPHA_STRAIGHT = 1, ALPHA_PREMULTIPLIED = 2 };

struct vasa_source {
	obs_source_t *source;

	/* settings: written by update() only while the thread is stopped */
	char *endpoint;
	char *stream;
	enum latency_mode latency;
	int blank_after_s; /* 0: never */
	enum alpha_mode alpha;

	pthread_t thread;
	bool thread_active;
	os_event_t *stop;

	/* owned by the receive thread */
	struct vasa_clock clock;
	uint8_t *pixels; /* straight-alpha copy of a premultiplied frame */
	size_t pixels_size;
	uint64_t frames, audio_blocks, refused;
	uint64_t last_frame_ns; /* OBS clock; 0: nothing shown */
	uint64_t last_sound_ns; /* OBS clock of the last sound block */
	uint64_t last_heard_ns; /* any message, valid or not, or the thread's start */
	bool warned_channels, announced, warned_quiet;
	bool warned_no_pictures; /* a hello without "frame": said once, until one with it */
};

/* ---------------------------------------------------------------------------------------------
 * Frames and sound */

/* Straight alpha from premultiplied (OBS's async frames are straight). rgba8 and bgra8 keep
 * alpha in byte 3, so one loop serves both. Writes tightly packed rows. */
static void unpremultiply(uint8_t *dst, const uint8_t *src, uint32_t width, uint32_t height,
			  uint32_t stride)
{
	for (uint32_t y = 0; y < height; y++) {
		const uint8_t *s = src + (size_t)y * stride;
		for (uint32_t x = 0; x < width; x++, s += 4, dst += 4) {
			uint32_t a = s[3];
			if (a == 0) {
				dst[0] = dst[1] = dst[2] = dst[3] = 0;
				continue;
			}
			for (int c = 0; c < 3; c++) {
				uint32_t v = (s[c] * 255u + a / 2) / a;
				dst[c] = (uint8_t)(v > 255 ? 255 : v);
			}
			dst[3] = (uint8_t)a;
		}
	}
}

static void output_frame(struct vasa_source *vs, const struct vasa_message *m)
{
	uint64_t now = os_gettime_ns();
	struct obs_source_frame frame = {0};
	frame.width = m->u.frame.width;
	frame.height = m->u.frame.height;
	frame.format = m->u.frame.format == VASA_RGBA8 ? VIDEO_FORMAT_RGBA : VIDEO_FORMAT_BGRA;
	frame.full_range = true;
	frame.timestamp = vasa_clock_map_picture(&vs->clock, m->pts, now);

	bool premultiplied = vs->alpha == ALPHA_PREMULTIPLIED ||
			     (vs->alpha == ALPHA_AUTO && m->u.frame.alpha == VASA_ALPHA_PREMULTIPLIED);
	if (premultiplied) {
		size_t size = 4 * (size_t)frame.width * frame.height;
		if (size > vs->pixels_size) {
			vs->pixels = brealloc(vs->pixels, size);
			vs->pixels_size = size;
		}
		unpremultiply(vs->pixels, m->payload.data, frame.width, frame.height,
			      m->u.frame.stride);
		frame.data[0] = vs->pixels;
		frame.linesize[0] = 4 * frame.width;
	} else {
		frame.data[0] = (uint8_t *)m->payload.data; /* OBS copies the frame */
		frame.linesize[0] = m->u.frame.stride;
	}
	obs_source_output_video(vs->source, &frame);
	vs->last_frame_ns = now;
	if (vs->frames++ == 0)
		vb_log(LOG_INFO, "'%s': first frame %ux%u %s on stream '%s'",
		       obs_source_get_name(vs->source), frame.width, frame.height,
		       m->u.frame.format == VASA_RGBA8 ? "rgba8" : "bgra8", vs->stream);
}

static enum speaker_layout speakers_for(uint32_t channels)
{
	switch (channels) {
	case 1: return SPEAKERS_MONO;
	case 2: return SPEAKERS_STEREO;
	case 3: return SPEAKERS_2POINT1;
	case 4: return SPEAKERS_4POINT0;
	case 5: return SPEAKERS_4POINT1;
	case 6: return SPEAKERS_5POINT1;
	case 8: return SPEAKERS_7POINT1;
	default: return SPEAKERS_UNKNOWN; /* 7 channels: OBS has no such layout */
	}
}

static void output_audio(struct vasa_source *vs, const struct vasa_message *m)
{
	enum speaker_layout speakers = speakers_for(m->u.audio.channels);
	if (speakers == SPEAKERS_UNKNOWN) {
		if (!vs->warned_channels)
			vb_log(LOG_WARNING,
			       "'%s': audio has %u channels: expected 1-6 or 8 (OBS has no %u-channel "
			       "layout); dropping the sound",
			       obs_source_get_name(vs->source), m->u.audio.channels, m->u.audio.channels);
		vs->warned_channels = true;
		return;
	}
	if (m->u.audio.samples == 0)
		return;
	struct obs_source_audio audio = {0};
	audio.data[0] = m->payload.data; /* interleaved, little-endian like every OBS host */
	audio.frames = m->u.audio.samples;
	audio.speakers = speakers;
	audio.format = m->u.audio.format == VASA_S16 ? AUDIO_FORMAT_16BIT : AUDIO_FORMAT_FLOAT;
	audio.samples_per_sec = m->u.audio.rate;
	audio.timestamp = vasa_clock_map_sound(&vs->clock, m->pts, os_gettime_ns());
	obs_source_output_audio(vs->source, &audio);
	vs->audio_blocks++;
	vs->last_sound_ns = os_gettime_ns();
}

/* A publisher whose hello lacks "frame" (`serve --no-frames`, `replay`) sends no pictures: the
 * source would stay empty without a word. Say so once, and again only after a publisher with
 * pictures came in between. */
static void note_pictures(struct vasa_source *vs, const struct vasa_message *m)
{
	bool pictures = vasa_hello_has_capability(m, "frame");
	if (!pictures && !vs->warned_no_pictures) {
		char caps[192];
		vb_log(LOG_WARNING,
		       "'%s': %s publishes no pictures (capabilities: %s): start `vasa-bridge serve` "
		       "without --no-frames (a replay sends none)",
		       obs_source_get_name(vs->source), vs->endpoint,
		       vasa_hello_capabilities_text(m, caps, sizeof(caps)));
	} else if (pictures && vs->warned_no_pictures) {
		vb_log(LOG_INFO, "'%s': %s publishes pictures again", obs_source_get_name(vs->source),
		       vs->endpoint);
	}
	vs->warned_no_pictures = !pictures;
}

static void handle_hello(struct vasa_source *vs, const struct vasa_message *m)
{
	note_pictures(vs, m);
	if (vs->announced)
		return;
	vs->announced = true;
	bool served = false;
	for (uint32_t i = 0; i < m->u.hello.stream_count; i++) {
		struct vasa_bytes s = vasa_hello_stream(m, i);
		served |= s.size == strlen(vs->stream) && memcmp(s.data, vs->stream, s.size) == 0;
	}
	vb_log(served ? LOG_INFO : LOG_WARNING, "'%s': publisher '%.*s' %s stream '%s'",
	       obs_source_get_name(vs->source), (int)m->u.hello.publisher.size,
	       (const char *)m->u.hello.publisher.data, served ? "serves" : "does not serve",
	       vs->stream);
}

static void handle_message(struct vasa_source *vs, const struct vasa_message *m)
{
	/* hello is per publisher, the others per stream; both restart at seq 0 */
	if (vasa_clock_note_seq(&vs->clock, (int)m->kind, m->seq)) {
		vb_log(LOG_INFO, "'%s': publisher restarted (%s seq back to %" PRIu64 "): re-timing",
		       obs_source_get_name(vs->source), vasa_kind_name(m->kind), m->seq);
		vs->announced = false;
	}
	switch (m->kind) {
	case VASA_FRAME:
		output_frame(vs, m);
		break;
	case VASA_AUDIO:
		output_audio(vs, m);
		break;
	case VASA_HELLO:
		handle_hello(vs, m);
		break;
	default: /* not subscribed */
		break;
	}
}

/* ---------------------------------------------------------------------------------------------
 * The receive thread */

#define MAX_PARTS 3

/* One multipart message; parts beyond MAX_PARTS are read and counted, then dropped. */
static bool receive(void *sock, zmq_msg_t *parts, size_t *n_parts)
{
	*n_parts = 0;
	int more = 1;
	while (more) {
		zmq_msg_t scratch;
		zmq_msg_t *dst = *n_parts < MAX_PARTS ? &parts[*n_parts] : &scratch;
		zmq_msg_init(dst);
		if (zmq_msg_recv(dst, sock, *n_parts == 0 ? ZMQ_DONTWAIT : 0) < 0) {
			zmq_msg_close(dst);
			return *n_parts > 0; /* a message arrives whole: only EAGAIN/ETERM here */
		}
		more = zmq_msg_more(dst);
		if (dst == &scratch)
			zmq_msg_close(dst);
		(*n_parts)++;
	}
	return true;
}

/* A source with no runtime behind it (not started, another port, a typo in the host) would
 * otherwise only ever say "listening": say once that nothing arrives, and once that it does. */
static void note_heard(struct vasa_source *vs)
{
	vs->last_heard_ns = os_gettime_ns();
	if (vs->warned_quiet) {
		vs->warned_quiet = false;
		vb_log(LOG_INFO, "'%s': now hearing from %s", obs_source_get_name(vs->source),
		       vs->endpoint);
	}
}

static void warn_if_quiet(struct vasa_source *vs)
{
	if (vs->warned_quiet || os_gettime_ns() - vs->last_heard_ns < QUIET_S * 1000000000ULL)
		return;
	vs->warned_quiet = true;
	vb_log(LOG_WARNING,
	       "'%s': nothing from %s for %d s (the runtime says hello every second): is "
	       "`vasa-bridge serve` running, and is its --pub this endpoint?",
	       obs_source_get_name(vs->source), vs->endpoint, QUIET_S);
}

static void receive_all(struct vasa_source *vs, void *sock)
{
	zmq_msg_t parts[MAX_PARTS];
	size_t n;
	while (os_event_try(vs->stop) == EAGAIN && receive(sock, parts, &n)) {
		size_t kept = n < MAX_PARTS ? n : MAX_PARTS;
		const void *data[MAX_PARTS];
		size_t sizes[MAX_PARTS];
		for (size_t i = 0; i < kept; i++) {
			data[i] = zmq_msg_data(&parts[i]);
			sizes[i] = zmq_msg_size(&parts[i]);
		}
		note_heard(vs);
		struct vasa_message m;
		struct vasa_error err;
		if (vasa_decode(data, sizes, n, 0, &m, &err) == VASA_OK) {
			handle_message(vs, &m);
			vasa_message_free(&m);
		} else if (vs->refused++ % LOG_EVERY == 0) {
			vb_log(LOG_WARNING, "'%s': dropped a message (%" PRIu64 " so far): %s",
			       obs_source_get_name(vs->source), vs->refused, err.text);
		}
		for (size_t i = 0; i < kept; i++)
			zmq_msg_close(&parts[i]);
	}
}

/* Blank only when the stream is gone: neither pictures nor sound for blank_after_s. While the
 * sound goes on (a runtime short of CPU sends fewer pictures), the last picture stays. */
static void blank_if_stale(struct vasa_source *vs)
{
	if (vs->blank_after_s <= 0 || vs->last_frame_ns == 0)
		return;
	uint64_t last = vs->last_frame_ns > vs->last_sound_ns ? vs->last_frame_ns : vs->last_sound_ns;
	if (os_gettime_ns() - last >= (uint64_t)vs->blank_after_s * 1000000000ULL) {
		obs_source_output_video(vs->source, NULL);
		vs->last_frame_ns = 0;
		vb_log(LOG_INFO, "'%s': no frames or sound for %d s: blanked",
		       obs_source_get_name(vs->source), vs->blank_after_s);
	}
}

static bool subscribe(void *sock, const char *kind, const char *stream)
{
	char topic[128];
	snprintf(topic, sizeof(topic), "%s/%s/", kind, stream);
	return zmq_setsockopt(sock, ZMQ_SUBSCRIBE, topic, strlen(topic)) == 0;
}

static void *receive_thread(void *data)
{
	struct vasa_source *vs = data;
	os_set_thread_name("vasa-bridge: receive");
	void *ctx = zmq_ctx_new();
	void *sock = ctx ? zmq_socket(ctx, ZMQ_SUB) : NULL;
	int linger = 0, hwm = RECV_HWM, reconnect_ms = 100, reconnect_max_ms = 1000;
	int64_t max_size = VASA_MAX_MESSAGE_BYTES + 4096; /* ZeroMQ drops larger frames */
	bool ok = sock && zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger)) == 0 &&
		  zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof(hwm)) == 0 &&
		  zmq_setsockopt(sock, ZMQ_RECONNECT_IVL, &reconnect_ms, sizeof(int)) == 0 &&
		  zmq_setsockopt(sock, ZMQ_RECONNECT_IVL_MAX, &reconnect_max_ms, sizeof(int)) == 0 &&
		  zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max_size, sizeof(max_size)) == 0 &&
		  subscribe(sock, "frame", vs->stream) && subscribe(sock, "audio", vs->stream) &&
		  subscribe(sock, "hello", "");
	if (ok && zmq_connect(sock, vs->endpoint) != 0) {
		vb_log(LOG_ERROR, "'%s': cannot connect to '%s': %s (expected e.g. %s)",
		       obs_source_get_name(vs->source), vs->endpoint, zmq_strerror(zmq_errno()),
		       DEFAULT_ENDPOINT);
		ok = false;
	} else if (!ok) {
		vb_log(LOG_ERROR, "'%s': cannot set up a ZeroMQ socket: %s",
		       obs_source_get_name(vs->source), zmq_strerror(zmq_errno()));
	} else {
		vb_log(LOG_INFO, "'%s': listening to stream '%s' at %s",
		       obs_source_get_name(vs->source), vs->stream, vs->endpoint);
	}

	while (os_event_try(vs->stop) == EAGAIN) {
		if (!ok) {
			os_event_timedwait(vs->stop, POLL_MS * 10);
			continue;
		}
		zmq_pollitem_t item = {.socket = sock, .events = ZMQ_POLLIN};
		if (zmq_poll(&item, 1, POLL_MS) > 0)
			receive_all(vs, sock);
		blank_if_stale(vs);
		warn_if_quiet(vs);
	}

	if (sock)
		zmq_close(sock);
	if (ctx)
		zmq_ctx_term(ctx);
	vb_log(LOG_INFO, "'%s': stopped after %" PRIu64 " frames, %" PRIu64
			 " audio blocks, %" PRIu64 " refused, %" PRIu64 " missing (seq gaps), %" PRIu64
			 " pictures late behind the sound (shown at once)",
	       obs_source_get_name(vs->source), vs->frames, vs->audio_blocks, vs->refused,
	       vs->clock.dropped, vs->clock.late_pictures);
	return NULL;
}

static void stop_thread(struct vasa_source *vs)
{
	if (!vs->thread_active)
		return;
	os_event_signal(vs->stop);
	pthread_join(vs->thread, NULL);
	vs->thread_active = false;
}

static void start_thread(struct vasa_source *vs)
{
	os_event_reset(vs->stop);
	vasa_clock_init(&vs->clock);
	vs->frames = vs->audio_blocks = vs->refused = 0;
	vs->last_frame_ns = 0;
	vs->last_heard_ns = os_gettime_ns();
	vs->warned_channels = vs->announced = vs->warned_quiet = vs->warned_no_pictures = false;
	if (pthread_create(&vs->thread, NULL, receive_thread, vs) == 0)
		vs->thread_active = true;
	else
		vb_log(LOG_ERROR, "'%s': cannot start the receive thread",
		       obs_source_get_name(vs->source));
}

/* ---------------------------------------------------------------------------------------------
 * obs_source_info */

static const char *vasa_source_get_name(void *unused)
{
	UNUSED_PARAMETER(unused);
	return obs_module_text("VasaBridge.Source");
}

static void vasa_source_update(void *data, obs_data_t *settings)
{
	struct vasa_source *vs = data;
	stop_thread(vs);

	bfree(vs->endpoint);
	bfree(vs->stream);
	vs->endpoint = bstrdup(obs_data_get_string(settings, S_ENDPOINT));
	vs->stream = bstrdup(obs_data_get_string(settings, S_STREAM));
	vs->latency = (enum latency_mode)obs_data_get_int(settings, S_LATENCY);
	vs->blank_after_s = (int)obs_data_get_int(settings, S_BLANK_AFTER);
	vs->alpha = (enum alpha_mode)obs_data_get_int(settings, S_ALPHA);
	obs_source_set_async_unbuffered(vs->source, vs->latency == LATENCY_UNBUFFERED);

	size_t len = strlen(vs->stream);
	bool stream_ok = len >= 1 && len <= VASA_MAX_STREAM_LEN &&
			 strspn(vs->stream, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					    "0123456789_.-") == len;
	obs_source_output_video(vs->source, NULL); /* the old stream's picture must not linger */
	if (!stream_ok) {
		vb_log(LOG_WARNING,
		       "'%s': stream id '%s' is invalid: expected 1-64 characters of letters, "
		       "digits, '_', '.', '-'",
		       obs_source_get_name(vs->source), vs->stream);
		return;
	}
	start_thread(vs);
}

static void *vasa_source_create(obs_data_t *settings, obs_source_t *source)
{
	struct vasa_source *vs = bzalloc(sizeof(*vs));
	vs->source = source;
	if (os_event_init(&vs->stop, OS_EVENT_TYPE_MANUAL) != 0) {
		bfree(vs);
		return NULL;
	}
	vasa_source_update(vs, settings);
	return vs;
}

static void vasa_source_destroy(void *data)
{
	struct vasa_source *vs = data;
	stop_thread(vs);
	os_event_destroy(vs->stop);
	bfree(vs->endpoint);
	bfree(vs->stream);
	bfree(vs->pixels);
	bfree(vs);
}

static void vasa_source_defaults(obs_data_t *settings)
{
	obs_data_set_default_string(settings, S_ENDPOINT, DEFAULT_ENDPOINT);
	obs_data_set_default_string(settings, S_STREAM, DEFAULT_STREAM);
	obs_data_set_default_int(settings, S_LATENCY, LATENCY_UNBUFFERED);
	obs_data_set_default_int(settings, S_BLANK_AFTER, 2);
	obs_data_set_default_int(settings, S_ALPHA, ALPHA_AUTO);
}

static obs_properties_t *vasa_source_properties(void *unused)
{
	UNUSED_PARAMETER(unused);
	obs_properties_t *props = obs_properties_create();
	obs_property_t *p;

	p = obs_properties_add_text(props, S_ENDPOINT, obs_module_text("VasaBridge.Endpoint"),
				    OBS_TEXT_DEFAULT);
	obs_property_set_long_description(p, obs_module_text("VasaBridge.Endpoint.Description"));
	p = obs_properties_add_text(props, S_STREAM, obs_module_text("VasaBridge.Stream"),
				    OBS_TEXT_DEFAULT);
	obs_property_set_long_description(p, obs_module_text("VasaBridge.Stream.Description"));

	p = obs_properties_add_list(props, S_LATENCY, obs_module_text("VasaBridge.Latency"),
				    OBS_COMBO_TYPE_LIST, OBS_COMBO_FORMAT_INT);
	obs_property_list_add_int(p, obs_module_text("VasaBridge.Latency.Unbuffered"),
				  LATENCY_UNBUFFERED);
	obs_property_list_add_int(p, obs_module_text("VasaBridge.Latency.Buffered"), LATENCY_BUFFERED);

	p = obs_properties_add_int(props, S_BLANK_AFTER, obs_module_text("VasaBridge.BlankAfter"), 0,
				   3600, 1);
	obs_property_int_set_suffix(p, " s");
	obs_property_set_long_description(p, obs_module_text("VasaBridge.BlankAfter.Description"));

	p = obs_properties_add_list(props, S_ALPHA, obs_module_text("VasaBridge.Alpha"),
				    OBS_COMBO_TYPE_LIST, OBS_COMBO_FORMAT_INT);
	obs_property_list_add_int(p, obs_module_text("VasaBridge.Alpha.Auto"), ALPHA_AUTO);
	obs_property_list_add_int(p, obs_module_text("VasaBridge.Alpha.Straight"), ALPHA_STRAIGHT);
	obs_property_list_add_int(p, obs_module_text("VasaBridge.Alpha.Premultiplied"),
				  ALPHA_PREMULTIPLIED);
	return props;
}

struct obs_source_info vasa_source_info = {
	.id = "vasa_bridge_source",
	.type = OBS_SOURCE_TYPE_INPUT,
	.output_flags = OBS_SOURCE_ASYNC_VIDEO | OBS_SOURCE_AUDIO | OBS_SOURCE_DO_NOT_DUPLICATE,
	.get_name = vasa_source_get_name,
	.create = vasa_source_create,
	.destroy = vasa_source_destroy,
	.update = vasa_source_update,
	.get_defaults = vasa_source_defaults,
	.get_properties = vasa_source_properties,
	.icon_type = OBS_ICON_TYPE_MEDIA,
};
