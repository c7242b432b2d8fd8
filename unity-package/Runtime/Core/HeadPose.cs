// Head pose maths without UnityEngine (docs/protocol.md, "Head pose").
// Protocol frame: right-handed, x = viewer's right, y up, z towards the camera;
// R = Ry(yaw) Rx(pitch) Rz(roll), q = qy(yaw) qx(pitch) qz(roll), quaternions (x, y, z, w).
// Unity (left-handed, the avatar faces +z, its right is +x) mirrors x:
// q_unity = (qx, -qy, -qz, qw) = Quaternion.Euler(pitch, -yaw, -roll); position (-x, y, z).
using System;

namespace VasaBridge.Core
{
    public struct Vec3
    {
        public double X, Y, Z;
        public Vec3(double x, double y, double z) { X = x; Y = y; Z = z; }

        public double this[int i]
        {
            get { return i == 0 ? X : i == 1 ? Y : Z; }
        }

        public static Vec3 operator +(Vec3 a, Vec3 b) { return new Vec3(a.X + b.X, a.Y + b.Y, a.Z + b.Z); }
        public static Vec3 operator -(Vec3 a, Vec3 b) { return new Vec3(a.X - b.X, a.Y - b.Y, a.Z - b.Z); }
        public static Vec3 operator *(Vec3 a, double s) { return new Vec3(a.X * s, a.Y * s, a.Z * s); }
        public override string ToString() { return "(" + X + ", " + Y + ", " + Z + ")"; }
    }

    public struct Quat
    {
        public double X, Y, Z, W;
        public Quat(double x, double y, double z, double w) { X = x; Y = y; Z = z; W = w; }

        public static readonly Quat Identity = new Quat(0, 0, 0, 1);

        /// <summary>Hamilton product a * b (apply b, then a).</summary>
        public static Quat operator *(Quat a, Quat b)
        {
            return new Quat(
                a.W * b.X + a.X * b.W + a.Y * b.Z - a.Z * b.Y,
                a.W * b.Y - a.X * b.Z + a.Y * b.W + a.Z * b.X,
                a.W * b.Z + a.X * b.Y - a.Y * b.X + a.Z * b.W,
                a.W * b.W - a.X * b.X - a.Y * b.Y - a.Z * b.Z);
        }

        public static Quat AngleAxis(double degrees, Vec3 axis)
        {
            double h = degrees * Math.PI / 360.0, s = Math.Sin(h);
            return new Quat(axis.X * s, axis.Y * s, axis.Z * s, Math.Cos(h));
        }

        public static double Dot(Quat a, Quat b) { return a.X * b.X + a.Y * b.Y + a.Z * b.Z + a.W * b.W; }

        public Quat Normalized()
        {
            double n = Math.Sqrt(Dot(this, this));
            return new Quat(X / n, Y / n, Z / n, W / n);
        }

        /// <summary>Shortest-arc spherical interpolation (as conversions.slerp).</summary>
        public static Quat Slerp(Quat a, Quat b, double t)
        {
            double dot = Dot(a, b);
            if (dot < 0) { b = new Quat(-b.X, -b.Y, -b.Z, -b.W); dot = -dot; }
            double theta = Math.Acos(Math.Min(1.0, dot)), s = Math.Sin(theta);
            double wa, wb;
            if (s < 1e-6) { wa = 1 - t; wb = t; }
            else { wa = Math.Sin((1 - t) * theta) / s; wb = Math.Sin(t * theta) / s; }
            return new Quat(wa * a.X + wb * b.X, wa * a.Y + wb * b.Y, wa * a.Z + wb * b.Z, wa * a.W + wb * b.W)
                .Normalized();
        }

        public override string ToString() { return "(" + X + ", " + Y + ", " + Z + ", " + W + ")"; }
    }

    public static class HeadPose
    {
        /// <summary>(pitch, yaw, roll) degrees -> q = qy(yaw) qx(pitch) qz(roll), protocol frame.</summary>
        public static Quat EulerToQuat(Vec3 euler)
        {
            double hp = euler.X * Math.PI / 360.0, hy = euler.Y * Math.PI / 360.0, hr = euler.Z * Math.PI / 360.0;
            double cp = Math.Cos(hp), sp = Math.Sin(hp), cy = Math.Cos(hy), sy = Math.Sin(hy);
            double cr = Math.Cos(hr), sr = Math.Sin(hr);
            return new Quat(
                cy * sp * cr + sy * cp * sr,
                sy * cp * cr - cy * sp * sr,
                cy * cp * sr - sy * sp * cr,
                cy * cp * cr + sy * sp * sr);
        }

        /// <summary>Inverse of EulerToQuat: with R = Ry Rx Rz, R[1,2] = -sin(pitch),
        /// R[0,2] / R[2,2] = tan(yaw), R[1,0] / R[1,1] = tan(roll).</summary>
        public static Vec3 QuatToEuler(Quat q)
        {
            q = q.Normalized();
            double x = q.X, y = q.Y, z = q.Z, w = q.W;
            double m12 = 2 * (y * z - x * w);
            double m02 = 2 * (x * z + y * w), m22 = 1 - 2 * (x * x + y * y);
            double m10 = 2 * (x * y + z * w), m11 = 1 - 2 * (x * x + z * z);
            const double deg = 180.0 / Math.PI;
            return new Vec3(Math.Asin(Math.Max(-1.0, Math.Min(1.0, -m12))) * deg,
                            Math.Atan2(m02, m22) * deg, Math.Atan2(m10, m11) * deg);
        }

        /// <summary>Head rotation in Unity's left-handed frame, (x, y, z, w).</summary>
        public static Quat ToUnityRotation(Vec3 euler)
        {
            var q = EulerToQuat(euler);
            return new Quat(q.X, -q.Y, -q.Z, q.W);
        }

        /// <summary>The Euler angles to pass to Unity's Quaternion.Euler for the same rotation.</summary>
        public static Vec3 ToUnityEuler(Vec3 euler) { return new Vec3(euler.X, -euler.Y, -euler.Z); }

        /// <summary>Head translation in Unity's frame (metres): x mirrors.</summary>
        public static Vec3 ToUnityPosition(Vec3 translation)
        {
            return new Vec3(-translation.X, translation.Y, translation.Z);
        }
    }
}
