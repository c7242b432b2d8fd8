// Transport seam: Core talks to ZeroMQ only through these interfaces, so it is tested without
// Unity (a libzmq P/Invoke socket in the mono tests) and runs on NetMQ inside Unity.
using System;
using System.Collections.Generic;

namespace VasaBridge.Core
{
    /// <summary>A ZeroMQ SUB socket.</summary>
    public interface ISubscriberSocket : IDisposable
    {
        void Connect(string endpoint);
        void Subscribe(byte[] prefix);
        /// <summary>Wait up to timeoutMs for one multipart message; parts is cleared and filled.</summary>
        bool TryReceive(int timeoutMs, List<byte[]> parts);
    }

    /// <summary>A ZeroMQ REQ socket used for one request and its reply.</summary>
    public interface IRequestSocket : IDisposable
    {
        void Connect(string endpoint);
        /// <summary>Send one frame and wait up to timeoutMs for the one-frame reply.</summary>
        bool TryRequest(byte[] request, int timeoutMs, out byte[] reply);
    }

    /// <summary>Creates sockets; the receiver recreates its socket through it to reconnect.</summary>
    public interface ISocketFactory
    {
        ISubscriberSocket CreateSubscriber();
        IRequestSocket CreateRequest();
    }
}
