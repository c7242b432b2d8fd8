using UnityEngine;
using VasaBridge;

namespace VasaBridge.Samples
{
    /// <summary>Put this on an avatar's root (a VRM 0.x / 1.0 model or any model with ARKit-named
    /// blendshapes) and press Play with the runtime running: it adds what the avatar needs.
    /// - a VasaBridgeClient (stream 'default' unless a settings asset says otherwise);
    /// - VRM: the expression driver of the installed UniVRM; otherwise or in addition, a
    ///   BlendshapeDriver when the meshes have ARKit / Perfect Sync names;
    /// - a HeadPoseDriver on the humanoid head and neck;
    /// - an AudioSyncPlayer so the voice plays with the face.</summary>
    public sealed class VTuberAvatarSetup : MonoBehaviour
    {
        public VasaBridgeSettings settings;
        [Tooltip("Play the runtime's voice from the avatar.")] public bool playVoice = true;

        void Awake()
        {
            gameObject.SetActive(false);  // components wire up on OnEnable: add them all first
            var client = GetComponent<VasaBridgeClient>();
            if (client == null) client = gameObject.AddComponent<VasaBridgeClient>();  // not '??': Unity's fake null
            if (settings != null) client.settings = settings;

            bool vrm = false;
#if VASA_UNIVRM1
            if (GetComponent<UniVRM10.Vrm10Instance>() != null) { gameObject.AddComponent<Vrm10ExpressionDriver>(); vrm = true; }
#endif
#if VASA_UNIVRM0
            if (!vrm && GetComponent<VRM.VRMBlendShapeProxy>() != null) { gameObject.AddComponent<Vrm0ExpressionDriver>(); vrm = true; }
#endif
            var driver = gameObject.AddComponent<BlendshapeDriver>();
            driver.Bind();
            if (driver.BoundCount == 0 || vrm && driver.BoundCount < 20) Destroy(driver);  // not a Perfect Sync model

            var animator = GetComponent<Animator>();
            if (animator != null && animator.isHuman)
            {
                var head = gameObject.AddComponent<HeadPoseDriver>();
                head.animator = animator;
            }
            if (playVoice)
            {
                if (GetComponent<AudioSource>() == null) gameObject.AddComponent<AudioSource>();
                gameObject.AddComponent<AudioSyncPlayer>();
            }
            Debug.Log("[vasa_bridge] " + name + ": " + (vrm ? "VRM expressions" : "ARKit blendshapes")
                      + (animator != null && animator.isHuman ? ", head pose" : ", no humanoid head") + (playVoice ? ", voice" : ""), this);
            gameObject.SetActive(true);
        }
    }
}
