using System;

namespace VasaBridge.Core
{
    /// <summary>One instant of facial motion in the protocol's frame (docs/protocol.md, "Head pose"):
    /// 52 ARKit coefficients in canonical order, head rotation (pitch, yaw, roll in degrees) and
    /// head translation (metres), at media time Pts (ns).</summary>
    public sealed class MotionFrame
    {
        public const double MaxRotationDegrees = 180.0;
        public const double MaxTranslationMetres = 10.0;

        public readonly float[] Blendshapes = new float[ArkitNames.Count];
        public Vec3 HeadRotation;
        public Vec3 HeadTranslation;
        public long Pts;

        public float this[string arkitName]
        {
            get { return Blendshapes[ArkitNames.IndexOfOrThrow(arkitName)]; }
            set { Blendshapes[ArkitNames.IndexOfOrThrow(arkitName)] = value; }
        }

        public void CopyFrom(MotionFrame other)
        {
            Array.Copy(other.Blendshapes, Blendshapes, ArkitNames.Count);
            HeadRotation = other.HeadRotation;
            HeadTranslation = other.HeadTranslation;
            Pts = other.Pts;
        }

        public MotionFrame Clone()
        {
            var f = new MotionFrame();
            f.CopyFrom(this);
            return f;
        }

        /// <summary>The frame a fraction t of the way from a to b, written into result: linear for
        /// shapes and translation, slerp for the rotation (as vasa_bridge.motion.conversions.interpolate).</summary>
        public static void Interpolate(MotionFrame a, MotionFrame b, double t, MotionFrame result)
        {
            float tf = (float)t;
            for (int i = 0; i < ArkitNames.Count; i++)
                result.Blendshapes[i] = a.Blendshapes[i] + (b.Blendshapes[i] - a.Blendshapes[i]) * tf;
            var q = Quat.Slerp(HeadPose.EulerToQuat(a.HeadRotation), HeadPose.EulerToQuat(b.HeadRotation), t);
            result.HeadRotation = HeadPose.QuatToEuler(q);
            result.HeadTranslation = a.HeadTranslation + (b.HeadTranslation - a.HeadTranslation) * t;
            result.Pts = a.Pts + (long)Math.Round((b.Pts - a.Pts) * t);
        }
    }
}
