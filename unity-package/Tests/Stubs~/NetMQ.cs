// Reference stubs of NetMQ 4 / AsyncIO members the package uses (signatures only; see README.md).
using System;
using System.Collections.Generic;

namespace AsyncIO
{
    public static class ForceDotNet { public static void Force() { } }
}

namespace NetMQ
{
    public static class NetMQConfig { public static void Cleanup(bool block = true) { } }

    public sealed class SocketOptions
    {
        public TimeSpan Linger { get; set; }
        public int ReceiveHighWatermark { get; set; }
        public long MaxMsgSize { get; set; }
    }

    public interface IReceivingSocket { }
    public interface IOutgoingSocket { }

    public abstract class NetMQSocket : IReceivingSocket, IOutgoingSocket, IDisposable
    {
        public SocketOptions Options { get { return null; } }
        public void Connect(string address) { }
        public void Dispose() { }
    }

    public static class ReceivingSocketExtensions
    {
        public static bool TryReceiveMultipartBytes(this IReceivingSocket socket, TimeSpan timeout, ref List<byte[]> frames, int expectedFrameCount = 4) { return false; }
        public static bool TryReceiveFrameBytes(this IReceivingSocket socket, TimeSpan timeout, out byte[] bytes) { bytes = null; return false; }
    }

    public static class OutgoingSocketExtensions
    {
        public static bool TrySendFrame(this IOutgoingSocket socket, TimeSpan timeout, byte[] data, bool more = false) { return false; }
    }
}

namespace NetMQ.Sockets
{
    public sealed class SubscriberSocket : NetMQ.NetMQSocket
    {
        public void Subscribe(byte[] topic) { }
        public void Subscribe(string topic) { }
    }

    public sealed class RequestSocket : NetMQ.NetMQSocket { }
}
