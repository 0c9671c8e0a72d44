package android.net;

import java.io.FileDescriptor;
import java.io.IOException;

/** Test stub of android.net.Network (never shipped): counts bound sockets. */
public class Network {
    private final int netId;
    private int bound;

    /** Test only: the SDK's constructor is hidden. */
    public Network(int netId) {
        this.netId = netId;
    }

    public void bindSocket(FileDescriptor fd) throws IOException {
        if (fd == null) {
            throw new IOException("no descriptor");
        }
        synchronized (this) {
            bound++;
        }
    }

    /** Test only: sockets bound to this network. */
    public synchronized int bound() {
        return bound;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Network && ((Network) o).netId == netId;
    }

    @Override
    public int hashCode() {
        return netId;
    }

    @Override
    public String toString() {
        return Integer.toString(netId);
    }
}
