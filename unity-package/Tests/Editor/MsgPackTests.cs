using System;
using System.Collections.Generic;
using NUnit.Framework;
using VasaBridge.Core;

namespace VasaBridge.Tests
{
    [TestFixture]
    public class MsgPackTests
    {
        static object RoundTrip(object v) { return MsgPackReader.Read(new MsgPackWriter().WriteValue(v).ToArray()); }

        [Test]
        public void IntegersKeepTheirValueAcrossEveryEncodingWidth()
        {
            long[] values = { 0, 1, 127, 128, 255, 256, 65535, 65536, uint.MaxValue, (long)uint.MaxValue + 1, long.MaxValue,
                              -1, -32, -33, -128, -129, -32768, -32769, int.MinValue, (long)int.MinValue - 1, long.MinValue };
            foreach (var v in values) Assert.AreEqual(v, RoundTrip(v), v.ToString());
            Assert.AreEqual(ulong.MaxValue, RoundTrip(ulong.MaxValue));
            Assert.IsInstanceOf<ulong>(RoundTrip((ulong)long.MaxValue + 1));
        }

        [Test]
        public void KnownBytesFromMsgpackPython()
        {
            // msgpack.packb({"a": [1, -1, 1.5, "x", b"\x01", None, True]}, use_bin_type=True)
            byte[] b = { 0x81, 0xa1, 0x61, 0x97, 0x01, 0xff, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xa1, 0x78, 0xc4, 0x01, 0x01, 0xc0, 0xc3 };
            var map = (Dictionary<string, object>)MsgPackReader.Read(b);
            var list = (List<object>)map["a"];
            Assert.AreEqual(1L, list[0]);
            Assert.AreEqual(-1L, list[1]);
            Assert.AreEqual(1.5, list[2]);
            Assert.AreEqual("x", list[3]);
            CollectionAssert.AreEqual(new byte[] { 1 }, (byte[])list[4]);
            Assert.IsNull(list[5]);
            Assert.AreEqual(true, list[6]);
            CollectionAssert.AreEqual(b, new MsgPackWriter().WriteValue(map).ToArray());
        }

        [Test]
        public void Float32IsReadAsDouble()
        {
            byte[] b = { 0xca, 0x3e, 0x80, 0x00, 0x00 };  // 0.25f
            Assert.AreEqual(0.25, MsgPackReader.Read(b));
        }

        [Test]
        public void StringsAndBinsOfEveryLengthClass()
        {
            foreach (int n in new[] { 0, 31, 32, 255, 256, 65535 })
            {
                string s = new string('z', n);
                Assert.AreEqual(s, RoundTrip(s));
                Assert.AreEqual(n, ((byte[])RoundTrip(new byte[n])).Length);
            }
            Assert.AreEqual("héllo ✓", RoundTrip("héllo ✓"));
        }

        [Test]
        public void TruncatedInputIsAProtocolError()
        {
            var full = new MsgPackWriter().WriteValue(new Dictionary<string, object> { { "key", "value" }, { "n", 123456L } }).ToArray();
            for (int cut = 0; cut < full.Length; cut++)
            {
                var part = new byte[cut];
                Array.Copy(full, part, cut);
                Assert.Throws<ProtocolException>(() => MsgPackReader.Read(part), "cut at " + cut);
            }
        }

        [Test]
        public void TrailingBytesNonStringKeysBadUtf8AndBadCodesAreRefused()
        {
            Assert.Throws<ProtocolException>(() => MsgPackReader.Read(new byte[] { 0x01, 0x02 }));
            Assert.Throws<ProtocolException>(() => MsgPackReader.Read(new byte[] { 0x81, 0x01, 0x02 }));
            Assert.Throws<ProtocolException>(() => MsgPackReader.Read(new byte[] { 0xa2, 0xc3, 0x28 }));
            Assert.Throws<ProtocolException>(() => MsgPackReader.Read(new byte[] { 0xc1 }));
        }

        [Test]
        public void LimitsRefuseHugeDeclaredLengthsWithoutAllocating()
        {
            // array32 declaring 2^32-1 items, map32 declaring 2^31 entries, str32 of 4 GiB
            Assert.Throws<ProtocolException>(() => MsgPackReader.Read(new byte[] { 0xdd, 0xff, 0xff, 0xff, 0xff }));
            Assert.Throws<ProtocolException>(() => MsgPackReader.Read(new byte[] { 0xdf, 0x80, 0, 0, 0 }));
            Assert.Throws<ProtocolException>(() => MsgPackReader.Read(new byte[] { 0xdb, 0xff, 0xff, 0xff, 0xff }));
            var limits = new MsgPackLimits { MaxArrayLength = 2 };
            Assert.Throws<ProtocolException>(() => MsgPackReader.Read(new byte[] { 0x93, 1, 2, 3 }, 0, 4, limits));
        }

        [Test]
        public void DeepNestingIsRefused()
        {
            var b = new byte[100];
            for (int i = 0; i < 99; i++) b[i] = 0x91;  // [[[[...]]]]
            b[99] = 0x01;
            StringAssert.Contains("nesting", Assert.Throws<ProtocolException>(() => MsgPackReader.Read(b)).Message);
        }
    }
}
