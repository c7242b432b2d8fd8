// Row copies from a wire frame into a texture's memory: padding dropped, optional vertical flip
// (the wire runs rows top to bottom, Unity's textures bottom to top), optional alpha conversion.
// Channel order is left alone: the texture is created as RGBA32 or BGRA32 to match the frame.
using System;

namespace VasaBridge.Core
{
    public enum AlphaConversion { None, Premultiply, Unpremultiply }

    public static class PixelCopy
    {
        /// <summary>What converts a frame's alpha mode into the one a material wants.</summary>
        public static AlphaConversion Between(AlphaMode frame, AlphaMode wanted)
        {
            if (frame == wanted) return AlphaConversion.None;
            return wanted == AlphaMode.Premultiplied ? AlphaConversion.Premultiply : AlphaConversion.Unpremultiply;
        }

        /// <summary>Copy height rows of width*4 bytes from src (rows stride bytes apart) into dst
        /// (tightly packed), flipping vertically if asked.</summary>
        public static void CopyRows(byte[] src, int stride, int width, int height, byte[] dst, bool flip,
                                    AlphaConversion alpha)
        {
            int row = width * 4;
            if (stride < row) throw new ArgumentException("stride is " + stride + ": expected at least " + row);
            if (src.Length < (long)stride * (height - 1) + row)
                throw new ArgumentException("source holds " + src.Length + " bytes: expected " + (long)stride * height);
            if (dst.Length < (long)row * height)
                throw new ArgumentException("destination holds " + dst.Length + " bytes: expected " + (long)row * height);
            for (int y = 0; y < height; y++)
            {
                int s = y * stride, d = (flip ? height - 1 - y : y) * row;
                if (alpha == AlphaConversion.None) { Buffer.BlockCopy(src, s, dst, d, row); continue; }
                for (int x = 0; x < row; x += 4)
                {
                    int a = src[s + x + 3];
                    dst[d + x + 3] = (byte)a;
                    for (int c = 0; c < 3; c++)
                        dst[d + x + c] = alpha == AlphaConversion.Premultiply
                            ? Premultiply(src[s + x + c], a) : Unpremultiply(src[s + x + c], a);
                }
            }
        }

        /// <summary>round(c * a / 255).</summary>
        public static byte Premultiply(int c, int a) { return (byte)((c * a + 127) / 255); }

        /// <summary>round(c * 255 / a), clamped (a colour above its alpha is invalid input); 0 when a = 0.</summary>
        public static byte Unpremultiply(int c, int a)
        {
            if (a == 0) return 0;
            int v = (c * 255 + a / 2) / a;
            return (byte)(v > 255 ? 255 : v);
        }
    }
}
