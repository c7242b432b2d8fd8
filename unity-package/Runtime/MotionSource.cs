// What the motion components listen to: the live client (VasaBridgeClient) and the baked player
// (BakedSpeechPlayer) both raise MotionUpdated once per frame with the motion due now, so the
// blendshape, VRM and head-pose components work the same whichever drives them.
using System;
using UnityEngine;
using VasaBridge.Core;

namespace VasaBridge
{
    public abstract class MotionSource : MonoBehaviour
    {
        /// <summary>The motion due now (the frame is reused: copy what you keep), once per Update while there is some.</summary>
        public event Action<MotionFrame> MotionUpdated;

        protected void PublishMotion(MotionFrame frame)
        {
            var handler = MotionUpdated;
            if (handler != null) handler(frame);
        }
    }
}
