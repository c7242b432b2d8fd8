// Test-only ZeroMQ transport over libzmq.so.5 by P/Invoke (Debian's runtime package ships only the
// versioned name). Unity uses NetMQ (Runtime/Transport); this lets the mono tests exercise the
// same Receiver and ControlClient against a real Python publisher.
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;
using VasaBridge.Core;

namespace VasaBridge.Tests
{
    static class Zmq
    {
        const string Lib = "libzmq.so.5";
        public const int SUB = 2, REQ = 3;
        public const int SUBSCRIBE = 6, LINGER = 17, MAXMSGSIZE = 22, RCVTIMEO = 27, SNDTIMEO = 28;
        public const int EAGAIN = 11;
        public const int MsgSize = 64;  // sizeof(zmq_msg_t)

        [DllImport(Lib)] public static extern IntPtr zmq_ctx_new();
        [DllImport(Lib)] public static extern int zmq_ctx_term(IntPtr ctx);
        [DllImport(Lib)] public static extern IntPtr zmq_socket(IntPtr ctx, int type);
        [DllImport(Lib)] public static extern int zmq_close(IntPtr socket);
        [DllImport(Lib)] public static extern int zmq_connect(IntPtr socket, string endpoint);
        [DllImport(Lib)] public static extern int zmq_setsockopt(IntPtr socket, int option, byte[] value, UIntPtr len);
        [DllImport(Lib)] public static extern int zmq_send(IntPtr socket, byte[] buf, UIntPtr len, int flags);
        [DllImport(Lib)] public static extern int zmq_msg_init(IntPtr msg);
        [DllImport(Lib)] public static extern int zmq_msg_recv(IntPtr msg, IntPtr socket, int flags);
        [DllImport(Lib)] public static extern IntPtr zmq_msg_data(IntPtr msg);
        [DllImport(Lib)] public static extern UIntPtr zmq_msg_size(IntPtr msg);
        [DllImport(Lib)] public static extern int zmq_msg_more(IntPtr msg);
        [DllImport(Lib)] public static extern int zmq_msg_close(IntPtr msg);
        [DllImport(Lib)] public static extern int zmq_errno();
        [DllImport(Lib)] static extern IntPtr zmq_strerror(int errnum);

        public static Exception Error(string what)
        {
            int e = zmq_errno();
            return new InvalidOperationException(what + " failed: " + Marshal.PtrToStringAnsi(zmq_strerror(e)) + " (errno " + e + ")");
        }

        public static void SetInt(IntPtr s, int option, int value)
        {
            if (zmq_setsockopt(s, option, BitConverter.GetBytes(value), (UIntPtr)4) != 0) throw Error("zmq_setsockopt " + option);
        }

        public static void SetLong(IntPtr s, int option, long value)
        {
            if (zmq_setsockopt(s, option, BitConverter.GetBytes(value), (UIntPtr)8) != 0) throw Error("zmq_setsockopt " + option);
        }

        /// <summary>One multipart message, or false on timeout (RCVTIMEO).</summary>
        public static bool Receive(IntPtr socket, IntPtr msg, List<byte[]> parts)
        {
            parts.Clear();
            while (true)
            {
                zmq_msg_init(msg);
                if (zmq_msg_recv(msg, socket, 0) < 0)
                {
                    int e = zmq_errno();
                    zmq_msg_close(msg);
                    if (e == EAGAIN && parts.Count == 0) return false;
                    throw new InvalidOperationException("zmq_msg_recv failed: errno " + e);
                }
                var b = new byte[(int)(ulong)zmq_msg_size(msg)];
                if (b.Length > 0) Marshal.Copy(zmq_msg_data(msg), b, 0, b.Length);
                parts.Add(b);
                bool more = zmq_msg_more(msg) != 0;
                zmq_msg_close(msg);
                if (!more) return true;
            }
        }
    }

    sealed class LibZmqFactory : ISocketFactory, IDisposable
    {
        readonly IntPtr ctx = Zmq.zmq_ctx_new();
        public long MaxMessageBytes = Protocol.DefaultMaxMessageBytes;

        public ISubscriberSocket CreateSubscriber() { return new Sub(ctx, MaxMessageBytes); }
        public IRequestSocket CreateRequest() { return new Req(ctx); }
        public void Dispose() { Zmq.zmq_ctx_term(ctx); }

        sealed class Sub : ISubscriberSocket
        {
            IntPtr s;
            readonly IntPtr msg = Marshal.AllocHGlobal(Zmq.MsgSize);
            int timeout = -2;

            public Sub(IntPtr ctx, long maxBytes)
            {
                s = Zmq.zmq_socket(ctx, Zmq.SUB);
                if (s == IntPtr.Zero) throw Zmq.Error("zmq_socket(SUB)");
                Zmq.SetInt(s, Zmq.LINGER, 0);
                Zmq.SetLong(s, Zmq.MAXMSGSIZE, maxBytes);  // libzmq refuses bigger messages before allocating
            }

            public void Connect(string endpoint) { if (Zmq.zmq_connect(s, endpoint) != 0) throw Zmq.Error("zmq_connect " + endpoint); }

            public void Subscribe(byte[] prefix)
            {
                if (Zmq.zmq_setsockopt(s, Zmq.SUBSCRIBE, prefix, (UIntPtr)prefix.Length) != 0) throw Zmq.Error("subscribe");
            }

            public bool TryReceive(int timeoutMs, List<byte[]> parts)
            {
                if (timeoutMs != timeout) { Zmq.SetInt(s, Zmq.RCVTIMEO, timeoutMs); timeout = timeoutMs; }
                return Zmq.Receive(s, msg, parts);
            }

            public void Dispose()
            {
                if (s == IntPtr.Zero) return;
                Zmq.zmq_close(s);
                s = IntPtr.Zero;
                Marshal.FreeHGlobal(msg);
            }
        }

        sealed class Req : IRequestSocket
        {
            IntPtr s;
            readonly IntPtr msg = Marshal.AllocHGlobal(Zmq.MsgSize);

            public Req(IntPtr ctx)
            {
                s = Zmq.zmq_socket(ctx, Zmq.REQ);
                if (s == IntPtr.Zero) throw Zmq.Error("zmq_socket(REQ)");
                Zmq.SetInt(s, Zmq.LINGER, 0);
            }

            public void Connect(string endpoint) { if (Zmq.zmq_connect(s, endpoint) != 0) throw Zmq.Error("zmq_connect " + endpoint); }

            public bool TryRequest(byte[] request, int timeoutMs, out byte[] reply)
            {
                reply = null;
                Zmq.SetInt(s, Zmq.SNDTIMEO, timeoutMs);
                Zmq.SetInt(s, Zmq.RCVTIMEO, timeoutMs);
                if (Zmq.zmq_send(s, request, (UIntPtr)request.Length, 0) < 0) return false;
                var parts = new List<byte[]>();
                if (!Zmq.Receive(s, msg, parts)) return false;
                if (parts.Count != 1) throw new InvalidOperationException("control reply has " + parts.Count + " frames: expected 1");
                reply = parts[0];
                return true;
            }

            public void Dispose()
            {
                if (s == IntPtr.Zero) return;
                Zmq.zmq_close(s);
                s = IntPtr.Zero;
                Marshal.FreeHGlobal(msg);
            }
        }
    }
}
