#if VASA_UNIVRM0
using System.Collections.Generic;
using UnityEngine;
using VasaBridge.Core;
using VRM;

namespace VasaBridge
{
    /// <summary>UniVRM 0.x: drives the VRMBlendShapeProxy with the VRM presets computed from the
    /// ARKit coefficients (A I U E O, Blink, Blink_L/R, Joy, Angry, Sorrow, Fun, LookUp/Down/Left/Right;
    /// docs/protocol.md "Conversions to VRM expressions"), and optionally the 52 Perfect Sync clips
    /// (custom clips named JawOpen, EyeBlinkLeft...). All values go in one SetValues call.</summary>
    [AddComponentMenu("vasa_bridge/VRM 0.x Expression Driver")]
    public sealed class Vrm0ExpressionDriver : MotionConsumer
    {
        public VRMBlendShapeProxy proxy;
        [Tooltip("Also send the 52 ARKit coefficients as Perfect Sync clips (for avatars that have them).")]
        public bool perfectSync = false;
        [Tooltip("Drive the presets (visemes, blinks, emotions, gaze).")]
        public bool presets = true;
        [Range(0f, 2f)] public float intensity = 1f;

        static readonly BlendShapePreset[] Order =
        {
            BlendShapePreset.Joy, BlendShapePreset.Angry, BlendShapePreset.Sorrow, BlendShapePreset.Fun, BlendShapePreset.Unknown,
            BlendShapePreset.A, BlendShapePreset.I, BlendShapePreset.U, BlendShapePreset.E, BlendShapePreset.O,
            BlendShapePreset.Blink, BlendShapePreset.Blink_L, BlendShapePreset.Blink_R,
            BlendShapePreset.LookUp, BlendShapePreset.LookDown, BlendShapePreset.LookLeft, BlendShapePreset.LookRight,
            BlendShapePreset.Neutral,
        };

        readonly List<KeyValuePair<BlendShapeKey, float>> values = new List<KeyValuePair<BlendShapeKey, float>>();
        readonly float[] weights = new float[VrmExpressions.Count];
        BlendShapeKey[] presetKeys;
        BlendShapeKey[] syncKeys;

        protected override void OnEnable()
        {
            if (proxy == null) proxy = GetComponentInParent<VRMBlendShapeProxy>();
            if (proxy == null)
            {
                Debug.LogWarning("[vasa_bridge] Vrm0ExpressionDriver on '" + name + "' found no VRMBlendShapeProxy: assign one", this);
                enabled = false;
                return;
            }
            presetKeys = new BlendShapeKey[VrmExpressions.Count];
            for (int i = 0; i < presetKeys.Length; i++)
                // "Surprised" is not a 0.x preset: many avatars carry it as a custom clip.
                presetKeys[i] = Order[i] == BlendShapePreset.Unknown
                    ? BlendShapeKey.CreateUnknown(VrmExpressions.Vrm0Names[i]) : BlendShapeKey.CreateFromPreset(Order[i]);
            syncKeys = new BlendShapeKey[ArkitNames.Count];
            for (int k = 0; k < syncKeys.Length; k++) syncKeys[k] = BlendShapeKey.CreateUnknown(ArkitNames.ToPascal(ArkitNames.Get(k)));
            base.OnEnable();
        }

        protected override void OnMotion(MotionFrame f)
        {
            values.Clear();
            if (presets)
            {
                VrmExpressions.ComputeVrm1(f.Blendshapes, weights);
                for (int i = 0; i < weights.Length; i++)
                    values.Add(new KeyValuePair<BlendShapeKey, float>(presetKeys[i], Mathf.Clamp01(weights[i] * intensity)));
            }
            if (perfectSync)
                for (int k = 0; k < syncKeys.Length; k++)
                    values.Add(new KeyValuePair<BlendShapeKey, float>(syncKeys[k], Mathf.Clamp01(f.Blendshapes[k] * intensity)));
            proxy.SetValues(values);
        }
    }
}
#endif
