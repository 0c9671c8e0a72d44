package android.net;

import java.util.ArrayList;
import java.util.List;

/** Test stub of android.net.LinkProperties (never shipped). */
public class LinkProperties {
    private final List<LinkAddress> addresses;

    /** Test only: link properties with these addresses. */
    public LinkProperties(List<LinkAddress> addresses) {
        this.addresses = new ArrayList<>(addresses);
    }

    public List<LinkAddress> getLinkAddresses() {
        return new ArrayList<>(addresses);
    }
}
