package org.ttc;

/**
 * The final account of a connection. {@code reason} is one of "finished",
 * "peer_closed", "shutdown", "aborted", "error", "linger"; every byte given to the
 * client is in {@code sent} or {@code unsent}; the {@code received} bytes
 * were all delivered. {@code acked} is the part of {@code sent} the
 * server's TCP acknowledged ({@code sent - acked} was written but may not
 * have arrived). {@code error} is null unless an error ended it.
 *
 * <p>With reconnect: {@code sent} counts every connection's writes,
 * {@code resent} those written again after a reconnect, {@code acked}
 * each accepted byte once (acknowledged, or confirmed with confirmed
 * delivery): accepted = acked + (sent - resent - acked) + unsent.
 * {@code lost} is always 0. {@code connections} and {@code attempts}
 * count connections made and attempts started; {@code tlsVersion} and
 * {@code tlsCipher} name the TLS session (null without TLS).
 */
public final class Report {
    public final String reason;
    public final long sent;
    public final long received;
    public final long unsent;
    public final long acked;
    public final long resent;
    public final long lost;
    public final int connections;
    public final int attempts;
    public final String tlsVersion;
    public final String tlsCipher;
    public final ConnectionError error;

    Report(String reason, long sent, long received, long unsent, long acked, long resent, long lost,
            int connections, int attempts, String tlsVersion, String tlsCipher, ConnectionError error) {
        this.reason = reason;
        this.sent = sent;
        this.received = received;
        this.unsent = unsent;
        this.acked = acked;
        this.resent = resent;
        this.lost = lost;
        this.connections = connections;
        this.attempts = attempts;
        this.tlsVersion = tlsVersion;
        this.tlsCipher = tlsCipher;
        this.error = error;
    }

    @Override
    public String toString() {
        return reason + " (sent " + sent + ", received " + received + ", unsent " + unsent + ", acked " + acked
                + ", resent " + resent + ", connections " + connections + ", attempts " + attempts
                + (tlsVersion != null ? ", " + tlsVersion + " " + tlsCipher : "") + ")"
                + (error != null ? ": " + error : "");
    }
}
