using UnityEngine;

namespace VasaBridge
{
    /// <summary>Base of the small components: finds the client (this object or a parent unless set)
    /// and subscribes in OnEnable, unsubscribes in OnDisable.</summary>
    public abstract class ClientConsumer : MonoBehaviour
    {
        [Tooltip("The client to follow. Empty: the VasaBridgeClient on this object or a parent.")]
        public VasaBridgeClient client;

        protected virtual void OnEnable()
        {
            if (client == null) client = GetComponentInParent<VasaBridgeClient>();
            if (client == null)
            {
                Debug.LogWarning("[vasa_bridge] " + GetType().Name + " on '" + name + "' found no VasaBridgeClient on itself or a parent: "
                                 + "add one or assign it", this);
                enabled = false;
                return;
            }
            Subscribe(client);
        }

        protected virtual void OnDisable()
        {
            if (client != null) Unsubscribe(client);
        }

        protected abstract void Subscribe(VasaBridgeClient c);
        protected abstract void Unsubscribe(VasaBridgeClient c);
    }
}
