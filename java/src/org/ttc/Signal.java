package org.ttc;

/**
 * A message on the signal outbox. A connection signals, in order:
 * CONNECTED (with {@code peer}, "host:port"), PEER_CLOSED (the server
 * closed), ERROR (with {@code error}) for each error, and always exactly
 * one SOCKET_SHUTDOWN (with the final {@code report}), last. With
 * reconnect, each connection ends with DISCONNECTED (its own
 * {@code report}) and each wait before an attempt is RECONNECTING
 * ({@code attempt}, {@code delayMs}).
 */
public final class Signal {
    public enum Kind { CONNECTED, PEER_CLOSED, ERROR, SOCKET_SHUTDOWN, DISCONNECTED, RECONNECTING, OTHER }

    public final Kind kind;
    /** CONNECTED: the server's address. */
    public final String peer;
    /** ERROR: what failed. */
    public final ConnectionError error;
    /** SOCKET_SHUTDOWN: the final report; DISCONNECTED: that connection's. */
    public final Report report;
    /** RECONNECTING: attempts since the connection was lost, this one included. */
    public final int attempt;
    /** RECONNECTING: the wait before the attempt, ms. */
    public final long delayMs;

    Signal(NativeSignal s) {
        switch (s.kind) {
            case 1: kind = Kind.CONNECTED; break;
            case 2: kind = Kind.PEER_CLOSED; break;
            case 3: kind = Kind.ERROR; break;
            case 4: kind = Kind.SOCKET_SHUTDOWN; break;
            case 5: kind = Kind.DISCONNECTED; break;
            case 6: kind = Kind.RECONNECTING; break;
            default: kind = Kind.OTHER; break;
        }
        peer = kind == Kind.CONNECTED ? s.peer : null;
        error = kind == Kind.ERROR ? s.error() : null;
        report = kind == Kind.SOCKET_SHUTDOWN || kind == Kind.DISCONNECTED ? s.report() : null;
        attempt = kind == Kind.RECONNECTING ? s.attempt : 0;
        delayMs = kind == Kind.RECONNECTING ? s.delayMs : 0;
    }

    @Override
    public String toString() {
        Object extra = peer != null ? peer : error != null ? error : report;
        return kind + (extra != null ? " " + extra : "");
    }
}
