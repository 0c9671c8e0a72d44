package org.ttc;

/**
 * An error of the connection: the phase it came from ("resolve", "connect",
 * "read", "write", ...), its kind as Rust's io::ErrorKind names it
 * ("ConnectionRefused", "TimedOut", ...), the OS error number (0 when it
 * did not come from the OS) and the system's description.
 */
public final class ConnectionError {
    public final String phase;
    public final String kind;
    public final int osCode;
    public final String message;

    ConnectionError(String phase, String kind, int osCode, String message) {
        this.phase = phase;
        this.kind = kind;
        this.osCode = osCode;
        this.message = message;
    }

    @Override
    public String toString() {
        return phase + ": " + message + " (" + kind + (osCode != 0 ? ", errno " + osCode : "") + ")";
    }
}
