package android.os;

import java.io.Closeable;
import java.io.FileDescriptor;
import java.io.IOException;

/** Test stub of android.os.ParcelFileDescriptor (never shipped). */
public class ParcelFileDescriptor implements Closeable {
    private final FileDescriptor fd = new FileDescriptor();

    private ParcelFileDescriptor() {
    }

    /** As the SDK's: a duplicate of fd (here: a placeholder). */
    public static ParcelFileDescriptor fromFd(int fd) throws IOException {
        if (fd < 0) {
            throw new IOException("bad descriptor " + fd);
        }
        return new ParcelFileDescriptor();
    }

    public FileDescriptor getFileDescriptor() {
        return fd;
    }

    @Override
    public void close() throws IOException {
    }
}
