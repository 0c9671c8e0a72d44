package org.ttc.android;

import android.net.ConnectivityManager;
import android.net.LinkAddress;
import android.net.LinkProperties;
import android.net.Network;
import android.os.ParcelFileDescriptor;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import org.ttc.SocketHook;
import org.ttc.ThreadedTcpClient;

/**
 * Keeps a {@link ThreadedTcpClient} on the network Android gives it: turns
 * {@link ConnectivityManager.NetworkCallback} events into
 * {@link ThreadedTcpClient#reconnect()}, and (optionally) puts every socket
 * on the followed network before its connect ({@link Network#bindSocket}).
 * Apps cannot watch the kernel's routes themselves (Android refuses them
 * netlink), so this is how a client on a phone learns that Wi-Fi went away
 * or came back.
 *
 * <pre>{@code
 * NetworkFollower follower = new NetworkFollower(true);   // true: bind sockets to the network
 * ThreadedTcpClient.Options o = new ThreadedTcpClient.Options();
 * o.reconnect = true;                // reconnect() is ignored without it
 * o.beforeConnect = follower;        // only for binding
 * ThreadedTcpClient c = new ThreadedTcpClient("collector.example", 5000, o);
 * follower.follow(c);
 * ConnectivityManager cm = context.getSystemService(ConnectivityManager.class);
 * cm.registerDefaultNetworkCallback(follower);       // API 24; or requestNetwork(request, follower)
 * ...
 * cm.unregisterNetworkCallback(follower);
 * c.close();
 * }</pre>
 *
 * <p>What reconnects: a new network after another one (a switch) or after
 * none ({@code onAvailable}: during a backoff wait it means "try now");
 * the followed network lost ({@code onLost}: the connection on it is
 * ended at once rather than when TCP gives up); the followed network's
 * addresses changed ({@code onLinkPropertiesChanged}). The first network
 * seen, the same network again and other link property changes do not.
 * Follow one network (the default one, or one requested): the callbacks of
 * {@code registerNetworkCallback} for several networks at once would make
 * each new one a switch.
 *
 * <p>Thread safety: the callbacks come on ConnectivityManager's thread and
 * {@link #beforeConnect} on the client's worker thread; neither blocks.
 */
public class NetworkFollower extends ConnectivityManager.NetworkCallback implements SocketHook {
    private final boolean bind;
    private final Object lock = new Object();
    private ThreadedTcpClient client;
    private boolean seen;
    private Network network;
    private List<LinkAddress> addresses;

    /** Follows the network for reconnects only: sockets are not bound. */
    public NetworkFollower() {
        this(false);
    }

    /**
     * @param bindToNetwork whether {@link #beforeConnect} binds every socket to
     *     the followed network (when there is one), so that the connection goes
     *     through it even if it is not the default network.
     */
    public NetworkFollower(boolean bindToNetwork) {
        bind = bindToNetwork;
    }

    /** The client to reconnect (null: none). */
    public void follow(ThreadedTcpClient c) {
        synchronized (lock) {
            client = c;
        }
    }

    /** The network followed now, or null. */
    public Network network() {
        synchronized (lock) {
            return network;
        }
    }

    @Override
    public void onAvailable(Network n) {
        boolean again;
        synchronized (lock) {
            again = seen && !n.equals(network);
            if (!n.equals(network)) {
                addresses = null;
            }
            seen = true;
            network = n;
        }
        if (again) {
            reconnect();
        }
    }

    @Override
    public void onLost(Network n) {
        boolean followed;
        synchronized (lock) {
            followed = n.equals(network);
            if (followed) {
                network = null;
                addresses = null;
            }
        }
        if (followed) {
            reconnect();
        }
    }

    @Override
    public void onLinkPropertiesChanged(Network n, LinkProperties lp) {
        boolean moved;
        synchronized (lock) {
            if (!n.equals(network)) {
                return;
            }
            List<LinkAddress> now = new ArrayList<>(lp.getLinkAddresses());
            moved = addresses != null && !addresses.equals(now);
            addresses = now;
        }
        if (moved) {
            reconnect();
        }
    }

    /** Binds {@code fd} to the followed network (with bindToNetwork). */
    @Override
    public void beforeConnect(int fd) throws IOException {
        Network n = network();
        if (!bind || n == null) {
            return;
        }
        // A duplicate of fd, closed here: the socket itself stays open.
        try (ParcelFileDescriptor p = ParcelFileDescriptor.fromFd(fd)) {
            n.bindSocket(p.getFileDescriptor());
        }
    }

    private void reconnect() {
        ThreadedTcpClient c;
        synchronized (lock) {
            c = client;
        }
        if (c == null) {
            return;
        }
        try {
            c.reconnect();
        } catch (IllegalStateException closed) {
            // The client was closed: nothing to reconnect.
        }
    }
}
