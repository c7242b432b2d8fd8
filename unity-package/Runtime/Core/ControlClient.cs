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
        public TextOutcome Text;  // what became of the line's words; null when none were sent
    }

    /// <summary>The reply's `text` (docs/protocol.md, "speak with text"): whether the words drove
    /// the mouth, the runtime's one-line reason, and the stretches of the line whose speech the
    /// words do not cover (there the mouth follows the sound).</summary>
    public sealed class TextOutcome
    {
        public bool Used;
        public string Message;
        public double? Fit;                 // alignment score per speech frame; null: not aligned
        public double[][] Unspoken = new double[0][];  // [start, end] seconds of the line
    }

    public static class ControlMessages
    {
        public const int MaxTextChars = 4000;  // the control channel's cap on `text`

        /// <summary>{"cmd": "speak", "audio": bin, "rate", "format", "channels", "stream", "v": 1};
        /// with `text` (the words spoken: exact lips when they fit the sound) and its `language`
        /// (a code such as "en"; only English is aligned, others are answered with a reason).</summary>
        public static byte[] Speak(byte[] pcm, int rate, SampleFormat format, int channels, string stream, long? id = null,
                                   string text = null, string language = null)
        {
            if (pcm == null || pcm.Length == 0) throw new ArgumentException("speak audio is empty: expected PCM bytes");
            if (rate < 1000 || rate > 384000) throw new ArgumentException("speak rate is " + rate + " Hz: expected 1000..384000");
            if (channels < 1 || channels > Protocol.MaxChannels) throw new ArgumentException("speak channels is " + channels + ": expected 1..8");
            int width = format == SampleFormat.S16 ? 2 : 4;
            if (pcm.Length % (width * channels) != 0)
                throw new ArgumentException("speak audio is " + pcm.Length + " bytes: expected a multiple of " + width * channels
                                            + " (" + channels + " channels of " + (format == SampleFormat.S16 ? "s16" : "f32") + ")");
            Protocol.CheckStream(stream);
            CheckText(text, language);
            var w = new MsgPackWriter();
            w.WriteMapHeader(7 + (id.HasValue ? 1 : 0) + (text != null ? 1 : 0) + (language != null ? 1 : 0));
            w.Write("cmd").Write("speak");
            w.Write("v").Write((long)Protocol.Version);
            w.Write("audio").Write(pcm);
            w.Write("rate").Write((long)rate);
            w.Write("format").Write(format == SampleFormat.S16 ? "s16" : "f32");
            w.Write("channels").Write((long)channels);
            w.Write("stream").Write(stream);
            if (id.HasValue) w.Write("id").Write(id.Value);
            if (text != null) w.Write("text").Write(text);
            if (language != null) w.Write("language").Write(language);
            return w.ToArray();
        }

        static void CheckText(string text, string language)
        {
            if (text == null)
            {
                if (language != null)
                    throw new ArgumentException("speak language is given without text: expected a text (the words spoken) with it");
                return;
            }
            if (text.Length > MaxTextChars)
                throw new ArgumentException("speak text is " + text.Length + " characters: the limit is " + MaxTextChars);
            if (text.Trim().Length == 0 || text.IndexOf('\0') >= 0)
                throw new ArgumentException("speak text is blank: expected the words spoken");
            if (language != null && !IsLanguageCode(language))
                throw new ArgumentException("speak language is '" + language + "': expected a language code such as 'en' or 'de'");
        }

        /// <summary>2-3 lower-case letters, then optional -Subtags of 1-8 letters or digits ("en", "pt-BR").</summary>
        public static bool IsLanguageCode(string code)
        {
            var parts = code.Split('-', '_');
            if (parts[0].Length < 2 || parts[0].Length > 3) return false;
            foreach (char c in parts[0]) if (c < 'a' || c > 'z') return false;
            for (int i = 1; i < parts.Length; i++)
            {
                if (parts[i].Length < 1 || parts[i].Length > 8) return false;
                foreach (char c in parts[i])
                    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
            }
            return true;
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
            if (result.TryGetValue("text", out v) && v != null)
            {
                var t = v as Dictionary<string, object>;
                if (t == null || !t.ContainsKey("used") || !(t["used"] is bool))
                    throw new ControlException("malformed", "speak reply's 'text' is " + MsgPackReader.Describe(v)
                                               + ": expected {used, message, fit, unspoken}");
                r.Text = new TextOutcome { Used = (bool)t["used"] };
                if (t.TryGetValue("message", out v)) r.Text.Message = v as string;
                if (t.TryGetValue("fit", out v) && (v is double || v is long)) r.Text.Fit = Convert.ToDouble(v);
                if (t.TryGetValue("unspoken", out v) && v is List<object>)
                {
                    var spans = new List<double[]>();
                    foreach (var span in (List<object>)v)
                    {
                        var pair = span as List<object>;
                        if (pair == null || pair.Count != 2 || !IsNumber(pair[0]) || !IsNumber(pair[1]))
                            throw new ControlException("malformed", "speak reply's 'text.unspoken' holds " + MsgPackReader.Describe(span)
                                                       + ": expected [start, end] seconds");
                        spans.Add(new[] { Convert.ToDouble(pair[0]), Convert.ToDouble(pair[1]) });
                    }
                    r.Text.Unspoken = spans.ToArray();
                }
            }
            return r;
        }

        static bool IsNumber(object v) { return v is double || v is long; }
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

        /// <summary>`text`: the words spoken (optional), with their `language` (null: English).</summary>
        public SpeakResult Speak(float[] interleaved, int rate, int channels, string stream, string text = null,
                                 string language = null)
        {
            var req = ControlMessages.Speak(ControlMessages.F32Bytes(interleaved), rate, SampleFormat.F32, channels, stream,
                                            text: text, language: language);
            return ControlMessages.ParseSpeak(Request(req));
        }

        public Dictionary<string, object> Status() { return Request(ControlMessages.Command("status")); }
    }
}
