// ARKit coefficients -> VRM 1.0 expression presets and VRM 0.x blendshape clips
// (docs/protocol.md, "Conversions to VRM expressions"; same formulas as
// vasa_bridge.motion.conversions.to_vrm1, computed in float32 as there).
using System;
using System.Collections.Generic;

namespace VasaBridge.Core
{
    public static class VrmExpressions
    {
        /// <summary>VRM 1.0 preset names, in the order of the weights ComputeVrm1 writes.</summary>
        public static readonly string[] Vrm1Presets =
        {
            "happy", "angry", "sad", "relaxed", "surprised",
            "aa", "ih", "ou", "ee", "oh",
            "blink", "blinkLeft", "blinkRight",
            "lookUp", "lookDown", "lookLeft", "lookRight",
            "neutral",
        };

        /// <summary>The VRM 0.x clip name of each preset, same order.</summary>
        public static readonly string[] Vrm0Names =
        {
            "Joy", "Angry", "Sorrow", "Fun", "Surprised",
            "A", "I", "U", "E", "O",
            "Blink", "Blink_L", "Blink_R",
            "LookUp", "LookDown", "LookLeft", "LookRight",
            "Neutral",
        };

        public const int Count = 18;

        public static string Vrm0FromVrm1(string preset)
        {
            int i = Array.IndexOf(Vrm1Presets, preset);
            if (i < 0) throw new ArgumentException("unknown VRM 1.0 preset '" + preset + "': expected one of "
                                                   + string.Join(", ", Vrm1Presets));
            return Vrm0Names[i];
        }

        public static string Vrm1FromVrm0(string name)
        {
            int i = Array.IndexOf(Vrm0Names, name);
            if (i < 0) throw new ArgumentException("unknown VRM 0.x clip '" + name + "': expected one of "
                                                   + string.Join(", ", Vrm0Names));
            return Vrm1Presets[i];
        }

        static readonly int JawOpen = ArkitNames.IndexOf("jawOpen"), Funnel = ArkitNames.IndexOf("mouthFunnel"),
            Pucker = ArkitNames.IndexOf("mouthPucker"),
            StretchL = ArkitNames.IndexOf("mouthStretchLeft"), StretchR = ArkitNames.IndexOf("mouthStretchRight"),
            SmileL = ArkitNames.IndexOf("mouthSmileLeft"), SmileR = ArkitNames.IndexOf("mouthSmileRight"),
            BlinkL = ArkitNames.IndexOf("eyeBlinkLeft"), BlinkR = ArkitNames.IndexOf("eyeBlinkRight"),
            BrowDownL = ArkitNames.IndexOf("browDownLeft"), BrowDownR = ArkitNames.IndexOf("browDownRight"),
            FrownL = ArkitNames.IndexOf("mouthFrownLeft"), FrownR = ArkitNames.IndexOf("mouthFrownRight"),
            WideL = ArkitNames.IndexOf("eyeWideLeft"), WideR = ArkitNames.IndexOf("eyeWideRight"),
            BrowOuterL = ArkitNames.IndexOf("browOuterUpLeft"), BrowOuterR = ArkitNames.IndexOf("browOuterUpRight"),
            LookUpL = ArkitNames.IndexOf("eyeLookUpLeft"), LookUpR = ArkitNames.IndexOf("eyeLookUpRight"),
            LookDownL = ArkitNames.IndexOf("eyeLookDownLeft"), LookDownR = ArkitNames.IndexOf("eyeLookDownRight"),
            LookOutL = ArkitNames.IndexOf("eyeLookOutLeft"), LookInL = ArkitNames.IndexOf("eyeLookInLeft"),
            LookOutR = ArkitNames.IndexOf("eyeLookOutRight"), LookInR = ArkitNames.IndexOf("eyeLookInRight");

        static float Mean(float[] s, int a, int b) { return (s[a] + s[b]) / 2f; }
        static float Clamp01(float v) { return v < 0f ? 0f : v > 1f ? 1f : v; }

        /// <summary>52 ARKit coefficients (canonical order) -> 18 weights in [0, 1], in Vrm1Presets order.</summary>
        public static void ComputeVrm1(float[] arkit, float[] weights)
        {
            if (arkit.Length < ArkitNames.Count || weights.Length < Count)
                throw new ArgumentException("expected 52 ARKit coefficients and room for " + Count + " weights");
            float jaw = arkit[JawOpen], funnel = arkit[Funnel], pucker = arkit[Pucker];
            float spread = Math.Max(Mean(arkit, StretchL, StretchR), Mean(arkit, SmileL, SmileR));
            float rounded = Math.Max(funnel, pucker);
            float bl = arkit[BlinkL], br = arkit[BlinkR], both = Math.Min(bl, br);
            weights[0] = Mean(arkit, SmileL, SmileR);                                   // happy
            weights[1] = Mean(arkit, BrowDownL, BrowDownR);                             // angry
            weights[2] = Mean(arkit, FrownL, FrownR);                                   // sad
            weights[3] = 0f;                                                            // relaxed: no ARKit shape
            weights[4] = 0.5f * Mean(arkit, WideL, WideR) + 0.5f * Mean(arkit, BrowOuterL, BrowOuterR);  // surprised
            weights[5] = jaw - rounded - 0.5f * spread;                                 // aa
            weights[6] = spread * (1f - 2f * jaw);                                      // ih
            weights[7] = pucker - 0.5f * funnel;                                        // ou
            weights[8] = spread * 2f * jaw;                                             // ee
            weights[9] = funnel;                                                        // oh
            weights[10] = both;                                                         // blink
            weights[11] = bl - both;                                                    // blinkLeft
            weights[12] = br - both;                                                    // blinkRight
            weights[13] = Mean(arkit, LookUpL, LookUpR);                                // lookUp
            weights[14] = Mean(arkit, LookDownL, LookDownR);                            // lookDown
            weights[15] = Mean(arkit, LookOutL, LookInR);                               // lookLeft (subject's)
            weights[16] = Mean(arkit, LookInL, LookOutR);                               // lookRight
            weights[17] = 0f;                                                           // neutral
            for (int i = 0; i < Count; i++) weights[i] = Clamp01(weights[i]);
        }

        public static Dictionary<string, float> Vrm1(float[] arkit)
        {
            var w = new float[Count];
            ComputeVrm1(arkit, w);
            var d = new Dictionary<string, float>();
            for (int i = 0; i < Count; i++) d[Vrm1Presets[i]] = w[i];
            return d;
        }

        public static Dictionary<string, float> Vrm0(float[] arkit)
        {
            var w = new float[Count];
            ComputeVrm1(arkit, w);
            var d = new Dictionary<string, float>();
            for (int i = 0; i < Count; i++) d[Vrm0Names[i]] = w[i];
            return d;
        }
    }
}
