package android.net;

/** Test stub of android.net.LinkAddress (never shipped). */
public class LinkAddress {
    private final String address;

    /** As the SDK's LinkAddress(String): "192.0.2.5/24". */
    public LinkAddress(String address) {
        this.address = address;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LinkAddress && ((LinkAddress) o).address.equals(address);
    }

    @Override
    public int hashCode() {
        return address.hashCode();
    }

    @Override
    public String toString() {
        return address;
    }
}
