using Unity.Collections;
using UnityEngine;
using UnityEngine.UI;
using VasaBridge.Core;

namespace VasaBridge
{
    /// <summary>Shows the runtime's rendered frames: a Texture2D in the frame's own channel order
    /// (RGBA32 or BGRA32, so no swizzle), filled through GetRawTextureData&lt;byte&gt; and Apply(false),
    /// rows flipped (the wire runs top to bottom, Unity bottom to top), alpha converted to what the
    /// material expects. Targets: a RawImage, a renderer's material property, a RenderTexture.</summary>
    [AddComponentMenu("vasa_bridge/Frame Texture Driver")]
    public sealed class FrameTextureDriver : ClientConsumer
    {
        [Tooltip("UI target.")] public RawImage rawImage;
        [Tooltip("3D target (a quad or a screen mesh).")] public Renderer targetRenderer;
        [Tooltip("Texture property of targetRenderer's material: _MainTex (built-in), _BaseMap (URP/HDRP).")]
        public string textureProperty = "_MainTex";
        [Tooltip("Also blit every frame into this RenderTexture.")] public RenderTexture renderTexture;
        [Tooltip("What the material expects: straight for the usual alpha blending (SrcAlpha, OneMinusSrcAlpha), premultiplied for One, OneMinusSrcAlpha.")]
        public AlphaMode materialAlpha = AlphaMode.Straight;
        public bool flipVertically = true;
        public FilterMode filterMode = FilterMode.Bilinear;

        Texture2D texture;
        byte[] scratch = new byte[0];
        MaterialPropertyBlock block;

        /// <summary>The texture frames are written into (recreated when the size or format changes).</summary>
        public Texture2D Texture { get { return texture; } }
        public long FramesShown { get; private set; }

        protected override void Subscribe(VasaBridgeClient c) { c.FrameReady += Show; }
        protected override void Unsubscribe(VasaBridgeClient c) { c.FrameReady -= Show; }

        protected override void OnDisable()
        {
            base.OnDisable();
            if (texture != null) Destroy(texture);
            texture = null;
        }

        void Show(FrameMessage f)
        {
            var format = f.Format == PixelFormat.Rgba8 ? TextureFormat.RGBA32 : TextureFormat.BGRA32;
            if (texture == null || texture.width != f.Width || texture.height != f.Height || texture.format != format)
            {
                if (texture != null) Destroy(texture);
                texture = new Texture2D(f.Width, f.Height, format, false);
                texture.name = "vasa_bridge frame";
                texture.wrapMode = TextureWrapMode.Clamp;
                texture.filterMode = filterMode;
                Bind();
            }
            NativeArray<byte> dst = texture.GetRawTextureData<byte>();
            int row = f.Width * 4;
            var alpha = PixelCopy.Between(f.Alpha, materialAlpha);
            if (alpha == AlphaConversion.None)
            {
                // Straight from the payload, one row at a time: no intermediate copy.
                for (int y = 0; y < f.Height; y++)
                    NativeArray<byte>.Copy(f.Payload, y * f.Stride, dst, (flipVertically ? f.Height - 1 - y : y) * row, row);
            }
            else
            {
                int size = row * f.Height;
                if (scratch.Length != size) scratch = new byte[size];
                PixelCopy.CopyRows(f.Payload, f.Stride, f.Width, f.Height, scratch, flipVertically, alpha);
                NativeArray<byte>.Copy(scratch, dst, size);
            }
            texture.Apply(false);
            if (renderTexture != null) Graphics.Blit(texture, renderTexture);
            FramesShown++;
        }

        void Bind()
        {
            if (rawImage != null) rawImage.texture = texture;
            if (targetRenderer != null)
            {
                if (block == null) block = new MaterialPropertyBlock();
                targetRenderer.GetPropertyBlock(block);
                block.SetTexture(textureProperty, texture);
                targetRenderer.SetPropertyBlock(block);
            }
        }
    }
}
