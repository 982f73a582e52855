/*
 * Reads an RTSP connection that carries RTP/RTCP interleaved (RFC 2326 10.12) for the RTSP client,
 * and calls JavaScript once per frame instead of once per read (Node-API + libuv, C).
 *
 * Why: every readable event of a Node socket is a JavaScript call through the stream layer, and on
 * a relay that otherwise idles between frames each one starts with cold caches (tens of µs). An
 * RTSP server that writes a frame's first packet on its own (GStreamer's, whose encoder starts each
 * access unit with a 14-byte delimiter; cameras that do the same) made that two calls per frame.
 * Here reads land in the caller's buffer, and JavaScript is called when the bytes read end with an
 * RTP packet carrying the marker bit (a frame's last packet), an RTCP packet, or anything that is
 * not interleaved data (an RTSP message). Bytes held back are handed over holdMs (the caller's; the
 * RTSP client's is 5 ms) after the first of them arrived at the latest: a sender that never sets
 * the marker bit costs that much latency, never more.
 *
 * The reader watches a duplicate of the socket's descriptor (the Node socket must not read: the
 * caller pauses it) and closes it on close(); the connection ends when both descriptors are closed.
 * Called from the main thread only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "h264_frames.h"

typedef struct reader {
  uv_poll_t poll;
  uv_timer_t hold_timer;
  napi_env env;
  napi_ref buffer_ref;
  napi_ref on_data_ref;
  napi_ref on_end_ref;
  napi_async_context async;
  uint8_t *buf;
  size_t cap;
  size_t len;
  /* buf[0..scanned) is whole interleaved units already looked at */
  size_t scanned;
  /* buf[0..deliverable) ends at a frame's end (or is to be handed over as it is) */
  size_t deliverable;
  /* longest wait for a frame's end before bytes held back are handed over anyway */
  uint64_t hold_ms;
  /* the next unread byte starts an interleaved unit or message (JavaScript's parser holds nothing) */
  int aligned;
  int fd;
  int ended;
  int closing;
  int open_handles;
  /* r is freed once its libuv handles are closed and JavaScript's handle to it is collected */
  int handles_closed;
  int external_gone;
  /* The interleaved channel whose RTP is assembled into H.264 frames here (-1: none; see assemble) */
  int frames_channel;
  h264_frames_t frames;
  napi_ref frame_buffer_ref;
  napi_ref counters_ref;
  napi_ref on_frame_ref;
  /* JavaScript's slab that finished frames are copied to, while they fit (see on_frame) */
  napi_ref slab_ref;
  uint8_t *slab;
  size_t slab_cap;
  size_t slab_used;
} reader_t;

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INGEST_ARG", msg);
  return NULL;
}

/* A Buffer argument's bytes and length; false if `v` is not a Buffer. */
static bool buffer_arg(napi_env env, napi_value v, void **data, size_t *len) {
  bool is_buffer = false;
  return napi_is_buffer(env, v, &is_buffer) == napi_ok && is_buffer && napi_get_buffer_info(env, v, data, len) == napi_ok;
}

/* The reader behind a handle open() returned; NULL if `v` is not one. */
static reader_t *reader_arg(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || !data) return NULL;
  return (reader_t *)data;
}

/* Calls a JavaScript function as an async callback (so its nextTicks and promises run after it). */
static napi_status call_js(reader_t *r, napi_ref fn_ref, int argc, napi_value *argv, napi_value *result) {
  napi_env env = r->env;
  napi_value fn, recv;
  napi_status s = napi_get_reference_value(env, fn_ref, &fn);
  if (s != napi_ok || fn == NULL) return napi_generic_failure;
  napi_get_global(env, &recv); /* napi_make_callback wants an object as the receiver */
  s = napi_make_callback(env, r->async, recv, fn, (size_t)argc, argv, result);
  if (s == napi_pending_exception) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc);
  }
  return s;
}

/* Hands buf[0..n) to JavaScript, which copies it out before returning and says whether its parser
 * now holds a partial item; the rest of the buffer moves to its start. */
static void deliver(reader_t *r, size_t n) {
  if (n == 0 || r->closing) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(r->env, &scope) != napi_ok) return;
  napi_value arg, result = NULL;
  napi_create_uint32(r->env, (uint32_t)n, &arg);
  int aligned = 0;
  if (call_js(r, r->on_data_ref, 1, &arg, &result) == napi_ok && result != NULL) {
    bool b = false;
    if (napi_get_value_bool(r->env, result, &b) == napi_ok) aligned = b ? 1 : 0;
  }
  napi_close_handle_scope(r->env, scope);
  if (r->closing) return;
  memmove(r->buf, r->buf + n, r->len - n);
  r->len -= n;
  r->aligned = aligned;
  r->scanned = 0;
  r->deliverable = 0;
  if (r->len == 0) uv_timer_stop(&r->hold_timer);
}

/*
 * A finished frame goes to JavaScript in its slab when it fits there: onFrame(slab, offset, length,
 * timestamp, keyframe). When it doesn't, onFrame(null, 0, length, ...) finds it at the start of the
 * frame buffer, and returns the new slab it copied it to (its first `length` bytes used): frames
 * then cost JavaScript no copy and no allocation of its own, mostly.
 */
static void on_frame(void *ctx, size_t length, uint32_t timestamp, int keyframe) {
  reader_t *r = (reader_t *)ctx;
  if (r->closing) return;
  napi_env env = r->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value argv[5], result = NULL;
  int in_slab = r->slab != NULL && r->slab_cap - r->slab_used >= length;
  if (in_slab) {
    memcpy(r->slab + r->slab_used, r->frames.out, length);
    napi_get_reference_value(env, r->slab_ref, &argv[0]);
    napi_create_uint32(env, (uint32_t)r->slab_used, &argv[1]);
    r->slab_used += length;
  } else {
    napi_get_null(env, &argv[0]);
    napi_create_uint32(env, 0, &argv[1]);
  }
  napi_create_uint32(env, (uint32_t)length, &argv[2]);
  napi_create_uint32(env, timestamp, &argv[3]);
  napi_get_boolean(env, keyframe != 0, &argv[4]);
  if (call_js(r, r->on_frame_ref, 5, argv, &result) == napi_ok && !in_slab && result != NULL && !r->closing) {
    void *data = NULL;
    size_t cap = 0;
    if (buffer_arg(env, result, &data, &cap) && cap >= length) {
      if (r->slab_ref) napi_delete_reference(env, r->slab_ref);
      napi_create_reference(env, result, 1, &r->slab_ref);
      r->slab = data;
      r->slab_cap = cap;
      r->slab_used = length;
    }
  }
  napi_close_handle_scope(env, scope);
}

static double now_ms(void) { return (double)uv_hrtime() / 1e6; }

/*
 * With frame assembly on: the whole interleaved units read go to the assembler (the frames
 * channel's) or, moved to the buffer's start in order, to JavaScript at once (RTCP, other
 * channels). An RTSP message and all after it go to JavaScript too, whose parser then takes over
 * until it is aligned again (it hands frames-channel units it parses to feed()).
 */
static void route(reader_t *r) {
  size_t p = 0, keep = 0;
  while (p < r->len) {
    uint8_t *u = r->buf + p;
    if (u[0] != '$') {
      size_t rest = r->len - p;
      if (keep != p) memmove(r->buf + keep, u, rest);
      r->len = keep + rest;
      deliver(r, r->len);
      return;
    }
    if (r->len - p < 4) break;
    size_t size = 4 + ((size_t)u[2] << 8 | u[3]);
    if (r->len - p < size) break;
    if (u[1] == r->frames_channel) {
      h264f_packet(&r->frames, u + 4, size - 4, now_ms(), on_frame, r);
      if (r->closing) return;
    } else {
      if (keep != p) memmove(r->buf + keep, u, size);
      keep += size;
    }
    p += size;
  }
  if (keep != p) memmove(r->buf + keep, r->buf + p, r->len - p);
  r->len = keep + (r->len - p);
  if (keep > 0) deliver(r, keep);
}

/* Finds where buf may be handed over: after the last whole unit that ends a frame. */
static void scan(reader_t *r) {
  size_t p = r->scanned;
  while (p < r->len) {
    const uint8_t *u = r->buf + p;
    if (u[0] != '$') {
      /* An RTSP message (or bytes JavaScript's parser resynchronises on): all of it, now. */
      r->deliverable = r->len;
      r->scanned = r->len;
      return;
    }
    if (r->len - p < 4) break;
    size_t size = 4 + ((size_t)u[2] << 8 | u[3]);
    if (r->len - p < size) break;
    p += size;
    /* RTP with the marker bit, RTCP (payload types 200-204 have the same bit set), or a unit
     * too short or not RTP version 2 to judge: the bytes so far can go. */
    if (size < 4 + 12 || (u[4] & 0xc0) != 0x80 || (u[5] & 0x80)) r->deliverable = p;
  }
  r->scanned = p;
}

static void end_stream(reader_t *r, int err) {
  if (r->ended || r->closing) return;
  r->ended = 1;
  uv_poll_stop(&r->poll);
  uv_timer_stop(&r->hold_timer);
  if (r->len > 0) deliver(r, r->len);
  if (r->closing) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(r->env, &scope) != napi_ok) return;
  napi_value arg;
  napi_create_int32(r->env, err, &arg);
  call_js(r, r->on_end_ref, 1, &arg, NULL);
  napi_close_handle_scope(r->env, scope);
}

static void on_hold_timeout(uv_timer_t *t) {
  reader_t *r = (reader_t *)t->data;
  if (!r->closing && !r->ended) deliver(r, r->len);
}

static void on_readable(uv_poll_t *p, int status, int events) {
  (void)events;
  reader_t *r = (reader_t *)p->data;
  if (r->closing || r->ended) return;
  if (status < 0) {
    end_stream(r, status);
    return;
  }
  if (r->len == r->cap) deliver(r, r->len);
  if (r->closing) return;
  ssize_t n = read(r->fd, r->buf + r->len, r->cap - r->len);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    end_stream(r, -errno);
    return;
  }
  if (n == 0) {
    end_stream(r, 0);
    return;
  }
  r->len += (size_t)n;
  if (!r->aligned) {
    deliver(r, r->len);
    return;
  }
  if (r->frames_channel >= 0) {
    route(r);
    return;
  }
  scan(r);
  if (r->deliverable > 0) deliver(r, r->deliverable);
  if (r->closing) return;
  if (r->len == r->cap) deliver(r, r->len);
  if (r->closing) return;
  if (r->len > 0 && !uv_is_active((uv_handle_t *)&r->hold_timer)) uv_timer_start(&r->hold_timer, on_hold_timeout, r->hold_ms, 0);
}

static void on_handle_closed(uv_handle_t *h) {
  reader_t *r = (reader_t *)h->data;
  if (--r->open_handles > 0) return;
  close(r->fd);
  r->fd = -1;
  r->handles_closed = 1;
  if (r->external_gone) free(r);
}

static void on_external_collected(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  reader_t *r = (reader_t *)data;
  r->external_gone = 1;
  if (r->handles_closed) free(r);
}

static void cleanup_hook(void *arg);

/* Stops watching, drops the JavaScript references, closes the duplicate descriptor (once the
 * libuv handles are closed). Idempotent. */
static void reader_close(reader_t *r) {
  if (r->closing) return;
  r->closing = 1;
  napi_remove_env_cleanup_hook(r->env, cleanup_hook, r);
  uv_poll_stop(&r->poll);
  uv_timer_stop(&r->hold_timer);
  napi_delete_reference(r->env, r->buffer_ref);
  napi_delete_reference(r->env, r->on_data_ref);
  napi_delete_reference(r->env, r->on_end_ref);
  if (r->frames_channel >= 0) {
    napi_delete_reference(r->env, r->frame_buffer_ref);
    napi_delete_reference(r->env, r->counters_ref);
    napi_delete_reference(r->env, r->on_frame_ref);
    if (r->slab_ref) napi_delete_reference(r->env, r->slab_ref);
    r->slab = NULL;
  }
  napi_async_destroy(r->env, r->async);
  r->buf = NULL;
  uv_close((uv_handle_t *)&r->poll, on_handle_closed);
  uv_close((uv_handle_t *)&r->hold_timer, on_handle_closed);
}

static void cleanup_hook(void *arg) { reader_close((reader_t *)arg); }

/* open(fd, buffer, holdMs, onData(length) → aligned, onEnd(errno: 0 = EOF, else -errno)) → reader */
static napi_value open_reader(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5) return throw_type(env, "open(fd, buffer, holdMs, onData, onEnd)");
  int32_t fd;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) return throw_type(env, "fd must be a descriptor");
  void *data = NULL;
  size_t cap = 0;
  if (!buffer_arg(env, argv[1], &data, &cap) || cap < 65540)
    return throw_type(env, "buffer must be a Buffer of at least 65540 bytes (one interleaved unit)");
  uint32_t hold_ms;
  if (napi_get_value_uint32(env, argv[2], &hold_ms) != napi_ok || hold_ms < 1 || hold_ms > 10000) return throw_type(env, "holdMs must be an integer from 1 to 10000");
  napi_valuetype t1, t2;
  napi_typeof(env, argv[3], &t1);
  napi_typeof(env, argv[4], &t2);
  if (t1 != napi_function || t2 != napi_function) return throw_type(env, "onData and onEnd must be functions");
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    napi_throw_error(env, "ERR_INGEST_LOOP", "no event loop");
    return NULL;
  }
  int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) {
    napi_throw_error(env, "ERR_INGEST_DUP", strerror(errno));
    return NULL;
  }
  reader_t *r = calloc(1, sizeof(reader_t));
  if (!r) {
    close(dup_fd);
    napi_throw_error(env, "ERR_INGEST_NOMEM", "out of memory");
    return NULL;
  }
  r->env = env;
  r->fd = dup_fd;
  r->buf = data;
  r->cap = cap;
  r->aligned = 1;
  r->hold_ms = hold_ms;
  r->frames_channel = -1;
  if (uv_poll_init(loop, &r->poll, dup_fd) != 0) {
    close(dup_fd);
    free(r);
    napi_throw_error(env, "ERR_INGEST_POLL", "uv_poll_init failed");
    return NULL;
  }
  uv_timer_init(loop, &r->hold_timer);
  r->poll.data = r;
  r->hold_timer.data = r;
  r->open_handles = 2;
  napi_value name;
  napi_create_string_utf8(env, "RtspInterleavedReader", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &r->async);
  napi_create_reference(env, argv[1], 1, &r->buffer_ref);
  napi_create_reference(env, argv[3], 1, &r->on_data_ref);
  napi_create_reference(env, argv[4], 1, &r->on_end_ref);
  napi_add_env_cleanup_hook(env, cleanup_hook, r);
  int rc = uv_poll_start(&r->poll, UV_READABLE, on_readable);
  if (rc != 0) {
    r->external_gone = 1;
    reader_close(r);
    napi_throw_error(env, "ERR_INGEST_POLL", uv_strerror(rc));
    return NULL;
  }
  napi_value handle;
  /* The caller closes the reader; collecting the handle alone does not (it only frees memory). */
  if (napi_create_external(env, r, on_external_collected, NULL, &handle) != napi_ok) {
    r->external_gone = 1;
    reader_close(r);
    return NULL;
  }
  return handle;
}

/* close(reader): idempotent. */
static napi_value close_reader(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  reader_t *r = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || !(r = reader_arg(env, argv[0]))) return throw_type(env, "close(reader)");
  reader_close(r);
  return NULL;
}

/*
 * assemble(reader, channel, frameBuffer, counters, clockRate, onFrame): from now on the RTP of
 * interleaved `channel` is H.264 (RFC 6184) and becomes frames, assembled in frameBuffer as NAL
 * units each after a 4-byte big-endian length, and handed over as on_frame says; `counters` (a
 * Float64Array, see h264_frames.h) is kept up to date. Once per reader.
 */
static napi_value assemble(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 6) return throw_type(env, "assemble(reader, channel, frameBuffer, counters, clockRate, onFrame)");
  reader_t *r = reader_arg(env, argv[0]);
  if (!r) return throw_type(env, "reader must be an open reader");
  if (r->closing) return NULL;
  if (r->frames_channel >= 0) return throw_type(env, "frames are assembled already");
  int32_t channel;
  if (napi_get_value_int32(env, argv[1], &channel) != napi_ok || channel < 0 || channel > 255) return throw_type(env, "channel must be an integer from 0 to 255");
  void *out = NULL;
  size_t cap = 0;
  if (!buffer_arg(env, argv[2], &out, &cap) || cap < 65536)
    return throw_type(env, "frameBuffer must be a Buffer of at least 65536 bytes");
  bool is_typed = false;
  napi_typedarray_type type;
  size_t count = 0;
  void *counters = NULL;
  if (napi_is_typedarray(env, argv[3], &is_typed) != napi_ok || !is_typed || napi_get_typedarray_info(env, argv[3], &type, &count, &counters, NULL, NULL) != napi_ok || type != napi_float64_array || count < H264F_COUNTERS)
    return throw_type(env, "counters must be a Float64Array of at least 13 numbers");
  double clock_rate;
  if (napi_get_value_double(env, argv[4], &clock_rate) != napi_ok || !(clock_rate >= 1000 && clock_rate <= 1e7)) return throw_type(env, "clockRate must be a number from 1000 to 10000000");
  napi_valuetype t;
  napi_typeof(env, argv[5], &t);
  if (t != napi_function) return throw_type(env, "onFrame must be a function");
  memset(counters, 0, H264F_COUNTERS * sizeof(double));
  h264f_init(&r->frames, out, cap, counters, clock_rate);
  napi_create_reference(env, argv[2], 1, &r->frame_buffer_ref);
  napi_create_reference(env, argv[3], 1, &r->counters_ref);
  napi_create_reference(env, argv[5], 1, &r->on_frame_ref);
  r->frames_channel = channel;
  return NULL;
}

/* feed(reader, unit): one frames-channel unit that JavaScript's parser read (see route). */
static napi_value feed(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) return throw_type(env, "feed(reader, unit)");
  reader_t *r = reader_arg(env, argv[0]);
  if (!r) return throw_type(env, "reader must be an open reader");
  void *data = NULL;
  size_t n = 0;
  if (!buffer_arg(env, argv[1], &data, &n)) return throw_type(env, "unit must be a Buffer");
  if (r->closing || r->frames_channel < 0) return NULL;
  h264f_packet(&r->frames, (const uint8_t *)data, n, now_ms(), on_frame, r);
  return NULL;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_property_descriptor props[] = {
      {"open", NULL, open_reader, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, close_reader, NULL, NULL, NULL, napi_enumerable, NULL},
      {"assemble", NULL, assemble, NULL, NULL, NULL, napi_enumerable, NULL},
      {"feed", NULL, feed, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
