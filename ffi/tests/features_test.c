/* The C API's connection features from C: reconnect with confirmed
 * delivery across a server restart, TLS against `openssl s_server` with a
 * CA file, a wrong CA refused, a refused port, and refused options as
 * error values.
 *
 *   features_test TLS_PORT CA_FILE OTHER_CA_FILE CLOSED_PORT
 *
 * TLS_PORT: `openssl s_server -rev` with a certificate for 127.0.0.1 by
 * CA_FILE's CA; OTHER_CA_FILE: a CA that did not sign it; CLOSED_PORT: a
 * loopback port nobody listens on. The restarting server runs in this
 * program, on a loopback port the system picks.
 *
 * Exit status 0 when every check passed; prints "N passed, N failed".
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ttc.h"

static int passed, failed;

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (cond) {                                                        \
            passed++;                                                      \
        } else {                                                           \
            failed++;                                                      \
            fprintf(stderr, "features_test: FAILED line %d: %s\n", __LINE__, #cond); \
        }                                                                  \
    } while (0)

#define WAIT_MS 20000
#define LINES 200
#define CUT_AFTER 40 /* lines the first server instance takes, then dies */
#define LINE_LEN 9   /* "msg 0000\n" */

/* ------------------------------------------------------------------ */
/* A line server that dies once: it answers "ack NNNN\n" for each line
 * "msg NNNN\n", and after CUT_AFTER lines resets the connection and
 * closes its listener (a crash), then listens again on the same port
 * (the restart) and serves the second connection until its end. */

struct line_server {
    int port;
    int listener;
    int seen[LINES];
    int connections;
    pthread_mutex_t lock;
};

static int listen_on(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 4) != 0) {
        perror("features_test: listen");
        exit(2);
    }
    return fd;
}

/* Serves one connection; returns after `limit` lines (limit > 0) or at
 * its end. */
static void serve(struct line_server *srv, int conn, int limit) {
    char buf[4096], line[64];
    size_t have = 0;
    int taken = 0;
    for (;;) {
        ssize_t n = read(conn, buf, sizeof buf);
        if (n <= 0) return;
        for (ssize_t i = 0; i < n; i++) {
            if (have < sizeof line - 1) line[have++] = buf[i];
            if (buf[i] != '\n') continue;
            line[have] = '\0';
            have = 0;
            int k;
            if (sscanf(line, "msg %d", &k) == 1 && k >= 0 && k < LINES) {
                pthread_mutex_lock(&srv->lock);
                srv->seen[k]++;
                pthread_mutex_unlock(&srv->lock);
                char ack[32];
                int len = snprintf(ack, sizeof ack, "ack %04d\n", k);
                if (write(conn, ack, (size_t)len) != len) return;
                if (limit > 0 && ++taken == limit) return;
            }
        }
    }
}

static void *line_server_main(void *arg) {
    struct line_server *srv = arg;
    int conn = accept(srv->listener, NULL, NULL);
    srv->connections++;
    serve(srv, conn, CUT_AFTER);
    /* The crash: reset (what is unread is lost) and stop listening. */
    struct linger lg = {1, 0};
    setsockopt(conn, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(conn);
    close(srv->listener);
    /* The restart, on the same port. */
    srv->listener = listen_on(srv->port);
    conn = accept(srv->listener, NULL, NULL);
    srv->connections++;
    serve(srv, conn, 0);
    close(conn);
    close(srv->listener);
    return NULL;
}

static void test_reconnect_with_confirm_across_a_server_restart(void) {
    static struct line_server srv;
    memset(&srv, 0, sizeof srv);
    pthread_mutex_init(&srv.lock, NULL);
    srv.listener = listen_on(0);
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    getsockname(srv.listener, (struct sockaddr *)&a, &alen);
    srv.port = ntohs(a.sin_port);
    pthread_t t;
    pthread_create(&t, NULL, line_server_main, &srv);

    ttc_options o = ttc_options_default();
    o.reconnect = 1;
    o.backoff_initial_ms = 20;
    o.backoff_max_ms = 200;
    o.backoff_jitter = 0;
    o.max_attempts = 100;
    o.delivery = TTC_DELIVERY_CONFIRMED;
    ttc_client c = 0;
    ttc_error err;
    CHECK(ttc_spawn("127.0.0.1", (uint16_t)srv.port, &o, &c, &err) == TTC_OK);

    /* Each line one send; its end offset is what confirms it. */
    uint64_t end[LINES];
    uint64_t offset = 0;
    size_t n;
    for (int k = 0; k < LINES; k++) {
        char line[16];
        snprintf(line, sizeof line, "msg %04d\n", k);
        CHECK(ttc_send(c, (const uint8_t *)line, LINE_LEN, WAIT_MS, &n) == TTC_OK && n == LINE_LEN);
        offset += LINE_LEN;
        end[k] = offset;
    }

    /* Confirm each line as its ack comes back, until every line is. */
    char buf[4096], line[64];
    size_t have = 0;
    int acked[LINES] = {0}, confirmed = 0;
    while (confirmed < LINES) {
        ttc_status st = ttc_recv(c, (uint8_t *)buf, sizeof buf, WAIT_MS, &n);
        if (st != TTC_OK || n == 0) break;
        for (size_t i = 0; i < n; i++) {
            if (have < sizeof line - 1) line[have++] = buf[i];
            if (buf[i] != '\n') continue;
            line[have] = '\0';
            have = 0;
            int k;
            if (sscanf(line, "ack %d", &k) == 1 && k >= 0 && k < LINES) {
                CHECK(ttc_confirm(c, end[k]) == TTC_OK);
                if (!acked[k]) {
                    acked[k] = 1;
                    confirmed++;
                }
            }
        }
    }
    CHECK(confirmed == LINES);
    CHECK(ttc_producer_finished(c) == TTC_OK);

    int connected = 0, disconnected = 0, reconnecting = 0;
    ttc_signal s;
    ttc_status st;
    while ((st = ttc_next_signal(c, WAIT_MS, &s)) == TTC_OK) {
        if (s.kind == TTC_SIGNAL_CONNECTED) connected++;
        if (s.kind == TTC_SIGNAL_DISCONNECTED) disconnected++;
        if (s.kind == TTC_SIGNAL_RECONNECTING) {
            reconnecting++;
            CHECK(s.attempt >= 1);
        }
    }
    CHECK(st == TTC_CLOSED);
    ttc_report r;
    CHECK(ttc_join_timeout(c, WAIT_MS, &r) == TTC_OK);
    pthread_join(t, NULL);

    int missing = 0;
    for (int k = 0; k < LINES; k++) missing += srv.seen[k] == 0;
    CHECK(missing == 0);
    CHECK(srv.connections == 2);
    if (!(connected == 2 && disconnected == 2 && reconnecting >= 1))
        fprintf(stderr, "features_test: signals: %d connected, %d disconnected, %d reconnecting\n",
                connected, disconnected, reconnecting);
    CHECK(connected == 2 && disconnected == 2 && reconnecting >= 1);
    /* The accounting: every byte accepted was confirmed once; what was
     * written twice is in resent. */
    uint64_t accepted = (uint64_t)LINES * LINE_LEN;
    CHECK(r.reason == TTC_REASON_FINISHED);
    CHECK(r.connections == 2);
    CHECK(r.acked == accepted);
    CHECK(r.sent == accepted + r.resent);
    CHECK(r.unsent == 0 && r.lost == 0 && !r.has_error);
    CHECK(r.tls_version[0] == '\0');
    printf("features_test: reconnect: reason=%s sent=%llu resent=%llu acked=%llu connections=%u\n",
           ttc_reason_str(r.reason), (unsigned long long)r.sent, (unsigned long long)r.resent,
           (unsigned long long)r.acked, r.connections);
    CHECK(ttc_free(c) == TTC_OK);
}

/* ------------------------------------------------------------------ */

static void test_tls_with_a_ca_file(int port, const char *ca) {
    ttc_tls_options tls = ttc_tls_options_default();
    tls.ca_file = ca;
    ttc_options o = ttc_options_default();
    o.tls = &tls;
    ttc_client c = 0;
    CHECK(ttc_spawn("127.0.0.1", (uint16_t)port, &o, &c, NULL) == TTC_OK);
    ttc_signal s;
    CHECK(ttc_next_signal(c, WAIT_MS, &s) == TTC_OK && s.kind == TTC_SIGNAL_CONNECTED);
    size_t n;
    CHECK(ttc_send(c, (const uint8_t *)"hello ttc\n", 10, WAIT_MS, &n) == TTC_OK);
    /* s_server -rev answers each line reversed. */
    char got[64] = {0};
    size_t have = 0;
    while (have < 10) {
        if (ttc_recv(c, (uint8_t *)got + have, sizeof got - 1 - have, WAIT_MS, &n) != TTC_OK || n == 0) break;
        have += n;
    }
    CHECK(have == 10 && memcmp(got, "ctt olleh\n", 10) == 0);
    CHECK(ttc_shutdown(c) == TTC_OK);
    ttc_report r;
    CHECK(ttc_join(c, &r) == TTC_OK);
    CHECK(r.sent == 10 && r.received == 10);
    CHECK(strncmp(r.tls_version, "TLSv1.", 6) == 0 && r.tls_cipher[0] != '\0');
    printf("features_test: tls: %s %s\n", r.tls_version, r.tls_cipher);
    CHECK(ttc_free(c) == TTC_OK);
}

static void test_tls_with_a_wrong_ca_is_refused(int port, const char *other_ca) {
    ttc_tls_options tls = ttc_tls_options_default();
    tls.ca_file = other_ca;
    ttc_options o = ttc_options_default();
    o.tls = &tls;
    /* Reconnect on: a refused certificate still ends it. */
    o.reconnect = 1;
    o.backoff_initial_ms = 10;
    ttc_client c = 0;
    CHECK(ttc_spawn("127.0.0.1", (uint16_t)port, &o, &c, NULL) == TTC_OK);
    ttc_report r;
    CHECK(ttc_join_timeout(c, WAIT_MS, &r) == TTC_OK);
    CHECK(r.reason == TTC_REASON_ERROR && r.has_error);
    CHECK(r.error.phase == TTC_PHASE_TLS);
    CHECK(strncmp(r.error.message, "unknown_issuer", 14) == 0);
    CHECK(strcmp(ttc_phase_str(r.error.phase), "tls") == 0);
    CHECK(r.connections == 0 && r.sent == 0);
    printf("features_test: wrong CA: %s: %s\n", ttc_phase_str(r.error.phase), r.error.message);
    CHECK(ttc_free(c) == TTC_OK);
}

static void test_refused_port_is_an_error_value(int port) {
    ttc_client c = 0;
    CHECK(ttc_spawn("127.0.0.1", (uint16_t)port, NULL, &c, NULL) == TTC_OK);
    ttc_signal s;
    CHECK(ttc_next_signal(c, WAIT_MS, &s) == TTC_OK && s.kind == TTC_SIGNAL_ERROR);
    CHECK(s.error.phase == TTC_PHASE_CONNECT);
    CHECK(strcmp(s.error.kind, "ConnectionRefused") == 0);
    CHECK(s.error.os_code == 111);
    ttc_report r;
    CHECK(ttc_join_timeout(c, WAIT_MS, &r) == TTC_OK);
    CHECK(r.reason == TTC_REASON_ERROR && r.attempts >= 1 && r.connections == 0);
    CHECK(ttc_free(c) == TTC_OK);
}

static void test_refused_options_say_which_and_why(void) {
    ttc_client c = 0;
    ttc_error err;
    ttc_options o = ttc_options_default();
    ttc_tls_options tls = ttc_tls_options_default();
    tls.ca_file = "/nonexistent/ca.pem";
    o.tls = &tls;
    CHECK(ttc_spawn("127.0.0.1", 9, &o, &c, &err) == TTC_E_INVALID && c == 0);
    CHECK(err.phase == TTC_PHASE_TLS && strstr(err.message, "ca_file") != NULL);

    o = ttc_options_default();
    o.resolver = TTC_RESOLVER_DNS;
    o.resolver_addrs = "not-an-address";
    CHECK(ttc_spawn("example.org", 80, &o, &c, &err) == TTC_E_INVALID);
    CHECK(strstr(err.message, "resolver_addrs") != NULL);

    o = ttc_options_default();
    o.proxy = "ftp://proxy";
    CHECK(ttc_spawn("example.org", 80, &o, &c, &err) == TTC_E_INVALID);
    CHECK(err.phase == TTC_PHASE_PROXY);

    o = ttc_options_default();
    o.local_addr = "nowhere";
    CHECK(ttc_spawn("127.0.0.1", 9, &o, &c, &err) == TTC_E_INVALID);
    CHECK(strstr(err.message, "local_addr") != NULL);

    o = ttc_options_default();
    o.delivery = 7;
    CHECK(ttc_spawn("127.0.0.1", 9, &o, &c, &err) == TTC_E_INVALID);

    CHECK(strstr(ttc_features(), "proxy") != NULL);
}

static void test_idle_timeout_through_a_static_resolver(void) {
    /* A listener that never accepts: the kernel completes the handshake,
     * and nothing ever comes. */
    int l = listen_on(0);
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    getsockname(l, (struct sockaddr *)&a, &alen);
    ttc_options o = ttc_options_default();
    o.resolver = TTC_RESOLVER_STATIC;
    o.resolver_addrs = "127.0.0.1";
    o.idle_timeout_ms = 100;
    ttc_client c = 0;
    CHECK(ttc_spawn("silent.test", ntohs(a.sin_port), &o, &c, NULL) == TTC_OK);
    ttc_report r;
    CHECK(ttc_join_timeout(c, WAIT_MS, &r) == TTC_OK);
    CHECK(r.reason == TTC_REASON_ERROR && r.connections == 1);
    CHECK(r.error.phase == TTC_PHASE_READ && strcmp(r.error.kind, "TimedOut") == 0);
    CHECK(ttc_free(c) == TTC_OK);
    close(l);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: features_test TLS_PORT CA_FILE OTHER_CA_FILE CLOSED_PORT\n");
        return 2;
    }
    int tls_port = atoi(argv[1]);
    test_refused_options_say_which_and_why();
    test_refused_port_is_an_error_value(atoi(argv[4]));
    test_idle_timeout_through_a_static_resolver();
    test_reconnect_with_confirm_across_a_server_restart();
    if (strstr(ttc_features(), "tls") != NULL) {
        test_tls_with_a_ca_file(tls_port, argv[2]);
        test_tls_with_a_wrong_ca_is_refused(tls_port, argv[3]);
    } else {
        fprintf(stderr, "features_test: this libttc has no TLS\n");
        failed++;
    }
    printf("features_test: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
