package org.ttc;

/**
 * The final account of a connection. {@code reason} is one of "finished",
 * "peer_closed", "shutdown", "aborted", "error", "linger"; every byte given to the
 * client is in {@code sent} or {@code unsent}; the {@code received} bytes
 * were all delivered. {@code acked} is the part of {@code sent} the
 * server's TCP acknowledged ({@code sent - acked} was written but may not
 * have arrived). {@code error} is null unless an error ended it.
 */
public final class Report {
    public final String reason;
    public final long sent;
    public final long received;
    public final long unsent;
    public final long acked;
    public final ConnectionError error;

    Report(String reason, long sent, long received, long unsent, long acked, ConnectionError error) {
        this.reason = reason;
        this.sent = sent;
        this.received = received;
        this.unsent = unsent;
        this.acked = acked;
        this.error = error;
    }

    @Override
    public String toString() {
        return reason + " (sent " + sent + ", received " + received + ", unsent " + unsent + ", acked " + acked + ")"
                + (error != null ? ": " + error : "");
    }
}
