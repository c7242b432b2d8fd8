using UnityEngine;
using UnityEngine.Serialization;
using VasaBridge.Core;

namespace VasaBridge
{
    /// <summary>Base of the motion components (blendshapes, VRM, head pose): follows a MotionSource —
    /// the live VasaBridgeClient or a BakedSpeechPlayer — found on this object or a parent unless set,
    /// subscribing in OnEnable and unsubscribing in OnDisable.</summary>
    public abstract class MotionConsumer : MonoBehaviour
    {
        [Tooltip("Where motion comes from: a VasaBridgeClient (live) or a BakedSpeechPlayer (baked lines). Empty: the one on this object or a parent.")]
        [FormerlySerializedAs("client")]
        public MotionSource source;

        /// <summary>The live client, when that is the source (kept for scripts written before baked playback).</summary>
        public VasaBridgeClient client
        {
            get { return source as VasaBridgeClient; }
            set { source = value; }
        }

        protected virtual void OnEnable()
        {
            if (source == null) source = GetComponentInParent<MotionSource>();
            if (source == null)
            {
                Debug.LogWarning("[vasa_bridge] " + GetType().Name + " on '" + name + "' found no VasaBridgeClient or BakedSpeechPlayer "
                                 + "on itself or a parent: add one or assign it", this);
                enabled = false;
                return;
            }
            source.MotionUpdated += OnMotion;
        }

        protected virtual void OnDisable()
        {
            if (source != null) source.MotionUpdated -= OnMotion;
        }

        protected abstract void OnMotion(MotionFrame frame);
    }
}
