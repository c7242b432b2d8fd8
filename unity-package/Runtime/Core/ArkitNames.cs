// The 52 ARKit blendshape names in ARKit's canonical order (docs/protocol.md, "Blendshape names"),
// and their variants: Apple's raw strings (eyeBlink_L) and Perfect Sync's PascalCase (EyeBlinkLeft).
using System;
using System.Collections.Generic;

namespace VasaBridge.Core
{
    public static class ArkitNames
    {
        public const int Count = 52;

        static readonly string[] names =
        {
            "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
            "eyeSquintLeft", "eyeWideLeft",
            "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
            "eyeSquintRight", "eyeWideRight",
            "jawForward", "jawLeft", "jawRight", "jawOpen",
            "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight",
            "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
            "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
            "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
            "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight",
            "mouthUpperUpLeft", "mouthUpperUpRight",
            "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
            "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
            "noseSneerLeft", "noseSneerRight",
            "tongueOut",
        };

        static readonly Dictionary<string, int> index = BuildIndex();

        static Dictionary<string, int> BuildIndex()
        {
            var d = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int i = 0; i < names.Length; i++) d[names[i]] = i;
            return d;
        }

        public static string Get(int i) { return names[i]; }

        public static IList<string> All { get { return Array.AsReadOnly(names); } }

        /// <summary>Canonical index of a camelCase ARKit name, or -1.</summary>
        public static int IndexOf(string name)
        {
            int i;
            return name != null && index.TryGetValue(name, out i) ? i : -1;
        }

        public static int IndexOfOrThrow(string name)
        {
            int i = IndexOf(name);
            if (i < 0)
                throw new ArgumentException("unknown blendshape name '" + name + "': expected one of the 52 "
                                            + "ARKit names such as 'jawOpen' or 'eyeBlinkLeft'");
            return i;
        }

        // jawLeft/jawRight/mouthLeft/mouthRight are directions, not sides: Apple keeps them whole.
        static bool IsDirectional(string n)
        {
            return n == "jawLeft" || n == "jawRight" || n == "mouthLeft" || n == "mouthRight";
        }

        /// <summary>eyeBlinkLeft -> eyeBlink_L.</summary>
        public static string ToAppleRaw(string name)
        {
            IndexOfOrThrow(name);
            if (IsDirectional(name)) return name;
            if (name.EndsWith("Left", StringComparison.Ordinal)) return name.Substring(0, name.Length - 4) + "_L";
            if (name.EndsWith("Right", StringComparison.Ordinal)) return name.Substring(0, name.Length - 5) + "_R";
            return name;
        }

        /// <summary>eyeBlink_L -> eyeBlinkLeft; canonical names pass through.</summary>
        public static string FromAppleRaw(string raw)
        {
            string n = raw;
            if (raw.EndsWith("_L", StringComparison.Ordinal)) n = raw.Substring(0, raw.Length - 2) + "Left";
            else if (raw.EndsWith("_R", StringComparison.Ordinal)) n = raw.Substring(0, raw.Length - 2) + "Right";
            IndexOfOrThrow(n);
            return n;
        }

        /// <summary>jawOpen -> JawOpen (Perfect Sync names).</summary>
        public static string ToPascal(string name)
        {
            IndexOfOrThrow(name);
            return char.ToUpperInvariant(name[0]) + name.Substring(1);
        }
    }
}
