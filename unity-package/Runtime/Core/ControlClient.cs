// The control channel (docs/protocol.md, "Control channel"): one msgpack map per request and
// reply over REQ/ROUTER. Requests are built with MsgPackWriter; replies are checked as strictly as
// data messages.
using System;
using System.Collections.Generic;

namespace VasaBridge.Core
{
    public sealed class SpeakResult
    {
        public string Stream;
        public long Pts;          // media time (ns) at which the line starts on the stream
        public double Duration;   // seconds
    }

    public static class ControlMessages
    {
        /// <summary>{"cmd": "speak", "audio": bin, "rate", "format", "channels", "stream", "v": 1}.</summary>
        public static byte[] Speak(byte[] pcm, int rate, SampleFormat format, int channels, string stream, long? id = null)
        {
            if (pcm == null || pcm.Length == 0) throw new ArgumentException("speak audio is empty: expected PCM bytes");
            if (rate < 1000 || rate > 384000) throw new ArgumentException("speak rate is " + rate + " Hz: expected 1000..384000");
            if (channels < 1 || channels > Protocol.MaxChannels) throw new ArgumentException("speak channels is " + channels + ": expected 1..8");
            int width = format == SampleFormat.S16 ? 2 : 4;
            if (pcm.Length % (width * channels) != 0)
                throw new ArgumentException("speak audio is " + pcm.Length + " bytes: expected a multiple of " + width * channels
                                            + " (" + channels + " channels of " + (format == SampleFormat.S16 ? "s16" : "f32") + ")");
            Protocol.CheckStream(stream);
            var w = new MsgPackWriter();
            w.WriteMapHeader(id.HasValue ? 8 : 7);
            w.Write("cmd").Write("speak");
            w.Write("v").Write((long)Protocol.Version);
            w.Write("audio").Write(pcm);
            w.Write("rate").Write((long)rate);
            w.Write("format").Write(format == SampleFormat.S16 ? "s16" : "f32");
            w.Write("channels").Write((long)channels);
            w.Write("stream").Write(stream);
            if (id.HasValue) w.Write("id").Write(id.Value);
            return w.ToArray();
        }

        /// <summary>Float samples in [-1, 1] (interleaved) as little-endian f32 bytes.</summary>
        public static byte[] F32Bytes(float[] samples)
        {
            var b = new byte[samples.Length * 4];
            if (BitConverter.IsLittleEndian) Buffer.BlockCopy(samples, 0, b, 0, b.Length);
            else for (int i = 0; i < samples.Length; i++)
                {
                    var s = BitConverter.GetBytes(samples[i]);
                    Array.Reverse(s);
                    Buffer.BlockCopy(s, 0, b, 4 * i, 4);
                }
            return b;
        }

        /// <summary>Any command: {"cmd": name, "v": 1, ...arguments}.</summary>
        public static byte[] Command(string name, IDictionary<string, object> arguments = null)
        {
            var map = new Dictionary<string, object>();
            map["cmd"] = name;
            map["v"] = (long)Protocol.Version;
            if (arguments != null) foreach (var kv in arguments) map[kv.Key] = kv.Value;
            return new MsgPackWriter().WriteValue(map).ToArray();
        }

        /// <summary>The result map of an ok reply; ControlException with the reply's code otherwise.</summary>
        public static Dictionary<string, object> ParseReply(byte[] reply)
        {
            object parsed;
            try { parsed = MsgPackReader.Read(reply); }
            catch (ProtocolException e) { throw new ControlException("malformed", "control reply is not valid msgpack (" + e.Message + ")"); }
            var map = parsed as Dictionary<string, object>;
            if (map == null) throw new ControlException("malformed", "control reply is " + MsgPackReader.Describe(parsed) + ": expected a map");
            object ok;
            if (!map.TryGetValue("ok", out ok) || !(ok is bool))
                throw new ControlException("malformed", "control reply has no boolean 'ok': expected {\"ok\": true|false, ...}");
            if (!(bool)ok)
            {
                object err, code;
                map.TryGetValue("error", out err);
                map.TryGetValue("code", out code);
                throw new ControlException(code as string ?? "failed", (err as string) ?? "the runtime refused the request");
            }
            object result;
            map.TryGetValue("result", out result);
            return (result as Dictionary<string, object>) ?? new Dictionary<string, object>();
        }

        public static SpeakResult ParseSpeak(Dictionary<string, object> result)
        {
            var r = new SpeakResult();
            object v;
            if (result.TryGetValue("stream", out v)) r.Stream = v as string;
            if (result.TryGetValue("pts", out v) && v is long) r.Pts = (long)v;
            if (result.TryGetValue("duration", out v) && (v is double || v is long)) r.Duration = Convert.ToDouble(v);
            if (r.Stream == null)
                throw new ControlException("malformed", "speak reply has no 'stream': expected {stream, pts, duration}");
            return r;
        }
    }

    /// <summary>Synchronous control requests; call from a worker thread in Unity (never Update).
    /// Each request uses a fresh REQ socket, so a lost reply never wedges the REQ state machine.</summary>
    public sealed class ControlClient
    {
        readonly ISocketFactory factory;
        public string Endpoint;
        public int TimeoutMs;

        public ControlClient(ISocketFactory factory, string endpoint = Protocol.DefaultControlEndpoint, int timeoutMs = 5000)
        {
            this.factory = factory;
            Endpoint = endpoint;
            TimeoutMs = timeoutMs;
        }

        public Dictionary<string, object> Request(byte[] request)
        {
            using (var s = factory.CreateRequest())
            {
                s.Connect(Endpoint);
                byte[] reply;
                if (!s.TryRequest(request, TimeoutMs, out reply))
                    throw new ControlException("timeout", "no control reply from " + Endpoint + " within " + TimeoutMs
                                               + " ms: expected a running vasa-bridge runtime there");
                return ControlMessages.ParseReply(reply);
            }
        }

        public SpeakResult Speak(float[] interleaved, int rate, int channels, string stream)
        {
            var req = ControlMessages.Speak(ControlMessages.F32Bytes(interleaved), rate, SampleFormat.F32, channels, stream);
            return ControlMessages.ParseSpeak(Request(req));
        }

        public Dictionary<string, object> Status() { return Request(ControlMessages.Command("status")); }
    }
}
