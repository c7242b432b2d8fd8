// Wire protocol v1 constants and topic helpers (docs/protocol.md, "Messages").
using System;
using System.Text;

namespace VasaBridge.Core
{
    public enum MessageKind { Motion, Frame, Audio, Event, Hello }
    public enum PixelFormat { Rgba8, Bgra8 }
    public enum AlphaMode { Straight, Premultiplied }
    public enum SampleFormat { S16, F32 }

    public static class Protocol
    {
        public const int Version = 1;
        public const long DefaultMaxMessageBytes = 64L * 1024 * 1024;
        public const int MaxHeaderBytes = 64 * 1024;
        public const int MaxDimension = 8192;
        public const int MaxChannels = 8;
        public const string DefaultStream = "default";
        public const string DefaultDataEndpoint = "tcp://127.0.0.1:5555";
        public const string DefaultControlEndpoint = "tcp://127.0.0.1:5556";

        static readonly string[] KindNames = { "motion", "frame", "audio", "event", "hello" };

        public static string KindName(MessageKind kind) { return KindNames[(int)kind]; }

        public static bool TryParseKind(string name, out MessageKind kind)
        {
            for (int i = 0; i < KindNames.Length; i++)
                if (KindNames[i] == name) { kind = (MessageKind)i; return true; }
            kind = MessageKind.Motion;
            return false;
        }

        /// <summary>1-64 characters of A-Z a-z 0-9 _ . - (hello's stream is empty).</summary>
        public static bool IsValidStream(string stream, bool allowEmpty = false)
        {
            if (stream == null) return false;
            if (stream.Length == 0) return allowEmpty;
            if (stream.Length > 64) return false;
            foreach (char c in stream)
            {
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                          || c == '_' || c == '.' || c == '-';
                if (!ok) return false;
            }
            return true;
        }

        public static void CheckStream(string stream, bool allowEmpty = false)
        {
            if (!IsValidStream(stream, allowEmpty))
                throw new ArgumentException("stream id '" + stream + "' is invalid: expected 1-64 "
                                            + "characters of letters, digits, '_', '.', '-'");
        }

        /// <summary>The topic frame "kind/stream/"; also the exact subscription for one kind of one stream.</summary>
        public static byte[] Topic(MessageKind kind, string stream)
        {
            return Encoding.ASCII.GetBytes(KindName(kind) + "/" + stream + "/");
        }

        /// <summary>Subscription prefix: one kind of every stream ("motion/") or of one stream
        /// ("motion/npc1/", which does not match npc10).</summary>
        public static byte[] Subscription(MessageKind kind, string stream = null)
        {
            if (stream == null) return Encoding.ASCII.GetBytes(KindName(kind) + "/");
            CheckStream(stream, kind == MessageKind.Hello);
            return Topic(kind, stream);
        }
    }
}
