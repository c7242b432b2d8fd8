using UnityEngine;
using VasaBridge.Core;

namespace VasaBridge
{
    /// <summary>Where the runtime is and how to receive it. One asset can serve many clients
    /// (each may override the stream, e.g. one per NPC).</summary>
    [CreateAssetMenu(fileName = "VasaBridgeSettings", menuName = "vasa_bridge/Settings")]
    public sealed class VasaBridgeSettings : ScriptableObject
    {
        [Header("Runtime")]
        [Tooltip("The runtime's PUB endpoint (vasa-bridge ... --pub).")]
        public string dataEndpoint = Protocol.DefaultDataEndpoint;
        [Tooltip("The runtime's control endpoint (speak, set, status).")]
        public string controlEndpoint = Protocol.DefaultControlEndpoint;
        [Tooltip("Stream id: 'default' is the runtime's main face; NPCs use their own.")]
        public string stream = Protocol.DefaultStream;

        [Header("What to receive")]
        public bool receiveMotion = true;
        public bool receiveFrames = false;
        public bool receiveAudio = true;
        public bool receiveEvents = true;

        [Header("Timing")]
        [Tooltip("Buffering between arrival and display, ms: absorbs network jitter. Audio uses the same delay.")]
        [Range(0, 1000)] public int playoutDelayMs = 100;
        [Tooltip("How far arrivals may stray from the delay before the playout clock re-anchors, ms.")]
        [Range(10, 2000)] public int resyncToleranceMs = 150;

        [Header("Limits")]
        [Tooltip("Largest message accepted, MiB (the runtime's frames are width x height x 4 bytes).")]
        [Range(1, 256)] public int maxMessageMiB = 64;
        [Tooltip("Messages waiting for Update before the oldest are dropped.")]
        [Range(8, 4096)] public int queueCapacity = 256;
        [Tooltip("Recreate the socket after this many seconds without a message (the runtime says hello every second); each recreation that hears nothing doubles the wait, up to 30 s. 0 = never.")]
        [Range(0, 60)] public float reconnectAfterSeconds = 3f;
        [Tooltip("How long a control request (speak, status) waits for its reply, seconds.")]
        [Range(1, 60)] public float controlTimeoutSeconds = 10f;

        public static VasaBridgeSettings CreateDefault()
        {
            var s = CreateInstance<VasaBridgeSettings>();
            s.name = "VasaBridgeSettings (defaults)";
            return s;
        }
    }
}
