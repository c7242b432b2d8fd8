using System;

namespace VasaBridge.Core
{
    /// <summary>A message (or control reply) that breaks the wire protocol. The receiver drops it and
    /// goes on; the message names the value received and what was expected.</summary>
    public class ProtocolException : Exception
    {
        public ProtocolException(string message) : base(message) { }

        /// <summary>The category used by the golden fixtures: "malformed", "version" or "too_large".</summary>
        public virtual string Category { get { return "malformed"; } }
    }

    /// <summary>A protocol major version this build does not speak.</summary>
    public sealed class ProtocolVersionException : ProtocolException
    {
        public readonly long Received;
        public ProtocolVersionException(long received)
            : base("protocol version " + received + " is not supported: this build speaks version "
                   + Protocol.Version)
        { Received = received; }
        /// <summary>A version above long.MaxValue (Received is then long.MaxValue).</summary>
        public ProtocolVersionException(ulong received)
            : base("protocol version " + received + " is not supported: this build speaks version "
                   + Protocol.Version)
        { Received = long.MaxValue; }
        public override string Category { get { return "version"; } }
    }

    /// <summary>A message, header or declared payload larger than the receiver's cap.</summary>
    public sealed class MessageTooLargeException : ProtocolException
    {
        public MessageTooLargeException(string message) : base(message) { }
        public override string Category { get { return "too_large"; } }
    }

    /// <summary>The control channel answered {"ok": false, ...} or did not answer at all.</summary>
    public sealed class ControlException : Exception
    {
        /// <summary>The reply's code (malformed, unknown_command, bad_argument, version, too_large,
        /// unsupported, failed) or "timeout" when no reply came.</summary>
        public readonly string Code;
        public ControlException(string code, string message) : base(message) { Code = code; }
    }
}

namespace VasaBridge.Core
{
    /// <summary>A baked track (JSON written by `vasa-bridge bake`, or data handed to BakedTrack) that
    /// breaks the format (docs/protocol.md, "Baked tracks"); the message names the value received,
    /// where it was, and what was expected.</summary>
    public sealed class TrackFormatException : System.Exception
    {
        public TrackFormatException(string message) : base(message) { }
    }
}
