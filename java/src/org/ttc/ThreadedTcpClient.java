package org.ttc;

/**
 * Kamaelia's ThreadedTCPClient for the JVM and Android (Java or Kotlin),
 * over ttc's native library (libttc.so built with the {@code jni} feature).
 * One worker thread in the library owns the socket; these calls never
 * touch it.
 *
 * <pre>{@code
 * try (ThreadedTcpClient c = new ThreadedTcpClient("192.0.2.10", 7)) {
 *     c.send("ping\n".getBytes(StandardCharsets.UTF_8));
 *     c.producerFinished();                 // half-close once it is written
 *     byte[] data;
 *     while ((data = c.receive(5000)) != null && data.length > 0) { ... }
 *     Report r = c.join();                  // r.reason, r.sent, r.acked, r.received, r.unsent
 * }
 * }</pre>
 *
 * <p>The library is loaded from the path in the system property
 * {@code ttc.library} if set, else with {@code System.loadLibrary("ttc")}
 * (java.library.path; on Android, the app's jniLibs).
 *
 * <p>Thread safety: every method may be called from any thread, as the C
 * API's calls may (a sender thread and a receiver thread is the usual
 * shape). After {@link #close} every method but close throws
 * IllegalStateException.
 */
public final class ThreadedTcpClient implements AutoCloseable {
    static {
        String path = System.getProperty("ttc.library");
        if (path != null && !path.isEmpty()) {
            System.load(path);
        } else {
            System.loadLibrary("ttc");
        }
    }

    /** A timeout that waits without limit. */
    public static final long FOREVER = -1;

    /** How to connect; the defaults are the library's. */
    public static final class Options {
        /** Written right after connecting, before anything sent (Kamaelia's initialsendmessage). */
        public byte[] initialMessage = null;
        /** Budget for resolving and connecting, ms (negative: no limit). */
        public long connectTimeoutMs = 10_000;
        /** How long queued data may wait unwritten before the connection fails, ms (negative: no limit). */
        public long writeTimeoutMs = 30_000;
        /** After producerFinished, how long to wait for the server to close, ms. */
        public long lingerMs = 5_000;
        /** TCP keepalive idle time, ms (0 or negative: off). */
        public long keepaliveMs = -1;
        /** TCP_NODELAY. */
        public boolean nodelay = true;
        /** Chunk size: 256, 1024, 4096 or 16384 bytes. */
        public int chunkSize = 1024;
        /**
         * Connect through this proxy: a URL as curl spells it, socks5://,
         * socks5h:// (the proxy resolves the host), socks4://, socks4a:// or
         * http:// (CONNECT), with optional percent-encoded user:password@
         * (null or empty: none). A bad URL is an IllegalArgumentException; a
         * failure to get through is an error of phase "proxy".
         */
        public String proxy = null;

        /** TCP keepalive: time between probes, ms (negative: the system's). */
        public long keepaliveIntervalMs = -1;
        /** TCP keepalive: unanswered probes that end the connection (0: the system's). */
        public int keepaliveCount = 0;
        /** TCP_USER_TIMEOUT: data unacknowledged this long ends the connection, ms (negative: off). */
        public long userTimeoutMs = -1;
        /** Nothing from the server this long ends the connection (phase "read", TimedOut), ms (negative: off). */
        public long idleTimeoutMs = -1;

        /**
         * Reconnect when the connection is lost: what was not delivered is
         * sent again on the next connection. The waits grow from
         * {@code backoffInitialMs} by {@code backoffFactor} up to
         * {@code backoffMaxMs} (random up to that with {@code backoffJitter});
         * {@code maxAttempts} and {@code maxElapsedMs} (negative: never) give up.
         */
        public boolean reconnect = false;
        public long backoffInitialMs = 500;
        public long backoffMaxMs = 30_000;
        public int backoffFactor = 2;
        public boolean backoffJitter = true;
        public long maxAttempts = -1;
        public long maxElapsedMs = -1;
        /** With reconnect, the most bytes kept for sending again (0: 256 KiB). */
        public long resendWindow = 0;
        /**
         * With reconnect: what the application {@link ThreadedTcpClient#confirm}s
         * is delivered, instead of what the server's TCP acknowledged.
         */
        public boolean confirmedDelivery = false;

        /** "auto" (null: the default) or "system". */
        public String resolver = null;
        /** Ask these DNS servers with the built-in client: "192.0.2.53,[2001:db8::53]:5353". */
        public String dnsServers = null;
        /** Use these IP addresses whatever the host name: "192.0.2.7,2001:db8::7". */
        public String addresses = null;
        /** A limit on resolving alone, ms (negative: only the connect budget). */
        public long resolveTimeoutMs = -1;
        /** Happy Eyeballs' connection attempt delay, ms. */
        public long attemptDelayMs = 250;
        /** Connect through this interface only (SO_BINDTODEVICE), e.g. "wlan0". */
        public String interfaceName = null;
        /** Connect from this source IP address. */
        public String sourceAddress = null;

        /**
         * Speak TLS, verifying the server against the system's roots (or
         * {@code tlsCaFile} / {@code tlsCaPem}) for the host name (or
         * {@code tlsServerName}); a client certificate from
         * {@code tlsClientCertFile} and {@code tlsClientKeyFile}; pins
         * ("sha256//BASE64", ';'-separated) and ALPN protocols
         * (comma-separated). A refused certificate is an error of phase
         * "tls" whose message starts with its reason ("unknown_issuer: ...").
         */
        public boolean tls = false;
        public String tlsCaFile = null;
        public String tlsCaPem = null;
        public String tlsClientCertFile = null;
        public String tlsClientKeyFile = null;
        public String tlsPinSha256 = null;
        public String tlsAlpn = null;
        public String tlsServerName = null;
        /** Do not verify the server at all. Tests only. */
        public boolean tlsInsecureSkipVerify = false;
    }

    private static final int OK = 0, TIMEOUT = 1, CLOSED = 3;

    private volatile long handle;

    /** Starts a client for host:port with the default options. */
    public ThreadedTcpClient(String host, int port) throws java.io.IOException {
        this(host, port, new Options());
    }

    /**
     * Starts a client for host:port. Returns at once: the connection
     * happens on the library's worker thread and is reported by
     * {@link #nextSignal}.
     *
     * @throws IllegalArgumentException for a bad option or port
     * @throws java.io.IOException when the worker cannot be started
     */
    public ThreadedTcpClient(String host, int port, Options o) throws java.io.IOException {
        confirmed = o.confirmedDelivery;
        handle = nativeSpawn(host, port, o);
    }

    private long h() {
        long x = handle;
        if (x == 0) {
            throw new IllegalStateException("ThreadedTcpClient is closed");
        }
        return x;
    }

    /**
     * Queues all of {@code data}, waiting for room as long as it takes.
     * Returns how many bytes were taken: all of them, unless the connection
     * ended first.
     */
    public int send(byte[] data) {
        return send(data, FOREVER);
    }

    /**
     * Queues {@code data}, waiting up to {@code timeoutMs} in all for room
     * (0: no wait; negative: no limit). Returns how many bytes from the
     * start were taken; they are written or counted as unsent in the
     * report, the rest was not taken.
     */
    public int send(byte[] data, long timeoutMs) {
        long r = nativeSend(h(), data, 0, data.length, timeoutMs);
        int taken = (int) (r & 0xffffffffL);
        // Kept only for confirm: without it the list would only grow.
        if (taken > 0 && confirmed) {
            synchronized (ends) {
                offset += taken;
                ends.addLast(offset);
            }
        }
        return taken;
    }

    // With confirmed delivery: where each send ends in the stream.
    private final java.util.ArrayDeque<Long> ends = new java.util.ArrayDeque<>();
    private long offset;
    private final boolean confirmed;

    /**
     * With reconnect and {@code confirmedDelivery}: the server has the
     * oldest {@code messages} sends not yet confirmed (one send call is one
     * message), as its own protocol said. After a reconnect sending starts
     * again from the first send not confirmed.
     *
     * @throws IllegalArgumentException when fewer sends are unconfirmed
     */
    public void confirm(int messages) {
        long end;
        synchronized (ends) {
            if (messages < 1 || messages > ends.size()) {
                throw new IllegalArgumentException("confirm(" + messages + "): " + ends.size() + " sends are unconfirmed");
            }
            for (int i = 1; i < messages; i++) {
                ends.removeFirst();
            }
            end = ends.removeFirst();
        }
        nativeConfirm(h(), end);
    }

    /** {@code confirm(1)}: the oldest unconfirmed send. */
    public void confirm() {
        confirm(1);
    }

    /**
     * The next bytes from the server, waiting up to {@code timeoutMs}
     * (negative: no limit): an array with at least one byte; an empty
     * array at the end of the stream (the connection ended and everything
     * was received); null when nothing came in time.
     */
    public byte[] receive(long timeoutMs) {
        return nativeRecv(h(), 64 * 1024, timeoutMs);
    }

    /** Write everything queued, half-close, keep receiving until the server closes. */
    public void producerFinished() {
        nativeControl(h(), 1);
    }

    /** Close now; what is still queued is counted as unsent. */
    public void shutdown() {
        nativeControl(h(), 2);
    }

    /** Reset the connection. */
    public void abort() {
        nativeControl(h(), 3);
    }

    /**
     * The next signal, waiting up to {@code timeoutMs} (negative: no
     * limit); null when none came in time, and (at once) after the final
     * SOCKET_SHUTDOWN was taken.
     */
    public Signal nextSignal(long timeoutMs) {
        NativeSignal s = new NativeSignal();
        int st = nativeNextSignal(h(), timeoutMs, s);
        return st == OK ? new Signal(s) : null;
    }

    /**
     * Waits for the connection to end and returns its final report (the
     * same on every call). It stops nothing itself: call producerFinished,
     * shutdown or abort first, or wait for the server to close.
     */
    public Report join() {
        NativeSignal s = new NativeSignal();
        nativeJoin(h(), s);
        return s.report();
    }

    /**
     * Frees the client, shutting the connection down if it is still
     * running (without waiting). Calls blocked in other threads return.
     * Closing again does nothing.
     */
    @Override
    public void close() {
        long x;
        synchronized (this) {
            x = handle;
            handle = 0;
        }
        if (x != 0) {
            nativeFree(x);
        }
    }

    /** The native library's version, e.g. "0.2.0". */
    public static String version() {
        return nativeVersion();
    }

    private static native long nativeSpawn(String host, int port, Options o) throws java.io.IOException;

    private static native void nativeConfirm(long handle, long bytes);

    private static native long nativeSend(long handle, byte[] data, int off, int len, long timeoutMs);

    private static native byte[] nativeRecv(long handle, int max, long timeoutMs);

    private static native void nativeControl(long handle, int which);

    private static native int nativeNextSignal(long handle, long timeoutMs, NativeSignal out);

    private static native void nativeJoin(long handle, NativeSignal out);

    private static native boolean nativeFree(long handle);

    private static native String nativeVersion();
}
