package android.net;

/** Test stub of android.net.ConnectivityManager (never shipped). */
public class ConnectivityManager {
    /** As the SDK's: every callback does nothing unless overridden. */
    public static class NetworkCallback {
        public NetworkCallback() {
        }

        public void onAvailable(Network network) {
        }

        public void onLost(Network network) {
        }

        public void onLinkPropertiesChanged(Network network, LinkProperties linkProperties) {
        }
    }
}
