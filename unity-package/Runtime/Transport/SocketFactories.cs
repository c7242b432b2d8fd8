using System;
using UnityEngine;
using VasaBridge.Core;

namespace VasaBridge
{
    /// <summary>Picks the transport. NetMQ when the package is installed (VASA_NETMQ, set by the
    /// asmdef's versionDefines); otherwise Override, which tests and custom transports may set.</summary>
    public static class SocketFactories
    {
        /// <summary>When set, used instead of NetMQ (a custom transport, or a fake in play-mode tests).</summary>
        public static Func<ISocketFactory> Override;

#if !VASA_NETMQ
        static bool warned;
#endif

        /// <summary>A factory, or null (logged once) when no transport is available.</summary>
        public static ISocketFactory Create()
        {
            if (Override != null) return Override();
#if VASA_NETMQ
            return new NetMqSocketFactory();
#else
            if (!warned)
            {
                warned = true;
                Debug.LogError("[vasa_bridge] NetMQ is not installed: add the UnityNuGet scoped registry and the "
                               + "org.nuget.netmq package to Packages/manifest.json (see the package's Documentation~/index.md, "
                               + "Installation). Nothing will be received until then.");
            }
            return null;
#endif
        }

        /// <summary>Call around any use of a factory's sockets so that NetMQ's global state is set up
        /// before the first socket and cleaned up after the last one.</summary>
        public static void Acquire()
        {
#if VASA_NETMQ
            NetMqLifetime.Acquire();
#endif
        }

        public static void Release()
        {
#if VASA_NETMQ
            NetMqLifetime.Release();
#endif
        }

        /// <summary>A way to stop a socket's owner when the transport shuts down (quit, domain reload).</summary>
        public static void RegisterStopper(Action stop)
        {
#if VASA_NETMQ
            NetMqLifetime.RegisterStopper(stop);
#endif
        }

        public static void UnregisterStopper(Action stop)
        {
#if VASA_NETMQ
            NetMqLifetime.UnregisterStopper(stop);
#endif
        }
    }
}
