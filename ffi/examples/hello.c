/* hello.c: the C API in one page. Connects to HOST PORT (an echo server:
 * `ttc serve echo --port 7000`), sends a line, prints what comes back and
 * the final report; reconnects if the connection is lost, with TLS when
 * a CA file is given.
 *
 *   cc -I ffi/include ffi/examples/hello.c -L target/release -lttc \
 *      -Wl,-rpath,"$PWD/target/release" -o hello
 *   ./hello 127.0.0.1 7000 [CA_FILE]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ttc.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: hello HOST PORT [CA_FILE]\n");
        return 2;
    }
    ttc_options o = ttc_options_default();
    o.connect_timeout_ms = 5000;
    o.reconnect = 1;          /* connect again if the connection is lost ... */
    o.max_attempts = 5;       /* ... five times in a row at most */
    o.idle_timeout_ms = 30000;
    ttc_tls_options tls = ttc_tls_options_default();
    if (argc > 3) {
        tls.ca_file = argv[3];
        o.tls = &tls;
    }
    ttc_client c;
    ttc_error err;
    ttc_status st = ttc_spawn(argv[1], (uint16_t)atoi(argv[2]), &o, &c, &err);
    if (st != TTC_OK) {
        fprintf(stderr, "hello: %s: %s\n", ttc_strerror(st), err.message);
        return 1;
    }

    const char *line = "hello, ttc\n";
    size_t taken;
    ttc_send(c, (const uint8_t *)line, strlen(line), 5000, &taken);

    char buf[256];
    size_t n, got = 0;
    while (got < strlen(line) &&
           ttc_recv(c, (uint8_t *)buf + got, sizeof buf - 1 - got, 5000, &n) == TTC_OK && n > 0) {
        got += n;
    }
    buf[got] = '\0';
    printf("hello: got back: %s", buf);

    ttc_producer_finished(c); /* half-close once everything is written */
    ttc_report r;
    ttc_join(c, &r);
    printf("hello: report reason=%s sent=%llu received=%llu connections=%u%s%s\n",
           ttc_reason_str(r.reason), (unsigned long long)r.sent,
           (unsigned long long)r.received, r.connections, r.tls_version[0] ? " " : "",
           r.tls_version);
    if (r.has_error) {
        printf("hello: error %s: %s (%s)\n", ttc_phase_str(r.error.phase), r.error.message,
               r.error.kind);
    }
    ttc_free(c);
    return r.has_error ? 1 : 0;
}
