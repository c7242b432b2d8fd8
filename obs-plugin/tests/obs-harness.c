/* Integration test: the vasa-bridge module inside a headless libobs (X11/EGL under Xvfb),
 * fed by tests/publish.py over real ZeroMQ.
 *
 *   obs-harness MODULE.so MODULE_DATA_DIR PYTHON PUBLISH_PY
 *
 * Two sources side by side on one publisher: "default" (rgba8, straight, unbuffered) and "npc1"
 * (bgra8, premultiplied with padded rows, buffered). Frames are read back with
 * obs_source_get_frame and compared pixel by pixel with the pattern publish.py sends; sound is
 * read back with an audio capture callback (OBS's own 48 kHz float planar) and its pitch and
 * level measured. Then the publisher goes away (the source must blank), one whose hello lacks
 * "frame" comes (each source must say once that it publishes no pictures), and a second publisher
 * process with pictures starts at seq 0 / pts 0 on the same endpoint (the source must reconnect,
 * re-time and clear that warning).
 * Prints the delay from the header's `sent` to the frame being available in OBS.
 * Ends with "obs-harness: N checks, N failed"; exit status 1 if any failed. */
#include <obs.h>
#include <obs-module.h>
#include <obs-nix-platform.h>
#include <util/base.h>
#include <util/platform.h>

#include <X11/Xlib.h>
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define W 96 /* publish.py's frame size */
#define H 64
#define OBS_FPS 30 /* OBS's video tick */
#define PUB_FPS 25 /* publish.py's frame rate: not a divisor of OBS_FPS, so the delay is measured
		    * over every phase between arrival and tick, not one lucky phase */
#define MAX_SEQ 4096
#define BLANK_AFTER_S 1

static int checks, failures;

#define CHECK(cond, ...)                                                  \
	do {                                                              \
		checks++;                                                 \
		if (!(cond)) {                                            \
			failures++;                                       \
			fprintf(stderr, "FAIL line %d: ", __LINE__);      \
			fprintf(stderr, __VA_ARGS__);                     \
			fputc('\n', stderr);                              \
		}                                                         \
	} while (0)

/* ---------------------------------------------------------------------------------------------
 * The log: kept so the test can see what the plugin said. */

static pthread_mutex_t log_mutex = PTHREAD_MUTEX_INITIALIZER;
static int log_loaded, log_listening, log_restarted, log_blanked, log_silent_quiet;
static int log_no_pictures, log_pictures_again;
static char endpoint[64];

static void log_handler(int level, const char *format, va_list args, void *param)
{
	char line[4096];
	vsnprintf(line, sizeof(line), format, args);
	pthread_mutex_lock(&log_mutex);
	if (strncmp(line, "[vasa-bridge] ", 14) == 0) {
		log_loaded |= strstr(line, "plugin loaded") != NULL;
		log_listening += strstr(line, "listening to stream") != NULL;
		log_restarted += strstr(line, "publisher restarted") != NULL;
		log_blanked += strstr(line, "blanked") != NULL;
		/* the source with no runtime behind it says so, once, naming its endpoint */
		log_silent_quiet += strstr(line, "'silent': nothing from tcp://127.0.0.1:") != NULL &&
				    strstr(line, "vasa-bridge serve") != NULL;
		/* a publisher without "frame" in its hello: named, with what it does publish */
		log_no_pictures += strstr(line, endpoint) != NULL &&
				   strstr(line, " publishes no pictures (capabilities: motion, audio): "
						"start `vasa-bridge serve` without --no-frames") != NULL;
		log_pictures_again += strstr(line, endpoint) != NULL &&
				      strstr(line, " publishes pictures again") != NULL;
	}
	if (level <= LOG_INFO || strstr(line, "[vasa-bridge]"))
		fprintf(stderr, "  obs: %s\n", line);
	pthread_mutex_unlock(&log_mutex);
	(void)param;
}

/* ---------------------------------------------------------------------------------------------
 * The patterns (publish.py computes the same) */

static void pattern_default(int seq, int x, int y, uint8_t px[4])
{
	if (x == 0 && y == 0) {
		px[0] = seq & 255, px[1] = (seq >> 8) & 255, px[2] = 0x5A, px[3] = 255;
		return;
	}
	px[0] = (x * 4 + seq) & 255;
	px[1] = (y * 5 + 2 * seq) & 255;
	px[2] = (x * y + 3 * seq) & 255;
	px[3] = 255 - (x + y) % 64;
}

static const int NPC_ALPHAS[5] = {255, 200, 128, 64, 0};

/* npc1 before premultiplying, BGRA */
static void pattern_npc(int seq, int x, int y, uint8_t px[4])
{
	if (x == 0 && y == 0) {
		px[0] = seq & 255, px[1] = (seq >> 8) & 255, px[2] = 0xA5, px[3] = 255;
		return;
	}
	px[0] = (x * 3 + seq) & 255;
	px[1] = (y * 7) & 255;
	px[2] = (x + 2 * y) & 255;
	px[3] = NPC_ALPHAS[x % 5];
}

/* ---------------------------------------------------------------------------------------------
 * What we see of each source */

struct seen {
	const char *name;
	obs_source_t *source;
	enum video_format format;
	bool premultiplied_in;
	bool alpha_override_straight; /* the source's "alpha" set to straight: no unpremultiply */
	int frames_seen;           /* distinct frames read back */
	int bad_pixels, bad_frames;
	uint64_t last_ts;          /* OBS timestamp of the last frame seen */
	int ts_not_increasing;
	int64_t seen_at[MAX_SEQ];  /* CLOCK_REALTIME ns when frame seq was first available */
	uint64_t obs_ts[MAX_SEQ];  /* its OBS timestamp */
	int max_ts_off_now_ms;     /* |timestamp - os_gettime_ns()| at read-back, worst */

	/* audio, from the capture callback (audio thread) */
	pthread_mutex_t audio_mutex;
	uint64_t audio_frames, audio_callbacks, zero_crossings;
	float peak, last_sample;
	uint64_t first_audio_ts;
};

static int64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void on_audio(void *param, obs_source_t *source, const struct audio_data *audio, bool muted)
{
	struct seen *s = param;
	const float *ch0 = (const float *)audio->data[0];
	pthread_mutex_lock(&s->audio_mutex);
	if (s->audio_callbacks++ == 0)
		s->first_audio_ts = audio->timestamp;
	for (uint32_t i = 0; ch0 && i < audio->frames; i++) {
		float v = ch0[i];
		if (fabsf(v) > s->peak)
			s->peak = fabsf(v);
		if ((v >= 0) != (s->last_sample >= 0))
			s->zero_crossings++;
		s->last_sample = v;
	}
	s->audio_frames += audio->frames;
	pthread_mutex_unlock(&s->audio_mutex);
	(void)source;
	(void)muted;
}

/* One frame from OBS: which seq is it, and is every pixel what was sent? */
static void inspect(struct seen *s, const struct obs_source_frame *f)
{
	if (f->format != s->format || f->width != W || f->height != H) {
		s->bad_frames++;
		fprintf(stderr, "FAIL %s: frame %ux%u format %d: expected %dx%d format %d\n", s->name,
			f->width, f->height, f->format, W, H, s->format);
		return;
	}
	const uint8_t *p0 = f->data[0];
	int seq;
	if (!s->premultiplied_in) {
		if (p0[2] != 0x5A) {
			s->bad_frames++;
			return;
		}
		seq = p0[0] | p0[1] << 8;
	} else {
		if (p0[2] != 0xA5) {
			s->bad_frames++;
			return;
		}
		seq = p0[0] | p0[1] << 8;
	}
	if (seq >= MAX_SEQ || s->seen_at[seq])
		return; /* OBS may hand out the same frame again */
	s->seen_at[seq] = realtime_ns();
	s->obs_ts[seq] = f->timestamp;
	s->frames_seen++;
	int64_t off = (int64_t)f->timestamp - (int64_t)os_gettime_ns();
	int off_ms = (int)(llabs(off) / 1000000);
	if (off_ms > s->max_ts_off_now_ms)
		s->max_ts_off_now_ms = off_ms;
	if (s->last_ts && f->timestamp <= s->last_ts)
		s->ts_not_increasing++;
	s->last_ts = f->timestamp;

	int bad = 0;
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			const uint8_t *got = p0 + (size_t)y * f->linesize[0] + 4 * x;
			uint8_t want[4];
			if (!s->premultiplied_in) {
				pattern_default(seq, x, y, want);
				bad += memcmp(got, want, 4) != 0;
				continue;
			}
			/* straight values came through premultiply (publisher) and unpremultiply
			 * (plugin): equal up to the rounding of 8-bit premultiplication */
			pattern_npc(seq, x, y, want);
			int a = want[3];
			if (s->alpha_override_straight && (x || y)) {
				/* told the stream is straight: the plugin passes bytes through */
				for (int c = 0; c < 3; c++)
					want[c] = (uint8_t)((want[c] * a + 127) / 255);
				bad += memcmp(got, want, 4) != 0;
				continue;
			}
			if (got[3] != a) {
				bad++;
				continue;
			}
			int tol = a ? (255 + a) / (2 * a) + 1 : 0;
			for (int c = 0; c < 3; c++) {
				int expect = a ? want[c] : 0;
				if (abs(got[c] - expect) > tol) {
					bad++;
					break;
				}
			}
		}
	if (bad) {
		s->bad_pixels += bad;
		fprintf(stderr, "FAIL %s: frame seq %d has %d wrong pixels of %d\n", s->name, seq, bad,
			W * H);
	}
}

static void poll_source(struct seen *s)
{
	struct obs_source_frame *f = obs_source_get_frame(s->source);
	if (f) {
		inspect(s, f);
		obs_source_release_frame(s->source, f);
	}
}

/* ---------------------------------------------------------------------------------------------
 * The publisher */

/* `frames_seconds` (NULL: all of `seconds`): pictures stop after it, sound goes on.
 * `capabilities` (NULL: "frame,audio"): what its hello announces. */
static pid_t spawn_publisher(const char *python, const char *script, const char *endpoint,
			     const char *log_path, const char *seconds, const char *frames_seconds,
			     const char *capabilities)
{
	char fps[16];
	snprintf(fps, sizeof(fps), "%d", PUB_FPS);
	const char *argv[] = {python, script, "--endpoint", endpoint, "--seconds", seconds,
			      "--fps", fps, "--log", log_path, "--wait-for",
			      "frame/default/,audio/default/,frame/npc1/,audio/npc1/",
			      "--capabilities", capabilities ? capabilities : "frame,audio",
			      frames_seconds ? "--frames-seconds" : NULL, frames_seconds, NULL};
	pid_t pid;
	if (posix_spawn(&pid, python, NULL, NULL, (char *const *)argv, environ) != 0)
		return -1;
	return pid;
}

/* Poll both sources until the publisher exits (plus a little); returns its exit status. */
static int run_publisher(struct seen **sources, int n, pid_t pid)
{
	int status = -1;
	uint64_t done_at = 0;
	for (;;) {
		for (int i = 0; i < n; i++)
			poll_source(sources[i]);
		if (!done_at && waitpid(pid, &status, WNOHANG) == pid)
			done_at = os_gettime_ns();
		if (done_at && os_gettime_ns() - done_at > 300000000ULL)
			break;
		usleep(500);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Delay from `sent` (publish.py's log) to the frame being available in OBS. */
static void report_delay(struct seen *s, const char *log_path, const char *stream)
{
	FILE *f = fopen(log_path, "r");
	CHECK(f != NULL, "publisher log %s missing", log_path);
	if (!f)
		return;
	static int64_t delays[MAX_SEQ];
	int n = 0, published = 0;
	char name[64];
	int seq;
	long long sent;
	while (fscanf(f, "frame %63s %d %lld\n", name, &seq, &sent) == 3) {
		if (strcmp(name, stream) != 0)
			continue;
		published++;
		if (seq >= 0 && seq < MAX_SEQ && s->seen_at[seq])
			delays[n++] = s->seen_at[seq] - sent;
	}
	fclose(f);
	CHECK(n > 0, "%s: none of %d published frames was seen", stream, published);
	if (!n)
		return;
	qsort(delays, n, sizeof(delays[0]), cmp_i64);
	/* A frame becomes available at OBS's next video tick: the spread (up to one tick) is the
	 * tick phase; the minimum is the transport + decode + hand-over alone. */
	printf("DELAY %s: sent -> available in OBS over %d of %d frames: min %.1f ms, median %.1f ms, "
	       "p90 %.1f ms, max %.1f ms (OBS ticks every %.1f ms; frames sent at %d fps)\n",
	       stream, n, published, delays[0] / 1e6, delays[n / 2] / 1e6,
	       delays[(n * 9) / 10] / 1e6, delays[n - 1] / 1e6, 1000.0 / OBS_FPS, PUB_FPS);
}

static void check_audio(struct seen *s, double seconds, double freq, float amp)
{
	pthread_mutex_lock(&s->audio_mutex);
	double got_s = s->audio_frames / 48000.0;
	double hz = got_s > 0 ? s->zero_crossings / 2.0 / got_s : 0;
	printf("AUDIO %s: %.2f s of sound in %llu blocks, %.1f Hz, peak %.3f\n", s->name, got_s,
	       (unsigned long long)s->audio_callbacks, hz, s->peak);
	CHECK(got_s > 0.75 * seconds && got_s < 1.25 * seconds + 0.5,
	      "%s: %.2f s of sound arrived: expected about %.2f s", s->name, got_s, seconds);
	CHECK(fabs(hz - freq) < 0.03 * freq, "%s: sound at %.1f Hz: expected %.0f Hz", s->name, hz,
	      freq);
	CHECK(fabsf(s->peak - amp) < 0.1f * amp, "%s: peak %.3f: expected %.3f", s->name, s->peak,
	      amp);
	pthread_mutex_unlock(&s->audio_mutex);
}

/* Picture and sound share the pts -> OBS clock mapping: frame k (pts k/30 s) and the sound
 * at pts 0 must line up. */
static void check_sync(struct seen *s)
{
	int64_t base_video = 0;
	for (int k = 0; k < MAX_SEQ; k++)
		if (s->obs_ts[k]) {
			base_video = (int64_t)s->obs_ts[k] - (int64_t)k * 1000000000LL / PUB_FPS;
			break;
		}
	pthread_mutex_lock(&s->audio_mutex);
	int64_t off = (int64_t)s->first_audio_ts - base_video;
	pthread_mutex_unlock(&s->audio_mutex);
	printf("SYNC %s: first sound vs picture timeline: %+.2f ms\n", s->name, off / 1e6);
	CHECK(llabs(off) < 1000000000LL / PUB_FPS, "%s: sound is %+.1f ms off the picture: expected "
	      "within one frame", s->name, off / 1e6);
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0)
		return -1;
	close(fd);
	return ntohs(a.sin_port);
}

static obs_source_t *make_source(const char *name, const char *endpoint, const char *stream,
				 int latency)
{
	obs_data_t *settings = obs_data_create();
	obs_data_set_string(settings, "endpoint", endpoint);
	obs_data_set_string(settings, "stream", stream);
	obs_data_set_int(settings, "latency", latency);
	obs_data_set_int(settings, "blank_after", BLANK_AFTER_S);
	obs_source_t *src = obs_source_create("vasa_bridge_source", name, settings, NULL);
	obs_data_release(settings);
	return src;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s MODULE.so MODULE_DATA_DIR PYTHON PUBLISH_PY\n", argv[0]);
		return 2;
	}
	const char *module_path = argv[1], *data_dir = argv[2], *python = argv[3], *script = argv[4];
	base_set_log_handler(log_handler, NULL);

	Display *dpy = XOpenDisplay(NULL);
	if (!dpy) {
		fprintf(stderr, "FAIL: no X display (DISPLAY='%s'): run under xvfb-run -a\n",
			getenv("DISPLAY") ? getenv("DISPLAY") : "");
		return 1;
	}
	obs_set_nix_platform(OBS_NIX_PLATFORM_X11_EGL);
	obs_set_nix_platform_display(dpy);
	if (!obs_startup("en-US", NULL, NULL)) {
		fprintf(stderr, "FAIL: obs_startup\n");
		return 1;
	}
	struct obs_video_info ovi = {
		.graphics_module = "libobs-opengl",
		.fps_num = OBS_FPS,
		.fps_den = 1,
		.base_width = 640,
		.base_height = 360,
		.output_width = 640,
		.output_height = 360,
		.output_format = VIDEO_FORMAT_NV12,
		.gpu_conversion = true,
		.colorspace = VIDEO_CS_709,
		.range = VIDEO_RANGE_PARTIAL,
		.scale_type = OBS_SCALE_BICUBIC,
	};
	int rv = obs_reset_video(&ovi);
	CHECK(rv == OBS_VIDEO_SUCCESS, "obs_reset_video returned %d", rv);
	struct obs_audio_info oai = {.samples_per_sec = 48000, .speakers = SPEAKERS_STEREO};
	CHECK(obs_reset_audio(&oai), "obs_reset_audio failed");

	obs_module_t *module = NULL;
	rv = obs_open_module(&module, module_path, data_dir);
	CHECK(rv == MODULE_SUCCESS, "obs_open_module(%s) returned %d", module_path, rv);
	if (rv != MODULE_SUCCESS || !obs_init_module(module)) {
		fprintf(stderr, "FAIL: cannot load %s\n", module_path);
		return 1;
	}
	CHECK(log_loaded, "no '[vasa-bridge] plugin loaded' log line");
	const char *display_name = obs_source_get_display_name("vasa_bridge_source");
	CHECK(display_name && strcmp(display_name, "VASA Bridge") == 0,
	      "display name '%s': expected 'VASA Bridge' (from data/locale/en-US.ini)",
	      display_name ? display_name : "(null)");

	/* defaults and properties */
	obs_data_t *defaults = obs_get_source_defaults("vasa_bridge_source");
	CHECK(strcmp(obs_data_get_string(defaults, "endpoint"), "tcp://127.0.0.1:5555") == 0,
	      "default endpoint '%s'", obs_data_get_string(defaults, "endpoint"));
	CHECK(strcmp(obs_data_get_string(defaults, "stream"), "default") == 0, "default stream");
	obs_data_release(defaults);
	obs_properties_t *props = obs_get_source_properties("vasa_bridge_source");
	const char *keys[] = {"endpoint", "stream", "latency", "blank_after", "alpha"};
	for (int i = 0; i < 5; i++)
		CHECK(obs_properties_get(props, keys[i]) != NULL, "no property '%s'", keys[i]);
	obs_properties_destroy(props);

	pthread_mutex_lock(&log_mutex); /* the log handler reads it */
	snprintf(endpoint, sizeof(endpoint), "tcp://127.0.0.1:%d", free_port());
	pthread_mutex_unlock(&log_mutex);
	static struct seen a = {.name = "default", .format = VIDEO_FORMAT_RGBA};
	static struct seen b = {.name = "npc1", .format = VIDEO_FORMAT_BGRA, .premultiplied_in = true};
	pthread_mutex_init(&a.audio_mutex, NULL);
	pthread_mutex_init(&b.audio_mutex, NULL);
	a.source = make_source("face", endpoint, "default", 0 /* unbuffered */);
	b.source = make_source("npc", endpoint, "npc1", 1 /* buffered */);
	/* a streamer's source with no runtime behind it (not started, or another port) */
	char nowhere[64];
	snprintf(nowhere, sizeof(nowhere), "tcp://127.0.0.1:%d", free_port());
	obs_source_t *silent = make_source("silent", nowhere, "default", 0);
	CHECK(a.source && b.source && silent, "obs_source_create failed");
	if (!a.source || !b.source)
		return 1;
	CHECK(obs_source_async_unbuffered(a.source), "'default' source should be unbuffered");
	CHECK(!obs_source_async_unbuffered(b.source), "'npc1' source should be buffered");
	obs_source_add_audio_capture_callback(a.source, on_audio, &a);
	obs_source_add_audio_capture_callback(b.source, on_audio, &b);
	struct seen *both[] = {&a, &b};

	/* ---- run 1: two streams, 2 s ---- */
	char log1[] = "/tmp/vasa-harness-1-XXXXXX";
	close(mkstemp(log1));
	pid_t pid = spawn_publisher(python, script, endpoint, log1, "2", NULL, NULL);
	CHECK(pid > 0, "cannot start %s %s", python, script);
	int status = run_publisher(both, 2, pid);
	CHECK(status == 0, "publisher (run 1) exited with %d", status);
	CHECK(obs_source_get_width(a.source) == W && obs_source_get_height(a.source) == H,
	      "source size %ux%u: expected %dx%d", obs_source_get_width(a.source),
	      obs_source_get_height(a.source), W, H);
	for (int i = 0; i < 2; i++) {
		struct seen *s = both[i];
		printf("VIDEO %s: %d distinct frames read back, %d wrong pixels, %d foreign frames, "
		       "timestamps %s, worst |timestamp - now| %d ms\n",
		       s->name, s->frames_seen, s->bad_pixels, s->bad_frames,
		       s->ts_not_increasing ? "NOT increasing" : "increasing", s->max_ts_off_now_ms);
		CHECK(s->frames_seen >= 20, "%s: %d frames read back: expected >= 20 of 50",
		      s->name, s->frames_seen);
		CHECK(s->bad_pixels == 0, "%s: %d wrong pixels", s->name, s->bad_pixels);
		CHECK(s->bad_frames == 0, "%s: %d frames of the wrong size/format/stream", s->name,
		      s->bad_frames);
		CHECK(s->ts_not_increasing == 0, "%s: timestamps went back %d times", s->name,
		      s->ts_not_increasing);
		CHECK(s->max_ts_off_now_ms < 500, "%s: a timestamp %d ms from OBS's clock", s->name,
		      s->max_ts_off_now_ms);
	}
	CHECK(log_no_pictures == 0, "%d 'publishes no pictures' warnings for a publisher with "
	      "pictures", log_no_pictures);
	report_delay(&a, log1, "default");
	report_delay(&b, log1, "npc1");
	check_audio(&a, 2.0, 440, 0.5f);
	check_audio(&b, 2.0, 660, 0.25f);
	check_sync(&a);
	check_sync(&b);
	unlink(log1);

	/* ---- the publisher is gone: the source blanks after BLANK_AFTER_S ---- */
	os_sleep_ms(BLANK_AFTER_S * 1000 + 700);
	CHECK(obs_source_get_width(a.source) == 0, "source still %u wide %d s after the last frame: "
	      "expected blank", obs_source_get_width(a.source), BLANK_AFTER_S);
	CHECK(log_blanked >= 1, "no 'blanked' log line");
	/* created before run 1, about 4 s ago (the warning comes after 3 s of silence); then
	 * another second: one warning, not one per poll */
	for (int i = 0; i < 300 && log_silent_quiet == 0; i++)
		os_sleep_ms(10);
	os_sleep_ms(300);
	CHECK(log_silent_quiet == 1, "%d 'nothing from ENDPOINT ... vasa-bridge serve' warnings for "
	      "the source with no runtime behind it: expected exactly 1", log_silent_quiet);
	obs_source_release(silent);

	/* npc1 from now on: the "alpha" property overrides the stream's "premultiplied" */
	int listening = log_listening;
	obs_data_t *settings = obs_source_get_settings(b.source);
	obs_data_set_int(settings, "alpha", 1 /* straight */);
	obs_source_update(b.source, settings); /* applied at the next video tick */
	obs_data_release(settings);
	for (int i = 0; i < 100 && log_listening == listening; i++)
		os_sleep_ms(10);
	CHECK(log_listening == listening + 1, "update did not restart the receive thread");
	b.alpha_override_straight = true;

	/* ---- a publisher whose hello lacks "frame" (serve --no-frames, replay): two hellos, one
	 * warning per source; run 2's hello with "frame" then clears it ---- */
	char log3[] = "/tmp/vasa-harness-3-XXXXXX";
	close(mkstemp(log3));
	pid = spawn_publisher(python, script, endpoint, log3, "1.5", "0", "motion,audio");
	status = run_publisher(both, 2, pid);
	CHECK(status == 0, "publisher (no pictures) exited with %d", status);
	pthread_mutex_lock(&log_mutex);
	printf("NOPICTURES: %d 'publishes no pictures' warnings for 2 sources\n", log_no_pictures);
	CHECK(log_no_pictures == 2, "%d '%s publishes no pictures (capabilities: motion, audio)' "
	      "warnings for 2 sources that each heard 2 hellos: expected 2", log_no_pictures,
	      endpoint);
	CHECK(log_pictures_again == 0, "'publishes pictures again' with no pictures published");
	pthread_mutex_unlock(&log_mutex);
	unlink(log3);

	/* ---- run 2: a new publisher process, seq and pts from 0 again; its pictures stop after
	 * 0.8 s while its sound goes on for 2.5 s (a runtime whose pictures stall): the source
	 * keeps the last picture, since the stream is not gone ---- */
	int seen_before = a.frames_seen, seen_before_b = b.frames_seen;
	for (int i = 0; i < 2; i++) {
		memset(both[i]->seen_at, 0, sizeof(a.seen_at));
		memset(both[i]->obs_ts, 0, sizeof(a.obs_ts));
		both[i]->max_ts_off_now_ms = 0;
	}
	char log2[] = "/tmp/vasa-harness-2-XXXXXX";
	close(mkstemp(log2));
	pid = spawn_publisher(python, script, endpoint, log2, "2.5", "0.8", NULL);
	status = run_publisher(both, 2, pid);
	CHECK(status == 0, "publisher (run 2) exited with %d", status);
	printf("RESTART default: %d frames after the restart, worst |timestamp - now| %d ms, "
	       "timestamps %s\n",
	       a.frames_seen - seen_before, a.max_ts_off_now_ms,
	       a.ts_not_increasing ? "NOT increasing" : "increasing");
	CHECK(a.frames_seen - seen_before >= 10, "%d frames after the restart: expected >= 10",
	      a.frames_seen - seen_before);
	CHECK(a.max_ts_off_now_ms < 500, "after the restart a timestamp is %d ms from OBS's clock",
	      a.max_ts_off_now_ms);
	CHECK(a.ts_not_increasing == 0 && a.bad_pixels == 0, "after the restart: %d timestamps back, "
	      "%d wrong pixels", a.ts_not_increasing, a.bad_pixels);
	CHECK(log_restarted >= 1, "no 'publisher restarted' log line");
	CHECK(log_pictures_again == 2 && log_no_pictures == 2, "after a publisher with pictures: %d "
	      "'publishes pictures again' lines (expected 2), %d 'no pictures' warnings (expected 2)",
	      log_pictures_again, log_no_pictures);
	printf("ALPHA npc1 with alpha=straight: %d frames passed through unchanged, %d wrong "
	       "pixels\n", b.frames_seen - seen_before_b, b.bad_pixels);
	CHECK(b.frames_seen - seen_before_b >= 10 && b.bad_pixels == 0,
	      "alpha override: %d frames, %d wrong pixels", b.frames_seen - seen_before_b,
	      b.bad_pixels);
	CHECK(obs_source_get_width(a.source) == W, "not showing the last picture after the restart "
	      "while the sound went on (%u wide): pictures that stall must not blank a live stream",
	      obs_source_get_width(a.source));
	unlink(log2);

	/* ---- settings change: the thread restarts on the new stream ---- */
	listening = log_listening;
	settings = obs_source_get_settings(a.source);
	obs_data_set_string(settings, "stream", "npc1");
	obs_source_update(a.source, settings); /* applied at the next video tick */
	obs_data_release(settings);
	for (int i = 0; i < 100 && log_listening == listening; i++)
		os_sleep_ms(10);
	CHECK(log_listening == listening + 1, "update did not restart the receive thread");
	CHECK(obs_source_get_width(a.source) == 0, "the old stream's picture lingers after update");

	obs_source_remove_audio_capture_callback(a.source, on_audio, &a);
	obs_source_remove_audio_capture_callback(b.source, on_audio, &b);
	obs_source_release(a.source);
	obs_source_release(b.source);
	obs_shutdown();
	long leaks = bnum_allocs();
	XCloseDisplay(dpy);
	printf("obs-harness: %d checks, %d failed (libobs allocations left: %ld)\n", checks, failures,
	       leaks);
	return failures ? 1 : 0;
}
