#!/usr/bin/python3
"""Live RTSP test source for the gateway's tests and demos (GStreamer gst-rtsp-server).

Run with the Debian interpreter (/usr/bin/python3): it needs the gi bindings.

Serves a live videotestsrc with a running clock (clockoverlay + timeoverlay), encoded by x264enc
(or x265enc with --h265) with zero-latency settings, from one shared pipeline per mount.

Stdout is a machine-readable protocol, one flushed line per event, so a test can wait for
readiness and count upstream sessions:
    READY port=<n>
    MEDIA_CONFIGURED mount=<path>            a (shared) pipeline was built
    CLIENT_CONNECTED client=<id> ip=<addr>
    REQUEST client=<id> method=<METHOD> uri=<path>
    SESSION_SETUP client=<id> session=<sid>
    SESSION_REMOVED session=<sid>
    CLIENT_CLOSED client=<id>
    STOPPED
Errors go to stderr. SIGTERM/SIGINT (or EOF on stdin with --exit-on-stdin-eof) exit with status 0.

Mounts: --mount PATH[:key=value,...] may be repeated; keys override the global encoding options
for that mount: width, height, fps, bitrate, gop, slices, config_interval, codec (h264|h265),
stamp (1: draw the wall-clock time of each frame as a machine-readable strip, see STAMP below).
protocols (all|tcp|udp: lower transports offered; tcp answers a UDP SETUP with 461).
RTCP from clients is printed as RTCP_RECEIVED mount=<path> types=<pt[/fmt],...> (201 RR, 206/1 PLI).
Example: --mount /main --mount /sub:width=320,height=240,fps=10

Timestamp discontinuities (a camera's clock step, an encoder restart, a paused host):
ts_jump_ms=<signed ms> makes the mount's media timestamps (and so its RTP timestamps, 90 kHz) step
by that much, between two frames, at every SIGUSR1 the server receives and, with
ts_jump_after=<seconds>, once that long after the mount's first frame. Negative steps go backwards.
A SIGUSR1 is acknowledged as TS_JUMP_REQUESTED mounts=<playing ts_jump mounts, comma-separated>;
each step is printed as TS_JUMP mount=<path> step_ms=<n> total_ms=<sum so far> and applies to the
next frame on. The frames keep coming at the live rate; only their timestamps jump. A mount with
ts_jump_ms starts its timestamps a day ahead, so backward steps summing to less than a day never go
below zero. Example: --mount /cam:ts_jump_ms=-30000,ts_jump_after=20

STAMP (stamp=1, needs python3-gi-cairo): a strip of 34 square blocks along the top edge, block
size = height // 24 px: block 0 white, block 1 black (sync), then blocks 2..33 the low 32 bits of
the wall-clock time in milliseconds (Unix epoch) when the frame was drawn, most significant bit
first, white = 1. A reader samples each block's centre and thresholds luma at 50%.
"""

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def fail(message):
    sys.stderr.write("rtsp-test-server: " + message + "\n")
    sys.stderr.flush()
    sys.exit(2)


MOUNT_KEYS = {
    "width": int,
    "height": int,
    "fps": int,
    "bitrate": int,
    "gop": int,
    "slices": int,
    "config_interval": int,
    "codec": str,
    "stamp": int,
    "protocols": str,
    "ts_jump_ms": int,
    "ts_jump_after": float,
}

STAMP_BITS = 32


def parse_mount(spec, defaults):
    path, _, rest = spec.partition(":")
    if not path.startswith("/"):
        fail("mount path must start with '/': " + spec)
    conf = dict(defaults)
    if rest:
        for item in rest.split(","):
            key, sep, value = item.partition("=")
            key = key.strip().replace("-", "_")
            if not sep or key not in MOUNT_KEYS:
                fail("bad mount option %r in %r" % (item, spec))
            conf[key] = MOUNT_KEYS[key](value.strip())
    if conf["codec"] not in ("h264", "h265"):
        fail("codec must be h264 or h265")
    if conf["protocols"] not in ("all", "tcp", "udp"):
        fail("protocols must be all, tcp or udp")
    return path, conf


def has_element(name):
    return Gst.ElementFactory.find(name) is not None


def build_launch(conf):
    caps = "video/x-raw,width=%d,height=%d,framerate=%d/1" % (conf["width"], conf["height"], conf["fps"])
    parts = ["videotestsrc is-live=true pattern=smpte", caps]
    # The pango overlays live in gstreamer1.0-x; without them the stream still works, just no clock.
    if has_element("clockoverlay") and has_element("timeoverlay"):
        parts.append("clockoverlay time-format=\"%H:%M:%S\" halignment=right valignment=top font-desc=\"Sans 24\"")
        parts.append("timeoverlay halignment=left valignment=bottom font-desc=\"Sans 24\"")
    elif not conf.get("stamp"):
        sys.stderr.write("rtsp-test-server: clockoverlay missing (install gstreamer1.0-x), no clock drawn\n")
    if conf.get("stamp"):
        # Drawn last before encoding, so the stamp is as close to "glass" as this source gets.
        parts.append("videoconvert")
        parts.append("cairooverlay name=stamp")
    # 4:2:0 explicitly: x265enc accepts 4:4:4 too and negotiation would pick it (Main 4:4:4 / RExt),
    # which neither browsers nor cameras use.
    parts.append("videoconvert")
    parts.append("video/x-raw,format=I420")
    slices = conf["slices"]
    if conf["codec"] == "h264":
        # tune=zerolatency turns on x264's sliced threads, where the slice count is forced to the
        # thread count (so it would vary with the machine's cores, and slices=N alone is ignored).
        # threads=N pins it: threads=1 gives exactly one slice per frame, threads=N gives N.
        enc = (
            "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=%d bitrate=%d"
            % (conf["gop"], conf["bitrate"])
        )
        x264_opts = []
        enc += " threads=%d" % max(1, slices)
        if slices > 1:
            x264_opts.append("slices=%d" % slices)
        if conf["config_interval"] == 0:
            # x264 repeats SPS/PPS inside every IDR access unit even in avc format; "only in
            # the SDP" needs them gone from the stream (they stay in codec_data for the SDP).
            x264_opts.append("repeat-headers=0")
        if x264_opts:
            enc += " option-string=\"%s\"" % ":".join(x264_opts)
        parts.append(enc)
        # stream-format=avc keeps SPS/PPS out of the access units (they travel in codec_data), so
        # with config-interval=0 the payloader sends them only in the SDP sprop-parameter-sets, as
        # some cameras do. byte-stream would carry them in-band before every IDR whatever the payloader does.
        parts.append("video/x-h264,profile=constrained-baseline,stream-format=avc,alignment=au")
        parts.append("rtph264pay name=pay0 pt=96 config-interval=%d" % conf["config_interval"])
    else:
        if not has_element("x265enc") or not has_element("rtph265pay"):
            fail("H.265 requested but x265enc/rtph265pay are not installed")
        opts = "repeat-headers=0"
        if slices > 1:
            opts += ":slices=%d" % slices
        parts.append(
            "x265enc tune=zerolatency speed-preset=ultrafast key-int-max=%d bitrate=%d option-string=\"%s\""
            % (conf["gop"], conf["bitrate"], opts)
        )
        # x265enc only emits byte-stream; h265parse moves VPS/SPS/PPS into hvc1 codec_data so the
        # payloader controls their repetition as for H.264.
        parts.append("h265parse")
        parts.append("video/x-h265,stream-format=hvc1,alignment=au")
        parts.append("rtph265pay name=pay0 pt=96 config-interval=%d" % conf["config_interval"])
    return "( " + " ! ".join(parts) + " )"


def draw_stamp(overlay, ctx, _timestamp, _duration):
    """cairooverlay draw callback: the wall-clock ms of this frame as a block strip (STAMP)."""
    import time

    size = max(8, (STAMP_SIZE.get("h") or 720) // 24)
    ms = int(time.time() * 1000) & 0xFFFFFFFF
    bits = [1, 0] + [(ms >> (STAMP_BITS - 1 - i)) & 1 for i in range(STAMP_BITS)]
    for i, bit in enumerate(bits):
        v = 1.0 if bit else 0.0
        ctx.set_source_rgb(v, v, v)
        ctx.rectangle(i * size, 0, size, size)
        ctx.fill()


# Frame height of the stamped mount (cairooverlay's draw signal does not carry the caps).
STAMP_SIZE = {}

# Where a ts_jump mount's timestamps start: a day ahead, so backward steps stay above zero.
TS_JUMP_BASE_NS = 86400 * Gst.SECOND


class TimestampJumper:
    """
    Shifts the PTS/DTS of the buffers entering a mount's payloader by a running offset, so the RTP
    timestamps it derives from them step, and shifts its packets' back: the server's sinks pace by
    those times, and a step forward would otherwise hold the stream back (or a day ahead, forever).
    Relies on the payloader sending a frame's packets while it takes the frame in (rtph264pay and
    rtph265pay with alignment=au do).
    """

    def __init__(self, path, step_ms, after_s):
        self.path = path
        self.step_ns = step_ms * Gst.MSECOND
        self.after_ns = int(after_s * Gst.SECOND) if after_s and after_s > 0 else None
        self.offset_ns = TS_JUMP_BASE_NS
        self.pending = 0
        self.first_pts = None

    def request(self):
        self.pending += 1

    def probe(self, _pad, info):
        buf = info.get_buffer()
        if buf is None:
            return Gst.PadProbeReturn.OK
        pts = buf.pts
        if pts != Gst.CLOCK_TIME_NONE:
            if self.first_pts is None:
                self.first_pts = pts
            elif self.after_ns is not None and pts - self.first_pts >= self.after_ns:
                self.after_ns = None
                self.pending += 1
        while self.pending > 0:
            self.pending -= 1
            self.offset_ns += self.step_ns
            emit("TS_JUMP mount=%s step_ms=%d total_ms=%d" % (self.path, self.step_ns // Gst.MSECOND, (self.offset_ns - TS_JUMP_BASE_NS) // Gst.MSECOND))
        self.shift(buf, self.offset_ns)
        return Gst.PadProbeReturn.OK

    def restore(self, _pad, info):
        """The payloader's output: RTP timestamps written, media times put back for the sinks."""
        if info.type & Gst.PadProbeType.BUFFER_LIST:
            lst = info.get_buffer_list()
            for i in range(lst.length()):
                self.shift(lst.get(i), -self.offset_ns)
        else:
            buf = info.get_buffer()
            if buf is not None:
                self.shift(buf, -self.offset_ns)
        return Gst.PadProbeReturn.OK

    @staticmethod
    def shift(buf, ns):
        if buf.pts != Gst.CLOCK_TIME_NONE:
            buf.pts = max(0, buf.pts + ns)
        if buf.dts != Gst.CLOCK_TIME_NONE:
            buf.dts = max(0, buf.dts + ns)


class Server:
    def __init__(self, args):
        self.args = args
        self.loop = GLib.MainLoop()
        # Installed first so a stop request during start-up is not lost to the default action.
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGTERM, self.stop)
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGINT, self.stop)
        self.server = GstRtspServer.RTSPServer()
        self.server.set_address(args.address)
        self.server.set_service(str(args.port))
        self.next_client_id = 0
        self.session_ids = {}
        # mount path -> (step_ms, after_s) for ts_jump mounts; jumpers of their live pipelines
        self.ts_jump_conf = {}
        self.jumpers = []
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGUSR1, self.jump_timestamps)

        defaults = {
            "width": args.width,
            "height": args.height,
            "fps": args.fps,
            "bitrate": args.bitrate,
            "gop": args.gop,
            "slices": args.slices,
            "config_interval": args.config_interval,
            "codec": "h265" if args.h265 else "h264",
            "stamp": 0,
            "protocols": "all",
            "ts_jump_ms": 0,
            "ts_jump_after": 0,
        }
        mounts = self.server.get_mount_points()
        specs = args.mount or ["/test"]
        for spec in specs:
            path, conf = parse_mount(spec, defaults)
            if conf.get("stamp"):
                STAMP_SIZE["h"] = conf["height"]
            if conf.get("ts_jump_ms"):
                self.ts_jump_conf[path] = (conf["ts_jump_ms"], conf.get("ts_jump_after") or 0)
            factory = GstRtspServer.RTSPMediaFactory()
            factory.set_launch(build_launch(conf))
            factory.set_shared(True)
            if conf["protocols"] == "tcp":
                # UDP SETUPs are answered 461 Unsupported Transport.
                factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
            elif conf["protocols"] == "udp":
                factory.set_protocols(GstRtsp.RTSPLowerTrans.UDP)
            factory.connect("media-configure", self.on_media_configure, path)
            if args.user is not None:
                factory.set_permissions(self.permissions())
            mounts.add_factory(path, factory)

        if args.user is not None:
            self.server.set_auth(self.make_auth())

        self.server.connect("client-connected", self.on_client_connected)
        pool = self.server.get_session_pool()
        pool.connect("session-removed", self.on_session_removed)
        # gst-rtsp-server only expires sessions when someone runs the pool cleanup.
        GLib.timeout_add_seconds(1, self.cleanup_sessions)

    def permissions(self):
        perms = GstRtspServer.RTSPPermissions()
        perms.add_permission_for_role("user", "media.factory.access", True)
        perms.add_permission_for_role("user", "media.factory.construct", True)
        return perms

    def make_auth(self):
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "user")
        if self.args.auth == "digest":
            auth.add_digest(self.args.user, self.args.password, token)
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        else:
            auth.add_basic(GstRtspServer.RTSPAuth.make_basic(self.args.user, self.args.password), token)
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
        return auth

    def cleanup_sessions(self):
        self.server.get_session_pool().cleanup()
        return True

    def on_media_configure(self, _factory, media, path):
        stamp = media.get_element().get_by_name("stamp")
        if stamp is not None:
            stamp.connect("draw", draw_stamp)
        if path in self.ts_jump_conf:
            step_ms, after_s = self.ts_jump_conf[path]
            jumper = TimestampJumper(path, step_ms, after_s)
            self.jumpers.append(jumper)
            pay = media.get_element().get_by_name("pay0")
            pay.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, jumper.probe)
            pay.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER | Gst.PadProbeType.BUFFER_LIST, jumper.restore)
            media.connect("unprepared", lambda _m: self.jumpers.remove(jumper) if jumper in self.jumpers else None)
        emit("MEDIA_CONFIGURED mount=%s" % path)
        media.connect("prepared", self.on_media_prepared, path)

    def on_media_prepared(self, media, path):
        # RTCP the clients send us (receiver reports, PLI/FIR), over UDP or interleaved.
        for i in range(media.n_streams()):
            session = media.get_stream(i).get_rtpsession()
            if session is not None:
                session.connect("on-receiving-rtcp", self.on_receiving_rtcp, path)

    def on_receiving_rtcp(self, _session, buf, path):
        ok, info = buf.map(Gst.MapFlags.READ)
        types = []
        if ok:
            raw = bytes(info.data)
            buf.unmap(info)
            off = 0
            while off + 4 <= len(raw):
                types.append(str(raw[off + 1]) + ("/%d" % (raw[off] & 0x1F) if raw[off + 1] in (205, 206) else ""))
                off += (((raw[off + 2] << 8) | raw[off + 3]) + 1) * 4
        emit("RTCP_RECEIVED mount=%s types=%s" % (path, ",".join(types) or "?"))

    def on_client_connected(self, _server, client):
        self.next_client_id += 1
        cid = self.next_client_id
        conn = client.get_connection()
        ip = conn.get_ip() if conn is not None else "?"
        emit("CLIENT_CONNECTED client=%d ip=%s" % (cid, ip))
        client.connect("closed", lambda _c: emit("CLIENT_CLOSED client=%d" % cid))
        client.connect("new-session", self.on_new_session, cid)
        for method in ("options", "describe", "setup", "play", "pause", "teardown", "get-parameter", "set-parameter"):
            client.connect(method + "-request", self.on_request, cid, method.replace("-", "_").upper())

    def on_request(self, _client, ctx, cid, method):
        uri = ctx.uri.abspath if ctx.uri is not None else "*"
        emit("REQUEST client=%d method=%s uri=%s" % (cid, method, uri))

    def on_new_session(self, _client, session, cid):
        if self.args.session_timeout > 0:
            session.set_timeout(self.args.session_timeout)
        sid = session.get_sessionid()
        emit("SESSION_SETUP client=%d session=%s" % (cid, sid))

    def on_session_removed(self, _pool, session):
        emit("SESSION_REMOVED session=%s" % session.get_sessionid())

    def jump_timestamps(self, *_args):
        emit("TS_JUMP_REQUESTED mounts=%s" % ",".join(j.path for j in self.jumpers))
        for jumper in self.jumpers:
            jumper.request()
        return GLib.SOURCE_CONTINUE

    def stop(self, *_args):
        self.loop.quit()
        return GLib.SOURCE_REMOVE

    def on_stdin(self, _fd, _cond):
        # The parent (a test) died without stopping us: its end of our stdin pipe closed.
        self.loop.quit()
        return GLib.SOURCE_REMOVE

    def run(self):
        source_id = self.server.attach(None)
        if source_id == 0:
            fail("cannot listen on %s:%s" % (self.args.address, self.args.port))
        if self.args.exit_on_stdin_eof:
            GLib.io_add_watch(sys.stdin.fileno(), GLib.PRIORITY_DEFAULT, GLib.IO_IN | GLib.IO_HUP | GLib.IO_ERR, self.on_stdin)
        emit("READY port=%d" % self.server.get_bound_port())
        self.loop.run()
        emit("STOPPED")


def main():
    p = argparse.ArgumentParser(description="GStreamer RTSP test-pattern server")
    p.add_argument("--address", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8554, help="0 picks a free port (see READY line)")
    p.add_argument("--mount", action="append", help="PATH[:key=value,...], repeatable (default /test)")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--fps", type=int, default=25)
    p.add_argument("--bitrate", type=int, default=1024, help="kbit/s")
    p.add_argument("--gop", type=int, default=25, help="key-int-max, frames between IDRs")
    p.add_argument("--slices", type=int, default=1, help="slices per frame (x264 option-string slices=N)")
    p.add_argument(
        "--config-interval",
        type=int,
        default=-1,
        help="rtph264pay config-interval: -1 SPS/PPS before every IDR, 0 only in the SDP",
    )
    p.add_argument("--h265", action="store_true", help="x265enc + rtph265pay instead of H.264")
    p.add_argument("--user")
    p.add_argument("--password", default="")
    p.add_argument("--auth", choices=("basic", "digest"), default="basic")
    p.add_argument("--session-timeout", type=int, default=0, help="RTSP session timeout in seconds (0: server default 60)")
    p.add_argument("--exit-on-stdin-eof", action="store_true", help="exit when stdin closes (parent died)")
    args = p.parse_args()

    Gst.init(None)
    Server(args).run()


if __name__ == "__main__":
    main()
