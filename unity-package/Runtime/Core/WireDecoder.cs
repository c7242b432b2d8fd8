// Decoding of one multipart message, with the same validation as vasa_bridge/protocol/wire.py
// (docs/protocol.md, "Validation"): every defect is a ProtocolException naming the value received
// and what was expected; nothing else is thrown on malformed input.
using System;
using System.Collections.Generic;
using System.Text;

namespace VasaBridge.Core
{
    public static class WireDecoder
    {
        public static Message Decode(IList<byte[]> parts, long maxBytes = Protocol.DefaultMaxMessageBytes)
        {
            if (parts == null || parts.Count != 3)
                throw new ProtocolException("message has " + (parts == null ? 0 : parts.Count)
                                            + " parts: expected 3 (topic, header, payload)");
            long total = 0;
            for (int i = 0; i < 3; i++)
            {
                if (parts[i] == null) throw new ProtocolException("message part " + i + " is null: expected bytes");
                total += parts[i].Length;
            }
            if (total > maxBytes)
                throw new MessageTooLargeException("message is " + total + " bytes: the cap is " + maxBytes + " bytes");

            byte[] rawTopic = parts[0], rawHeader = parts[1], payload = parts[2];
            MessageKind kind;
            string topicStream = ParseTopic(rawTopic, out kind);
            string k = Protocol.KindName(kind);
            if (rawHeader.Length > Protocol.MaxHeaderBytes)
                throw new MessageTooLargeException(k + " header is " + rawHeader.Length + " bytes: the cap is "
                                                   + Protocol.MaxHeaderBytes + " bytes");
            object parsed;
            try { parsed = MsgPackReader.Read(rawHeader, MsgPackLimits.Header); }
            catch (ProtocolException e)
            {
                throw new ProtocolException(k + " header is not valid msgpack (" + e.Message + ")");
            }
            var header = parsed as Dictionary<string, object>;
            if (header == null)
                throw new ProtocolException(k + " header is " + MsgPackReader.Describe(parsed) + ": expected a msgpack map");

            var h = new Fields(header, k);
            h.Version();  // any int but ours is a version error, as in Python
            ulong seq = h.UInt64("seq");
            string stream = h.Str("stream");
            if (stream != topicStream)
                throw new ProtocolException(k + " header stream '" + stream + "' disagrees with the topic's '"
                                            + topicStream + "'");
            if (!Protocol.IsValidStream(stream, kind == MessageKind.Hello))
                throw new ProtocolException("stream id '" + stream + "' is invalid: expected 1-64 characters "
                                            + "of letters, digits, '_', '.', '-'");
            long pts = h.Int("pts");
            long sent = h.Int("sent");

            Message m;
            switch (kind)
            {
                case MessageKind.Motion: m = DecodeMotion(h, payload, maxBytes); break;
                case MessageKind.Frame: m = DecodeFrame(h, payload, maxBytes); break;
                case MessageKind.Audio: m = DecodeAudio(h, payload, maxBytes); break;
                case MessageKind.Event: m = DecodeEvent(h, payload, maxBytes); break;
                default: m = DecodeHello(h, payload, maxBytes); break;
            }
            m.Kind = kind; m.Stream = stream; m.Seq = seq; m.Pts = pts; m.Sent = sent;
            m.Header = header; m.Payload = payload;
            return m;
        }

        /// <summary>"kind/stream/" -> stream, with kind one of the five.</summary>
        public static string ParseTopic(byte[] raw, out MessageKind kind)
        {
            foreach (byte b in raw)
                if (b > 0x7f)
                    throw new ProtocolException("topic is not ASCII: expected 'kind/stream/'");
            string text = Encoding.ASCII.GetString(raw);
            string[] bits = text.Split('/');
            if (bits.Length != 3 || bits[2].Length != 0 || !Protocol.TryParseKind(bits[0], out kind))
                throw new ProtocolException("topic '" + (text.Length > 80 ? text.Substring(0, 80) : text)
                                            + "' is not 'kind/stream/' with kind one of motion, frame, audio, event, hello");
            return bits[1];
        }

        static MotionMessage DecodeMotion(Fields h, byte[] payload, long maxBytes)
        {
            var names = h.List("names");
            if (names.Count < 1 || names.Count > 256 || !AllStrings(names))
                throw new ProtocolException("motion header field 'names' has " + names.Count
                                            + " entries: expected 1..256 strings");
            var m = new MotionMessage();
            m.HeadRotation = h.Vec3("head_rotation");
            m.HeadTranslation = h.Vec3("head_translation");
            ExpectPayload("motion", payload, 4L * names.Count, maxBytes);
            m.Names = new string[names.Count];
            m.Values = new float[names.Count];
            for (int i = 0; i < names.Count; i++)
            {
                m.Names[i] = (string)names[i];
                m.Values[i] = ReadFloatLE(payload, 4 * i);
            }
            object emotion, speaking;
            if (h.Map.TryGetValue("emotion", out emotion)) m.Emotion = emotion as string;
            if (h.Map.TryGetValue("speaking", out speaking) && speaking is bool) m.Speaking = (bool)speaking;
            return m;
        }

        static FrameMessage DecodeFrame(Fields h, byte[] payload, long maxBytes)
        {
            var m = new FrameMessage();
            m.Width = (int)h.IntIn("width", 1, Protocol.MaxDimension);
            m.Height = (int)h.IntIn("height", 1, Protocol.MaxDimension);
            m.Format = h.Choice("format", new[] { "rgba8", "bgra8" }) == "rgba8" ? PixelFormat.Rgba8 : PixelFormat.Bgra8;
            m.Stride = (int)h.IntIn("stride", 4L * m.Width, 4L * Protocol.MaxDimension * 2);
            m.Alpha = h.Choice("alpha", new[] { "premultiplied", "straight" }) == "straight"
                ? AlphaMode.Straight : AlphaMode.Premultiplied;
            ExpectPayload("frame", payload, (long)m.Stride * m.Height, maxBytes);
            return m;
        }

        static AudioMessage DecodeAudio(Fields h, byte[] payload, long maxBytes)
        {
            var m = new AudioMessage();
            m.Rate = (int)h.IntIn("rate", 1000, 384000);
            m.Channels = (int)h.IntIn("channels", 1, Protocol.MaxChannels);
            m.Format = h.Choice("format", new[] { "f32", "s16" }) == "s16" ? SampleFormat.S16 : SampleFormat.F32;
            m.Samples = (int)h.IntIn("samples", 0, int.MaxValue);
            int width = m.Format == SampleFormat.S16 ? 2 : 4;
            ExpectPayload("audio", payload, (long)m.Samples * m.Channels * width, maxBytes);
            return m;
        }

        static EventMessage DecodeEvent(Fields h, byte[] payload, long maxBytes)
        {
            var m = new EventMessage();
            m.Name = h.Str("name");
            if (h.Map.ContainsKey("message")) m.Text = h.Str("message");
            if (h.Map.ContainsKey("data")) m.Data = h.MapField("data");
            ExpectPayload("event", payload, 0, maxBytes);
            return m;
        }

        static HelloMessage DecodeHello(Fields h, byte[] payload, long maxBytes)
        {
            var m = new HelloMessage();
            m.Streams = h.StringList("streams");
            m.Capabilities = h.StringList("capabilities");
            m.Publisher = h.Str("publisher");
            object fps, control;
            if (h.Map.TryGetValue("fps", out fps) && (fps is long || fps is double))
                m.Fps = Convert.ToDouble(fps);
            if (h.Map.TryGetValue("control", out control)) m.Control = control as string;
            ExpectPayload("hello", payload, 0, maxBytes);
            return m;
        }

        static void ExpectPayload(string kind, byte[] payload, long size, long maxBytes)
        {
            if (size > maxBytes)
                throw new MessageTooLargeException(kind + " header declares a " + size + "-byte payload: the cap is "
                                                   + maxBytes + " bytes");
            if (payload.Length != size)
                throw new ProtocolException(kind + " payload is " + payload.Length + " bytes: the header declares " + size);
        }

        static bool AllStrings(List<object> items)
        {
            foreach (var x in items) if (!(x is string)) return false;
            return true;
        }

        internal static float ReadFloatLE(byte[] b, int i)
        {
            if (BitConverter.IsLittleEndian) return BitConverter.ToSingle(b, i);
            return BitConverter.ToSingle(new[] { b[i + 3], b[i + 2], b[i + 1], b[i] }, 0);
        }

        /// <summary>Typed access to header fields; errors name the kind, key, value and expected type.</summary>
        internal struct Fields
        {
            public readonly Dictionary<string, object> Map;
            readonly string kind;

            public Fields(Dictionary<string, object> map, string kind) { Map = map; this.kind = kind; }

            object Get(string key)
            {
                object v;
                if (!Map.TryGetValue(key, out v))
                    throw new ProtocolException(kind + " header is missing field '" + key + "'");
                return v;
            }

            ProtocolException Wrong(string key, object v, string expected)
            {
                return new ProtocolException(kind + " header field '" + key + "' is " + MsgPackReader.Describe(v)
                                             + ": expected " + expected);
            }

            /// <summary>"v": an int equal to Protocol.Version; any other int is a version error.</summary>
            public void Version()
            {
                object v = Get("v");
                if (v is ulong) throw new ProtocolVersionException((ulong)v);
                if (!(v is long)) throw Wrong("v", v, "int");
                if ((long)v != Protocol.Version) throw new ProtocolVersionException((long)v);
            }

            /// <summary>An int in the signed 64-bit range (bools are not ints).</summary>
            public long Int(string key)
            {
                object v = Get(key);
                if (v is long) return (long)v;
                if (v is ulong) throw Wrong(key, v, "an int in -2^63..2^63-1");
                throw Wrong(key, v, "int");
            }

            public ulong UInt64(string key)
            {
                object v = Get(key);
                if (v is ulong) return (ulong)v;
                if (!(v is long)) throw Wrong(key, v, "int");
                long x = (long)v;
                if (x < 0) throw new ProtocolException(kind + " header field '" + key + "' is " + x
                                                       + ": expected 0..18446744073709551615");
                return (ulong)x;
            }

            public long IntIn(string key, long lo, long hi)
            {
                object v = Get(key);
                if (v is ulong) throw new ProtocolException(kind + " header field '" + key + "' is " + v
                                                            + ": expected " + lo + ".." + hi);
                if (!(v is long)) throw Wrong(key, v, "int");
                long x = (long)v;
                if (x < lo || x > hi)
                    throw new ProtocolException(kind + " header field '" + key + "' is " + x + ": expected "
                                                + lo + ".." + hi);
                return x;
            }

            public string Str(string key)
            {
                object v = Get(key);
                var s = v as string;
                if (s == null) throw Wrong(key, v, "str");
                return s;
            }

            public string Choice(string key, string[] choices)
            {
                string s = Str(key);
                if (Array.IndexOf(choices, s) < 0)
                    throw new ProtocolException(kind + " header field '" + key + "' is '" + s + "': expected one of "
                                                + string.Join(", ", choices));
                return s;
            }

            public List<object> List(string key)
            {
                object v = Get(key);
                var l = v as List<object>;
                if (l == null) throw Wrong(key, v, "list");
                return l;
            }

            public Dictionary<string, object> MapField(string key)
            {
                object v = Get(key);
                var d = v as Dictionary<string, object>;
                if (d == null) throw Wrong(key, v, "dict");
                return d;
            }

            public string[] StringList(string key)
            {
                var l = List(key);
                var r = new string[l.Count];
                for (int i = 0; i < l.Count; i++)
                {
                    r[i] = l[i] as string;
                    if (r[i] == null)
                        throw new ProtocolException(kind + " header field '" + key + "' has item "
                                                    + MsgPackReader.Describe(l[i]) + ": expected a list of strings");
                }
                return r;
            }

            /// <summary>Exactly 3 numbers (int, float32 or float64).</summary>
            public Vec3 Vec3(string key)
            {
                var l = List(key);
                if (l.Count == 3 && IsNumber(l[0]) && IsNumber(l[1]) && IsNumber(l[2]))
                    return new Vec3(ToDouble(l[0]), ToDouble(l[1]), ToDouble(l[2]));
                throw new ProtocolException(kind + " header field '" + key + "' is " + MsgPackReader.Describe(l)
                                            + ": expected 3 numbers");
            }

            static bool IsNumber(object x) { return x is long || x is ulong || x is double; }
            static double ToDouble(object x)
            {
                if (x is long) return (long)x;
                if (x is ulong) return (ulong)x;
                return (double)x;
            }
        }
    }
}
