#if VASA_NETMQ
// The NetMQ transport, with the two rules that keep the Unity editor from hanging:
// AsyncIO.ForceDotNet.Force() before the first socket, and every socket disposed before
// NetMQConfig.Cleanup() on quit and before a domain reload.
using System;
using System.Collections.Generic;
using NetMQ;
using NetMQ.Sockets;
using UnityEngine;
using VasaBridge.Core;

namespace VasaBridge
{
    public sealed class NetMqSocketFactory : ISocketFactory
    {
        public long MaxMessageBytes = Protocol.DefaultMaxMessageBytes;
        public int ReceiveHighWatermark = 1000;

        public ISubscriberSocket CreateSubscriber() { return new Sub(this); }
        public IRequestSocket CreateRequest() { return new Req(); }

        sealed class Sub : ISubscriberSocket
        {
            readonly SubscriberSocket socket = new SubscriberSocket();
            List<byte[]> frames = new List<byte[]>(3);

            public Sub(NetMqSocketFactory f)
            {
                socket.Options.Linger = TimeSpan.Zero;
                socket.Options.ReceiveHighWatermark = f.ReceiveHighWatermark;
                socket.Options.MaxMsgSize = f.MaxMessageBytes;  // a bigger part disconnects the peer before allocating
            }

            public void Connect(string endpoint) { socket.Connect(endpoint); }
            public void Subscribe(byte[] prefix) { socket.Subscribe(prefix); }

            public bool TryReceive(int timeoutMs, List<byte[]> parts)
            {
                if (!socket.TryReceiveMultipartBytes(TimeSpan.FromMilliseconds(timeoutMs), ref frames, 3)) return false;
                parts.Clear();
                parts.AddRange(frames);
                return true;
            }

            public void Dispose() { socket.Dispose(); }
        }

        sealed class Req : IRequestSocket
        {
            readonly RequestSocket socket = new RequestSocket();

            public Req() { socket.Options.Linger = TimeSpan.Zero; }

            public void Connect(string endpoint) { socket.Connect(endpoint); }

            public bool TryRequest(byte[] request, int timeoutMs, out byte[] reply)
            {
                reply = null;
                var timeout = TimeSpan.FromMilliseconds(timeoutMs);
                if (!socket.TrySendFrame(timeout, request)) return false;
                return socket.TryReceiveFrameBytes(timeout, out reply);
            }

            public void Dispose() { socket.Dispose(); }
        }
    }

    /// <summary>Reference-counts NetMQ users. The first Acquire forces AsyncIO's managed
    /// implementation (the native one hangs Mono); the last Release calls NetMQConfig.Cleanup.
    /// Quitting or a domain reload with users left first stops them (Shutdown) and cleans up,
    /// because a live NetMQ thread across a reload freezes the editor.</summary>
    public static class NetMqLifetime
    {
        static readonly object gate = new object();
        static readonly List<Action> stoppers = new List<Action>();
        static int users;
        static bool hooked;

        public static void Acquire()
        {
            lock (gate)
            {
                if (users == 0) AsyncIO.ForceDotNet.Force();
                users++;
                Hook();
            }
        }

        public static void Release()
        {
            lock (gate)
            {
                if (users == 0) return;
                users--;
                if (users == 0) NetMQConfig.Cleanup(false);
            }
        }

        /// <summary>Register a way to stop a socket's owner at shutdown (receivers, pending requests).</summary>
        public static void RegisterStopper(Action stop) { lock (gate) stoppers.Add(stop); }
        public static void UnregisterStopper(Action stop) { lock (gate) stoppers.Remove(stop); }

        static void Hook()
        {
            if (hooked) return;
            hooked = true;
            Application.quitting += Shutdown;
#if UNITY_EDITOR
            UnityEditor.AssemblyReloadEvents.beforeAssemblyReload += Shutdown;
#endif
        }

        /// <summary>Stop every registered owner (their OnDisable then finds nothing to do) and clean up.</summary>
        public static void Shutdown()
        {
            Action[] toStop;
            lock (gate) toStop = stoppers.ToArray();
            foreach (var stop in toStop)
            {
                try { stop(); }
                catch (Exception e) { Debug.LogException(e); }
            }
            lock (gate)
            {
                stoppers.Clear();
                if (users > 0) NetMQConfig.Cleanup(false);
                users = 0;
            }
        }
    }
}
#endif
