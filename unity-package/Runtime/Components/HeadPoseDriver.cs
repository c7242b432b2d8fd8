using UnityEngine;
using VasaBridge.Core;

namespace VasaBridge
{
    /// <summary>Turns the head (and part of it with the neck) by the runtime's head pose, converted
    /// to Unity's left-handed frame (docs/protocol.md, "Head pose"): q = Quaternion.Euler(pitch,
    /// -yaw, -roll) in the avatar's space, applied on top of the animated (or rest) pose in
    /// LateUpdate, so an Animator may run underneath.</summary>
    [AddComponentMenu("vasa_bridge/Head Pose Driver")]
    public sealed class HeadPoseDriver : MotionConsumer
    {
        [Tooltip("Humanoid avatar: head and neck bones are taken from it. Empty: use 'head' and 'neck'.")]
        public Animator animator;
        public Transform head;
        public Transform neck;
        [Tooltip("The avatar's root (its forward is the face's). Empty: this transform.")]
        public Transform avatarRoot;
        [Tooltip("Share of the rotation given to the neck; the head takes the rest.")]
        [Range(0f, 1f)] public float neckShare = 0.3f;
        [Range(0f, 2f)] public float rotationScale = 1f;
        [Tooltip("Moves this transform by the head translation (metres, x mirrored). Empty: no translation.")]
        public Transform positionTarget;
        [Range(0f, 2f)] public float positionScale = 1f;

        Quaternion target = Quaternion.identity;
        Vector3 offset;
        Quaternion headRest, neckRest;
        Vector3 positionRest;
        bool has;

        protected override void OnEnable()
        {
            if (animator != null && animator.isHuman)
            {
                if (head == null) head = animator.GetBoneTransform(HumanBodyBones.Head);
                if (neck == null) neck = animator.GetBoneTransform(HumanBodyBones.Neck);
            }
            if (avatarRoot == null) avatarRoot = transform;
            if (head != null) headRest = head.localRotation;
            if (neck != null) neckRest = neck.localRotation;
            if (positionTarget != null) positionRest = positionTarget.localPosition;
            base.OnEnable();
        }

        protected override void OnDisable()
        {
            base.OnDisable();
            if (!PoseIsAnimated())
            {
                if (head != null) head.localRotation = headRest;
                if (neck != null) neck.localRotation = neckRest;
            }
            if (positionTarget != null) positionTarget.localPosition = positionRest;
            has = false;
        }

        protected override void OnMotion(MotionFrame f)
        {
            var q = HeadPose.ToUnityRotation(f.HeadRotation);
            target = new Quaternion((float)q.X, (float)q.Y, (float)q.Z, (float)q.W);
            var p = HeadPose.ToUnityPosition(f.HeadTranslation);
            offset = new Vector3((float)p.X, (float)p.Y, (float)p.Z);
            has = true;
        }

        bool PoseIsAnimated() { return animator != null && animator.isActiveAndEnabled && animator.runtimeAnimatorController != null; }

        void LateUpdate()
        {
            if (!has || head == null) return;
            if (!PoseIsAnimated())
            {
                // Nothing resets the bones each frame: start from the rest pose, or rotations accumulate.
                head.localRotation = headRest;
                if (neck != null) neck.localRotation = neckRest;
            }
            var full = Quaternion.SlerpUnclamped(Quaternion.identity, target, rotationScale);
            var root = avatarRoot.rotation;
            var inv = Quaternion.Inverse(root);
            if (neck != null)
            {
                var part = Quaternion.Slerp(Quaternion.identity, full, neckShare);
                neck.rotation = root * part * inv * neck.rotation;
                // The head inherits the neck's turn; it adds the remainder.
                var rest = Quaternion.Inverse(part) * full;
                head.rotation = root * rest * inv * head.rotation;
            }
            else head.rotation = root * full * inv * head.rotation;
            if (positionTarget != null) positionTarget.localPosition = positionRest + offset * positionScale;
        }
    }
}
