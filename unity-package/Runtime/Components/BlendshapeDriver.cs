using System.Collections.Generic;
using UnityEngine;
using VasaBridge.Core;

namespace VasaBridge
{
    /// <summary>Drives the blendshapes of one or more SkinnedMeshRenderers (face, teeth, tongue) from
    /// the 52 ARKit coefficients: Perfect Sync avatars, ARKit rigs, anything with matching names.
    /// Unity's weights run 0-100; the coefficient (0-1) is scaled by weightScale.</summary>
    [AddComponentMenu("vasa_bridge/Blendshape Driver (ARKit / Perfect Sync)")]
    public sealed class BlendshapeDriver : MotionConsumer
    {
        [Tooltip("Meshes to drive. Empty: every SkinnedMeshRenderer under this object with at least one matching blendshape.")]
        public SkinnedMeshRenderer[] renderers = new SkinnedMeshRenderer[0];
        [Tooltip("Optional per-model overrides and scales.")]
        public BlendshapeMapping mapping;
        [Tooltip("Unity weight for a coefficient of 1 (100 for most models).")]
        public float weightScale = 100f;

        sealed class Target
        {
            public SkinnedMeshRenderer renderer;
            public List<BlendshapeBinding> bindings;
        }

        readonly List<Target> targets = new List<Target>();

        /// <summary>How many ARKit names found a blendshape on the driven meshes.</summary>
        public int BoundCount { get; private set; }

        protected override void OnEnable()
        {
            Bind();
            base.OnEnable();
        }

        /// <summary>Re-match names (after changing meshes or the mapping).</summary>
        public void Bind()
        {
            targets.Clear();
            var found = renderers != null && renderers.Length > 0 ? renderers : GetComponentsInChildren<SkinnedMeshRenderer>(true);
            var overrides = mapping != null ? mapping.Overrides() : null;
            var scales = mapping != null ? mapping.Scales() : null;
            var covered = new HashSet<int>();
            foreach (var r in found)
            {
                if (r == null || r.sharedMesh == null) continue;
                var mesh = r.sharedMesh;
                var names = new List<string>(mesh.blendShapeCount);
                for (int i = 0; i < mesh.blendShapeCount; i++) names.Add(mesh.GetBlendShapeName(i));
                var b = NameMapping.Bind(names, overrides, scales);
                if (b.Count == 0) continue;
                targets.Add(new Target { renderer = r, bindings = b });
                foreach (var x in b) covered.Add(x.ArkitIndex);
            }
            BoundCount = covered.Count;
            if (BoundCount == 0)
                Debug.LogWarning("[vasa_bridge] BlendshapeDriver on '" + name + "': no blendshape matches an ARKit name "
                                 + "(expected names like jawOpen / JawOpen / eyeBlink_L); add a BlendshapeMapping", this);
        }

        protected override void OnMotion(MotionFrame f)
        {
            foreach (var t in targets)
            {
                if (t.renderer == null) continue;
                foreach (var b in t.bindings)
                {
                    float v = f.Blendshapes[b.ArkitIndex] * b.Scale;
                    t.renderer.SetBlendShapeWeight(b.MeshIndex, weightScale * Mathf.Clamp01(v));
                }
            }
        }
    }
}
