// A baked track -> a Unity AnimationClip as a text asset (.anim, Unity's YAML), for Timeline and
// Animator: one float curve per mapped blendshape ("blendShape.<mesh name>" on the renderer's
// path, Unity weights 0-100) and a quaternion curve for the head bone, and the neck's share of
// the turn on the neck bone when one is given (m_LocalRotation, as HeadPoseDriver turns them), keys at
// the track's frames with linear tangents, so the clip plays what BakedTrack.Sample gives (up to
// the head rotation's per-component interpolation between keys, which Unity renormalises).
// Pure C#: the Editor menu (Editor/BakedSpeechClipExport.cs) only gathers paths and names.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace VasaBridge.Core
{
    public sealed class AnimClipOptions
    {
        /// <summary>The clip's name (m_Name); Unity renames it to the file name on import.</summary>
        public string ClipName = "speech";
        /// <summary>Transform path from the Animator to the SkinnedMeshRenderer ("" when they share an object).</summary>
        public string RendererPath = "";
        /// <summary>ARKit name -> the mesh's blendshape name. Null: one curve per ARKit name, named as ARKit names
        /// it; otherwise only the names in the map get a curve (MapToMesh builds it from a mesh's names).</summary>
        public IDictionary<string, string> BlendshapeNames;
        /// <summary>Unity weight for a coefficient of 1.</summary>
        public float WeightScale = 100f;
        /// <summary>Transform path from the Animator to the head bone; null or empty: no rotation curve.</summary>
        public string HeadPath;
        /// <summary>The head bone's parent rotation relative to the avatar root (Unity frame, x y z w), at rest.</summary>
        public Quat HeadParentRotation = Quat.Identity;
        /// <summary>The head bone's local rotation at rest: the pose rotates from it, as HeadPoseDriver does.</summary>
        public Quat HeadRestRotation = Quat.Identity;
        /// <summary>Scales the head rotation (0 = still, 1 = as baked).</summary>
        public double RotationScale = 1.0;
        /// <summary>Transform path to the neck bone; null or empty: the head takes the whole turn.</summary>
        public string NeckPath;
        /// <summary>Share of the turn the neck takes (HeadPoseDriver.neckShare); the head takes the rest.</summary>
        public double NeckShare = 0.3;
        /// <summary>The neck's parent rotation relative to the avatar root, at rest (then HeadParentRotation is the neck's own, at rest).</summary>
        public Quat NeckParentRotation = Quat.Identity;
        /// <summary>The neck bone's local rotation at rest.</summary>
        public Quat NeckRestRotation = Quat.Identity;
        /// <summary>Drop keys that linear interpolation between their neighbours reproduces within this
        /// (blendshape weight units, 0-100; quaternion components for the head). 0 keeps every frame.</summary>
        public double KeyTolerance = 0.0;
        public bool Loop = false;

        /// <summary>ARKit name -> mesh blendshape name for the names a mesh has (NameMapping's matching:
        /// overrides, exact, Perfect Sync, Apple raw, prefixes...); unmatched names are left out.</summary>
        public static Dictionary<string, string> MapToMesh(IList<string> meshNames, IDictionary<string, string> overrides = null)
        {
            int[] match = NameMapping.Match(meshNames, overrides);
            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            for (int k = 0; k < match.Length; k++)
                if (match[k] >= 0) map[ArkitNames.Get(k)] = meshNames[match[k]];
            return map;
        }
    }

    public static class AnimClipWriter
    {
        // Unity's TangentMode packing: bit 0 broken, bits 1-4 left mode, bits 5-8 right mode; Linear = 2.
        public const int LinearTangents = 1 | (2 << 1) | (2 << 5);
        public const int SkinnedMeshRendererClassId = 137;
        public const int TransformClassId = 4;

        /// <summary>The head's local rotation (Unity frame) for a baked head rotation (degrees, protocol
        /// frame): the avatar-space turn D = Quaternion.Euler(pitch, -yaw, -roll) applied as HeadPoseDriver
        /// does, local = P^-1 D P L, P the parent's rotation relative to the root, L the rest rotation.</summary>
        public static Quat HeadLocalRotation(Vec3 euler, AnimClipOptions o)
        {
            var d = Turn(euler, o);
            // With a neck, the head's parent has already turned by the neck's part N: the head adds
            // N^-1 D, as HeadPoseDriver does (head.rotation = root * rest * root^-1 * head.rotation).
            if (HasNeck(o)) d = Inverse(NeckTurn(d, o)) * d;
            return Local(d, o.HeadParentRotation, o.HeadRestRotation);
        }

        /// <summary>The neck's local rotation: its share of the turn, N = slerp(1, D, NeckShare), on its rest rotation.</summary>
        public static Quat NeckLocalRotation(Vec3 euler, AnimClipOptions o)
        {
            return Local(NeckTurn(Turn(euler, o), o), o.NeckParentRotation, o.NeckRestRotation);
        }

        static bool HasNeck(AnimClipOptions o) { return !string.IsNullOrEmpty(o.NeckPath); }

        // The turn in the avatar's space: Quaternion.Euler(pitch, -yaw, -roll), scaled.
        static Quat Turn(Vec3 euler, AnimClipOptions o)
        {
            var d = HeadPose.ToUnityRotation(euler);
            return o.RotationScale != 1.0 ? Quat.Slerp(Quat.Identity, d, o.RotationScale) : d;
        }

        static Quat NeckTurn(Quat d, AnimClipOptions o) { return Quat.Slerp(Quat.Identity, d, o.NeckShare); }

        static Quat Inverse(Quat q) { q = q.Normalized(); return new Quat(-q.X, -q.Y, -q.Z, q.W); }

        // A turn t in the root's frame applied to a bone whose parent sits at p (root-relative) and
        // whose local rest rotation is rest: local = p^-1 t p rest.
        static Quat Local(Quat t, Quat parent, Quat rest)
        {
            var p = parent.Normalized();
            return (Inverse(p) * t * p * rest.Normalized()).Normalized();
        }

        public static string Write(BakedTrack track, AnimClipOptions o)
        {
            if (track == null) throw new ArgumentNullException("track");
            if (o == null) o = new AnimClipOptions();
            if (!(o.KeyTolerance >= 0)) throw new ArgumentOutOfRangeException("KeyTolerance", "KeyTolerance is " + o.KeyTolerance + ": expected >= 0");
            int n = track.FrameCount;
            var times = new double[n];
            for (int i = 0; i < n; i++) times[i] = i / track.Fps;

            // Blendshape curves, in ARKit order.
            var floatCurves = new List<Curve>();
            for (int k = 0; k < ArkitNames.Count; k++)
            {
                string arkit = ArkitNames.Get(k), mesh = arkit;
                if (o.BlendshapeNames != null && (!o.BlendshapeNames.TryGetValue(arkit, out mesh) || string.IsNullOrEmpty(mesh))) continue;
                var v = new double[n];
                for (int i = 0; i < n; i++) v[i] = o.WeightScale * track.Blendshape(i, k);
                floatCurves.Add(new Curve("blendShape." + mesh, o.RendererPath ?? "", SkinnedMeshRendererClassId, times, new[] { v }, o.KeyTolerance));
            }

            var rotations = new List<Curve>();
            if (!string.IsNullOrEmpty(o.HeadPath))
            {
                if (HasNeck(o)) rotations.Add(RotationCurve(track, times, o.NeckPath, e => NeckLocalRotation(e, o), o.KeyTolerance));
                rotations.Add(RotationCurve(track, times, o.HeadPath, e => HeadLocalRotation(e, o), o.KeyTolerance));
            }

            var w = new Yaml();
            w.Line(0, "%YAML 1.1");
            w.Line(0, "%TAG !u! tag:unity3d.com,2011:");
            w.Line(0, "--- !u!74 &7400000");
            w.Line(0, "AnimationClip:");
            w.Line(1, "m_ObjectHideFlags: 0");
            w.Line(1, "m_CorrespondingSourceObject: {fileID: 0}");
            w.Line(1, "m_PrefabInstance: {fileID: 0}");
            w.Line(1, "m_PrefabAsset: {fileID: 0}");
            w.Line(1, "m_Name: " + Quote(o.ClipName));
            w.Line(1, "serializedVersion: 6");
            w.Line(1, "m_Legacy: 0");
            w.Line(1, "m_Compressed: 0");
            w.Line(1, "m_UseHighQualityCurve: 1");
            if (rotations.Count == 0) w.Line(1, "m_RotationCurves: []");
            else
            {
                w.Line(1, "m_RotationCurves:");
                foreach (var r in rotations) WriteQuaternionCurve(w, r);
            }
            w.Line(1, "m_CompressedRotationCurves: []");
            w.Line(1, "m_EulerCurves: []");
            w.Line(1, "m_PositionCurves: []");
            w.Line(1, "m_ScaleCurves: []");
            WriteFloatCurves(w, "m_FloatCurves", floatCurves, new List<Curve>());
            w.Line(1, "m_PPtrCurves: []");
            w.Line(1, "m_SampleRate: " + Num(track.Fps));
            w.Line(1, "m_WrapMode: 0");
            w.Line(1, "m_Bounds:");
            w.Line(2, "m_Center: {x: 0, y: 0, z: 0}");
            w.Line(2, "m_Extent: {x: 0, y: 0, z: 0}");
            w.Line(1, "m_ClipBindingConstant:");
            w.Line(2, "genericBindings: []");
            w.Line(2, "pptrCurveMapping: []");
            w.Line(1, "m_AnimationClipSettings:");
            w.Line(2, "serializedVersion: 2");
            w.Line(2, "m_AdditiveReferencePoseClip: {fileID: 0}");
            w.Line(2, "m_AdditiveReferencePoseTime: 0");
            w.Line(2, "m_StartTime: 0");
            w.Line(2, "m_StopTime: " + Num(times[n - 1]));
            w.Line(2, "m_OrientationOffsetY: 0");
            w.Line(2, "m_Level: 0");
            w.Line(2, "m_CycleOffset: 0");
            w.Line(2, "m_HasAdditiveReferencePose: 0");
            w.Line(2, "m_LoopTime: " + (o.Loop ? 1 : 0));
            w.Line(2, "m_LoopBlend: 0");
            w.Line(2, "m_LoopBlendOrientation: 0");
            w.Line(2, "m_LoopBlendPositionY: 0");
            w.Line(2, "m_LoopBlendPositionXZ: 0");
            w.Line(2, "m_KeepOriginalOrientation: 0");
            w.Line(2, "m_KeepOriginalPositionY: 1");
            w.Line(2, "m_KeepOriginalPositionXZ: 0");
            w.Line(2, "m_HeightFromFeet: 0");
            w.Line(2, "m_Mirror: 0");
            // The editor's copy of the curves (what the Animation window shows and edits).
            WriteFloatCurves(w, "m_EditorCurves", floatCurves, rotations);
            w.Line(1, "m_EulerEditorCurves: []");
            w.Line(1, "m_HasGenericRootTransform: 0");
            w.Line(1, "m_HasMotionFloatCurves: 0");
            w.Line(1, "m_Events: []");
            return w.ToString();
        }

        static readonly string[] QuatComponents = { "x", "y", "z", "w" };

        static Curve RotationCurve(BakedTrack track, double[] times, string path, Func<Vec3, Quat> local, double tolerance)
        {
            int n = track.FrameCount;
            var q = new double[4][];
            for (int c = 0; c < 4; c++) q[c] = new double[n];
            Quat prev = Quat.Identity;
            for (int i = 0; i < n; i++)
            {
                var r = local(track.HeadRotation(i));
                if (i > 0 && Quat.Dot(prev, r) < 0) r = new Quat(-r.X, -r.Y, -r.Z, -r.W);  // no sign flips between keys
                prev = r;
                q[0][i] = r.X; q[1][i] = r.Y; q[2][i] = r.Z; q[3][i] = r.W;
            }
            return new Curve("m_LocalRotation", path, TransformClassId, times, q, tolerance);
        }

        // Float curves, then each rotation as four float curves (the editor's view of a quaternion curve).
        static void WriteFloatCurves(Yaml w, string field, List<Curve> curves, List<Curve> rotations)
        {
            if (curves.Count == 0 && rotations.Count == 0) { w.Line(1, field + ": []"); return; }
            w.Line(1, field + ":");
            foreach (var c in curves) WriteFloatCurve(w, c, 0, c.Attribute);
            foreach (var r in rotations)
                for (int k = 0; k < 4; k++) WriteFloatCurve(w, r, k, r.Attribute + "." + QuatComponents[k]);
        }

        static void WriteFloatCurve(Yaml w, Curve c, int component, string attribute)
        {
            w.Line(1, "- curve:");
            w.Line(3, "serializedVersion: 2");
            w.Line(3, "m_Curve:");
            var v = c.Values[component];
            for (int j = 0; j < c.Keys.Count; j++)
            {
                double inSlope, outSlope;
                c.Slopes(component, j, out inSlope, out outSlope);
                int i = c.Keys[j];
                w.Line(3, "- serializedVersion: 3");
                w.Line(4, "time: " + Num(c.Times[i]));
                w.Line(4, "value: " + Num(v[i]));
                w.Line(4, "inSlope: " + Num(inSlope));
                w.Line(4, "outSlope: " + Num(outSlope));
                w.Line(4, "tangentMode: " + LinearTangents);
                w.Line(4, "weightedMode: 0");
                w.Line(4, "inWeight: 0.33333334");
                w.Line(4, "outWeight: 0.33333334");
            }
            w.Line(3, "m_PreInfinity: 2");
            w.Line(3, "m_PostInfinity: 2");
            w.Line(3, "m_RotationOrder: 4");
            w.Line(2, "attribute: " + Quote(attribute));
            w.Line(2, "path: " + Quote(c.Path));
            w.Line(2, "classID: " + c.ClassId);
            w.Line(2, "script: {fileID: 0}");
        }

        static void WriteQuaternionCurve(Yaml w, Curve c)
        {
            w.Line(1, "- curve:");
            w.Line(3, "serializedVersion: 2");
            w.Line(3, "m_Curve:");
            var ins = new double[4];
            var outs = new double[4];
            for (int j = 0; j < c.Keys.Count; j++)
            {
                for (int k = 0; k < 4; k++) c.Slopes(k, j, out ins[k], out outs[k]);
                int i = c.Keys[j];
                w.Line(3, "- serializedVersion: 3");
                w.Line(4, "time: " + Num(c.Times[i]));
                w.Line(4, "value: " + Xyzw(c.Values[0][i], c.Values[1][i], c.Values[2][i], c.Values[3][i]));
                w.Line(4, "inSlope: " + Xyzw(ins[0], ins[1], ins[2], ins[3]));
                w.Line(4, "outSlope: " + Xyzw(outs[0], outs[1], outs[2], outs[3]));
                w.Line(4, "tangentMode: 0");
                w.Line(4, "weightedMode: 0");
                w.Line(4, "inWeight: {x: 0.33333334, y: 0.33333334, z: 0.33333334, w: 0.33333334}");
                w.Line(4, "outWeight: {x: 0.33333334, y: 0.33333334, z: 0.33333334, w: 0.33333334}");
            }
            w.Line(3, "m_PreInfinity: 2");
            w.Line(3, "m_PostInfinity: 2");
            w.Line(3, "m_RotationOrder: 4");
            w.Line(2, "path: " + Quote(c.Path));
        }

        static string Xyzw(double x, double y, double z, double ww)
        {
            return "{x: " + Num(x) + ", y: " + Num(y) + ", z: " + Num(z) + ", w: " + Num(ww) + "}";
        }

        /// <summary>Fixed-point, invariant culture, no exponent: exact to 1e-9.</summary>
        public static string Num(double v)
        {
            if (Math.Abs(v) < 5e-10) return "0";
            return v.ToString("0.#########", CultureInfo.InvariantCulture);
        }

        // YAML plain scalars cannot start with these or contain ": " / " #"; quote such names.
        static string Quote(string s)
        {
            if (s == null) s = "";
            bool plain = s.Length > 0 && "-?:,[]{}#&*!|>'\"%@`".IndexOf(s[0]) < 0 && !s.Contains(": ") && !s.Contains(" #")
                         && s.Trim() == s;
            if (plain || s.Length == 0) return s;
            return "'" + s.Replace("'", "''") + "'";
        }

        /// <summary>One curve (one or several components sharing key times) and the keys it keeps.</summary>
        sealed class Curve
        {
            public readonly string Attribute, Path;
            public readonly int ClassId;
            public readonly double[] Times;
            public readonly double[][] Values;
            public readonly List<int> Keys;

            public Curve(string attribute, string path, int classId, double[] times, double[][] values, double tolerance)
            {
                Attribute = attribute; Path = path; ClassId = classId; Times = times; Values = values;
                Keys = Reduce(times, values, tolerance);
            }

            /// <summary>Slopes of the straight lines to the neighbouring kept keys (0 past the ends).</summary>
            public void Slopes(int component, int j, out double inSlope, out double outSlope)
            {
                var v = Values[component];
                int i = Keys[j];
                inSlope = j > 0 ? (v[i] - v[Keys[j - 1]]) / (Times[i] - Times[Keys[j - 1]]) : 0;
                outSlope = j + 1 < Keys.Count ? (v[Keys[j + 1]] - v[i]) / (Times[Keys[j + 1]] - Times[i]) : 0;
                if (j == 0) inSlope = outSlope;
                if (j + 1 == Keys.Count) outSlope = inSlope;
            }

            /// <summary>Greedy: from the last kept key, extend the straight segment as far as every frame it
            /// skips stays within tolerance (all components); keep the frame before the first that does not.</summary>
            static List<int> Reduce(double[] t, double[][] v, double tolerance)
            {
                int n = t.Length;
                var keys = new List<int> { 0 };
                if (n == 1) return keys;
                if (tolerance <= 0)
                {
                    for (int i = 1; i < n; i++) keys.Add(i);
                    return keys;
                }
                int last = 0;
                for (int end = 2; end < n; end++)
                {
                    if (!Fits(t, v, last, end, tolerance))
                    {
                        last = end - 1;
                        keys.Add(last);
                    }
                }
                keys.Add(n - 1);
                return keys;
            }

            static bool Fits(double[] t, double[][] v, int a, int b, double tolerance)
            {
                for (int i = a + 1; i < b; i++)
                {
                    double f = (t[i] - t[a]) / (t[b] - t[a]);
                    foreach (var c in v)
                        if (Math.Abs(c[a] + (c[b] - c[a]) * f - c[i]) > tolerance) return false;
                }
                return true;
            }
        }

        sealed class Yaml
        {
            readonly StringBuilder sb = new StringBuilder(1 << 16);
            public void Line(int indent, string text) { sb.Append(' ', indent * 2).Append(text).Append('\n'); }
            public override string ToString() { return sb.ToString(); }
        }
    }
}
