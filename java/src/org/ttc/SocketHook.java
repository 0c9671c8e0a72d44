package org.ttc;

/**
 * Called with every socket's file descriptor after the socket is made and
 * before its connect ({@link ThreadedTcpClient.Options#beforeConnect}):
 * each address tried, on every connection with reconnect, and the socket
 * to a proxy. This is where a socket is put on a chosen network. On
 * Android:
 *
 * <pre>{@code
 * o.beforeConnect = fd -> {
 *     try (ParcelFileDescriptor p = ParcelFileDescriptor.fromFd(fd)) {  // a dup: fd stays open
 *         network.bindSocket(p.getFileDescriptor());
 *     }
 * };
 * }</pre>
 *
 * <p>It runs on the library's worker thread (attached to the JVM as a
 * daemon thread), so it must be thread-safe and return quickly (the
 * connect budget runs). It must not close {@code fd} or keep it. An
 * exception it throws (any, not only IOException) fails that attempt:
 * an ERROR signal of phase "connect" whose message is "pre-connect hook: "
 * and the exception's message.
 */
@FunctionalInterface
public interface SocketHook {
    /** Prepares the socket {@code fd} before its connect. */
    void beforeConnect(int fd) throws java.io.IOException;
}
