// The client's status line from the golden hello (streams default and npc1): a connection whose
// hellos do not list the client's stream is not "receiving".
using System.IO;
using NUnit.Framework;
using VasaBridge.Core;

namespace VasaBridge.Tests
{
    [TestFixture]
    public class ClientStatusTests
    {
        const string Endpoint = "tcp://127.0.0.1:5555";

        static HelloMessage Hello()
        {
            return (HelloMessage)WireDecoder.Decode(TestFiles.ReadParts(Path.Combine(TestFiles.FixtureDir(), "hello.bin")));
        }

        [Test]
        public void AStreamTheHelloDoesNotListIsConnectedButNotPublished()
        {
            Assert.AreEqual("connected, but stream npc2 is not published (published: default, npc1)",
                ClientStatus.Describe(Endpoint, "npc2", true, Hello()));
        }

        [Test]
        public void AStreamTheHelloListsIsReceiving()
        {
            Assert.AreEqual("receiving", ClientStatus.Describe(Endpoint, "npc1", true, Hello()));
            Assert.AreEqual("receiving", ClientStatus.Describe(Endpoint, "default", true, null), "no hello yet");
        }

        [Test]
        public void SilenceIsWaitingWhateverTheLastHelloSaid()
        {
            Assert.AreEqual("waiting for " + Endpoint + " (stream npc2)", ClientStatus.Describe(Endpoint, "npc2", false, Hello()));
            Assert.AreEqual("waiting for " + Endpoint + " (stream default)", ClientStatus.Describe(Endpoint, "default", false, null));
        }
    }
}
