// The one line the client's inspector shows. A publisher says hello every second whatever it
// publishes, so "messages arrive" alone would read "receiving" for a stream nobody publishes (a
// typo in the stream id, an NPC that has not spoken yet): the hello's stream list tells them apart.
using System;

namespace VasaBridge.Core
{
    public static class ClientStatus
    {
        /// <summary>heard: a message came within the last seconds; lastHello: the newest hello,
        /// null before the first (then nothing says the stream is missing).</summary>
        public static string Describe(string endpoint, string stream, bool heard, HelloMessage lastHello)
        {
            if (!heard) return "waiting for " + endpoint + " (stream " + stream + ")";
            if (lastHello != null && Array.IndexOf(lastHello.Streams, stream) < 0)
                return "connected, but stream " + stream + " is not published (published: "
                    + (lastHello.Streams.Length > 0 ? string.Join(", ", lastHello.Streams) : "none") + ")";
            return "receiving";
        }
    }
}
