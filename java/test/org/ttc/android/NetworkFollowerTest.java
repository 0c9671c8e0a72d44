package org.ttc.android;

import android.net.LinkAddress;
import android.net.LinkProperties;
import android.net.Network;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.ttc.Report;
import org.ttc.Signal;
import org.ttc.ThreadedTcpClient;

/**
 * NetworkFollower on the host JVM, against the Android stubs of
 * java/test/android-stubs (no Android here): network events given by hand
 * become reconnects of a real client (a loopback server that reads each
 * connection to its end), and every socket is bound to the followed
 * network. The last line is "android: N passed, N failed".
 *
 *   java -Dttc.library=target/debug/libttc.so -cp CLASSES org.ttc.android.NetworkFollowerTest
 */
public final class NetworkFollowerTest {
    static final long WAIT_MS = 20_000;
    static int passed, failed;

    static void check(boolean ok, String what) {
        if (ok) {
            passed++;
        } else {
            failed++;
            System.err.println("FAILED: " + what);
        }
    }

    /** Signals up to the next CONNECTED; the DISCONNECTED report's reason is checked. */
    static void reconnected(ThreadedTcpClient c, String why) {
        List<Signal.Kind> kinds = new ArrayList<>();
        Signal s;
        while ((s = c.nextSignal(WAIT_MS)) != null) {
            kinds.add(s.kind);
            if (s.kind == Signal.Kind.DISCONNECTED) {
                check("network_changed".equals(s.report.reason), why + ": reason " + s.report.reason);
            }
            if (s.kind == Signal.Kind.CONNECTED) {
                break;
            }
        }
        check(kinds.equals(Arrays.asList(Signal.Kind.DISCONNECTED, Signal.Kind.RECONNECTING,
                Signal.Kind.CONNECTED)), why + ": reconnected at once, got " + kinds);
    }

    static LinkProperties addresses(String... a) {
        List<LinkAddress> l = new ArrayList<>();
        for (String s : a) {
            l.add(new LinkAddress(s));
        }
        return new LinkProperties(l);
    }

    public static void main(String[] args) throws Exception {
        try (ServerSocket listener = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            Thread server = new Thread(() -> {
                byte[] buf = new byte[4096];
                while (!listener.isClosed()) {
                    try (Socket conn = listener.accept()) {
                        while (conn.getInputStream().read(buf) >= 0) {
                            // drain
                        }
                    } catch (IOException e) {
                        // closed
                    }
                }
            });
            server.setDaemon(true);
            server.start();

            NetworkFollower follower = new NetworkFollower(true);
            ThreadedTcpClient.Options o = new ThreadedTcpClient.Options();
            o.reconnect = true;
            // A 30 s backoff: every reconnect below comes at once or not at all.
            o.backoffInitialMs = 30_000;
            o.backoffJitter = false;
            o.beforeConnect = follower;
            Network wifi = new Network(100);
            Network cell = new Network(101);
            try (ThreadedTcpClient c = new ThreadedTcpClient("127.0.0.1", listener.getLocalPort(), o)) {
                follower.follow(c);
                Signal s = c.nextSignal(WAIT_MS);
                check(s != null && s.kind == Signal.Kind.CONNECTED, "connected, got " + s);

                // The first network seen and its first link properties: no reconnect.
                follower.onAvailable(wifi);
                follower.onLinkPropertiesChanged(wifi, addresses("192.0.2.5/24"));
                follower.onLinkPropertiesChanged(wifi, addresses("192.0.2.5/24"));
                follower.onAvailable(wifi);
                check(wifi.equals(follower.network()), "follows wifi");

                // A switch: one reconnect, the socket bound to the new network.
                follower.onAvailable(cell);
                reconnected(c, "switch to cell");
                check(cell.bound() == 1 && wifi.bound() == 0, "bound to cell once: " + cell.bound() + "/" + wifi.bound());

                // Another network's properties: nothing; cell's first: nothing;
                // cell's addresses changed: one reconnect.
                follower.onLinkPropertiesChanged(wifi, addresses("192.0.2.6/24"));
                follower.onLinkPropertiesChanged(cell, addresses("198.51.100.7/32"));
                follower.onLinkPropertiesChanged(cell, addresses("198.51.100.8/32"));
                reconnected(c, "cell's address changed");
                check(cell.bound() == 2, "bound to cell again: " + cell.bound());

                // Losing another network: nothing; losing cell: one reconnect,
                // unbound (no network followed).
                follower.onLost(wifi);
                follower.onLost(cell);
                reconnected(c, "cell lost");
                check(follower.network() == null && cell.bound() == 2, "no network after the loss");

                c.shutdown();
                Report r = c.join();
                // The first connection and one for each of the three reconnects:
                // any other reconnect would have added one.
                check("shutdown".equals(r.reason) && r.connections == 4, "four connections: " + r);
            }
            // After close, events are ignored without an exception.
            boolean quiet = true;
            try {
                follower.onAvailable(wifi);
            } catch (RuntimeException e) {
                quiet = false;
            }
            check(quiet, "events after close are ignored");
        }
        System.out.println("android: " + passed + " passed, " + failed + " failed");
        System.exit(failed == 0 && passed > 0 ? 0 : 1);
    }
}
