package org.ttc;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.ByteArrayOutputStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * ThreadedTcpClient on the host JVM against the project's test peers
 * (`ttc serve` echo, sink, fortune on loopback): bytes and final reports
 * asserted. No test framework: each check counts, the last line is
 * "java: N passed, N failed", and the exit status is non-zero on any
 * failure.
 *
 * Then reconnect with confirmed delivery across a server restart (an
 * in-process server), and TLS against `openssl s_server -rev` with the
 * certificates of ffi/tests/make-pki.sh (a CA file; a wrong CA refused).
 *
 *   java -Dttc.library=target/debug/libttc.so -cp CLASSES org.ttc.ClientTest TTC_BINARY PKI_DIR
 */
public final class ClientTest {
    /** Generous: the machine may be loaded. */
    static final long WAIT_MS = 20_000;
    static int passed, failed;
    static String ttcBinary;
    /** The directory of ffi/tests/make-pki.sh's certificates. */
    static String pki;

    static void check(boolean ok, String what) {
        if (ok) {
            passed++;
        } else {
            failed++;
            System.err.println("FAILED: " + what);
        }
    }

    /** `ttc serve KIND` on 127.0.0.1; its "closed ..." lines, as they come. */
    static final class Peer implements AutoCloseable {
        final Process proc;
        final int port;
        final BlockingQueue<String> closed = new LinkedBlockingQueue<>();

        Peer(String kind) throws Exception {
            proc = new ProcessBuilder(ttcBinary, "serve", kind, "--port", "0", "--bind", "127.0.0.1")
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            BufferedReader r = new BufferedReader(new InputStreamReader(proc.getInputStream(), StandardCharsets.UTF_8));
            String first = r.readLine();
            Matcher m = Pattern.compile("listening 127\\.0\\.0\\.1:(\\d+) ").matcher(first == null ? "" : first);
            if (!m.find()) {
                throw new IllegalStateException("ttc serve said: " + first);
            }
            port = Integer.parseInt(m.group(1));
            Thread t = new Thread(() -> {
                try {
                    String line;
                    while ((line = r.readLine()) != null) {
                        if (line.startsWith("closed ")) {
                            closed.add(line);
                        }
                    }
                } catch (Exception e) {
                    // the peer was stopped
                }
            });
            t.setDaemon(true);
            t.start();
        }

        /** The next "closed ... received=N sent=N hash=H" line, or "" if none came in time. */
        String nextReport() throws InterruptedException {
            String line = closed.poll(WAIT_MS, TimeUnit.MILLISECONDS);
            return line == null ? "" : line;
        }

        @Override
        public void close() {
            proc.destroy();
            try {
                proc.waitFor(WAIT_MS, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    static String fnv1a(byte[] data) {
        long h = 0xcbf29ce484222325L;
        for (byte b : data) {
            h ^= (b & 0xff);
            h *= 0x100000001b3L;
        }
        return String.format("%016x", h);
    }

    static byte[] receiveAll(ThreadedTcpClient c) {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        while (true) {
            byte[] d = c.receive(WAIT_MS);
            if (d == null) {
                check(false, "receive timed out before the end of the stream");
                return got.toByteArray();
            }
            if (d.length == 0) {
                return got.toByteArray();
            }
            got.write(d, 0, d.length);
        }
    }

    static List<Signal> signals(ThreadedTcpClient c) {
        List<Signal> all = new ArrayList<>();
        Signal s;
        while ((s = c.nextSignal(WAIT_MS)) != null) {
            all.add(s);
            if (s.kind == Signal.Kind.SOCKET_SHUTDOWN) {
                check(c.nextSignal(0) == null, "nothing after the final signal");
                break;
            }
        }
        return all;
    }

    static void echoIsByteExactWithInitialMessage() throws Exception {
        try (Peer echo = new Peer("echo")) {
            byte[] data = new byte[200_000];
            new Random(16).nextBytes(data);
            ThreadedTcpClient.Options o = new ThreadedTcpClient.Options();
            o.initialMessage = "HELLO ".getBytes(StandardCharsets.UTF_8);
            o.chunkSize = 4096;
            try (ThreadedTcpClient c = new ThreadedTcpClient("127.0.0.1", echo.port, o)) {
                Signal first = c.nextSignal(WAIT_MS);
                check(first != null && first.kind == Signal.Kind.CONNECTED, "echo: connected first: " + first);
                check(first != null && ("127.0.0.1:" + echo.port).equals(first.peer), "echo: peer address " + first);
                Thread producer = new Thread(() -> {
                    check(c.send(data) == data.length, "echo: every byte taken");
                    c.producerFinished();
                });
                producer.start();
                byte[] got = receiveAll(c);
                producer.join(WAIT_MS);
                byte[] want = new byte[data.length + 6];
                System.arraycopy(o.initialMessage, 0, want, 0, 6);
                System.arraycopy(data, 0, want, 6, data.length);
                check(Arrays.equals(got, want), "echo: byte-exact (" + got.length + " of " + want.length + " bytes)");
                Report r = c.join();
                check(r.reason.equals("finished"), "echo: reason " + r);
                check(r.sent == want.length && r.received == want.length && r.unsent == 0, "echo: counts " + r);
                // The echo server read and answered every byte: all acknowledged.
                check(r.acked == r.sent, "echo: everything acknowledged " + r);
                check(r.error == null, "echo: no error " + r);
                check(c.join().sent == r.sent, "echo: join again gives the same report");
                List<Signal> rest = signals(c);
                Signal last = rest.isEmpty() ? null : rest.get(rest.size() - 1);
                check(last != null && last.kind == Signal.Kind.SOCKET_SHUTDOWN && last.report.sent == r.sent,
                        "echo: final signal carries the report: " + rest);
            }
            String line = echo.nextReport();
            check(line.contains(" received=200006 sent=200006 "), "echo: server saw it all: " + line);
        }
    }

    static void sinkGetsEveryByteHashChecked() throws Exception {
        try (Peer sink = new Peer("sink")) {
            byte[] data = new byte[1_000_000];
            new Random(7).nextBytes(data);
            ThreadedTcpClient.Options o = new ThreadedTcpClient.Options();
            o.chunkSize = 16384;
            try (ThreadedTcpClient c = new ThreadedTcpClient("127.0.0.1", sink.port, o)) {
                check(c.send(data, WAIT_MS) == data.length, "sink: every byte taken");
                c.producerFinished();
                check(receiveAll(c).length == 0, "sink: nothing comes back");
                Report r = c.join();
                check(r.reason.equals("finished") && r.sent == data.length && r.unsent == 0, "sink: " + r);
            }
            String line = sink.nextReport();
            check(line.contains(" received=1000000 sent=0 hash=" + fnv1a(data)), "sink: count and hash: " + line);
        }
    }

    static void fortuneServerClosesFirst() throws Exception {
        try (Peer fortune = new Peer("fortune"); ThreadedTcpClient c = new ThreadedTcpClient("127.0.0.1", fortune.port)) {
            String got = new String(receiveAll(c), StandardCharsets.UTF_8);
            check(got.startsWith("The original ThreadedTCPClient"), "fortune: text " + got);
            Report r = c.join();
            check(r.reason.equals("peer_closed") && r.received == got.length(), "fortune: " + r);
            List<Signal> all = signals(c);
            check(all.size() == 3 && all.get(0).kind == Signal.Kind.CONNECTED
                    && all.get(1).kind == Signal.Kind.PEER_CLOSED
                    && all.get(2).kind == Signal.Kind.SOCKET_SHUTDOWN, "fortune: signals " + all);
        }
    }

    static void timeoutsAbortAndClose() throws Exception {
        try (Peer sink = new Peer("sink")) {
            ThreadedTcpClient c = new ThreadedTcpClient("127.0.0.1", sink.port);
            Signal s = c.nextSignal(WAIT_MS);
            check(s != null && s.kind == Signal.Kind.CONNECTED, "abort: connected " + s);
            check(c.receive(50) == null, "receive: null on a timeout");
            check(c.nextSignal(0) == null, "nextSignal: null on a timeout");
            c.abort();
            Report r = c.join();
            check(r.reason.equals("aborted") && r.sent == 0 && r.unsent == 0 && r.acked == 0, "abort: " + r);
            c.close();
            c.close();
            boolean threw = false;
            try {
                c.send(new byte[1]);
            } catch (IllegalStateException e) {
                threw = true;
            }
            check(threw, "send after close throws IllegalStateException");
        }
    }

    static void refusedConnectionIsAnError() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        try (ThreadedTcpClient c = new ThreadedTcpClient("127.0.0.1", port)) {
            Signal s = c.nextSignal(WAIT_MS);
            check(s != null && s.kind == Signal.Kind.ERROR, "refused: an error signal " + s);
            if (s != null && s.error != null) {
                check(s.error.phase.equals("connect") && s.error.kind.equals("ConnectionRefused")
                        && s.error.osCode == 111 && !s.error.message.isEmpty(), "refused: " + s.error);
            }
            Report r = c.join();
            check(r.reason.equals("error") && r.error != null && r.error.phase.equals("connect"), "refused: " + r);
            check(c.send(new byte[4], 0) == 0, "refused: a send takes nothing");
        }
    }

    static void proxyThatIsNotThereIsAProxyError() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        ThreadedTcpClient.Options o = new ThreadedTcpClient.Options();
        o.proxy = "socks5h://user:Pa55w0rd@127.0.0.1:" + port;
        try (ThreadedTcpClient c = new ThreadedTcpClient("server.invalid", 7, o)) {
            Signal s = c.nextSignal(WAIT_MS);
            check(s != null && s.kind == Signal.Kind.ERROR, "proxy: an error signal " + s);
            if (s != null && s.error != null) {
                check(s.error.phase.equals("proxy") && s.error.kind.equals("ConnectionRefused")
                        && s.error.message.startsWith("proxy 127.0.0.1:" + port + ": ")
                        && !s.error.toString().contains("Pa55w0rd"), "proxy: " + s.error);
            }
            Report r = c.join();
            check(r.error != null && r.error.phase.equals("proxy"), "proxy: " + r);
        }
        o.proxy = "ftp://h";
        boolean threw = false;
        try {
            new ThreadedTcpClient("127.0.0.1", 9, o).close();
        } catch (IllegalArgumentException e) {
            threw = true;
        }
        check(threw, "a bad proxy URL throws IllegalArgumentException");
    }

    static void badOptionsAreRefused() throws Exception {
        ThreadedTcpClient.Options o = new ThreadedTcpClient.Options();
        o.chunkSize = 1000;
        boolean threw = false;
        try {
            new ThreadedTcpClient("127.0.0.1", 9, o).close();
        } catch (IllegalArgumentException e) {
            threw = true;
        }
        check(threw, "chunk size 1000 throws IllegalArgumentException");
        threw = false;
        try {
            new ThreadedTcpClient("127.0.0.1", 70000).close();
        } catch (IllegalArgumentException e) {
            threw = true;
        }
        check(threw, "port 70000 throws IllegalArgumentException");
        check(!ThreadedTcpClient.version().isEmpty(), "version");
    }

    /**
     * Answers "ack N" for each line "msg N"; after {@code cut} lines it
     * dies (resets the connection, stops listening), then listens again
     * on the same port and serves the next connection to its end.
     */
    static final class RestartingLineServer implements Runnable {
        final int cut;
        final int port;
        final java.util.concurrent.ConcurrentHashMap<Integer, Integer> seen = new java.util.concurrent.ConcurrentHashMap<>();
        volatile int connections;
        ServerSocket listener;

        RestartingLineServer(int cut) throws Exception {
            this.cut = cut;
            listener = new ServerSocket();
            listener.setReuseAddress(true);
            listener.bind(new java.net.InetSocketAddress("127.0.0.1", 0));
            port = listener.getLocalPort();
        }

        void serve(java.net.Socket conn, int limit) throws Exception {
            BufferedReader r = new BufferedReader(new InputStreamReader(conn.getInputStream(), StandardCharsets.US_ASCII));
            java.io.OutputStream out = conn.getOutputStream();
            int taken = 0;
            String line;
            while ((line = r.readLine()) != null) {
                if (!line.startsWith("msg ")) {
                    continue;
                }
                int k = Integer.parseInt(line.substring(4));
                seen.merge(k, 1, Integer::sum);
                out.write(("ack " + k + "\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
                if (limit > 0 && ++taken == limit) {
                    return;
                }
            }
        }

        @Override
        public void run() {
            try {
                java.net.Socket conn = listener.accept();
                connections++;
                serve(conn, cut);
                conn.setSoLinger(true, 0); // the crash: a reset
                conn.close();
                listener.close();
                listener = new ServerSocket();
                listener.setReuseAddress(true);
                listener.bind(new java.net.InetSocketAddress("127.0.0.1", port));
                conn = listener.accept();
                connections++;
                serve(conn, 0);
                conn.close();
                listener.close();
            } catch (Exception e) {
                check(false, "line server: " + e);
            }
        }
    }

    static void reconnectWithConfirmAcrossAServerRestart() throws Exception {
        int lines = 200;
        RestartingLineServer server = new RestartingLineServer(40);
        Thread t = new Thread(server);
        t.setDaemon(true);
        t.start();
        ThreadedTcpClient.Options o = new ThreadedTcpClient.Options();
        o.reconnect = true;
        o.backoffInitialMs = 20;
        o.backoffMaxMs = 200;
        o.backoffJitter = false;
        o.maxAttempts = 100;
        o.confirmedDelivery = true;
        long accepted = 0;
        try (ThreadedTcpClient c = new ThreadedTcpClient("127.0.0.1", server.port, o)) {
            for (int k = 0; k < lines; k++) {
                byte[] line = ("msg " + k + "\n").getBytes(StandardCharsets.US_ASCII);
                check(c.send(line, WAIT_MS) == line.length, "reconnect: send " + k);
                accepted += line.length;
            }
            // Each first "ack N" confirms the oldest unconfirmed send.
            StringBuilder pending = new StringBuilder();
            java.util.Set<Integer> acked = new java.util.HashSet<>();
            while (acked.size() < lines) {
                byte[] d = c.receive(WAIT_MS);
                if (d == null || d.length == 0) {
                    break;
                }
                pending.append(new String(d, StandardCharsets.US_ASCII));
                int nl;
                while ((nl = pending.indexOf("\n")) >= 0) {
                    int k = Integer.parseInt(pending.substring(4, nl));
                    pending.delete(0, nl + 1);
                    if (acked.add(k)) {
                        c.confirm();
                    }
                }
            }
            check(acked.size() == lines, "reconnect: " + acked.size() + " of " + lines + " lines acknowledged");
            c.producerFinished();
            int connected = 0, reconnecting = 0;
            Signal s;
            while ((s = c.nextSignal(WAIT_MS)) != null) {
                if (s.kind == Signal.Kind.CONNECTED) {
                    connected++;
                }
                if (s.kind == Signal.Kind.RECONNECTING) {
                    reconnecting++;
                    check(s.attempt >= 1, "reconnect: attempt " + s.attempt);
                }
            }
            Report r = c.join();
            t.join(WAIT_MS);
            check(server.seen.size() == lines, "reconnect: the server saw " + server.seen.size() + " of " + lines + " lines");
            check(server.connections == 2 && connected == 2 && reconnecting >= 1,
                    "reconnect: connections " + server.connections + ", connected " + connected + ", reconnecting " + reconnecting);
            check(r.reason.equals("finished") && r.connections == 2 && r.acked == accepted
                    && r.sent == accepted + r.resent && r.unsent == 0 && r.lost == 0 && r.error == null,
                    "reconnect: report " + r);
        }
    }

    /** `openssl s_server -rev` with the test server certificate: its process and port. */
    static Process sServer(int[] port) throws Exception {
        Process p = new ProcessBuilder("openssl", "s_server", "-rev", "-accept", "127.0.0.1:0",
                "-cert", pki + "/server.pem", "-key", pki + "/server.key")
                .redirectErrorStream(true).start();
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line;
        while ((line = r.readLine()) != null) {
            Matcher m = Pattern.compile("^ACCEPT 127\\.0\\.0\\.1:(\\d+)").matcher(line);
            if (m.find()) {
                port[0] = Integer.parseInt(m.group(1));
                break;
            }
        }
        Thread drain = new Thread(() -> {
            try {
                while (r.readLine() != null) {
                    // s_server's chatter
                }
            } catch (Exception e) {
                // stopped
            }
        });
        drain.setDaemon(true);
        drain.start();
        return p;
    }

    static void tlsWithACaFileAndAWrongCaRefused() throws Exception {
        int[] port = {0};
        Process server = sServer(port);
        try {
            check(port[0] > 0, "s_server started");
            ThreadedTcpClient.Options o = new ThreadedTcpClient.Options();
            o.tls = true;
            o.tlsCaFile = pki + "/ca.pem";
            try (ThreadedTcpClient c = new ThreadedTcpClient("127.0.0.1", port[0], o)) {
                Signal s = c.nextSignal(WAIT_MS);
                check(s != null && s.kind == Signal.Kind.CONNECTED, "tls: connected " + s);
                c.send("hello ttc\n".getBytes(StandardCharsets.US_ASCII), WAIT_MS);
                ByteArrayOutputStream got = new ByteArrayOutputStream();
                while (got.size() < 10) {
                    byte[] d = c.receive(WAIT_MS);
                    if (d == null || d.length == 0) {
                        break;
                    }
                    got.write(d);
                }
                check(got.toString(StandardCharsets.US_ASCII).equals("ctt olleh\n"), "tls: s_server reversed the line");
                c.shutdown();
                Report r = c.join();
                check(r.sent == 10 && r.received == 10 && r.tlsVersion != null && r.tlsVersion.startsWith("TLSv1.")
                        && r.tlsCipher != null, "tls: report " + r);
            }
            o.tlsCaFile = pki + "/other_ca.pem";
            o.reconnect = true; // a refused certificate ends it all the same
            try (ThreadedTcpClient c = new ThreadedTcpClient("127.0.0.1", port[0], o)) {
                Report r = c.join();
                check(r.reason.equals("error") && r.error != null && r.error.phase.equals("tls")
                        && r.error.message.startsWith("unknown_issuer") && r.connections == 0,
                        "tls: a wrong CA is refused: " + r);
            }
            o.tlsCaFile = "/nonexistent/ca.pem";
            boolean threw = false;
            try {
                new ThreadedTcpClient("127.0.0.1", port[0], o).close();
            } catch (IllegalArgumentException e) {
                threw = e.getMessage().contains("ca_file");
            }
            check(threw, "tls: a CA file that is not there throws IllegalArgumentException naming it");
        } finally {
            server.destroy();
            server.waitFor(WAIT_MS, TimeUnit.MILLISECONDS);
        }
    }

    interface Test {
        void run() throws Exception;
    }

    static void run(String name, Test t) {
        int before = failed;
        try {
            t.run();
        } catch (Exception e) {
            check(false, name + ": " + e);
        }
        System.out.println((failed == before ? "ok: " : "FAILED: ") + name);
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: ClientTest TTC_BINARY PKI_DIR");
            System.exit(2);
        }
        ttcBinary = args[0];
        pki = args[1];
        run("echo is byte-exact with the initial message first", ClientTest::echoIsByteExactWithInitialMessage);
        run("sink gets every byte, hash checked", ClientTest::sinkGetsEveryByteHashChecked);
        run("fortune: the server closes first", ClientTest::fortuneServerClosesFirst);
        run("timeouts, abort and close", ClientTest::timeoutsAbortAndClose);
        run("a refused connection is an error", ClientTest::refusedConnectionIsAnError);
        run("bad options are refused", ClientTest::badOptionsAreRefused);
        run("a proxy that is not there is a proxy error", ClientTest::proxyThatIsNotThereIsAProxyError);
        run("reconnect with confirm across a server restart", ClientTest::reconnectWithConfirmAcrossAServerRestart);
        run("TLS with a CA file; a wrong CA refused", ClientTest::tlsWithACaFileAndAWrongCaRefused);
        System.out.println("java: " + passed + " passed, " + failed + " failed");
        System.exit(failed == 0 && passed > 0 ? 0 : 1);
    }
}
