// The UPM layout the issue asks for: package.json with samples that exist, one asmdef per
// assembly folder, Core free of engine references, VRM assemblies behind versionDefines, every
// asset with a .meta (a git-URL package without them is ignored by Unity).
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using NUnit.Framework;

namespace VasaBridge.Tests
{
    [TestFixture]
    public class PackageLayoutTests
    {
        static string Package()
        {
            string root = Environment.GetEnvironmentVariable("VASA_BRIDGE_ROOT");
            if (string.IsNullOrEmpty(root)) Assert.Ignore("VASA_BRIDGE_ROOT not set: run through Tests/ci.sh");
            return Path.Combine(root, "unity-package");
        }

        static Dictionary<string, object> ReadJson(string path) { return (Dictionary<string, object>)Json.Parse(File.ReadAllText(path)); }

        [Test]
        public void PackageJsonNamesTheSamplesThatExist()
        {
            var pkg = ReadJson(Path.Combine(Package(), "package.json"));
            Assert.AreEqual("com.vasabridge.unity", pkg["name"]);
            StringAssert.IsMatch(@"^\d+\.\d+\.\d+$", (string)pkg["version"]);
            StringAssert.IsMatch(@"^\d{4}\.\d$", (string)pkg["unity"]);
            var samples = (List<object>)pkg["samples"];
            Assert.AreEqual(4, samples.Count);
            foreach (Dictionary<string, object> s in samples)
            {
                string dir = Path.Combine(Package(), (string)s["path"]);
                Assert.IsTrue(Directory.Exists(dir), (string)s["path"] + " is listed but missing");
                Assert.IsNotEmpty(Directory.GetFiles(dir, "*.cs"), (string)s["path"] + " has no script");
                Assert.AreEqual(1, Directory.GetFiles(dir, "*.asmdef").Length, (string)s["path"]);
            }
            foreach (var doc in new[] { "README.md", "CHANGELOG.md", "LICENSE.md", "Documentation~/index.md" })
                Assert.IsTrue(File.Exists(Path.Combine(Package(), doc)), doc);
        }

        [Test]
        public void AssembliesAreWhereTheLayoutSays()
        {
            var expected = new Dictionary<string, string>
            {
                { "Runtime/Core", "VasaBridge.Core" }, { "Runtime", "VasaBridge.Runtime" },
                { "Runtime/Vrm0", "VasaBridge.Vrm0" }, { "Runtime/Vrm10", "VasaBridge.Vrm10" },
                { "Editor", "VasaBridge.Editor" }, { "Tests/Editor", "VasaBridge.Tests" },
            };
            foreach (var kv in expected)
            {
                var files = Directory.GetFiles(Path.Combine(Package(), kv.Key), "*.asmdef");
                Assert.AreEqual(1, files.Length, kv.Key + " needs exactly one asmdef");
                Assert.AreEqual(kv.Value, ReadJson(files[0])["name"], kv.Key);
            }
            var core = ReadJson(Path.Combine(Package(), "Runtime/Core/VasaBridge.Core.asmdef"));
            Assert.AreEqual(true, core["noEngineReferences"]);
            Assert.IsEmpty((List<object>)core["references"]);
            foreach (var vrm in new[] { "Runtime/Vrm0/VasaBridge.Vrm0.asmdef", "Runtime/Vrm10/VasaBridge.Vrm10.asmdef" })
            {
                var a = ReadJson(Path.Combine(Package(), vrm));
                var defines = (List<object>)a["versionDefines"];
                Assert.AreEqual(1, defines.Count, vrm);
                string define = (string)((Dictionary<string, object>)defines[0])["define"];
                CollectionAssert.AreEqual(new object[] { define }, (List<object>)a["defineConstraints"], vrm + ": compiled only when UniVRM is present");
            }
            var runtime = ReadJson(Path.Combine(Package(), "Runtime/VasaBridge.Runtime.asmdef"));
            Assert.AreEqual("VASA_NETMQ", ((Dictionary<string, object>)((List<object>)runtime["versionDefines"])[0])["define"]);
            Assert.AreEqual("org.nuget.netmq", ((Dictionary<string, object>)((List<object>)runtime["versionDefines"])[0])["name"]);
        }

        [Test]
        public void EveryAssetHasItsMeta()
        {
            string python = Environment.GetEnvironmentVariable("VASA_BRIDGE_PYTHON");
            if (string.IsNullOrEmpty(python)) Assert.Ignore("VASA_BRIDGE_PYTHON not set");
            var psi = new ProcessStartInfo(python, "\"" + Path.Combine(Package(), "Tests/Mono~/make_meta.py") + "\" \"" + Package() + "\" --check")
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
            };
            var p = Process.Start(psi);
            string output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            Assert.AreEqual(0, p.ExitCode, "run Tests/Mono~/make_meta.py unity-package to fix:\n" + output);
        }
    }
}
