// A baked motion track in memory: what `vasa-bridge bake` wrote for one voice line, played without
// the runtime. Frame i sits at i / Fps seconds into the line's audio (media time Start + i / Fps),
// as in vasa_bridge.motion.MotionTrack. Sampling between frames is linear for the blendshapes and
// the head translation and a slerp for the head rotation (as the live client's StreamPlayer and
// vasa_bridge.motion.conversions.interpolate); before the first frame and after the last it holds
// the end frame.
using System;

namespace VasaBridge.Core
{
    public sealed class BakedTrack
    {
        public const double MaxFps = 1000.0;

        /// <summary>Frames per second.</summary>
        public readonly double Fps;
        /// <summary>Media time of frame 0, seconds (0 for a fresh bake).</summary>
        public readonly double Start;
        public readonly int FrameCount;

        readonly float[] shapes;        // (FrameCount * 52) ARKit coefficients in [0, 1], canonical order
        readonly Vec3[] rotation;       // (FrameCount) pitch, yaw, roll in degrees, protocol frame
        readonly Vec3[] translation;    // (FrameCount) metres, protocol frame
        readonly Quat[] quats;          // rotation as quaternions, so sampling slerps without Euler->quat

        /// <summary>Validates and copies: blendshapes is (frames * 52) in ARKit canonical order, headRotation
        /// and headTranslation are (frames * 3) (degrees, metres).</summary>
        public BakedTrack(double fps, double start, float[] blendshapes, float[] headRotation, float[] headTranslation)
        {
            if (double.IsNaN(fps) || !(fps > 0) || fps > MaxFps)
                throw new TrackFormatException("fps is " + fps + ": expected a number in (0, " + MaxFps + "]");
            if (double.IsNaN(start) || double.IsInfinity(start))
                throw new TrackFormatException("start is " + start + ": expected a finite number of seconds");
            if (blendshapes == null || headRotation == null || headTranslation == null)
                throw new TrackFormatException("a track needs blendshapes, headRotation and headTranslation: got null");
            if (blendshapes.Length == 0 || blendshapes.Length % ArkitNames.Count != 0)
                throw new TrackFormatException("blendshapes has " + blendshapes.Length + " values: expected a positive multiple of "
                                               + ArkitNames.Count + " (52 per frame)");
            int n = blendshapes.Length / ArkitNames.Count;
            if (headRotation.Length != n * 3)
                throw new TrackFormatException("headRotation has " + headRotation.Length + " values: expected " + (n * 3) + " (3 per frame for " + n + " frames)");
            if (headTranslation.Length != n * 3)
                throw new TrackFormatException("headTranslation has " + headTranslation.Length + " values: expected " + (n * 3) + " (3 per frame for " + n + " frames)");
            for (int i = 0; i < blendshapes.Length; i++)
            {
                float v = blendshapes[i];
                if (!(v >= 0f && v <= 1f))
                    throw new TrackFormatException("blendshape " + ArkitNames.Get(i % ArkitNames.Count) + " is " + v + " at frame "
                                                   + (i / ArkitNames.Count) + ": expected a number in [0, 1]");
            }
            CheckRange("head rotation", headRotation, MotionFrame.MaxRotationDegrees, "degrees");
            CheckRange("head translation", headTranslation, MotionFrame.MaxTranslationMetres, "metres");

            Fps = fps;
            Start = start;
            FrameCount = n;
            shapes = (float[])blendshapes.Clone();
            rotation = new Vec3[n];
            translation = new Vec3[n];
            quats = new Quat[n];
            for (int i = 0; i < n; i++)
            {
                rotation[i] = new Vec3(headRotation[3 * i], headRotation[3 * i + 1], headRotation[3 * i + 2]);
                translation[i] = new Vec3(headTranslation[3 * i], headTranslation[3 * i + 1], headTranslation[3 * i + 2]);
                quats[i] = HeadPose.EulerToQuat(rotation[i]);
            }
        }

        static void CheckRange(string what, float[] values, double limit, string unit)
        {
            for (int i = 0; i < values.Length; i++)
                if (!(Math.Abs(values[i]) <= limit))
                    throw new TrackFormatException(what + " " + "xyz"[i % 3] + " is " + values[i] + " at frame " + (i / 3)
                                                   + ": expected a number in [-" + limit + ", " + limit + "] " + unit);
        }

        /// <summary>Seconds covered by the frames (FrameCount / Fps), as MotionTrack.duration.</summary>
        public double Duration { get { return FrameCount / Fps; } }

        /// <summary>Seconds from frame 0 to the last frame: sampling past this holds the last frame.</summary>
        public double LastFrameTime { get { return (FrameCount - 1) / Fps; } }

        public float Blendshape(int frame, int arkitIndex) { return shapes[frame * ArkitNames.Count + arkitIndex]; }
        public Vec3 HeadRotation(int frame) { return rotation[frame]; }
        public Vec3 HeadTranslation(int frame) { return translation[frame]; }

        /// <summary>Frame i exactly, written into result (Pts: its media time in ns).</summary>
        public void GetFrame(int frame, MotionFrame result)
        {
            if (frame < 0 || frame >= FrameCount)
                throw new ArgumentOutOfRangeException("frame", "frame " + frame + " is outside [0, " + (FrameCount - 1) + "]");
            Array.Copy(shapes, frame * ArkitNames.Count, result.Blendshapes, 0, ArkitNames.Count);
            result.HeadRotation = rotation[frame];
            result.HeadTranslation = translation[frame];
            result.Pts = ToNs(Start + frame / Fps);
        }

        /// <summary>The motion at `seconds` into the line (its audio position), written into result
        /// without allocating: interpolated between the two frames around it, held at the ends.
        /// Pts is the media time of what was sampled (Start + the clamped seconds), in ns.</summary>
        public void Sample(double seconds, MotionFrame result)
        {
            double pos = seconds * Fps;
            if (!(pos > 0)) { GetFrame(0, result); return; }   // also NaN: the first frame
            if (pos >= FrameCount - 1) { GetFrame(FrameCount - 1, result); return; }
            int i = (int)pos;
            double t = pos - i;
            if (t == 0) { GetFrame(i, result); return; }
            float tf = (float)t;
            int a = i * ArkitNames.Count, b = a + ArkitNames.Count;
            float[] dst = result.Blendshapes;
            for (int k = 0; k < ArkitNames.Count; k++)
                dst[k] = shapes[a + k] + (shapes[b + k] - shapes[a + k]) * tf;
            result.HeadRotation = HeadPose.QuatToEuler(Quat.Slerp(quats[i], quats[i + 1], t));
            result.HeadTranslation = translation[i] + (translation[i + 1] - translation[i]) * t;
            result.Pts = ToNs(Start + pos / Fps);
        }

        static long ToNs(double seconds) { return (long)Math.Round(seconds * 1e9); }

        /// <summary>A copy of the blendshapes, (FrameCount * 52) in canonical order (for serialising).</summary>
        public float[] CopyBlendshapes() { return (float[])shapes.Clone(); }

        /// <summary>(FrameCount * 3) pitch, yaw, roll in degrees.</summary>
        public float[] CopyHeadRotation() { return Flatten(rotation); }

        /// <summary>(FrameCount * 3) x, y, z in metres.</summary>
        public float[] CopyHeadTranslation() { return Flatten(translation); }

        static float[] Flatten(Vec3[] v)
        {
            var f = new float[v.Length * 3];
            for (int i = 0; i < v.Length; i++) { f[3 * i] = (float)v[i].X; f[3 * i + 1] = (float)v[i].Y; f[3 * i + 2] = (float)v[i].Z; }
            return f;
        }
    }
}
