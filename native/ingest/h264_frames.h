/*
 * H.264 access units from RTP (RFC 6184: single NAL unit, STAP-A and FU-A packets), for the
 * interleaved reader: one video channel's packets become frames without a JavaScript call per
 * packet. The rules are those of src/lib/h264/depacketizer.ts (H264Depacketizer), which the UDP
 * path and connections read by Node keep using; test/lib/rtsp/native-frames.test.ts feeds both the
 * same packets and expects the same frames and counts:
 *   - a packet not newer than the last (serial-number arithmetic) is late and ignored;
 *   - a gap in sequence numbers breaks the frame in progress and any fragmented NAL unit;
 *   - a frame ends at its marker packet, or when the timestamp changes (a lost marker);
 *   - broken frames are dropped, and after one everything is dropped until the next keyframe
 *     (a frame with an IDR slice, whose first slice starts the picture), as from the start;
 *   - an SSRC change (the camera's encoder restarted) starts over.
 * Also the reception figures of an RTCP receiver report (RFC 3550 A.1, A.8), as the RTSP client
 * keeps them for JavaScript-read packets. Plain C, no Node-API: the reader owns the glue.
 *
 * A frame is written to `out` as its NAL units, each a 4-byte big-endian length and its bytes.
 * A frame longer than `cap` is dropped as broken (the reader's buffer is sized for 4K keyframes).
 */
#ifndef SHARP_EYES_H264_FRAMES_H
#define SHARP_EYES_H264_FRAMES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Counters the frames' owner reads (a Float64Array in JavaScript; see native-reader.ts). */
enum {
  H264F_PACKETS,       /* RTP packets parsed */
  H264F_BYTES,         /* interleaved payload bytes, malformed packets included */
  H264F_MALFORMED,     /* units that are not RTP version 2 */
  H264F_LOST,          /* packets missing from the sequence */
  H264F_LATE,          /* duplicate or out-of-order packets, ignored */
  H264F_UNSUPPORTED,   /* STAP-B, MTAP, FU-B and reserved types */
  H264F_FRAMES,        /* frames delivered */
  H264F_DROPPED,       /* frames dropped: broken, or before a keyframe */
  H264F_SSRC,          /* the sender's SSRC (once H264F_RECEIVED > 0) */
  H264F_BASE_SEQ,      /* extended sequence number of the SSRC's first packet */
  H264F_MAX_SEQ,       /* highest extended sequence number seen */
  H264F_RECEIVED,      /* packets received from this SSRC */
  H264F_JITTER,        /* interarrival jitter, RTP timestamp units */
  H264F_COUNTERS
};

typedef void (*h264_frame_cb)(void *ctx, size_t length, uint32_t timestamp, int keyframe);

typedef struct h264_frames {
  uint8_t *out;
  size_t cap;
  size_t len;
  double *counters;
  double clock_rate;
  /* depacketizer */
  int have_seq;
  uint16_t last_seq;
  int pending;
  uint32_t pending_ts;
  int broken;
  uint32_t nalus;
  int idr;
  int vcl_seen;       /* the frame's first slice came: starts_picture says whether it is the picture's first */
  int starts_picture;
  int fragment_open;
  size_t fragment_at; /* offset in out of the open fragmented NAL unit's length prefix */
  int waiting;        /* for a keyframe */
  /* reception */
  int have_ssrc;
  uint32_t ssrc;
  int64_t last_ext;
  int have_transit;
  int64_t last_transit;
} h264_frames_t;

static void h264f_init(h264_frames_t *h, uint8_t *out, size_t cap, double *counters, double clock_rate) {
  memset(h, 0, sizeof *h);
  h->out = out;
  h->cap = cap;
  h->counters = counters;
  h->clock_rate = clock_rate;
  h->waiting = 1;
}

static int h264f_seq_diff(uint16_t a, uint16_t b) {
  int d = (int)((b - a) & 0xffff);
  return d >= 0x8000 ? d - 0x10000 : d;
}

static void h264f_reset(h264_frames_t *h) {
  h->have_seq = 0;
  h->pending = 0;
  h->fragment_open = 0;
  h->len = 0;
  h->waiting = 1;
}

static void h264f_finish(h264_frames_t *h, h264_frame_cb cb, void *ctx) {
  if (!h->pending) return;
  h->pending = 0;
  size_t length = h->len;
  h->len = 0;
  if (h->broken || h->nalus == 0) {
    if (h->broken) h->counters[H264F_DROPPED]++;
    h->waiting = 1;
    return;
  }
  /* A keyframe missing its first slice (a stream joined mid-frame) does not end the wait. */
  if (h->waiting && !(h->idr && h->starts_picture)) {
    h->counters[H264F_DROPPED]++;
    return;
  }
  h->waiting = 0;
  h->counters[H264F_FRAMES]++;
  cb(ctx, length, h->pending_ts, h->idr);
}

static void h264f_break_fragment(h264_frames_t *h) {
  if (!h->fragment_open) return;
  h->fragment_open = 0;
  h->broken = 1;
}

/* Room for n more bytes of the frame, or the frame is broken. */
static int h264f_room(h264_frames_t *h, size_t n) {
  if (h->len + n <= h->cap) return 1;
  h->broken = 1;
  h->fragment_open = 0;
  return 0;
}

static void h264f_put_length(uint8_t *at, uint32_t n) {
  at[0] = (uint8_t)(n >> 24);
  at[1] = (uint8_t)(n >> 16);
  at[2] = (uint8_t)(n >> 8);
  at[3] = (uint8_t)n;
}

/* The frame's first slice NAL unit: first_mb_in_slice is 0 when the slice header's first bit is 1. */
static void h264f_note_slice(h264_frames_t *h, int type, const uint8_t *header_rest, size_t rest) {
  if (h->vcl_seen || type < 1 || type > 5) return;
  h->vcl_seen = 1;
  h->starts_picture = rest >= 1 && (header_rest[0] & 0x80) != 0;
}

static void h264f_whole_nal(h264_frames_t *h, const uint8_t *nal, size_t n) {
  if (h->broken || !h264f_room(h, 4 + n)) return;
  h264f_note_slice(h, nal[0] & 0x1f, nal + 1, n - 1);
  h264f_put_length(h->out + h->len, (uint32_t)n);
  memcpy(h->out + h->len + 4, nal, n);
  h->len += 4 + n;
  h->nalus++;
  if ((nal[0] & 0x1f) == 5) h->idr = 1;
}

static void h264f_payload(h264_frames_t *h, const uint8_t *p, size_t n) {
  int type = p[0] & 0x1f;
  if (type >= 1 && type <= 23) {
    if (h->fragment_open) {
      h264f_break_fragment(h);
      return;
    }
    h264f_whole_nal(h, p, n);
    return;
  }
  if (type == 24) { /* STAP-A */
    if (h->fragment_open) {
      h264f_break_fragment(h);
      return;
    }
    /* Checked whole before any of it is taken, as the JavaScript depacketizer does. */
    size_t o = 1;
    while (o + 2 <= n) {
      size_t size = (size_t)p[o] << 8 | p[o + 1];
      o += 2;
      if (size == 0 || o + size > n) {
        h->broken = 1;
        return;
      }
      o += size;
    }
    o = 1;
    while (o + 2 <= n) {
      size_t size = (size_t)p[o] << 8 | p[o + 1];
      h264f_whole_nal(h, p + o + 2, size);
      o += 2 + size;
    }
    return;
  }
  if (type == 28) { /* FU-A */
    if (n < 3) {
      h->broken = 1;
      return;
    }
    int start = (p[1] & 0x80) != 0, end = (p[1] & 0x40) != 0;
    if (start) {
      if (h->fragment_open) {
        h264f_break_fragment(h);
        return;
      }
      if (h->broken || !h264f_room(h, 5 + (n - 2))) return;
      h->fragment_at = h->len;
      h264f_note_slice(h, p[1] & 0x1f, p + 2, n - 2);
      h->out[h->len + 4] = (uint8_t)((p[0] & 0xe0) | (p[1] & 0x1f));
      memcpy(h->out + h->len + 5, p + 2, n - 2);
      h->len += 5 + (n - 2);
      h->fragment_open = 1;
    } else {
      if (!h->fragment_open) {
        h->broken = 1;
        return;
      }
      if (!h264f_room(h, n - 2)) return;
      memcpy(h->out + h->len, p + 2, n - 2);
      h->len += n - 2;
    }
    if (end) {
      h->fragment_open = 0;
      h264f_put_length(h->out + h->fragment_at, (uint32_t)(h->len - h->fragment_at - 4));
      h->nalus++;
      if ((h->out[h->fragment_at + 4] & 0x1f) == 5) h->idr = 1;
    }
    return;
  }
  h->counters[H264F_UNSUPPORTED]++;
}

static void h264f_reception(h264_frames_t *h, uint16_t seq, uint32_t timestamp, double now_ms) {
  double *c = h->counters;
  int64_t ext;
  if (!h->have_ssrc) {
    ext = seq;
    h->last_ext = ext;
    c[H264F_BASE_SEQ] = (double)ext;
    c[H264F_MAX_SEQ] = (double)ext;
    c[H264F_RECEIVED] = 0;
    c[H264F_JITTER] = 0;
    h->have_transit = 0;
    h->have_ssrc = 1;
  } else {
    ext = h->last_ext + h264f_seq_diff((uint16_t)(h->last_ext & 0xffff), seq);
    if (ext > h->last_ext) h->last_ext = ext;
  }
  if ((double)ext > c[H264F_MAX_SEQ]) c[H264F_MAX_SEQ] = (double)ext;
  c[H264F_RECEIVED]++;
  /* Interarrival jitter (RFC 3550 A.8), as the client computes it for JavaScript-read packets. */
  int64_t transit = (int64_t)(now_ms * h->clock_rate / 1000.0 + 0.5) - (int64_t)timestamp;
  if (h->have_transit) {
    /* in double: the 32-bit difference may be INT32_MIN, whose negation an int cannot hold */
    double d = (double)(int32_t)(uint32_t)(transit - h->last_transit);
    if (d < 0) d = -d;
    c[H264F_JITTER] += (d - c[H264F_JITTER]) / 16.0;
  }
  h->last_transit = transit;
  h->have_transit = 1;
}

/* One interleaved unit's bytes (an RTP packet, or not); calls cb for each frame it completes. */
static void h264f_packet(h264_frames_t *h, const uint8_t *p, size_t n, double now_ms, h264_frame_cb cb, void *ctx) {
  double *c = h->counters;
  c[H264F_BYTES] += (double)n;
  if (n < 12 || (p[0] >> 6) != 2) {
    c[H264F_MALFORMED]++;
    return;
  }
  size_t off = 12 + 4 * (size_t)(p[0] & 0x0f);
  if (n < off) {
    c[H264F_MALFORMED]++;
    return;
  }
  if (p[0] & 0x10) {
    if (n < off + 4) {
      c[H264F_MALFORMED]++;
      return;
    }
    size_t words = (size_t)p[off + 2] << 8 | p[off + 3];
    off += 4;
    if (n < off + words * 4) {
      c[H264F_MALFORMED]++;
      return;
    }
    off += words * 4;
  }
  size_t end = n;
  if (p[0] & 0x20) {
    size_t pad = p[n - 1];
    if (pad == 0 || off + pad > n) {
      c[H264F_MALFORMED]++;
      return;
    }
    end -= pad;
  }
  int marker = (p[1] & 0x80) != 0;
  uint16_t seq = (uint16_t)(p[2] << 8 | p[3]);
  uint32_t ts = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
  uint32_t ssrc = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
  c[H264F_PACKETS]++;
  if (h->have_ssrc && ssrc != h->ssrc) {
    h->have_ssrc = 0; /* the encoder restarted: new reception figures, and the frames start over */
    h264f_reset(h);
  }
  h->ssrc = ssrc;
  c[H264F_SSRC] = (double)ssrc;
  h264f_reception(h, seq, ts, now_ms);

  if (h->have_seq) {
    int d = h264f_seq_diff(h->last_seq, seq);
    if (d <= 0) {
      c[H264F_LATE]++;
      return;
    }
    if (d > 1) {
      c[H264F_LOST] += d - 1;
      h->fragment_open = 0;
      if (h->pending) h->broken = 1;
      h->waiting = 1;
    }
  }
  h->have_seq = 1;
  h->last_seq = seq;

  if (h->pending && h->pending_ts != ts) {
    h264f_break_fragment(h);
    h264f_finish(h, cb, ctx);
  }
  if (!h->pending) {
    h->pending = 1;
    h->pending_ts = ts;
    h->broken = 0;
    h->nalus = 0;
    h->idr = 0;
    h->vcl_seen = 0;
    h->starts_picture = 0;
    h->len = 0;
    h->fragment_open = 0;
  }
  if (end == off) h->broken = 1;
  else h264f_payload(h, p + off, end - off);
  if (marker) {
    h264f_break_fragment(h);
    h264f_finish(h, cb, ctx);
  }
}

#endif
